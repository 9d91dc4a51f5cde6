//! `sg-debug collect` and `sg-debug categories` from the outside.

mod support;

use std::fs;

use support::*;

#[test]
fn category_is_required_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let r = sg(&["collect"], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--category is required"), "{}", r.stderr);
    assert!(
        r.stderr.contains("upgrade-migration") && r.stderr.contains("outage-crash"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn unknown_category_suggests_the_closest() {
    let dir = tempfile::tempdir().unwrap();
    let r = sg(&["collect", "--category", "authentification"], dir.path());
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did you mean 'authentication'?"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn writes_a_named_private_bundle_that_inspect_reads() {
    let dir = tempfile::tempdir().unwrap();
    let r = sg(
        &[
            "collect", "-c", "database", "--ticket", "SUP-42", "--note", "pg down",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let name = r.stdout.trim();
    assert!(
        name.starts_with("sg-debug-database-") && name.ends_with("Z.zip"),
        "{name}"
    );
    let path = dir.path().join(name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let r = sg(&["inspect", name, "--json"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let m = &v["manifest"];
    assert_eq!(
        m["incident"],
        serde_json::json!({"category": "database", "ticket": "SUP-42", "note": "pg down"})
    );
    assert_eq!(m["format_version"], 1);
    assert_eq!(m["tool"]["name"], "sg-debug");
    assert_eq!(m["complete"], true);
    // The zip's top folder is the file's own stem.
    let r = sg(&["inspect", name, "--list"], dir.path());
    assert_eq!(r.code, 0);
    let bytes = fs::read(&path).unwrap();
    let stem = name.trim_end_matches(".zip");
    let first = format!("{stem}/manifest.json");
    assert_eq!(
        &bytes[30..30 + first.len()],
        first.as_bytes(),
        "manifest.json is the first entry"
    );
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("out.zip"), "keep me").unwrap();
    let r = sg(&["collect", "-c", "other", "-o", "out.zip"], dir.path());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("out.zip already exists; pass --force"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(dir.path().join("out.zip")).unwrap(), b"keep me");
    let r = sg(
        &["collect", "-c", "other", "-o", "out.zip", "--force"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.zip"], "no .partial left");
}

#[test]
fn unwritable_output_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let r = sg(
        &["collect", "-c", "other", "-o", "missing-dir/out.zip"],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("missing-dir/out.zip"), "{}", r.stderr);
    let r = sg(&["collect", "-c", "other", "-o", "."], dir.path());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn categories_lists_the_taxonomy() {
    let dir = tempfile::tempdir().unwrap();
    let r = sg(&["categories", "--json"], dir.path());
    assert_eq!(r.code, 0);
    let v: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = v.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "upgrade-migration",
            "performance-resources",
            "search",
            "code-intelligence",
            "repository-sync",
            "authentication",
            "licensing",
            "storage-disk",
            "networking-tls",
            "database",
            "deployment-config",
            "outage-crash",
            "other"
        ]
    );
    assert!(
        v.iter()
            .all(|c| !c["description"].as_str().unwrap().is_empty())
    );
    let r = sg(&["categories"], dir.path());
    assert!(
        r.stdout.contains("storage-disk") && r.stdout.contains("e.g. "),
        "{}",
        r.stdout
    );
}
