//! Contract: `diff/summary.json`, what this deployment changed from
//! upstream (and from what `kubectl apply` or Helm last set), written by
//! `collect` and computed again by `inspect --diff-upstream`.
//! `docs/bundle-format.md` documents it; inspect's drift findings read it.

use serde::{Deserialize, Serialize};

pub const DRIFT_SUMMARY_NAME: &str = "diff/summary.json";
pub const DRIFT_TEXT_NAME: &str = "diff/summary.txt";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DriftSummary {
    pub upstream: UpstreamInfo,
    /// The Sourcegraph version the live images carry, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_version: Option<String>,
    /// Set when upstream and live versions differ: shown first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_warning: Option<String>,
    /// Objects or services compared with upstream.
    pub compared: u64,
    pub changes: Vec<Change>,
    /// One unified diff per drifted object: entry names under `diff/`.
    #[serde(default)]
    pub diffs: Vec<String>,
    /// What was not compared, and why; how to enable what was skipped.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Which upstream the diff used.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UpstreamInfo {
    /// `path` (--upstream / --diff-upstream), `helm-release`, or `none`.
    pub source: String,
    /// The path's last component, or the release and chart name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sourcegraph version of upstream (its image tags or chart version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Manifest documents (Kubernetes) or services (Compose) read.
    #[serde(default)]
    pub documents: u64,
    /// Files passed over, by reason (`kustomization`, `chart`, `template`,
    /// `not-a-manifest`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skipped: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// What the live state is compared with: `upstream`, `last-applied`
    /// (the object's `kubectl apply` annotation), `helm-manifest`,
    /// `helm-values` (user values against chart defaults), `image-skew`.
    pub source: String,
    /// `Kind/name` (Kubernetes), `service/name` (Compose), `values` (Helm).
    pub object: String,
    /// `object`, `image`, `resources`, `replicas`, `env`, `volume`,
    /// `command`, `restart`, `value`, `other`.
    pub category: String,
    /// `missing`, `extra`, `added`, `removed`, `changed`.
    pub change: String,
    /// Where in the object: `spec.template.spec.containers[frontend].image`.
    #[serde(default)]
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// Image drift explained by the version difference between upstream
    /// and live: expected, grouped apart.
    #[serde(default)]
    pub expected: bool,
}

impl Change {
    /// `Kind/name field: old -> new` (or `added new`, `removed (was old)`,
    /// `missing`): one line for people; the caller escapes it for where
    /// it is shown.
    pub fn describe(&self) -> String {
        let what = match (&self.old, &self.new) {
            (Some(o), Some(n)) => format!("{o} -> {n}"),
            (None, Some(n)) => format!("added {n}"),
            (Some(o), None) => format!("removed (was {o})"),
            (None, None) => self.change.clone(),
        };
        let field = if self.field.is_empty() {
            String::new()
        } else {
            format!(" {}", self.field)
        };
        format!("{}{field}: {what}", self.object)
    }
}
