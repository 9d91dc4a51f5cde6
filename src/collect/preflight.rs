//! `sg-debug check` (and `collect --dry-run`): what `collect` would do,
//! without collecting. Which cluster, context, user and namespace (or which
//! Docker daemon) would be used, which deployment was found, whether each
//! permission the collector uses is granted (Kubernetes: asked with
//! SelfSubjectAccessReviews, never by trying), and so what the bundle
//! would miss. Nothing is written.

use anyhow::Result;
use serde::Serialize;

use super::kubernetes::client::ConnectError;
use super::{DeploymentChoice, Options, docker, kubernetes};
use crate::UsageError;

/// The outcome, and the exit code `check` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Everything would be collected.
    Complete,
    /// A bundle would be written, lacking what `missing` says.
    Partial,
    /// No bundle could be written: see `problems`.
    CannotRun,
}

#[derive(Debug, Serialize)]
pub struct Preflight {
    pub verdict: Verdict,
    /// `kubernetes`, `docker`, or none when nothing was found.
    pub target: Option<&'static str>,
    pub kubernetes: Option<KubePreflight>,
    pub docker: Option<DockerPreflight>,
    pub deployment: Option<Found>,
    /// What the bundle would lack, one line per missing permission.
    pub missing: Vec<String>,
    /// Why collect cannot run (with `CannotRun`), or what was tried first.
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct KubePreflight {
    pub server: String,
    pub context: String,
    /// Who the API server says we are (SelfSubjectReview), when it says.
    pub user: Option<String>,
    pub namespace: Option<String>,
    pub permissions: Vec<Permission>,
}

/// One grant the collector uses, and the API server's answer.
#[derive(Debug, Serialize)]
pub struct Permission {
    pub verb: String,
    pub group: String,
    /// `pods/log` style for subresources.
    pub resource: String,
    /// None: cluster-wide.
    pub namespace: Option<String>,
    /// None: the review itself failed (see `detail`).
    pub allowed: Option<bool>,
    /// Whether this run would use it (the service proxy only with
    /// `SRC_ACCESS_TOKEN` and no `--sourcegraph-url`).
    pub needed: bool,
    /// The server's reason, or why the review failed.
    pub detail: Option<String>,
    /// What the bundle holds thanks to it.
    pub why: String,
}

#[derive(Debug, Serialize)]
pub struct DockerPreflight {
    pub host: String,
    pub reachable: bool,
    pub error: Option<String>,
}

/// The deployment detection found.
#[derive(Debug, Serialize)]
pub struct Found {
    pub kind: String,
    pub flavour: Option<String>,
    pub version: Option<String>,
    /// What collect would say it collects.
    pub description: String,
    /// Pod or container names.
    pub members: Vec<String>,
}

impl Preflight {
    fn cannot_run(problem: String) -> Preflight {
        Preflight {
            verdict: Verdict::CannotRun,
            target: None,
            kubernetes: None,
            docker: None,
            deployment: None,
            missing: Vec::new(),
            problems: vec![problem],
        }
    }

    /// The verdict from what was found and granted.
    fn settle(mut self) -> Preflight {
        // Only the target's permissions count: a cluster tried first and
        // left for Docker is shown, not held against the bundle.
        let kube_target = self.target == Some("kubernetes") || self.deployment.is_none();
        let perms = self
            .kubernetes
            .iter()
            .filter(|_| kube_target)
            .flat_map(|k| &k.permissions);
        for p in perms.filter(|p| p.needed && p.allowed != Some(true)) {
            let grant = if p.group.is_empty() {
                p.resource.clone()
            } else {
                format!("{}.{}", p.resource, p.group)
            };
            let state = match p.allowed {
                Some(false) => "not granted",
                _ => "unknown (the review failed)",
            };
            self.missing
                .push(format!("{} {grant}: {state}; would miss {}", p.verb, p.why));
        }
        self.verdict = if self.deployment.is_none() {
            Verdict::CannotRun
        } else if self.missing.is_empty() {
            Verdict::Complete
        } else {
            Verdict::Partial
        };
        self
    }
}

/// What `collect` with `opts` would find and be allowed to read. A usage
/// error (a wrong flag) is returned as an error, as collect would.
pub async fn check(opts: &Options) -> Result<Preflight> {
    let mut p = match opts.deployment {
        DeploymentChoice::Kubernetes => kube(opts, true).await?,
        DeploymentChoice::Docker => docker::preflight(opts).await?,
        DeploymentChoice::Auto => {
            let k = if kubernetes::config_available() {
                Some(kube(opts, false).await?)
            } else {
                None
            };
            match k {
                Some(k) if k.deployment.is_some() => k,
                k => {
                    let mut d = docker::preflight(opts).await?;
                    if let Some(k) = k {
                        let tried = k.problems.join("; ");
                        d.problems.insert(0, format!("kubernetes: {tried}"));
                        d.kubernetes = k.kubernetes;
                    }
                    d
                }
            }
        }
    };
    p = p.settle();
    Ok(p)
}

async fn kube(opts: &Options, asked: bool) -> Result<Preflight> {
    match kubernetes::preflight(opts).await {
        Ok(p) => Ok(p),
        Err(ConnectError::NotConfigured) if asked => Ok(Preflight::cannot_run(
            "no Kubernetes configuration: --kubeconfig not given, KUBECONFIG unset, no ~/.kube/config and not running in a cluster; pass --kubeconfig FILE".into(),
        )),
        Err(ConnectError::NotConfigured) => Ok(Preflight::cannot_run(
            "no configuration (KUBECONFIG unset, no ~/.kube/config, not in a cluster)".into(),
        )),
        Err(ConnectError::Failed(e)) if e.downcast_ref::<UsageError>().is_some() => Err(e),
        Err(ConnectError::Failed(e)) => Ok(Preflight::cannot_run(format!("{e:#}"))),
    }
}

/// A preflight that found `deployment` (not yet settled).
pub fn found(
    target: &'static str,
    kubernetes: Option<KubePreflight>,
    docker: Option<DockerPreflight>,
    deployment: Option<Found>,
    problems: Vec<String>,
) -> Preflight {
    Preflight {
        verdict: Verdict::CannotRun,
        target: deployment.as_ref().map(|_| target),
        kubernetes,
        docker,
        deployment,
        missing: Vec::new(),
        problems,
    }
}

/// `check` on its own runtime (the command has none).
pub fn run(opts: &Options) -> Result<Preflight> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(check(opts))
}
