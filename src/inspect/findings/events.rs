//! Findings from the namespace's Kubernetes events: what the kubelet and
//! controllers said went wrong that the containers' state does not show
//! (evictions, volumes that would not mount, failed probes).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Evidence, Finding, Severity};

pub const EVENTS: &str = "kubernetes/namespace/events.json";
const EVIDENCE: usize = 3;

/// Only what findings need of an event; the rest is skipped, not held.
#[derive(Debug, Default, Deserialize)]
pub struct EventList {
    #[serde(default)]
    items: Vec<Event>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Event {
    reason: String,
    message: String,
    #[serde(rename = "type")]
    kind: String,
    count: Option<u64>,
    involved_object: Object,
    first_timestamp: Option<String>,
    last_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Object {
    kind: String,
    name: String,
}

/// Event reasons worth a finding: id, severity, category, explanation.
const REASONS: &[(&str, &str, Severity, &str, &str)] = &[
    (
        "Evicted",
        "pod-evicted",
        Severity::Critical,
        "performance-resources",
        "the kubelet evicted pods to reclaim memory or disk on their node",
    ),
    (
        "FailedMount",
        "volume-mount-failed",
        Severity::Critical,
        "storage-disk",
        "a volume could not be mounted, so the pod cannot start",
    ),
    (
        "FailedAttachVolume",
        "volume-mount-failed",
        Severity::Critical,
        "storage-disk",
        "a volume could not be attached to the node, so the pod cannot start",
    ),
    (
        "ProvisioningFailed",
        "volume-provisioning-failed",
        Severity::Critical,
        "storage-disk",
        "a claim could not get a volume from its storage class",
    ),
    (
        "Unhealthy",
        "probe-failed",
        Severity::Warning,
        "outage-crash",
        "readiness or liveness probes fail: the service is not answering as Kubernetes expects",
    ),
];

pub fn findings(events: Option<&EventList>) -> Vec<Finding> {
    let mut by_id: BTreeMap<&str, Finding> = BTreeMap::new();
    for (i, e) in events.into_iter().flat_map(|l| l.items.iter().enumerate()) {
        if e.kind != "Warning" {
            continue;
        }
        let Some((reason, id, sev, cat, what)) = REASONS.iter().find(|r| r.0 == e.reason) else {
            continue;
        };
        let f = by_id.entry(id).or_insert_with(|| {
            let mut f = Finding::new(id, *sev, cat, String::new(), what);
            f.count = 0;
            f
        });
        f.count += e.count.unwrap_or(1).max(1);
        for t in [&e.first_timestamp, &e.last_timestamp]
            .into_iter()
            .flatten()
        {
            if f.first_seen.as_ref().is_none_or(|s| t < s) {
                f.first_seen = Some(t.clone());
            }
            if f.last_seen.as_ref().is_none_or(|s| t > s) {
                f.last_seen = Some(t.clone());
            }
        }
        let object = format!("{} {}", e.involved_object.kind, e.involved_object.name);
        if f.evidence.len() < EVIDENCE
            && !f
                .evidence
                .iter()
                .any(|x| x.object.as_deref() == Some(object.as_str()))
        {
            let text = format!(
                "{reason}: {}",
                crate::inspect::template::cut(&e.message, 280)
            );
            f.evidence.push(Evidence::field(
                EVENTS,
                &object,
                &format!("items[{i}].reason"),
                text,
            ));
        }
    }
    by_id
        .into_values()
        .map(|mut f| {
            let objects: Vec<String> = f.evidence.iter().filter_map(|e| e.object.clone()).collect();
            f.title = format!("{}: {} event(s), {}", f.id, f.count, objects.join(", "));
            f
        })
        .collect()
}
