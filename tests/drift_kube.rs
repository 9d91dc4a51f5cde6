//! The upstream diff on Kubernetes, end to end: the fake API server serves
//! a namespace derived from the real upstream (`testdata/drift/derive.py`),
//! `sg-debug collect --upstream` writes `diff/`, and `sg-debug inspect
//! --diff-upstream` computes the same from the bundle.

#[path = "support/fake_kube.rs"]
mod fake_kube;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fake_kube::{FakeKube, Scenario, release_secret};
use serde_json::{Value, json};
use sg_debug::bundle::Bundle;
use sg_debug::bundle::drift::DriftSummary;

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

fn sg(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sg-debug"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("DOCKER_HOST")
        .env("HOME", cwd)
        .output()
        .expect("running sg-debug");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Collected {
    bundle: PathBuf,
    summary: DriftSummary,
    text: String,
    diffs: Vec<(String, String)>,
    manifest: sg_debug::bundle::Manifest,
}

/// Collects `scenario` with `extra` arguments and reads `diff/` back.
fn collect(scenario: Scenario, dir: &Path, extra: &[&str]) -> Collected {
    let fake = FakeKube::start(scenario);
    let kc = fake.kubeconfig(dir, "sourcegraph");
    let mut args = vec![
        "collect",
        "-c",
        "deployment-config",
        "-o",
        "b.zip",
        "-q",
        "--no-exec",
        "--kubeconfig",
        kc.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = sg(&args, dir);
    assert_eq!(code, 0, "{err}");
    let path = dir.join("b.zip");
    let mut b = Bundle::open(&path).unwrap();
    let read = |b: &mut Bundle, n: &str| String::from_utf8(b.read_entry(n).unwrap()).unwrap();
    let summary: DriftSummary = serde_json::from_str(&read(&mut b, "diff/summary.json")).unwrap();
    let text = read(&mut b, "diff/summary.txt");
    let diffs = summary
        .diffs
        .iter()
        .map(|d| (d.clone(), read(&mut b, d)))
        .collect();
    let rec = b
        .manifest()
        .collectors
        .iter()
        .find(|c| c.name == "upstream-diff")
        .expect("the upstream diff has its record")
        .clone();
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    Collected {
        bundle: path,
        summary,
        text,
        diffs,
        manifest: b.manifest().clone(),
    }
}

/// `inspect --diff-upstream` prints exactly what the bundle's `diff/` holds.
fn assert_inspect_agrees(c: &Collected, upstream: &Path, dir: &Path) {
    let (code, out, err) = sg(
        &[
            "inspect",
            c.bundle.to_str().unwrap(),
            "--diff-upstream",
            upstream.to_str().unwrap(),
        ],
        dir,
    );
    assert_eq!(code, 0, "{err}");
    let mut expected = c.text.clone();
    for (name, text) in &c.diffs {
        expected.push_str(&format!("\n=== {name}\n{text}"));
    }
    if out != expected {
        let (a, b) = (
            out.lines().collect::<Vec<_>>(),
            expected.lines().collect::<Vec<_>>(),
        );
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        panic!(
            "inspect --diff-upstream differs from the bundle's diff/ at line {first:?}: {:?} vs {:?}",
            first.map(|i| a[i]),
            first.map(|i| b[i])
        );
    }
}

type Key = (String, String, String, String);

fn keys(s: &DriftSummary) -> BTreeSet<Key> {
    s.changes
        .iter()
        .map(|c| {
            (
                c.source.clone(),
                c.object.clone(),
                c.category.clone(),
                c.field.clone(),
            )
        })
        .collect()
}

#[test]
fn api_server_defaults_alone_are_no_drift() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = testdata("drift/upstream-v7.2.1943.yaml");
    let c = collect(
        Scenario::load("drift-defaults"),
        dir.path(),
        &["--upstream", upstream.to_str().unwrap()],
    );
    assert_eq!(c.summary.changes, vec![], "{}", c.text);
    assert!(c.summary.diffs.is_empty());
    assert_eq!(c.summary.compared, 51, "{}", c.text);
    assert_eq!(c.summary.upstream.documents, 51);
    assert_eq!(c.summary.upstream.version.as_deref(), Some("7.2.1943"));
    assert_eq!(c.summary.version_warning, None);
    assert!(c.text.contains("no drift found"), "{}", c.text);
    let m = c
        .manifest
        .upstream
        .as_ref()
        .expect("the manifest records it");
    assert_eq!(
        (
            m.source.as_str(),
            m.name.as_deref(),
            m.version.as_deref(),
            m.documents
        ),
        (
            "path",
            Some("upstream-v7.2.1943.yaml"),
            Some("7.2.1943"),
            51
        )
    );
    assert_inspect_agrees(&c, &upstream, dir.path());
}

#[test]
fn planted_customer_changes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = testdata("drift/upstream-v7.2.1943.yaml");
    let c = collect(
        Scenario::load("drift-planted"),
        dir.path(),
        &["--upstream", upstream.to_str().unwrap()],
    );
    let k = |s: &str, o: &str, cat: &str, f: &str| -> Key {
        (s.into(), o.into(), cat.into(), f.into())
    };
    let want: BTreeSet<Key> = [
        k(
            "upstream",
            "Deployment/sourcegraph-frontend",
            "resources",
            "spec.template.spec.containers[frontend].resources.limits.memory",
        ),
        k("upstream", "Deployment/worker", "replicas", "spec.replicas"),
        k(
            "upstream",
            "StatefulSet/searcher",
            "env",
            "spec.template.spec.containers[searcher].env[SEARCHER_DEBUG]",
        ),
        k(
            "upstream",
            "StatefulSet/gitserver",
            "env",
            "spec.template.spec.containers[gitserver].env[OTEL_EXPORTER_OTLP_ENDPOINT]",
        ),
        k(
            "upstream",
            "Deployment/worker",
            "env",
            "spec.template.spec.containers[worker].env[POD_NAME]",
        ),
        k(
            "upstream",
            "Deployment/syntect-server",
            "image",
            "spec.template.spec.containers[syntect-server].image",
        ),
        k(
            "upstream",
            "PersistentVolumeClaim/blobstore",
            "volume",
            "spec.resources.requests.storage",
        ),
        k(
            "upstream",
            "StatefulSet/gitserver",
            "volume",
            "spec.volumeClaimTemplates[repos].spec.resources.requests.storage",
        ),
        k("upstream", "Deployment/syntactic-code-intel", "object", ""),
        k("upstream", "Deployment/custom-proxy", "object", ""),
        k(
            "last-applied",
            "Deployment/prometheus",
            "env",
            "spec.template.spec.containers[prometheus].env[PROMETHEUS_DEBUG]",
        ),
        // The pinned image is also off the version every other service runs.
        k(
            "image-skew",
            "Deployment/syntect-server",
            "image",
            "syntect-server",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(keys(&c.summary), want, "{}", c.text);
    let find = |o: &str, cat: &str| {
        c.summary
            .changes
            .iter()
            .find(|x| x.object == o && x.category == cat && x.source == "upstream")
            .unwrap()
    };
    let mem = find("Deployment/sourcegraph-frontend", "resources");
    assert_eq!(
        (mem.old.as_deref(), mem.new.as_deref()),
        (Some("4G"), Some("2G"))
    );
    let pvc = find("PersistentVolumeClaim/blobstore", "volume");
    assert_eq!(
        (pvc.old.as_deref(), pvc.new.as_deref()),
        (Some("100Gi"), Some("50Gi"))
    );
    assert_eq!(
        find("Deployment/syntactic-code-intel", "object").change,
        "missing"
    );
    assert_eq!(find("Deployment/custom-proxy", "object").change, "extra");
    // One readable line per change, grouped; one unified diff per object.
    for needle in [
        "Deployment/worker spec.replicas: 1 -> 3",
        "missing   Deployment/syntactic-code-intel",
        "extra     Deployment/custom-proxy",
        "manual edits after kubectl apply",
    ] {
        assert!(c.text.contains(needle), "{needle} not in:\n{}", c.text);
    }
    let frontend = &c
        .diffs
        .iter()
        .find(|(n, _)| n == "diff/upstream/Deployment-sourcegraph-frontend.diff")
        .expect("a diff for the frontend")
        .1;
    assert!(
        frontend.contains("-            memory: 4G\n+            memory: 2G\n"),
        "{frontend}"
    );
    assert!(frontend.starts_with("--- upstream/Deployment/sourcegraph-frontend\n+++ live/Deployment/sourcegraph-frontend\n"), "{frontend}");
    assert_inspect_agrees(&c, &upstream, dir.path());

    // `inspect BUNDLE`: a few lines of drift, and findings from diff/summary.json.
    let (code, out, err) = sg(&["inspect", c.bundle.to_str().unwrap()], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Drift  upstream upstream-v7.2.1943.yaml 7.2.1943: 12 change(s)"),
        "{out}"
    );
    assert!(
        out.contains("10 change(s) changed from upstream, in 8 object(s)"),
        "{out}"
    );
}

#[test]
fn another_upstream_version_warns_and_groups_tag_drift() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = testdata("drift/k8s-v6.12.5040/base");
    let c = collect(
        Scenario::load("drift-defaults"),
        dir.path(),
        &["--upstream", upstream.to_str().unwrap()],
    );
    let w = c
        .summary
        .version_warning
        .as_deref()
        .expect("a version warning");
    assert!(w.contains("6.12.5040") && w.contains("7.2.1943"), "{w}");
    assert!(
        c.text
            .starts_with("WARNING: upstream is Sourcegraph 6.12.5040"),
        "{}",
        c.text
    );
    let images: Vec<_> = c
        .summary
        .changes
        .iter()
        .filter(|x| x.source == "upstream" && x.category == "image")
        .collect();
    assert!(images.len() >= 15, "{}", c.text);
    assert!(images.iter().all(|x| x.expected), "{}", c.text);
    assert!(
        c.text
            .contains("expected image drift from the version difference"),
        "{}",
        c.text
    );
    // The tree's kustomization files are counted, not read.
    assert!(
        c.summary
            .upstream
            .skipped
            .get("kustomization")
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert_inspect_agrees(&c, &upstream, dir.path());
}

#[test]
fn without_an_upstream_the_diff_says_how_to_enable_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = collect(Scenario::load("drift-planted"), dir.path(), &[]);
    assert_eq!(c.summary.upstream.source, "none");
    assert_eq!(c.manifest.upstream.as_ref().unwrap().source, "none");
    assert!(
        c.text.contains("upstream diff skipped") && c.text.contains("--upstream PATH"),
        "{}",
        c.text
    );
    // Always on: the manual edit and the image skew.
    let sources: BTreeSet<&str> = c
        .summary
        .changes
        .iter()
        .map(|x| x.source.as_str())
        .collect();
    assert_eq!(sources, BTreeSet::from(["image-skew", "last-applied"]));
    let v: Value = serde_json::to_value(&c.summary).unwrap();
    assert_eq!(v["upstream"]["source"], "none");
}

/// The Helm release needs no input: the release Secret (built here from the
/// real `helm install --dry-run -o json` of chart v7.2.1943, with user
/// values) holds the chart's defaults and the rendered manifest; the live
/// objects (`drift-helm`, from `derive.py`) are that manifest as the API
/// server keeps it, two edited after the release.
///
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
    let c = collect(scenario, dir.path(), &[]);
    let (summary, text) = (&c.summary, &c.text);
    let mut b = Bundle::open(&c.bundle).unwrap();
    assert_eq!(summary.upstream.source, "helm-release", "{text}");
    assert_eq!(summary.upstream.version.as_deref(), Some("7.2.1943"));
    let m = c.manifest.upstream.clone().unwrap();
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

#[test]
fn an_unusable_upstream_is_refused_before_collecting() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("drift-defaults"));
    let kc = fake.kubeconfig(dir.path(), "sourcegraph");
    let (code, _, err) = sg(
        &[
            "collect",
            "-c",
            "deployment-config",
            "-o",
            "b.zip",
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--upstream",
            "/nonexistent/deploy-sourcegraph-k8s",
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--upstream") && err.contains("neither a file nor a directory"),
        "{err}"
    );
    assert!(!dir.path().join("b.zip").exists());
    assert_eq!(fake.requests(), 0, "nothing was asked of the cluster");
}
