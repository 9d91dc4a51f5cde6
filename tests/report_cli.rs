//! `sg-debug report` over a directory of bundles.

mod support;

use std::fs;

use support::*;

fn bundle(
    dir: &std::path::Path,
    name: &str,
    category: &str,
    at: &str,
    kind: &str,
    version: Option<&str>,
) {
    let mut m = manifest(category, at, &[]);
    m["deployment"] = serde_json::json!({"type": kind});
    if let Some(v) = version {
        m["deployment"]["sourcegraph_version"] = v.into();
    }
    write_bundle(&dir.join(name), "top", &m, &[]);
}

fn corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("2026/10")).unwrap();
    bundle(
        d,
        "a.zip",
        "search",
        "2026-11-01T10:00:00Z",
        "kubernetes",
        Some("6.12.5040"),
    );
    bundle(
        d,
        "b.zip",
        "search",
        "2026-11-20T10:00:00Z",
        "docker-compose",
        Some("6.12.5040"),
    );
    bundle(
        d,
        "2026/10/c.zip",
        "database",
        "2026-10-03T10:00:00Z",
        "kubernetes",
        Some("6.11.0"),
    );
    bundle(
        d,
        "2026/10/d.ZIP",
        "outage-crash",
        "2026-10-30T23:59:59Z",
        "single-container",
        None,
    );
    fs::write(d.join("2026/junk.zip"), "not a zip").unwrap();
    fs::write(d.join("readme.txt"), "ignored: not a .zip").unwrap();
    dir
}

#[test]
fn counts_by_every_dimension_and_lists_unreadable() {
    let dir = corpus();
    let r = sg(&["report", ".", "--json"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["bundles"], 4);
    assert_eq!(v["by_category"]["search"], 2);
    assert_eq!(v["by_category"]["database"], 1);
    assert_eq!(v["by_category"]["outage-crash"], 1);
    assert_eq!(v["by_category"]["licensing"], 0, "every category is listed");
    assert_eq!(
        v["by_deployment_type"],
        serde_json::json!({"kubernetes": 2, "docker-compose": 1, "single-container": 1})
    );
    assert_eq!(
        v["by_sourcegraph_version"],
        serde_json::json!({"6.12.5040": 2, "6.11.0": 1, "unknown": 1})
    );
    assert_eq!(
        v["by_month"],
        serde_json::json!({"2026-10": 2, "2026-11": 2})
    );
    let bad = v["unreadable"].as_array().unwrap();
    assert_eq!(bad.len(), 1);
    assert!(bad[0]["path"].as_str().unwrap().ends_with("junk.zip"));
    assert!(
        bad[0]["error"]
            .as_str()
            .unwrap()
            .contains("not a readable zip")
    );
}

/// A bundle tagged with a team's own category is counted where that
/// category is in force, and listed, not counted, where it is not.
#[test]
fn a_team_category_counts_only_where_it_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("b")).unwrap();
    bundle(
        &d.join("b"),
        "s.zip",
        "scim-provisioning",
        "2026-11-01T10:00:00Z",
        "kubernetes",
        None,
    );
    let team = d.join("team.yaml");
    fs::write(
        &team,
        "categories:\n  - id: scim-provisioning\n    description: SCIM fails\n    symptoms: x\n",
    )
    .unwrap();
    let out = command(d)
        .env("SG_DEBUG_CATEGORIES", &team)
        .args(["report", "b", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["by_category"]["scim-provisioning"], 1);
    assert_eq!(v["unreadable"], serde_json::json!([]));

    let r = sg(&["report", "b", "--json"], d);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["bundles"], 0);
    let why = v["unreadable"][0]["error"].as_str().unwrap();
    assert!(why.contains("SG_DEBUG_CATEGORIES"), "{why}");
}

#[test]
fn table_and_csv() {
    let dir = corpus();
    let r = sg(&["report", "."], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("4 bundle(s) read, 1 unreadable"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["search", "2"]),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("junk.zip: "), "{}", r.stdout);

    let r = sg(&["report", ".", "--csv"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "dimension,value,bundles");
    assert!(lines.contains(&"category,search,2"));
    assert!(lines.contains(&"deployment_type,kubernetes,2"));
    assert!(lines.contains(&"sourcegraph_version,6.11.0,1"));
    assert!(lines.contains(&"month,2026-10,2"));
    assert!(
        r.stderr.contains("unreadable:") && r.stderr.contains("junk.zip"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_inputs() {
    let dir = corpus();
    let r = sg(&["report", "does-not-exist"], dir.path());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot read does-not-exist"),
        "{}",
        r.stderr
    );

    fs::create_dir(dir.path().join("empty")).unwrap();
    let r = sg(&["report", "empty"], dir.path());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no bundles (*.zip) found in empty"),
        "{}",
        r.stderr
    );

    let r = sg(&["report", "2026/junk.zip"], dir.path());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("could be read as a bundle"),
        "{}",
        r.stderr
    );

    // Without bundles, report reads the triage ledger: there is none yet.
    let r = sg(&["report"], dir.path());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("there is no ledger at"), "{}", r.stderr);
    assert!(!dir.path().join(".local/share/sg-debug").exists());

    // Ledger flags with bundles: a usage error that says how to combine them.
    let r = sg(&["report", ".", "--since", "2026-10"], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("triage import"), "{}", r.stderr);
}
