//! Every command-line flag, in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Redact a file, a directory or a bundle (for logs sent by other means)
    Redact(RedactCmdArgs),
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

#[derive(Debug, Args)]
pub struct RedactCmdArgs {
    /// File, directory or bundle (.zip) to redact; never modified
    #[arg(value_name = "INPUT", required_unless_present = "list_rules")]
    pub input: Option<PathBuf>,
    /// Where to write the result; mirrors INPUT's shape
    #[arg(
        long,
        short = 'o',
        value_name = "OUTPUT",
        required_unless_present = "list_rules"
    )]
    pub output: Option<PathBuf>,
    /// Replace OUTPUT if it exists
    #[arg(long)]
    pub force: bool,
    /// Print the rules in force and exit
    #[arg(long)]
    pub list_rules: bool,
    /// With --list-rules: print JSON
    #[arg(long, requires = "list_rules")]
    pub json: bool,
    /// Replace IP addresses, hostnames and email addresses with consistent
    /// pseudonyms; the mapping goes to OUTPUT.network-map.json, beside the
    /// output and never inside it
    #[arg(long)]
    pub obfuscate_network: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
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
    /// Logs from this far back: 90s, 30m, 24h, 7d
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub since: String,
    /// Per container, keep at most this much log (newest kept): 10MiB, 500KiB, 1GiB
    #[arg(long, value_name = "SIZE", default_value = "10MiB")]
    pub max_log_bytes: String,
    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Give up on one request after this long
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,
    /// Stop collecting after this long and write what was collected
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub deadline: String,
    /// Which kind of deployment to collect from: auto tries Kubernetes
    /// (when a kube config is available) and then Docker
    #[arg(long, value_enum, value_name = "KIND", default_value_t = DeploymentArg::Auto)]
    pub deployment: DeploymentArg,
    /// Kubernetes: kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubernetes: the kubeconfig context to use [default: its current context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Kubernetes: the namespace Sourcegraph runs in [default: the context's,
    /// else the one namespace with deploy=sourcegraph pods]
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
    /// Docker daemon to use [default: $DOCKER_HOST, else the local socket]
    #[arg(long, value_name = "URL")]
    pub docker_host: Option<String>,
    /// The docker-compose project to collect, when a host has several
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// The single sourcegraph/server container to collect, by name or id
    #[arg(long, value_name = "NAME", conflicts_with = "project")]
    pub container: Option<String>,
    /// Collect the Sourcegraph containers that have no compose labels
    /// (a pure-docker deployment), when a host has several deployments
    #[arg(long, conflicts_with_all = ["project", "container"])]
    pub pure_docker: bool,
    /// Do not run commands inside containers or pods (disk use of volumes)
    #[arg(long)]
    pub no_exec: bool,
    /// Replace IP addresses, hostnames and email addresses with consistent
    /// pseudonyms; the mapping goes to BUNDLE.network-map.json, beside the
    /// bundle and never inside it
    #[arg(long)]
    pub obfuscate_network: bool,
    /// Print each step on stderr
    #[arg(long, short = 'v')]
    pub verbose: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeploymentArg {
    Auto,
    Kubernetes,
    Docker,
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
    /// Re-read every entry for secrets the redaction pass missed
    #[arg(long, group = "action")]
    pub scan: bool,
    /// Rules for --scan
    #[command(flatten)]
    pub rules: RuleArgs,
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
