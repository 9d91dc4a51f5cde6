//! `sg-debug inspect` findings: one bundle per kind of finding, asserting
//! the finding, its evidence and its category; a healthy bundle with none;
//! instance facts. Bundles the collectors really write are in
//! inspect_collected.rs, the HTML page and colour in inspect_html.rs, the
//! bundle builders in support/findings.rs.
//!
//! Here: a healthy bundle. `workloads.rs`: what pods and nodes show;
//! `logs.rs`: log signatures and top messages, per deployment kind;
//! `instance.rs`: the instance API's facts and the drift summary.

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/findings.rs"]
mod findings_support;

mod instance;
mod logs;
mod workloads;

use findings_support::*;
use serde_json::{Value, json};
use support::*;

#[test]
fn a_healthy_bundle_has_no_findings() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(
        dir.path(),
        "h.zip",
        "search",
        "kubernetes",
        &healthy_files(),
    );
    let v = inspect_json(dir.path(), &b, &[]);
    assert_eq!(v["findings"], json!([]), "{:#}", v["findings"]);
    assert_eq!(v["category_hint"], Value::Null);
    assert_eq!(v["top_messages"], json!([]));
    assert_eq!(v["logs"]["entries"], 2);
    assert_eq!(v["logs"]["lines"], 101);
    // The keys scripts already read are still there.
    assert_eq!(v["manifest"]["incident"]["category"], "search");
    assert_eq!(v["derived"]["by_kind"]["log"]["files"], 2);

    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("Findings  0 finding(s)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Incident    search"), "{}", r.stdout);
    // Piped: no colour.
    assert!(!r.stdout.contains('\u{1b}'), "{}", r.stdout);

    let r = sg(&["inspect", b.to_str().unwrap(), "--summary"], dir.path());
    assert!(r.stdout.starts_with("Bundle"), "{}", r.stdout);
}
