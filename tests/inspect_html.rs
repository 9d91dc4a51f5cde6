//! `sg-debug inspect` output for people: the HTML page (everything from
//! the bundle escaped, inert in a real browser) and colour on a terminal.

mod support;

#[path = "support/findings.rs"]
mod findings_support;

#[path = "support/chromium.rs"]
mod chromium;

use chromium::{chromium, run_chromium, screenshot};

use std::path::Path;

use findings_support::*;
use serde_json::json;
use support::*;

/// A bundle whose every text field the page shows holds markup.
fn hostile_bundle(dir: &Path) -> std::path::PathBuf {
    let planted = "<script>document.title='PWNED'</script>\"><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
    let mut evil = row(&format!("gitserver-0/{planted}"), "gitserver", "6.12.5040");
    evil["oom_killed"] = json!(true);
    evil["reason"] = json!(planted);
    let log = [
        sg_json(
            1,
            "ERROR",
            "httpcli",
            &format!("x509: certificate signed by unknown authority {planted}"),
        ),
        sg_json(2, "ERROR", planted, "no space left on device"),
    ]
    .concat();
    // What the instance's API said is the customer's text too.
    let instance = json_bytes(&json!({
        "endpoint": format!("https://sg.example.com/{planted}"),
        "product_version": planted,
        "license": {"present": true, "tags": [planted], "licensed_users": 10, "actual_user_count": 11},
        "external_services": {"total_count": 1, "collected": 1, "by_kind": {planted: 1},
            "sync_errors": [{"id": "1", "kind": planted, "display_name": planted, "message": planted}]},
        "alerts": [{"type": "WARNING", "message": planted}],
    }));
    // So is what drifted from upstream: object names and values.
    let drift = json_bytes(&json!({
        "upstream": {"source": "path", "name": planted, "version": "6.12.5040", "documents": 1},
        "live_version": "6.12.5040",
        "compared": 1,
        "changes": [{"source": "upstream", "object": format!("Deployment/{planted}"),
            "category": "resources", "change": "changed",
            "field": "spec.template.spec.containers[gitserver].resources.limits.memory",
            "old": "8G", "new": planted, "expected": false}],
        "diffs": [],
        "notes": [],
    }));
    let files = with(vec![
        ("diff/summary.json", drift),
        ("summary.json", summary(vec![evil])),
        (
            "kubernetes/pods/gitserver-0/gitserver.log",
            log.into_bytes(),
        ),
        ("instance/summary.json", instance),
    ]);
    bundle(dir, "evil.zip", "search", "kubernetes", &files)
}

/// `inspect --html` of the hostile bundle, which must succeed: the page
/// and the run.
fn hostile_page(dir: &Path) -> (std::path::PathBuf, Run) {
    let b = hostile_bundle(dir);
    let page = dir.join("report.html");
    let r = sg(
        &[
            "inspect",
            b.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
        dir,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    (page, r)
}

#[test]
fn html_page_escapes_everything_from_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let (page, r) = hostile_page(dir.path());
    assert!(r.stdout.contains("wrote"), "{}", r.stdout);
    let html = std::fs::read_to_string(&page).unwrap();
    // Not one tag from the bundle survives as markup, and the page has no
    // script or external asset of its own.
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains("<img"),
        "{html}"
    );
    assert!(
        !lower.contains("src=\"http") && !lower.contains("href=\"http:"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("Content-Security-Policy"));
    for section in [
        "Incident",
        "Deployment",
        "Findings (",
        "Containers (1)",
        "Drift against upstream",
        "Top errors and warnings",
        "<h2>Instance</h2>",
    ] {
        assert!(html.contains(section), "{section} missing");
    }
    assert!(html.contains("data-id=\"x509-unknown-authority\""));
    // The drift section shows the planted change, as text.
    let drift = &html[html.find("Drift against upstream").unwrap()..];
    assert!(
        drift.contains("8G -&gt; &lt;script&gt;") || drift.contains("8G → &lt;script&gt;"),
        "{drift}"
    );
    assert!(html.contains("tagged search; evidence points to"), "{html}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&page).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn html_page_renders_inert_in_a_real_browser() {
    let Some(bin) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed: .ci/run installs it (apt-get install -y chromium)");
        }
        println!(
            "SKIPPED html_page_renders_inert_in_a_real_browser: chromium not found (apt-get install -y chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, _) = hostile_page(dir.path());
    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let out = run_chromium(&bin, profile.path(), &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    // The findings are there, as the browser built them.
    assert!(dom.contains("data-id=\"x509-unknown-authority\""), "{dom}");
    assert!(dom.contains("data-id=\"container-oom-killed\""), "{dom}");
    assert!(dom.contains("data-id=\"no-space-left\""), "{dom}");
    assert!(dom.contains("data-id=\"drift-upstream\""), "{dom}");
    // The planted markup is text: no element was made from it and nothing ran.
    let lower = dom.to_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains("<img"),
        "{dom}"
    );
    assert!(
        !dom.contains("data-pwned=\"1\"") && !dom.contains("<title>PWNED"),
        "{dom}"
    );
    assert!(
        dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;"),
        "{dom}"
    );

    // A screenshot to look at; kept in the target directory.
    screenshot(
        &bin,
        profile.path(),
        &url,
        "inspect-findings.png",
        "1280,2000",
    );
}

/// On a terminal (a pty from util-linux `script`) findings are coloured,
/// unless NO_COLOR is set.
#[test]
fn colour_on_a_terminal_unless_no_color() {
    let has_script = std::process::Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        println!("SKIPPED colour_on_a_terminal_unless_no_color: util-linux `script` not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut oom = row("gitserver-0/gitserver", "gitserver", "6.12.5040");
    oom["oom_killed"] = json!(true);
    let files = with(vec![("summary.json", summary(vec![oom]))]);
    let b = bundle(dir.path(), "tty.zip", "other", "kubernetes", &files);
    let on_tty = |no_color: bool| {
        let cmd = format!("{} inspect {}", bin(), b.display());
        let mut c = std::process::Command::new("script");
        c.current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .env("HOME", dir.path())
            .env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        // `script` gives the command a terminal, whatever the test's stdout is.
        let out = c.args(["-qec", &cmd, "/dev/null"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty(false);
    assert!(coloured.contains("\u{1b}[1;31mCRITICAL"), "{coloured}");
    let plain = on_tty(true);
    assert!(
        plain.contains("CRITICAL") && !plain.contains('\u{1b}'),
        "{plain}"
    );
}
