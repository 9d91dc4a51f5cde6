//! Building bundles for the findings tests: entries with the kinds the
//! collectors give them (logs are `log`, the rest `metadata`), under a
//! manifest of a chosen deployment type and incident category.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{sg, sha256, write_bundle};

pub const TOP: &str = "sg-debug-other-20261125T040506Z";

pub fn kind_of(path: &str) -> &'static str {
    if path.ends_with(".log") || path.ends_with("logs.txt") || path.starts_with("server/logs/") {
        "log"
    } else if path.starts_with("diff/") {
        "diff"
    } else {
        "metadata"
    }
}

/// Writes `name` in `dir`: a bundle tagged `category` from a deployment of
/// type `deployment` holding `files`.
pub fn bundle(
    dir: &Path,
    name: &str,
    category: &str,
    deployment: &str,
    files: &[(&str, Vec<u8>)],
) -> PathBuf {
    let manifest = json!({
        "format_version": 1,
        "tool": {"name": "sg-debug", "version": "0.1.0"},
        "created_at": "2026-11-25T04:05:06Z",
        "complete": true,
        "incident": {"category": category},
        "deployment": {"type": deployment, "sourcegraph_version": "6.12.5040"},
        "options": {},
        "collectors": [],
        "files": files.iter().map(|(p, b)| json!({
            "path": p, "bytes": b.len(), "sha256": sha256(b),
            "kind": kind_of(p), "collector": "test", "redactions": {}
        })).collect::<Vec<_>>(),
    });
    let path = dir.join(name);
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    write_bundle(&path, TOP, &manifest, &refs);
    path
}

pub fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

/// A healthy summary row for `name` running `image` at version `tag`.
pub fn row(name: &str, service: &str, tag: &str) -> Value {
    json!({"name": name, "service": service,
           "image": format!("index.docker.io/sourcegraph/{service}:{tag}@sha256:{}", "a".repeat(64)),
           "state": "running", "ready": true, "restarts": 0, "oom_killed": false,
           "memory_used_bytes": 500u64 << 20, "memory_limit_bytes": 4u64 << 30})
}

pub fn summary(rows: Vec<Value>) -> Vec<u8> {
    json_bytes(&json!({"rows": rows}))
}

pub fn node(name: &str, disk: &str, memory: &str) -> Value {
    json!({"name": name, "conditions": [
        {"type": "MemoryPressure", "status": memory, "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
        {"type": "DiskPressure", "status": disk, "reason": "KubeletHasDiskPressure", "message": "kubelet has disk pressure"},
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]})
}

pub fn volume(name: &str, used_gib: u64, avail_gib: u64) -> Value {
    json!({"name": name, "kind": "persistent-volume-claim", "mounted_by": [format!("{name}-pod/c:/data")],
           "capacity_bytes": (used_gib + avail_gib) << 30, "used_bytes": used_gib << 30,
           "available_bytes": avail_gib << 30, "source": "df in pod/c"})
}

/// A Sourcegraph JSON log line, with a Kubernetes timestamp prefix.
pub fn sg_json(sec: u64, level: &str, scope: &str, body: &str) -> String {
    let ns = (1_764_043_200 + sec) * 1_000_000_000;
    format!(
        "2025-11-25T04:00:{:02}.000000000Z {}\n",
        sec % 60,
        json!({"SeverityText": level, "Timestamp": ns, "InstrumentationScope": scope, "Body": body, "Resource": {"service.name": scope}})
    )
}

/// A healthy Kubernetes deployment: three services on one version, one
/// node without pressure, volumes under half full, info logs only.
pub fn healthy_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut frontend = String::new();
    let mut gitserver = String::new();
    for i in 0..50 {
        frontend.push_str(&sg_json(
            i,
            "INFO",
            "frontend",
            &format!("request completed in {i}ms"),
        ));
        gitserver.push_str(&sg_json(
            i,
            "INFO",
            "gitserver",
            "fetched repository from code host",
        ));
    }
    frontend.push_str("level=info msg=\"frontend listening\" addr=:3080\n");
    vec![
        (
            "summary.json",
            summary(vec![
                row(
                    "sourcegraph-frontend-7d9c8b6f5-x2x4k/frontend",
                    "frontend",
                    "6.12.5040",
                ),
                row("gitserver-0/gitserver", "gitserver", "6.12.5040"),
                row("pgsql-0/pgsql", "postgres-12-alpine", "6.12.5040"),
            ]),
        ),
        (
            "disk-usage.json",
            json_bytes(
                &json!({"volumes": [volume("repos-gitserver-0", 40, 160), volume("data-pgsql-0", 10, 90)]}),
            ),
        ),
        (
            "kubernetes/cluster/nodes.json",
            json_bytes(&json!([node("node-a", "False", "False")])),
        ),
        (
            "kubernetes/pods/sourcegraph-frontend-7d9c8b6f5-x2x4k/frontend.log",
            frontend.into_bytes(),
        ),
        (
            "kubernetes/pods/gitserver-0/gitserver.log",
            gitserver.into_bytes(),
        ),
    ]
}

/// `sg-debug inspect BUNDLE --json` (and `extra`), which must succeed.
pub fn inspect_json(dir: &Path, bundle: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", bundle.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let r = sg(&args, dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// The findings with this id.
pub fn with_id<'a>(v: &'a Value, id: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

pub fn one<'a>(v: &'a Value, id: &str) -> &'a Value {
    let found = with_id(v, id);
    assert_eq!(
        found.len(),
        1,
        "expected one {id} finding in {:#}",
        v["findings"]
    );
    found[0]
}

pub fn ids(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// `files` over a healthy base: entries with the same path replace it.
pub fn with(files: Vec<(&'static str, Vec<u8>)>) -> Vec<(&'static str, Vec<u8>)> {
    let mut base = healthy_files();
    for (p, b) in files {
        base.retain(|(q, _)| *q != p);
        base.push((p, b));
    }
    base.sort_by(|a, b| a.0.cmp(b.0));
    base
}
