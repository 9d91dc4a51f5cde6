//! The logs, streamed once: every line is matched against the signatures,
//! and error and warning lines are grouped by template per service. Lines
//! are read up to `MAX_LINE` bytes (the rest is skipped), so memory does
//! not depend on the log's size; groups are bounded too.

use std::collections::HashMap;
use std::io::BufReader;

use anyhow::Result;
use serde::Serialize;

pub use super::lines::Level;
use super::lines::{parse_line, quick_level, read_line_bounded};
use super::{Evidence, Finding, LogStats};
use crate::bundle::Bundle;
use crate::inspect::signatures::Signatures;
use crate::inspect::template::{cut, template};

/// Bytes of a line looked at; longer lines are counted and cut.
pub const MAX_LINE: usize = 64 << 10;
/// Evidence shown per signature, and bytes of each line quoted.
const EVIDENCE_PER_FINDING: usize = 3;
const EXCERPT: usize = 300;
/// Distinct (service, level, template) groups kept. A log of random
/// messages cannot grow memory past this; later new templates are counted
/// as dropped.
const MAX_GROUPS: usize = 20_000;
/// Top messages kept per service and level.
pub const TOP_PER_SERVICE: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct TopMessage {
    pub service: String,
    pub level: Level,
    pub template: String,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// The first line with this template.
    pub example: Evidence,
}

pub struct Scan {
    pub findings: Vec<Finding>,
    pub top: Vec<TopMessage>,
    pub stats: LogStats,
    pub notes: Vec<String>,
}

#[derive(Default)]
struct Hits {
    count: u64,
    /// The services it was seen in, in order (a few are named).
    services: Vec<String>,
    first: Option<String>,
    last: Option<String>,
    evidence: Vec<Evidence>,
}

struct Group {
    count: u64,
    first: Option<String>,
    last: Option<String>,
    example: Evidence,
}

pub fn scan(bundle: &mut Bundle, sigs: &Signatures) -> Result<Scan> {
    let logs: Vec<String> = bundle
        .manifest()
        .files
        .iter()
        .filter(|f| f.kind.as_str() == "log")
        .map(|f| f.path.clone())
        .collect();
    let mut hits: Vec<Hits> = (0..sigs.list.len()).map(|_| Hits::default()).collect();
    let mut groups: HashMap<(String, Level, String), Group> = HashMap::new();
    let mut dropped_groups = 0u64;
    let mut stats = LogStats::default();
    let mut notes = Vec::new();
    let mut line = Vec::with_capacity(8 << 10);
    let mut matched = Vec::new();
    for path in &logs {
        let service = service_of(path);
        let reader = match bundle.open_entry(path) {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("{path}: not read for findings: {e}"));
                continue;
            }
        };
        stats.entries += 1;
        let mut reader = BufReader::with_capacity(256 << 10, reader);
        let mut n = 0u64;
        loop {
            let (read, long) = match read_line_bounded(&mut reader, &mut line, MAX_LINE) {
                Ok(x) => x,
                Err(e) => {
                    notes.push(format!("{path}: reading stopped at line {n}: {e}"));
                    break;
                }
            };
            if read == 0 {
                break;
            }
            n += 1;
            stats.bytes += read as u64;
            stats.long_lines += long as u64;
            sigs.matches(&line, &mut matched);
            let level = quick_level(&line);
            if matched.is_empty() && level.is_none() {
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let parsed = parse_line(&text);
            let evidence = || Evidence {
                entry: path.clone(),
                line: Some(n),
                object: None,
                field: None,
                text: cut(text.trim_end(), EXCERPT).to_string(),
            };
            {
                for &i in &matched {
                    let h = &mut hits[i];
                    h.count += 1;
                    let svc = parsed.process.as_ref().unwrap_or(&service);
                    if h.services.len() < 4 && !h.services.contains(svc) {
                        h.services.push(svc.clone());
                    }
                    seen(&mut h.first, &mut h.last, parsed.time.as_deref());
                    if h.evidence.len() < EVIDENCE_PER_FINDING {
                        h.evidence.push(evidence());
                    }
                }
            }
            if let Some(level) = parsed.level {
                let svc = parsed.process.clone().unwrap_or_else(|| service.clone());
                let key = (svc, level, template(&parsed.message));
                if let Some(g) = groups.get_mut(&key) {
                    g.count += 1;
                    seen(&mut g.first, &mut g.last, parsed.time.as_deref());
                } else if groups.len() < MAX_GROUPS {
                    let mut g = Group {
                        count: 1,
                        first: None,
                        last: None,
                        example: evidence(),
                    };
                    seen(&mut g.first, &mut g.last, parsed.time.as_deref());
                    groups.insert(key, g);
                } else {
                    dropped_groups += 1;
                }
            }
        }
        stats.lines += n;
    }
    if dropped_groups > 0 {
        notes.push(format!(
            "{dropped_groups} error/warning lines had templates beyond the first {MAX_GROUPS} and are not grouped"
        ));
    }
    let mut findings = Vec::new();
    for (sig, h) in sigs.list.iter().zip(hits) {
        if h.count == 0 {
            continue;
        }
        let mut f = Finding::new(
            &sig.id,
            sig.severity,
            &sig.category,
            format!(
                "{}: {} line{} in {}",
                sig.id,
                h.count,
                if h.count == 1 { "" } else { "s" },
                h.services.join(", ")
            ),
            &sig.explanation,
        );
        f.docs = Some(sig.docs.clone());
        f.count = h.count;
        f.first_seen = h.first;
        f.last_seen = h.last;
        f.evidence = h.evidence;
        findings.push(f);
    }
    Ok(Scan {
        findings,
        top: top_messages(groups),
        stats,
        notes,
    })
}

fn seen(first: &mut Option<String>, last: &mut Option<String>, t: Option<&str>) {
    let Some(t) = t else { return };
    if first.as_deref().is_none_or(|f| t < f) {
        *first = Some(t.to_string());
    }
    if last.as_deref().is_none_or(|l| t > l) {
        *last = Some(t.to_string());
    }
}

fn top_messages(groups: HashMap<(String, Level, String), Group>) -> Vec<TopMessage> {
    let mut all: Vec<TopMessage> = groups
        .into_iter()
        .map(|((service, level, template), g)| TopMessage {
            service,
            level,
            template,
            count: g.count,
            first_seen: g.first,
            last_seen: g.last,
            example: g.example,
        })
        .collect();
    all.sort_by(|a, b| {
        (&a.service, a.level, std::cmp::Reverse(a.count), &a.template).cmp(&(
            &b.service,
            b.level,
            std::cmp::Reverse(b.count),
            &b.template,
        ))
    });
    let mut kept: HashMap<(String, Level), usize> = HashMap::new();
    all.retain(|m| {
        let n = kept.entry((m.service.clone(), m.level)).or_default();
        *n += 1;
        *n <= TOP_PER_SERVICE
    });
    all
}

/// The service a log belongs to, from where the collector put it.
pub fn service_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["kubernetes", "pods", _pod, file] => file
            .trim_end_matches(".log")
            .trim_end_matches(".previous")
            .to_string(),
        ["docker", "containers", name, _] => name.to_string(),
        ["server", "logs", .., file] => file.trim_end_matches(".log").to_string(),
        [.., file] => file
            .trim_end_matches(".log")
            .trim_end_matches(".txt")
            .to_string(),
        [] => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_from_paths() {
        assert_eq!(
            service_of("kubernetes/pods/gitserver-0/gitserver.previous.log"),
            "gitserver"
        );
        assert_eq!(
            service_of("docker/containers/sourcegraph-frontend-0/logs.txt"),
            "sourcegraph-frontend-0"
        );
        assert_eq!(
            service_of("server/logs/var/opt/sourcegraph/frontend.log"),
            "frontend"
        );
    }
}
