//! `sg-debug collect`: the incident category (asked for on a terminal),
//! the typed collection options, then `collect::run`; what it wrote and
//! what went wrong is reported on stderr, the bundle's path on stdout.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::UsageError;
use crate::bundle::format::{CollectorStatus, Manifest};
use crate::category::{self, Category};
use crate::collect::options::{MAX_LOG_CAP, parse_duration, parse_size};
use crate::collect::progress::Mode;
use crate::collect::{
    self, AccessToken, Added, AfterCollection, DeploymentChoice, Options, Plan, Progress,
};
use crate::drift;

const DEFAULT_SINCE: &str = "24h";
const DEFAULT_MAX_LOG_BYTES: &str = "10MiB";
const DEFAULT_DEADLINE: &str = "10m";

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
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_SINCE)]
    pub since: String,
    /// Per container, keep at most this much log (newest kept): 10MiB, 500KiB, 1GiB
    #[arg(long, value_name = "SIZE", default_value = DEFAULT_MAX_LOG_BYTES)]
    pub max_log_bytes: String,
    /// Stop collecting after this long and write what was collected
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_DEADLINE)]
    pub deadline: String,
    /// Replace IP addresses, hostnames and email addresses with consistent
    /// pseudonyms; the mapping goes to BUNDLE.network-map.json, beside the
    /// bundle and never inside it
    #[arg(long)]
    pub obfuscate_network: bool,
    /// Print each step on stderr
    #[arg(long, short = 'v', conflicts_with = "quiet")]
    pub verbose: bool,
    /// No progress output: only problems, and the bundle's path on stdout
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Compare the deployment with its upstream, into diff/ in the bundle:
    /// a checkout of a deploy repository at your release tag (or its base/),
    /// its rendered YAML (`kubectl kustomize`, `helm template`), or a
    /// docker-compose.yaml followed by its overrides; repeatable
    #[arg(long, value_name = "PATH")]
    pub upstream: Vec<PathBuf>,
    /// More fields for the upstream diff to ignore (what your cluster's
    /// admission controllers set), in the format of docs/upstream-diff.md;
    /// repeatable
    #[arg(long, value_name = "FILE")]
    pub diff_noise: Vec<PathBuf>,
    /// Collect nothing: say what would be used and found, which
    /// permissions are granted and what the bundle would miss (`sg-debug
    /// check`); exit 0 complete, 3 partial, 1 cannot run
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run (or check): print the preflight as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub rules: super::RuleArgs,
}

/// What chooses and reaches the deployment (and its instance API): the
/// flags `collect` and `check` share.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Give up on one request after this long
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,
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
    /// The Sourcegraph instance's URL, to read its site configuration, code
    /// host connections, license and alerts from its GraphQL API with the
    /// site-admin token in SRC_ACCESS_TOKEN [default: $SRC_ENDPOINT; on
    /// Kubernetes, the frontend through the API server's service proxy]
    #[arg(long, value_name = "URL")]
    pub sourcegraph_url: Option<String>,
    /// Instance API: do not verify its TLS certificate (self-signed instances)
    #[arg(long)]
    pub insecure_skip_verify: bool,
    /// Instance API: also trust the CA certificates in this PEM file
    #[arg(long, value_name = "FILE", conflicts_with = "insecure_skip_verify")]
    pub ca_cert: Option<PathBuf>,
    /// Do not run commands inside containers or pods (disk use of volumes)
    #[arg(long)]
    pub no_exec: bool,
    /// Kubernetes: do not list Secrets (no Helm release values, no Secret key names), for RBAC without them
    #[arg(long)]
    pub no_secrets: bool,
}

/// `sg-debug check`: only what the preflight reads. The flags that shape
/// a bundle (`-o`, `-c`, `--since`, ...) are `collect`'s; `collect
/// --dry-run` takes them all, for a command line about to be run.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the preflight as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeploymentArg {
    Auto,
    Kubernetes,
    Docker,
}

pub fn run(args: CollectArgs) -> Result<ExitCode> {
    if args.json && !args.dry_run {
        return Err(UsageError(
            "--json is for the preflight: use it with --dry-run, or run sg-debug check --json"
                .into(),
        )
        .into());
    }
    if args.dry_run {
        return super::check::run(&options(&args)?, args.json);
    }
    let category = resolve_category(args.category.as_deref())?;
    let options = options(&args)?;
    let mut redactor = args.rules.redactor()?;
    if args.obfuscate_network {
        redactor = redactor.obfuscating_network();
    }
    // A wrong upstream is the user's to fix before anything is collected.
    let upstream = match args.upstream.is_empty() {
        true => None,
        false => Some(
            drift::load(&args.upstream).map_err(|e| UsageError(format!("--upstream: {e:#}")))?,
        ),
    };
    let noise = drift::Noise::load(&args.diff_noise)
        .map_err(|e| UsageError(format!("--diff-noise: {e:#}")))?;
    let progress = Progress::new(Mode::detect(args.quiet), args.verbose);
    let drift_redactor = redactor.clone();
    let after = AfterCollection {
        name: "upstream-diff",
        wanted: drift::wanted,
        run: Box::new(move |entries| {
            let r = drift::compute(entries, upstream.as_ref(), &drift_redactor, &noise);
            Ok(Added {
                upstream: Some(r.summary.upstream.clone()),
                files: r
                    .files
                    .into_iter()
                    .map(|(p, b)| {
                        let kind = drift::file_kind(&p);
                        (p, kind, b)
                    })
                    .collect(),
            })
        }),
    };
    let collected = collect::run(Plan {
        category,
        ticket: non_empty(args.ticket),
        note: non_empty(args.note),
        output: args.output,
        force: args.force,
        options,
        redactor,
        progress,
        after: Some(after),
    })?;
    let m = &collected.manifest;
    report(m, args.quiet);
    if let Some(map) = &collected.network_map {
        eprintln!(
            "network pseudonyms: {} (keep it; do not send it with the bundle)",
            map.display()
        );
    }
    println!("{}", collected.path.display());
    let all_failed = m
        .collectors
        .iter()
        .all(|c| c.status == CollectorStatus::Failed);
    Ok(if all_failed || !m.complete {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What the user sees on stderr after collection: problems first. Only
/// the sealed manifest is shown, so nothing here escaped redaction.
fn report(m: &Manifest, quiet: bool) {
    for c in &m.collectors {
        for e in &c.errors {
            eprintln!("{}: {}: {}", c.name, e.target, e.message);
        }
        if !quiet {
            for n in &c.notes {
                eprintln!("{}: {}", c.name, n);
            }
        }
    }
    for w in &m.warnings {
        eprintln!("WARNING: {w}");
    }
    for o in &m.omitted {
        eprintln!("left out: {}: {}", o.path, o.reason);
    }
    if let Some(scan) = &m.leak_scan {
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
    if quiet && m.complete {
        return;
    }
    let redactions: u64 = m.files.iter().flat_map(|f| f.redactions.values()).sum();
    let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
    eprintln!(
        "{} files, {} bytes, {redactions} redactions{}",
        m.files.len(),
        bytes,
        if m.complete {
            ""
        } else {
            "; INCOMPLETE (manifest says complete: false)"
        }
    );
}

/// The typed options, or a usage error naming the flag.
fn options(a: &CollectArgs) -> Result<Options> {
    let usage = |m: String| anyhow::Error::from(UsageError(m));
    let max_log_bytes = parse_size(&a.max_log_bytes)
        .map_err(|e| usage(format!("--max-log-bytes {}: {e}", a.max_log_bytes)))?;
    if max_log_bytes == 0 || max_log_bytes > MAX_LOG_CAP {
        return Err(usage(format!(
            "--max-log-bytes {}: must be between 1 byte and 1GiB",
            a.max_log_bytes
        )));
    }
    let dur =
        |flag: &str, v: &str| parse_duration(v).map_err(|e| usage(format!("{flag} {v}: {e}")));
    Ok(Options {
        since: dur("--since", &a.since)?,
        max_log_bytes,
        deadline: dur("--deadline", &a.deadline)?,
        obfuscate_network: a.obfuscate_network,
        ..target_options(&a.target)?
    })
}

/// The options `check` runs with: its target flags, and collect's
/// defaults for the rest.
pub fn check_options(a: &CheckArgs) -> Result<Options> {
    target_options(&a.target)
}

fn target_options(a: &TargetArgs) -> Result<Options> {
    let usage = |m: String| anyhow::Error::from(UsageError(m));
    if a.concurrency == 0 || a.concurrency > 64 {
        return Err(usage(format!(
            "--concurrency {}: must be between 1 and 64",
            a.concurrency
        )));
    }
    let deployment = deployment_choice(a)?;
    let instance = instance_access(a)?;
    let dur =
        |flag: &str, v: &str| parse_duration(v).map_err(|e| usage(format!("{flag} {v}: {e}")));
    let default = |v: &str| parse_duration(v).expect("a valid default");
    Ok(Options {
        since: default(DEFAULT_SINCE),
        max_log_bytes: parse_size(DEFAULT_MAX_LOG_BYTES).expect("a valid default"),
        concurrency: a.concurrency,
        timeout: dur("--timeout", &a.timeout)?,
        deadline: default(DEFAULT_DEADLINE),
        docker_host: a
            .docker_host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty())),
        project: a.project.clone(),
        container: a.container.clone(),
        pure_docker: a.pure_docker,
        obfuscate_network: false,
        no_exec: a.no_exec,
        no_secrets: a.no_secrets,
        deployment,
        kubeconfig: a.kubeconfig.clone(),
        context: a.context.clone(),
        namespace: a.namespace.clone(),
        sourcegraph_url: instance.url,
        sourcegraph_url_source: instance.source,
        access_token: instance.token,
        insecure_skip_verify: a.insecure_skip_verify,
        ca_cert: instance.ca_cert,
    })
}

/// The instance API's endpoint and token, as the options hold them.
struct InstanceAccess {
    url: Option<String>,
    source: &'static str,
    token: Option<AccessToken>,
    ca_cert: Option<PathBuf>,
}

/// The instance API's endpoint and token, checked before any work: a URL
/// that is not http(s), an unreadable CA file, or a URL given on the
/// command line without a token is the user's to fix now.
fn instance_access(a: &TargetArgs) -> Result<InstanceAccess> {
    let usage = |m: String| anyhow::Error::from(UsageError(m));
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (url, source) = match (&a.sourcegraph_url, env("SRC_ENDPOINT")) {
        (Some(u), _) => (Some(u.trim().to_string()), "--sourcegraph-url"),
        (None, Some(u)) => (Some(u.trim().to_string()), "SRC_ENDPOINT"),
        (None, None) => (None, ""),
    };
    if let Some(u) = &url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(usage(format!(
            "{source} {u}: not an http(s) URL; pass the instance's external URL, like https://sourcegraph.example.com"
        )));
    }
    let token = env("SRC_ACCESS_TOKEN").map(|t| AccessToken::new(t.trim().to_string()));
    if token.is_none() && a.sourcegraph_url.is_some() {
        return Err(usage(
            "--sourcegraph-url needs a site-admin access token in SRC_ACCESS_TOKEN (never on the command line); create one under Settings > Access tokens and export it".into(),
        ));
    }
    if let Some(p) = &a.ca_cert
        && let Err(e) = std::fs::metadata(p).and_then(|m| {
            if m.is_file() {
                Ok(())
            } else {
                Err(std::io::Error::other("not a regular file"))
            }
        })
    {
        return Err(usage(format!(
            "--ca-cert {}: {e}; pass a PEM file with the CA certificate(s) that signed the instance's certificate",
            p.display()
        )));
    }
    Ok(InstanceAccess {
        url,
        source,
        token,
        ca_cert: a.ca_cert.clone(),
    })
}

/// Kubernetes flags and Docker flags name different deployments: a
/// command line with both is a mistake, not a choice to guess at.
fn deployment_choice(a: &TargetArgs) -> Result<DeploymentChoice> {
    let kube: Vec<&str> = [
        (a.kubeconfig.is_some(), "--kubeconfig"),
        (a.context.is_some(), "--context"),
        (a.namespace.is_some(), "--namespace"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    let docker: Vec<&str> = [
        (a.docker_host.is_some(), "--docker-host"),
        (a.project.is_some(), "--project"),
        (a.container.is_some(), "--container"),
        (a.pure_docker, "--pure-docker"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    let clash = |a: &[&str], b: &[&str]| {
        Err(UsageError(format!(
            "{} cannot be combined with {}: the first is for Kubernetes, the second for Docker; keep the flags of the deployment you want to collect",
            a.join(", "),
            b.join(", ")
        ))
        .into())
    };
    match a.deployment {
        DeploymentArg::Auto if !kube.is_empty() && !docker.is_empty() => clash(&kube, &docker),
        DeploymentArg::Auto if !kube.is_empty() => Ok(DeploymentChoice::Kubernetes),
        DeploymentArg::Auto if !docker.is_empty() => Ok(DeploymentChoice::Docker),
        DeploymentArg::Kubernetes if !docker.is_empty() => {
            clash(&["--deployment kubernetes"], &docker)
        }
        DeploymentArg::Docker if !kube.is_empty() => clash(&kube, &["--deployment docker"]),
        DeploymentArg::Auto => Ok(DeploymentChoice::Auto),
        DeploymentArg::Kubernetes => Ok(DeploymentChoice::Kubernetes),
        DeploymentArg::Docker => Ok(DeploymentChoice::Docker),
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
    for (i, c) in category::all().iter().enumerate() {
        writeln!(out, "  {:>2}. {:<22} {}", i + 1, c.id, c.description)?;
    }
    for _ in 0..3 {
        write!(out, "category [1-{}]: ", category::all().len())?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line).context("reading the category")? == 0 {
            break;
        }
        let answer = line.trim();
        if let Ok(n) = answer.parse::<usize>()
            && (1..=category::all().len()).contains(&n)
        {
            return Ok(&category::all()[n - 1]);
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
        assert_eq!(c.id, category::all()[2].id);
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
