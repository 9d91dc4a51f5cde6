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
    // With --force the path is accepted; the (unreachable) daemon is the
    // next problem, and the old file is still untouched after that failure.
    let r = sg(
        &[
            "collect",
            "-c",
            "other",
            "-o",
            "out.zip",
            "--force",
            "--docker-host",
            "unix:///nonexistent/docker.sock",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("no Docker daemon socket at /nonexistent/docker.sock"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(dir.path().join("out.zip")).unwrap(), b"keep me");
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
fn unreachable_docker_names_the_socket_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = sg(
        &[
            "collect",
            "-c",
            "other",
            "--docker-host",
            "unix:///nonexistent/docker.sock",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("is Docker running on this host?"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("--docker-host or DOCKER_HOST"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
    let r = sg(
        &["collect", "-c", "other", "--docker-host", "ssh://host"],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("use unix:///path/to/docker.sock or tcp://HOST:PORT"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_option_values_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, needle) in [
        ("--since", "3 weeks", "--since 3 weeks: unknown unit"),
        ("--max-log-bytes", "0", "--max-log-bytes 0: must be between"),
        (
            "--max-log-bytes",
            "ten",
            "--max-log-bytes ten: expected a size",
        ),
        ("--timeout", "0s", "--timeout 0s: must be more than zero"),
        (
            "--concurrency",
            "0",
            "--concurrency 0: must be between 1 and 64",
        ),
    ] {
        let r = sg(&["collect", "-c", "other", flag, value], dir.path());
        assert_eq!(r.code, 2, "{flag} {value}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{flag} {value}: {}", r.stderr);
    }
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
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
