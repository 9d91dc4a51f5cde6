//! Contract: `instance/summary.json`, written by the `instance` collector:
//! what the Sourcegraph instance's own GraphQL API said about itself
//! (version, license, code host connections, site alerts, repository
//! counts), with the facts derived from it. `inspect` and its findings
//! read it; `docs/bundle-format.md` documents it.
//!
//! Every section is optional: an older instance lacks some fields, a query
//! can fail while the others answer. `missing_fields` names what the
//! instance's schema did not have.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const INSTANCE_SUMMARY_NAME: &str = "instance/summary.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InstanceSummary {
    /// How the API was reached: the URL, or the Kubernetes service proxy.
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_config: Option<SiteConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_services: Option<ExternalServices>,
    /// The site alerts the instance shows its admins; None when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Alert>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_stats: Option<RepositoryStats>,
    /// `Type.field` the instance's schema does not have (older versions):
    /// queried again without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_fields: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SiteConfig {
    /// The bundle entry holding it (JSONC, comments kept).
    pub entry: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_messages: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct License {
    /// False when the instance has no license key (free tier).
    pub present: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensed_users: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The user count the instance checks against the license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_user_count: Option<u64>,
    /// `users { totalCount }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_users: Option<u64>,
    /// Derived: more users than the license allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_licensed_users: Option<bool>,
    /// Derived at collection time; negative once expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_to_expiry: Option<i64>,
}

impl License {
    /// The users counted against the license: the instance's own count,
    /// else all users.
    pub fn users(&self) -> Option<u64> {
        self.actual_user_count.or(self.total_users)
    }

    /// Fills the derived fields as of `now`.
    pub fn derive(&mut self, now: DateTime<Utc>) {
        self.over_licensed_users = match (self.users(), self.licensed_users) {
            (Some(u), Some(l)) => Some(u > l),
            _ => None,
        };
        self.days_to_expiry = self.expires_at.map(|e| days_between(now, e));
    }
}

/// Whole days from `now` to `then`, rounded down (an hour left is day 0,
/// an hour past is day -1).
pub fn days_between(now: DateTime<Utc>, then: DateTime<Utc>) -> i64 {
    (then - now).num_seconds().div_euclid(86_400)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExternalServices {
    /// What the instance says it has.
    pub total_count: u64,
    /// What was read (all of them unless collection was cut short).
    pub collected: u64,
    /// Count by kind (`GITHUB`, `GITLAB`, ...).
    #[serde(default)]
    pub by_kind: BTreeMap<String, u64>,
    /// Connections whose last sync failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_errors: Vec<CodeHostIssue>,
    /// Connections the instance warns about (`warning`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<CodeHostIssue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CodeHostIssue {
    pub id: String,
    pub kind: String,
    pub display_name: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// `INFO`, `WARNING` or `ERROR`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RepositoryStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloned: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloning: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_cloned: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_fetch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexed: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn derived_license_facts() {
        let mut l = License {
            present: true,
            licensed_users: Some(100),
            actual_user_count: Some(101),
            total_users: Some(90),
            expires_at: Some(at("2026-12-01T12:00:00Z")),
            ..License::default()
        };
        l.derive(at("2026-11-28T13:00:00Z"));
        assert_eq!(l.over_licensed_users, Some(true));
        assert_eq!(l.days_to_expiry, Some(2));
        l.actual_user_count = None;
        l.derive(at("2026-12-01T13:00:00Z"));
        assert_eq!(l.over_licensed_users, Some(false), "falls back to users");
        assert_eq!(l.days_to_expiry, Some(-1), "an hour past is expired");
    }
}
