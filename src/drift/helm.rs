//! A Helm release compared with itself: the user-supplied values against
//! the chart's defaults (value paths, old -> new), and the live objects
//! against the manifest Helm rendered (manual edits after `helm upgrade`).
//! Reads `kubernetes/helm/<release>/{values.json, chart-values.json,
//! manifest.json, release.json}` as the bundle holds them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Outcome, kube};
use crate::bundle::drift::{Change, UpstreamInfo};

fn json(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(files.get(name)?).ok()?;
    super::unhash(&mut v);
    Some(v)
}

/// Compares every release the bundle holds; returns the upstream record
/// of the first one (the newest revision of each is what is collected).
pub fn compare(
    releases: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    live: &[&Value],
    out: &mut Outcome,
) -> Option<UpstreamInfo> {
    let mut first = None;
    for (release, files) in releases {
        let facts = json(files, "release.json").unwrap_or(Value::Null);
        let user = json(files, "values.json").unwrap_or(Value::Null);
        let Some(defaults) = json(files, "chart-values.json") else {
            out.notes.push(format!(
                "helm release {release}: the bundle holds no chart-values.json (collected by an older sg-debug): values not compared with the chart's defaults"
            ));
            continue;
        };
        values(&defaults, &user, "", out);
        let mut documents = 0;
        match json(files, "manifest.json") {
            Some(m) => {
                let objects: Vec<Value> = m["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        // Secrets are in the bundle as their shape only.
                        if d["kind"] == "Secret" && d["name"].is_string() {
                            super::secret_from_shape(d)
                        } else {
                            d.clone()
                        }
                    })
                    .filter(|d| d["kind"].is_string() && d["metadata"]["name"].is_string())
                    .collect();
                documents = objects.len() as u64;
                let objects = super::comparable(&objects, &mut out.notes);
                kube::compare("helm-manifest", &objects, live, out);
            }
            None => out.notes.push(format!(
                "helm release {release}: no rendered manifest in the bundle: live objects not compared with it"
            )),
        }
        first.get_or_insert(UpstreamInfo {
            source: "helm-release".into(),
            name: Some(format!(
                "{release} ({})",
                facts["chart"].as_str().unwrap_or("chart")
            )),
            version: facts["app_version"]
                .as_str()
                .or(facts["chart_version"].as_str())
                .map(String::from),
            documents,
            skipped: BTreeMap::new(),
        });
    }
    first
}

/// Every user value that differs from the chart's default at its path.
fn values(defaults: &Value, user: &Value, path: &str, out: &mut Outcome) {
    match user {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                values(&defaults[k.as_str()], v, &p, out);
            }
        }
        _ if user == defaults => {}
        _ => out.changes.push(Change {
            source: "helm-values".into(),
            object: "values".into(),
            category: super::walk::category("values", path).into(),
            change: if defaults.is_null() {
                "added"
            } else {
                "changed"
            }
            .into(),
            field: path.into(),
            old: super::walk::show(Some(defaults).filter(|d| !d.is_null())),
            new: super::walk::show(Some(user)),
            expected: false,
        }),
    }
}
