//! Values as the bundle holds them: Secrets as their shape (type and key
//! sizes, never a value), and the upstream's values through the same
//! redaction pass as the bundle's, with markers compared by rule only.

use std::io::Read;

use regex::Regex;
use serde_json::Value;

use crate::artifact::{Artifact, ArtifactMeta, Body, BundlePath, FileKind};
use crate::redact::{Outcome as Redacted, Redactor};

/// The bundle's Secret shape (`kubernetes/namespace/secrets.json`) as an
/// object to compare: type and key sizes, never a value.
pub fn secret_from_shape(s: &Value) -> Value {
    let keys: serde_json::Map<String, Value> = s["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| {
            Some((
                k["name"].as_str()?.to_string(),
                Value::String(format!("{} bytes", k["bytes"])),
            ))
        })
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": s["type"],
        "metadata": {"name": s["name"], "labels": s["labels"], "ownerReferences": s["ownerReferences"]},
        "keys": keys})
}

/// An upstream Secret reduced the same way, before anything else sees it.
pub fn secret_to_shape(s: &Value) -> Value {
    let mut keys = serde_json::Map::new();
    for field in ["data", "stringData"] {
        for (k, v) in s[field].as_object().into_iter().flatten() {
            let raw = v.as_str().unwrap_or_default();
            let bytes = if field == "data" {
                raw.trim_end_matches('=').len() * 3 / 4
            } else {
                raw.len()
            };
            keys.insert(k.clone(), Value::String(format!("{bytes} bytes")));
        }
    }
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": s["type"],
        "metadata": {"name": s["metadata"]["name"], "labels": s["metadata"]["labels"]},
        "keys": keys})
}

/// Upstream values go through the same redaction pass as the bundle's
/// before they are compared or shown; then markers lose their per-run
/// hash on both sides, so a redacted value compares by its rule only.
pub fn redacted(objects: Vec<Value>, redactor: &Redactor, as_path: &str) -> Vec<Value> {
    let doc = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let meta = ArtifactMeta {
        path: BundlePath::new(as_path).expect("a valid entry name"),
        kind: FileKind::Config,
        collector: "upstream-diff".into(),
    };
    let body = Body::Bytes(serde_json::to_vec(&doc).unwrap_or_default());
    let mut text = String::new();
    if let Redacted::Kept(r) = redactor.redact(Artifact { meta, body }) {
        let (_, mut reader, _) = r.into_parts();
        if reader.read_to_string(&mut text).is_err() {
            text.clear();
        }
    }
    let mut v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    unhash(&mut v);
    v["items"].as_array().cloned().unwrap_or_default()
}

/// `[REDACTED:rule:1a2b3c4d]` -> `[REDACTED:rule]`: the hash is keyed per
/// run, so it means nothing between the bundle and an upstream read later.
pub fn unhash(v: &mut Value) {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re =
        RE.get_or_init(|| Regex::new(r"\[REDACTED:([a-z0-9-]+):[0-9a-f]{8}\]").expect("regex"));
    match v {
        Value::String(s) if s.contains("[REDACTED:") => {
            *s = re.replace_all(s, "[REDACTED:$1]").into_owned();
        }
        Value::Array(a) => a.iter_mut().for_each(unhash),
        Value::Object(m) => m.values_mut().for_each(unhash),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::drift::Change;
    use crate::drift::{compute, load, normalise};
    use crate::redact::rules::RuleSet;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn a_changed_secret_shows_as_changed_never_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("up.yaml");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: pgsql-auth}\ntype: Opaque\ndata:\n  password: aHVudGVyMg==\n  user: c2c=\n",
        )
        .unwrap();
        let up = load(&[path]).unwrap();
        let secrets = json!({"note": "...", "items": [{"name": "pgsql-auth", "type": "Opaque",
            "labels": null, "keys": [{"name": "password", "bytes": 12}, {"name": "user", "bytes": 2}]}]});
        let entries = BTreeMap::from([(
            "kubernetes/namespace/secrets.json".to_string(),
            serde_json::to_vec(&secrets).unwrap(),
        )]);
        let redactor = Redactor::new(RuleSet::load(&[], &[]).unwrap());
        let r = compute(&entries, Some(&up), &redactor, normalise::noise());
        let c: Vec<String> = r.summary.changes.iter().map(Change::describe).collect();
        assert_eq!(c, ["Secret/pgsql-auth keys.password: 7 bytes -> 12 bytes"]);
        for (name, body) in &r.files {
            let text = String::from_utf8_lossy(body);
            assert!(
                !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
                "{name}: {text}"
            );
        }
    }
}
