//! The upstream diff of a docker-compose deployment, end to end on the real
//! engine: five services of upstream's v7.2.1943 `docker-compose.yaml`
//! (`testdata/drift/compose/`, derived by `testdata/drift/derive.py`) are
//! brought up by the real `docker-compose` from a file derived from them
//! with planted changes, collected with `--upstream` pointing at the
//! unmodified file, and diffed. Images are the local busybox image tagged
//! like Sourcegraph's (as `scripts/docker-up` does); tags cannot carry
//! upstream's digests locally, so every image also shows its digest
//! dropped. Fails instead of skipping when `CI` is set.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sg_debug::bundle::Bundle;
use sg_debug::bundle::drift::DriftSummary;

const BASE: &str = "sg-debug-test/busybox:latest";

/// Whether an engine with the test images answers; fails under CI.
fn docker_ready() -> bool {
    support::docker_ready(BASE)
}

/// Image tags and the compose project this test made; removed at the end.
struct Made {
    tags: Vec<String>,
    project: String,
    dir: std::path::PathBuf,
}

impl Drop for Made {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .current_dir(&self.dir)
            .args(["-p", &self.project, "-f", "docker-compose.yaml"])
            .args(["down", "-v", "--remove-orphans", "-t", "1"])
            .output();
        for t in &self.tags {
            let _ = Command::new("docker").args(["rmi", t]).output();
        }
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("running a command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The live compose file: upstream's services as this engine can run
/// them (no network, a sleeping command, tag-only images, a unique
/// container name), with the customer's changes planted.
fn live_file(upstream: &Value, project: &str) -> Value {
    let mut live = upstream.clone();
    let services = live["services"].as_object_mut().unwrap();
    services.remove("redis-store"); // missing
    for (name, s) in services.iter_mut() {
        let s = s.as_object_mut().unwrap();
        let image = s["image"]
            .as_str()
            .unwrap()
            .split('@')
            .next()
            .unwrap()
            .to_string();
        s.insert("image".into(), json!(image));
        s.insert("container_name".into(), json!(format!("{project}-{name}")));
        s.insert("network_mode".into(), json!("none"));
        s.insert("command".into(), json!(["sh", "-c", "sleep 3600"]));
        s.remove("networks");
        s.remove("healthcheck");
    }
    let s = &mut live["services"];
    s["searcher-0"]["mem_limit"] = json!("1g");
    s["searcher-0"]["volumes"] = json!(["./cache:/mnt/cache"]);
    s["blobstore"]["cpus"] = json!(0.5);
    s["blobstore"]["image"] = json!("index.docker.io/sourcegraph/blobstore:6.12.5040");
    s["blobstore"]["scale"] = json!(2);
    s["blobstore"]
        .as_object_mut()
        .unwrap()
        .remove("container_name");
    s["redis-cache"]["restart"] = json!("unless-stopped");
    s["precise-code-intel-worker"]["environment"] = json!([
        "SRC_FRONTEND_INTERNAL=sourcegraph-frontend-internal:3090",
        "PRECISE_CODE_INTEL_UPLOAD_BACKEND=blobstore",
        "PRECISE_CODE_INTEL_UPLOAD_AWS_ENDPOINT=http://minio.internal:9000",
        "NUM_WORKERS=8",
    ]);
    s["custom-sidecar"] = json!({
        "image": "index.docker.io/sourcegraph/searcher:7.2.1943",
        "container_name": format!("{project}-custom-sidecar"),
        "network_mode": "none",
        "command": ["sh", "-c", "sleep 3600"],
    });
    live["volumes"]
        .as_object_mut()
        .unwrap()
        .remove("redis-store");
    live
}

#[test]
fn compose_deployment_against_the_unmodified_upstream_file() {
    if !docker_ready() {
        return;
    }
    let upstream_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/drift/compose/docker-compose.yaml");
    let text = std::fs::read_to_string(&upstream_path).unwrap();
    let upstream: Value = serde_saphyr::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let project = format!("sgdrift{}", std::process::id());
    let mut made = Made {
        tags: Vec::new(),
        project: project.clone(),
        dir: dir.path().to_path_buf(),
    };
    for (name, tag) in [
        ("searcher", "7.2.1943"),
        ("blobstore", "7.2.1943"),
        ("blobstore", "6.12.5040"),
        ("redis-cache", "7.2.1943"),
        ("precise-code-intel-worker", "7.2.1943"),
    ] {
        let t = format!("sourcegraph/{name}:{tag}");
        if Command::new("docker")
            .args(["image", "inspect", &t])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            continue; // not ours: leave it
        }
        run(Command::new("docker").args(["tag", BASE, &t]));
        made.tags.push(t);
    }
    let live = live_file(&upstream, &project);
    std::fs::write(
        dir.path().join("docker-compose.yaml"),
        serde_saphyr::to_string(&live).unwrap(),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("cache")).unwrap();
    run(Command::new("docker-compose")
        .current_dir(dir.path())
        .args(["-p", &project, "-f", "docker-compose.yaml", "up", "-d"]));

    let r = support::sg(
        &[
            "collect",
            "-c",
            "deployment-config",
            "--deployment",
            "docker",
            "--project",
            &project,
            "--no-exec",
            "-q",
            "-o",
            "b.zip",
            "--upstream",
            upstream_path.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut b = Bundle::open(&dir.path().join("b.zip")).unwrap();
    let summary: DriftSummary =
        serde_json::from_slice(&b.read_entry("diff/summary.json").unwrap()).unwrap();
    let text = String::from_utf8(b.read_entry("diff/summary.txt").unwrap()).unwrap();
    let got: BTreeSet<(String, String, String, String)> = summary
        .changes
        .iter()
        .map(|c| {
            (
                c.source.clone(),
                c.object.clone(),
                c.category.clone(),
                c.field.clone(),
            )
        })
        .collect();
    let k = |s: &str, o: &str, c: &str, f: &str| {
        (s.to_string(), o.to_string(), c.to_string(), f.to_string())
    };
    let want: BTreeSet<_> = [
        k("upstream", "service/searcher-0", "resources", "memory"),
        k(
            "upstream",
            "service/searcher-0",
            "volume",
            "volumes[/mnt/cache]",
        ),
        k("upstream", "service/searcher-0", "image", "image"),
        k("upstream", "service/blobstore", "resources", "cpus"),
        k("upstream", "service/blobstore", "image", "image"),
        k("upstream", "service/blobstore", "replicas", "replicas"),
        k("upstream", "service/redis-cache", "restart", "restart"),
        k("upstream", "service/redis-cache", "image", "image"),
        k(
            "upstream",
            "service/precise-code-intel-worker",
            "image",
            "image",
        ),
        k(
            "upstream",
            "service/precise-code-intel-worker",
            "env",
            "environment.PRECISE_CODE_INTEL_UPLOAD_AWS_ENDPOINT",
        ),
        k(
            "upstream",
            "service/precise-code-intel-worker",
            "env",
            "environment.OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        k(
            "upstream",
            "service/precise-code-intel-worker",
            "env",
            "environment.NUM_WORKERS",
        ),
        k("upstream", "service/redis-store", "object", ""),
        k("upstream", "service/custom-sidecar", "object", ""),
        k("image-skew", "service/blobstore", "image", "blobstore"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "{text}");
    let find = |o: &str, f: &str| {
        summary
            .changes
            .iter()
            .find(|c| c.object == o && c.field == f)
            .unwrap()
    };
    let mem = find("service/searcher-0", "memory");
    assert_eq!(
        (mem.old.as_deref(), mem.new.as_deref()),
        (Some("2Gi"), Some("1Gi"))
    );
    let cpus = find("service/blobstore", "cpus");
    assert_eq!(
        (cpus.old.as_deref(), cpus.new.as_deref()),
        (Some("1"), Some("0.5"))
    );
    let replicas = find("service/blobstore", "replicas");
    assert_eq!(
        (replicas.old.as_deref(), replicas.new.as_deref()),
        (Some("1"), Some("2"))
    );
    let restart = find("service/redis-cache", "restart");
    assert_eq!(restart.new.as_deref(), Some("unless-stopped"));
    let added = find(
        "service/precise-code-intel-worker",
        "environment.NUM_WORKERS",
    );
    assert_eq!(
        (added.change.as_str(), added.new.as_deref()),
        ("added", Some("8"))
    );
    assert_eq!(summary.upstream.version.as_deref(), Some("7.2.1943"));
    assert_eq!(summary.upstream.documents, 5);

    // The same from the bundle alone.
    let i = support::sg(
        &[
            "inspect",
            "b.zip",
            "--diff-upstream",
            upstream_path.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(i.code, 0, "{}", i.stderr);
    assert!(i.stdout.starts_with(&text), "{}", i.stdout);
    drop(made);
}
