//! Stage 4, drift: what this deployment changed from Sourcegraph's
//! release, and from what `kubectl apply` or Helm last set, without the
//! API server's noise. A reader like `inspect`: it takes what a bundle
//! holds (the entries `wanted` names, already redacted) and, optionally,
//! an upstream read from a path, and returns the `diff/` entries. `collect
//! --upstream` runs it on the entries it just packed; `inspect
//! --diff-upstream` runs it on a bundle's; the same bundle gives the same
//! result. It uses neither `collect` nor `inspect`.

mod compose;
mod helm;
mod image;
mod kube;
mod normalise;
mod quantity;
mod text;
pub mod upstream;
mod values;
mod versions;
mod walk;
mod yaml;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::artifact::FileKind;
use crate::bundle::drift::{
    Change, DRIFT_SUMMARY_NAME, DRIFT_TEXT_NAME, DriftSummary, UpstreamInfo,
};
use crate::redact::Redactor;
pub use normalise::Noise;
pub use upstream::{Upstream, load};
use values::{redacted, secret_from_shape, secret_to_shape, unhash};
use versions::{mark_expected, skew};

/// Kinds of objects read from `kubernetes/namespace/<plural>.json`.
pub const KUBE_LISTS: [&str; 10] = [
    "deployments",
    "statefulsets",
    "daemonsets",
    "cronjobs",
    "jobs",
    "services",
    "ingresses",
    "configmaps",
    "persistentvolumeclaims",
    "secrets",
];

/// The kinds those lists hold, in the same order: upstream objects of
/// other kinds (RBAC, ServiceAccounts, StorageClasses) cannot be compared
/// and are counted.
pub const KUBE_KINDS: [&str; 10] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
    "Service",
    "Ingress",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Secret",
];

/// Upstream objects of the kinds a bundle holds; a note counts the rest.
fn comparable(objects: &[Value], notes: &mut Vec<String>) -> Vec<Value> {
    let mut other: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for o in objects {
        let k = o["kind"].as_str().unwrap_or_default();
        if KUBE_KINDS.contains(&k) {
            out.push(o.clone());
        } else {
            *other.entry(k).or_default() += 1;
        }
    }
    if !other.is_empty() {
        let list: Vec<String> = other.iter().map(|(k, n)| format!("{n} {k}")).collect();
        notes.push(format!(
            "not compared (sg-debug does not collect these kinds): {}",
            list.join(", ")
        ));
    }
    out
}

/// The entries drift reads; everything else in a bundle is left alone.
pub fn wanted(path: &str) -> bool {
    let kube = path
        .strip_prefix("kubernetes/namespace/")
        .and_then(|p| p.strip_suffix(".json"))
        .is_some_and(|p| KUBE_LISTS.contains(&p));
    kube || path.starts_with("kubernetes/helm/")
        || path.starts_with("docker/containers/") && path.ends_with("/inspect.json")
        || path.starts_with("docker/compose/")
}

/// One drifted object's unified diff.
pub struct Drifted {
    pub source: String,
    pub object: String,
    pub text: String,
}

/// What the comparisons found, before it is written, and the noise list
/// they normalise with.
pub struct Outcome {
    pub compared: u64,
    pub changes: Vec<Change>,
    pub diffs: Vec<Drifted>,
    pub notes: Vec<String>,
    pub noise: Noise,
}

impl Default for Outcome {
    fn default() -> Outcome {
        Outcome {
            compared: 0,
            changes: Vec::new(),
            diffs: Vec::new(),
            notes: Vec::new(),
            noise: normalise::noise().clone(),
        }
    }
}

/// The result: `diff/summary.json`, `diff/summary.txt` and the diffs.
pub struct Result {
    pub summary: DriftSummary,
    pub files: Vec<(String, Vec<u8>)>,
}

/// The live state as the bundle holds it.
struct Live {
    kube: Vec<Value>,
    helm: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    containers: Vec<Value>,
    compose_files: Vec<(String, Vec<u8>)>,
}

fn live(entries: &BTreeMap<String, Vec<u8>>, notes: &mut Vec<String>) -> Live {
    let mut l = Live {
        kube: Vec::new(),
        helm: BTreeMap::new(),
        containers: Vec::new(),
        compose_files: Vec::new(),
    };
    for (path, bytes) in entries {
        if let Some(rest) = path.strip_prefix("kubernetes/helm/") {
            if let Some((release, file)) = rest.split_once('/') {
                l.helm
                    .entry(release.to_string())
                    .or_default()
                    .insert(file.to_string(), bytes.clone());
            }
            continue;
        }
        if path.starts_with("docker/compose/") {
            l.compose_files.push((path.clone(), bytes.clone()));
            continue;
        }
        let v: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!(
                    "{path}: not read ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ));
                continue;
            }
        };
        if path.starts_with("docker/containers/") {
            l.containers.push(v);
        } else if path == "kubernetes/namespace/secrets.json" {
            l.kube.extend(
                v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(secret_from_shape),
            );
        } else {
            l.kube
                .extend(v["items"].as_array().into_iter().flatten().cloned());
        }
    }
    l
}

/// Compares what the bundle holds (`entries`, as `wanted` chose them)
/// with `upstream` and with what it carries itself (last-applied, Helm
/// release, image versions). `redactor` redacts the upstream's values.
pub fn compute(
    entries: &BTreeMap<String, Vec<u8>>,
    upstream: Option<&Upstream>,
    redactor: &Redactor,
    noise: &Noise,
) -> Result {
    let mut out = Outcome {
        noise: noise.clone(),
        ..Outcome::default()
    };
    let mut live = live(entries, &mut out.notes);
    for v in &mut live.kube {
        unhash(v);
    }
    for v in &mut live.containers {
        unhash(v);
    }
    let kube: Vec<&Value> = live.kube.iter().collect();
    let mut info = UpstreamInfo {
        source: "none".into(),
        ..UpstreamInfo::default()
    };
    let live_images: Vec<String> = if live.containers.is_empty() {
        kube.iter().flat_map(|o| image::of_object(o)).collect()
    } else {
        live.containers
            .iter()
            .filter_map(|c| c["Config"]["Image"].as_str().map(String::from))
            .collect()
    };
    let live_version = image::version(live_images.iter().map(String::as_str));

    match upstream {
        Some(u) => {
            info = u.info.clone();
            match &u.objects {
                upstream::Objects::Kube(objects) => {
                    // Secrets become their shape (key sizes) before anything
                    // else sees them; the rest goes through redaction.
                    let (secrets, rest): (Vec<Value>, Vec<Value>) =
                        comparable(objects, &mut out.notes)
                            .into_iter()
                            .partition(|o| o["kind"] == "Secret");
                    let mut up = redacted(rest, redactor, "kubernetes/namespace/upstream.json");
                    up.extend(secrets.iter().map(secret_to_shape));
                    if kube.is_empty() {
                        out.notes.push("the upstream holds Kubernetes manifests but the bundle holds no Kubernetes objects: nothing compared".into());
                    }
                    kube::compare("upstream", &up, &kube, &mut out);
                }
                upstream::Objects::Compose(services) => {
                    compose::compare(
                        services,
                        &live.containers,
                        &live.compose_files,
                        redactor,
                        &mut out,
                    );
                }
            }
        }
        None => {
            if let Some(h) = helm::compare(&live.helm, &kube, &mut out) {
                info = h;
            } else {
                out.notes.push("upstream diff skipped: no upstream was given; add `--upstream PATH` to `sg-debug collect`, or run `sg-debug inspect BUNDLE --diff-upstream PATH`, with PATH a deploy repository checkout at your release tag, its rendered YAML, or its docker-compose.yaml".into());
            }
        }
    }
    if upstream.is_some() {
        // A Helm release is compared with its own manifest even when an
        // upstream path was given.
        helm::compare(&live.helm, &kube, &mut out);
    }
    kube::last_applied(&kube, &mut out);
    if live.containers.is_empty() {
        kube::image_skew(&kube, &mut out);
    } else {
        compose::image_skew(&live.containers, &mut out);
    }
    let version_warning = match (&info.version, &live_version) {
        (Some(u), Some(l)) if u != l => {
            mark_expected(&mut out.changes, u, l);
            Some(format!(
                "upstream is Sourcegraph {u} but this deployment runs {l}: image tags differ on every service (grouped below as expected); compare with the upstream at tag {l} for a meaningful diff"
            ))
        }
        _ => None,
    };
    write(out, info, live_version, version_warning)
}

fn segment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write(
    out: Outcome,
    upstream: UpstreamInfo,
    live_version: Option<String>,
    version_warning: Option<String>,
) -> Result {
    let mut files = Vec::new();
    let mut diffs = Vec::new();
    for d in &out.diffs {
        let mut name = format!(
            "diff/{}/{}.diff",
            segment(&d.source),
            segment(&d.object.replace('/', "-"))
        );
        let mut n = 2;
        while diffs.contains(&name) {
            name = format!(
                "diff/{}/{}-{n}.diff",
                segment(&d.source),
                segment(&d.object.replace('/', "-"))
            );
            n += 1;
        }
        diffs.push(name.clone());
        files.push((name, d.text.clone().into_bytes()));
    }
    diffs.sort();
    let summary = DriftSummary {
        upstream,
        live_version,
        version_warning,
        compared: out.compared,
        changes: out.changes,
        diffs,
        notes: out.notes,
    };
    let mut json = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    json.push(b'\n');
    files.push((DRIFT_SUMMARY_NAME.to_string(), json));
    files.push((
        DRIFT_TEXT_NAME.to_string(),
        text::summary(&summary).into_bytes(),
    ));
    files.sort();
    Result { summary, files }
}

/// How a `diff/` entry is kinded in the manifest.
pub fn file_kind(path: &str) -> FileKind {
    if path.ends_with(".diff") {
        FileKind::Diff
    } else {
        FileKind::Metadata
    }
}

/// The one-line description of the upstream used.
pub fn describe(info: &UpstreamInfo) -> String {
    match info.source.as_str() {
        "none" => "none".into(),
        "helm-release" => format!(
            "helm release {}{}",
            info.name.as_deref().unwrap_or("?"),
            info.version
                .as_deref()
                .map(|v| format!(" (chart {v})"))
                .unwrap_or_default()
        ),
        _ => format!(
            "{} ({}, {} documents)",
            info.name.as_deref().unwrap_or("?"),
            info.version
                .as_deref()
                .map(|v| format!("version {v}"))
                .unwrap_or_else(|| "version unknown".into()),
            info.documents
        ),
    }
}

/// A whole object or service missing from, or extra to, what upstream has.
fn object_change(object: &str, what: &str) -> Change {
    Change {
        source: "upstream".into(),
        object: object.into(),
        category: "object".into(),
        change: what.into(),
        field: String::new(),
        old: None,
        new: None,
        expected: false,
    }
}
