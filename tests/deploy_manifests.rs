//! `deploy/kubernetes/`: the in-cluster Job and its RBAC stay true. The
//! RBAC is exactly what `sg-debug rbac` prints; the manifests have the real
//! Kubernetes shapes; the Job's own arguments collect cleanly from the fake
//! API server under that RBAC; the fetch pod mounts the Job's claim.

#[path = "support/fake_kube.rs"]
mod fake_kube;
mod support;

use std::path::Path;

use fake_kube::{FakeKube, Rbac, Scenario};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use serde_json::Value;

fn docs(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn of<T: serde::de::DeserializeOwned>(docs: &[Value], kind: &str) -> T {
    let d = docs
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"));
    serde_json::from_value(d.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

#[test]
fn the_rbac_is_what_sg_debug_rbac_prints() {
    let dir = tempfile::tempdir().unwrap();
    let r = support::sg(&["rbac", "-n", "sourcegraph", "--cluster"], dir.path());
    let file = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/rbac.yaml"),
    )
    .unwrap();
    assert_eq!(
        file, r.stdout,
        "regenerate: sg-debug rbac -n sourcegraph --cluster > deploy/kubernetes/rbac.yaml"
    );
}

#[test]
fn the_job_collects_cleanly_under_that_rbac_and_fetch_mounts_its_claim() {
    let rbac = docs("rbac.yaml");
    let job_docs = docs("job.yaml");
    let job: Job = of(&job_docs, "Job");
    let pvc: PersistentVolumeClaim = of(&job_docs, "PersistentVolumeClaim");
    let fetch: Pod = of(&docs("fetch.yaml"), "Pod");
    let account = rbac.iter().find(|d| d["kind"] == "ServiceAccount").unwrap();

    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        account["metadata"]["name"].as_str()
    );
    let ns = account["metadata"]["namespace"].as_str().unwrap();
    assert_eq!(job.metadata.namespace.as_deref(), Some(ns));
    assert_eq!(fetch.metadata.namespace.as_deref(), Some(ns));
    let claim = |vols: &Option<Vec<k8s_openapi::api::core::v1::Volume>>| {
        vols.iter()
            .flatten()
            .find_map(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .map(|c| c.claim_name.clone())
            })
            .unwrap()
    };
    assert_eq!(claim(&pod.volumes), pvc.metadata.name.clone().unwrap());
    assert_eq!(
        claim(&fetch.spec.as_ref().unwrap().volumes),
        pvc.metadata.name.unwrap()
    );
    let c = &pod.containers[0];
    let mount = &c.volume_mounts.as_ref().unwrap()[0].mount_path;
    let fetch_mount = &fetch.spec.as_ref().unwrap().containers[0]
        .volume_mounts
        .as_ref()
        .unwrap()[0]
        .mount_path;
    assert_eq!(mount, fetch_mount);

    // The Job's arguments, the bundle written on "the claim" (a temp dir).
    let args = c.args.clone().unwrap();
    let out = args[args.iter().position(|a| a == "-o").unwrap() + 1].clone();
    assert!(out.starts_with(&format!("{mount}/")), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let local = dir
        .path()
        .join(out.trim_start_matches(&format!("{mount}/")));
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if *a == out {
                local.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let mut s = Scenario::load("healthy");
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/rbac.yaml"),
    )
    .unwrap();
    s.rbac = Some(Rbac::from_yaml(&yaml));
    let fake = FakeKube::start(s);
    let kc = fake.kubeconfig(dir.path(), "default");
    let out = support::command(dir.path())
        .args(&args)
        .args(["--kubeconfig", kc.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let (m, _) = support::read_bundle(&local);
    assert!(
        m.collectors[0].errors.is_empty(),
        "{:?}",
        m.collectors[0].errors
    );
    assert!(!stderr.contains("forbidden"), "{stderr}");
}
