//! `sg-debug triage` and the ledger side of `report`, run the same way on
//! SQLite and on a real PostgreSQL server (tests/support/ledger.rs).
//! Refusals (bad input, newer schema, unreachable server, crashes) are in
//! tests/triage_refusals.rs.

#[path = "support/ledger.rs"]
mod ledger;
mod support;

use std::path::Path;
use std::process::Stdio;

use ledger::{TestLedger, at, bundle, json_of, ledgers, ok, plain_bundle};
use serde_json::{Value, json};
use support::*;

/// Four incidents; three with sessions recorded, one only imported.
/// The figures the report must show are worked out by hand in `report_*`.
fn scenario(l: &TestLedger) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    bundle(
        &d.join("a.zip"),
        "search",
        "2026-10-05T09:00:00Z",
        json!({"type": "kubernetes", "flavour": "helm", "sourcegraph_version": "6.12.5040"}),
        Some("T-100"),
    );
    bundle(
        &d.join("b.zip"),
        "database",
        "2026-11-02T09:00:00Z",
        json!({"type": "docker-compose", "sourcegraph_version": "6.11.0"}),
        None,
    );
    bundle(
        &d.join("c.zip"),
        "search",
        "2026-11-20T09:00:00Z",
        json!({"type": "single-container"}),
        None,
    );
    std::fs::create_dir(d.join("inbox")).unwrap();
    bundle(
        &d.join("inbox/d.zip"),
        "storage-disk",
        "2026-11-25T09:00:00Z",
        json!({"type": "unknown"}),
        None,
    );
    for args in [
        &[
            "triage",
            "record",
            "a.zip",
            "--effort",
            "1h30m",
            "--outcome",
            "workaround",
            "--root-cause",
            "zoekt OOM",
        ][..],
        &[
            "triage",
            "record",
            "a.zip",
            "--effort",
            "2h",
            "--outcome",
            "fixed-config",
            "--root-cause",
            "  Zoekt   oom ",
        ],
        &[
            "triage",
            "record",
            "b.zip",
            "--effort",
            "45m",
            "--outcome",
            "documentation-gap",
            "--doc",
            "https://docs.example/pg",
            "--root-cause",
            "pg max_connections",
            "--ticket",
            "T-200",
        ],
        &[
            "triage",
            "record",
            "b.zip",
            "--effort",
            "15m",
            "--outcome",
            "documentation-gap",
            "--doc",
            "https://docs.example/pg",
        ],
        &[
            "triage",
            "record",
            "c.zip",
            "--effort",
            "3h",
            "--outcome",
            "product-bug",
            "--category",
            "performance-resources",
            "--root-cause",
            "zoekt OOM",
        ],
    ] {
        ok(at(l, args, d));
    }
    // a.zip again, and a renamed copy of b.zip: still four incidents.
    std::fs::copy(d.join("b.zip"), d.join("inbox/b-renamed.zip")).unwrap();
    let r = ok(at(l, &["triage", "import", "inbox", "a.zip"], d));
    assert!(
        r.stdout
            .contains("indexed 3 bundle(s): 1 new incident(s), 2 already"),
        "{}",
        r.stdout
    );
    dir
}

fn row<'a>(rows: &'a Value, value: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == value)
        .unwrap_or_else(|| panic!("no row {value} in {rows}"))
}

#[test]
fn report_adds_up_effort_as_worked_out_by_hand_on_both_backends() {
    let mut seen: Vec<Value> = Vec::new();
    for l in ledgers("report_adds_up") {
        let dir = scenario(&l);
        let d = dir.path();
        let r = json_of(at(&l, &["report", "--json"], d));
        // 1.5 + 2 + 0.75 + 0.25 + 3 hours over five records.
        assert_eq!(
            (
                r["incidents"].clone(),
                r["with_effort"].clone(),
                r["records"].clone(),
                r["hours"].clone()
            ),
            (json!(4), json!(3), json!(5), json!(7.5)),
            "{}",
            l.backend
        );
        assert_eq!(r["recategorised"], 1);
        let cat = &r["by_category"];
        // c.zip moved to performance-resources: search keeps a.zip only.
        assert_eq!(row(cat, "search")["hours"], 3.5);
        assert_eq!(row(cat, "search")["incidents"], 1);
        assert_eq!(row(cat, "search")["median_hours"], 3.5);
        assert_eq!(row(cat, "performance-resources")["hours"], 3.0);
        assert_eq!(row(cat, "database")["hours"], 1.0);
        assert_eq!(row(cat, "storage-disk")["incidents"], 1);
        assert_eq!(row(cat, "storage-disk")["with_effort"], 0);
        assert_eq!(row(cat, "storage-disk")["median_hours"], Value::Null);
        assert_eq!(
            row(cat, "licensing")["incidents"],
            0,
            "every category is listed"
        );
        // The biggest first.
        assert_eq!(cat[0]["value"], "search");
        let out = &r["by_outcome"];
        assert_eq!(
            row(out, "fixed-config")["hours"],
            3.5,
            "an incident's outcome is its latest record's"
        );
        assert_eq!(row(out, "workaround")["incidents"], 0);
        assert_eq!(row(out, "documentation-gap")["hours"], 1.0);
        assert_eq!(row(out, "product-bug")["hours"], 3.0);
        assert_eq!(row(out, "(no record yet)")["incidents"], 1);
        let dep = &r["by_deployment_type"];
        assert_eq!(row(dep, "kubernetes (helm)")["hours"], 3.5);
        assert_eq!(row(dep, "docker-compose")["hours"], 1.0);
        assert_eq!(row(dep, "single-container")["hours"], 3.0);
        assert_eq!(row(dep, "unknown")["hours"], 0.0);
        let ver = &r["by_sourcegraph_version"];
        assert_eq!(row(ver, "6.12.5040")["hours"], 3.5);
        assert_eq!(row(ver, "unknown")["incidents"], 2);
        assert_eq!(row(ver, "unknown")["hours"], 3.0);
        // November: b (1h), c (3h), d (none): median of 1 and 3.
        assert_eq!(
            r["by_month"],
            json!([
                {"value": "2026-10", "incidents": 1, "with_effort": 1, "records": 2, "hours": 3.5, "median_hours": 3.5},
                {"value": "2026-11", "incidents": 3, "with_effort": 2, "records": 3, "hours": 4.0, "median_hours": 2.0},
            ])
        );
        // Spelling and spacing differ; one root cause, on two incidents.
        assert_eq!(r["root_causes"][0]["incidents"], 2);
        assert_eq!(r["root_causes"][0]["records"], 3);
        assert_eq!(r["root_causes"][0]["hours"], 6.5);
        assert_eq!(
            r["root_causes"][1],
            json!({"root_cause": "pg max_connections", "incidents": 1, "records": 1, "hours": 0.75})
        );
        assert_eq!(
            r["documentation_gaps"],
            json!([
                {"doc_url": "https://docs.example/pg", "incidents": 1, "records": 2, "hours": 1.0, "root_causes": ["pg max_connections"]}
            ])
        );

        // The period is when the bundles were collected, days inclusive.
        let nov = json_of(at(&l, &["report", "--json", "--since", "2026-11"], d));
        assert_eq!(
            (nov["incidents"].clone(), nov["hours"].clone()),
            (json!(3), json!(4.0))
        );
        let oct = json_of(at(&l, &["report", "--json", "--until", "2026-10-05"], d));
        assert_eq!(
            (oct["incidents"].clone(), oct["hours"].clone()),
            (json!(1), json!(3.5))
        );
        let none = json_of(at(&l, &["report", "--json", "--since", "2026-11-26"], d));
        assert_eq!(none["incidents"], 0);

        let csv = ok(at(&l, &["report", "--csv"], d)).stdout;
        assert!(
            csv.starts_with("section,value,incidents,with_effort,records,hours,median_hours\n"),
            "{csv}"
        );
        assert!(csv.contains("category,search,1,1,2,3.50,3.50\n"), "{csv}");
        assert!(csv.contains("month,2026-11,3,2,3,4.00,2.00\n"), "{csv}");
        assert!(
            csv.contains("documentation_gap,https://docs.example/pg,1,1,2,1.00,\n"),
            "{csv}"
        );
        let table = ok(at(&l, &["report"], d)).stdout;
        assert!(
            table.contains("4 incident(s), 3 with effort recorded, 5 record(s), 7.50 hours"),
            "{table}"
        );
        seen.push(r);
    }
    if let [a, b] = &seen[..] {
        assert_eq!(a, b, "SQLite and PostgreSQL give the same report");
    }
}

#[test]
fn show_by_bundle_and_by_ticket() {
    for l in ledgers("show") {
        let dir = scenario(&l);
        let d = dir.path();
        let s = ok(at(&l, &["triage", "show", "c.zip"], d)).stdout;
        assert!(
            s.contains("performance-resources (re-categorised; the bundle says search)"),
            "{s}"
        );
        assert!(s.contains("effort      3h over 1 record(s)"), "{s}");
        assert!(s.contains("product-bug") && s.contains("zoekt OOM"), "{s}");
        // The ticket in the bundle, and one given with a record.
        let v = json_of(at(
            &l,
            &["triage", "show", "--ticket", "T-100", "--json"],
            d,
        ));
        assert_eq!(v[0]["incident"]["category"], "search");
        assert_eq!(v[0]["records"].as_array().unwrap().len(), 2);
        assert_eq!(v[0]["effort_seconds"], 12600);
        let v = json_of(at(
            &l,
            &["triage", "show", "--ticket", "T-200", "--json"],
            d,
        ));
        assert_eq!(v[0]["incident"]["deployment_type"], "docker-compose");
        // A renamed copy is the same incident.
        let v = json_of(at(
            &l,
            &["triage", "show", "inbox/b-renamed.zip", "--json"],
            d,
        ));
        assert_eq!(v[0]["records"].as_array().unwrap().len(), 2);
        let r = at(&l, &["triage", "show", "--ticket", "nope"], d);
        assert_eq!(r.code, 1);
        assert!(
            r.stderr.contains("no incident with ticket \"nope\""),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn import_counts_a_bundle_once_across_copies_renames_and_reruns() {
    for l in ledgers("import_dedupe") {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("x/y")).unwrap();
        plain_bundle(&d.join("one.zip"));
        std::fs::copy(d.join("one.zip"), d.join("x/copy.zip")).unwrap();
        std::fs::copy(d.join("one.zip"), d.join("x/y/renamed.ZIP")).unwrap();
        let r = ok(at(&l, &["triage", "import", "."], d));
        assert!(
            r.stdout
                .contains("indexed 3 bundle(s): 1 new incident(s), 2 already"),
            "{}",
            r.stdout
        );
        let r = ok(at(&l, &["triage", "import", "x"], d));
        assert!(r.stdout.contains("0 new incident(s)"), "{}", r.stdout);
        let rep = json_of(at(&l, &["report", "--json"], d));
        assert_eq!(rep["incidents"], 1);
        // A different bundle (another collection) is another incident.
        bundle(
            &d.join("two.zip"),
            "search",
            "2026-11-01T00:00:01Z",
            json!({"type": "kubernetes"}),
            None,
        );
        ok(at(&l, &["triage", "import", "two.zip"], d));
        assert_eq!(json_of(at(&l, &["report", "--json"], d))["incidents"], 2);
    }
}

/// Two sessions recorded at the same moment both land; the first use of
/// a fresh ledger (its migration) happens in all of them at once too.
#[test]
fn concurrent_records_on_one_incident_all_land() {
    for l in ledgers("concurrent") {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        plain_bundle(&d.join("b.zip"));
        let n = 6;
        let children: Vec<_> = (0..n)
            .map(|i| {
                command(d)
                    .args([
                        "triage",
                        "record",
                        "b.zip",
                        "--effort",
                        &format!("{}m", 10 + i),
                        "--outcome",
                        "in-progress",
                        "--ledger",
                        &l.arg,
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                l.backend,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v = json_of(at(&l, &["triage", "show", "b.zip", "--json"], d));
        assert_eq!(
            v[0]["records"].as_array().unwrap().len(),
            n,
            "{}",
            l.backend
        );
        // 10 + 11 + ... + 15 minutes.
        assert_eq!(
            v[0]["effort_seconds"],
            (10..10 + n as u64).sum::<u64>() * 60
        );
    }
}

#[test]
fn outcomes_are_listed_like_categories() {
    let d = tempfile::tempdir().unwrap();
    let r = ok(sg(&["triage", "outcomes"], d.path()));
    for id in [
        "fixed-config",
        "fixed-upgrade",
        "product-bug",
        "documentation-gap",
        "workaround",
        "cannot-reproduce",
        "duplicate",
    ] {
        assert!(r.stdout.contains(id), "{id}: {}", r.stdout);
    }
    let v = json_of(sg(&["triage", "outcomes", "--json"], d.path()));
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"].is_string() && o["description"].is_string())
    );
}

#[test]
fn text_from_bundles_and_engineers_is_escaped_on_the_terminal() {
    let l = ledger::sqlite();
    let d = l.dir.path();
    bundle(
        &d.join("b.zip"),
        "search",
        "2026-11-01T00:00:00Z",
        json!({"type": "kubernetes", "sourcegraph_version": "6.1\u{1b}]0;owned\u{7}"}),
        Some("T\u{1b}[2J"),
    );
    ok(at(
        &l,
        &[
            "triage",
            "record",
            "b.zip",
            "--effort",
            "1h",
            "--outcome",
            "workaround",
            "--root-cause",
            "bad\u{1b}[31m red",
            "--note",
            "line one\nline\u{1b}[2K two",
        ],
        d,
    ));
    for out in [
        ok(at(&l, &["triage", "show", "b.zip"], d)).stdout,
        ok(at(&l, &["report"], d)).stdout,
    ] {
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(out.contains("\\u{1b}"), "{out}");
    }
}

/// The default ledger: $XDG_DATA_HOME, else ~/.local/share; owner-only.
#[test]
fn the_default_ledger_is_an_owner_only_file_in_the_data_home() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dp = d.path();
    plain_bundle(&dp.join("b.zip"));
    let record = |xdg: Option<&Path>| {
        let mut c = command(dp);
        c.args([
            "triage",
            "record",
            "b.zip",
            "--effort",
            "1h",
            "--outcome",
            "workaround",
        ])
        .env_remove("SG_DEBUG_LEDGER")
        .env_remove("XDG_DATA_HOME");
        if let Some(x) = xdg {
            c.env("XDG_DATA_HOME", x);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    record(None);
    let f = dp.join(".local/share/sg-debug/ledger.sqlite");
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600
    );
    record(Some(&dp.join("xdg")));
    assert!(dp.join("xdg/sg-debug/ledger.sqlite").is_file());
}
