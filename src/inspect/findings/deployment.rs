//! Findings about the deployment as a whole: nodes under pressure, full
//! volumes, services on different versions, the single container, and the
//! hook for drift against upstream.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Drift, Evidence, Finding, Severity, read_json};
use crate::bundle::Bundle;
use crate::bundle::drift::{Change, DRIFT_SUMMARY_NAME, DRIFT_TEXT_NAME, DriftSummary};
use crate::bundle::instance::{INSTANCE_SUMMARY_NAME, InstanceSummary};
use crate::bundle::sizes::{DISK_USAGE_NAME, DiskUsage, VolumeKind};
use crate::bundle::summary::Row;
use crate::inspect::format_bytes;

const NODES: &str = "kubernetes/cluster/nodes.json";
/// Volumes at or above this percent used are reported; at `FULL` critical.
const NEARLY_FULL: f64 = 85.0;
const FULL: f64 = 95.0;

pub fn nodes(bundle: &mut Bundle, notes: &mut Vec<String>) -> Vec<Finding> {
    let Some(v) = read_json::<Value>(bundle, NODES, notes) else {
        return Vec::new();
    };
    // node_facts writes an array; a raw List has `items`.
    let nodes = v
        .as_array()
        .or_else(|| v["items"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for n in &nodes {
        let name = n["name"]
            .as_str()
            .or_else(|| n["metadata"]["name"].as_str())
            .unwrap_or("?");
        let conds = n["conditions"]
            .as_array()
            .or_else(|| n["status"]["conditions"].as_array());
        for (i, c) in conds.into_iter().flatten().enumerate() {
            let kind = c["type"].as_str().unwrap_or("");
            let status = c["status"].as_str().unwrap_or("");
            let (id, cat, what) = match (kind, status) {
                ("DiskPressure", "True") => (
                    "node-disk-pressure",
                    "storage-disk",
                    "the kubelet is short of disk on this node and evicts pods",
                ),
                ("MemoryPressure", "True") => (
                    "node-memory-pressure",
                    "performance-resources",
                    "the node is short of memory; the kubelet evicts pods",
                ),
                ("PIDPressure", "True") => (
                    "node-pid-pressure",
                    "performance-resources",
                    "the node is running out of process ids",
                ),
                ("Ready", "False" | "Unknown") => (
                    "node-not-ready",
                    "outage-crash",
                    "the node is not ready; pods on it are not running or not reachable",
                ),
                _ => continue,
            };
            let msg = c["message"].as_str().unwrap_or("");
            out.push(
                Finding::new(
                    id,
                    Severity::Critical,
                    cat,
                    format!("node {name}: {kind} is {status}"),
                    what,
                )
                .with(Evidence::field(
                    NODES,
                    &format!("node {name}"),
                    &format!("conditions[{i}].status"),
                    format!("{kind}={status} {msg}").trim().to_string(),
                )),
            );
        }
    }
    out
}

pub fn disks(bundle: &mut Bundle, notes: &mut Vec<String>) -> Vec<Finding> {
    let Some(d) = read_json::<DiskUsage>(bundle, DISK_USAGE_NAME, notes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in &d.volumes {
        let Some(p) = v.used_percent() else { continue };
        if p < NEARLY_FULL {
            continue;
        }
        let sev = if p >= FULL {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let used = v.used_bytes.unwrap_or(0);
        let total = used.saturating_add(v.available_bytes.unwrap_or(0));
        out.push(
            Finding::new(
                "volume-nearly-full",
                sev,
                "storage-disk",
                format!(
                    "volume {} is {p:.0}% full ({} of {})",
                    v.name,
                    format_bytes(used),
                    format_bytes(total)
                ),
                "the volume is nearly full: grow it or free space before writes fail",
            )
            .with(Evidence::field(
                DISK_USAGE_NAME,
                &format!("volumes[name={}]", v.name),
                "used_bytes",
                format!(
                    "used_bytes {used}, available_bytes {}, mounted by {}, measured by {}",
                    v.available_bytes.unwrap_or(0),
                    if v.mounted_by.is_empty() {
                        "-".into()
                    } else {
                        v.mounted_by.join(", ")
                    },
                    v.source
                ),
            )),
        );
    }
    out
}

/// The version tag of a Sourcegraph image (`.../sourcegraph/frontend:6.1.0@sha256:...`).
fn sourcegraph_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next()?;
    let (repo, tag) = image.rsplit_once(':')?;
    if tag.contains('/') || !repo.contains("sourcegraph/") {
        return None;
    }
    Some(tag)
}

pub fn version_skew(rows: &[Row]) -> Vec<Finding> {
    let mut by_tag: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        if let Some(t) = sourcegraph_tag(&r.image) {
            by_tag.entry(t).or_default().push(r);
        }
    }
    if by_tag.len() < 2 {
        return Vec::new();
    }
    let tags: Vec<String> = by_tag
        .iter()
        .map(|(t, rs)| format!("{t} ({})", rs.len()))
        .collect();
    let mut f = Finding::new(
        "version-skew",
        Severity::Warning,
        "upgrade-migration",
        format!(
            "Sourcegraph services run {} different versions: {}",
            by_tag.len(),
            tags.join(", ")
        ),
        "services on different versions usually mean an upgrade that did not finish; every service should run the same release",
    );
    f.count = by_tag.len() as u64;
    for (tag, rs) in &by_tag {
        let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).take(6).collect();
        let more = rs.len().saturating_sub(names.len());
        let mut text = format!("{tag}: {}", names.join(", "));
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        f.evidence.push(Evidence::field(
            "summary.json",
            &format!("rows[name={}]", rs[0].name),
            "image",
            text,
        ));
    }
    vec![f]
}

/// The single `sourcegraph/server` container, with the figures support
/// needs to start the conversation about moving to a supported deployment.
pub fn single_container(
    bundle: &mut Bundle,
    rows: &[Row],
    instance: Option<&InstanceSummary>,
    notes: &mut Vec<String>,
) -> Vec<Finding> {
    let server = rows.iter().find(|r| {
        r.image
            .split('@')
            .next()
            .unwrap_or("")
            .contains("sourcegraph/server")
    });
    let tagged = bundle.manifest().deployment.kind.as_str() == "single-container";
    if !tagged && server.is_none() {
        return Vec::new();
    }
    let mut facts = Vec::new();
    let mut f = Finding::new(
        "single-container-deployment",
        Severity::Warning,
        "deployment-config",
        String::new(),
        "sourcegraph/server runs every service in one container: it is meant for trials, not production; plan a move to Kubernetes or docker-compose",
    );
    f.docs = Some("https://sourcegraph.com/docs/admin/deploy/single-container".into());
    f.evidence.push(Evidence::field(
        "manifest.json",
        "deployment",
        "type",
        format!(
            "deployment type {}",
            bundle.manifest().deployment.kind.as_str()
        ),
    ));
    if let Some(r) = server {
        let mem = match (r.memory_used_bytes, r.memory_limit_bytes) {
            (Some(u), Some(l)) if l > 0 => {
                format!("memory {} of {} limit", format_bytes(u), format_bytes(l))
            }
            (Some(u), _) => format!("memory {}", format_bytes(u)),
            _ => "memory not measured".into(),
        };
        facts.push(mem.clone());
        f.evidence.push(Evidence::field(
            "summary.json",
            &format!("rows[name={}]", r.name),
            "memory_used_bytes",
            format!("{} ({}), {mem}", r.name, r.image),
        ));
    }
    if let Some(d) = read_json::<DiskUsage>(bundle, DISK_USAGE_NAME, notes) {
        for v in d
            .volumes
            .iter()
            .filter(|v| v.kind == VolumeKind::ContainerPath)
        {
            let used = v.used_bytes.map_or("?".into(), format_bytes);
            let of = v
                .capacity_bytes
                .map_or(String::new(), |c| format!(" of {}", format_bytes(c)));
            facts.push(format!("data {used}{of}"));
            f.evidence.push(Evidence::field(
                DISK_USAGE_NAME,
                &format!("volumes[name={}]", v.name),
                "used_bytes",
                format!("{}: {used}{of} used", v.name),
            ));
        }
    }
    if let Some(info) = read_json::<Value>(bundle, "docker/host/info.json", notes)
        && let (Some(mem), Some(cpus)) = (info["MemTotal"].as_u64(), info["NCPU"].as_u64())
    {
        facts.push(format!("host {cpus} CPUs, {}", format_bytes(mem)));
        f.evidence.push(Evidence::field(
            "docker/host/info.json",
            "info",
            "MemTotal",
            format!("NCPU {cpus}, MemTotal {mem}"),
        ));
    }
    // The repository count comes with the instance-API data, when present.
    match instance
        .and_then(|s| s.repository_stats.as_ref())
        .and_then(|r| r.total)
    {
        Some(n) => {
            facts.push(format!("{n} repositories"));
            f.evidence.push(Evidence::field(
                INSTANCE_SUMMARY_NAME,
                "repository_stats",
                "total",
                format!("{n} repositories on the instance"),
            ));
        }
        None => facts.push("repository count not in this bundle".into()),
    }
    f.title = format!(
        "single-container sourcegraph/server deployment: {}",
        facts.join(", ")
    );
    vec![f]
}

/// Entries holding a diff against upstream, and what `diff/summary.json`
/// says of it.
pub fn drift(bundle: &mut Bundle, notes: &mut Vec<String>) -> Drift {
    let entries: Vec<String> = bundle
        .manifest()
        .files
        .iter()
        .filter(|f| f.path.starts_with("diff/") || f.kind.as_str() == "diff")
        .map(|f| f.path.clone())
        .collect();
    let summary: Option<DriftSummary> = super::read_json(bundle, DRIFT_SUMMARY_NAME, notes);
    let Some(sum) = summary else {
        let status = if entries.is_empty() {
            "no diff against upstream in this bundle (collect with --upstream PATH, or run inspect --diff-upstream PATH)".to_string()
        } else {
            format!(
                "{} diff entries present but no readable {DRIFT_SUMMARY_NAME}: drift not evaluated",
                entries.len()
            )
        };
        return Drift {
            entries,
            status,
            ..Drift::default()
        };
    };
    let drifted = |c: &&Change| !c.expected;
    let real: Vec<&Change> = sum.changes.iter().filter(drifted).collect();
    let objects: std::collections::BTreeSet<&str> =
        real.iter().map(|c| c.object.as_str()).collect();
    let expected = sum.changes.len() - real.len();
    let upstream = match sum.upstream.source.as_str() {
        "none" => "no upstream given".to_string(),
        "helm-release" => format!(
            "Helm release {}",
            sum.upstream.name.as_deref().unwrap_or("?")
        ),
        _ => format!(
            "upstream {} {}",
            sum.upstream.name.as_deref().unwrap_or("?"),
            sum.upstream.version.as_deref().unwrap_or("")
        ),
    };
    let status = format!(
        "{upstream}: {} change(s) in {} object(s), {} compared{}",
        real.len(),
        objects.len(),
        sum.compared,
        if expected > 0 {
            format!("; {expected} image change(s) expected from the version difference")
        } else {
            String::new()
        }
    );
    let mut lines = Vec::new();
    if let Some(w) = &sum.version_warning {
        lines.push(format!("WARNING: {w}"));
    }
    for c in real.iter().take(DRIFT_LINES) {
        lines.push(change_line(c));
    }
    if real.len() > DRIFT_LINES {
        lines.push(format!(
            "... and {} more: sg-debug inspect BUNDLE --cat {DRIFT_TEXT_NAME}",
            real.len() - DRIFT_LINES
        ));
    }
    if sum.upstream.source == "none" {
        lines.extend(
            sum.notes
                .iter()
                .filter(|n| n.starts_with("upstream diff skipped"))
                .cloned(),
        );
    }
    Drift {
        entries,
        status,
        lines,
        summary: Some(sum),
    }
}

/// Changes shown in the text summary; the rest are in `diff/summary.txt`.
const DRIFT_LINES: usize = 6;

fn change_line(c: &Change) -> String {
    format!("[{}] {} {}", c.source, c.category, c.describe())
}

/// Findings from `diff/summary.json`: the version warning, and one
/// finding per kind of comparison with every change as evidence.
pub fn drift_findings(d: &Drift) -> Vec<Finding> {
    let Some(sum) = &d.summary else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(w) = &sum.version_warning {
        out.push(
            Finding::new(
                "upstream-version-mismatch",
                Severity::Warning,
                "deployment-config",
                "the upstream compared with is another Sourcegraph version than the deployment".into(),
                "Image tags differ on every service; the diff groups them as expected. Compare with the upstream at the deployment's tag for a meaningful diff.",
            )
            .with(Evidence::field(DRIFT_SUMMARY_NAME, "upstream", "version", w.clone())),
        );
    }
    let sources = [
        (
            "upstream",
            "changed from upstream",
            "What this deployment changed from the upstream it was compared with: resources, replicas, env, images, volumes, missing and extra objects. Customer changes cause many incidents; check these first.",
        ),
        (
            "helm-manifest",
            "edited after the Helm release",
            "Live objects differ from the manifest Helm rendered for the release: someone edited them by hand after `helm upgrade`, and the next upgrade will undo it.",
        ),
        (
            "last-applied",
            "edited after kubectl apply",
            "Live objects differ from their kubectl last-applied configuration: `kubectl edit`, `scale` or `set` changed them after the manifests were applied.",
        ),
        (
            "helm-values",
            "Helm values differ from the chart's defaults",
            "The user-supplied values that override the chart's defaults.",
        ),
        (
            "image-skew",
            "image versions differ between services",
            "Sourcegraph services should all run the same release.",
        ),
    ];
    for (source, title, why) in sources {
        let of: Vec<&Change> = sum
            .changes
            .iter()
            .filter(|c| c.source == source && !c.expected)
            .collect();
        if of.is_empty() {
            continue;
        }
        let serious = of.iter().any(|c| {
            matches!(
                c.category.as_str(),
                "resources" | "replicas" | "volume" | "object" | "image"
            )
        }) && source != "helm-values";
        let objects: std::collections::BTreeSet<&str> =
            of.iter().map(|c| c.object.as_str()).collect();
        let mut f = Finding::new(
            &format!("drift-{source}"),
            if serious {
                Severity::Warning
            } else {
                Severity::Info
            },
            "deployment-config",
            format!(
                "{} change(s) {title}, in {} object(s)",
                of.len(),
                objects.len()
            ),
            why,
        );
        f.count = of.len() as u64;
        for c in of {
            let mut e = Evidence::field(DRIFT_SUMMARY_NAME, &c.object, &c.field, change_line(c));
            if c.field.is_empty() {
                e.field = None;
            }
            f = f.with(e);
        }
        out.push(f);
    }
    out
}
