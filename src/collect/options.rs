//! Collection options, parsed from the command line once and shared by
//! every collector; recorded in the manifest as given after defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Which kind of deployment to collect from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentChoice {
    /// Kubernetes when a kube config is available, then Docker.
    Auto,
    Kubernetes,
    Docker,
}

impl DeploymentChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentChoice::Auto => "auto",
            DeploymentChoice::Kubernetes => "kubernetes",
            DeploymentChoice::Docker => "docker",
        }
    }
}

/// Option name to value, for the manifest.
pub type OptionRecord = BTreeMap<String, serde_json::Value>;

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
    /// Kubernetes: Secrets are not listed.
    pub no_secrets: bool,
    /// Which collector to use, after checking the flags agree.
    pub deployment: DeploymentChoice,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    /// The Sourcegraph instance's URL for its GraphQL API
    /// (`--sourcegraph-url`, else `SRC_ENDPOINT`).
    pub sourcegraph_url: Option<String>,
    /// Where the URL came from, for messages: the flag or the variable.
    pub sourcegraph_url_source: &'static str,
    /// `SRC_ACCESS_TOKEN`: never recorded, never shown.
    pub access_token: Option<AccessToken>,
    pub insecure_skip_verify: bool,
    pub ca_cert: Option<PathBuf>,
}

/// A Sourcegraph access token. Its `Debug` shows nothing, and `record`
/// leaves it out: it must not reach the manifest, logs or messages.
#[derive(Clone)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: String) -> AccessToken {
        AccessToken(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(hidden)")
    }
}

/// The largest log kept per container, so that memory stays bounded.
pub const MAX_LOG_CAP: u64 = 1 << 30;

impl Options {
    pub fn record(&self) -> OptionRecord {
        let mut m = OptionRecord::new();
        m.insert("since_seconds".into(), self.since.as_secs().into());
        m.insert("max_log_bytes".into(), self.max_log_bytes.into());
        m.insert("concurrency".into(), self.concurrency.into());
        m.insert("timeout_seconds".into(), self.timeout.as_secs().into());
        m.insert("deadline_seconds".into(), self.deadline.as_secs().into());
        m.insert("no_exec".into(), self.no_exec.into());
        m.insert("no_secrets".into(), self.no_secrets.into());
        m.insert("obfuscate_network".into(), self.obfuscate_network.into());
        if self.insecure_skip_verify {
            m.insert("insecure_skip_verify".into(), true.into());
        }
        // Where the instance API's credential came from, never its value
        // (a key naming a token would be a secret's name to the leak scan).
        m.insert(
            "instance_auth".into(),
            if self.access_token.is_some() {
                "SRC_ACCESS_TOKEN"
            } else {
                "none"
            }
            .into(),
        );
        if self.pure_docker {
            m.insert("pure_docker".into(), true.into());
        }
        m.insert("deployment".into(), self.deployment.as_str().into());
        let kubeconfig = self.kubeconfig.as_ref().map(|p| p.display().to_string());
        let ca_cert = self.ca_cert.as_ref().map(|p| p.display().to_string());
        for (k, v) in [
            ("docker_host", &self.docker_host),
            ("project", &self.project),
            ("container", &self.container),
            ("kubeconfig", &kubeconfig),
            ("context", &self.context),
            ("namespace", &self.namespace),
            ("sourcegraph_url", &self.sourcegraph_url),
            ("ca_cert", &ca_cert),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.clone().into());
            }
        }
        m
    }
}

#[cfg(test)]
impl Options {
    /// The defaults of `collect`, no deployment flags, no instance access.
    pub fn for_tests() -> Options {
        Options {
            since: Duration::from_secs(60),
            max_log_bytes: 1 << 20,
            concurrency: 2,
            timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            docker_host: None,
            project: None,
            container: None,
            pure_docker: false,
            obfuscate_network: false,
            no_exec: true,
            no_secrets: false,
            deployment: DeploymentChoice::Auto,
            kubeconfig: None,
            context: None,
            namespace: None,
            sourcegraph_url: None,
            sourcegraph_url_source: "",
            access_token: None,
            insecure_skip_verify: false,
            ca_cert: None,
        }
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
