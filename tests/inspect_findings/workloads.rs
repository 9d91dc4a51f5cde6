//! Findings from what pods, containers and nodes show.

use super::*;

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
