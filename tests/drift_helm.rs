//! The upstream diff of a Helm deployment needs no input: the release
//! Secret (built here from the real `helm install --dry-run -o json` of
//! chart v7.2.1943, with user values) holds the chart's defaults and the
//! rendered manifest; the live objects (`testdata/drift/derive.py`) are
//! that manifest as the API server keeps it, two edited after the release.

#[path = "support/fake_kube.rs"]
mod fake_kube;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use fake_kube::{FakeKube, Scenario, release_secret};
use serde_json::{Value, json};
use sg_debug::bundle::Bundle;
use sg_debug::bundle::drift::DriftSummary;

/// (source, object, field, old, new)
type Row = (String, String, String, Option<String>, Option<String>);

#[test]
fn helm_values_and_edits_after_the_release() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/drift/helm-v7.2.1943-default.release.json");
    let mut release: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    release["config"] = json!({
        "frontend": {"replicaCount": 3},
        "gitserver": {"resources": {"limits": {"memory": "16G"}}},
        "storageClass": {"create": false},
    });
    release["info"]["status"] = json!("deployed");
    let mut scenario = Scenario::load("drift-helm");
    scenario.put(release_secret(
        &release,
        "sourcegraph",
        1,
        "sourcegraph",
        &json!("deployed"),
    ));
    let fake = FakeKube::start(scenario);
    let kc = fake.kubeconfig(dir.path(), "sourcegraph");
    let out = Command::new(env!("CARGO_BIN_EXE_sg-debug"))
        .args([
            "collect",
            "-c",
            "deployment-config",
            "-o",
            "b.zip",
            "-q",
            "--no-exec",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .env_remove("KUBECONFIG")
        .env_remove("DOCKER_HOST")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut b = Bundle::open(&dir.path().join("b.zip")).unwrap();
    let summary: DriftSummary =
        serde_json::from_slice(&b.read_entry("diff/summary.json").unwrap()).unwrap();
    let text = String::from_utf8(b.read_entry("diff/summary.txt").unwrap()).unwrap();
    assert_eq!(summary.upstream.source, "helm-release", "{text}");
    assert_eq!(summary.upstream.version.as_deref(), Some("7.2.1943"));
    let m = b.manifest().upstream.clone().unwrap();
    assert_eq!((m.source.as_str(), m.documents), ("helm-release", 68));

    let got: BTreeSet<Row> = summary
        .changes
        .iter()
        .map(|c| {
            (
                c.source.clone(),
                c.object.clone(),
                c.field.clone(),
                c.old.clone(),
                c.new.clone(),
            )
        })
        .collect();
    let s = |x: &str| Some(x.to_string());
    let want: BTreeSet<_> = [
        (
            "helm-values",
            "values",
            "frontend.replicaCount",
            s("2"),
            s("3"),
        ),
        (
            "helm-values",
            "values",
            "gitserver.resources.limits.memory",
            s("8G"),
            s("16G"),
        ),
        (
            "helm-values",
            "values",
            "storageClass.create",
            s("true"),
            s("false"),
        ),
        (
            "helm-manifest",
            "Deployment/sourcegraph-frontend",
            "spec.replicas",
            s("2"),
            s("4"),
        ),
        (
            "helm-manifest",
            "Deployment/worker",
            "spec.template.spec.containers[worker].env[WORKER_DEBUG]",
            None,
            s("1"),
        ),
    ]
    .into_iter()
    .map(|(a, b, c, d, e)| (a.to_string(), b.to_string(), c.to_string(), d, e))
    .collect();
    assert_eq!(got, want, "{text}");
    assert!(text.contains("edits after helm upgrade"), "{text}");
    assert!(
        summary.notes.iter().any(|n| n.contains("ServiceAccount")),
        "RBAC objects are counted, not reported missing: {:?}",
        summary.notes
    );
    // The rendered Secrets are in the bundle as shapes only.
    let manifest = String::from_utf8(
        b.read_entry("kubernetes/helm/sourcegraph/manifest.json")
            .unwrap(),
    )
    .unwrap();
    assert!(!manifest.contains("cGFzc3dvcmQ="), "a Secret value leaked");
    assert!(manifest.contains("\"name\": \"password\""), "{manifest}");
}
