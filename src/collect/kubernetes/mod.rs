//! Kubernetes deployments (kustomize, Helm, legacy manifests) through the
//! API server with kube and k8s-openapi. Never kubectl.
//!
//! Objects are fetched as raw JSON and written as such (less
//! `managedFields`), so fields newer than our k8s-openapi types survive;
//! the typed view is only for reasoning about pods.

mod access;
pub mod client;
mod detect;
mod lists;
pub mod objects;
pub mod pods;
pub mod rbac;
mod sizes;

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use tokio::task::JoinSet;

use self::client::{Access, ErrorKind, Kube, list_path};
use self::pods::LogJob;
use super::{Collector, Ctx};
use crate::artifact::FileKind;
use crate::bundle::format::{Deployment, DeploymentType};
use crate::bundle::summary::Summary;
pub use access::preflight;
pub use detect::detect;

pub const NAME: &str = "kubernetes";
pub const SELECTOR: &str = "deploy=sourcegraph";

pub use client::config_available;

/// The API server and namespace the Sourcegraph frontend is reached
/// through (the instance collector's service-proxy route).
pub struct KubeFrontend {
    pub kube: Kube,
    pub namespace: String,
}

/// What `detect` chose to collect.
pub struct Target {
    kube: Kube,
    namespace: String,
    /// The Sourcegraph pods seen while detecting: used if listing them
    /// again fails.
    pods: Vec<Value>,
}

impl Collector for Target {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect(self: Box<Self>, ctx: Ctx) -> BoxFuture<'static, Result<()>> {
        collect(*self, ctx).boxed()
    }

    fn kube_frontend(&self) -> Option<KubeFrontend> {
        Some(KubeFrontend {
            kube: self.kube.clone(),
            namespace: self.namespace.clone(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "Kubernetes namespace {} in context {} ({} Sourcegraph pods)",
            self.namespace,
            self.kube.context,
            self.pods.len()
        )
    }
}

async fn collect(t: Target, ctx: Ctx) -> Result<()> {
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
        if spec.plural == "secrets" && ctx.opts.no_secrets {
            continue;
        }
        let (kube, ns) = (kube.clone(), ns.clone());
        tasks.spawn(async move { (spec, true, lists::list_kind(kube, spec, Some(ns)).await) });
    }
    for spec in objects::CLUSTER {
        let kube = kube.clone();
        tasks.spawn(async move { (spec, false, lists::list_kind(kube, spec, None).await) });
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
    let mut lists = lists::Lists::new();
    while let Some(r) = tasks.join_next().await {
        let (spec, namespaced, result) = r.map_err(|e| anyhow!("a listing task failed: {e}"))?;
        let scope = if namespaced { "namespace" } else { "cluster" };
        match result {
            Ok(listed) => {
                if let Some(why) = listed.partial {
                    ctx.rec.error(&format!("{scope}/{}", spec.plural), why);
                }
                if listed.dropped > 0 {
                    ctx.rec.note(format!(
                        "{scope}/{}: kept the newest {} of {}; {} older left out",
                        spec.plural,
                        listed.items.len(),
                        listed.items.len() + listed.dropped,
                        listed.dropped
                    ));
                }
                ctx.progress.objects_listed(listed.items.len() as u64);
                lists.insert(spec.plural, listed.items);
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
    lists::write_lists(&ctx, &lists, &ns).await?;
    if ctx.opts.no_secrets {
        sink.json(
            "kubernetes/namespace/secrets.json",
            FileKind::Metadata,
            &serde_json::json!({
                "note": format!("not listed (--no-secrets): the bundle lacks {}", rbac::WITHOUT_SECRETS),
                "items": [],
            }),
        )
        .await?;
    }
    lists::helm_values(&ctx, get("secrets")).await?;

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
    ctx.progress.logs_expected(jobs.len() as u64);
    let mut tasks = JoinSet::new();
    for j in jobs {
        let (kube, ctx, ns) = (kube.clone(), ctx.clone(), ns.clone());
        tasks.spawn(async move { pods::fetch_log(&kube, &ctx, &ns, &j).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| anyhow!("a log task failed: {e}"))??;
    }

    let disk = sizes::disk_usage(&kube, &ctx, &ns, &sourcegraph).await;
    sink.disk_usage(&disk).await?;

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
    let sizes = sizes::sizes(&lists, &typed, &usage, &metrics_note);
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
