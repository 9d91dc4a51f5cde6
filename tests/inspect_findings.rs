//! `sg-debug inspect` findings: one bundle per kind of finding, asserting
//! the finding, its evidence and its category; a healthy bundle with none;
//! instance facts. Bundles the collectors really write are in
//! inspect_collected.rs, the HTML page and colour in inspect_html.rs, the
//! bundle builders in support/findings.rs.

mod support;

#[path = "support/findings.rs"]
mod findings_support;

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
