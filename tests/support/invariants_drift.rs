//! The `drift_manifests` fuzz target: the compose and Kubernetes manifest
//! loaders of the upstream diff (`drift::load`), and the comparison
//! (`drift::compute`) of what they load with a bundle that holds the same.
//! Part of `invariants.rs`; the replay test runs it too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::sync::LazyLock;

use serde_json::{Value, json};
use sg_debug::bundle::drift::DriftSummary;
use sg_debug::drift::{self, Noise, upstream::Objects};

use super::REDACTOR;

/// One directory per process, one file name per kind of upstream; each
/// input overwrites it.
static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    tempfile::Builder::new()
        .prefix("sg-fuzz-drift-")
        .tempdir()
        .expect("creating the fuzzing directory")
});

static NOISE: LazyLock<Noise> =
    LazyLock::new(|| Noise::load(&[]).expect("the built-in noise list loads"));

/// Input: `[selector, text...]`. Bit 0 of the selector names the file
/// `docker-compose.yaml` or `upstream.yaml` (which is all that tells the
/// two loaders apart when the text could be either).
///
/// - `load` never panics, and an error names the file;
/// - what it loads, compared with a bundle holding the same objects (or
///   the same compose file), gives `diff/` entries with safe, unique
///   names and a summary that parses;
/// - Kubernetes objects compared with themselves show no upstream change,
///   when nothing in them is a secret the redactor would replace (the
///   upstream is redacted, a bundle's objects are already).
pub fn check_drift_manifests(data: &[u8]) {
    let Some((&sel, text)) = data.split_first() else {
        return;
    };
    let name = if sel & 1 == 0 {
        "upstream.yaml"
    } else {
        "docker-compose.yaml"
    };
    let path: PathBuf = DIR.path().join(name);
    fs::write(&path, text).expect("writing the input");
    let up = match drift::load(std::slice::from_ref(&path)) {
        Ok(up) => up,
        Err(e) => {
            let e = format!("{e:#}");
            if !e.contains(&path.display().to_string()) {
                broken!("error-names-the-file", "{e}");
            }
            return;
        }
    };
    let mut entries = BTreeMap::new();
    let mut comparable = true;
    match &up.objects {
        Objects::Compose(_) => {
            entries.insert(
                "docker/compose/docker-compose.yaml".to_string(),
                text.to_vec(),
            );
        }
        Objects::Kube(objects) => {
            let mut seen = BTreeSet::new();
            let mut lists: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
            for o in objects {
                // The lists drift reads, but Secrets: a bundle holds their
                // shapes, not their values.
                let kind = o["kind"].as_str().unwrap_or_default();
                let Some(i) = drift::KUBE_KINDS.iter().position(|k| *k == kind) else {
                    continue;
                };
                if kind == "Secret" {
                    continue;
                }
                let list = drift::KUBE_LISTS[i];
                // Two objects of one kind and name pair up arbitrarily.
                comparable &= seen.insert((kind, o["metadata"]["name"].to_string()));
                comparable &= !redacts(o);
                lists.entry(list).or_default().push(o.clone());
            }
            for (list, items) in lists {
                let body = serde_json::to_vec(&json!({ "items": items })).expect("JSON");
                entries.insert(format!("kubernetes/namespace/{list}.json"), body);
            }
        }
    }
    let result = drift::compute(&entries, Some(&up), &REDACTOR, &NOISE);
    let mut names = BTreeSet::new();
    for (name, body) in &result.files {
        let safe = name.starts_with("diff/")
            && name
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
        if !safe {
            broken!("diff-names-safe", "{name:?}");
        }
        if !names.insert(name) {
            broken!("diff-names-unique", "{name:?} twice");
        }
        if name == "diff/summary.json" && serde_json::from_slice::<DriftSummary>(body).is_err() {
            broken!("summary-parses", "{}", String::from_utf8_lossy(body));
        }
    }
    if matches!(up.objects, Objects::Kube(_)) && comparable {
        let changed: Vec<String> = result
            .summary
            .changes
            .iter()
            .filter(|c| c.source == "upstream")
            .map(|c| format!("{} {} {} {}", c.object, c.category, c.change, c.field))
            .collect();
        if !changed.is_empty() {
            broken!(
                "self-compare-shows-nothing",
                "{changed:?}\n--- input\n{}",
                String::from_utf8_lossy(text)
            );
        }
    }
}

/// Whether redaction would change `o`, as the upstream's objects are
/// redacted before they are compared.
fn redacts(o: &Value) -> bool {
    let body = serde_json::to_vec(o).expect("JSON");
    match super::redact(&REDACTOR, "kubernetes/namespace/upstream.json", &body) {
        Ok((out, _)) => out != body,
        Err(_) => true,
    }
}
