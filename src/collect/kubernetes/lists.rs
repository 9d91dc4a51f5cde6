//! Objects: each kind listed once, written as a Kubernetes `List` (less
//! `managedFields`), Secrets as shapes only, and the values each Helm
//! release was installed with.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use super::client::{Access, Kube, KubeError, list_path};
use super::objects::{self, KindSpec};
use crate::artifact::FileKind;
use crate::collect::Ctx;
use crate::collect::parts::path_segment;

/// Lists of objects by plural name; a kind that could not be listed is absent.
pub type Lists = BTreeMap<&'static str, Vec<Value>>;

pub async fn list_kind(
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
