//! From the instance's answers to the summary's types. Every field may be
//! absent (an older schema, a partial answer): nothing here fails.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::bundle::instance::{Alert, CodeHostIssue, ExternalServices, License, RepositoryStats};

fn u64_of(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

fn str_of(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// `site { productSubscription { ... } } users { totalCount }`.
pub fn license(data: &Value, now: DateTime<Utc>) -> Option<License> {
    let sub = &data["site"]["productSubscription"];
    let users = u64_of(&data["users"]["totalCount"]);
    if sub.is_null() && users.is_none() {
        return None;
    }
    let lic = &sub["license"];
    let mut l = License {
        present: lic.is_object(),
        tags: lic["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(str_of)
            .collect(),
        licensed_users: u64_of(&lic["userCount"]),
        expires_at: lic["expiresAt"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc)),
        actual_user_count: u64_of(&sub["actualUserCount"]),
        total_users: users,
        ..License::default()
    };
    l.derive(now);
    Some(l)
}

/// `site { alerts { type message } }`; None when not in the answer.
pub fn alerts(data: &Value) -> Option<Vec<Alert>> {
    let list = data["site"]["alerts"].as_array()?;
    Some(
        list.iter()
            .map(|a| Alert {
                kind: str_of(&a["type"]).unwrap_or_default(),
                message: str_of(&a["message"]).unwrap_or_default(),
            })
            .collect(),
    )
}

pub fn repository_stats(data: &Value) -> Option<RepositoryStats> {
    let s = data.get("repositoryStats").filter(|s| s.is_object())?;
    Some(RepositoryStats {
        total: u64_of(&s["total"]),
        cloned: u64_of(&s["cloned"]),
        cloning: u64_of(&s["cloning"]),
        not_cloned: u64_of(&s["notCloned"]),
        failed_fetch: u64_of(&s["failedFetch"]),
        indexed: u64_of(&s["indexed"]),
    })
}

/// The bundle entry for the `n`th connection's configuration.
pub fn config_entry(n: usize, kind: &str) -> String {
    let kind: String = kind
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let kind = if kind.is_empty() {
        "unknown".into()
    } else {
        kind
    };
    format!("instance/external-services/{n:04}-{kind}.jsonc")
}

/// One connection as the list keeps it: its configuration goes to its
/// own JSONC entry (so the structured redaction pass reads it as the
/// JSONC it is), named in `config_entry`. Returns the node and the
/// configuration text.
pub fn split_node(node: &Value, entry: &str) -> (Value, Option<String>) {
    let mut m: Map<String, Value> = node.as_object().cloned().unwrap_or_default();
    let config = m.remove("config").and_then(|c| match c {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    });
    if config.is_some() {
        m.insert("config_entry".into(), entry.into());
    }
    (Value::Object(m), config)
}

/// Adds a connection's facts to the summary's section.
pub fn tally(s: &mut ExternalServices, node: &Value) {
    let kind = str_of(&node["kind"]).unwrap_or_else(|| "UNKNOWN".into());
    *s.by_kind.entry(kind.clone()).or_default() += 1;
    s.collected += 1;
    let issue = |message: String| CodeHostIssue {
        id: str_of(&node["id"]).unwrap_or_default(),
        kind: kind.clone(),
        display_name: str_of(&node["displayName"]).unwrap_or_default(),
        message,
    };
    if let Some(e) = node["lastSyncError"]
        .as_str()
        .filter(|e| !e.trim().is_empty())
    {
        s.sync_errors.push(issue(e.to_string()));
    }
    if let Some(w) = node["warning"].as_str().filter(|w| !w.trim().is_empty()) {
        s.warnings.push(issue(w.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn license_and_derived_facts() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = json!({"site": {"productSubscription": {"actualUserCount": 120,
            "license": {"tags": ["plan:enterprise-1"], "userCount": 100, "expiresAt": "2026-12-08T00:00:00Z"}}},
            "users": {"totalCount": 130}});
        let l = license(&d, now).unwrap();
        assert!(l.present);
        assert_eq!(l.over_licensed_users, Some(true));
        assert_eq!(l.days_to_expiry, Some(10));
        let free = license(
            &json!({"site": {"productSubscription": {"license": null}}}),
            now,
        )
        .unwrap();
        assert!(!free.present);
        assert_eq!(license(&json!({}), now), None);
    }

    #[test]
    fn nodes_lose_their_config_to_an_entry() {
        let n = json!({"id": "RXh0", "kind": "GITHUB", "config": "{\"token\": \"x\"}",
                       "lastSyncError": "401 Bad credentials", "warning": ""});
        let e = config_entry(1, "GITHUB");
        assert_eq!(e, "instance/external-services/0001-github.jsonc");
        let (node, config) = split_node(&n, &e);
        assert_eq!(config.as_deref(), Some("{\"token\": \"x\"}"));
        assert!(node.get("config").is_none());
        assert_eq!(node["config_entry"], e);
        let mut s = ExternalServices::default();
        tally(&mut s, &node);
        assert_eq!(s.by_kind["GITHUB"], 1);
        assert_eq!(s.sync_errors.len(), 1);
        assert!(s.warnings.is_empty());
        assert_eq!(
            config_entry(12, "../x y"),
            "instance/external-services/0012-xy.jsonc"
        );
    }
}
