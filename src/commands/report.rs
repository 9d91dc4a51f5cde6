//! `sg-debug report`: where triage effort goes. Without arguments it reads
//! the triage ledger (`ledger::report`: hours, incidents and medians per
//! category, deployment type, version, outcome and month; root causes;
//! documentation gaps) as a table, JSON, CSV or an HTML page. Given
//! bundles or directories, it counts those bundles alone, no ledger
//! needed: only manifests are read; one bad bundle is listed, never fatal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use super::triage::LedgerArg;
use crate::UsageError;
use crate::bundle::{Bundle, Manifest};
use crate::category;
use crate::display::{spreadsheet_safe, terminal_safe};
use crate::fsutil::{Partial, with_suffix};
use crate::ledger::{self, Window};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("format").multiple(false))]
pub struct ReportArgs {
    /// Count these bundles (or directories searched recursively for *.zip)
    /// alone, without the ledger
    #[arg(value_name = "DIR_OR_BUNDLE")]
    pub inputs: Vec<PathBuf>,
    /// Print as JSON
    #[arg(long, group = "format")]
    pub json: bool,
    /// Print as CSV (ledger: section,value,incidents,with_effort,records,hours,median_hours;
    /// bundles: dimension,value,bundles)
    #[arg(long, group = "format")]
    pub csv: bool,
    /// Write the ledger report as one self-contained HTML page (bar charts) to FILE
    #[arg(long, value_name = "FILE", group = "format")]
    pub html: Option<PathBuf>,
    /// Only incidents collected on or after this day (YYYY-MM-DD or YYYY-MM)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only incidents collected on or before this day (YYYY-MM-DD or YYYY-MM)
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArg,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Report {
    pub bundles: u64,
    pub by_category: BTreeMap<String, u64>,
    pub by_deployment_type: BTreeMap<String, u64>,
    pub by_sourcegraph_version: BTreeMap<String, u64>,
    pub by_month: BTreeMap<String, u64>,
    pub unreadable: Vec<Unreadable>,
    /// Found but not opened: not regular files, directories that could
    /// not be listed.
    pub skipped: Vec<Unreadable>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Unreadable {
    pub path: String,
    pub error: String,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    if args.inputs.is_empty() {
        return ledger_report(args);
    }
    if args.html.is_some()
        || args.since.is_some()
        || args.until.is_some()
        || args.ledger.ledger.is_some()
    {
        return Err(UsageError(
            "--html, --since, --until and --ledger report on the triage ledger: leave out DIR_OR_BUNDLE (index bundles first with `sg-debug triage import DIR`)".into(),
        )
        .into());
    }
    let found = find_bundles(&args.inputs)?;
    let mut report = build(&found.files);
    report.skipped = found.skipped;
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else if args.csv {
        csv(&report, &mut out)?;
        for u in report.unreadable.iter().chain(&report.skipped) {
            eprintln!(
                "unreadable: {}: {}",
                terminal_safe(&u.path),
                terminal_safe(&u.error)
            );
        }
    } else {
        write!(out, "{}", table(&report))?;
    }
    Ok(if report.bundles == 0 {
        eprintln!(
            "error: none of the {} file(s) found could be read as a bundle",
            found.files.len()
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn ledger_report(args: ReportArgs) -> Result<ExitCode> {
    let window = Window::parse(args.since.as_deref(), args.until.as_deref())
        .map_err(|e| UsageError(e.to_string()))?;
    let mut l = args.ledger.open_existing()?;
    let (incidents, records) = l.load(&window)?;
    let r = ledger::report::build(&window, &incidents, &records);
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
    } else if args.csv {
        ledger::text::csv(&r, &mut out)?;
    } else if let Some(path) = &args.html {
        // Owner-only and complete or absent: the page holds customer text.
        let (partial, mut f) = Partial::file(with_suffix(path, ".partial"))?;
        f.write_all(ledger::html::page(&r).as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
        partial.commit(path)?;
        writeln!(
            out,
            "wrote {} ({} incidents, {:.2} hours)",
            path.display(),
            r.incidents,
            r.hours
        )?;
    } else {
        write!(out, "{}", ledger::text::table(&r))?;
    }
    if r.incidents == 0 {
        eprintln!(
            "note: the ledger {} has no incidents {}; add some with `sg-debug triage record` or `sg-debug triage import`",
            l.location(),
            r.period()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What a search of the inputs found: bundles to read, and what was passed
/// over with the reason (not a regular file, a directory that cannot be
/// listed).
pub struct Found {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<Unreadable>,
}

/// Named files are taken as given (a typo should fail loudly); directories
/// are searched recursively for `*.zip`, in a stable order. Only regular
/// files are ever opened: a FIFO named like a bundle would block forever.
pub fn find_bundles(inputs: &[PathBuf]) -> Result<Found> {
    let mut found = Found {
        files: Vec::new(),
        skipped: Vec::new(),
    };
    for input in inputs {
        let meta = fs::metadata(input).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}: {e}; pass bundles or directories that hold them",
                input.display()
            )
        })?;
        if meta.is_dir() {
            walk(input, &mut found);
        } else if meta.is_file() {
            found.files.push(input.clone());
        } else {
            bail!(
                "{} is not a regular file (a FIFO, socket or device?); pass bundles or directories that hold them",
                input.display()
            );
        }
    }
    if found.files.is_empty() {
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        let skipped = match found.skipped.len() {
            0 => String::new(),
            n => format!(" ({n} passed over: {})", found.skipped[0].error),
        };
        bail!("no bundles (*.zip) found in {}{skipped}", names.join(", "));
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Found) {
    fn skip(found: &mut Found, p: &Path, why: String) {
        found.skipped.push(Unreadable {
            path: p.display().to_string(),
            error: why,
        })
    }
    let listing = match fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => return skip(found, dir, format!("cannot list this directory: {e}")),
    };
    let mut entries: Vec<PathBuf> = listing.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let Ok(meta) = fs::symlink_metadata(&p) else {
            skip(found, &p, "vanished while listing".into());
            continue;
        };
        let ft = meta.file_type();
        let is_zip = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if ft.is_dir() {
            walk(&p, found);
        } else if !is_zip {
            continue;
        } else if ft.is_file() {
            found.files.push(p);
        } else {
            skip(
                found,
                &p,
                "not a regular file (a FIFO, socket, device or link): not opened".into(),
            );
        }
    }
}

pub fn build(files: &[PathBuf]) -> Report {
    let mut r = Report::default();
    for c in category::all() {
        r.by_category.insert(c.id.to_string(), 0);
    }
    for path in files {
        let fail = |error: String| Unreadable {
            path: path.display().to_string(),
            error,
        };
        match Bundle::open(path) {
            // Counting a made-up category would put free text where the
            // taxonomy is: the bundle is listed, not counted.
            Ok(b) if category::find(&b.manifest().incident.category).is_none() => {
                r.unreadable.push(fail(format!(
                    "its category {:?} is not one of sg-debug's (see `sg-debug categories`; a team's own come from a file named by SG_DEBUG_CATEGORIES); not counted",
                    b.manifest().incident.category
                )))
            }
            Ok(b) => r.add(b.manifest()),
            Err(e) => r.unreadable.push(fail(e.to_string())),
        }
    }
    r
}
impl Report {
    fn add(&mut self, m: &Manifest) {
        self.bundles += 1;
        *self
            .by_category
            .entry(m.incident.category.clone())
            .or_default() += 1;
        let mut kind = m.deployment.kind.as_str().to_string();
        if let Some(f) = &m.deployment.flavour {
            let _ = write!(kind, " ({f})");
        }
        *self.by_deployment_type.entry(kind).or_default() += 1;
        let version = m
            .deployment
            .sourcegraph_version
            .clone()
            .unwrap_or_else(|| "unknown".into());
        *self.by_sourcegraph_version.entry(version).or_default() += 1;
        *self
            .by_month
            .entry(m.created_at.format("%Y-%m").to_string())
            .or_default() += 1;
    }

    fn sections(&self) -> [(&'static str, &BTreeMap<String, u64>); 4] {
        [
            ("category", &self.by_category),
            ("deployment_type", &self.by_deployment_type),
            ("sourcegraph_version", &self.by_sourcegraph_version),
            ("month", &self.by_month),
        ]
    }
}

/// Values come from bundles (versions, flavours): shown escaped.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} bundle(s) read, {} unreadable, {} passed over",
        r.bundles,
        r.unreadable.len(),
        r.skipped.len()
    );
    for (title, counts) in r.sections() {
        let _ = writeln!(s, "\n{:<28} {:>7}", title.replace('_', " "), "bundles");
        for (k, n) in counts {
            let _ = writeln!(s, "  {:<26} {n:>7}", terminal_safe(k));
        }
    }
    for (title, list) in [("unreadable", &r.unreadable), ("passed over", &r.skipped)] {
        if !list.is_empty() {
            let _ = writeln!(s, "\n{title}");
            for u in list {
                let _ = writeln!(
                    s,
                    "  {}: {}",
                    terminal_safe(&u.path),
                    terminal_safe(&u.error)
                );
            }
        }
    }
    s
}

/// `dimension,value,bundles`; every value formula-safe.
pub fn csv(r: &Report, out: impl Write) -> Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(["dimension", "value", "bundles"])?;
    for (dim, counts) in r.sections() {
        for (k, n) in counts {
            w.write_record([dim, &spreadsheet_safe(k), &n.to_string()])?;
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_runs_no_formula() {
        let mut r = Report::default();
        r.by_sourcegraph_version.insert("6.12.5040".into(), 1);
        r.by_sourcegraph_version.insert("a,\"b\"".into(), 2);
        r.by_deployment_type
            .insert("=HYPERLINK(\"http://x\")".into(), 3);
        let mut out = Vec::new();
        csv(&r, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("sourcegraph_version,6.12.5040,1\n"), "{text}");
        assert!(
            text.contains("sourcegraph_version,\"a,\"\"b\"\"\",2\n"),
            "{text}"
        );
        assert!(
            text.contains("deployment_type,\"'=HYPERLINK(\"\"http://x\"\")\",3\n"),
            "{text}"
        );
    }
}
