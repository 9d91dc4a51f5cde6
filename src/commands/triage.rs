//! `sg-debug triage`: record what a debugging session cost and how it
//! ended, list the outcomes, show an incident, index bundles. The work is
//! in `ledger`; this is flags and output.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::bundle::Bundle;
use crate::category;
use crate::display::{terminal_safe, terminal_safe_lines};
use crate::ledger::text::when;
use crate::ledger::{self, Incident, Ledger, Location, Record, Session, effort, outcome};

/// Where the ledger is, for every command that uses it.
#[derive(Debug, Args, Clone, Default)]
pub struct LedgerArg {
    /// The triage ledger: a SQLite file, or a postgres://USER@HOST/DB URL
    /// for a shared one [default: $SG_DEBUG_LEDGER, else
    /// $XDG_DATA_HOME/sg-debug/ledger.sqlite]
    #[arg(long, value_name = "PATH_OR_URL")]
    pub ledger: Option<String>,
}

impl LedgerArg {
    pub fn location(&self) -> Result<Location> {
        Location::resolve(
            self.ledger.as_deref(),
            std::env::var_os("SG_DEBUG_LEDGER"),
            std::env::var_os("XDG_DATA_HOME"),
            std::env::var_os("HOME"),
        )
    }

    /// The ledger for reading: it must exist.
    pub fn open_existing(&self) -> Result<Ledger> {
        Ledger::open_existing(&self.location()?)
    }
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    #[command(subcommand)]
    pub command: TriageCommand,
}

#[derive(Debug, Subcommand)]
pub enum TriageCommand {
    /// Record one debugging session on a bundle's incident: effort and outcome
    Record(RecordArgs),
    /// List the outcomes a session can end with
    Outcomes {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show an incident and its records, by bundle or by ticket
    Show(ShowArgs),
    /// Index bundles (manifests only) so the report counts their incidents
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The bundle the session worked on; it must verify
    pub bundle: PathBuf,
    /// Time the session took: 45m, 1h30m, 2h (a unit is required; up to 1000h)
    #[arg(long, value_name = "DURATION", value_parser = effort::parse)]
    pub effort: u64,
    /// How it ended (see `sg-debug triage outcomes`)
    #[arg(long, value_parser = parse_outcome)]
    pub outcome: String,
    /// What was actually wrong, in a line
    #[arg(long, value_name = "TEXT")]
    pub root_cause: Option<String>,
    /// The documentation page that was missing or wrong
    #[arg(long = "doc", value_name = "URL")]
    pub doc: Option<String>,
    /// Re-categorise the incident when its tag was wrong (the bundle's stays visible)
    #[arg(long, value_name = "CATEGORY", value_parser = parse_category)]
    pub category: Option<String>,
    /// The support ticket, when the bundle does not carry it
    #[arg(long, value_name = "ID")]
    pub ticket: Option<String>,
    /// Anything else worth keeping
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArg,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).multiple(false))]
pub struct ShowArgs {
    /// The bundle whose incident to show
    #[arg(group = "which")]
    pub bundle: Option<PathBuf>,
    /// Every incident with this ticket (from the bundle or a record)
    #[arg(long, value_name = "ID", group = "which")]
    pub ticket: Option<String>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ledger: LedgerArg,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Bundles, or directories searched recursively for *.zip
    #[arg(required = true, value_name = "DIR_OR_BUNDLE")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub ledger: LedgerArg,
}

fn parse_outcome(s: &str) -> Result<String, String> {
    outcome::parse(s).map(|o| o.id.to_string())
}

fn parse_category(s: &str) -> Result<String, String> {
    category::parse(s).map(|c| c.id.to_string())
}

pub fn run(args: TriageArgs) -> Result<ExitCode> {
    match args.command {
        TriageCommand::Record(a) => record(a),
        TriageCommand::Outcomes { json } => outcomes(json),
        TriageCommand::Show(a) => show(a),
        TriageCommand::Import(a) => import(a),
    }
}

fn outcomes(json: bool) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(outcome::all())?);
    } else {
        let width = outcome::all().iter().map(|o| o.id.len()).max().unwrap_or(0);
        for o in outcome::all() {
            println!("{:width$}  {}", o.id, o.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn record(a: RecordArgs) -> Result<ExitCode> {
    // Everything about the input is checked before the ledger is opened:
    // bad input leaves it as it was (or never creates it).
    let location = a.ledger.location()?;
    let mut bundle = Bundle::open(&a.bundle)?;
    let session = Session {
        effort_seconds: a.effort,
        outcome: a.outcome,
        root_cause: a.root_cause,
        doc_url: a.doc,
        category: a.category,
        ticket: a.ticket,
        note: a.note,
    };
    let (incident, record) = ledger::prepare_record(&mut bundle, session)?;
    let mut l = Ledger::open(&location)?;
    l.write(
        std::slice::from_ref(&incident),
        std::slice::from_ref(&record),
    )?;
    let (_, records) = l.find(Some(&incident.id), None)?;
    let total: u64 = records.iter().map(|r| r.effort_seconds).sum();
    let category = ledger::current_category(&incident, records.iter());
    println!(
        "recorded {} ({}) on incident {} [{}]: {} record(s), {} in all, in {}",
        effort::format(record.effort_seconds),
        record.outcome,
        short(&incident.id),
        terminal_safe(category),
        records.len(),
        effort::format(total),
        l.location()
    );
    Ok(ExitCode::SUCCESS)
}

fn import(a: ImportArgs) -> Result<ExitCode> {
    let location = a.ledger.location()?;
    let found = super::report::find_bundles(&a.inputs)?;
    for s in &found.skipped {
        eprintln!(
            "passed over: {}: {}",
            terminal_safe(&s.path),
            terminal_safe(&s.error)
        );
    }
    let incidents = ledger::read_incidents(&found.files)?;
    let mut l = Ledger::open(&location)?;
    let added = l.write(&incidents, &[])?;
    println!(
        "indexed {} bundle(s): {added} new incident(s), {} already in the ledger {}",
        incidents.len(),
        incidents.len() as u64 - added,
        l.location()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Shown<'a> {
    incident: &'a Incident,
    /// The category that counts: the latest record's, else the bundle's.
    category: &'a str,
    effort_seconds: u64,
    records: Vec<&'a Record>,
}

fn show(a: ShowArgs) -> Result<ExitCode> {
    let location = a.ledger.location()?;
    let id = match &a.bundle {
        Some(p) => Some(Bundle::open(p)?.id().to_string()),
        None => None,
    };
    let mut l = Ledger::open_existing(&location)?;
    let (incidents, records) = l.find(id.as_deref(), a.ticket.as_deref())?;
    if incidents.is_empty() {
        let what = match (&a.bundle, &a.ticket) {
            (Some(p), _) => format!(
                "{} is not in the ledger {location}; run `sg-debug triage record {0} ...` or `sg-debug triage import {0}`",
                p.display()
            ),
            (_, Some(t)) => format!(
                "no incident with ticket {:?} in the ledger {location}",
                terminal_safe(t)
            ),
            _ => unreachable!("clap requires one"),
        };
        return Err(anyhow!(what));
    }
    let shown: Vec<Shown> = incidents
        .iter()
        .map(|i| {
            let recs: Vec<&Record> = records.iter().filter(|r| r.incident_id == i.id).collect();
            Shown {
                incident: i,
                category: ledger::current_category(i, recs.iter().copied()),
                effort_seconds: recs.iter().map(|r| r.effort_seconds).sum(),
                records: recs,
            }
        })
        .collect();
    let mut out = io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
    } else {
        for s in &shown {
            write!(out, "{}", text(s))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// One incident for people; everything from bundles and engineers escaped.
fn text(s: &Shown) -> String {
    let i = s.incident;
    let mut o = String::new();
    let safe = |v: &Option<String>| {
        v.as_deref()
            .map(terminal_safe)
            .unwrap_or("-".into())
            .into_owned()
    };
    o.push_str(&format!("incident {}\n", i.id));
    if s.category != i.category {
        o.push_str(&format!(
            "  category    {} (re-categorised; the bundle says {})\n",
            terminal_safe(s.category),
            terminal_safe(&i.category)
        ));
    } else {
        o.push_str(&format!("  category    {}\n", terminal_safe(&i.category)));
    }
    o.push_str(&format!("  ticket      {}\n", safe(&i.ticket)));
    let flavour = i
        .flavour
        .as_deref()
        .map(|f| format!(" ({})", terminal_safe(f)))
        .unwrap_or_default();
    o.push_str(&format!(
        "  deployment  {}{flavour}, Sourcegraph {}\n",
        terminal_safe(&i.deployment_type),
        safe(&i.sourcegraph_version)
    ));
    o.push_str(&format!("  collected   {}\n", when(&i.collected_at)));
    o.push_str(&format!(
        "  effort      {} over {} record(s)\n",
        effort::format(s.effort_seconds),
        s.records.len()
    ));
    for r in &s.records {
        o.push_str(&format!(
            "\n  {}  {:>7}  {}\n",
            when(&r.recorded_at),
            effort::format(r.effort_seconds),
            terminal_safe(&r.outcome)
        ));
        for (k, v) in [
            ("root cause", &r.root_cause),
            ("doc", &r.doc_url),
            ("category", &r.category),
            ("ticket", &r.ticket),
        ] {
            if v.is_some() {
                o.push_str(&format!("    {k:<11}{}\n", safe(v)));
            }
        }
        if let Some(n) = &r.note {
            let n = terminal_safe_lines(n).replace('\n', "\n               ");
            o.push_str(&format!("    {:<11}{n}\n", "note"));
        }
    }
    o.push('\n');
    o
}
