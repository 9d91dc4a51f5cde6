//! Bundle format v1: the manifest and the rules for entry names.
//! `docs/bundle-format.md` and `docs/manifest.schema.json` describe the same
//! thing for people and scripts; keep the three in step.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;
pub use crate::artifact::name::MANIFEST_NAME;
pub use crate::artifact::name::{BundlePath, FileKind, check_relative_name};
pub const TOOL_NAME: &str = "sg-debug";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectorStatus {
    Ok,
    Partial,
    Failed,
    Skipped,
}

impl CollectorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorStatus::Ok => "ok",
            CollectorStatus::Partial => "partial",
            CollectorStatus::Failed => "failed",
            CollectorStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub tool: Tool,
    pub created_at: DateTime<Utc>,
    /// False when collection was interrupted (Ctrl-C, deadline): what is
    /// here is genuine, but something is missing.
    pub complete: bool,
    pub incident: Incident,
    pub deployment: Deployment,
    /// The options the bundle was collected with, as given (after defaults).
    #[serde(default)]
    pub options: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub collectors: Vec<CollectorRecord>,
    #[serde(default)]
    pub files: Vec<FileRecord>,
    /// Artifacts a collector produced that were deliberately left out,
    /// with the reason (for example: could not be redacted safely).
    #[serde(default)]
    pub omitted: Vec<OmittedRecord>,
    /// What must not be missed when reading the bundle, found by comparing
    /// collectors' results (for example: the instance whose API answered
    /// runs another version than the deployment collected).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The independent re-read of every written file for secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leak_scan: Option<LeakScan>,
    /// What the `diff/` entries compare the deployment with; absent in
    /// bundles without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamRecord>,
}

/// The upstream of `diff/`, as `diff/summary.json` records it.
pub use super::drift::UpstreamInfo as UpstreamRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakScan {
    pub files: u64,
    /// Where a rule still matched: path, line and rule, never the text.
    pub hits: Vec<crate::redact::scan::Hit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn this() -> Tool {
        Tool {
            name: TOOL_NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentType {
    Kubernetes,
    DockerCompose,
    PureDocker,
    SingleContainer,
    /// No collector identified the deployment (or none ran).
    Unknown,
}

impl DeploymentType {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentType::Kubernetes => "kubernetes",
            DeploymentType::DockerCompose => "docker-compose",
            DeploymentType::PureDocker => "pure-docker",
            DeploymentType::SingleContainer => "single-container",
            DeploymentType::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    #[serde(rename = "type")]
    pub kind: DeploymentType,
    /// helm, kustomize or legacy for Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavour: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourcegraph_version: Option<String>,
    /// Where it runs: context/namespace, docker host, compose project...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub location: BTreeMap<String, String>,
}

impl Deployment {
    pub fn unknown() -> Deployment {
        Deployment {
            kind: DeploymentType::Unknown,
            flavour: None,
            sourcegraph_version: None,
            location: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectorRecord {
    pub name: String,
    pub status: CollectorStatus,
    pub duration_ms: u64,
    #[serde(default)]
    pub errors: Vec<CollectorError>,
    /// What a user should know that is not an error: why the collector
    /// was skipped and how to enable it, how it reached its source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectorError {
    /// What was being collected: "pods/frontend-abc/logs", "nodes", ...
    pub target: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub kind: FileKind,
    pub collector: String,
    /// Replacements made, by redaction rule id.
    #[serde(default)]
    pub redactions: BTreeMap<String, u64>,
    /// How the file was redacted, when it was not the usual way (for
    /// example: a structured file redacted line by line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OmittedRecord {
    pub path: String,
    pub collector: String,
    pub reason: String,
}

/// `sg-debug-<category>-<yyyymmddThhmmssZ>`: the top folder inside the zip
/// and the default file name, so an extracted bundle names itself.
pub fn bundle_stem(category: &str, at: DateTime<Utc>) -> String {
    format!("sg-debug-{category}-{}", at.format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stem() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T04:05:06Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            bundle_stem("search", at),
            "sg-debug-search-20261125T040506Z"
        );
    }
}
