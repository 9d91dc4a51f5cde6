//! Where the effort goes: the ledger's incidents and records summed per
//! category, deployment type, Sourcegraph version, outcome and month, the
//! most frequent root causes and the documentation gaps. Computed here in
//! Rust from plain rows, so SQLite and PostgreSQL give the same figures.
//!
//! An incident is counted in the period its bundle was collected; its
//! effort is the sum of its records; its category is the latest record's
//! `--category` if any (else the bundle's), its outcome the latest
//! record's. Medians are over the incidents that have effort recorded.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Result, bail};
use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::outcome;
use super::store::{Incident, Lesson, Totals};
use crate::category;

/// `--since`/`--until`, as whole days (or months), inclusive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub since: Option<NaiveDate>,
    /// The first day after the period.
    pub until_exclusive: Option<NaiveDate>,
}

impl Window {
    /// `since` and `until` as `YYYY-MM-DD` or `YYYY-MM` (a month: from its
    /// first day, or through its last).
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Window> {
        let since = since.map(|s| day(s, "--since", false)).transpose()?;
        let until_exclusive = until.map(|s| day(s, "--until", true)).transpose()?;
        if let (Some(a), Some(b)) = (since, until_exclusive)
            && a >= b
        {
            bail!("--since is after --until: the period is empty");
        }
        Ok(Window {
            since,
            until_exclusive,
        })
    }

    /// Unix seconds `[from, to)`.
    pub fn bounds(&self) -> (i64, i64) {
        let secs = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
        (
            self.since.and_then(secs).unwrap_or(i64::MIN),
            self.until_exclusive.and_then(secs).unwrap_or(i64::MAX),
        )
    }
}

fn day(s: &str, flag: &str, end: bool) -> Result<NaiveDate> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(if end { d + chrono::Days::new(1) } else { d });
    }
    if let Ok(d) = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d") {
        return Ok(if end { d + Months::new(1) } else { d });
    }
    bail!("{flag} {s:?} is not a date; write it as YYYY-MM-DD or YYYY-MM")
}

/// One line of a breakdown.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    pub value: String,
    pub incidents: u64,
    /// Incidents with at least one record.
    pub with_effort: u64,
    pub records: u64,
    pub hours: f64,
    /// Median hours per incident with effort; none when there is none.
    pub median_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RootCause {
    pub root_cause: String,
    pub incidents: u64,
    pub records: u64,
    pub hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocGap {
    /// The page named with `--doc`; none when the gap was recorded without one.
    pub doc_url: Option<String>,
    pub incidents: u64,
    pub records: u64,
    pub hours: f64,
    pub root_causes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerReport {
    pub since: Option<String>,
    pub until: Option<String>,
    pub incidents: u64,
    pub with_effort: u64,
    pub records: u64,
    pub hours: f64,
    /// Incidents whose category triage changed.
    pub recategorised: u64,
    pub by_category: Vec<Row>,
    pub by_deployment_type: Vec<Row>,
    pub by_sourcegraph_version: Vec<Row>,
    pub by_outcome: Vec<Row>,
    pub by_month: Vec<Row>,
    pub root_causes: Vec<RootCause>,
    pub documentation_gaps: Vec<DocGap>,
}

/// What an incident adds up to.
struct Tally<'a> {
    incident: &'a Incident,
    seconds: u64,
    records: u64,
    category: &'a str,
    outcome: Option<&'a str>,
}

/// The key an incident without records is counted under in `by_outcome`.
pub const NO_RECORD: &str = "(no record yet)";
const TOP_ROOT_CAUSES: usize = 15;
/// Root causes listed with each documentation gap, the first seen.
const CAUSES_PER_GAP: usize = 5;

pub fn build(window: &Window, totals: &[Totals], lessons: &[Lesson]) -> LedgerReport {
    let mut tallies: Vec<Tally> = totals
        .iter()
        .map(|t| Tally {
            incident: &t.incident,
            seconds: t.effort_seconds,
            records: t.records,
            category: t.category.as_deref().unwrap_or(&t.incident.category),
            outcome: t.outcome.as_deref(),
        })
        .collect();
    tallies.sort_by(|a, b| a.incident.id.cmp(&b.incident.id));

    let breakdown = |key: &dyn Fn(&Tally) -> String, always: &[&str]| -> Vec<Row> {
        let mut groups: BTreeMap<String, Vec<&Tally>> =
            always.iter().map(|k| (k.to_string(), Vec::new())).collect();
        for t in &tallies {
            groups.entry(key(t)).or_default().push(t);
        }
        let mut rows: Vec<Row> = groups.into_iter().map(|(k, ts)| row(k, &ts)).collect();
        // Where the effort goes first; ties by name, so output is stable.
        rows.sort_by(|a, b| {
            b.hours
                .total_cmp(&a.hours)
                .then(b.incidents.cmp(&a.incidents))
                .then(a.value.cmp(&b.value))
        });
        rows
    };
    let categories: Vec<&str> = category::ids();
    let outcomes: Vec<&str> = outcome::ids();
    let by_category = breakdown(&|t| t.category.to_string(), &categories);
    let by_deployment_type = breakdown(
        &|t| match &t.incident.flavour {
            Some(f) => format!("{} ({f})", t.incident.deployment_type),
            None => t.incident.deployment_type.clone(),
        },
        &[],
    );
    let by_sourcegraph_version = breakdown(
        &|t| {
            t.incident
                .sourcegraph_version
                .clone()
                .unwrap_or_else(|| "unknown".into())
        },
        &[],
    );
    let by_outcome = breakdown(&|t| t.outcome.unwrap_or(NO_RECORD).to_string(), &outcomes);
    let mut by_month = breakdown(
        &|t| t.incident.collected_at.format("%Y-%m").to_string(),
        &[],
    );
    by_month.sort_by(|a, b| a.value.cmp(&b.value));

    let total = row(String::new(), &tallies.iter().collect::<Vec<_>>());
    LedgerReport {
        since: window.since.map(|d| d.to_string()),
        until: window
            .until_exclusive
            .map(|d| (d - chrono::Days::new(1)).to_string()),
        incidents: total.incidents,
        with_effort: total.with_effort,
        records: total.records,
        hours: total.hours,
        recategorised: tallies
            .iter()
            .filter(|t| t.category != t.incident.category)
            .count() as u64,
        by_category,
        by_deployment_type,
        by_sourcegraph_version,
        by_outcome,
        by_month,
        root_causes: root_causes(lessons),
        documentation_gaps: doc_gaps(lessons),
    }
}

fn row(value: String, ts: &[&Tally]) -> Row {
    let mut with: Vec<u64> = ts
        .iter()
        .filter(|t| t.records > 0)
        .map(|t| t.seconds)
        .collect();
    with.sort_unstable();
    let median = match with.len() {
        0 => None,
        n if n % 2 == 1 => Some(hours(with[n / 2])),
        n => Some(round2((with[n / 2 - 1] + with[n / 2]) as f64 / 7200.0)),
    };
    Row {
        value,
        incidents: ts.len() as u64,
        with_effort: with.len() as u64,
        records: ts.iter().map(|t| t.records).sum(),
        hours: hours(ts.iter().map(|t| t.seconds).sum()),
        median_hours: median,
    }
}

fn hours(seconds: u64) -> f64 {
    round2(seconds as f64 / 3600.0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Root causes as typed differ in case and spacing; they are counted
/// together and shown as most recently written.
fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[derive(Default)]
struct Group<'a> {
    shown: String,
    incidents: std::collections::BTreeSet<&'a str>,
    records: u64,
    seconds: u64,
    causes: Vec<String>,
    cause_keys: std::collections::HashSet<String>,
}

/// Lessons come oldest first, from the incidents in the period only.
fn root_causes(lessons: &[Lesson]) -> Vec<RootCause> {
    let mut groups: HashMap<String, Group> = HashMap::new();
    for r in lessons {
        let Some(rc) = &r.root_cause else { continue };
        let g = groups.entry(normalise(rc)).or_default();
        g.shown = rc.clone();
        g.incidents.insert(&r.incident_id);
        g.records += 1;
        g.seconds += r.effort_seconds;
    }
    let mut out: Vec<RootCause> = groups
        .into_values()
        .map(|g| RootCause {
            root_cause: g.shown,
            incidents: g.incidents.len() as u64,
            records: g.records,
            hours: hours(g.seconds),
        })
        .collect();
    out.sort_by(|a, b| {
        b.incidents
            .cmp(&a.incidents)
            .then(b.hours.total_cmp(&a.hours))
            .then(a.root_cause.cmp(&b.root_cause))
    });
    out.truncate(TOP_ROOT_CAUSES);
    out
}

/// Records with the `documentation-gap` outcome or a `--doc` link, per link.
fn doc_gaps(lessons: &[Lesson]) -> Vec<DocGap> {
    let mut groups: BTreeMap<Option<String>, Group> = BTreeMap::new();
    for r in lessons {
        if r.outcome != "documentation-gap" && r.doc_url.is_none() {
            continue;
        }
        let g = groups.entry(r.doc_url.clone()).or_default();
        g.incidents.insert(&r.incident_id);
        g.records += 1;
        g.seconds += r.effort_seconds;
        if let Some(rc) = &r.root_cause
            && g.causes.len() < CAUSES_PER_GAP
            && g.cause_keys.insert(normalise(rc))
        {
            g.causes.push(rc.clone());
        }
    }
    let mut out: Vec<DocGap> = groups
        .into_iter()
        .map(|(url, g)| DocGap {
            doc_url: url,
            incidents: g.incidents.len() as u64,
            records: g.records,
            hours: hours(g.seconds),
            root_causes: g.causes,
        })
        .collect();
    out.sort_by(|a, b| {
        b.incidents
            .cmp(&a.incidents)
            .then(b.hours.total_cmp(&a.hours))
    });
    out
}

impl LedgerReport {
    pub fn sections(&self) -> [(&'static str, &[Row]); 5] {
        [
            ("category", &self.by_category),
            ("deployment_type", &self.by_deployment_type),
            ("sourcegraph_version", &self.by_sourcegraph_version),
            ("outcome", &self.by_outcome),
            ("month", &self.by_month),
        ]
    }

    pub fn period(&self) -> String {
        match (&self.since, &self.until) {
            (None, None) => "all time".into(),
            (Some(a), None) => format!("from {a}"),
            (None, Some(b)) => format!("through {b}"),
            (Some(a), Some(b)) => format!("{a} to {b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn periods_are_whole_days_or_months_inclusive() {
        let w = Window::parse(Some("2026-10"), Some("2026-11-15")).unwrap();
        assert_eq!(
            (w.since, w.until_exclusive),
            (d("2026-10-01"), d("2026-11-16"))
        );
        let w = Window::parse(None, Some("2026-12")).unwrap();
        assert_eq!(w.until_exclusive, d("2027-01-01"));
        assert!(Window::parse(Some("2026-11-02"), Some("2026-11-01")).is_err());
        let e = Window::parse(Some("yesterday"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--since") && e.contains("YYYY-MM-DD"), "{e}");
        assert_eq!(Window::default().bounds(), (i64::MIN, i64::MAX));
    }

    fn totals(id: &str, seconds: u64, records: u64) -> Totals {
        Totals {
            incident: Incident {
                id: id.into(),
                category: "search".into(),
                ticket: None,
                deployment_type: "kubernetes".into(),
                flavour: None,
                sourcegraph_version: None,
                collected_at: "2026-11-01T00:00:00Z".parse().unwrap(),
            },
            effort_seconds: seconds,
            records,
            outcome: (records > 0).then(|| "workaround".into()),
            category: None,
        }
    }

    #[test]
    fn medians_are_over_incidents_with_effort() {
        // 1h, 2h, 4h and one incident with no record: median of three.
        let t = [
            totals("a", 3600, 1),
            totals("b", 7200, 2),
            totals("c", 14400, 1),
            totals("d", 0, 0),
        ];
        let r = build(&Window::default(), &t, &[]);
        let search = r.by_category.iter().find(|r| r.value == "search").unwrap();
        assert_eq!(
            (search.incidents, search.with_effort, search.hours),
            (4, 3, 7.0)
        );
        assert_eq!(search.median_hours, Some(2.0));
        // An even count: the mean of the middle two.
        let r = build(&Window::default(), &t[..2], &[]);
        assert_eq!(r.by_month[0].median_hours, Some(1.5));
        let none = r
            .by_category
            .iter()
            .find(|r| r.value == "licensing")
            .unwrap();
        assert_eq!(none.median_hours, None);
    }
}
