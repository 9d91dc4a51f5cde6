//! `sg-debug redact` and `sg-debug inspect --scan` from the outside.

mod support;

use std::fs;

use support::*;

const SECRET_LOG: &str = "2026-11-25T04:00:00Z frontend PGPASSWORD=hunter2 repo=github.com/acme/api\nAuthorization: Bearer tok.en.value\ncommit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b\n";

#[test]
fn file_in_file_out_input_untouched() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.log"), SECRET_LOG).unwrap();
    let r = sg(&["redact", "app.log", "-o", "clean.log"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("2 replacement(s)"), "{}", r.stdout);
    assert!(r.stdout.contains("http-authorization"), "{}", r.stdout);
    let out = fs::read_to_string(dir.path().join("clean.log")).unwrap();
    assert!(
        !out.contains("hunter2") && !out.contains("tok.en.value"),
        "{out}"
    );
    assert!(
        out.contains("repo=github.com/acme/api")
            && out.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b")
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("app.log")).unwrap(),
        SECRET_LOG
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("clean.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Existing output needs --force; nothing partial is left either way.
    let r = sg(&["redact", "app.log", "-o", "clean.log"], dir.path());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("clean.log already exists; pass --force"),
        "{}",
        r.stderr
    );
    let r = sg(
        &["redact", "app.log", "-o", "clean.log", "--force"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["app.log", "clean.log"]);
}

#[test]
fn directory_mirrors_and_lists_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(input.join("config")).unwrap();
    fs::write(input.join("app.log"), SECRET_LOG).unwrap();
    fs::write(
        input.join("config/site.jsonc"),
        "{\n  // keep me\n  \"licenseKey\": \"lk-abc-123\",\n}\n",
    )
    .unwrap();
    fs::write(input.join("core.bin"), b"\x7fELF\0\0secret").unwrap();
    let r = sg(&["redact", "in", "-o", "out"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("redacted 2 file(s) into out; 1 left out"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("left out: core.bin: binary content"),
        "{}",
        r.stderr
    );
    let site = fs::read_to_string(dir.path().join("out/config/site.jsonc")).unwrap();
    assert!(
        site.contains("// keep me") && !site.contains("lk-abc-123"),
        "{site}"
    );
    assert!(!dir.path().join("out/core.bin").exists());

    let r = sg(&["redact", "in", "-o", "in/nested"], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is inside INPUT"), "{}", r.stderr);
    let r = sg(&["redact", "in", "-o", "in"], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is INPUT itself"), "{}", r.stderr);
    let r = sg(&["redact", "missing", "-o", "x"], dir.path());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot read missing"), "{}", r.stderr);
}

#[test]
fn bundle_in_bundle_out_keeps_a_valid_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[
        ("logs/frontend.log", SECRET_LOG.as_bytes()),
        (
            "config/env.yaml",
            b"env:\n  - name: PGPASSWORD\n    value: pairpw\n",
        ),
    ];
    let mut m = manifest("database", "2026-11-25T04:05:06Z", files);
    m["files"][0]["redactions"] = serde_json::json!({"jwt": 3});
    m["files"][0]["collector"] = "kubernetes".into();
    m["incident"]["note"] = "customer pasted PGPASSWORD=notepw here".into();
    write_bundle(
        &dir.path().join("raw.zip"),
        "sg-debug-database-20261125T040506Z",
        &m,
        files,
    );
    let before = fs::read(dir.path().join("raw.zip")).unwrap();

    let r = sg(&["redact", "raw.zip", "-o", "clean.zip"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read(dir.path().join("raw.zip")).unwrap(),
        before,
        "input untouched"
    );

    let r = sg(&["inspect", "clean.zip", "--verify"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = sg(&["inspect", "clean.zip", "--json"], dir.path());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let f = &v["manifest"]["files"];
    assert_eq!(f[1]["path"], "logs/frontend.log");
    assert_eq!(f[1]["collector"], "kubernetes", "kind and collector kept");
    assert_eq!(f[1]["redactions"]["jwt"], 3, "earlier counts kept");
    assert_eq!(f[1]["redactions"]["secret-key-name"], 1);
    assert_eq!(f[0]["redactions"]["secret-key-name"], 1);
    assert_eq!(v["manifest"]["leak_scan"]["hits"], serde_json::json!([]));
    let note = v["manifest"]["incident"]["note"].as_str().unwrap();
    assert!(!note.contains("notepw"), "{note}");
    for p in ["logs/frontend.log", "config/env.yaml"] {
        let r = sg(&["inspect", "clean.zip", "--cat", p], dir.path());
        assert!(
            !r.stdout.contains("hunter2") && !r.stdout.contains("pairpw"),
            "{}",
            r.stdout
        );
    }
    let r = sg(
        &["inspect", "clean.zip", "--cat", "config/env.yaml"],
        dir.path(),
    );
    assert!(
        r.stdout
            .starts_with("env:\n  - name: PGPASSWORD\n    value: \"[REDACTED:"),
        "{}",
        r.stdout
    );
}

#[test]
fn scan_flags_unredacted_bundles_without_printing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[("logs/frontend.log", SECRET_LOG.as_bytes())];
    write_bundle(
        &dir.path().join("raw.zip"),
        "top",
        &manifest("search", "2026-11-25T04:05:06Z", files),
        files,
    );
    let r = sg(&["inspect", "raw.zip", "--scan"], dir.path());
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("LEAK logs/frontend.log:1: matches rule secret-key-name"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("LEAK logs/frontend.log:2: matches rule http-authorization"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("do not share this bundle"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));

    let r = sg(&["redact", "raw.zip", "-o", "clean.zip"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = sg(&["inspect", "clean.zip", "--scan"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("no secrets found in 2 files"),
        "{}",
        r.stdout
    );

    // A rule switched off is not looked for.
    let r = sg(
        &[
            "inspect",
            "raw.zip",
            "--scan",
            "--disable-rule",
            "http-authorization",
        ],
        dir.path(),
    );
    assert!(!r.stderr.contains("http-authorization"), "{}", r.stderr);
}

#[test]
fn user_rules_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.log"), "order ACME-12345678 shipped\n").unwrap();
    fs::write(
        dir.path().join("acme.yaml"),
        "rules:\n  - id: acme-order\n    description: ACME order numbers\n    keywords: [ACME-]\n    regex: '(?P<secret>ACME-[0-9]{8})'\n",
    )
    .unwrap();
    let r = sg(
        &["redact", "app.log", "-o", "out.log", "--rules", "acme.yaml"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = fs::read_to_string(dir.path().join("out.log")).unwrap();
    assert!(
        out.starts_with("order [REDACTED:acme-order:") && out.ends_with("] shipped\n"),
        "{out}"
    );

    let r = sg(
        &["redact", "--list-rules", "--json", "--rules", "acme.yaml"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rules: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        rules.iter().any(
            |x| x["id"] == "acme-order" && x["source"].as_str().unwrap().ends_with("acme.yaml")
        )
    );
    assert!(
        rules
            .iter()
            .any(|x| x["id"] == "github-token" && x["source"] == "built-in tokens.yaml")
    );

    fs::write(
        dir.path().join("bad.yaml"),
        "rules:\n  - id: broken\n    description: d\n    regex: '(?P<secret>[a-'\n",
    )
    .unwrap();
    let r = sg(
        &["redact", "app.log", "-o", "x.log", "--rules", "bad.yaml"],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("bad.yaml: rule 'broken': regex does not compile"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("x.log").exists());

    let r = sg(
        &[
            "redact",
            "app.log",
            "-o",
            "x.log",
            "--disable-rule",
            "no-such-rule",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--disable-rule no-such-rule: no such rule"),
        "{}",
        r.stderr
    );
    let r = sg(&["redact", "app.log"], dir.path());
    assert_eq!(r.code, 2, "{}", r.stderr);
}
