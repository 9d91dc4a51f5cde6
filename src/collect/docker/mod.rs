//! Docker hosts: docker-compose projects, pure-docker deployments and the
//! single `sourcegraph/server` container, through the Docker Engine API
//! (bollard). Never the docker CLI.
//!
//! One file per job: `connect` (reaching the engine), `detect` (choosing
//! the deployment), `host` (engine, images, networks), `containers`
//! (inspect, stats, logs, summary rows), `volumes`, `compose` (the files a
//! project was started from), `server` (inside the single container) and
//! `exec` (commands inside a container). This file runs them in order.

mod compose;
mod connect;
mod containers;
mod detect;
mod exec;
mod host;
mod server;
mod volumes;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use bollard::Docker;
use bollard::models::ContainerSummary;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::{Collector, Ctx};
use crate::bundle::format::{Deployment, DeploymentType};
use crate::bundle::sizes::DiskUsage;
use crate::bundle::summary::Summary;
use crate::image::{ImageRef, is_sourcegraph_image};
use containers::ContainerFacts;
pub use detect::detect;

pub const NAME: &str = "docker";

/// What `detect` chose to collect.
pub struct Target {
    docker: Docker,
    host: String,
    kind: DeploymentType,
    /// Compose project name, or the server container's name.
    name: Option<String>,
    containers: Vec<ContainerSummary>,
}

impl Collector for Target {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> String {
        let what = match self.kind {
            DeploymentType::DockerCompose => "docker-compose project",
            DeploymentType::SingleContainer => "sourcegraph/server container",
            _ => "pure-docker deployment",
        };
        format!(
            "{what} {} on {} ({} containers)",
            self.name.as_deref().unwrap_or("(unnamed)"),
            self.host,
            self.containers.len()
        )
    }

    fn collect(self: Box<Self>, ctx: Ctx) -> BoxFuture<'static, Result<()>> {
        collect(*self, ctx).boxed()
    }
}

async fn collect(t: Target, ctx: Ctx) -> Result<()> {
    ctx.rec.set_deployment(deployment(&t));
    let docker = t.docker.clone();
    let mut disk = DiskUsage::default();
    host::engine(&docker, &ctx, &mut disk).await?;

    // Containers, with bounded concurrency.
    ctx.progress
        .phase(&format!("docker: {} containers", t.containers.len()));
    ctx.progress.objects_listed(t.containers.len() as u64);
    ctx.progress.logs_expected(t.containers.len() as u64);
    let sem = Arc::new(Semaphore::new(ctx.opts.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for c in t.containers.clone() {
        let (docker, ctx, sem) = (docker.clone(), ctx.clone(), sem.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            containers::collect(&docker, &ctx, &c).await
        });
    }
    let mut facts: Vec<ContainerFacts> = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(f)) => facts.push(f),
            Ok(Err(e)) => return Err(e),
            Err(e) => ctx
                .rec
                .error("containers", format!("a container task failed: {e}")),
        }
    }
    facts.sort_by(|a, b| a.name.cmp(&b.name));

    volumes::collect(&docker, &ctx, &facts, &mut disk).await?;
    host::images(&docker, &ctx, &facts).await?;
    host::networks(&docker, &ctx, &facts).await?;
    if t.kind == DeploymentType::DockerCompose {
        compose::collect(&ctx, &t.containers).await?;
    }
    if t.kind == DeploymentType::SingleContainer
        && let Some(f) = facts.first()
    {
        server::collect(&docker, &ctx, f, &mut disk).await?;
    }

    ctx.sink.disk_usage(&disk).await?;
    let summary = Summary {
        rows: facts.iter().map(containers::row).collect(),
    };
    ctx.sink.summary(&summary).await
}

fn deployment(t: &Target) -> Deployment {
    let mut location = BTreeMap::from([("docker_host".to_string(), t.host.clone())]);
    match t.kind {
        DeploymentType::DockerCompose => {
            location.insert("compose_project".into(), t.name.clone().unwrap_or_default());
        }
        DeploymentType::SingleContainer => {
            location.insert("container".into(), t.name.clone().unwrap_or_default());
        }
        _ => {}
    }
    Deployment {
        kind: t.kind,
        flavour: None,
        sourcegraph_version: version_of(&t.containers),
        location,
    }
}

/// The frontend's tag, else the server's, else any Sourcegraph image's.
fn version_of(cs: &[ContainerSummary]) -> Option<String> {
    let images = || {
        cs.iter()
            .filter_map(|c| c.image.as_deref())
            .map(ImageRef::parse)
    };
    let image_of = |want: &str| {
        images()
            .find(|i| i.is_sourcegraph(want))
            .and_then(|i| i.tag)
            .map(str::to_string)
    };
    image_of("frontend")
        .or_else(|| image_of("server"))
        .or_else(|| {
            cs.iter()
                .filter_map(|c| c.image.as_deref())
                .filter(|i| is_sourcegraph_image(i))
                .find_map(|i| ImageRef::parse(i).tag)
                .map(str::to_string)
        })
}

/// `check` on Docker: whether the daemon answers (and if not, why: no
/// socket, permission), then the deployment `detect` would choose.
pub async fn preflight(
    opts: &crate::collect::Options,
) -> Result<crate::collect::preflight::Preflight> {
    use crate::collect::preflight::{DockerPreflight, Found, found};
    let (host, reached) = match connect::connect(opts.docker_host.as_deref(), opts.timeout) {
        Ok((docker, host)) => {
            let r = match tokio::time::timeout(opts.timeout, docker.negotiate_version()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("{:#}", connect::unreachable(&host, &e))),
                Err(_) => Err(format!(
                    "the Docker daemon at {host} did not answer within {}s",
                    opts.timeout.as_secs()
                )),
            };
            (host, r)
        }
        Err(e) if e.downcast_ref::<crate::UsageError>().is_some() => return Err(e),
        Err(e) => (
            opts.docker_host
                .clone()
                .unwrap_or_else(|| "unix:///var/run/docker.sock".into()),
            Err(format!("{e:#}")),
        ),
    };
    let mut d = DockerPreflight {
        host,
        reachable: reached.is_ok(),
        error: reached.as_ref().err().cloned(),
    };
    if let Err(e) = reached {
        return Ok(found(
            "docker",
            None,
            Some(d),
            None,
            vec![format!("docker: {e}")],
        ));
    }
    match detect(opts).await {
        Ok(t) => {
            let deployment = Found {
                kind: t.kind.as_str().into(),
                flavour: None,
                version: version_of(&t.containers),
                description: t.describe(),
                members: t.containers.iter().map(detect::name_of).collect(),
            };
            d.host = t.host.clone();
            Ok(found("docker", None, Some(d), Some(deployment), Vec::new()))
        }
        Err(e) if e.downcast_ref::<crate::UsageError>().is_some() => Err(e),
        Err(e) => Ok(found(
            "docker",
            None,
            Some(d),
            None,
            vec![format!("docker: {e:#}")],
        )),
    }
}
