//! `sg-debug inspect` findings: one bundle per kind of finding, asserting
//! the finding, its evidence and its category; a healthy bundle with none;
//! the HTML page escaped and checked in a real browser.

mod support;

#[path = "support/findings.rs"]
mod findings_support;

#[path = "support/fake_kube.rs"]
mod fake_kube;

#[path = "support/chromium.rs"]
mod chromium;

use chromium::{chromium, run_chromium, screenshot};

use std::path::Path;

use findings_support::*;
use serde_json::{Value, json};
use support::*;

fn inspect_json(dir: &Path, bundle: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", bundle.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let r = sg(&args, dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// The findings with this id.
fn with_id<'a>(v: &'a Value, id: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

fn one<'a>(v: &'a Value, id: &str) -> &'a Value {
    let found = with_id(v, id);
    assert_eq!(
        found.len(),
        1,
        "expected one {id} finding in {:#}",
        v["findings"]
    );
    found[0]
}

fn ids(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// `files` over a healthy base: entries with the same path replace it.
fn with(files: Vec<(&'static str, Vec<u8>)>) -> Vec<(&'static str, Vec<u8>)> {
    let mut base = healthy_files();
    for (p, b) in files {
        base.retain(|(q, _)| *q != p);
        base.push((p, b));
    }
    base.sort_by(|a, b| a.0.cmp(b.0));
    base
}

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

#[test]
fn containers_oom_crashloop_pending_imagepull_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut oom = row("gitserver-0/gitserver", "gitserver", "6.12.5040");
    oom["oom_killed"] = json!(true);
    oom["exit_code"] = json!(137);
    oom["restarts"] = json!(4);
    oom["reason"] = json!("last terminated: OOMKilled (exit 137)");
    let mut crash = row(
        "sourcegraph-frontend-7d9c8b6f5-x2x4k/frontend",
        "frontend",
        "6.12.5040",
    );
    crash["state"] = json!("waiting");
    crash["restarts"] = json!(12);
    crash["exit_code"] = json!(1);
    crash["reason"] = json!("CrashLoopBackOff; last terminated: Error (exit 1)");
    crash["message"] = json!("back-off 5m0s restarting failed container");
    let mut pending = row("searcher-0/searcher", "searcher", "6.12.5040");
    pending["state"] = json!("Pending");
    pending["reason"] = json!("Unschedulable");
    pending["message"] = json!("0/3 nodes are available: 3 Insufficient memory.");
    let mut pull = row("symbols-0/symbols", "symbols", "6.12.5040");
    pull["state"] = json!("waiting");
    pull["reason"] = json!("ImagePullBackOff");
    pull["message"] = json!("Back-off pulling image \"sourcegraph/symbols:6.12.5040\"");
    let mut hungry = row("zoekt-0/zoekt-webserver", "zoekt-webserver", "6.12.5040");
    hungry["memory_used_bytes"] = json!(3900u64 << 20);
    hungry["memory_limit_bytes"] = json!(4096u64 << 20);
    let files = with(vec![(
        "summary.json",
        summary(vec![oom, crash, pending, pull, hungry]),
    )]);
    let b = bundle(dir.path(), "c.zip", "outage-crash", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);

    let f = one(&v, "container-oom-killed");
    assert_eq!(f["category"], "performance-resources");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"][0]["entry"], "summary.json");
    assert_eq!(
        f["evidence"][0]["object"],
        "rows[name=gitserver-0/gitserver]"
    );
    assert_eq!(f["evidence"][0]["field"], "oom_killed");
    // Four restarts of an OOM-killed container are a restart finding too.
    assert_eq!(
        one(&v, "container-restarts")["evidence"][0]["field"],
        "restarts"
    );

    let f = one(&v, "container-crashloop");
    assert_eq!(f["category"], "outage-crash");
    assert!(f["title"].as_str().unwrap().contains("12 restarts"), "{f}");
    assert_eq!(f["evidence"][1]["field"], "message");

    let f = one(&v, "pod-unschedulable");
    assert_eq!(f["category"], "deployment-config");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("3 Insufficient memory"),
        "{f}"
    );
    assert_eq!(f["evidence"][0]["field"], "message");

    let f = one(&v, "image-pull-failed");
    assert_eq!(f["category"], "deployment-config");
    assert_eq!(f["evidence"][0]["object"], "rows[name=symbols-0/symbols]");

    let f = one(&v, "memory-near-limit");
    assert_eq!(f["category"], "performance-resources");
    assert!(f["title"].as_str().unwrap().contains("95%"), "{f}");
}

#[test]
fn failed_migrator_init_container_points_to_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let mut migrator = row(
        "sourcegraph-frontend-7d9c8b6f5-x2x4k/migrator",
        "frontend",
        "6.12.5040",
    );
    migrator["state"] = json!("waiting");
    migrator["restarts"] = json!(5);
    migrator["exit_code"] = json!(1);
    migrator["reason"] = json!("CrashLoopBackOff; last terminated: Error (exit 1)");
    let mut frontend = row(
        "sourcegraph-frontend-7d9c8b6f5-x2x4k/frontend",
        "frontend",
        "6.12.5040",
    );
    frontend["state"] = json!("Pending");
    frontend["ready"] = json!(false);
    let pods = json!({"kind": "List", "items": [{"metadata": {"name": "sourcegraph-frontend-7d9c8b6f5-x2x4k"},
        "spec": {"initContainers": [{"name": "migrator"}], "containers": [{"name": "frontend"}]}}]});
    let log = "2025-11-25T04:00:01Z {\"SeverityText\":\"ERROR\",\"Timestamp\":1764043201000000000,\"InstrumentationScope\":\"migrator\",\"Body\":\"failed to run migration for schema \\\"frontend\\\": dirty database\"}\n";
    let files = with(vec![
        ("summary.json", summary(vec![migrator, frontend])),
        ("kubernetes/namespace/pods.json", json_bytes(&pods)),
        (
            "kubernetes/pods/sourcegraph-frontend-7d9c8b6f5-x2x4k/migrator.log",
            log.as_bytes().to_vec(),
        ),
    ]);
    let b = bundle(
        dir.path(),
        "m.zip",
        "upgrade-migration",
        "kubernetes",
        &files,
    );
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "init-container-failed");
    assert_eq!(f["category"], "upgrade-migration");
    assert!(f["title"].as_str().unwrap().contains("migrator"), "{f}");
    // An init container's back-off is its failure, not a separate crash loop.
    assert!(
        with_id(&v, "container-crashloop").is_empty(),
        "{:#}",
        v["findings"]
    );
    let f = one(&v, "dirty-database");
    assert_eq!(
        f["evidence"][0]["entry"],
        "kubernetes/pods/sourcegraph-frontend-7d9c8b6f5-x2x4k/migrator.log"
    );
    assert_eq!(f["evidence"][0]["line"], 1);
    assert_eq!(one(&v, "migrator-failed")["category"], "upgrade-migration");
    assert_eq!(
        v["category_hint"],
        Value::Null,
        "tagged as the evidence says"
    );
}

#[test]
fn node_pressure_and_full_volumes_point_to_storage() {
    let dir = tempfile::tempdir().unwrap();
    let files = with(vec![
        (
            "kubernetes/cluster/nodes.json",
            json_bytes(&json!([
                node("node-a", "True", "False"),
                node("node-b", "False", "True")
            ])),
        ),
        (
            "disk-usage.json",
            json_bytes(
                &json!({"volumes": [volume("repos-gitserver-0", 180, 20), volume("data-pgsql-0", 10, 90), volume("redis-store", 97, 3)]}),
            ),
        ),
    ]);
    let b = bundle(dir.path(), "d.zip", "search", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "node-disk-pressure");
    assert_eq!(f["category"], "storage-disk");
    assert_eq!(f["evidence"][0]["entry"], "kubernetes/cluster/nodes.json");
    assert_eq!(f["evidence"][0]["object"], "node node-a");
    assert_eq!(f["evidence"][0]["field"], "conditions[1].status");
    let f = one(&v, "node-memory-pressure");
    assert_eq!(f["category"], "performance-resources");
    assert_eq!(f["evidence"][0]["object"], "node node-b");
    let full = with_id(&v, "volume-nearly-full");
    assert_eq!(full.len(), 2, "{:#}", v["findings"]);
    let repos = full
        .iter()
        .find(|f| f["title"].as_str().unwrap().contains("repos-gitserver-0"))
        .unwrap();
    assert_eq!(repos["severity"], "warning");
    assert!(
        repos["title"].as_str().unwrap().contains("90% full"),
        "{repos}"
    );
    assert_eq!(
        repos["evidence"][0]["object"],
        "volumes[name=repos-gitserver-0]"
    );
    let redis = full
        .iter()
        .find(|f| f["title"].as_str().unwrap().contains("redis-store"))
        .unwrap();
    assert_eq!(redis["severity"], "critical");
    // Tagged search, but the evidence is about disks.
    assert_eq!(
        v["category_hint"]["message"],
        "tagged search; evidence points to storage-disk"
    );
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert!(
        r.stdout
            .contains("tagged search; evidence points to storage-disk"),
        "{}",
        r.stdout
    );
}

#[test]
fn upgrade_and_database_trouble_from_logs() {
    let dir = tempfile::tempdir().unwrap();
    let migrator = [
        sg_json(1, "INFO", "migrator", "checking schema versions"),
        sg_json(
            2,
            "ERROR",
            "migrator",
            "Unfinished out-of-band migrations: 3 must complete before upgrading to 6.12",
        ),
        sg_json(
            3,
            "ERROR",
            "migrator",
            "Sourcegraph 6.12 requires PostgreSQL version 16 or newer (found 12.22)",
        ),
    ]
    .concat();
    let pgsql = "2025-11-25T04:00:05Z 2025-11-25 04:00:05.123 UTC [42] WARNING:  database \"sg\" has a collation version mismatch\n";
    let files = with(vec![
        (
            "kubernetes/pods/migrator-abc12/migrator.log",
            migrator.into_bytes(),
        ),
        (
            "kubernetes/pods/pgsql-0/pgsql.log",
            pgsql.as_bytes().to_vec(),
        ),
    ]);
    let b = bundle(
        dir.path(),
        "u.zip",
        "upgrade-migration",
        "kubernetes",
        &files,
    );
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "unfinished-oobmigrations");
    assert_eq!(f["category"], "upgrade-migration");
    assert_eq!(f["evidence"][0]["line"], 2);
    assert_eq!(f["first_seen"], "2025-11-25T04:00:02.000Z");
    let f = one(&v, "postgres-version-required");
    assert_eq!(f["category"], "database");
    assert_eq!(f["evidence"][0]["line"], 3);
    let f = one(&v, "collation-version-mismatch");
    assert_eq!(
        f["evidence"][0]["entry"],
        "kubernetes/pods/pgsql-0/pgsql.log"
    );
    assert_eq!(f["evidence"][0]["line"], 1);
    assert!(f["docs"].as_str().unwrap().starts_with("https://"));
}

#[test]
fn version_skew_between_services() {
    let dir = tempfile::tempdir().unwrap();
    let files = with(vec![(
        "summary.json",
        summary(vec![
            row("sourcegraph-frontend-1/frontend", "frontend", "6.12.5040"),
            row("gitserver-0/gitserver", "gitserver", "6.12.5040"),
            row("searcher-0/searcher", "searcher", "6.10.1234"),
        ]),
    )]);
    let b = bundle(
        dir.path(),
        "v.zip",
        "upgrade-migration",
        "kubernetes",
        &files,
    );
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "version-skew");
    assert_eq!(f["category"], "upgrade-migration");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("6.10.1234 (1), 6.12.5040 (2)"),
        "{f}"
    );
    assert_eq!(f["evidence"][0]["text"], "6.10.1234: searcher-0/searcher");
    assert_eq!(f["evidence"][0]["field"], "image");
}

#[test]
fn known_log_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let ts = |s: u32, text: &str| format!("2025-11-25T04:01:{s:02}.000Z {text}\n");
    let frontend = [
        sg_json(
            1,
            "WARN",
            "licensing",
            "License user limit reached: 500 of 500 users",
        ),
        sg_json(
            2,
            "ERROR",
            "auth.saml",
            "SAML response validation failed: assertion not valid after NotOnOrAfter",
        ),
        sg_json(
            3,
            "ERROR",
            "httpcli",
            "Get \"https://ghe.example.com/api/v3\": x509: certificate signed by unknown authority",
        ),
        sg_json(
            4,
            "ERROR",
            "httpcli",
            "proxyconnect tcp: dial tcp 10.1.2.3:3128: i/o timeout",
        ),
    ]
    .concat();
    let gitserver = [
        ts(1, "{\"SeverityText\":\"WARN\",\"Body\":\"GitHub API rate limit exceeded, sleeping 42s\"}"),
        ts(2, "{\"SeverityText\":\"ERROR\",\"Body\":\"clone failed: exit status 128 (repo github.com/a/b)\"}"),
        ts(3, "{\"SeverityText\":\"ERROR\",\"Body\":\"write /data/repos/x/objects/pack: no space left on device\"}"),
    ]
    .concat();
    let files = with(vec![
        (
            "kubernetes/pods/sourcegraph-frontend-7d9c8b6f5-x2x4k/frontend.log",
            frontend.into_bytes(),
        ),
        (
            "kubernetes/pods/gitserver-0/gitserver.log",
            gitserver.into_bytes(),
        ),
    ]);
    let b = bundle(dir.path(), "s.zip", "other", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    for (id, cat, entry, line) in [
        ("license-user-limit", "licensing", "frontend", 1),
        ("saml-validation", "authentication", "frontend", 2),
        ("x509-unknown-authority", "networking-tls", "frontend", 3),
        ("proxy-timeout", "networking-tls", "frontend", 4),
        ("code-host-rate-limit", "repository-sync", "gitserver", 1),
        ("clone-exit-128", "repository-sync", "gitserver", 2),
        ("no-space-left", "storage-disk", "gitserver", 3),
    ] {
        let f = one(&v, id);
        assert_eq!(f["category"], cat, "{id}");
        assert!(
            f["evidence"][0]["entry"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{entry}.log")),
            "{id}: {f}"
        );
        assert_eq!(f["evidence"][0]["line"], line, "{id}");
        assert_eq!(f["count"], 1, "{id}");
    }
    assert_eq!(ids(&v).len(), 7, "{:?}", ids(&v));
}

#[test]
fn top_messages_are_grouped_by_template_with_counts_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for i in 0..30u64 {
        log.push_str(&sg_json(
            i,
            "ERROR",
            "repo-updater",
            &format!(
                "syncing repo {} failed after {}ms: id {:08x}",
                1000 + i,
                i * 7,
                i * 0x1234567
            ),
        ));
        if i % 3 == 0 {
            log.push_str(&sg_json(
                i,
                "WARN",
                "repo-updater",
                &format!("slow external service \"svc-{i}\" took {i}.5s"),
            ));
        }
    }
    let files = with(vec![(
        "kubernetes/pods/repo-updater-1/repo-updater.log",
        log.into_bytes(),
    )]);
    let b = bundle(dir.path(), "t.zip", "repository-sync", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let top = v["top_messages"].as_array().unwrap();
    assert_eq!(top.len(), 2, "{top:#?}");
    assert_eq!(top[0]["service"], "repo-updater");
    assert_eq!(top[0]["level"], "error");
    assert_eq!(
        top[0]["template"],
        "repo-updater: syncing repo <*> failed after <*>: id <*>"
    );
    assert_eq!(top[0]["count"], 30);
    assert_eq!(top[0]["first_seen"], "2025-11-25T04:00:00.000Z");
    assert_eq!(top[0]["last_seen"], "2025-11-25T04:00:29.000Z");
    assert_eq!(top[0]["example"]["line"], 1);
    assert_eq!(top[1]["level"], "warning");
    assert_eq!(
        top[1]["template"],
        "repo-updater: slow external service \"<*>\" took <*>"
    );
    assert_eq!(top[1]["count"], 10);
}

#[test]
fn docker_compose_bundle_with_timestamped_plain_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut gs = row("gitserver-0", "gitserver-0", "6.12.5040");
    gs["state"] = json!("exited");
    gs["exit_code"] = json!(137);
    gs["oom_killed"] = json!(true);
    let mut migrator = row("migrator", "migrator", "6.12.5040");
    migrator["state"] = json!("exited");
    migrator["exit_code"] = json!(1);
    let logs = "2025-11-25T04:00:01.123456789Z level=error msg=\"clone failed\" err=\"exit status 128\"\n\
                2025-11-25T04:00:02.123456789Z level=error msg=\"clone failed\" err=\"exit status 128\"\n";
    let files = vec![
        (
            "summary.json",
            summary(vec![
                gs,
                migrator,
                row("sourcegraph-frontend-0", "frontend", "6.12.5040"),
            ]),
        ),
        (
            "docker/containers/gitserver-0/logs.txt",
            logs.as_bytes().to_vec(),
        ),
        (
            "docker/containers/gitserver-0/inspect.json",
            b"[{}]".to_vec(),
        ),
    ];
    let b = bundle(
        dir.path(),
        "dc.zip",
        "repository-sync",
        "docker-compose",
        &files,
    );
    let v = inspect_json(dir.path(), &b, &[]);
    assert_eq!(
        one(&v, "container-oom-killed")["evidence"][0]["object"],
        "rows[name=gitserver-0]"
    );
    let f = one(&v, "init-container-failed");
    assert_eq!(f["category"], "upgrade-migration");
    let f = one(&v, "clone-exit-128");
    assert_eq!(f["count"], 2);
    assert_eq!(f["first_seen"], "2025-11-25T04:00:01.123456789Z");
    assert_eq!(f["last_seen"], "2025-11-25T04:00:02.123456789Z");
    assert_eq!(
        f["evidence"][1]["entry"],
        "docker/containers/gitserver-0/logs.txt"
    );
    assert_eq!(f["evidence"][1]["line"], 2);
    let top = &v["top_messages"][0];
    assert_eq!(
        (
            top["service"].as_str(),
            top["template"].as_str(),
            top["count"].as_u64()
        ),
        (Some("gitserver-0"), Some("clone failed"), Some(2))
    );
    // pure-docker bundles have the same layout: the same findings.
    let b = bundle(
        dir.path(),
        "pd.zip",
        "repository-sync",
        "pure-docker",
        &files,
    );
    assert_eq!(ids(&inspect_json(dir.path(), &b, &[])), ids(&v));
}

#[test]
fn single_container_is_named_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = row("sourcegraph", "server", "6.12.5040");
    server["image"] = json!("sourcegraph/server:6.12.5040");
    server["memory_used_bytes"] = json!(6u64 << 30);
    server["memory_limit_bytes"] = Value::Null;
    let disk = json!({"volumes": [{"name": "/var/opt/sourcegraph", "kind": "container-path", "mounted_by": ["sourcegraph:/var/opt/sourcegraph"],
        "capacity_bytes": 100u64 << 30, "used_bytes": 50u64 << 30, "available_bytes": 50u64 << 30, "source": "df in sourcegraph"}]});
    let log = "04:00:01 gitserver | {\"SeverityText\":\"ERROR\",\"Body\":\"disk space below threshold: 2% free\"}\n\
               04:00:02 frontend | level=error msg=\"oops 1\"\n04:00:09 frontend | level=error msg=\"oops 2\"\n";
    let files = vec![
        ("summary.json", summary(vec![server])),
        ("disk-usage.json", json_bytes(&disk)),
        (
            "docker/host/info.json",
            json_bytes(&json!({"NCPU": 8, "MemTotal": 17179869184u64})),
        ),
        (
            "server/logs/var/opt/sourcegraph/sourcegraph.log",
            log.as_bytes().to_vec(),
        ),
    ];
    let b = bundle(
        dir.path(),
        "sc.zip",
        "performance-resources",
        "single-container",
        &files,
    );
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "single-container-deployment");
    assert_eq!(f["category"], "deployment-config");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains("memory 6.0 GiB")
            && title.contains("data 50.0 GiB of 100.0 GiB")
            && title.contains("host 8 CPUs, 16.0 GiB"),
        "{title}"
    );
    assert!(
        f["explanation"]
            .as_str()
            .unwrap()
            .contains("not production"),
        "{f}"
    );
    let f = one(&v, "gitserver-disk-low");
    assert_eq!(
        f["evidence"][0]["entry"],
        "server/logs/var/opt/sourcegraph/sourcegraph.log"
    );
    assert_eq!(f["first_seen"], "04:00:01");
    // Services inside the single container are told apart by the prefix.
    let top = v["top_messages"].as_array().unwrap();
    let fe = top.iter().find(|m| m["service"] == "frontend").unwrap();
    assert_eq!(
        (
            fe["template"].as_str(),
            fe["count"].as_u64(),
            fe["last_seen"].as_str()
        ),
        (Some("oops <*>"), Some(2), Some("04:00:09"))
    );
    assert!(top.iter().any(|m| m["service"] == "gitserver"), "{top:#?}");
}

#[test]
fn signatures_file_adds_one_and_bad_files_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let log = sg_json(
        1,
        "INFO",
        "frontend",
        "embeddings quota exhausted for org 12",
    );
    let files = with(vec![(
        "kubernetes/pods/sourcegraph-frontend-7d9c8b6f5-x2x4k/frontend.log",
        log.into_bytes(),
    )]);
    let b = bundle(dir.path(), "x.zip", "other", "kubernetes", &files);
    let sigs = dir.path().join("mine.yaml");
    std::fs::write(&sigs, "signatures:\n  - id: quota-exhausted\n    category: licensing\n    severity: warning\n    pattern: 'quota exhausted'\n    explanation: A quota ran out.\n    docs: https://example.com/quota\n").unwrap();
    let v = inspect_json(dir.path(), &b, &["--signatures", sigs.to_str().unwrap()]);
    let f = one(&v, "quota-exhausted");
    assert_eq!(f["category"], "licensing");
    assert_eq!(f["evidence"][0]["line"], 1);

    std::fs::write(&sigs, "signatures:\n  - id: x\n    category: nope\n    severity: warning\n    pattern: 'a'\n    explanation: e\n    docs: https://example.com\n").unwrap();
    let r = sg(
        &[
            "inspect",
            b.to_str().unwrap(),
            "--signatures",
            sigs.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("not one of `sg-debug categories`"),
        "{}",
        r.stderr
    );
}

#[test]
fn drift_entries_without_their_summary_are_noted_not_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let files = with(vec![(
        "diff/helm-values.diff",
        b"--- upstream\n+++ deployed\n".to_vec(),
    )]);
    let b = bundle(
        dir.path(),
        "df.zip",
        "deployment-config",
        "kubernetes",
        &files,
    );
    let v = inspect_json(dir.path(), &b, &[]);
    assert_eq!(v["drift"]["entries"], json!(["diff/helm-values.diff"]));
    assert!(
        v["drift"]["status"]
            .as_str()
            .unwrap()
            .contains("no readable diff/summary.json: drift not evaluated")
    );
    assert_eq!(v["findings"], json!([]));
}

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
    let files = with(vec![
        ("summary.json", summary(vec![evil])),
        (
            "kubernetes/pods/gitserver-0/gitserver.log",
            log.into_bytes(),
        ),
        ("instance/summary.json", instance),
    ]);
    bundle(dir, "evil.zip", "search", "kubernetes", &files)
}

#[test]
fn html_page_escapes_everything_from_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let b = hostile_bundle(dir.path());
    let page = dir.path().join("report.html");
    let r = sg(
        &[
            "inspect",
            b.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
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
    let b = hostile_bundle(dir.path());
    let page = dir.path().join("report.html");
    let r = sg(
        &[
            "inspect",
            b.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let out = run_chromium(&bin, profile.path(), &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    // The findings are there, as the browser built them.
    assert!(dom.contains("data-id=\"x509-unknown-authority\""), "{dom}");
    assert!(dom.contains("data-id=\"container-oom-killed\""), "{dom}");
    assert!(dom.contains("data-id=\"no-space-left\""), "{dom}");
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

/// Bundles the Kubernetes collector really writes (from the fake API
/// server's scenarios), not only hand-made ones.
mod collected {
    use super::*;
    use crate::fake_kube::{FakeKube, Scenario};

    fn collect_and_inspect(scenario: &str) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeKube::start(Scenario::load(scenario));
        let kc = fake.kubeconfig(dir.path(), "sourcegraph");
        let r = sg(
            &[
                "collect",
                "-c",
                "search",
                "-o",
                "out.zip",
                "--kubeconfig",
                kc.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(
            dir.path().join("out.zip").exists(),
            "no bundle: {}",
            r.stderr
        );
        let bundle = dir.path().join("out.zip");
        // The text view leads with the findings, then the summary.
        let r = sg(&["inspect", bundle.to_str().unwrap()], dir.path());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let findings = r.stdout.find("Findings").unwrap();
        assert!(
            findings < r.stdout.find("Bundle      ").unwrap(),
            "{}",
            r.stdout
        );
        println!("{scenario}:\n{}", r.stdout);
        inspect_json(dir.path(), &bundle, &[])
    }

    #[test]
    fn collected_kubernetes_bundles() {
        let v = collect_and_inspect("healthy");
        let critical: Vec<&Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "critical")
            .collect();
        assert!(critical.is_empty(), "healthy: {critical:#?}");
        assert!(
            v["logs"]["entries"].as_u64().unwrap() >= 3,
            "{:#}",
            v["logs"]
        );

        let v = collect_and_inspect("oomkilled");
        let f = one(&v, "container-oom-killed");
        assert!(
            f["evidence"][0]["object"]
                .as_str()
                .unwrap()
                .starts_with("rows[name=gitserver-0/gitserver"),
            "{f}"
        );

        let v = collect_and_inspect("crashloop");
        let f = one(&v, "container-crashloop");
        assert!(f["title"].as_str().unwrap().contains("7 restarts"), "{f}");
        assert_eq!(
            v["category_hint"]["points_to"], "outage-crash",
            "{:#}",
            v["findings"]
        );

        let v = collect_and_inspect("pending");
        let f = one(&v, "pod-unschedulable");
        assert!(
            f["title"].as_str().unwrap().contains(
                "indexed-search-0 is Pending: 0/2 nodes are available: 2 Insufficient memory"
            ),
            "{f}"
        );
    }
}

#[test]
fn long_lines_and_escapes_in_logs_are_bounded_and_shown_safely() {
    let dir = tempfile::tempdir().unwrap();
    // A 2 MiB line with no newline at the end: read up to the bound, still matched.
    let mut long = b"2025-11-25T04:00:01Z x509: certificate signed by unknown authority ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 2 << 20));
    let evil =
        b"2025-11-25T04:00:02Z level=error msg=\"\x1b]0;owned\x07 no space left on device\"\n"
            .to_vec();
    let mut log = evil;
    log.extend(long);
    let files = with(vec![("kubernetes/pods/gitserver-0/gitserver.log", log)]);
    let b = bundle(dir.path(), "l.zip", "other", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    assert_eq!(v["logs"]["long_lines"], 1);
    // These two, and the healthy frontend's 51.
    assert_eq!(v["logs"]["lines"], 2 + 51);
    let f = one(&v, "x509-unknown-authority");
    assert_eq!(f["evidence"][0]["line"], 2);
    assert!(f["evidence"][0]["text"].as_str().unwrap().len() <= 300);
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\\u{1b}]0;owned"), "{}", r.stdout);
}

#[test]
fn kubernetes_events_evictions_and_mounts() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |reason: &str, kind: &str, name: &str, msg: &str, count: u64| {
        json!({"kind": "Event", "type": kind, "reason": reason, "message": msg, "count": count,
               "involvedObject": {"kind": "Pod", "name": name},
               "firstTimestamp": "2025-11-25T03:00:00Z", "lastTimestamp": "2025-11-25T03:59:00Z"})
    };
    let events = json!({"kind": "List", "items": [
        ev("Started", "Normal", "gitserver-0", "Started container gitserver", 1),
        ev("Evicted", "Warning", "searcher-0", "The node was low on resource: ephemeral-storage.", 1),
        ev("FailedMount", "Warning", "gitserver-0", "MountVolume.SetUp failed for volume \"pvc-1\": timed out", 4),
        ev("FailedAttachVolume", "Warning", "pgsql-0", "AttachVolume.Attach failed for volume \"pvc-2\"", 1),
    ]});
    let files = with(vec![(
        "kubernetes/namespace/events.json",
        json_bytes(&events),
    )]);
    let b = bundle(dir.path(), "e.zip", "storage-disk", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "pod-evicted");
    assert_eq!(f["category"], "performance-resources");
    assert_eq!(
        f["evidence"][0]["entry"],
        "kubernetes/namespace/events.json"
    );
    assert_eq!(f["evidence"][0]["object"], "Pod searcher-0");
    assert_eq!(f["evidence"][0]["field"], "items[1].reason");
    let f = one(&v, "volume-mount-failed");
    assert_eq!(f["category"], "storage-disk");
    assert_eq!(f["count"], 5);
    assert_eq!(f["evidence"].as_array().unwrap().len(), 2);
    assert_eq!(f["first_seen"], "2025-11-25T03:00:00Z");
    assert_eq!(ids(&v).len(), 2, "{:?}", ids(&v));
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

/// What the instance's API said, as the instance collector writes it.
fn instance_summary(expires_at: &str, alerts: Value) -> Vec<u8> {
    json_bytes(&json!({
        "endpoint": "https://sourcegraph.example.com/.api/graphql",
        "product_version": "6.12.5040",
        "license": {"present": true, "tags": ["plan:enterprise-1"], "licensed_users": 100,
                    "expires_at": expires_at, "actual_user_count": 130, "total_users": 131},
        "external_services": {"total_count": 3, "collected": 3, "by_kind": {"GITHUB": 2, "GITLAB": 1},
            "sync_errors": [{"id": "RXh0ZXJuYWxTZXJ2aWNlOjI=", "kind": "GITLAB", "display_name": "GitLab on-prem",
                             "message": "401 Unauthorized: token expired"}]},
        "alerts": alerts,
        "repository_stats": {"total": 48213, "cloned": 48000, "cloning": 13, "not_cloned": 200, "failed_fetch": 7, "indexed": 47000},
        "missing_fields": ["ExternalService.warning"]
    }))
}

#[test]
fn instance_license_code_hosts_and_site_alerts() {
    let dir = tempfile::tempdir().unwrap();
    // Collected 2026-11-25: a license ending 2026-12-05 expires in 10 days.
    let files = with(vec![(
        "instance/summary.json",
        instance_summary(
            "2026-12-05T12:00:00Z",
            json!([{"type": "ERROR", "message": "Failed to reach the code host\nmore"},
                   {"type": "INFO", "message": "Sourcegraph 6.13 is available"}]),
        ),
    )]);
    let b = bundle(dir.path(), "i.zip", "repository-sync", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "license-user-count-exceeded");
    assert_eq!(f["category"], "licensing");
    assert_eq!(f["title"], "130 users, but the license allows 100");
    let f = one(&v, "license-expiring");
    assert_eq!(f["title"], "the license expires in 10 day(s)");
    assert_eq!(f["evidence"][0]["entry"], "instance/summary.json");
    let f = one(&v, "code-host-sync-errors");
    assert_eq!(f["category"], "repository-sync");
    assert!(
        f["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .contains("GitLab on-prem (GITLAB): 401 Unauthorized"),
        "{f}"
    );
    let alerts = with_id(&v, "site-alert");
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().any(|a| a["severity"] == "critical"
        && a["title"] == "site alert: Failed to reach the code host"));
    assert_eq!(v["instance"]["product_version"], "6.12.5040");
    // The default view shows the instance's facts.
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    for want in [
        "Instance  https://sourcegraph.example.com/.api/graphql",
        "Version       6.12.5040",
        "License       100 licensed users, 130 in use, expires 2026-12-05 (plan:enterprise-1)",
        "Code hosts    3 connection(s) (GITHUB 2, GITLAB 1), 1 failing to sync",
        "Site alerts   2",
        "Not in schema ExternalService.warning",
    ] {
        assert!(r.stdout.contains(want), "{want} not in:\n{}", r.stdout);
    }

    // Expired a day before collection: critical.
    let files = with(vec![(
        "instance/summary.json",
        instance_summary("2026-11-24T00:00:00Z", json!([])),
    )]);
    let b = bundle(dir.path(), "e.zip", "licensing", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "license-expired");
    assert_eq!(f["severity"], "critical");
    assert!(with_id(&v, "license-expiring").is_empty());
}

#[test]
fn single_container_names_its_repository_count_from_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = row("sourcegraph", "server", "6.12.5040");
    server["image"] = json!("sourcegraph/server:6.12.5040");
    let files = vec![
        ("summary.json", summary(vec![server.clone()])),
        (
            "instance/summary.json",
            instance_summary("2099-01-01T00:00:00Z", json!([])),
        ),
    ];
    let b = bundle(dir.path(), "sc.zip", "other", "single-container", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "single-container-deployment");
    assert!(
        f["title"].as_str().unwrap().contains("48213 repositories"),
        "{f}"
    );
    // Without the instance data, it says the count is not there.
    let files = vec![("summary.json", summary(vec![server]))];
    let b = bundle(dir.path(), "sc2.zip", "other", "single-container", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "single-container-deployment");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("repository count not in this bundle"),
        "{f}"
    );
}
