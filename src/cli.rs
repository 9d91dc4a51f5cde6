//! Every command-line flag, in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect a debug bundle (one zip) from this Sourcegraph deployment
    Collect(CollectArgs),
    /// Show what a bundle holds: summary, entries, one file, verification
    Inspect(InspectArgs),
    /// List the incident categories a bundle can be tagged with
    Categories {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Count bundles per category, deployment type, version and month
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Incident category (see `sg-debug categories`); asked for when
    /// omitted on a terminal
    #[arg(long, short = 'c', value_name = "CATEGORY")]
    pub category: Option<String>,
    /// Support ticket this bundle belongs to
    #[arg(long, value_name = "ID")]
    pub ticket: Option<String>,
    /// What happened, in your words (stored in the manifest)
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Where to write the bundle [default: ./sg-debug-<category>-<UTC time>.zip]
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists
    #[arg(long)]
    pub force: bool,
}

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
}

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
