//! Stage 4, reading a bundle for people: "what is this bundle" in a few
//! lines, the figures behind it, the entry list, and the leak scan.
//! `commands::inspect` chooses which and prints it.

pub mod findings;
pub mod html;
pub mod signatures;
mod template;
pub mod text;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

use anyhow::Result;
use serde::Serialize;

use crate::bundle::{Bundle, Manifest};
use crate::display::{terminal_safe, terminal_safe_lines};

/// Re-reads every entry, the manifest included, with the detection rules.
pub fn scan(
    bundle: &mut Bundle,
    redactor: &crate::redact::Redactor,
) -> Result<(usize, Vec<crate::redact::scan::Hit>)> {
    let mut red = redactor.line_redactor();
    let mut hits = Vec::new();
    let names: Vec<String> = bundle.entries().iter().map(|e| e.name.clone()).collect();
    for name in &names {
        // Streamed, bounded like every read of a bundle: never held whole.
        let entry = io::BufReader::with_capacity(64 << 10, bundle.open_entry(name)?);
        crate::redact::scan::scan(&mut red, name, entry, &mut hits)
            .map_err(|e| anyhow::anyhow!("{}: scanning {name}: {e}", bundle.path()))?;
    }
    Ok((names.len(), hits))
}

/// Figures computed from the manifest, shared by the text and JSON views.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Derived {
    pub files: u64,
    pub bytes: u64,
    pub by_kind: BTreeMap<String, KindTotals>,
    pub redactions: u64,
    pub redactions_by_rule: BTreeMap<String, u64>,
    pub collector_errors: u64,
    pub omitted: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct KindTotals {
    pub files: u64,
    pub bytes: u64,
}

impl Derived {
    pub fn of(m: &Manifest) -> Derived {
        let mut d = Derived::default();
        // Saturating: the reader refuses manifests whose sums overflow,
        // but these figures must not panic whatever they are given.
        for f in &m.files {
            d.files += 1;
            d.bytes = d.bytes.saturating_add(f.bytes);
            let k = d.by_kind.entry(f.kind.as_str().to_string()).or_default();
            k.files += 1;
            k.bytes = k.bytes.saturating_add(f.bytes);
            for (rule, n) in &f.redactions {
                d.redactions = d.redactions.saturating_add(*n);
                let r = d.redactions_by_rule.entry(rule.clone()).or_default();
                *r = r.saturating_add(*n);
            }
        }
        d.collector_errors = m.collectors.iter().map(|c| c.errors.len() as u64).sum();
        d.omitted = m.omitted.len() as u64;
        d
    }
}

pub fn summary(bundle: &Bundle) -> String {
    let m = bundle.manifest();
    let d = Derived::of(m);
    let mut s = String::new();
    // Every field from the manifest is the sender's text: shown escaped,
    // so it cannot move the cursor, fake a line or set the window title.
    let t = |v: &str| terminal_safe(v).into_owned();
    let _ = writeln!(s, "Bundle      {}", t(bundle.path()));
    let mut incident = t(&m.incident.category);
    if crate::category::find(&m.incident.category).is_none() {
        incident.push_str(" (not a known category: see `sg-debug categories`)");
    }
    if let Some(ticket) = &m.incident.ticket {
        let _ = write!(incident, ", ticket {}", t(ticket));
    }
    let _ = writeln!(s, "Incident    {incident}");
    if let Some(n) = &m.incident.note {
        let n = terminal_safe_lines(n);
        let _ = writeln!(s, "Note        {}", n.replace('\n', "\n            "));
    }
    let _ = writeln!(
        s,
        "Collected   {} by {} {}{}",
        m.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        t(&m.tool.name),
        t(&m.tool.version),
        if m.complete {
            ""
        } else {
            "  (INCOMPLETE: collection was interrupted)"
        }
    );
    let dep = &m.deployment;
    let mut line = dep.kind.as_str().to_string();
    if let Some(f) = &dep.flavour {
        let _ = write!(line, " ({})", t(f));
    }
    match &dep.sourcegraph_version {
        Some(v) => {
            let _ = write!(line, ", Sourcegraph {}", t(v));
        }
        None => line.push_str(", Sourcegraph version unknown"),
    }
    let location: Vec<String> = dep
        .location
        .iter()
        .map(|(k, v)| format!("{} {}", t(k), t(v)))
        .collect();
    if !location.is_empty() {
        let _ = write!(line, ", {}", location.join(", "));
    }
    let _ = writeln!(s, "Deployment  {line}");
    for w in &m.warnings {
        let _ = writeln!(s, "WARNING     {}", t(w));
    }
    if m.collectors.is_empty() {
        let _ = writeln!(s, "Collectors  none ran");
    } else {
        let _ = writeln!(s, "Collectors");
        for c in &m.collectors {
            let _ = writeln!(
                s,
                "  {:<16} {:<8} {:>8}  {} error(s)",
                t(&c.name),
                c.status.as_str(),
                format_duration(c.duration_ms),
                c.errors.len()
            );
            for e in &c.errors {
                let _ = writeln!(s, "      {}: {}", t(&e.target), t(&e.message));
            }
            for n in &c.notes {
                let _ = writeln!(s, "      note: {}", t(n));
            }
        }
    }
    let _ = writeln!(
        s,
        "Files       {} files, {}",
        d.files,
        format_bytes(d.bytes)
    );
    for (kind, t) in &d.by_kind {
        let _ = writeln!(
            s,
            "  {:<10} {:>5} files  {:>10}",
            kind,
            t.files,
            format_bytes(t.bytes)
        );
    }
    if !m.omitted.is_empty() {
        let _ = writeln!(s, "Omitted     {} artifact(s) left out", m.omitted.len());
        for o in &m.omitted {
            let _ = writeln!(s, "  {}: {}", t(&o.path), t(&o.reason));
        }
    }
    if d.redactions == 0 {
        let _ = writeln!(s, "Redactions  none");
    } else {
        let rules: Vec<String> = d
            .redactions_by_rule
            .iter()
            .map(|(r, n)| format!("{} {n}", t(r)))
            .collect();
        let _ = writeln!(s, "Redactions  {} ({})", d.redactions, rules.join(", "));
    }
    s
}

pub fn list(bundle: &Bundle) -> String {
    let kinds: BTreeMap<&str, &str> = bundle
        .manifest()
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.kind.as_str()))
        .collect();
    let mut s = String::new();
    for e in bundle.entries() {
        let kind = kinds.get(e.name.as_str()).copied().unwrap_or("-");
        let _ = writeln!(s, "{:>12}  {:<8}  {}", e.size, kind, e.name);
    }
    s
}

pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn format_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_human() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(10 << 20), "10.0 MiB");
    }
}
