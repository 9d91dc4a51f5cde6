//! The upstream diff's speed: a namespace of 300 live objects against a
//! 100-document upstream, target under one second.
//!
//!     cargo bench --bench upstream_diff
//!
//! Upstream: the v7.2.1943 kustomize output in `testdata/drift/` twice over
//! (names suffixed), 100 documents. Live: those 100 as the API server keeps
//! them (`testdata/kube/drift-defaults`), plus 200 more objects upstream
//! does not have, so every path (matching, the overlay affix search,
//! normalising, walking, unified diffs of drifted objects) is exercised.
//! Measured: loading the upstream and computing the diff, as `collect
//! --upstream` does after collection, best of five runs.

#[path = "support/rss.rs"]
mod rss;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use sg_debug::drift;
use std::io::Read;

use sg_debug::artifact::{Artifact, ArtifactMeta, Body, BundlePath, FileKind};
use sg_debug::redact::rules::RuleSet;
use sg_debug::redact::{Outcome, Redactor};

fn renamed(o: &Value, suffix: &str) -> Value {
    let mut o = o.clone();
    let name = format!("{}{suffix}", o["metadata"]["name"].as_str().unwrap());
    o["metadata"]["name"] = json!(name);
    o
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let text = std::fs::read_to_string(root.join("drift/upstream-v7.2.1943.yaml"))?;
    let dir = tempfile::tempdir()?;
    // 51 documents, then 49 of them again under other names: 100.
    let docs: Vec<&str> = text.split("\n---\n").collect();
    let mut upstream = docs.join("\n---\n");
    let again: Vec<String> = docs[..49]
        .iter()
        .map(|d| d.replacen("\n  name: ", "\n  name: copy-", 1))
        .collect();
    upstream.push_str("\n---\n");
    upstream.push_str(&again.join("\n---\n"));
    let up_path = dir.path().join("upstream.yaml");
    std::fs::write(&up_path, &upstream)?;

    let live: Value = serde_json::from_slice(&std::fs::read(
        root.join("kube/drift-defaults/objects/live.json"),
    )?)?;
    let items: Vec<Value> = live["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] != "Pod")
        .cloned()
        .collect();
    let mut all: Vec<Value> = items.clone();
    all.extend(items[..49].iter().map(|o| {
        let mut c = o.clone();
        c["metadata"]["name"] = json!(format!("copy-{}", o["metadata"]["name"].as_str().unwrap()));
        c
    }));
    let mut n = 0;
    while all.len() < 300 {
        all.push(renamed(&items[n % items.len()], &format!("-extra-{n}")));
        n += 1;
    }
    let mut by_plural: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in &all {
        let plural = match o["kind"].as_str().unwrap() {
            "Deployment" => "deployments",
            "StatefulSet" => "statefulsets",
            "DaemonSet" => "daemonsets",
            "Service" => "services",
            "ConfigMap" => "configmaps",
            "PersistentVolumeClaim" => "persistentvolumeclaims",
            "Ingress" => "ingresses",
            other => panic!("unexpected kind {other}"),
        };
        by_plural.entry(plural.into()).or_default().push(o.clone());
    }
    let entries: BTreeMap<String, Vec<u8>> = by_plural
        .into_iter()
        .map(|(p, items)| {
            let doc = json!({"apiVersion": "v1", "kind": "List", "items": items});
            (
                format!("kubernetes/namespace/{p}.json"),
                serde_json::to_vec_pretty(&doc).unwrap(),
            )
        })
        .collect();
    let redactor = Redactor::new(RuleSet::load(&[], &[])?);
    let noise = drift::Noise::load(&[])?;
    // As the packager wrote them: redacted.
    let entries: BTreeMap<String, Vec<u8>> = entries
        .into_iter()
        .map(|(path, body)| {
            let meta = ArtifactMeta {
                path: BundlePath::new(&path).unwrap(),
                kind: FileKind::Config,
                collector: "kubernetes".into(),
            };
            let mut out = Vec::new();
            if let Outcome::Kept(r) = redactor.redact(Artifact {
                meta,
                body: Body::Bytes(body),
            }) {
                r.into_parts().1.read_to_end(&mut out).unwrap();
            }
            (path, out)
        })
        .collect();

    let mut best = f64::MAX;
    let mut result = None;
    for _ in 0..5 {
        let t = Instant::now();
        let up = drift::load(std::slice::from_ref(&up_path))?;
        let r = drift::compute(&entries, Some(&up), &redactor, &noise);
        best = best.min(t.elapsed().as_secs_f64());
        result = Some((up.info.documents, r));
    }
    let (documents, r) = result.unwrap();
    println!(
        "upstream diff: {} live objects against {documents} upstream documents: {:.0} ms (best of 5; target < 1000 ms), {} compared, {} changes, {} diffs, peak RSS {} MiB",
        all.len(),
        best * 1000.0,
        r.summary.compared,
        r.summary.changes.len(),
        r.summary.diffs.len(),
        rss::peak_rss_kib("self").unwrap_or(0) / 1024
    );
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        println!("{}", r.summary.diffs.join("\n"));
    }
    assert_eq!(documents, 100);
    assert_eq!(r.summary.compared, 100);
    assert!(r.summary.diffs.is_empty(), "defaults alone are no drift");
    Ok(())
}
