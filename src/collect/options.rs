//! Collection options, parsed from the command line once and shared by
//! every collector; recorded in the manifest as given after defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use super::OptionRecord;
use crate::UsageError;
use crate::cli::{CollectArgs, DeploymentArg};

#[derive(Debug, Clone)]
pub struct Options {
    pub since: Duration,
    pub max_log_bytes: u64,
    pub concurrency: usize,
    pub timeout: Duration,
    pub deadline: Duration,
    pub docker_host: Option<String>,
    pub project: Option<String>,
    pub container: Option<String>,
    pub pure_docker: bool,
    pub obfuscate_network: bool,
    pub no_exec: bool,
    pub verbose: bool,
    /// Which collector to use, after checking the flags agree.
    pub deployment: DeploymentArg,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// The largest log kept per container, so that memory stays bounded.
pub const MAX_LOG_CAP: u64 = 1 << 30;

impl Options {
    pub fn from_args(a: &CollectArgs) -> Result<Options> {
        let usage = |m: String| anyhow::Error::from(UsageError(m));
        let max_log_bytes = parse_size(&a.max_log_bytes)
            .map_err(|e| usage(format!("--max-log-bytes {}: {e}", a.max_log_bytes)))?;
        if max_log_bytes == 0 || max_log_bytes > MAX_LOG_CAP {
            return Err(usage(format!(
                "--max-log-bytes {}: must be between 1 byte and 1GiB",
                a.max_log_bytes
            )));
        }
        if a.concurrency == 0 || a.concurrency > 64 {
            return Err(usage(format!(
                "--concurrency {}: must be between 1 and 64",
                a.concurrency
            )));
        }
        let deployment = deployment_choice(a)?;
        let dur =
            |flag: &str, v: &str| parse_duration(v).map_err(|e| usage(format!("{flag} {v}: {e}")));
        Ok(Options {
            since: dur("--since", &a.since)?,
            max_log_bytes,
            concurrency: a.concurrency,
            timeout: dur("--timeout", &a.timeout)?,
            deadline: dur("--deadline", &a.deadline)?,
            docker_host: a
                .docker_host
                .clone()
                .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty())),
            project: a.project.clone(),
            container: a.container.clone(),
            pure_docker: a.pure_docker,
            obfuscate_network: a.obfuscate_network,
            no_exec: a.no_exec,
            verbose: a.verbose,
            deployment,
            kubeconfig: a.kubeconfig.clone(),
            context: a.context.clone(),
            namespace: a.namespace.clone(),
        })
    }

    pub fn record(&self) -> OptionRecord {
        let mut m = OptionRecord::new();
        m.insert("since_seconds".into(), self.since.as_secs().into());
        m.insert("max_log_bytes".into(), self.max_log_bytes.into());
        m.insert("concurrency".into(), self.concurrency.into());
        m.insert("timeout_seconds".into(), self.timeout.as_secs().into());
        m.insert("deadline_seconds".into(), self.deadline.as_secs().into());
        m.insert("no_exec".into(), self.no_exec.into());
        m.insert("obfuscate_network".into(), self.obfuscate_network.into());
        if self.pure_docker {
            m.insert("pure_docker".into(), true.into());
        }
        let deployment = match self.deployment {
            DeploymentArg::Auto => "auto",
            DeploymentArg::Kubernetes => "kubernetes",
            DeploymentArg::Docker => "docker",
        };
        m.insert("deployment".into(), deployment.into());
        let kubeconfig = self.kubeconfig.as_ref().map(|p| p.display().to_string());
        for (k, v) in [
            ("docker_host", &self.docker_host),
            ("project", &self.project),
            ("container", &self.container),
            ("kubeconfig", &kubeconfig),
            ("context", &self.context),
            ("namespace", &self.namespace),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.clone().into());
            }
        }
        m
    }
}

/// Kubernetes flags and Docker flags name different deployments: a
/// command line with both is a mistake, not a choice to guess at.
fn deployment_choice(a: &CollectArgs) -> Result<DeploymentArg> {
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
        DeploymentArg::Auto if !kube.is_empty() => Ok(DeploymentArg::Kubernetes),
        DeploymentArg::Auto if !docker.is_empty() => Ok(DeploymentArg::Docker),
        DeploymentArg::Kubernetes if !docker.is_empty() => {
            clash(&["--deployment kubernetes"], &docker)
        }
        DeploymentArg::Docker if !kube.is_empty() => clash(&kube, &["--deployment docker"]),
        d => Ok(d),
    }
}

/// `90s`, `30m`, `24h`, `7d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a number with a unit, like 90s, 30m, 24h or 7d".to_string())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        other => return Err(format!("unknown unit '{other}'; use s, m, h or d")),
    };
    if secs == 0 {
        return Err("must be more than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

/// `10MiB`, `500KiB`, `1GiB`, `10M` (= MiB), or a bare number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a size like 10MiB, 500KiB or 1GiB".to_string())?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown unit '{other}'; use B, KiB, MiB or GiB")),
    };
    n.checked_mul(mult).ok_or_else(|| "too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("24h").unwrap().as_secs(), 86400);
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 604800);
        assert!(
            parse_duration("1w")
                .unwrap_err()
                .contains("unknown unit 'w'")
        );
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("500k").unwrap(), 500 << 10);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("10 parsecs").is_err());
    }
}
