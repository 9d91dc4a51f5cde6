//! Two normalised documents compared field by field: lists of named
//! things (containers, env, ports, volumes) are matched by name, and each
//! difference becomes a `Change` with a category people search for.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::bundle::drift::Change;

/// The key an element of this list is matched by.
fn element_key(list: &str, v: &Value) -> Option<String> {
    let s = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match list {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "ports" => s(&v["name"])
            .or_else(|| s(&v["containerPort"]))
            .or_else(|| s(&v["port"])),
        "volumeMounts" => s(&v["mountPath"]),
        "volumeClaimTemplates" => s(&v["metadata"]["name"]),
        _ => None,
    }
}

/// Lists whose elements are reported whole rather than field by field.
fn whole_elements(list: &str) -> bool {
    matches!(list, "env" | "ports" | "volumeMounts" | "imagePullSecrets")
}

pub struct Diff<'a> {
    pub field: String,
    pub old: Option<&'a Value>,
    pub new: Option<&'a Value>,
}

/// Every difference between `old` and `new`, as leaf fields.
pub fn differences<'a>(old: &'a Value, new: &'a Value) -> Vec<Diff<'a>> {
    let mut out = Vec::new();
    walk(String::new(), "", Some(old), Some(new), &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else if key.contains('.') || key.contains('/') {
        format!("{path}[{key}]")
    } else {
        format!("{path}.{key}")
    }
}

fn walk<'a>(
    path: String,
    key: &str,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    out: &mut Vec<Diff<'a>>,
) {
    if old == new {
        return;
    }
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                walk(join(&path, k), k, a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Object(a)), None) => {
            for (k, v) in a {
                walk(join(&path, k), k, Some(v), None, out);
            }
        }
        (None, Some(Value::Object(b))) => {
            for (k, v) in b {
                walk(join(&path, k), k, None, Some(v), out);
            }
        }
        (a, b) if keyed(key, a) && keyed(key, b) => {
            let items = |v: Option<&'a Value>| -> Vec<(String, &'a Value)> {
                v.and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| element_key(key, e).map(|k| (k, e)))
                    .collect()
            };
            let (ia, ib) = (items(a), items(b));
            let mut names: Vec<&String> = ia.iter().map(|(k, _)| k).collect();
            for (k, _) in &ib {
                if !names.contains(&k) {
                    names.push(k);
                }
            }
            for name in names {
                let ea = ia.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
                let eb = ib.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
                let p = format!("{path}[{name}]");
                if whole_elements(key) || ea.is_none() || eb.is_none() {
                    if ea != eb {
                        out.push(Diff {
                            field: p,
                            old: ea,
                            new: eb,
                        });
                    }
                } else {
                    walk(p, "", ea, eb, out);
                }
            }
        }
        (a, b) => out.push(Diff {
            field: path,
            old: a,
            new: b,
        }),
    }
}

/// A list of named elements (or no list at all on this side).
fn keyed(key: &str, v: Option<&Value>) -> bool {
    const LISTS: [&str; 10] = [
        "containers",
        "initContainers",
        "ephemeralContainers",
        "env",
        "volumes",
        "imagePullSecrets",
        "ports",
        "volumeMounts",
        "volumeClaimTemplates",
        "",
    ];
    if key.is_empty() || !LISTS.contains(&key) {
        return false;
    }
    match v {
        None => true,
        Some(Value::Array(items)) => items.iter().all(|e| element_key(key, e).is_some()),
        _ => false,
    }
}

/// What a person calls this kind of change.
pub fn category(kind: &str, field: &str) -> &'static str {
    let last = field.rsplit(['.', '[']).next().unwrap_or(field);
    if field.ends_with(".image") || field == "image" {
        "image"
    } else if field == "spec.replicas" || matches!(last, "replicas" | "replicaCount") {
        "replicas"
    } else if field.contains("env[") || field.starts_with("environment") {
        "env"
    } else if field.contains("volumeClaimTemplates[")
        || kind == "PersistentVolumeClaim" && field.starts_with("spec.resources")
        || field.contains("volumes[")
        || field.contains("volumeMounts[")
        || field.starts_with("volumes")
    {
        "volume"
    } else if field.contains("resources.")
        || field.starts_with("cpus")
        || matches!(field, "memory" | "mem_limit")
        || field.starts_with("deploy.resources")
    {
        "resources"
    } else if matches!(last, "command" | "args" | "entrypoint")
        || field.contains(".command[")
        || field.contains(".args[")
    {
        "command"
    } else if field.starts_with("restart") {
        "restart"
    } else {
        "other"
    }
}

/// A value as one line: strings bare, everything else as compact JSON.
pub fn show(v: Option<&Value>) -> Option<String> {
    v.map(|v| match v {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 2 && m.contains_key("name") && m.contains_key("value") => {
            show(m.get("value")).unwrap_or_default()
        }
        other => other.to_string(),
    })
}

pub fn change(source: &str, object: &str, kind: &str, d: &Diff) -> Change {
    Change {
        source: source.into(),
        object: object.into(),
        category: category(kind, &d.field).into(),
        change: match (d.old, d.new) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        }
        .into(),
        field: d.field.clone(),
        old: show(d.old),
        new: show(d.new),
        expected: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_lists_match_by_name_and_env_is_reported_whole() {
        let a = json!({"spec": {"replicas": 1, "containers": [
            {"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "resources": {"limits": {"memory": "8G"}}}]}});
        let b = json!({"spec": {"replicas": 3, "containers": [
            {"name": "a", "image": "x:2", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
             "resources": {"limits": {"memory": "4G"}}},
            {"name": "side", "image": "y:1"}]}});
        let d: Vec<(String, &str, Option<String>, Option<String>)> = differences(&a, &b)
            .iter()
            .map(|d| {
                (
                    d.field.clone(),
                    category("Deployment", &d.field),
                    show(d.old),
                    show(d.new),
                )
            })
            .collect();
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            d,
            vec![
                ("spec.containers[a].env[A]".into(), "env", s("1"), None),
                ("spec.containers[a].env[B]".into(), "env", s("2"), s("3")),
                ("spec.containers[a].env[C]".into(), "env", None, s("4")),
                (
                    "spec.containers[a].image".into(),
                    "image",
                    s("x:1"),
                    s("x:2")
                ),
                (
                    "spec.containers[a].resources.limits.memory".into(),
                    "resources",
                    s("8G"),
                    s("4G")
                ),
                (
                    "spec.containers[side]".into(),
                    "other",
                    None,
                    s(r#"{"image":"y:1","name":"side"}"#)
                ),
                ("spec.replicas".into(), "replicas", s("1"), s("3")),
            ]
        );
    }
}
