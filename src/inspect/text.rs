//! Findings as text for a terminal: severity first, coloured when asked
//! (the caller decides: a terminal without `NO_COLOR`). Every string from
//! the bundle goes through `terminal_safe`.

use std::fmt::Write as _;

use super::findings::logs::Level;
use super::findings::{Report, Severity};
use crate::display::terminal_safe;

/// Top messages shown per service in text (JSON and HTML have more).
const TEXT_TOP: usize = 3;

struct Paint(bool);

impl Paint {
    fn sev(&self, s: Severity) -> String {
        let label = format!("{:<8}", s.as_str().to_uppercase());
        if !self.0 {
            return label;
        }
        let code = match s {
            Severity::Critical => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "36",
        };
        format!("\x1b[{code}m{label}\x1b[0m")
    }

    fn bold(&self, s: &str) -> String {
        if self.0 {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn dim(&self, s: &str) -> String {
        if self.0 {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub fn findings(r: &Report, color: bool) -> String {
    let p = Paint(color);
    let t = |v: &str| terminal_safe(v).into_owned();
    let mut s = String::new();
    let crit = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    let _ = writeln!(
        s,
        "{}  {} finding(s), {crit} critical; {} log entries, {} lines read",
        p.bold("Findings"),
        r.findings.len(),
        r.logs.entries,
        r.logs.lines
    );
    if let Some(h) = &r.category_hint {
        let _ = writeln!(s, "  {} {}", p.bold("Category:"), t(&h.message));
    }
    if r.findings.is_empty() {
        let _ = writeln!(s, "  none: nothing in this bundle matched a known problem");
    }
    for f in &r.findings {
        let _ = writeln!(
            s,
            "  {} [{}] {}",
            p.sev(f.severity),
            t(&f.category),
            t(&f.title)
        );
        let _ = writeln!(s, "           {}", t(&f.explanation));
        if let (Some(a), Some(b)) = (&f.first_seen, &f.last_seen) {
            let _ = writeln!(
                s,
                "           {}",
                p.dim(&format!("seen {} .. {}", t(a), t(b)))
            );
        }
        for e in &f.evidence {
            let place = match (e.line, &e.object, &e.field) {
                (Some(n), _, _) => format!("{}:{n}", e.entry),
                (None, Some(o), Some(fl)) => format!("{} {o}.{fl}", e.entry),
                _ => e.entry.clone(),
            };
            let _ = writeln!(
                s,
                "           {} {}",
                p.dim(&format!("{}:", t(&place))),
                t(&e.text)
            );
        }
        if let Some(d) = &f.docs {
            let _ = writeln!(s, "           {}", p.dim(&t(d)));
        }
    }
    if !r.top_messages.is_empty() {
        let _ = writeln!(s, "{}", p.bold("Top errors and warnings"));
        let mut last: Option<(&str, Level)> = None;
        let mut shown = 0;
        for m in &r.top_messages {
            if last != Some((m.service.as_str(), m.level)) {
                last = Some((m.service.as_str(), m.level));
                shown = 0;
                let _ = writeln!(
                    s,
                    "  {} {}",
                    t(&m.service),
                    if m.level == Level::Error {
                        "errors"
                    } else {
                        "warnings"
                    }
                );
            }
            shown += 1;
            if shown > TEXT_TOP {
                continue;
            }
            let when = match (&m.first_seen, &m.last_seen) {
                (Some(a), Some(b)) => format!(" ({} .. {})", t(a), t(b)),
                _ => String::new(),
            };
            let _ = writeln!(s, "    {:>6}x {}{}", m.count, t(&m.template), p.dim(&when));
        }
    }
    if let Some(i) = &r.instance {
        let _ = writeln!(s, "{}  {}", p.bold("Instance"), t(&i.endpoint));
        for (k, v) in super::findings::instance::describe(i) {
            let _ = writeln!(s, "  {:<13} {}", k, t(&v));
        }
    }
    if !r.drift.entries.is_empty() {
        let _ = writeln!(s, "{}  {}", p.bold("Drift"), t(&r.drift.status));
        for l in &r.drift.lines {
            let _ = writeln!(s, "  {}", t(l));
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "  note: {}", t(n));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::findings::{Evidence, Finding};

    fn report() -> Report {
        let mut f = Finding::new(
            "x",
            Severity::Critical,
            "storage-disk",
            "disk \u{1b}]0;owned\u{7} full".into(),
            "explained",
        );
        f.evidence
            .push(Evidence::field("a.json", "o", "f", "\u{1b}[2Jtext".into()));
        Report {
            findings: vec![f],
            ..Report::default()
        }
    }

    #[test]
    fn colour_only_when_asked_and_bundle_text_is_escaped() {
        let plain = findings(&report(), false);
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(
            plain.contains("CRITICAL [storage-disk] disk \\u{1b}]0;owned\\u{7} full"),
            "{plain}"
        );
        let coloured = findings(&report(), true);
        assert!(coloured.contains("\u{1b}[1;31mCRITICAL"), "{coloured}");
        // The only escapes are ours: the bundle's are shown as text.
        assert!(
            !coloured.contains("\u{1b}]0;") && !coloured.contains("\u{1b}[2J"),
            "{coloured}"
        );
    }
}
