//! Kubernetes deployments (kustomize, Helm, legacy manifests) through the
//! API server with kube and k8s-openapi. Never kubectl.
//!
//! Objects are fetched as raw JSON and written as such (less
//! `managedFields`), so fields newer than our k8s-openapi types survive;
//! the typed view is only for reasoning about pods.

pub mod client;
pub mod objects;
pub mod pods;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, anyhow};
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use self::client::{Access, ConnectError, ErrorKind, Kube, KubeError, list_path};
use self::objects::KindSpec;
use self::pods::{LogJob, VolumeUse};
use super::summary::Summary;
use super::{Ctx, Options, path_segment};
use crate::UsageError;
use crate::bundle::format::{Deployment, DeploymentType, FileKind};

pub const NAME: &str = "kubernetes";
pub const SELECTOR: &str = "deploy=sourcegraph";

pub use client::config_available;

/// What `detect` chose to collect.
pub struct Target {
    kube: Kube,
    namespace: String,
    /// The Sourcegraph pods seen while detecting: used if listing them
    /// again fails.
    pods: Vec<Value>,
}

impl Target {
    pub fn describe(&self) -> String {
        format!(
            "Kubernetes namespace {} in context {} ({} Sourcegraph pods)",
            self.namespace,
            self.kube.context,
            self.pods.len()
        )
    }
}

async fn sourcegraph_pods(kube: &Kube, ns: Option<&str>) -> Result<Vec<Value>, KubeError> {
    let req = kube::core::Request::new(list_path("", "v1", "pods", ns))
        .list(&ListParams::default().labels(SELECTOR))
        .expect("a static list request");
    let access = Access {
        verb: "list",
        resource: "pods",
        group: "",
        namespace: ns,
    };
    let list = kube.json(access, req).await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// Connects and finds the namespace Sourcegraph runs in, or explains why
/// not. `NotConfigured` means there was no Kubernetes configuration at all.
pub async fn detect(opts: &Options) -> Result<Target, ConnectError> {
    let kube = client::connect(opts).await?;
    let explicit = opts.namespace.is_some();
    let ns = opts
        .namespace
        .clone()
        .unwrap_or_else(|| kube.default_namespace.clone());
    let where_ = format!("context {} ({})", kube.context, kube.server);
    let pods = sourcegraph_pods(&kube, Some(&ns))
        .await
        .map_err(|e| anyhow!("listing pods in namespace {ns} of {where_}: {e}"))?;
    if !pods.is_empty() {
        return Ok(Target {
            kube,
            namespace: ns,
            pods,
        });
    }
    let how = if explicit {
        format!("-n {ns}")
    } else {
        format!("the context's namespace {ns}")
    };
    let elsewhere = match sourcegraph_pods(&kube, None).await {
        Ok(all) => {
            let mut by_ns: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for p in all {
                let n = p["metadata"]["namespace"].as_str().unwrap_or_default();
                by_ns.entry(n.to_string()).or_default().push(p);
            }
            by_ns
        }
        Err(e) if e.kind == ErrorKind::Forbidden => {
            return Err(anyhow!(
                "no pods labelled {SELECTOR} in {how} of {where_}, and listing pods in other namespaces is forbidden to these credentials; pass -n NAMESPACE with the namespace Sourcegraph runs in"
            )
            .into());
        }
        Err(e) => {
            return Err(anyhow!(
                "no pods labelled {SELECTOR} in {how} of {where_}; looking in other namespaces failed: {e}"
            )
            .into());
        }
    };
    let listing = by_ns_text(&elsewhere);
    match elsewhere.len() {
        0 => Err(anyhow!(
            "no pods labelled {SELECTOR} in {how}, nor in any other namespace of {where_}: is Sourcegraph deployed in this cluster? Choose another cluster with --context or --kubeconfig"
        )
        .into()),
        _ if explicit => Err(ConnectError::Failed(
            UsageError(format!(
                "-n {ns}: no pods labelled {SELECTOR} there in {where_}; Sourcegraph runs in:{listing}"
            ))
            .into(),
        )),
        1 => {
            let (ns, pods) = elsewhere.into_iter().next().expect("one entry");
            Ok(Target {
                kube,
                namespace: ns,
                pods,
            })
        }
        _ => Err(ConnectError::Failed(
            UsageError(format!(
                "no pods labelled {SELECTOR} in {how}, and several other namespaces of {where_} have some; choose one with -n:{listing}"
            ))
            .into(),
        )),
    }
}

fn by_ns_text(m: &BTreeMap<String, Vec<Value>>) -> String {
    m.iter()
        .map(|(ns, p)| format!("\n  -n {ns}  ({} pods)", p.len()))
        .collect()
}

/// Lists of objects by plural name; a kind that could not be listed is absent.
type Lists = BTreeMap<&'static str, Vec<Value>>;

async fn list_kind(
    kube: Kube,
    spec: &'static KindSpec,
    ns: Option<String>,
) -> Result<Vec<Value>, KubeError> {
    let access = Access {
        verb: "list",
        resource: spec.plural,
        group: spec.group,
        namespace: ns.as_deref(),
    };
    let path = list_path(spec.group, spec.version, spec.plural, ns.as_deref());
    let mut list = kube.get(access, &path).await?;
    let mut items = match list.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    // Items of a list carry no kind; a file of them should.
    for item in &mut items {
        if let Some(o) = item.as_object_mut() {
            let api_version = if spec.group.is_empty() {
                spec.version.to_string()
            } else {
                format!("{}/{}", spec.group, spec.version)
            };
            o.entry("apiVersion").or_insert(api_version.into());
            o.entry("kind").or_insert(spec.kind.into());
        }
    }
    Ok(items)
}

pub async fn collect(t: Target, ctx: Ctx) -> Result<()> {
    let Target {
        kube,
        namespace: ns,
        pods: detected,
    } = t;
    let sink = &ctx.sink;

    ctx.progress.phase(&format!(
        "kubernetes: listing {} kinds of objects in {ns} and the cluster",
        objects::NAMESPACED.len() + objects::CLUSTER.len()
    ));
    let mut tasks = JoinSet::new();
    for spec in objects::NAMESPACED {
        let (kube, ns) = (kube.clone(), ns.clone());
        tasks.spawn(async move { (spec, true, list_kind(kube, spec, Some(ns)).await) });
    }
    for spec in objects::CLUSTER {
        let kube = kube.clone();
        tasks.spawn(async move { (spec, false, list_kind(kube, spec, None).await) });
    }
    let version = {
        let kube = kube.clone();
        tokio::spawn(async move {
            let a = Access {
                verb: "get",
                resource: "version",
                group: "",
                namespace: None,
            };
            kube.get(a, "/version").await
        })
    };
    let metrics = {
        let (kube, ns) = (kube.clone(), ns.clone());
        tokio::spawn(async move {
            let a = Access {
                verb: "list",
                resource: "pods",
                group: "metrics.k8s.io",
                namespace: Some(&ns),
            };
            kube.get(
                a,
                &list_path("metrics.k8s.io", "v1beta1", "pods", Some(&ns)),
            )
            .await
        })
    };
    let mut lists = Lists::new();
    while let Some(r) = tasks.join_next().await {
        let (spec, namespaced, result) = r.map_err(|e| anyhow!("a listing task failed: {e}"))?;
        let scope = if namespaced { "namespace" } else { "cluster" };
        match result {
            Ok(items) => {
                lists.insert(spec.plural, items);
            }
            Err(e) => ctx
                .rec
                .error(&format!("{scope}/{}", spec.plural), e.message),
        }
    }
    if !lists.contains_key("pods") {
        lists.insert("pods", detected);
    }
    let empty = Vec::new();
    let get = |k: &str| lists.get(k).unwrap_or(&empty);

    let workloads: Vec<&Value> = ["deployments", "statefulsets", "daemonsets"]
        .iter()
        .flat_map(|k| get(k))
        .collect();
    let deployment = Deployment {
        kind: DeploymentType::Kubernetes,
        flavour: objects::flavour(&workloads, get("configmaps"), get("secrets")).map(Into::into),
        sourcegraph_version: objects::version(&workloads, get("pods")),
        location: BTreeMap::from([
            ("context".to_string(), kube.context.clone()),
            ("namespace".to_string(), ns.clone()),
        ]),
    };
    ctx.rec.set_deployment(deployment);

    match version.await? {
        Ok(v) => {
            sink.json("kubernetes/cluster/version.json", FileKind::Metadata, &v)
                .await?
        }
        Err(e) => ctx.rec.error("cluster/version", e.message),
    }
    write_lists(&ctx, &lists, &ns).await?;
    helm_values(&ctx, get("secrets")).await?;

    // Pods: logs, then disk use, then figures.
    let typed: Vec<Pod> = get("pods")
        .iter()
        .filter_map(|p| match serde_json::from_value::<Pod>(p.clone()) {
            Ok(p) => Some(p),
            Err(e) => {
                ctx.rec.error(
                    &format!("pods/{}", p["metadata"]["name"].as_str().unwrap_or("?")),
                    format!("not a pod this version of sg-debug understands: {e}"),
                );
                None
            }
        })
        .collect();
    let sourcegraph: Vec<&Pod> = typed
        .iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("deploy"))
                .is_some_and(|v| v == "sourcegraph")
        })
        .collect();
    let jobs: Vec<LogJob> = sourcegraph.iter().flat_map(|p| pods::log_jobs(p)).collect();
    ctx.progress.phase(&format!(
        "kubernetes: {} logs of {} Sourcegraph pods",
        jobs.len(),
        sourcegraph.len()
    ));
    let mut tasks = JoinSet::new();
    for j in jobs {
        let (kube, ctx, ns) = (kube.clone(), ctx.clone(), ns.clone());
        tasks.spawn(async move { pods::fetch_log(&kube, &ctx, &ns, &j).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| anyhow!("a log task failed: {e}"))??;
    }

    let volumes = disk_usage(&kube, &ctx, &ns, &sourcegraph).await;

    let (usage, metrics_note) = match metrics.await? {
        Ok(m) => (pods::parse_metrics(&m), "metrics.k8s.io".to_string()),
        Err(e) if e.kind == ErrorKind::NotFound => (
            pods::Usage::new(),
            "unavailable: this cluster does not serve metrics.k8s.io (no metrics-server)".into(),
        ),
        Err(e) => {
            ctx.rec.error("namespace/podmetrics", e.message.clone());
            (pods::Usage::new(), format!("unavailable: {}", e.message))
        }
    };
    let sizes = sizes(&lists, &typed, &usage, volumes, &metrics_note);
    sink.json("kubernetes/sizes.json", FileKind::Metadata, &sizes)
        .await?;

    let scheduling = objects::scheduling_messages(get("events"));
    let summary = Summary {
        rows: typed
            .iter()
            .flat_map(|p| pods::rows(p, &usage, &scheduling))
            .collect(),
    };
    sink.summary(&summary).await
}

async fn write_lists(ctx: &Ctx, lists: &Lists, ns: &str) -> Result<()> {
    for (plural, items) in lists {
        let namespaced = objects::NAMESPACED.iter().any(|k| k.plural == *plural);
        let mut items = items.clone();
        match *plural {
            "secrets" => {
                let shapes: Vec<Value> = items.iter().map(objects::secret_shape).collect();
                ctx.sink
                    .json(
                        "kubernetes/namespace/secrets.json",
                        FileKind::Config,
                        &json!({"note": "values are never collected: names, types, key names and value sizes only", "items": shapes}),
                    )
                    .await?;
                continue;
            }
            "nodes" => {
                let facts: Vec<Value> = items.iter().map(objects::node_facts).collect();
                ctx.sink
                    .json("kubernetes/cluster/nodes.json", FileKind::Metadata, &facts)
                    .await?;
                continue;
            }
            "persistentvolumes" => {
                // Only the volumes behind this namespace's claims.
                items.retain(|pv| pv["spec"]["claimRef"]["namespace"].as_str() == Some(ns));
            }
            "events" => objects::sort_events(&mut items),
            _ => {}
        }
        for i in &mut items {
            objects::clean(i);
        }
        let kind = match *plural {
            "configmaps" | "deployments" | "statefulsets" | "daemonsets" | "cronjobs" | "jobs" => {
                FileKind::Config
            }
            _ => FileKind::Metadata,
        };
        let dir = if namespaced { "namespace" } else { "cluster" };
        ctx.sink
            .json(
                &format!("kubernetes/{dir}/{plural}.json"),
                kind,
                &objects::list_doc(items),
            )
            .await?;
    }
    Ok(())
}

/// The values each Helm release was installed with, from its newest
/// revision; through redaction like any other config.
async fn helm_values(ctx: &Ctx, secrets: &[Value]) -> Result<()> {
    for (release, rev, secret) in objects::newest_helm_releases(secrets) {
        let target = format!("helm/{release}");
        match objects::decode_helm_release(secret) {
            Ok(r) => {
                let base = format!("kubernetes/helm/{}", path_segment(&release));
                let values = r.get("config").cloned().unwrap_or(json!({}));
                ctx.sink
                    .json(&format!("{base}/values.json"), FileKind::Config, &values)
                    .await?;
                ctx.sink
                    .json(
                        &format!("{base}/release.json"),
                        FileKind::Metadata,
                        &objects::helm_release_facts(&r),
                    )
                    .await?;
            }
            Err(e) => ctx.rec.error(
                &target,
                format!("revision {rev}: cannot decode the release Secret: {e:#}"),
            ),
        }
    }
    Ok(())
}

/// `df` in one container per pod that mounts claims, unless `--no-exec`.
async fn disk_usage(
    kube: &Kube,
    ctx: &Ctx,
    ns: &str,
    pods: &[&Pod],
) -> Result<Vec<VolumeUse>, String> {
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
                    let df = pods::parse_df(&out);
                    mounts
                        .iter()
                        .filter_map(|(path, claim)| {
                            let (size, used, avail) = *df.get(path)?;
                            Some(VolumeUse {
                                pod: pod.clone(),
                                container: container.clone(),
                                claim: claim.clone(),
                                mount_path: path.clone(),
                                size_bytes: size,
                                used_bytes: used,
                                available_bytes: avail,
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
    out.sort_by(|a, b| (&a.pod, &a.mount_path).cmp(&(&b.pod, &b.mount_path)));
    if out.is_empty() && forbidden.load(Ordering::Relaxed) {
        return Err("not measured: exec into pods is forbidden".into());
    }
    Ok(out)
}

fn sizes(
    lists: &Lists,
    pods: &[Pod],
    usage: &pods::Usage,
    volumes: Result<Vec<VolumeUse>, String>,
    metrics: &str,
) -> Value {
    let mut workloads = Vec::new();
    for (plural, kind) in [
        ("deployments", "Deployment"),
        ("statefulsets", "StatefulSet"),
        ("daemonsets", "DaemonSet"),
    ] {
        for w in lists.get(plural).into_iter().flatten() {
            let (desired, ready) = if kind == "DaemonSet" {
                (
                    &w["status"]["desiredNumberScheduled"],
                    &w["status"]["numberReady"],
                )
            } else {
                (&w["spec"]["replicas"], &w["status"]["readyReplicas"])
            };
            workloads.push(json!({
                "kind": kind,
                "name": w["metadata"]["name"],
                "replicas_desired": desired.as_u64().unwrap_or(if kind == "DaemonSet" { 0 } else { 1 }),
                "replicas_ready": ready.as_u64().unwrap_or(0),
            }));
        }
    }
    let claims: Vec<Value> = lists
        .get("persistentvolumeclaims")
        .into_iter()
        .flatten()
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
        "volume_usage": match volumes {
            Ok(v) => json!(v),
            Err(why) => json!(why),
        },
        "usage_source": metrics,
    })
}
