//! Which Kubernetes configuration a run uses: `--kubeconfig`, then
//! `KUBECONFIG`, then `~/.kube/config`, then in-cluster; and which context.
//! Errors name where the configuration came from and what to pass instead.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::UsageError;
use crate::collect::Options;

/// Why no client could be made. `NotConfigured` is the one case where
/// auto-detection quietly moves on to Docker.
#[derive(Debug)]
pub enum ConnectError {
    NotConfigured,
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for ConnectError {
    fn from(e: anyhow::Error) -> Self {
        ConnectError::Failed(e)
    }
}

/// Where the configuration came from, for error messages.
fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".kube").join("config"))
}

/// Whether any Kubernetes configuration exists without being asked for.
pub fn config_available() -> bool {
    std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || home_kubeconfig().is_some_and(|p| p.is_file())
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
}

pub(super) async fn load_config(opts: &Options) -> Result<(Config, String), ConnectError> {
    let (kc, source) = if let Some(path) = &opts.kubeconfig {
        let kc = Kubeconfig::read_from(path).map_err(|e| {
            anyhow!(
                "--kubeconfig {}: cannot use it: {e}; pass a readable kubeconfig file",
                path.display()
            )
        })?;
        (kc, format!("--kubeconfig {}", path.display()))
    } else if let Some(v) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let shown = v.to_string_lossy().into_owned();
        let kc = Kubeconfig::from_env()
            .map_err(|e| {
                anyhow!("KUBECONFIG={shown}: cannot use it: {e}; fix it or pass --kubeconfig")
            })?
            .ok_or_else(|| anyhow!("KUBECONFIG={shown}: no kubeconfig there"))?;
        (kc, format!("KUBECONFIG={shown}"))
    } else if let Some(p) = home_kubeconfig().filter(|p| p.is_file()) {
        let kc = Kubeconfig::read_from(&p).map_err(|e| {
            anyhow!(
                "{}: cannot use it: {e}; fix it or pass --kubeconfig",
                p.display()
            )
        })?;
        (kc, p.display().to_string())
    } else if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        if let Some(c) = &opts.context {
            return Err(ConnectError::Failed(
                UsageError(format!(
                    "--context {c}: running in-cluster without a kubeconfig, so there are no contexts; pass --kubeconfig too"
                ))
                .into(),
            ));
        }
        let config = Config::incluster().map_err(|e| {
            anyhow!("in-cluster Kubernetes configuration unusable: {e}; pass --kubeconfig")
        })?;
        return Ok((config, "in-cluster".into()));
    } else {
        return Err(ConnectError::NotConfigured);
    };

    let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    let context = match (&opts.context, &kc.current_context) {
        (Some(c), _) => {
            if !names.contains(&c.as_str()) {
                return Err(ConnectError::Failed(
                    UsageError(format!(
                        "--context {c}: no such context in {source}; it has: {}",
                        list_or_none(&names)
                    ))
                    .into(),
                ));
            }
            c.clone()
        }
        (None, Some(c)) if !c.is_empty() => c.clone(),
        _ => {
            return Err(ConnectError::Failed(
                UsageError(format!(
                    "{source} has no current context; choose one with --context ({})",
                    list_or_none(&names)
                ))
                .into(),
            ));
        }
    };
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| anyhow!("context {context} in {source} is unusable: {e}"))?;
    Ok((config, context))
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "no contexts".into()
    } else {
        names.join(", ")
    }
}
