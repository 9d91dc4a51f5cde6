//! Kubernetes objects against an upstream set: matched by kind and name
//! (an overlay's name prefix or suffix and namespace tolerated), compared
//! in their normalised form, with one unified diff per drifted object.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::normalise::{kind, normalise};
use super::walk;
use super::{Drifted, Outcome};
use crate::bundle::drift::Change;

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn label(o: &Value) -> String {
    format!("{}/{}", kind(o), name(o))
}

/// Objects that exist because something else does: pods of workloads,
/// Jobs of CronJobs, the namespace's CA bundle, Helm's release records,
/// service account tokens. Never "extra".
fn incidental(o: &Value) -> bool {
    o["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
        || matches!(
            kind(o),
            "Pod" | "Event" | "ReplicaSet" | "Endpoints" | "EndpointSlice"
        )
        || kind(o) == "ConfigMap" && name(o) == "kube-root-ca.crt"
        || kind(o) == "Secret"
            && (o["type"] == "helm.sh/release.v1"
                || o["type"] == "kubernetes.io/service-account-token"
                || name(o).starts_with("sh.helm.release."))
}

/// Pairs of (upstream, live) by kind and name; then the name prefix and
/// suffix most unmatched pairs agree on (`prod-frontend-v2` for
/// `frontend`).
fn pair<'a>(up: &'a [Value], live: &'a [&'a Value]) -> Vec<(Option<&'a Value>, Option<&'a Value>)> {
    let kinds: BTreeSet<&str> = up.iter().map(kind).collect();
    let live: Vec<&Value> = live
        .iter()
        .copied()
        .filter(|o| kinds.contains(kind(o)) && !incidental(o))
        .collect();
    let mut matched_live = vec![false; live.len()];
    let mut out = Vec::new();
    let mut unmatched_up = Vec::new();
    for u in up {
        match live
            .iter()
            .position(|l| kind(l) == kind(u) && name(l) == name(u))
        {
            Some(i) if !matched_live[i] => {
                matched_live[i] = true;
                out.push((Some(u), Some(live[i])));
            }
            _ => unmatched_up.push(u),
        }
    }
    // The overlay's prefix and suffix: the (prefix, suffix) most pairs share.
    let mut votes: BTreeMap<(String, String), usize> = BTreeMap::new();
    for u in &unmatched_up {
        for (i, l) in live.iter().enumerate() {
            if matched_live[i] || kind(l) != kind(u) || name(u).is_empty() {
                continue;
            }
            if let Some(at) = name(l).find(name(u)) {
                let (p, s) = (&name(l)[..at], &name(l)[at + name(u).len()..]);
                *votes.entry((p.to_string(), s.to_string())).or_default() += 1;
            }
        }
    }
    let affix = votes.into_iter().max_by_key(|(_, n)| *n).map(|(a, _)| a);
    for u in unmatched_up {
        let found = affix.as_ref().and_then(|(p, s)| {
            let want = format!("{p}{}{s}", name(u));
            (0..live.len())
                .find(|&i| !matched_live[i] && kind(live[i]) == kind(u) && name(live[i]) == want)
        });
        match found {
            Some(i) => {
                matched_live[i] = true;
                out.push((Some(u), Some(live[i])));
            }
            None => out.push((Some(u), None)),
        }
    }
    for (i, l) in live.iter().enumerate() {
        if !matched_live[i] {
            out.push((None, Some(l)));
        }
    }
    out
}

/// Live against upstream: missing and extra objects, field changes, and
/// a unified diff for each drifted object. `source` names the upstream
/// in each change.
pub fn compare(source: &str, up: &[Value], live: &[&Value], out: &mut Outcome) {
    for (u, l) in pair(up, live) {
        match (u, l) {
            (Some(u), None) => out.changes.push(object_change(source, u, "missing")),
            (None, Some(l)) => out.changes.push(object_change(source, l, "extra")),
            (Some(u), Some(l)) => {
                out.compared += 1;
                compare_pair(source, u, l, out);
            }
            (None, None) => {}
        }
    }
}

fn object_change(source: &str, o: &Value, what: &str) -> Change {
    Change {
        source: source.into(),
        ..super::object_change(&label(o), what)
    }
}

/// One object against what it should be; the live name is the one shown.
pub fn compare_pair(source: &str, u: &Value, l: &Value, out: &mut Outcome) {
    let mut nu = normalise(u, None, &out.noise);
    let mut nl = normalise(l, Some(u), &out.noise);
    // Matched by name already: an overlay's prefix is not drift.
    for n in [&mut nu, &mut nl] {
        if let Some(m) = n.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("name");
        }
    }
    let diffs = walk::differences(&nu, &nl);
    if diffs.is_empty() {
        return;
    }
    let object = label(l);
    for d in &diffs {
        out.changes.push(walk::change(source, &object, kind(l), d));
    }
    let text = unified(source, &object, &nu, &nl);
    out.diffs.push(Drifted {
        source: source.into(),
        object,
        text,
    });
}

/// The unified diff of two normalised documents, as YAML.
pub fn unified(source: &str, object: &str, old: &Value, new: &Value) -> String {
    similar::TextDiff::from_lines(yaml_text(old).as_str(), yaml_text(new).as_str())
        .unified_diff()
        .context_radius(3)
        .header(&format!("{source}/{object}"), &format!("live/{object}"))
        .to_string()
}

fn yaml_text(v: &Value) -> String {
    serde_saphyr::to_string(v)
        .unwrap_or_else(|_| serde_json::to_string_pretty(v).unwrap_or_default())
}

/// Live objects against their `kubectl.kubernetes.io/last-applied-configuration`:
/// what `kubectl edit`, `scale` or `set` changed after the last apply.
pub fn last_applied(live: &[&Value], out: &mut Outcome) {
    for l in live {
        let ann = &l["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"];
        let applied = match ann {
            Value::Object(_) => ann.clone(),
            // Written by kubectl as a JSON string; older bundles hold a note.
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => v,
                _ => continue,
            },
            _ => continue,
        };
        let mut applied = applied;
        if applied.get("kind").is_none() {
            applied["kind"] = json!(kind(l));
        }
        compare_pair("last-applied", &applied, l, out);
    }
}

/// Images of workloads that are not on the version most run, and one
/// image name with several digests for the same tag.
pub fn image_skew(live: &[&Value], out: &mut Outcome) {
    let workloads: Vec<&Value> = live
        .iter()
        .copied()
        .filter(|o| !matches!(kind(o), "Pod") && !incidental(o))
        .collect();
    let images: Vec<(String, String)> = workloads
        .iter()
        .flat_map(|o| {
            super::image::of_object(o)
                .into_iter()
                .map(move |i| (label(o), i))
        })
        .collect();
    super::skew(&images, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(name: &str, ns: &str, replicas: u64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": ns},
               "spec": {"replicas": replicas}})
    }

    #[test]
    fn an_overlays_namespace_and_name_affixes_are_not_drift() {
        let up = vec![
            deployment("frontend", "default", 1),
            deployment("gitserver", "default", 1),
            deployment("searcher", "default", 1),
        ];
        let live = [
            deployment("prod-frontend-v2", "sourcegraph", 1),
            deployment("prod-gitserver-v2", "sourcegraph", 2),
            deployment("prod-searcher-v2", "sourcegraph", 1),
            deployment("prod-other-v2", "sourcegraph", 1),
        ];
        let live: Vec<&Value> = live.iter().collect();
        let mut out = Outcome::default();
        compare("upstream", &up, &live, &mut out);
        assert_eq!(out.compared, 3);
        let got: Vec<(&str, &str, &str)> = out
            .changes
            .iter()
            .map(|c| (c.object.as_str(), c.change.as_str(), c.field.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Deployment/prod-gitserver-v2", "changed", "spec.replicas"),
                ("Deployment/prod-other-v2", "extra", "")
            ]
        );
    }
}
