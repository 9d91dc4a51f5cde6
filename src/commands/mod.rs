//! Stage 5, the commands: one module per command, each turning its
//! command-line arguments into the typed options of the stages below and
//! printing what they return. Nothing below this module knows about clap.

pub mod categories;
pub mod check;
pub mod collect;
pub mod inspect;
pub mod rbac;
pub mod redact;
pub mod report;
pub mod triage;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::redact::Redactor;
use crate::redact::rules::RuleSet;

#[derive(Debug, Parser)]
#[command(
    name = "sg-debug",
    version,
    about = "Collect redacted, verifiable debug bundles from Sourcegraph deployments, and inspect them",
    after_help = "Site admins run `sg-debug collect`; engineers run `sg-debug inspect BUNDLE`.\nSee `sg-debug categories` for the incident categories."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect a debug bundle (one zip) from this Sourcegraph deployment
    Collect(collect::CollectArgs),
    /// Show what a bundle holds: summary, entries, one file, verification
    Inspect(inspect::InspectArgs),
    /// List the incident categories a bundle can be tagged with
    Categories {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Where triage effort goes: the ledger's hours per category, deployment
    /// type, version, outcome and month (or bundles counted, given DIR)
    Report(report::ReportArgs),
    /// Redact a file, a directory or a bundle (for logs sent by other means)
    Redact(redact::RedactArgs),
    /// Preflight: what collect would use and find, which permissions are
    /// granted, what the bundle would miss (same as `collect --dry-run`);
    /// exit 0 complete, 3 partial, 1 cannot run
    Check(collect::CheckArgs),
    /// Print the Kubernetes RBAC (read-only) that grants exactly what collect reads
    Rbac(rbac::RbacArgs),
    /// The triage ledger: record a debugging session's effort and outcome
    Triage(triage::TriageArgs),
}

/// Runs the command; the exit code for errors is `main`'s to choose.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // A team's own categories, before anything parses or counts one.
    crate::category::load_from_env().map_err(crate::UsageError)?;
    match cli.command {
        Command::Collect(args) => collect::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Categories { json } => categories::run(json),
        Command::Report(args) => report::run(args),
        Command::Redact(args) => redact::run(args),
        Command::Check(args) => check::run(&collect::check_options(&args)?, args.json),
        Command::Rbac(args) => rbac::run(args),
        Command::Triage(args) => triage::run(args),
    }
}

/// Redaction rules in force, for every command that redacts.
#[derive(Debug, Args, Clone, Default)]
pub struct RuleArgs {
    /// Add redaction rules from a YAML file, or every *.yaml in a directory
    /// (format: redaction-rules/README.md); repeatable
    #[arg(long = "rules", value_name = "FILE_OR_DIR")]
    pub rules: Vec<PathBuf>,
    /// Switch off a rule by id (see `sg-debug redact --list-rules`); repeatable
    #[arg(long = "disable-rule", value_name = "ID")]
    pub disable: Vec<String>,
}

impl RuleArgs {
    pub fn rule_set(&self) -> Result<RuleSet> {
        RuleSet::load(&self.rules, &self.disable)
    }

    /// The rules named on the command line, with a fresh marker key.
    pub fn redactor(&self) -> Result<Redactor> {
        Ok(Redactor::new(self.rule_set()?))
    }
}
