//! `inspect --html FILE`: one self-contained page a customer engineer can
//! attach to a ticket. No external assets and no script: styles are
//! inline, and a Content-Security-Policy forbids scripts and loads, so even
//! a mistake in escaping could not run anything. Every string from the
//! bundle goes through `esc`.

use std::fmt::Write as _;

use super::findings::{Evidence, Report};
use super::{Derived, format_bytes};
use crate::bundle::Bundle;
use crate::display::html_escape as esc;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d1d1f;max-width:1200px}\
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top}\
code,pre{font-family:ui-monospace,monospace;font-size:12px}td code{word-break:break-all}pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:4px 6px;margin:2px 0}\
.sev{display:inline-block;min-width:5.5em;font-weight:bold;padding:1px 6px;border-radius:3px;color:#fff}\
.critical{background:#c62828}.warning{background:#ef8f00}.info{background:#1976d2}\
.finding{border:1px solid #ddd;border-radius:4px;padding:8px 10px;margin:8px 0}.muted{color:#666}\
.hint{background:#fff4e5;border:1px solid #ef8f00;padding:6px 10px;border-radius:4px}.bad{color:#c62828;font-weight:bold}";

pub fn page(bundle: &Bundle, r: &Report) -> String {
    let m = bundle.manifest();
    let d = Derived::of(m);
    let mut s = String::new();
    let title = format!("sg-debug: {} ({})", m.incident.category, bundle.top());
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'none'\">\
<title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title)
    );
    let _ = writeln!(s, "<h1>{}</h1>", esc(&title));
    // Incident and deployment.
    let _ = writeln!(s, "<h2>Incident</h2><table>");
    row(&mut s, "Category", &m.incident.category);
    if let Some(t) = &m.incident.ticket {
        row(&mut s, "Ticket", t);
    }
    if let Some(n) = &m.incident.note {
        row(&mut s, "Note", n);
    }
    row(
        &mut s,
        "Collected",
        &format!(
            "{} by {} {}{}",
            m.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            m.tool.name,
            m.tool.version,
            if m.complete { "" } else { " (INCOMPLETE)" }
        ),
    );
    let _ = writeln!(s, "</table>");
    let _ = writeln!(s, "<h2>Deployment</h2><table>");
    row(&mut s, "Type", m.deployment.kind.as_str());
    if let Some(f) = &m.deployment.flavour {
        row(&mut s, "Flavour", f);
    }
    row(
        &mut s,
        "Sourcegraph",
        m.deployment
            .sourcegraph_version
            .as_deref()
            .unwrap_or("unknown"),
    );
    for (k, v) in &m.deployment.location {
        row(&mut s, k, v);
    }
    for w in &m.warnings {
        row(&mut s, "WARNING", w);
    }
    row(
        &mut s,
        "Bundle",
        &format!(
            "{} files, {}; {} log entries, {} lines read",
            d.files,
            format_bytes(d.bytes),
            r.logs.entries,
            r.logs.lines
        ),
    );
    let _ = writeln!(s, "</table>");
    // Findings.
    let _ = writeln!(
        s,
        "<h2 id=\"findings\">Findings ({})</h2>",
        r.findings.len()
    );
    if let Some(h) = &r.category_hint {
        let _ = writeln!(
            s,
            "<p class=\"hint\" id=\"category-hint\">{}</p>",
            esc(&h.message)
        );
    }
    if r.findings.is_empty() {
        let _ = writeln!(
            s,
            "<p>None: nothing in this bundle matched a known problem.</p>"
        );
    }
    for f in &r.findings {
        let _ = writeln!(
            s,
            "<div class=\"finding\" data-id=\"{}\"><span class=\"sev {}\">{}</span> <b>{}</b> <span class=\"muted\">[{}] {}</span>",
            esc(&f.id),
            f.severity.as_str(),
            f.severity.as_str(),
            esc(&f.title),
            esc(&f.category),
            esc(&f.id)
        );
        let _ = writeln!(s, "<div>{}</div>", esc(&f.explanation));
        if let (Some(a), Some(b)) = (&f.first_seen, &f.last_seen) {
            let _ = writeln!(
                s,
                "<div class=\"muted\">seen {} .. {}</div>",
                esc(a),
                esc(b)
            );
        }
        for e in &f.evidence {
            evidence(&mut s, e);
        }
        if let Some(d) = &f.docs {
            // A link the bundle cannot set: docs come from signature files.
            // Only https links become anchors.
            if d.starts_with("https://") {
                let _ = writeln!(s, "<div><a href=\"{}\">{}</a></div>", esc(d), esc(d));
            }
        }
        let _ = writeln!(s, "</div>");
    }
    // Containers.
    let _ = writeln!(s, "<h2>Containers ({})</h2>", r.containers.len());
    if r.containers.is_empty() {
        let _ = writeln!(s, "<p class=\"muted\">No summary.json in this bundle.</p>");
    } else {
        let _ = writeln!(
            s,
            "<table><tr><th>Name</th><th>Image</th><th>State</th><th>Restarts</th><th>Exit</th><th>OOM</th><th>Memory</th><th>Reason</th></tr>"
        );
        let mut rows: Vec<_> = r.containers.iter().collect();
        rows.sort_by_key(|r| (!r.is_unhealthy(), r.name.clone()));
        for c in rows {
            let mem = match (c.memory_used_bytes, c.memory_limit_bytes) {
                (Some(u), Some(l)) => format!("{} / {}", format_bytes(u), format_bytes(l)),
                (Some(u), None) => format_bytes(u),
                _ => "-".into(),
            };
            let reason = [c.reason.as_deref(), c.message.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td><code>{}</code></td><td{}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                esc(&c.image),
                if c.is_unhealthy() {
                    " class=\"bad\""
                } else {
                    ""
                },
                esc(&c.state),
                c.restarts,
                c.exit_code.map_or("-".into(), |x| x.to_string()),
                if c.oom_killed { "yes" } else { "-" },
                esc(&mem),
                esc(&reason)
            );
        }
        let _ = writeln!(s, "</table>");
    }
    // What the instance's API said.
    if let Some(i) = &r.instance {
        let _ = writeln!(
            s,
            "<h2>Instance</h2><p class=\"muted\">{}</p><table>",
            esc(&i.endpoint)
        );
        for (k, v) in super::findings::instance::describe(i) {
            row(&mut s, &k, &v);
        }
        let _ = writeln!(s, "</table>");
    }
    // Drift.
    let _ = writeln!(
        s,
        "<h2>Drift against upstream</h2><p>{}</p>",
        esc(&r.drift.status)
    );
    if !r.drift.lines.is_empty() {
        let _ = writeln!(s, "<ul>");
        for l in &r.drift.lines {
            let _ = writeln!(s, "<li>{}</li>", esc(l));
        }
        let _ = writeln!(s, "</ul>");
    }
    // Top errors.
    let _ = writeln!(s, "<h2 id=\"top\">Top errors and warnings</h2>");
    if r.top_messages.is_empty() {
        let _ = writeln!(
            s,
            "<p class=\"muted\">No error or warning lines in the logs.</p>"
        );
    } else {
        let _ = writeln!(
            s,
            "<table><tr><th>Service</th><th>Level</th><th>Count</th><th>Message (template)</th><th>First</th><th>Last</th><th>Example</th></tr>"
        );
        for t in &r.top_messages {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}:{}</code></td></tr>",
                esc(&t.service),
                if t.level == super::findings::logs::Level::Error {
                    "error"
                } else {
                    "warning"
                },
                t.count,
                esc(&t.template),
                esc(t.first_seen.as_deref().unwrap_or("-")),
                esc(t.last_seen.as_deref().unwrap_or("-")),
                esc(&t.example.entry),
                t.example.line.unwrap_or(0)
            );
        }
        let _ = writeln!(s, "</table>");
    }
    if !r.notes.is_empty() {
        let _ = writeln!(s, "<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = writeln!(s, "<li>{}</li>", esc(n));
        }
        let _ = writeln!(s, "</ul>");
    }
    let _ = writeln!(
        s,
        "<p class=\"muted\">Written by sg-debug {}. Everything above was redacted when the bundle was collected.</p>",
        esc(env!("CARGO_PKG_VERSION"))
    );
    s.push_str("</body></html>\n");
    s
}

fn row(s: &mut String, k: &str, v: &str) {
    let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
}

fn evidence(s: &mut String, e: &Evidence) {
    let place = match (e.line, &e.object, &e.field) {
        (Some(n), _, _) => format!("{}:{n}", e.entry),
        (None, Some(o), Some(f)) => format!("{} {o}.{f}", e.entry),
        _ => e.entry.clone(),
    };
    let _ = writeln!(
        s,
        "<div class=\"evidence\"><span class=\"muted\">{}</span><pre>{}</pre></div>",
        esc(&place),
        esc(&e.text)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_text() {
        assert_eq!(
            esc("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("\"><img onerror=x>"), "&quot;&gt;&lt;img onerror=x&gt;");
        assert_eq!(esc("a&b\u{1b}"), "a&amp;b\u{fffd}");
    }
}
