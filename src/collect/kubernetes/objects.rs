//! API objects as they go into the bundle: which kinds, what is stripped,
//! Secrets reduced to their shape, Helm release values decoded, the
//! deployment's flavour and version.

use std::collections::BTreeMap;
use std::io::Read;

use crate::image::ImageRef;
use anyhow::{Context, Result, bail};
use base64::Engine;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

/// One kind of object the collector lists.
pub struct KindSpec {
    pub plural: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
}

const fn k(
    plural: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
) -> KindSpec {
    KindSpec {
        plural,
        group,
        version,
        kind,
    }
}

/// Listed in the Sourcegraph namespace, each into `kubernetes/namespace/<plural>.json`.
pub const NAMESPACED: &[KindSpec] = &[
    k("deployments", "apps", "v1", "Deployment"),
    k("statefulsets", "apps", "v1", "StatefulSet"),
    k("daemonsets", "apps", "v1", "DaemonSet"),
    k("jobs", "batch", "v1", "Job"),
    k("cronjobs", "batch", "v1", "CronJob"),
    k("pods", "", "v1", "Pod"),
    k("services", "", "v1", "Service"),
    k("ingresses", "networking.k8s.io", "v1", "Ingress"),
    k("configmaps", "", "v1", "ConfigMap"),
    k("secrets", "", "v1", "Secret"),
    k("persistentvolumeclaims", "", "v1", "PersistentVolumeClaim"),
    k("resourcequotas", "", "v1", "ResourceQuota"),
    k("limitranges", "", "v1", "LimitRange"),
    k("events", "", "v1", "Event"),
];

/// Cluster-scoped, into `kubernetes/cluster/<plural>.json`.
pub const CLUSTER: &[KindSpec] = &[
    k("nodes", "", "v1", "Node"),
    k("storageclasses", "storage.k8s.io", "v1", "StorageClass"),
    k("persistentvolumes", "", "v1", "PersistentVolume"),
];

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `managedFields` is bookkeeping nobody reads in a ticket. The
/// last-applied annotation is what `kubectl apply` last set, exactly what
/// shows manual edits since (`kubectl edit`, `scale`): it is kept, parsed
/// into structure so the structured redaction pass sees every field of it
/// as it sees the object's own. Secrets never come here (they are reduced
/// to their shape); an annotation that does not parse is replaced by a note.
pub fn clean(obj: &mut Value) {
    let secret = obj["kind"] == "Secret";
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut)
            && let Some(applied) = ann.get(LAST_APPLIED)
        {
            let parsed = applied
                .as_str()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .filter(|v| v.is_object() && !secret);
            let kept = parsed.unwrap_or_else(|| {
                "(removed by sg-debug: not a JSON object, or a Secret's)".into()
            });
            ann.insert(LAST_APPLIED.into(), kept);
        }
    }
}

/// What `kubectl get -o json` prints for several objects.
pub fn list_doc(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// A Secret without its values: name, type, labels, key names and the
/// size of each value. Nothing else leaves the collector.
pub fn secret_shape(s: &Value) -> Value {
    let meta = &s["metadata"];
    // A list of {name, bytes}: keyed by the secret's key names, the
    // sizes would look like values to redaction ("password": 25).
    let mut keys = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(m) = s[field].as_object() {
            for (key, v) in m {
                let raw = v.as_str().unwrap_or_default();
                let size = if field == "data" {
                    base64_len(raw)
                } else {
                    raw.len()
                };
                keys.push(json!({"name": key, "bytes": size}));
            }
        }
    }
    let annotation_keys: Vec<&String> = meta["annotations"]
        .as_object()
        .map(|a| a.keys().collect())
        .unwrap_or_default();
    json!({
        "name": meta["name"],
        "type": s["type"],
        "creationTimestamp": meta["creationTimestamp"],
        "labels": meta["labels"],
        "annotationKeys": annotation_keys,
        "ownerReferences": meta["ownerReferences"],
        "immutable": s["immutable"],
        "keys": keys,
    })
}

fn base64_len(s: &str) -> usize {
    let trimmed = s.trim_end_matches('=');
    trimmed.len() * 3 / 4
}

/// The Secret type Helm stores a release revision in.
pub const HELM_RELEASE_TYPE: &str = "helm.sh/release.v1";

/// `sh.helm.release.v1.sourcegraph.v12` -> (`sourcegraph`, 12)
pub fn helm_secret_name(name: &str) -> Option<(String, u64)> {
    let rest = name.strip_prefix("sh.helm.release.v1.")?;
    let (release, rev) = rest.rsplit_once(".v")?;
    Some((release.to_string(), rev.parse().ok()?))
}

/// Helm stores a release as base64(gzip(JSON)), and the API adds its own
/// base64 layer for Secret data.
pub fn decode_helm_release(secret: &Value) -> Result<Value> {
    let outer = secret["data"]["release"]
        .as_str()
        .context("the Secret has no data.release")?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = b64
        .decode(outer.trim())
        .context("data.release is not base64")?;
    let packed = b64
        .decode(inner.trim_ascii())
        .context("the release is not base64 inside")?;
    let mut json_bytes = Vec::new();
    if packed.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(&packed[..])
            .take(256 << 20)
            .read_to_end(&mut json_bytes)
            .context("the release is not valid gzip")?;
    } else {
        json_bytes = packed;
    }
    let v: Value = serde_json::from_slice(&json_bytes).context("the release is not JSON")?;
    if !v.is_object() {
        bail!("the release is not a JSON object");
    }
    Ok(v)
}

/// The manifest Helm rendered for a release, as a `List`; Secrets reduced
/// to their shape (`secret_shape`, with `kind: Secret`), never a value.
/// Read as Kubernetes reads it: YAML 1.1 (`0644` is octal).
pub fn helm_manifest(r: &Value) -> Result<Value> {
    let text = r["manifest"].as_str().unwrap_or_default();
    let options = serde_saphyr::options! { legacy_octal_numbers: true };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|_| {
            anyhow::anyhow!("the rendered manifest is not YAML this version of sg-debug reads")
        })?;
    let items: Vec<Value> = docs
        .into_iter()
        .filter(|d| d["kind"].is_string())
        .map(|d| {
            if d["kind"] == "Secret" {
                let mut shape = secret_shape(&d);
                shape["kind"] = "Secret".into();
                shape
            } else {
                d
            }
        })
        .collect();
    Ok(list_doc(items))
}

/// What support needs from a release besides its values.
pub fn helm_release_facts(r: &Value) -> Value {
    let chart = &r["chart"]["metadata"];
    json!({
        "name": r["name"],
        "namespace": r["namespace"],
        "revision": r["version"],
        "status": r["info"]["status"],
        "first_deployed": r["info"]["first_deployed"],
        "last_deployed": r["info"]["last_deployed"],
        "description": r["info"]["description"],
        "chart": chart["name"],
        "chart_version": chart["version"],
        "app_version": chart["appVersion"],
    })
}

fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"]["labels"][key].as_str()
}

const KUSTOMIZE_CONFIGMAP: &str = "sourcegraph-kustomize-build-config";
const FRONTEND_ENV_CONFIGMAP: &str = "sourcegraph-frontend-env";

/// Whether `flavour` reads this ConfigMap: the only ones kept in memory.
pub fn marks_flavour(configmap: &Value) -> bool {
    let name = configmap["metadata"]["name"].as_str();
    name == Some(KUSTOMIZE_CONFIGMAP) || name == Some(FRONTEND_ENV_CONFIGMAP)
}

/// helm, kustomize or legacy, from the marks each leaves behind;
/// `helm_secret` is whether a Secret of `HELM_RELEASE_TYPE` was seen.
pub fn flavour(
    workloads: &[&Value],
    configmaps: &[Value],
    helm_secret: bool,
) -> Option<&'static str> {
    let helm = helm_secret
        || workloads.iter().any(|o| {
            label(o, "helm.sh/chart").is_some()
                || label(o, "app.kubernetes.io/managed-by") == Some("Helm")
        });
    if helm {
        return Some("helm");
    }
    let cm = |name: &str| {
        configmaps
            .iter()
            .find(|c| c["metadata"]["name"].as_str() == Some(name))
    };
    if cm(KUSTOMIZE_CONFIGMAP).is_some()
        || cm(FRONTEND_ENV_CONFIGMAP).is_some_and(|c| c["data"]["DEPLOY_TYPE"].is_string())
    {
        return Some("kustomize");
    }
    // The legacy manifests set the frontend's environment inline.
    let frontend = workloads.iter().find(|o| {
        o["kind"].as_str() == Some("Deployment")
            && o["metadata"]["name"].as_str() == Some("sourcegraph-frontend")
    })?;
    let inline_env = frontend["spec"]["template"]["spec"]["containers"]
        .as_array()?
        .iter()
        .any(|c| {
            c["env"].as_array().is_some_and(|e| {
                // A literal value; kustomize's come from its ConfigMap.
                e.iter().any(|v| {
                    (v["name"] == "PGHOST" || v["name"] == "DEPLOY_TYPE") && v["value"].is_string()
                })
            })
        });
    inline_env.then_some("legacy")
}

/// The Sourcegraph version is the frontend image's tag, from the
/// workloads' images and then the pods'.
pub fn version(workloads: &[&Value], pods: &[Pod]) -> Option<String> {
    let pod_images = pods
        .iter()
        .flat_map(|p| p.spec.iter().flat_map(|s| &s.containers))
        .filter_map(|c| c.image.as_deref());
    let images = workloads
        .iter()
        .copied()
        .flat_map(|w| containers(&w["spec"]["template"]["spec"]))
        .filter_map(|c| c["image"].as_str())
        .chain(pod_images);
    // Mirrors rename the registry and path, rarely the image's own name.
    images
        .map(ImageRef::parse)
        .filter(|i| i.name() == "frontend")
        .find_map(|i| i.tag)
        .map(str::to_string)
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    spec["containers"].as_array().into_iter().flatten()
}

/// When an event last happened, from whichever time field it carries.
pub fn event_time(e: &Value) -> i64 {
    [
        &e["lastTimestamp"],
        &e["eventTime"],
        &e["series"]["lastObservedTime"],
        &e["firstTimestamp"],
        &e["metadata"]["creationTimestamp"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    .map(|t| t.timestamp_micros())
    .max()
    .unwrap_or(0)
}

/// The newest `FailedScheduling` message for each pod, from events seen
/// oldest first (of two at the same time, the later seen wins).
#[derive(Default)]
pub struct Scheduling(BTreeMap<String, (i64, String)>);

impl Scheduling {
    pub fn see(&mut self, e: &Value) {
        if e["reason"] != "FailedScheduling" || e["involvedObject"]["kind"] != "Pod" {
            return;
        }
        let (Some(pod), Some(msg)) = (e["involvedObject"]["name"].as_str(), e["message"].as_str())
        else {
            return;
        };
        let t = event_time(e);
        if self.0.get(pod).is_none_or(|(old, _)| t >= *old) {
            self.0.insert(pod.to_string(), (t, msg.to_string()));
        }
    }

    pub fn messages(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, (_, m))| (k.clone(), m.clone()))
            .collect()
    }
}

/// What support reads about a node; the image list and the rest of the
/// status are noise at this size.
pub fn node_facts(n: &Value) -> Value {
    let status = &n["status"];
    json!({
        "name": n["metadata"]["name"],
        "labels": n["metadata"]["labels"],
        "unschedulable": n["spec"]["unschedulable"],
        "taints": n["spec"]["taints"],
        "capacity": status["capacity"],
        "allocatable": status["allocatable"],
        "conditions": status["conditions"],
        "nodeInfo": status["nodeInfo"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn flavour_from_the_marks_each_deployment_leaves() {
        let frontend = |env: Value, labels: Value| {
            serde_json::json!({
                "kind": "Deployment",
                "metadata": {"name": "sourcegraph-frontend", "labels": labels},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "frontend", "image": "index.docker.io/sourcegraph/frontend:6.12.5040", "env": env}
                ]}}}
            })
        };
        let inline = serde_json::json!([{"name": "PGHOST", "value": "pgsql"}, {"name": "SRC_GIT_SERVERS", "value": "gitserver-0:3178"}]);
        let from_cm = serde_json::json!([{"name": "PGHOST", "valueFrom": {"configMapKeyRef": {"name": "sourcegraph-frontend-env", "key": "PGHOST"}}}]);
        let legacy = frontend(inline.clone(), serde_json::json!({"deploy": "sourcegraph"}));
        assert_eq!(flavour(&[&legacy], &[], false), Some("legacy"));

        let kustomized = frontend(from_cm, serde_json::json!({"deploy": "sourcegraph"}));
        let env_cm = serde_json::json!({"metadata": {"name": "sourcegraph-frontend-env"}, "data": {"DEPLOY_TYPE": "kustomize"}});
        assert!(marks_flavour(&env_cm));
        assert_eq!(flavour(&[&kustomized], &[env_cm], false), Some("kustomize"));
        // Neither marks: no guess.
        assert_eq!(flavour(&[&kustomized], &[], false), None);

        let helm = frontend(
            inline,
            serde_json::json!({"deploy": "sourcegraph", "helm.sh/chart": "sourcegraph-6.12.5040"}),
        );
        assert_eq!(flavour(&[&helm], &[], false), Some("helm"));
        // A release Secret is mark enough.
        assert_eq!(flavour(&[&legacy], &[], true), Some("helm"));
    }

    fn helm_secret(name: &str, release: &Value) -> Value {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&serde_json::to_vec(release).unwrap()).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let helm = b64.encode(gz.finish().unwrap());
        json!({"metadata": {"name": name}, "type": "helm.sh/release.v1",
               "data": {"release": b64.encode(helm)}})
    }

    #[test]
    fn helm_release_round_trip_and_names() {
        let r = json!({"name": "sg", "version": 3, "config": {"a": 1}});
        let s3 = helm_secret("sh.helm.release.v1.sg.v3", &r);
        assert_eq!(
            helm_secret_name("sh.helm.release.v1.my.sg.v10"),
            Some(("my.sg".to_string(), 10))
        );
        assert_eq!(helm_secret_name("sh.helm.release.v1.sg"), None);
        assert_eq!(decode_helm_release(&s3).unwrap()["config"]["a"], 1);
        assert!(decode_helm_release(&json!({"data": {"release": "!!"}})).is_err());
    }

    #[test]
    fn secret_shape_keeps_no_values() {
        let s = json!({"metadata": {"name": "x", "annotations": {"note": "hunter2"}},
                       "type": "Opaque", "data": {"password": "aHVudGVyMg=="}});
        let shape = secret_shape(&s).to_string();
        assert!(
            !shape.contains("aHVudGVyMg") && !shape.contains("hunter2"),
            "{shape}"
        );
        assert!(
            shape.contains(r#"{"bytes":7,"name":"password"}"#),
            "{shape}"
        );
    }

    #[test]
    fn events_sort_across_time_fields() {
        let mut ev = [
            json!({"lastTimestamp": "2025-01-01T00:00:05Z", "n": 2}),
            json!({"eventTime": "2025-01-01T00:00:01.500000Z", "n": 1}),
            json!({"metadata": {"creationTimestamp": "2024-12-31T00:00:00Z"}, "n": 0}),
        ];
        ev.sort_by_key(event_time);
        let order: Vec<i64> = ev.iter().map(|e| e["n"].as_i64().unwrap()).collect();
        assert_eq!(order, [0, 1, 2]);
    }
}
