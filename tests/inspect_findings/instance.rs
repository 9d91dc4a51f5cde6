//! Findings from the instance's API and the drift summary.

use super::*;

#[test]
fn drift_entries_without_their_summary_are_noted_not_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let files = with(vec![(
        "diff/helm-values.diff",
        b"--- upstream\n+++ deployed\n".to_vec(),
    )]);
    let b = bundle(
        dir.path(),
        "df.zip",
        "deployment-config",
        "kubernetes",
        &files,
    );
    let v = inspect_json(dir.path(), &b, &[]);
    assert_eq!(v["drift"]["entries"], json!(["diff/helm-values.diff"]));
    assert!(
        v["drift"]["status"]
            .as_str()
            .unwrap()
            .contains("no readable diff/summary.json: drift not evaluated")
    );
    assert_eq!(v["findings"], json!([]));
}

/// What the instance's API said, as the instance collector writes it.
fn instance_summary(expires_at: &str, alerts: Value) -> Vec<u8> {
    json_bytes(&json!({
        "endpoint": "https://sourcegraph.example.com/.api/graphql",
        "product_version": "6.12.5040",
        "license": {"present": true, "tags": ["plan:enterprise-1"], "licensed_users": 100,
                    "expires_at": expires_at, "actual_user_count": 130, "total_users": 131},
        "external_services": {"total_count": 3, "collected": 3, "by_kind": {"GITHUB": 2, "GITLAB": 1},
            "sync_errors": [{"id": "RXh0ZXJuYWxTZXJ2aWNlOjI=", "kind": "GITLAB", "display_name": "GitLab on-prem",
                             "message": "401 Unauthorized: token expired"}]},
        "alerts": alerts,
        "repository_stats": {"total": 48213, "cloned": 48000, "cloning": 13, "not_cloned": 200, "failed_fetch": 7, "indexed": 47000},
        "missing_fields": ["ExternalService.warning"]
    }))
}

#[test]
fn instance_license_code_hosts_and_site_alerts() {
    let dir = tempfile::tempdir().unwrap();
    // Collected 2026-11-25: a license ending 2026-12-05 expires in 10 days.
    let files = with(vec![(
        "instance/summary.json",
        instance_summary(
            "2026-12-05T12:00:00Z",
            json!([{"type": "ERROR", "message": "Failed to reach the code host\nmore"},
                   {"type": "INFO", "message": "Sourcegraph 6.13 is available"}]),
        ),
    )]);
    let b = bundle(dir.path(), "i.zip", "repository-sync", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "license-user-count-exceeded");
    assert_eq!(f["category"], "licensing");
    assert_eq!(f["title"], "130 users, but the license allows 100");
    let f = one(&v, "license-expiring");
    assert_eq!(f["title"], "the license expires in 10 day(s)");
    assert_eq!(f["evidence"][0]["entry"], "instance/summary.json");
    let f = one(&v, "code-host-sync-errors");
    assert_eq!(f["category"], "repository-sync");
    assert!(
        f["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .contains("GitLab on-prem (GITLAB): 401 Unauthorized"),
        "{f}"
    );
    let alerts = with_id(&v, "site-alert");
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().any(|a| a["severity"] == "critical"
        && a["title"] == "site alert: Failed to reach the code host"));
    assert_eq!(v["instance"]["product_version"], "6.12.5040");
    // The default view shows the instance's facts.
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    for want in [
        "Instance  https://sourcegraph.example.com/.api/graphql",
        "Version       6.12.5040",
        "License       100 licensed users, 130 in use, expires 2026-12-05 (plan:enterprise-1)",
        "Code hosts    3 connection(s) (GITHUB 2, GITLAB 1), 1 failing to sync",
        "Site alerts   2",
        "Not in schema ExternalService.warning",
    ] {
        assert!(r.stdout.contains(want), "{want} not in:\n{}", r.stdout);
    }

    // Expired a day before collection: critical.
    let files = with(vec![(
        "instance/summary.json",
        instance_summary("2026-11-24T00:00:00Z", json!([])),
    )]);
    let b = bundle(dir.path(), "e.zip", "licensing", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "license-expired");
    assert_eq!(f["severity"], "critical");
    assert!(with_id(&v, "license-expiring").is_empty());
}

#[test]
fn single_container_names_its_repository_count_from_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = row("sourcegraph", "server", "6.12.5040");
    server["image"] = json!("sourcegraph/server:6.12.5040");
    let files = vec![
        ("summary.json", summary(vec![server.clone()])),
        (
            "instance/summary.json",
            instance_summary("2099-01-01T00:00:00Z", json!([])),
        ),
    ];
    let b = bundle(dir.path(), "sc.zip", "other", "single-container", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "single-container-deployment");
    assert!(
        f["title"].as_str().unwrap().contains("48213 repositories"),
        "{f}"
    );
    // Without the instance data, it says the count is not there.
    let files = vec![("summary.json", summary(vec![server]))];
    let b = bundle(dir.path(), "sc2.zip", "other", "single-container", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "single-container-deployment");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("repository count not in this bundle"),
        "{f}"
    );
}
