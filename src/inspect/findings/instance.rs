//! Findings from what the instance's API said (`instance/summary.json`):
//! the license (over its user count, expiring, expired), code host
//! connections whose sync fails, and the site alerts the instance shows
//! its admins.

use chrono::{DateTime, Utc};

use super::{Evidence, Finding, Severity};
use crate::bundle::instance::{INSTANCE_SUMMARY_NAME, InstanceSummary};

/// A license expiring within this many days is a warning.
const EXPIRING_DAYS: i64 = 30;
/// Sync errors shown as evidence; the count says how many there are.
const EVIDENCE: usize = 10;

/// `collected_at`: the bundle's creation time, so the same bundle gives
/// the same findings whenever it is read.
pub fn findings(s: &InstanceSummary, collected_at: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    license(s, collected_at, &mut out);
    sync_errors(s, &mut out);
    alerts(s, &mut out);
    out
}

fn license(s: &InstanceSummary, at: DateTime<Utc>, out: &mut Vec<Finding>) {
    let Some(l) = &s.license else { return };
    if let (Some(users), Some(licensed)) = (l.users(), l.licensed_users)
        && users > licensed
    {
        out.push(
            Finding::new(
                "license-user-count-exceeded",
                Severity::Warning,
                "licensing",
                format!("{users} users, but the license allows {licensed}"),
                "the instance has more users than its license allows: renew for more seats or remove users",
            )
            .with(Evidence::field(
                INSTANCE_SUMMARY_NAME,
                "license",
                "actual_user_count",
                format!(
                    "actual_user_count {}, total_users {}, licensed_users {licensed}",
                    l.actual_user_count.map_or("-".into(), |n| n.to_string()),
                    l.total_users.map_or("-".into(), |n| n.to_string())
                ),
            )),
        );
    }
    let Some(expires) = l.expires_at else { return };
    let days = crate::bundle::instance::days_between(at, expires);
    let (id, sev, title, what) = if days < 0 {
        (
            "license-expired",
            Severity::Critical,
            format!("the license expired {} day(s) before collection", -days),
            "the license has expired: the instance limits what it serves until a new license key is set in the site configuration",
        )
    } else if days <= EXPIRING_DAYS {
        (
            "license-expiring",
            Severity::Warning,
            format!("the license expires in {days} day(s)"),
            "the license expires soon: ask for a new license key before it does",
        )
    } else {
        return;
    };
    out.push(
        Finding::new(id, sev, "licensing", title, what).with(Evidence::field(
            INSTANCE_SUMMARY_NAME,
            "license",
            "expires_at",
            format!(
                "expires_at {}, collected {}",
                expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        )),
    );
}

fn sync_errors(s: &InstanceSummary, out: &mut Vec<Finding>) {
    let Some(es) = &s.external_services else {
        return;
    };
    if es.sync_errors.is_empty() {
        return;
    }
    let n = es.sync_errors.len();
    let mut f = Finding::new(
        "code-host-sync-errors",
        Severity::Warning,
        "repository-sync",
        format!(
            "{n} of {} code host connection(s) failed their last sync",
            es.total_count.max(es.collected)
        ),
        "repositories of these connections are not updated: check each connection's token and reachability (Site admin > Code host connections)",
    );
    f.count = n as u64;
    for (i, e) in es.sync_errors.iter().take(EVIDENCE).enumerate() {
        f.evidence.push(Evidence::field(
            INSTANCE_SUMMARY_NAME,
            &format!("external_services.sync_errors[{i}]"),
            "message",
            format!("{} ({}): {}", e.display_name, e.kind, e.message),
        ));
    }
    out.push(f);
}

fn alerts(s: &InstanceSummary, out: &mut Vec<Finding>) {
    for (i, a) in s.alerts.iter().flatten().enumerate() {
        let sev = match a.kind.to_ascii_uppercase().as_str() {
            "ERROR" => Severity::Critical,
            "WARNING" => Severity::Warning,
            _ => Severity::Info,
        };
        out.push(
            Finding::new(
                "site-alert",
                sev,
                "other",
                format!("site alert: {}", first_line(&a.message)),
                "the instance shows this alert to its site admins",
            )
            .with(Evidence::field(
                INSTANCE_SUMMARY_NAME,
                &format!("alerts[{i}]"),
                "message",
                format!("{}: {}", a.kind, a.message),
            )),
        );
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() > 160 {
        format!("{}...", line.chars().take(160).collect::<String>())
    } else {
        line.to_string()
    }
}

/// A few lines for people: version, license, code hosts, alerts,
/// repositories.
pub fn describe(s: &InstanceSummary) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    rows.push((
        "Version".to_string(),
        s.product_version
            .clone()
            .unwrap_or_else(|| "unknown".into()),
    ));
    if let Some(l) = &s.license {
        let mut text = if l.present {
            let mut t = format!(
                "{} licensed users",
                l.licensed_users.map_or("?".into(), |n| n.to_string())
            );
            if let Some(u) = l.users() {
                t.push_str(&format!(", {u} in use"));
            }
            if let Some(e) = l.expires_at {
                t.push_str(&format!(", expires {}", e.format("%Y-%m-%d")));
            }
            t
        } else {
            "no license key".into()
        };
        if !l.tags.is_empty() {
            text.push_str(&format!(" ({})", l.tags.join(", ")));
        }
        rows.push(("License".into(), text));
    }
    if let Some(es) = &s.external_services {
        let kinds: Vec<String> = es.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        rows.push((
            "Code hosts".into(),
            format!(
                "{} connection(s) ({}), {} failing to sync",
                es.total_count.max(es.collected),
                kinds.join(", "),
                es.sync_errors.len()
            ),
        ));
    }
    if let Some(r) = &s.repository_stats {
        let n = |v: Option<u64>| v.map_or("?".into(), |n| n.to_string());
        rows.push((
            "Repositories".into(),
            format!(
                "{} ({} cloned, {} cloning, {} not cloned, {} failed fetch, {} indexed)",
                n(r.total),
                n(r.cloned),
                n(r.cloning),
                n(r.not_cloned),
                n(r.failed_fetch),
                n(r.indexed)
            ),
        ));
    }
    if let Some(alerts) = &s.alerts {
        rows.push(("Site alerts".into(), alerts.len().to_string()));
        for a in alerts {
            rows.push((
                String::new(),
                format!("{}: {}", a.kind, first_line(&a.message)),
            ));
        }
    }
    if !s.missing_fields.is_empty() {
        rows.push(("Not in schema".into(), s.missing_fields.join(", ")));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::instance::{Alert, CodeHostIssue, ExternalServices, License};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn license_states_and_alerts() {
        let mut s = InstanceSummary {
            license: Some(License {
                present: true,
                licensed_users: Some(10),
                actual_user_count: Some(10),
                expires_at: Some(at("2026-12-10T00:00:00Z")),
                ..License::default()
            }),
            alerts: Some(vec![Alert {
                kind: "ERROR".into(),
                message: "Update available".into(),
            }]),
            ..InstanceSummary::default()
        };
        let ids = |f: Vec<Finding>| {
            f.into_iter()
                .map(|f| (f.id, f.severity))
                .collect::<Vec<_>>()
        };
        let now = at("2026-11-25T00:00:00Z");
        assert_eq!(
            ids(findings(&s, now)),
            [
                ("license-expiring".to_string(), Severity::Warning),
                ("site-alert".to_string(), Severity::Critical)
            ]
        );
        let l = s.license.as_mut().unwrap();
        l.actual_user_count = Some(11);
        l.expires_at = Some(at("2026-11-01T00:00:00Z"));
        s.alerts = None;
        s.external_services = Some(ExternalServices {
            total_count: 3,
            collected: 3,
            sync_errors: vec![CodeHostIssue {
                id: "x".into(),
                kind: "GITHUB".into(),
                display_name: "GitHub".into(),
                message: "401".into(),
            }],
            ..ExternalServices::default()
        });
        let f = findings(&s, now);
        assert_eq!(
            ids(f.clone()),
            [
                ("license-user-count-exceeded".to_string(), Severity::Warning),
                ("license-expired".to_string(), Severity::Critical),
                ("code-host-sync-errors".to_string(), Severity::Warning)
            ]
        );
        assert_eq!(
            f[2].title,
            "1 of 3 code host connection(s) failed their last sync"
        );
    }
}
