//! `sg-debug inspect BUNDLE`: findings then the summary by default; one
//! action instead with a flag (entries, one entry, verification, leak scan,
//! extraction, JSON for scripts, an HTML page for a ticket).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use std::collections::BTreeMap;

use crate::bundle::Bundle;
use crate::bundle::drift::DRIFT_TEXT_NAME;
use crate::display::terminal_safe;
use crate::drift;
use crate::fsutil::{Partial, cleanup, with_suffix};
use crate::inspect;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").multiple(false))]
pub struct InspectArgs {
    /// The bundle (.zip) to open
    pub bundle: PathBuf,
    /// Print the manifest, derived figures and findings as JSON
    /// (schema: docs/findings.md)
    #[arg(long, group = "action")]
    pub json: bool,
    /// Write the findings as one self-contained HTML page to FILE
    #[arg(long, value_name = "FILE", group = "action")]
    pub html: Option<PathBuf>,
    /// Only the summary, from the manifest alone: no findings, no logs read
    #[arg(long, group = "action")]
    pub summary: bool,
    /// Add log signatures from a YAML file (format: signatures/README.md);
    /// repeatable
    #[arg(long = "signatures", value_name = "FILE")]
    pub signatures: Vec<PathBuf>,
    /// List entries with their sizes
    #[arg(long, group = "action")]
    pub list: bool,
    /// Print one entry (a path as shown by --list) to stdout
    #[arg(long, value_name = "PATH", group = "action")]
    pub cat: Option<String>,
    /// Recompute every SHA-256 and compare it with the manifest
    #[arg(long, group = "action")]
    pub verify: bool,
    /// Unpack into DIR (which must not exist yet)
    #[arg(long, value_name = "DIR", group = "action")]
    pub extract: Option<PathBuf>,
    /// Re-read every entry for secrets the redaction pass missed
    #[arg(long, group = "action")]
    pub scan: bool,
    /// Compare the bundle's deployment with an upstream: a checkout of a
    /// deploy repository at a tag, its rendered YAML, or a
    /// docker-compose.yaml followed by its overrides (repeatable). Computed
    /// from what the bundle holds, as `collect --upstream` does
    #[arg(long, value_name = "PATH", group = "action")]
    pub diff_upstream: Vec<PathBuf>,
    /// With --diff-upstream: more fields to ignore (docs/upstream-diff.md);
    /// repeatable
    #[arg(long, value_name = "FILE", requires = "diff_upstream")]
    pub diff_noise: Vec<PathBuf>,
    /// Rules for --scan (and for redacting the upstream of --diff-upstream)
    #[command(flatten)]
    pub rules: super::RuleArgs,
}

pub fn run(args: InspectArgs) -> Result<ExitCode> {
    let mut bundle = Bundle::open(&args.bundle)?;
    // Written, not printed: a closed pipe (`| head`) ends the command
    // quietly instead of a panic (see main.rs).
    let mut out = io::stdout().lock();
    if args.json {
        let report = analyze(&mut bundle, &args.signatures)?;
        let value = serde_json::json!({
            "bundle": bundle.path(),
            "manifest": bundle.manifest(),
            "derived": inspect::Derived::of(bundle.manifest()),
            "findings": report.findings,
            "top_messages": report.top_messages,
            "category_hint": report.category_hint,
            "containers": report.containers,
            "drift": report.drift,
            "instance": report.instance,
            "logs": report.logs,
            "notes": report.notes,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else if let Some(path) = &args.html {
        let report = analyze(&mut bundle, &args.signatures)?;
        let page = inspect::html::page(&bundle, &report);
        // Owner-only and complete or absent: the page holds customer data.
        let (partial, mut f) = Partial::file(with_suffix(path, ".partial"))?;
        f.write_all(page.as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
        partial.commit(path)?;
        writeln!(
            out,
            "wrote {} ({} findings)",
            path.display(),
            report.findings.len()
        )?;
    } else if args.summary {
        write!(out, "{}", inspect::summary(&bundle))?;
    } else if args.list {
        write!(out, "{}", inspect::list(&bundle))?;
    } else if let Some(name) = &args.cat {
        if io::stdout().is_terminal() {
            // On a terminal the entry is shown, so it is escaped; piped,
            // its bytes go through untouched.
            let mut buf = Vec::new();
            bundle.copy_entry(name, &mut buf)?;
            let text = String::from_utf8_lossy(&buf);
            write!(out, "{}", terminal_safe_text(&text))?;
        } else {
            bundle.copy_entry(name, &mut out)?;
        }
        out.flush()?;
    } else if args.verify {
        let v = bundle.verify();
        let shown = terminal_safe(bundle.path()).into_owned();
        if v.problems.is_empty() {
            writeln!(
                out,
                "{shown}: OK, {} files match their SHA-256 and size in the manifest",
                v.checked
            )?;
        } else {
            for p in &v.problems {
                eprintln!("MISMATCH {}", terminal_safe(p));
            }
            eprintln!(
                "error: {shown}: {} problem(s) in {} listed files; the bundle was altered or damaged after it was written",
                v.problems.len(),
                v.checked
            );
            return Ok(ExitCode::FAILURE);
        }
    } else if args.scan {
        let redactor = args.rules.redactor()?;
        let (files, hits) = inspect::scan(&mut bundle, &redactor)?;
        let shown = terminal_safe(bundle.path()).into_owned();
        if hits.is_empty() {
            writeln!(
                out,
                "{shown}: no secrets found in {files} files by {} rules",
                redactor.rules().loaded.len()
            )?;
        } else {
            for h in &hits {
                eprintln!(
                    "LEAK {}:{}: matches rule {}",
                    terminal_safe(&h.path),
                    h.line,
                    terminal_safe(&h.rule)
                );
            }
            eprintln!(
                "error: {shown}: {} possible secret(s) in {files} files; do not share this bundle until they are removed (sg-debug redact {shown} -o NEW.zip)",
                hits.len(),
            );
            return Ok(ExitCode::FAILURE);
        }
    } else if !args.diff_upstream.is_empty() {
        let upstream = drift::load(&args.diff_upstream)
            .map_err(|e| crate::UsageError(format!("--diff-upstream: {e:#}")))?;
        let noise = drift::Noise::load(&args.diff_noise)
            .map_err(|e| crate::UsageError(format!("--diff-noise: {e:#}")))?;
        let entries = drift_entries(&mut bundle)?;
        let result = drift::compute(&entries, Some(&upstream), &args.rules.redactor()?, &noise);
        for (path, body) in &result.files {
            if path.as_str() == DRIFT_TEXT_NAME {
                write!(out, "{}", String::from_utf8_lossy(body))?;
            }
        }
        for (path, body) in &result.files {
            if path.ends_with(".diff") {
                writeln!(out, "\n=== {}", terminal_safe(path))?;
                write!(
                    out,
                    "{}",
                    terminal_safe_text(&String::from_utf8_lossy(body))
                )?;
            }
        }
    } else if let Some(dir) = &args.extract {
        // Ctrl-C while extracting removes the half-written directory.
        cleanup::exit_on_signals("interrupted: nothing extracted");
        let n = bundle.extract(dir)?;
        writeln!(out, "extracted {n} files into {}", dir.display())?;
    } else {
        let report = analyze(&mut bundle, &args.signatures)?;
        let color =
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        write!(out, "{}", inspect::text::findings(&report, color))?;
        write!(out, "{}", inspect::summary(&bundle))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A diff entry larger than this is not read (a hostile bundle could
/// declare anything up to the entry cap).
const MAX_DRIFT_ENTRY: u64 = 64 << 20;

/// The entries the upstream diff reads, as `collect` kept them.
fn drift_entries(bundle: &mut Bundle) -> Result<BTreeMap<String, Vec<u8>>> {
    let names: Vec<(String, u64)> = bundle
        .entries()
        .iter()
        .filter(|e| drift::wanted(&e.name))
        .map(|e| (e.name.clone(), e.size))
        .collect();
    let mut out = BTreeMap::new();
    for (name, size) in names {
        if size > MAX_DRIFT_ENTRY {
            eprintln!(
                "note: {}: {size} bytes, larger than the {MAX_DRIFT_ENTRY} the upstream diff reads; skipped",
                terminal_safe(&name)
            );
            continue;
        }
        let body = bundle.read_entry(&name)?;
        out.insert(name, body);
    }
    Ok(out)
}

fn analyze(bundle: &mut Bundle, extra: &[PathBuf]) -> Result<inspect::findings::Report> {
    let sigs = inspect::signatures::Signatures::load(extra)?;
    inspect::findings::analyze(bundle, &sigs)
}

/// Entry text for a terminal: line breaks and tabs kept, other control
/// characters escaped.
fn terminal_safe_text(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| {
            let (body, nl) = match l.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (l, ""),
            };
            let body = body.strip_suffix('\r').unwrap_or(body);
            let cells: Vec<String> = body
                .split('\t')
                .map(|c| terminal_safe(c).into_owned())
                .collect();
            format!("{}{nl}", cells.join("\t"))
        })
        .collect()
}
