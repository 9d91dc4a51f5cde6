//! The ledger's report for a terminal and for a spreadsheet (the page is
//! `html.rs`): text from bundles and engineers is escaped for each.

use std::fmt::Write as _;

use anyhow::Result;
use chrono::{DateTime, Datelike, Utc};

use super::report::LedgerReport;
use crate::display::{spreadsheet_safe, terminal_safe};

fn opt_hours(h: Option<f64>) -> String {
    h.map(|h| format!("{h:.2}")).unwrap_or_else(|| "-".into())
}

/// The report as a table; text from bundles and engineers escaped.
pub fn table(r: &LedgerReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "triage ledger, {}: {} incident(s), {} with effort recorded, {} record(s), {:.2} hours",
        r.period(),
        r.incidents,
        r.with_effort,
        r.records,
        r.hours
    );
    if r.recategorised > 0 {
        let _ = writeln!(
            s,
            "{} incident(s) re-categorised by triage",
            r.recategorised
        );
    }
    for (title, rows) in r.sections() {
        let _ = writeln!(
            s,
            "\n{:<28} {:>9} {:>11} {:>9} {:>10}",
            title.replace('_', " "),
            "incidents",
            "with effort",
            "hours",
            "median h"
        );
        for row in rows {
            let _ = writeln!(
                s,
                "  {:<26} {:>9} {:>11} {:>9.2} {:>10}",
                terminal_safe(&row.value),
                row.incidents,
                row.with_effort,
                row.hours,
                opt_hours(row.median_hours)
            );
        }
    }
    if !r.root_causes.is_empty() {
        let _ = writeln!(s, "\nmost frequent root causes (incidents, hours)");
        for c in &r.root_causes {
            let _ = writeln!(
                s,
                "  {:>4} {:>8.2}  {}",
                c.incidents,
                c.hours,
                terminal_safe(&c.root_cause)
            );
        }
    }
    if !r.documentation_gaps.is_empty() {
        let _ = writeln!(s, "\ndocumentation gaps (incidents, hours)");
        for g in &r.documentation_gaps {
            let link = g.doc_url.as_deref().unwrap_or("(no link given)");
            let _ = writeln!(
                s,
                "  {:>4} {:>8.2}  {}",
                g.incidents,
                g.hours,
                terminal_safe(link)
            );
            for c in &g.root_causes {
                let _ = writeln!(s, "                 - {}", terminal_safe(c));
            }
        }
    }
    s
}

/// `section,value,incidents,with_effort,records,hours,median_hours`;
/// root causes and documentation gaps are sections too. Cells formula-safe.
pub fn csv(r: &LedgerReport, out: impl std::io::Write) -> Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "section",
        "value",
        "incidents",
        "with_effort",
        "records",
        "hours",
        "median_hours",
    ])?;
    for (section, rows) in r.sections() {
        for row in rows {
            w.write_record([
                section,
                &spreadsheet_safe(&row.value),
                &row.incidents.to_string(),
                &row.with_effort.to_string(),
                &row.records.to_string(),
                &format!("{:.2}", row.hours),
                &row.median_hours
                    .map(|h| format!("{h:.2}"))
                    .unwrap_or_default(),
            ])?;
        }
    }
    for c in &r.root_causes {
        w.write_record([
            "root_cause",
            &spreadsheet_safe(&c.root_cause),
            &c.incidents.to_string(),
            &c.incidents.to_string(),
            &c.records.to_string(),
            &format!("{:.2}", c.hours),
            "",
        ])?;
    }
    for g in &r.documentation_gaps {
        w.write_record([
            "documentation_gap",
            &spreadsheet_safe(g.doc_url.as_deref().unwrap_or("")),
            &g.incidents.to_string(),
            &g.incidents.to_string(),
            &g.records.to_string(),
            &format!("{:.2}", g.hours),
            "",
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// When an incident's bundle was collected, for people.
pub fn when(t: &DateTime<Utc>) -> String {
    format!(
        "{}-{:02}-{:02} {}",
        t.year(),
        t.month(),
        t.day(),
        t.format("%H:%M UTC")
    )
}
