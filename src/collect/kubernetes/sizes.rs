//! How big the deployment is: replicas, requests, limits and usage per
//! container (`kubernetes/sizes.json`), and how full each claim is
//! (`df` through exec, into the shared `disk-usage.json`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::client::{ErrorKind, Kube};
use super::pods;
use crate::bundle::sizes::{DiskUsage, VolumeKind, VolumeUsage};
use crate::collect::Ctx;
use crate::collect::parts::disk;

/// `df` in one container per pod that mounts claims, unless `--no-exec`.
pub async fn disk_usage(kube: &Kube, ctx: &Ctx, ns: &str, pods: &[&Pod]) -> DiskUsage {
    let volumes = match measure(kube, ctx, ns, pods).await {
        Ok(v) => v,
        Err(why) => {
            return DiskUsage {
                volumes: Vec::new(),
                notes: vec![why],
            };
        }
    };
    DiskUsage {
        volumes,
        notes: Vec::new(),
    }
}

async fn measure(
    kube: &Kube,
    ctx: &Ctx,
    ns: &str,
    pods: &[&Pod],
) -> Result<Vec<VolumeUsage>, String> {
    let mut by_container: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for p in pods {
        let name = p.metadata.name.clone().unwrap_or_default();
        for (container, path, claim) in pods::claim_mounts(p) {
            by_container
                .entry((name.clone(), container))
                .or_default()
                .push((path, claim));
        }
    }
    if ctx.opts.no_exec {
        return Err("not measured: --no-exec".into());
    }
    if by_container.is_empty() {
        return Ok(Vec::new());
    }
    ctx.progress.phase(&format!(
        "kubernetes: disk use in {} pods with volumes",
        by_container.len()
    ));
    let forbidden = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for ((pod, container), mounts) in by_container {
        let (kube, ctx, ns, forbidden) =
            (kube.clone(), ctx.clone(), ns.to_string(), forbidden.clone());
        tasks.spawn(async move {
            if forbidden.load(Ordering::Relaxed) {
                return Vec::new();
            }
            let mut cmd = vec!["df", "-Pk"];
            cmd.extend(mounts.iter().map(|(p, _)| p.as_str()));
            match kube.exec(&ns, &pod, &container, &cmd).await {
                Ok(out) => {
                    let df = disk::parse_df(&out);
                    mounts
                        .iter()
                        .filter_map(|(path, claim)| {
                            let (size, used, avail) = *df.get(path)?;
                            Some(VolumeUsage {
                                name: claim.clone(),
                                kind: VolumeKind::PersistentVolumeClaim,
                                mounted_by: vec![format!("{pod}/{container}:{path}")],
                                capacity_bytes: Some(size),
                                used_bytes: Some(used),
                                available_bytes: Some(avail),
                                source: format!("df in {pod}/{container}"),
                            })
                        })
                        .collect()
                }
                Err(e) => {
                    // One refusal says it all; the same for every pod.
                    let first =
                        e.kind != ErrorKind::Forbidden || !forbidden.swap(true, Ordering::Relaxed);
                    if first {
                        let target = if e.kind == ErrorKind::Forbidden {
                            "pods/exec".to_string()
                        } else {
                            format!("pods/{pod}/{container}/df")
                        };
                        ctx.rec.error(&target, e.message);
                    }
                    Vec::new()
                }
            }
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.extend(r.unwrap_or_default());
    }
    out.sort_by(|a, b| (&a.name, &a.mounted_by).cmp(&(&b.name, &b.mounted_by)));
    if out.is_empty() && forbidden.load(Ordering::Relaxed) {
        return Err("not measured: exec into pods is forbidden".into());
    }
    Ok(out)
}

/// `workloads` are Deployments, StatefulSets and DaemonSets, each with
/// its `kind`; `claims` the namespace's PersistentVolumeClaims.
pub fn sizes(
    workloads: &[&Value],
    claims: &[Value],
    pods: &[Pod],
    usage: &pods::Usage,
    metrics: &str,
) -> Value {
    let workloads: Vec<Value> = workloads
        .iter()
        .map(|w| {
            let kind = w["kind"].as_str().unwrap_or_default();
            let (desired, ready) = if kind == "DaemonSet" {
                (
                    &w["status"]["desiredNumberScheduled"],
                    &w["status"]["numberReady"],
                )
            } else {
                (&w["spec"]["replicas"], &w["status"]["readyReplicas"])
            };
            json!({
                "kind": kind,
                "name": w["metadata"]["name"],
                "replicas_desired": desired.as_u64().unwrap_or(if kind == "DaemonSet" { 0 } else { 1 }),
                "replicas_ready": ready.as_u64().unwrap_or(0),
            })
        })
        .collect();
    let claims: Vec<Value> = claims
        .iter()
        .map(|c| {
            json!({
                "name": c["metadata"]["name"],
                "storage_class": c["spec"]["storageClassName"],
                "requested": c["spec"]["resources"]["requests"]["storage"],
                "capacity": c["status"]["capacity"]["storage"],
                "phase": c["status"]["phase"],
                "volume": c["spec"]["volumeName"],
            })
        })
        .collect();
    let containers: Vec<pods::ContainerSize> = pods
        .iter()
        .flat_map(|p| pods::container_sizes(p, usage))
        .collect();
    json!({
        "workloads": workloads,
        "containers": containers,
        "persistent_volume_claims": claims,
        "usage_source": metrics,
    })
}
