//! Kubernetes deployments (kustomize, Helm, legacy manifests) through the
//! API server with kube and k8s-openapi. Never kubectl.
//!
//! Objects are fetched as raw JSON and written as such (less
//! `managedFields`), so fields newer than our k8s-openapi types survive;
//! the typed view is only for reasoning about pods.

mod access;
pub mod client;
mod config;
mod detect;
mod helm;
mod lists;
pub mod objects;
pub mod pods;
pub mod rbac;
mod sizes;
mod spool;

use std::collections::{BTreeMap, HashSet};

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
    /// The Sourcegraph pods seen while detecting: their logs are fetched
    /// first, and they stand in if listing the pods fails.
    pods: lists::PodPages,
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

    // Logs first, of the Sourcegraph pods seen while detecting: they are
    // most of the requests, and they go on while the objects are listed
    // (a big namespace's events alone are a hundred pages in a row).
    let sourcegraph: Vec<&Pod> = detected.pods.iter().filter(|p| is_sourcegraph(p)).collect();
    let jobs: Vec<LogJob> = sourcegraph.iter().flat_map(|p| pods::log_jobs(p)).collect();
    ctx.progress.phase(&format!(
        "kubernetes: {} logs of {} Sourcegraph pods, while listing {} kinds of objects in {ns} and the cluster",
        jobs.len(),
        sourcegraph.len(),
        objects::NAMESPACED.len() + objects::CLUSTER.len()
    ));
    let mut logs = Logs::new(&kube, &ctx, &ns);
    logs.start(jobs, &ctx);

    let mut tasks = JoinSet::new();
    let kinds = objects::NAMESPACED
        .iter()
        .map(|s| (s, true))
        .chain(objects::CLUSTER.iter().map(|s| (s, false)));
    for (spec, namespaced) in kinds {
        if spec.plural == "secrets" && ctx.opts.no_secrets {
            continue;
        }
        let list = lists::KindList::new(spec, &ns, Some(&ctx.spool)).map_err(|e| {
            anyhow!(
                "creating a spool file in {}: {e}; free some space there or write the bundle elsewhere with -o",
                ctx.spool.path().display()
            )
        })?;
        let (kube, ns) = (kube.clone(), namespaced.then(|| ns.clone()));
        tasks.spawn(async move { (spec, lists::list_kind(kube, spec, ns, list).await) });
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
    let mut listed: BTreeMap<&'static str, lists::KindList> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (spec, result) = r.map_err(|e| anyhow!("a listing task failed: {e}"))?;
        let scope = if objects::CLUSTER.iter().any(|k| k.plural == spec.plural) {
            "cluster"
        } else {
            "namespace"
        };
        match result {
            Ok(list) => {
                if let Some(why) = &list.partial {
                    ctx.rec
                        .error(&format!("{scope}/{}", spec.plural), why.clone());
                }
                if list.dropped > 0 {
                    ctx.rec.note(format!(
                        "{scope}/{}: kept the newest {} of {}; {} older left out",
                        spec.plural,
                        list.count - list.dropped,
                        list.count,
                        list.dropped
                    ));
                }
                ctx.progress
                    .objects_listed((list.count - list.dropped) as u64);
                listed.insert(spec.plural, list);
            }
            Err(e) => ctx
                .rec
                .error(&format!("{scope}/{}", spec.plural), e.message()),
        }
    }
    let mut held = Held::from(&mut listed);
    let lists::PodPages { pods, unreadable } = held.pods.take().unwrap_or(detected);
    for (name, why) in unreadable {
        ctx.rec.error(
            &format!("pods/{name}"),
            format!("not a pod this version of sg-debug understands: {why}"),
        );
    }
    // Pods that came up (or were missed) between detecting and listing.
    logs.start(
        pods.iter()
            .filter(|p| is_sourcegraph(p))
            .flat_map(pods::log_jobs)
            .collect(),
        &ctx,
    );

    let workloads: Vec<&Value> = held.workloads.iter().collect();
    let deployment = Deployment {
        kind: DeploymentType::Kubernetes,
        flavour: objects::flavour(&workloads, &held.configmaps, held.any_helm).map(Into::into),
        sourcegraph_version: objects::version(&workloads, &pods),
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
    write_lists(&ctx, listed).await?;
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
    helm::values(&ctx, held.releases).await?;

    logs.finish().await?;

    // Disk use, then figures.
    let sourcegraph: Vec<&Pod> = pods.iter().filter(|p| is_sourcegraph(p)).collect();
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
    let sizes = sizes::sizes(&workloads, &held.claims, &pods, &usage, &metrics_note);
    sink.json("kubernetes/sizes.json", FileKind::Metadata, &sizes)
        .await?;

    let summary = Summary {
        rows: pods
            .iter()
            .flat_map(|p| pods::rows(p, &usage, &held.scheduling))
            .collect(),
    };
    sink.summary(&summary).await
}

/// Log fetches: a queue and a few workers, each log once. Not a task per
/// log: 5,000 pods would be 5,000 futures waiting for a request slot,
/// megabytes for nothing.
struct Logs {
    queue: Option<tokio::sync::mpsc::UnboundedSender<LogJob>>,
    workers: JoinSet<Result<()>>,
    started: HashSet<String>,
}

impl Logs {
    /// Twice `--concurrency` workers: one waiting for the packager to
    /// take a spooled log never leaves a request slot idle.
    fn new(kube: &Kube, ctx: &Ctx, ns: &str) -> Logs {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<LogJob>();
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        let mut workers = JoinSet::new();
        for _ in 0..2 * ctx.opts.concurrency {
            let (kube, ctx, ns, rx) = (kube.clone(), ctx.clone(), ns.to_string(), rx.clone());
            workers.spawn(async move {
                loop {
                    let Some(j) = rx.lock().await.recv().await else {
                        return Ok(());
                    };
                    pods::fetch_log(&kube, &ctx, &ns, &j).await?;
                }
            });
        }
        Logs {
            queue: Some(tx),
            workers,
            started: HashSet::new(),
        }
    }

    fn start(&mut self, jobs: Vec<LogJob>, ctx: &Ctx) {
        let Some(queue) = &self.queue else { return };
        for j in jobs {
            if self.started.insert(pods::log_path(&j)) {
                ctx.progress.logs_expected(1);
                // Fails only once every worker stopped on an error, which
                // `finish` returns.
                let _ = queue.send(j);
            }
        }
    }

    /// No more jobs: waits for the queue to drain.
    async fn finish(mut self) -> Result<()> {
        self.queue = None;
        while let Some(r) = self.workers.join_next().await {
            r.map_err(|e| anyhow!("a log task failed: {e}"))??;
        }
        Ok(())
    }
}

fn is_sourcegraph(p: &Pod) -> bool {
    p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("deploy"))
        .is_some_and(|v| v == "sourcegraph")
}

/// What the rest of the collection needs of the lists, taken out of them.
#[derive(Default)]
struct Held {
    /// The pods, and those unreadable as pods; None if they were not listed.
    pods: Option<lists::PodPages>,
    /// Deployments, StatefulSets and DaemonSets, in that order.
    workloads: Vec<Value>,
    configmaps: Vec<Value>,
    claims: Vec<Value>,
    any_helm: bool,
    releases: BTreeMap<String, (u64, Value)>,
    scheduling: BTreeMap<String, String>,
}

impl Held {
    fn from(listed: &mut BTreeMap<&'static str, lists::KindList>) -> Held {
        let mut h = Held::default();
        let mut take = |plural: &str| {
            listed
                .get_mut(plural)
                .map(|l| std::mem::replace(&mut l.held, lists::Held::Nothing))
        };
        for plural in ["deployments", "statefulsets", "daemonsets"] {
            if let Some(lists::Held::Values(v)) = take(plural) {
                h.workloads.extend(v);
            }
        }
        if let Some(lists::Held::Values(v)) = take("persistentvolumeclaims") {
            h.claims = v;
        }
        if let Some(lists::Held::FlavourConfigMaps(v)) = take("configmaps") {
            h.configmaps = v;
        }
        if let Some(lists::Held::Pods(pods)) = take("pods") {
            h.pods = Some(pods);
        }
        if let Some(lists::Held::Events { scheduling, .. }) = take("events") {
            h.scheduling = scheduling.messages();
        }
        // The Secrets' shapes stay: they are what the bundle holds.
        if let Some(lists::Held::Secrets {
            any_helm, releases, ..
        }) = listed.get_mut("secrets").map(|l| &mut l.held)
        {
            h.any_helm = *any_helm;
            h.releases = std::mem::take(releases);
        }
        h
    }
}

/// Each list into the bundle: spooled kinds as `List`s redacted item by
/// item, Secrets as shapes, nodes as facts.
async fn write_lists(ctx: &Ctx, listed: BTreeMap<&'static str, lists::KindList>) -> Result<()> {
    for (plural, mut list) in listed {
        let namespaced = objects::NAMESPACED.iter().any(|k| k.plural == plural);
        let dir = if namespaced { "namespace" } else { "cluster" };
        match &list.held {
            lists::Held::Secrets { shapes, .. } => {
                ctx.sink
                    .json(
                        "kubernetes/namespace/secrets.json",
                        FileKind::Config,
                        &serde_json::json!({"note": "values are never collected: names, types, key names and value sizes only", "items": shapes}),
                    )
                    .await?;
                continue;
            }
            lists::Held::Nodes(facts) => {
                ctx.sink
                    .json("kubernetes/cluster/nodes.json", FileKind::Metadata, facts)
                    .await?;
                continue;
            }
            _ => {}
        }
        let kind = match plural {
            "configmaps" | "deployments" | "statefulsets" | "daemonsets" | "cronjobs" | "jobs" => {
                FileKind::Config
            }
            _ => FileKind::Metadata,
        };
        let path = format!("kubernetes/{dir}/{plural}.json");
        match list.items() {
            Ok(Some(items)) => ctx.sink.json_list(&path, kind, items).await?,
            Ok(None) => {}
            Err(e) => ctx.rec.error(
                &format!("{dir}/{plural}"),
                format!("reading the list back from its spool file: {e}"),
            ),
        }
    }
    Ok(())
}
