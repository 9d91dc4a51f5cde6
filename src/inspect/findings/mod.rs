//! Findings: what is wrong in a bundle, each with a severity, the evidence
//! (entry and line, or object and field) and the incident category it
//! points to. Sources are plain functions over the bundle's contracts
//! (`summary.json`, `disk-usage.json`, `instance/summary.json`), the
//! Kubernetes objects, and the
//! logs, streamed line by line; `analyze` runs them all.

mod containers;
mod deployment;
mod events;
pub mod instance;
mod lines;
pub mod logs;

use std::collections::BTreeMap;

use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::signatures::Signatures;
use crate::bundle::Bundle;
use crate::bundle::instance::{INSTANCE_SUMMARY_NAME, InstanceSummary};
use crate::bundle::summary::Row;

pub use logs::TopMessage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// Where a finding comes from: an entry of the bundle and either a line
/// (logs) or an object and field (JSON documents).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evidence {
    pub entry: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What the entry says there, cut to a few hundred bytes.
    pub text: String,
}

impl Evidence {
    pub fn field(entry: &str, object: &str, field: &str, text: String) -> Evidence {
        Evidence {
            entry: entry.into(),
            line: None,
            object: Some(object.into()),
            field: Some(field.into()),
            text,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    pub category: String,
    /// One line saying what was found, naming the container, volume, node...
    pub title: String,
    pub explanation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// How many times it was seen (log lines, containers).
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    pub evidence: Vec<Evidence>,
}

impl Finding {
    pub fn new(
        id: &str,
        severity: Severity,
        category: &str,
        title: String,
        explanation: &str,
    ) -> Finding {
        Finding {
            id: id.into(),
            severity,
            category: category.into(),
            title,
            explanation: explanation.into(),
            docs: None,
            count: 1,
            first_seen: None,
            last_seen: None,
            evidence: Vec::new(),
        }
    }

    fn with(mut self, e: Evidence) -> Finding {
        self.evidence.push(e);
        self
    }
}

/// The bundle was tagged with one category but the findings weigh more
/// towards another.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CategoryHint {
    pub tagged: String,
    pub points_to: String,
    pub message: String,
}

#[derive(Debug, Default, Serialize)]
pub struct LogStats {
    pub entries: u64,
    pub bytes: u64,
    pub lines: u64,
    /// Lines longer than the bound, read only up to it.
    pub long_lines: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub top_messages: Vec<TopMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_hint: Option<CategoryHint>,
    /// The containers as `summary.json` lists them (the HTML table).
    pub containers: Vec<Row>,
    /// Drift against upstream: what the bundle holds of it.
    pub drift: Drift,
    /// What the instance's API said (`instance/summary.json`), when the
    /// bundle has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceSummary>,
    pub logs: LogStats,
    /// What could not be read, and why (never fatal).
    pub notes: Vec<String>,
}

/// Drift against upstream, from `diff/summary.json` (the contract in
/// `bundle::drift`): the entries, one status line, and a few lines of
/// summary for text and HTML.
#[derive(Debug, Default, Serialize)]
pub struct Drift {
    pub entries: Vec<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<crate::bundle::drift::DriftSummary>,
}

/// Runs every finding source over the bundle.
pub fn analyze(bundle: &mut Bundle, sigs: &Signatures) -> Result<Report> {
    let mut r = Report::default();
    let summary: Option<crate::bundle::summary::Summary> =
        read_json(bundle, "summary.json", &mut r.notes);
    let rows = summary.map(|s| s.rows).unwrap_or_default();
    let pods: Option<containers::PodList> =
        read_json(bundle, "kubernetes/namespace/pods.json", &mut r.notes);
    r.findings
        .extend(containers::findings(&rows, pods.as_ref()));
    let events: Option<events::EventList> = read_json(bundle, events::EVENTS, &mut r.notes);
    r.findings.extend(events::findings(events.as_ref()));
    r.findings.extend(deployment::nodes(bundle, &mut r.notes));
    r.findings.extend(deployment::disks(bundle, &mut r.notes));
    r.findings.extend(deployment::version_skew(&rows));
    let instance: Option<InstanceSummary> = read_json(bundle, INSTANCE_SUMMARY_NAME, &mut r.notes);
    if let Some(s) = &instance {
        r.findings
            .extend(instance::findings(s, bundle.manifest().created_at));
    }
    r.findings.extend(deployment::single_container(
        bundle,
        &rows,
        instance.as_ref(),
        &mut r.notes,
    ));
    r.instance = instance;
    r.drift = deployment::drift(bundle, &mut r.notes);
    r.findings.extend(deployment::drift_findings(&r.drift));
    let scan = logs::scan(bundle, sigs)?;
    r.findings.extend(scan.findings);
    r.top_messages = scan.top;
    r.logs = scan.stats;
    r.notes.extend(scan.notes);
    r.findings.sort_by(|a, b| {
        (a.severity, &a.category, &a.id, &a.title).cmp(&(b.severity, &b.category, &b.id, &b.title))
    });
    r.category_hint = category_hint(&bundle.manifest().incident.category, &r.findings);
    r.containers = rows;
    Ok(r)
}

/// The category the findings weigh most towards, when it is not the one
/// the bundle was tagged with. Critical counts three, warning one; info
/// findings say nothing about the incident.
pub fn category_hint(tagged: &str, findings: &[Finding]) -> Option<CategoryHint> {
    let mut weight: BTreeMap<&str, u64> = BTreeMap::new();
    for f in findings {
        let w = match f.severity {
            Severity::Critical => 3,
            Severity::Warning => 1,
            Severity::Info => 0,
        };
        *weight.entry(f.category.as_str()).or_default() += w;
    }
    let (top, w) = weight
        .iter()
        .max_by_key(|(c, w)| (**w, std::cmp::Reverse(**c)))?;
    if *w == 0 || *top == tagged || weight.get(tagged).copied().unwrap_or(0) >= *w {
        return None;
    }
    Some(CategoryHint {
        tagged: tagged.into(),
        points_to: top.to_string(),
        message: format!("tagged {tagged}; evidence points to {top}"),
    })
}

/// JSON documents the collectors write are small; one larger than this is
/// not read (a hostile bundle could declare anything up to the entry cap).
const MAX_JSON_BYTES: u64 = 64 << 20;

/// An optional JSON entry: absent is None; unreadable is None with a note.
fn read_json<T: DeserializeOwned>(
    bundle: &mut Bundle,
    name: &str,
    notes: &mut Vec<String>,
) -> Option<T> {
    let size = bundle.entries().iter().find(|e| e.name == name)?.size;
    if size > MAX_JSON_BYTES {
        notes.push(format!(
            "{name}: {size} bytes, larger than the {MAX_JSON_BYTES} read for findings; skipped"
        ));
        return None;
    }
    let parsed = bundle
        .open_entry(name)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            serde_json::from_reader(std::io::BufReader::new(r)).map_err(|e| json_error(&e))
        });
    match parsed {
        Ok(v) => Some(v),
        Err(e) => {
            notes.push(format!("{name}: not read for findings: {e}"));
            None
        }
    }
}

/// Position and kind only: serde's messages can quote the document.
fn json_error(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}
