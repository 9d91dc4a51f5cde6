//! `report --html`: the ledger's page, rendered by headless Chromium.
//! Text planted in bundles and records must stay text.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/ledger.rs"]
mod ledger;
mod support;

use chromium::{chromium, run_chromium, screenshot};
use serde_json::json;
use support::*;

#[test]
fn ledger_page_renders_charts_and_inert_text_in_a_real_browser() {
    let Some(bin) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed: .ci/run installs it (apt-get install -y chromium)");
        }
        println!(
            "SKIPPED ledger_page_renders_charts_and_inert_text_in_a_real_browser: chromium not found"
        );
        return;
    };
    let l = ledger::sqlite();
    let d = l.dir.path();
    let planted = "<script>document.title='PWNED'</script><img src=x onerror=\"document.body.dataset.pwned=1\">";
    ledger::bundle(
        &d.join("a.zip"),
        "search",
        "2026-10-05T09:00:00Z",
        json!({"type": "kubernetes", "flavour": planted, "sourcegraph_version": "6.12.5040"}),
        Some(planted),
    );
    ledger::bundle(
        &d.join("b.zip"),
        "database",
        "2026-11-02T09:00:00Z",
        json!({"type": "docker-compose", "sourcegraph_version": planted}),
        None,
    );
    ledger::bundle(
        &d.join("c.zip"),
        "storage-disk",
        "2026-11-12T09:00:00Z",
        json!({"type": "single-container", "sourcegraph_version": "6.11.0"}),
        None,
    );
    let ledger_arg = l.arg.clone();
    let rec = |args: &[&str]| {
        let mut a = vec!["triage", "record"];
        a.extend(args);
        a.extend(["--ledger", &ledger_arg]);
        let r = sg(&a, d);
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    rec(&[
        "a.zip",
        "--effort",
        "4h",
        "--outcome",
        "fixed-config",
        "--root-cause",
        planted,
        "--note",
        planted,
    ]);
    rec(&[
        "a.zip",
        "--effort",
        "2h30m",
        "--outcome",
        "fixed-config",
        "--root-cause",
        "zoekt memory limit too low",
    ]);
    rec(&[
        "b.zip",
        "--effort",
        "1h",
        "--outcome",
        "documentation-gap",
        "--doc",
        "https://docs.example/a\"><script>alert(1)</script>",
        "--root-cause",
        planted,
    ]);
    rec(&[
        "c.zip",
        "--effort",
        "45m",
        "--outcome",
        "workaround",
        "--root-cause",
        "zoekt memory limit too low",
    ]);

    let page = d.join("ledger.html");
    let r = sg(
        &[
            "report",
            "--html",
            page.to_str().unwrap(),
            "--ledger",
            &l.arg,
        ],
        d,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("3 incidents, 8.25 hours"), "{}", r.stdout);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&page).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!d.join("ledger.html.partial").exists());

    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let out = run_chromium(&bin, profile.path(), &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    // The charts, as the browser built them: one per breakdown, a bar each.
    for chart in [
        "category",
        "deployment_type",
        "sourcegraph_version",
        "outcome",
        "month",
    ] {
        assert!(
            dom.contains(&format!("data-chart=\"{chart}\"")),
            "{chart}: {dom}"
        );
    }
    assert!(
        dom.contains("<b>8.25</b> hours over <b>3</b> incident(s)"),
        "{dom}"
    );
    assert!(dom.contains("6.50 h · 1"), "search's bar: {dom}");
    assert!(dom.contains("zoekt memory limit too low"), "{dom}");
    // The planted markup is text: no element was made from it and nothing ran.
    let lower = dom.to_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains("<img"),
        "{dom}"
    );
    assert!(
        !dom.contains("data-pwned") && !dom.contains("<title>PWNED"),
        "{dom}"
    );
    assert!(
        dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;"),
        "{dom}"
    );
    // The link stays one link, its text and target the whole URL.
    assert!(
        dom.contains(
            "href=\"https://docs.example/a&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""
        ),
        "{dom}"
    );

    screenshot(&bin, profile.path(), &url, "triage-report.png", "1200,2400");
}
