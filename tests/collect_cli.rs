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
fn check_on_an_unreachable_docker_says_it_cannot_run_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let host = "unix:///nonexistent/docker.sock";
    let r = sg(&["check", "--json", "--docker-host", host], dir.path());
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verdict"], "cannot-run");
    assert_eq!(v["docker"]["host"], host);
    assert_eq!(v["docker"]["reachable"], false);
    let e = v["docker"]["error"].as_str().unwrap();
    assert!(e.contains("is Docker running on this host?"), "{e}");
    let r = sg(&["collect", "--dry-run", "--docker-host", host], dir.path());
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("NOT reachable"), "{}", r.stdout);
    assert!(r.stdout.contains("verdict: cannot run"), "{}", r.stdout);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    // check takes only what the preflight reads: a bundle's flags are
    // refused, not silently ignored (collect --dry-run takes them all).
    for flag in [&["-o", "out.zip"][..], &["-c", "other"], &["--since", "1h"]] {
        let mut args = vec!["check", "--docker-host", host];
        args.extend(flag);
        let r = sg(&args, dir.path());
        assert_eq!(r.code, 2, "{flag:?}: {}", r.stderr);
        assert!(r.stderr.contains("unexpected argument"), "{}", r.stderr);
    }
    let r = sg(
        &[
            "collect",
            "--dry-run",
            "--docker-host",
            host,
            "-c",
            "other",
            "-o",
            "out.zip",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
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

/// A support team adds its own categories as data: a file named by
/// SG_DEBUG_CATEGORIES, new ids only, checked with a message naming it.
#[test]
fn a_team_adds_categories_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.yaml");
    let run = |args: &[&str]| {
        let out = command(dir.path())
            .env("SG_DEBUG_CATEGORIES", &file)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    fs::write(
        &file,
        "categories:\n  - id: scim-provisioning\n    description: SCIM user provisioning fails\n    symptoms: users missing after sync\n",
    )
    .unwrap();
    let (code, out, err) = run(&["categories", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(v.len(), 14);
    assert_eq!(v[13]["id"], "scim-provisioning");
    assert_eq!(v[0]["id"], "upgrade-migration");
    // Typos of the team's ids get the same help as the built-in ones.
    let (code, _, err) = run(&["collect", "--category", "scim-provisoning", "-o", "x.zip"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean 'scim-provisioning'?"), "{err}");

    for (body, says) in [
        (
            "categories:\n  - id: search\n    description: again\n    symptoms: x\n",
            "category 'search' is defined twice (or is built in)",
        ),
        (
            "categories:\n  - id: Bad Id\n    description: d\n    symptoms: x\n",
            "use lowercase letters, digits and inner dashes",
        ),
        (
            "categories:\n  - id: ok-id\n    description: ''\n    symptoms: x\n",
            "the description is empty",
        ),
        ("categories: []\n", "no categories in the file"),
        ("cats:\n  - id: x\n", "not a categories file"),
    ] {
        fs::write(&file, body).unwrap();
        let (code, out, err) = run(&["categories"]);
        assert_eq!(code, 2, "{body}: {out}{err}");
        assert!(out.is_empty());
        assert!(
            err.contains("SG_DEBUG_CATEGORIES=") && err.contains("team.yaml"),
            "{err}"
        );
        assert!(err.contains(says), "{body}: {err}");
    }
    fs::remove_file(&file).unwrap();
    let (code, _, err) = run(&["categories"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the categories file"), "{err}");
}
