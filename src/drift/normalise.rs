//! One canonical form for a Kubernetes object, so that upstream and live
//! compare on what a person set: the noise list (`noise.yaml`, data)
//! removes what the API server and controllers add, quantities are
//! written one way, env and ports are sorted by name.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::quantity;

const NOISE: &str = include_str!("noise.yaml");

/// Every section is optional in a user's file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoiseFile {
    #[serde(default)]
    server_set: Vec<RuleSpec>,
    #[serde(default)]
    defaults: Vec<RuleSpec>,
    #[serde(default)]
    pod_spec: Vec<RuleSpec>,
    #[serde(default)]
    container: Vec<RuleSpec>,
    #[serde(default)]
    cluster_chosen: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    path: String,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    same_as: Option<String>,
}

/// One line of the noise list: where, for which kinds, and when.
#[derive(Clone)]
pub struct Rule {
    kinds: Vec<String>,
    /// Each segment: the keys it matches (`a|b`), or `*`.
    path: Vec<Vec<String>>,
    when: When,
}

#[derive(Clone)]
enum When {
    Always,
    Equals(Value),
    SameAs(String),
}

#[derive(Clone)]
pub struct Noise {
    server_set: Vec<Rule>,
    defaults: Vec<Rule>,
    pod_spec: Vec<Rule>,
    container: Vec<Rule>,
    cluster_chosen: Vec<Rule>,
}

/// The embedded list, parsed once; a unit test keeps it parseable.
pub fn noise() -> &'static Noise {
    static N: OnceLock<Noise> = OnceLock::new();
    N.get_or_init(|| Noise::parse(NOISE).expect("the embedded noise list parses"))
}

impl Noise {
    /// The embedded list plus each of `files` (same format, every section
    /// optional): a user adds what their cluster's admission controllers
    /// set. An error names the file.
    pub fn load(files: &[std::path::PathBuf]) -> anyhow::Result<Noise> {
        let mut n = noise().clone();
        for f in files {
            let text = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("reading noise list {}: {e}", f.display()))?;
            let more = Noise::parse(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}; the format is in docs/upstream-diff.md",
                    f.display()
                )
            })?;
            n.server_set.extend(more.server_set);
            n.defaults.extend(more.defaults);
            n.pod_spec.extend(more.pod_spec);
            n.container.extend(more.container);
            n.cluster_chosen.extend(more.cluster_chosen);
        }
        Ok(n)
    }

    pub fn parse(text: &str) -> Result<Noise, String> {
        let f: NoiseFile = serde_saphyr::from_str(text).map_err(|e| format!("noise list: {e}"))?;
        let rules = |v: Vec<RuleSpec>| v.into_iter().map(Rule::from).collect();
        Ok(Noise {
            server_set: rules(f.server_set),
            defaults: rules(f.defaults),
            pod_spec: rules(f.pod_spec),
            container: rules(f.container),
            cluster_chosen: rules(f.cluster_chosen),
        })
    }
}

impl From<RuleSpec> for Rule {
    fn from(s: RuleSpec) -> Rule {
        let when = match (s.value, s.same_as) {
            (_, Some(k)) => When::SameAs(k),
            (Some(v), None) => When::Equals(v),
            (None, None) => When::Always,
        };
        Rule {
            kinds: s.kinds,
            path: split_path(&s.path),
            when,
        }
    }
}

/// `a.b\.c.d|e` -> [[a], [b.c], [d, e]]
fn split_path(p: &str) -> Vec<Vec<String>> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            '.' => segs.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    segs.push(cur);
    segs.into_iter()
        .map(|s| s.split('|').map(String::from).collect())
        .collect()
}

impl Rule {
    fn applies(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind)
    }

    /// Removes what the rule matches under `v`.
    fn apply(&self, v: &mut Value) {
        remove(v, &self.path, &self.when);
    }

    fn has(&self, v: &Value) -> bool {
        present(v, &self.path)
    }
}

fn remove(v: &mut Value, path: &[Vec<String>], when: &When) {
    let Some((seg, rest)) = path.split_first() else {
        return;
    };
    let star = seg.len() == 1 && seg[0] == "*";
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = if star {
                m.keys().cloned().collect()
            } else {
                seg.iter().filter(|k| m.contains_key(*k)).cloned().collect()
            };
            for k in keys {
                if rest.is_empty() {
                    let matches = match when {
                        When::Always => true,
                        When::Equals(d) => same_scalar(&m[&k], d),
                        When::SameAs(sib) => m.get(sib).is_some_and(|s| same_scalar(&m[&k], s)),
                    };
                    if matches {
                        m.remove(&k);
                    }
                } else if let Some(child) = m.get_mut(&k) {
                    remove(child, rest, when);
                }
            }
        }
        Value::Array(items) if star => {
            for i in items {
                remove(i, rest, when);
            }
        }
        _ => {}
    }
}

fn present(v: &Value, path: &[Vec<String>]) -> bool {
    let Some((seg, rest)) = path.split_first() else {
        return !v.is_null();
    };
    let star = seg.len() == 1 && seg[0] == "*";
    match v {
        Value::Object(m) if star => m.values().any(|c| present(c, rest)),
        Value::Object(m) => seg
            .iter()
            .filter_map(|k| m.get(k))
            .any(|c| present(c, rest)),
        Value::Array(items) if star => items.iter().any(|c| present(c, rest)),
        _ => false,
    }
}

/// `"30"` and `30`, `"25%"` and `25%`: YAML and JSON spell scalars
/// differently, the API server does not care.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s == &n.to_string()
        }
        _ => a == b,
    }
}

pub fn kind(obj: &Value) -> &str {
    obj["kind"].as_str().unwrap_or_default()
}

/// Where a kind keeps its pod spec.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &["spec", "template", "spec"]
        }
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

fn at_mut<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, k| v.get_mut(*k))
}

pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The canonical form of `obj`. `upstream` is the object it is compared
/// with, when there is one: fields the cluster chose are dropped from the
/// live object only when upstream leaves them to the cluster.
pub fn normalise(obj: &Value, upstream: Option<&Value>, n: &Noise) -> Value {
    let mut v = obj.clone();
    let kind = kind(obj).to_string();
    for r in n.server_set.iter().chain(&n.defaults) {
        if r.applies(&kind) {
            r.apply(&mut v);
        }
    }
    if let Some(up) = upstream {
        for r in n.cluster_chosen.iter().filter(|r| r.applies(&kind)) {
            if !r.has(up) {
                r.apply(&mut v);
            }
        }
    }
    if let Some(p) = pod_spec_path(&kind)
        && let Some(spec) = at_mut(&mut v, p)
    {
        for r in &n.pod_spec {
            r.apply(spec);
        }
        for list in CONTAINER_LISTS {
            if let Some(Value::Array(cs)) = spec.get_mut(list) {
                for c in cs {
                    for r in &n.container {
                        r.apply(c);
                    }
                }
            }
        }
    }
    canonical(&mut v, "");
    prune(&mut v);
    v
}

/// Quantities in one spelling; env and ports sorted by name.
fn canonical(v: &mut Value, key: &str) {
    match v {
        Value::Object(m) => {
            let quantities = matches!(key, "limits" | "requests" | "capacity" | "hard");
            for (k, child) in m.iter_mut() {
                if quantities && !child.is_object() {
                    if let Some(q) = quantity::canonical(child) {
                        *child = Value::String(q);
                    }
                } else {
                    canonical(child, k);
                }
            }
        }
        Value::Array(items) => {
            for i in items.iter_mut() {
                canonical(i, "");
            }
            if matches!(key, "env" | "ports") {
                items.sort_by_key(sort_key);
            }
        }
        _ => {}
    }
}

fn sort_key(v: &Value) -> (String, String) {
    let name = v["name"].as_str().unwrap_or_default().to_string();
    let port = v
        .get("containerPort")
        .or_else(|| v.get("port"))
        .map(|p| p.to_string())
        .unwrap_or_default();
    (name, port)
}

/// Empty maps and nulls say nothing: `securityContext: {}`, `emptyDir: {}`
/// left by defaults, `creationTimestamp: null` in templates.
fn prune(v: &mut Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => {
            let empty: Vec<String> = m
                .iter_mut()
                .filter_map(|(k, c)| prune(c).then(|| k.clone()))
                .collect();
            for k in empty {
                m.remove(&k);
            }
            m.is_empty()
        }
        Value::Array(items) => {
            for i in items.iter_mut() {
                if i.is_object() {
                    // An element stays, even if empty: `emptyDir: {}` volumes.
                    prune(i);
                }
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_embedded_noise_list_parses_and_users_add_to_it() {
        let n = Noise::parse(NOISE).unwrap();
        assert!(n.server_set.len() > 10 && n.container.len() > 5);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mine.yaml");
        std::fs::write(
            &f,
            "server_set:\n  - {path: metadata.annotations.policy\\.example\\.com/checked}\n",
        )
        .unwrap();
        let mine = Noise::load(std::slice::from_ref(&f)).unwrap();
        let o = json!({"kind": "Service", "metadata": {"name": "s", "annotations": {"policy.example.com/checked": "yes"}}});
        assert_eq!(normalise(&o, None, &mine)["metadata"], json!({"name": "s"}));
        assert_eq!(
            normalise(&o, None, noise())["metadata"]["annotations"]["policy.example.com/checked"],
            "yes"
        );
        std::fs::write(&f, "sever_set: []\n").unwrap();
        let e = Noise::load(&[f]).err().unwrap().to_string();
        assert!(e.contains("mine.yaml"), "{e}");
    }

    #[test]
    fn defaults_go_real_settings_stay() {
        let up = json!({"kind": "Deployment", "metadata": {"name": "a"}, "spec": {
            "replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x:1",
              "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
              "resources": {"limits": {"memory": "8G", "cpu": 1}}}]}}}});
        let live = json!({"kind": "Deployment", "metadata": {"name": "a", "uid": "u", "generation": 3,
              "annotations": {"deployment.kubernetes.io/revision": "4"}},
            "spec": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
              "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
              "template": {"metadata": {"creationTimestamp": null}, "spec": {
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                "securityContext": {}, "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent",
                  "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                  "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                  "resources": {"limits": {"memory": "8000M", "cpu": "1000m"}}}]}}},
            "status": {"replicas": 1}});
        assert_eq!(
            normalise(&live, Some(&up), noise()),
            normalise(&up, None, noise())
        );
        let mut changed = live.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
            json!("8Gi");
        assert_ne!(
            normalise(&changed, Some(&up), noise()),
            normalise(&up, None, noise())
        );
        changed["spec"]["revisionHistoryLimit"] = json!(3);
        let n = normalise(&changed, Some(&up), noise());
        assert_eq!(
            n["spec"]["revisionHistoryLimit"], 3,
            "a non-default value stays"
        );
    }

    #[test]
    fn service_defaults_and_cluster_chosen_fields() {
        let up = json!({"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"name": "http", "port": 80}]}});
        let live = json!({"kind": "Service", "metadata": {"name": "s"}, "spec": {
            "clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"], "type": "ClusterIP", "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]}});
        assert_eq!(
            normalise(&live, Some(&up), noise()),
            normalise(&up, None, noise())
        );
        let headless =
            json!({"kind": "Service", "metadata": {"name": "s"}, "spec": {"clusterIP": "None"}});
        assert_eq!(
            normalise(&headless, Some(&headless), noise())["spec"]["clusterIP"],
            "None"
        );
    }
}
