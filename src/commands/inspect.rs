//! `sg-debug inspect BUNDLE`: the summary by default; one action instead
//! with a flag (entries, one entry, verification, leak scan, extraction,
//! JSON for scripts).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::bundle::Bundle;
use crate::inspect;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").multiple(false))]
pub struct InspectArgs {
    /// The bundle (.zip) to open
    pub bundle: PathBuf,
    /// Print the manifest and derived figures as JSON
    #[arg(long, group = "action")]
    pub json: bool,
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
    /// Rules for --scan
    #[command(flatten)]
    pub rules: super::RuleArgs,
}

pub fn run(args: InspectArgs) -> Result<ExitCode> {
    let mut bundle = Bundle::open(&args.bundle)?;
    if args.json {
        let out = serde_json::json!({
            "bundle": bundle.path(),
            "manifest": bundle.manifest(),
            "derived": inspect::Derived::of(bundle.manifest()),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if args.list {
        print!("{}", inspect::list(&bundle));
    } else if let Some(name) = &args.cat {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        bundle.copy_entry(name, &mut lock)?;
        lock.flush()?;
    } else if args.verify {
        let v = bundle.verify();
        if v.problems.is_empty() {
            println!(
                "{}: OK, {} files match their SHA-256 and size in the manifest",
                bundle.path(),
                v.checked
            );
        } else {
            for p in &v.problems {
                eprintln!("MISMATCH {p}");
            }
            eprintln!(
                "error: {}: {} problem(s) in {} listed files; the bundle was altered or damaged after it was written",
                bundle.path(),
                v.problems.len(),
                v.checked
            );
            return Ok(ExitCode::FAILURE);
        }
    } else if args.scan {
        let redactor = args.rules.redactor()?;
        let (files, hits) = inspect::scan(&mut bundle, &redactor)?;
        if hits.is_empty() {
            println!(
                "{}: no secrets found in {files} files by {} rules",
                bundle.path(),
                redactor.rules().loaded.len()
            );
        } else {
            for h in &hits {
                eprintln!("LEAK {}:{}: matches rule {}", h.path, h.line, h.rule);
            }
            eprintln!(
                "error: {}: {} possible secret(s) in {files} files; do not share this bundle until they are removed (sg-debug redact {} -o NEW.zip)",
                bundle.path(),
                hits.len(),
                bundle.path()
            );
            return Ok(ExitCode::FAILURE);
        }
    } else if let Some(dir) = &args.extract {
        let n = bundle.extract(dir)?;
        println!("extracted {n} files into {}", dir.display());
    } else {
        print!("{}", inspect::summary(&bundle));
    }
    Ok(ExitCode::SUCCESS)
}
