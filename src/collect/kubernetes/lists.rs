//! Objects: each kind listed once, written as a Kubernetes `List` (less
//! `managedFields`), Secrets as shapes only, and the values each Helm
//! release was installed with.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use super::client::{Access, ErrorKind, Kube, KubeError, list_path};
use super::objects::{self, KindSpec};
use crate::artifact::FileKind;
use crate::collect::Ctx;
use crate::collect::parts::path_segment;

/// Lists of objects by plural name; a kind that could not be listed is absent.
pub type Lists = BTreeMap<&'static str, Vec<Value>>;

/// Items asked for per request, as kubectl does: a namespace of 50,000
/// events is a hundred answers of bounded size, not one huge one.
pub const PAGE: usize = 500;

/// The newest events kept: a busy namespace holds tens of thousands, and
/// the newest say what is happening now. Documented in bundle-format.md.
pub const MAX_EVENTS: usize = 10_000;

/// A kind, listed page by page.
pub struct Listed {
    pub items: Vec<Value>,
    /// Older events left out past `MAX_EVENTS`.
    pub dropped: usize,
    /// Why the list is incomplete, if it is: said, never silently short.
    pub partial: Option<String>,
}

/// Lists every object of `spec` with `limit` and `continue`. A continue
/// token that expired (410 Gone: the list changed faster than it was read)
/// restarts the list once; a second expiry keeps what was read and says so.
pub async fn list_kind(
    kube: Kube,
    spec: &'static KindSpec,
    ns: Option<String>,
) -> Result<Listed, KubeError> {
    let access = Access {
        verb: "list",
        resource: spec.plural,
        group: spec.group,
        namespace: ns.as_deref(),
    };
    let base = list_path(spec.group, spec.version, spec.plural, ns.as_deref());
    let mut items: Vec<Value> = Vec::new();
    let mut token: Option<String> = None;
    let mut restarted = false;
    let mut dropped = 0;
    // Memory stays bounded while paging: past twice the bound, the oldest
    // events go (sorting once per MAX_EVENTS new ones, not per page).
    let bound = (spec.plural == "events").then_some(MAX_EVENTS);
    loop {
        let path = match &token {
            None => format!("{base}?limit={PAGE}"),
            // Tokens are base64: `+`, `/` and `=` need escaping.
            Some(t) => format!(
                "{base}?limit={PAGE}&continue={}",
                form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            ),
        };
        let mut page = match kube.get(access, &path).await {
            Ok(p) => p,
            Err(e) if e.kind == ErrorKind::Status(410) && !restarted => {
                restarted = true;
                items.clear();
                dropped = 0;
                token = None;
                continue;
            }
            Err(e) if e.kind == ErrorKind::Status(410) => {
                if let Some(max) = bound {
                    dropped += keep_newest(&mut items, max);
                }
                let partial = format!(
                    "incomplete: the API server expired the list's continue token twice (the {} changed faster than they could be read); {} item(s) kept",
                    spec.plural,
                    items.len()
                );
                return Ok(Listed {
                    items: with_kind(items, spec),
                    dropped,
                    partial: Some(partial),
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(Value::Array(page_items)) = page.get_mut("items").map(Value::take) {
            items.extend(page_items);
        }
        if let Some(max) = bound.filter(|max| items.len() > 2 * max) {
            dropped += keep_newest(&mut items, max);
        }
        token = page["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if let Some(max) = bound {
        dropped += keep_newest(&mut items, max);
    }
    Ok(Listed {
        items: with_kind(items, spec),
        dropped,
        partial: None,
    })
}

/// Keeps the newest `max` events, oldest first; how many went.
fn keep_newest(events: &mut Vec<Value>, max: usize) -> usize {
    if events.len() <= max {
        return 0;
    }
    objects::sort_events(events);
    let n = events.len() - max;
    events.drain(..n);
    n
}

/// Items of a list carry no kind; a file of them should.
fn with_kind(mut items: Vec<Value>, spec: &KindSpec) -> Vec<Value> {
    let api_version = if spec.group.is_empty() {
        spec.version.to_string()
    } else {
        format!("{}/{}", spec.group, spec.version)
    };
    for item in &mut items {
        if let Some(o) = item.as_object_mut() {
            o.entry("apiVersion").or_insert(api_version.clone().into());
            o.entry("kind").or_insert(spec.kind.into());
        }
    }
    items
}

pub async fn write_lists(ctx: &Ctx, lists: &Lists, ns: &str) -> Result<()> {
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
pub async fn helm_values(ctx: &Ctx, secrets: &[Value]) -> Result<()> {
    for (release, rev, secret) in objects::newest_helm_releases(secrets) {
        let target = format!("helm/{release}");
        match objects::decode_helm_release(secret) {
            Ok(r) => {
                let base = format!("kubernetes/helm/{}", path_segment(&release));
                let values = r.get("config").cloned().unwrap_or(json!({}));
                ctx.sink
                    .json(&format!("{base}/values.json"), FileKind::Config, &values)
                    .await?;
                // The chart's defaults and what Helm rendered: the upstream
                // diff compares values and live objects with them.
                let defaults = r["chart"]["values"].clone();
                ctx.sink
                    .json(
                        &format!("{base}/chart-values.json"),
                        FileKind::Config,
                        &defaults,
                    )
                    .await?;
                match objects::helm_manifest(&r) {
                    Ok(m) => {
                        ctx.sink
                            .json(&format!("{base}/manifest.json"), FileKind::Manifest, &m)
                            .await?
                    }
                    Err(e) => ctx.rec.error(&target, format!("revision {rev}: {e:#}")),
                }
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
