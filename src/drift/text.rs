//! `diff/summary.txt`: the drift summary for people, grouped the way
//! support reads it (warning first, then missing and extra objects, then
//! changes by kind, expected image drift last and apart).

use std::fmt::Write;

use crate::bundle::drift::{Change, DriftSummary};
use crate::display::terminal_safe;

fn line(c: &Change) -> String {
    terminal_safe(&c.describe()).into_owned()
}

pub fn summary(s: &DriftSummary) -> String {
    let mut t = String::new();
    if let Some(w) = &s.version_warning {
        let _ = writeln!(t, "WARNING: {}\n", terminal_safe(w));
    }
    let _ = writeln!(
        t,
        "upstream: {} ({} objects compared); live version {}",
        terminal_safe(&super::describe(&s.upstream)),
        s.compared,
        s.live_version.as_deref().unwrap_or("unknown")
    );
    for n in &s.notes {
        let _ = writeln!(t, "note: {}", terminal_safe(n));
    }
    let sources = [
        ("upstream", "against upstream"),
        (
            "helm-values",
            "Helm values that differ from the chart's defaults",
        ),
        (
            "helm-manifest",
            "against the Helm release's rendered manifest (edits after helm upgrade)",
        ),
        (
            "last-applied",
            "against kubectl's last-applied configuration (manual edits after kubectl apply)",
        ),
        ("image-skew", "image skew between services"),
    ];
    let mut any = false;
    for (source, title) in sources {
        let of: Vec<&Change> = s.changes.iter().filter(|c| c.source == source).collect();
        if of.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(t, "\n{title}:");
        for (what, label) in [("missing", "missing"), ("extra", "extra")] {
            for c in of
                .iter()
                .filter(|c| c.change == what && c.category == "object")
            {
                let _ = writeln!(t, "  {label:<9} {}", terminal_safe(&c.object));
            }
        }
        for cat in [
            "image",
            "resources",
            "replicas",
            "env",
            "volume",
            "command",
            "restart",
            "value",
            "other",
        ] {
            for c in of.iter().filter(|c| c.category == cat && !c.expected) {
                let _ = writeln!(t, "  {cat:<9} {}", line(c));
            }
        }
        let expected: Vec<&&Change> = of.iter().filter(|c| c.expected).collect();
        if !expected.is_empty() {
            let _ = writeln!(
                t,
                "  expected image drift from the version difference ({}):",
                expected.len()
            );
            for c in expected {
                let _ = writeln!(t, "    {}", line(c));
            }
        }
    }
    if !any {
        let _ = writeln!(t, "\nno drift found");
    }
    if !s.diffs.is_empty() {
        let _ = writeln!(t, "\nunified diffs: {}", s.diffs.join(", "));
    }
    t
}
