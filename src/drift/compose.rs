//! Compose: upstream services (base file plus overrides, with Compose's
//! merge rules and `!reset` / `!override`) against the live containers,
//! per service: image, environment, cpus and memory limits, volumes and
//! bind mounts, command, restart policy and replicas.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::yaml::{TAG_KEY, VALUE_KEY};
use super::{Outcome, walk};
use crate::redact::Redactor;

/// Lists an override adds to rather than replaces (Compose's merge rules).
const APPENDED: [&str; 6] = [
    "ports",
    "expose",
    "volumes",
    "dns",
    "extra_hosts",
    "env_file",
];

/// Applies one compose file's services onto `services`.
pub fn merge_file(services: &mut BTreeMap<String, Value>, doc: Value) {
    let Some(Value::Object(svcs)) = doc.get("services").cloned() else {
        return;
    };
    for (name, svc) in svcs {
        let svc = canonical_service(strip_tags(svc.clone(), true));
        match services.get_mut(&name) {
            Some(base) => merge(base, &svc_with_tags(&doc, &name), ""),
            None => {
                services.insert(name, svc);
            }
        }
    }
}

fn svc_with_tags(doc: &Value, name: &str) -> Value {
    let mut s = doc["services"][name].clone();
    if let Some(env) = s.get_mut("environment")
        && !is_tag(env)
    {
        *env = env_map(env);
    }
    s
}

fn is_tag(v: &Value) -> bool {
    v.get(TAG_KEY).is_some()
}

/// The base file's tags mean nothing (there is nothing to reset yet).
fn strip_tags(v: Value, top: bool) -> Value {
    match v {
        Value::Object(m) if m.contains_key(TAG_KEY) => {
            if m[TAG_KEY] == "reset" && top {
                Value::Null
            } else {
                strip_tags(m.get(VALUE_KEY).cloned().unwrap_or(Value::Null), top)
            }
        }
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, strip_tags(v, top)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| strip_tags(v, top)).collect()),
        v => v,
    }
}

fn merge(base: &mut Value, over: &Value, key: &str) {
    if let Some(tag) = over.get(TAG_KEY).and_then(Value::as_str) {
        let v = strip_tags(over[VALUE_KEY].clone(), false);
        if tag == "reset" {
            *base = Value::Null;
        } else {
            *base = if key == "environment" { env_map(&v) } else { v };
        }
        return;
    }
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv) => merge(bv, v, k),
                    None => {
                        b.insert(k.clone(), strip_tags(v.clone(), false));
                    }
                }
            }
            b.retain(|_, v| !v.is_null());
        }
        (Value::Array(b), Value::Array(o)) if APPENDED.contains(&key) => {
            for v in o {
                if !b.contains(v) {
                    b.push(v.clone());
                }
            }
        }
        (b, o) => *b = strip_tags(o.clone(), false),
    }
}

/// `environment` as a map whatever its spelling (`- K=V` or `K: V`).
fn env_map(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Object(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Value::String(v.into())),
                    None => (s.to_string(), Value::Null),
                })
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => Value::String(s.clone()),
                        Value::Null => Value::Null,
                        other => Value::String(other.to_string()),
                    };
                    (k.clone(), s)
                })
                .collect(),
        ),
        _ => Value::Object(Map::new()),
    }
}

fn canonical_service(mut s: Value) -> Value {
    if let Some(env) = s.get_mut("environment") {
        *env = env_map(env);
    }
    if let Some(m) = s.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    s
}

/// Compose memory: `8g` is 8 GiB (Docker's units are binary).
fn memory_bytes(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mul) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        't' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let f: f64 = num.trim().parse().ok()?;
    Some((f * mul as f64) as u64)
}

/// Bytes in the shortest exact spelling (`2Gi`).
fn bytes(n: u64) -> String {
    super::quantity::canonical(&json!(n)).unwrap_or_else(|| n.to_string())
}

fn cpus(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())
}

fn words(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(s.split_whitespace().map(String::from).collect()),
        Value::Array(a) => Some(
            a.iter()
                .map(|x| walk::show(Some(x)).unwrap_or_default())
                .collect(),
        ),
        _ => None,
    }
}

/// What upstream says of a service, in the shape the live side is
/// reduced to.
fn upstream_view(s: &Value) -> Value {
    let limits = &s["deploy"]["resources"]["limits"];
    let mut v = json!({
        "image": s["image"],
        "environment": env_map(&s["environment"]),
        "restart": s["restart"].as_str().unwrap_or("no"),
        "replicas": s["deploy"]["replicas"].as_u64().or_else(|| s["scale"].as_u64()).unwrap_or(1),
    });
    if let Some(c) = cpus(&s["cpus"]).or_else(|| cpus(&limits["cpus"])) {
        v["cpus"] = json!(format!("{c}"));
    }
    if let Some(m) = memory_bytes(&s["mem_limit"]).or_else(|| memory_bytes(&limits["memory"])) {
        v["memory"] = json!(bytes(m));
    }
    if let Some(c) = words(&s["command"]) {
        v["command"] = json!(c);
    }
    let mut vols = Map::new();
    for m in s["volumes"].as_array().into_iter().flatten() {
        let (src, dst) = match m {
            Value::String(t) => {
                let mut parts = t.splitn(3, ':');
                match (parts.next(), parts.next()) {
                    (Some(a), Some(b)) => (a.to_string(), b.to_string()),
                    (Some(a), None) => (String::new(), a.to_string()),
                    _ => continue,
                }
            }
            Value::Object(o) => (
                o.get("source")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                o.get("target")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            _ => continue,
        };
        vols.insert(dst, Value::String(src.trim_start_matches("./").to_string()));
    }
    v["volumes"] = Value::Object(vols);
    v
}

/// The same view of a running service, from `docker inspect` of its
/// containers; environment limited to the names upstream sets, since the
/// image's own variables are in every container.
fn live_view(cs: &[&Value], up: &Value, project: &str, on_host: Option<&Value>) -> Value {
    let c = cs[0];
    let named = |k: &str| {
        up["environment"].get(k).is_some()
            || on_host.is_some_and(|h| h["environment"].get(k).is_some())
    };
    let env: Map<String, Value> = c["Config"]["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|e| e.split_once('='))
        .filter(|(k, _)| named(k))
        .map(|(k, v)| (k.to_string(), Value::String(v.into())))
        .collect();
    let restart = match c["HostConfig"]["RestartPolicy"]["Name"].as_str() {
        None | Some("") => "no",
        Some(r) => r,
    };
    let mut v = json!({
        "image": c["Config"]["Image"],
        "environment": env,
        "restart": restart,
        "replicas": cs.len(),
    });
    let nano = c["HostConfig"]["NanoCpus"].as_u64().unwrap_or(0);
    if nano > 0 {
        v["cpus"] = json!(format!("{}", nano as f64 / 1e9));
    }
    let mem = c["HostConfig"]["Memory"].as_u64().unwrap_or(0);
    if mem > 0 {
        v["memory"] = json!(bytes(mem));
    }
    if up.get("command").is_some()
        && let Some(cmd) = words(&c["Config"]["Cmd"])
    {
        v["command"] = json!(cmd);
    }
    let mut vols = Map::new();
    for m in c["Mounts"].as_array().into_iter().flatten() {
        let dst = m["Destination"].as_str().unwrap_or_default().to_string();
        let src = if m["Type"] == "volume" {
            let n = m["Name"].as_str().unwrap_or_default();
            n.strip_prefix(&format!("{project}_"))
                .unwrap_or(n)
                .to_string()
        } else {
            let s = m["Source"].as_str().unwrap_or_default();
            // A relative bind in upstream is compared by its tail.
            match up["volumes"][&dst].as_str() {
                Some(u) if !u.starts_with('/') && s.ends_with(&format!("/{u}")) => u.to_string(),
                _ => s.to_string(),
            }
        };
        vols.insert(dst, Value::String(src));
    }
    v["volumes"] = Value::Object(vols);
    v
}

fn label<'a>(c: &'a Value, key: &str) -> Option<&'a str> {
    c["Config"]["Labels"][key].as_str()
}

/// The services of the compose files the bundle holds (as written on
/// the host, redacted): they say which environment names the deployment
/// sets beyond upstream's.
fn on_host(files: &[(String, Vec<u8>)], notes: &mut Vec<String>) -> BTreeMap<String, Value> {
    let mut services = BTreeMap::new();
    for (name, bytes) in files {
        if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            continue;
        }
        let docs = match super::yaml::documents(&String::from_utf8_lossy(bytes)) {
            Ok(docs) => docs,
            Err(e) => {
                notes.push(format!(
                    "{name}: not read ({e}); the environment names it sets are not compared"
                ));
                continue;
            }
        };
        if let Some(d) = docs
            .into_iter()
            .next()
            .filter(|d| d["services"].is_object())
        {
            merge_file(&mut services, d);
        }
    }
    services
}

pub fn compare(
    services: &BTreeMap<String, Value>,
    containers: &[Value],
    compose_files: &[(String, Vec<u8>)],
    redactor: &Redactor,
    out: &mut Outcome,
) {
    let host = on_host(compose_files, &mut out.notes);
    let mut by_service: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for c in containers {
        let name = label(c, "com.docker.compose.service")
            .or_else(|| c["Name"].as_str().map(|n| n.trim_start_matches('/')))
            .unwrap_or_default();
        by_service.entry(name).or_default().push(c);
    }
    let views: Vec<Value> = services
        .iter()
        .map(|(n, s)| json!({"kind": "Service", "name": n, "view": upstream_view(s)}))
        .collect();
    let views = super::redacted(views, redactor, "docker/compose/upstream.json");
    for (name, s) in services {
        let up = views
            .iter()
            .find(|v| v["name"] == name.as_str())
            .map(|v| v["view"].clone())
            .unwrap_or_else(|| upstream_view(s));
        let object = format!("service/{name}");
        let Some(cs) = by_service.get(name.as_str()) else {
            out.changes.push(super::object_change(&object, "missing"));
            continue;
        };
        out.compared += 1;
        let project = label(cs[0], "com.docker.compose.project").unwrap_or_default();
        let live = live_view(cs, &up, project, host.get(name.as_str()));
        let diffs = walk::differences(&up, &live);
        for d in &diffs {
            out.changes
                .push(walk::change("upstream", &object, "service", d));
        }
        if !diffs.is_empty() {
            let text = super::kube::unified("upstream", &object, &up, &live);
            out.diffs.push(super::Drifted {
                source: "upstream".into(),
                object,
                text,
            });
        }
    }
    for name in by_service.keys().filter(|n| !services.contains_key(**n)) {
        out.changes
            .push(super::object_change(&format!("service/{name}"), "extra"));
    }
}

pub fn image_skew(containers: &[Value], out: &mut Outcome) {
    let images: Vec<(String, String)> = containers
        .iter()
        .filter_map(|c| {
            let name = label(c, "com.docker.compose.service")
                .map(|s| format!("service/{s}"))
                .or_else(|| {
                    c["Name"]
                        .as_str()
                        .map(|n| format!("container/{}", n.trim_start_matches('/')))
                })?;
            Some((name, c["Config"]["Image"].as_str()?.to_string()))
        })
        .collect();
    super::skew(&images, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::yaml::documents;

    #[test]
    fn overrides_merge_reset_and_override() {
        let base = documents("x-c: &c\n  restart: always\nservices:\n  a:\n    <<: *c\n    image: sourcegraph/a:1\n    environment:\n      - A=1\n      - B=2\n    ports: ['80:80']\n    command: run --fast\n").unwrap();
        let over = documents("services:\n  a:\n    environment:\n      B: 3\n    ports: ['443:443']\n    command: !reset null\n  b:\n    image: sourcegraph/b:1\n    environment: !override\n      - C=1\n").unwrap();
        let mut s = BTreeMap::new();
        merge_file(&mut s, base[0].clone());
        merge_file(&mut s, over[0].clone());
        let a = &s["a"];
        assert_eq!(a["environment"], json!({"A": "1", "B": "3"}));
        assert_eq!(a["ports"], json!(["80:80", "443:443"]));
        assert!(a.get("command").is_none(), "{a}");
        assert_eq!(a["restart"], "always");
        assert_eq!(s["b"]["environment"], json!({"C": "1"}));
        assert_eq!(memory_bytes(&json!("8g")), Some(8 << 30));
    }

    /// A compose file in a bundle is the customer's, and a bundle may be
    /// built to hurt: nine levels of anchors that alias anchors took all
    /// memory. It is not read, and the summary says so.
    #[test]
    fn a_compose_file_the_bundle_holds_that_cannot_be_read_is_said() {
        let laughs = format!(
            "services:\n  a: {{image: x}}\n{}",
            crate::drift::yaml::laughs(9)
        );
        let files = vec![
            (
                "docker/compose/docker-compose.yaml".to_string(),
                laughs.into_bytes(),
            ),
            (
                "docker/compose/override.yml".to_string(),
                b"services: [".to_vec(),
            ),
        ];
        let mut notes = Vec::new();
        assert!(on_host(&files, &mut notes).is_empty());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].starts_with(
                "docker/compose/docker-compose.yaml: not read (YAML aliases copy more than 16 MiB"
            ),
            "{notes:?}"
        );
        assert!(
            notes[1].contains("override.yml: not read (YAML syntax error"),
            "{notes:?}"
        );
    }
}
