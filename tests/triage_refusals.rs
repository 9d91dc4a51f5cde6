//! What the triage ledger refuses, on SQLite and PostgreSQL: every bad
//! input gets one message, a non-zero exit and leaves the ledger as it
//! was; a ledger from a newer sg-debug is never written; an unreachable
//! server is named with its own error; a killed writer leaves no half.

#[path = "support/ledger.rs"]
mod ledger;
mod support;

use std::path::Path;

use ledger::{
    assert_refused, at, bundle, json_of, ledgers, ok, plain_bundle, record_hour, tampered_bundle,
};
use serde_json::json;
use support::*;

#[test]
fn a_ledger_from_a_newer_sg_debug_is_refused_and_left_alone() {
    for l in ledgers("newer_schema") {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        plain_bundle(&d.join("b.zip"));
        ok(record_hour(&l, "b.zip", d));
        l.exec("INSERT INTO ledger_schema (version, applied_at, applied_by) VALUES (99, 0, 'sg-debug 9.0.0')");
        let before = l.dump();
        for args in [
            &[
                "triage",
                "record",
                "b.zip",
                "--effort",
                "1h",
                "--outcome",
                "workaround",
            ][..],
            &["triage", "import", "b.zip"],
            &["triage", "show", "b.zip"],
            &["report"],
        ] {
            let r = at(&l, args, d);
            assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
            assert!(r.stderr.contains("upgrade sg-debug"), "{}", r.stderr);
            assert_refused(&l, &r, "schema version 99", &before, &format!("{args:?}"));
        }
    }
}

#[test]
fn bad_input_gets_one_message_and_changes_nothing() {
    for l in ledgers("bad_input") {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        plain_bundle(&d.join("b.zip"));
        // Damaged: an entry that no longer matches its hash.
        tampered_bundle(&d.join("tampered.zip"));
        std::fs::write(d.join("junk.zip"), "not a zip").unwrap();
        ok(record_hour(&l, "b.zip", d));
        let before = l.dump();
        let rec = |extra: &[&str]| {
            let mut a = vec!["triage", "record", "b.zip"];
            a.extend(extra);
            a.into_iter().map(String::from).collect::<Vec<_>>()
        };
        let cases: Vec<(Vec<String>, &str)> = vec![
            (
                rec(&["--effort", "90", "--outcome", "workaround"]),
                "has no unit",
            ),
            (
                rec(&["--effort=-1h", "--outcome", "workaround"]),
                "negative",
            ),
            (
                rec(&["--effort", "0m", "--outcome", "workaround"]),
                "is zero",
            ),
            (
                rec(&["--effort", "1001h", "--outcome", "workaround"]),
                "over 1000 hours",
            ),
            (
                rec(&["--effort", "an hour", "--outcome", "workaround"]),
                "not a duration",
            ),
            (
                rec(&["--effort", "1h", "--outcome", "workarund"]),
                "did you mean 'workaround'?",
            ),
            (
                rec(&[
                    "--effort",
                    "1h",
                    "--outcome",
                    "workaround",
                    "--category",
                    "serach",
                ]),
                "did you mean 'search'?",
            ),
            (
                rec(&[
                    "--effort",
                    "1h",
                    "--outcome",
                    "workaround",
                    "--doc",
                    "javascript:alert(1)",
                ]),
                "not an http(s) URL",
            ),
            (
                rec(&[
                    "--effort",
                    "1h",
                    "--outcome",
                    "workaround",
                    "--root-cause",
                    "   ",
                ]),
                "--root-cause is empty",
            ),
            (
                [
                    "triage",
                    "record",
                    "tampered.zip",
                    "--effort",
                    "1h",
                    "--outcome",
                    "workaround",
                ]
                .map(String::from)
                .to_vec(),
                "does not verify",
            ),
            (
                [
                    "triage",
                    "record",
                    "junk.zip",
                    "--effort",
                    "1h",
                    "--outcome",
                    "workaround",
                ]
                .map(String::from)
                .to_vec(),
                "not a readable zip",
            ),
            (
                ["triage", "import", ".", "b.zip"]
                    .map(String::from)
                    .to_vec(),
                "cannot be indexed",
            ),
            (
                ["report", "--since", "last week"]
                    .map(String::from)
                    .to_vec(),
                "is not a date",
            ),
        ];
        for (args, why) in &cases {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_refused(&l, &at(&l, &a, d), why, &before, &format!("{a:?}"));
        }
        // `fixed` alone is ambiguous: the list, with a guess.
        let r = at(
            &l,
            &a(&[
                "triage",
                "record",
                "b.zip",
                "--effort",
                "1h",
                "--outcome",
                "fixd-config",
            ]),
            d,
        );
        assert!(
            r.stderr.contains("did you mean 'fixed-config'?")
                && r.stderr.contains("valid outcomes:"),
            "{}",
            r.stderr
        );
    }
}

fn a<'a>(v: &'a [&'a str]) -> Vec<&'a str> {
    v.to_vec()
}

#[test]
fn refused_input_never_creates_a_ledger() {
    let l = ledger::sqlite();
    let d = l.dir.path();
    tampered_bundle(&d.join("tampered.zip"));
    let r = record_hour(&l, "tampered.zip", d);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = at(&l, &["report"], d);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("there is no ledger at"), "{}", r.stderr);
    assert!(
        !Path::new(&l.arg).exists(),
        "a refused record or a report created the ledger"
    );
}

#[test]
fn an_unreachable_server_is_named_with_its_own_error() {
    let d = tempfile::tempdir().unwrap();
    let dp = d.path();
    plain_bundle(&dp.join("b.zip"));
    // Nothing listens on port 1: the connection is refused.
    let r = sg(
        &[
            "report",
            "--ledger",
            "postgres://sg:hunter2@127.0.0.1:1/ledger",
        ],
        dp,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("cannot reach the ledger at postgres://sg:***@127.0.0.1:1/ledger"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Connection refused"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("hunter2"),
        "the password is not shown: {}",
        r.stderr
    );
    // The real server's own words, through SG_DEBUG_LEDGER.
    for l in ledgers("unreachable")
        .into_iter()
        .filter(|l| l.backend == "postgres")
    {
        let url = format!("{}_missing", l.arg);
        let out = command(dp)
            .args([
                "triage",
                "record",
                "b.zip",
                "--effort",
                "1h",
                "--outcome",
                "workaround",
            ])
            .env("SG_DEBUG_LEDGER", &url)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("does not exist") && err.contains("_missing"),
            "{err}"
        );
        assert_eq!(err.matches("error:").count(), 1, "{err}");
    }
}

/// A writer killed in the middle of an import (SIGKILL: no cleanup runs)
/// leaves the ledger as it was or with the whole import, never a part,
/// and the next command reads it.
#[test]
fn a_killed_import_leaves_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("many")).unwrap();
    let n = 300;
    for i in 0..n {
        bundle(
            &d.join(format!("many/b{i}.zip")),
            "search",
            &format!("2026-11-01T00:{:02}:{:02}Z", i / 60, i % 60),
            json!({"type": "kubernetes"}),
            None,
        );
    }
    bundle(
        &d.join("first.zip"),
        "database",
        "2026-10-01T00:00:00Z",
        json!({"type": "kubernetes"}),
        None,
    );
    let mut outcomes = Vec::new();
    for delay_ms in [0, 15, 40, 80, 160, 320] {
        for l in ledgers("killed_import") {
            ok(record_hour(&l, "first.zip", d));
            let mut child = command(d)
                .args(["triage", "import", "many", "--ledger", &l.arg])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let _ = child.kill();
            let _ = child.wait();
            let r = json_of(at(&l, &["report", "--json"], d));
            let found = r["incidents"].as_u64().unwrap();
            assert!(
                found == 1 || found == 1 + n,
                "{}: {found} incidents after a kill at {delay_ms} ms",
                l.backend
            );
            assert_eq!(r["hours"], 1.0);
            outcomes.push(found);
        }
    }
    println!("incidents after each kill: {outcomes:?}");
}
