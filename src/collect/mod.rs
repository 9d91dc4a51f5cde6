//! `sg-debug collect`: resolve the incident, run the collectors, and hand
//! their artifacts through the redaction pass to the packager.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{SubsecRound, Utc};

use crate::UsageError;
use crate::bundle::BundleWriter;
use crate::bundle::format::{Deployment, FORMAT_VERSION, Incident, Manifest, Tool, bundle_stem};
use crate::category::{self, CATEGORIES, Category};
use crate::cli::CollectArgs;
use crate::redact::Redactor;

pub fn run(args: CollectArgs) -> Result<ExitCode> {
    let category = resolve_category(args.category.as_deref())?;
    let created_at = Utc::now().trunc_subsecs(0);
    let stem = bundle_stem(category.id, created_at);
    let dest = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{stem}.zip")));
    let redactor = Redactor::from_args(&args.rules)?;
    let writer = BundleWriter::create(&dest, &stem, created_at, args.force)?;

    let mut options = std::collections::BTreeMap::new();
    options.insert("output".to_string(), dest.display().to_string().into());
    options.insert("force".to_string(), args.force.into());

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool: Tool::this(),
        created_at,
        complete: true,
        incident: Incident {
            category: category.id.to_string(),
            ticket: non_empty(args.ticket).map(|t| redactor.redact_text(&t)),
            note: non_empty(args.note).map(|n| redactor.redact_text(&n)),
        },
        deployment: Deployment::unknown(),
        options,
        collectors: Vec::new(),
        files: Vec::new(),
        omitted: Vec::new(),
        leak_scan: None,
    };
    let mut scanner = redactor.line_redactor();
    let (path, manifest) = writer.finish(manifest, Some(&mut scanner))?;
    report_leaks(&manifest);
    if manifest.collectors.is_empty() {
        eprintln!(
            "warning: this build of sg-debug has no deployment collectors yet; the bundle records the incident only"
        );
    }
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The second look found something: say where, loudly, without printing it.
fn report_leaks(manifest: &Manifest) {
    let Some(scan) = &manifest.leak_scan else {
        return;
    };
    for h in &scan.hits {
        eprintln!("LEAK {}:{}: matches rule {}", h.path, h.line, h.rule);
    }
    if !scan.hits.is_empty() {
        eprintln!(
            "warning: the leak scan found {} possible secret(s) the redaction pass missed; they are recorded in the manifest. Review before sharing.",
            scan.hits.len()
        );
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn resolve_category(arg: Option<&str>) -> Result<&'static Category> {
    if let Some(s) = arg {
        return category::parse(s).map_err(|m| UsageError(m).into());
    }
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        return prompt_category(&mut io::stdin().lock(), &mut io::stderr());
    }
    Err(UsageError(format!(
        "--category is required: tag the bundle with one of {}\n(run `sg-debug categories` for descriptions)",
        category::ids().join(", ")
    ))
    .into())
}

/// Asks on the terminal; accepts a number from the list or a category id.
fn prompt_category(input: &mut dyn BufRead, out: &mut dyn Write) -> Result<&'static Category> {
    writeln!(out, "Which kind of incident is this bundle for?")?;
    for (i, c) in CATEGORIES.iter().enumerate() {
        writeln!(out, "  {:>2}. {:<22} {}", i + 1, c.id, c.description)?;
    }
    for _ in 0..3 {
        write!(out, "category [1-{}]: ", CATEGORIES.len())?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line).context("reading the category")? == 0 {
            break;
        }
        let answer = line.trim();
        if let Ok(n) = answer.parse::<usize>()
            && (1..=CATEGORIES.len()).contains(&n)
        {
            return Ok(&CATEGORIES[n - 1]);
        }
        match category::parse(answer) {
            Ok(c) => return Ok(c),
            Err(msg) => writeln!(out, "{}", msg.lines().next().unwrap_or_default())?,
        }
    }
    Err(UsageError("no incident category chosen; pass --category".into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_accepts_number_or_name_and_retries() {
        let mut out = Vec::new();
        let c = prompt_category(&mut "3\n".as_bytes(), &mut out).unwrap();
        assert_eq!(c.id, CATEGORIES[2].id);
        let c = prompt_category(&mut "serach\ndatabase\n".as_bytes(), &mut out).unwrap();
        assert_eq!(c.id, "database");
        let shown = String::from_utf8(out).unwrap();
        assert!(shown.contains("did you mean 'search'?"), "{shown}");
    }

    #[test]
    fn prompt_gives_up_on_eof() {
        let err = prompt_category(&mut "".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
    }
}
