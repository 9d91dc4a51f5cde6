//! `sg-debug report`: count bundles so the support team can see where
//! triage effort goes. Only manifests are read; one bad bundle is listed,
//! never fatal.
//!
//! The counting is small enough to live with its command; when the triage
//! ledger arrives it moves to a stage module of its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde::Serialize;

use clap::Args;

use crate::bundle::{Bundle, Manifest};
use crate::category::CATEGORIES;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("format").multiple(false))]
pub struct ReportArgs {
    /// Bundles, or directories searched recursively for *.zip
    #[arg(required = true, value_name = "DIR_OR_BUNDLE")]
    pub inputs: Vec<PathBuf>,
    /// Print as JSON
    #[arg(long, group = "format")]
    pub json: bool,
    /// Print as CSV (dimension,value,bundles)
    #[arg(long, group = "format")]
    pub csv: bool,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Report {
    pub bundles: u64,
    pub by_category: BTreeMap<String, u64>,
    pub by_deployment_type: BTreeMap<String, u64>,
    pub by_sourcegraph_version: BTreeMap<String, u64>,
    pub by_month: BTreeMap<String, u64>,
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Unreadable {
    pub path: String,
    pub error: String,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let files = find_bundles(&args.inputs)?;
    let report = build(&files);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if args.csv {
        print!("{}", csv(&report));
        for u in &report.unreadable {
            eprintln!("unreadable: {}: {}", u.path, u.error);
        }
    } else {
        print!("{}", table(&report));
    }
    Ok(if report.bundles == 0 {
        eprintln!(
            "error: none of the {} file(s) found could be read as a bundle",
            files.len()
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Named files are taken as given (a typo should fail loudly); directories
/// are searched recursively for `*.zip`, in a stable order.
pub fn find_bundles(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = fs::metadata(input).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}: {e}; pass bundles or directories that hold them",
                input.display()
            )
        })?;
        if meta.is_dir() {
            walk(input, &mut out)?;
        } else {
            out.push(input.clone());
        }
    }
    if out.is_empty() {
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        bail!("no bundles (*.zip) found in {}", names.join(", "));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let ft = fs::symlink_metadata(&p)?.file_type();
        if ft.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
            out.push(p);
        }
    }
    Ok(())
}

pub fn build(files: &[PathBuf]) -> Report {
    let mut r = Report::default();
    for c in CATEGORIES {
        r.by_category.insert(c.id.to_string(), 0);
    }
    for path in files {
        match Bundle::open(path) {
            Ok(b) => r.add(b.manifest()),
            Err(e) => r.unreadable.push(Unreadable {
                path: path.display().to_string(),
                error: e.to_string(),
            }),
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

pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} bundle(s) read, {} unreadable",
        r.bundles,
        r.unreadable.len()
    );
    for (title, counts) in r.sections() {
        let _ = writeln!(s, "\n{:<28} {:>7}", title.replace('_', " "), "bundles");
        for (k, n) in counts {
            let _ = writeln!(s, "  {k:<26} {n:>7}");
        }
    }
    if !r.unreadable.is_empty() {
        let _ = writeln!(s, "\nunreadable");
        for u in &r.unreadable {
            let _ = writeln!(s, "  {}: {}", u.path, u.error);
        }
    }
    s
}

pub fn csv(r: &Report) -> String {
    let mut s = String::from("dimension,value,bundles\n");
    for (dim, counts) in r.sections() {
        for (k, n) in counts {
            let _ = writeln!(s, "{dim},{},{n}", csv_field(k));
        }
    }
    s
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("6.12.5040"), "6.12.5040");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
