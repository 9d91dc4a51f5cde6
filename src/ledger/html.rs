//! `report --html FILE`: one self-contained page a team lead reads at a
//! glance: a bar chart (inline SVG) of hours per category, deployment
//! type, version, outcome and month, then the tables, the most frequent
//! root causes and the documentation gaps with their links. No script,
//! no external resource (the Content-Security-Policy forbids both), and
//! every string that came from a bundle or an engineer is escaped.

use std::fmt::Write as _;

use super::report::{LedgerReport, Row};
use crate::display::html_escape as esc;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d1d1f;max-width:1100px}\
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;font-size:13px;margin-top:.5em}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top}\
td.n,th.n{text-align:right}.muted{color:#666}.big{font-size:1.2em}svg text{font:12px system-ui,sans-serif}\
.bar{fill:#1976d2}.empty{fill:#ccc}";

const BAR_WIDTH: f64 = 420.0;
const LABEL_WIDTH: f64 = 230.0;
const ROW_HEIGHT: f64 = 22.0;

pub fn page(r: &LedgerReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>sg-debug triage report</title><style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(s, "<h1>Where triage effort goes</h1>");
    let _ = writeln!(
        s,
        "<p class=\"big\" id=\"totals\">{}: <b>{:.2}</b> hours over <b>{}</b> incident(s) ({} with effort recorded, {} record(s))</p>",
        esc(&r.period()),
        r.hours,
        r.incidents,
        r.with_effort,
        r.records
    );
    if r.recategorised > 0 {
        let _ = writeln!(
            s,
            "<p class=\"muted\">{} incident(s) re-categorised by triage; counted under the new category.</p>",
            r.recategorised
        );
    }
    for (key, rows) in r.sections() {
        let title = key.replace('_', " ");
        let _ = writeln!(
            s,
            "<section id=\"{key}\"><h2>Hours per {}</h2>",
            esc(&title)
        );
        s.push_str(&chart(key, rows));
        table(&mut s, &title, rows);
        s.push_str("</section>\n");
    }
    root_causes(&mut s, r);
    doc_gaps(&mut s, r);
    s.push_str(
        "<p class=\"muted\">Incidents count in the month their bundle was collected; an incident's category and outcome are its latest record's. Median: hours per incident with effort recorded.</p>\n</body></html>\n",
    );
    s
}

/// A horizontal bar per row that has incidents, scaled to the largest;
/// rows with no hours get a thin grey bar so that they still read as
/// present. Long labels are shortened (the table below has them whole).
fn chart(key: &str, rows: &[Row]) -> String {
    let rows: Vec<&Row> = rows.iter().filter(|r| r.incidents > 0).collect();
    let max = rows.iter().map(|r| r.hours).fold(0.0, f64::max);
    let height = ROW_HEIGHT * rows.len() as f64 + 4.0;
    let width = LABEL_WIDTH + BAR_WIDTH + 160.0;
    let mut s = format!(
        "<svg class=\"chart\" data-chart=\"{key}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"hours per {}\">",
        esc(&key.replace('_', " "))
    );
    for (i, r) in rows.iter().enumerate() {
        let y = ROW_HEIGHT * i as f64 + 2.0;
        let w = if max > 0.0 {
            r.hours / max * BAR_WIDTH
        } else {
            0.0
        };
        let (class, w) = if w < 2.0 { ("empty", 2.0) } else { ("bar", w) };
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"{class}\" x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\"><title>{full}: {h:.2} h</title></rect>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{h:.2} h · {n} incident(s)</text>",
            lx = LABEL_WIDTH - 8.0,
            ty = y + 14.0,
            label = esc(&short_label(&r.value)),
            full = esc(&r.value),
            bh = ROW_HEIGHT - 6.0,
            h = r.hours,
            vx = LABEL_WIDTH + w + 6.0,
            n = r.incidents,
        );
    }
    s.push_str("</svg>\n");
    s
}

fn short_label(v: &str) -> String {
    const MAX: usize = 28;
    if v.chars().count() <= MAX {
        return v.to_string();
    }
    let mut out: String = v.chars().take(MAX - 1).collect();
    out.push('…');
    out
}

fn table(s: &mut String, title: &str, rows: &[Row]) {
    let _ = writeln!(
        s,
        "<table><tr><th>{}</th><th class=\"n\">incidents</th><th class=\"n\">with effort</th><th class=\"n\">hours</th><th class=\"n\">median h</th></tr>",
        esc(title)
    );
    for r in rows {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td><td class=\"n\">{}</td></tr>",
            esc(&r.value),
            r.incidents,
            r.with_effort,
            r.hours,
            r.median_hours
                .map(|h| format!("{h:.2}"))
                .unwrap_or_else(|| "–".into())
        );
    }
    s.push_str("</table>\n");
}

fn root_causes(s: &mut String, r: &LedgerReport) {
    s.push_str("<section id=\"root_causes\"><h2>Most frequent root causes</h2>\n");
    if r.root_causes.is_empty() {
        s.push_str("<p class=\"muted\">No root cause recorded yet (<code>triage record --root-cause</code>).</p>");
    } else {
        s.push_str("<table><tr><th>root cause</th><th class=\"n\">incidents</th><th class=\"n\">hours</th></tr>\n");
        for c in &r.root_causes {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td></tr>",
                esc(&c.root_cause),
                c.incidents,
                c.hours
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>\n");
}

fn doc_gaps(s: &mut String, r: &LedgerReport) {
    s.push_str("<section id=\"documentation_gaps\"><h2>Documentation gaps</h2>\n");
    if r.documentation_gaps.is_empty() {
        s.push_str("<p class=\"muted\">None recorded (<code>--outcome documentation-gap</code> or <code>--doc URL</code>).</p>");
    } else {
        s.push_str("<table><tr><th>page</th><th class=\"n\">incidents</th><th class=\"n\">hours</th><th>root causes</th></tr>\n");
        for g in &r.documentation_gaps {
            // Only http(s) links are ever stored (`--doc` checks), and the
            // attribute is escaped all the same.
            let page = match &g.doc_url {
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => format!(
                    "<a href=\"{0}\" rel=\"noopener noreferrer\">{0}</a>",
                    esc(u)
                ),
                Some(u) => esc(u),
                None => "<span class=\"muted\">no link given</span>".into(),
            };
            let causes: Vec<String> = g.root_causes.iter().map(|c| esc(c)).collect();
            let _ = writeln!(
                s,
                "<tr><td>{page}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td><td>{}</td></tr>",
                g.incidents,
                g.hours,
                causes.join("<br>")
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>\n");
}
