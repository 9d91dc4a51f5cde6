//! `sg-debug rbac`: the Kubernetes RBAC that grants exactly what `collect`
//! reads, to apply before collecting without cluster-admin.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::UsageError;
use crate::collect::kubernetes::rbac::{self, Scope};

#[derive(Debug, Args)]
pub struct RbacArgs {
    /// The namespace Sourcegraph runs in (where the Role and service account go)
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The service account to create and bind
    #[arg(long, default_value = "sg-debug")]
    pub service_account: String,
    /// Also a ClusterRole and binding for nodes, persistent volumes and storage classes
    #[arg(long)]
    pub cluster: bool,
    /// Leave out pods/exec (then collect with --no-exec: no volume disk use)
    #[arg(long)]
    pub no_exec: bool,
    /// Leave out Secrets (then collect with --no-secrets: no Helm release values, no Secret key names)
    #[arg(long)]
    pub no_secrets: bool,
}

pub fn run(a: RbacArgs) -> Result<ExitCode> {
    for (flag, v) in [
        ("--namespace", &a.namespace),
        ("--service-account", &a.service_account),
    ] {
        if !is_dns_label(v) {
            return Err(UsageError(format!(
                "{flag} {v:?}: not a Kubernetes name (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit)"
            ))
            .into());
        }
    }
    let scope = Scope {
        cluster: a.cluster,
        no_exec: a.no_exec,
        no_secrets: a.no_secrets,
    };
    print!(
        "{}",
        rbac::manifests(&a.namespace, &a.service_account, scope)
    );
    Ok(ExitCode::SUCCESS)
}

/// RFC 1123 label, what namespaces and service accounts must be (names
/// printed into YAML unquoted, so nothing else may pass).
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
