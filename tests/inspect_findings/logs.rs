//! Findings from logs: known signatures, top messages, each deployment kind's log shape.

use super::*;

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
