//! Which deployment collector runs: the flags decide when they name a
//! deployment kind; otherwise Kubernetes is tried when a kube config is
//! available, then Docker.

use anyhow::{Result, anyhow};

use super::kubernetes::client::ConnectError;
use super::{Collector, DeploymentChoice, Options, docker, kubernetes};
use crate::UsageError;

type Found = Box<dyn Collector>;

const KUBE_HINT: &str = "--deployment kubernetes (with --kubeconfig, --context or -n)";
const DOCKER_HINT: &str = "--deployment docker (with --docker-host, --project or --container)";

pub async fn detect(opts: &Options) -> Result<Found> {
    match opts.deployment {
        DeploymentChoice::Docker => Ok(Box::new(docker::detect(opts).await?)),
        DeploymentChoice::Kubernetes => match kubernetes::detect(opts).await {
            Ok(t) => Ok(Box::new(t)),
            Err(ConnectError::NotConfigured) => Err(anyhow!(
                "no Kubernetes configuration: --kubeconfig not given, KUBECONFIG unset, no ~/.kube/config and not running in a cluster; pass --kubeconfig FILE"
            )),
            Err(ConnectError::Failed(e)) => Err(e),
        },
        DeploymentChoice::Auto => auto(opts).await,
    }
}

/// Kubernetes first when configured; Docker otherwise or when Kubernetes
/// has no Sourcegraph. A choice the user must make (several deployments)
/// is passed on as it is.
async fn auto(opts: &Options) -> Result<Found> {
    let kube_err = if kubernetes::config_available() {
        match kubernetes::detect(opts).await {
            Ok(t) => return Ok(Box::new(t)),
            Err(ConnectError::Failed(e)) if e.downcast_ref::<UsageError>().is_some() => {
                return Err(e);
            }
            Err(ConnectError::Failed(e)) => Some(e),
            Err(ConnectError::NotConfigured) => None,
        }
    } else {
        None
    };
    let docker_err = match docker::detect(opts).await {
        Ok(t) => return Ok(Box::new(t)),
        Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
        Err(e) => e,
    };
    let kube_line = match kube_err {
        Some(e) => format!("{e:#}"),
        None => "no configuration (KUBECONFIG unset, no ~/.kube/config, not in a cluster)".into(),
    };
    Err(anyhow!(
        "no Sourcegraph deployment found.\n  kubernetes: {kube_line}\n  docker: {docker_err:#}\nPoint sg-debug at it with {KUBE_HINT}, or {DOCKER_HINT}"
    ))
}
