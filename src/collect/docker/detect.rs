//! Which Docker deployment to collect: a docker-compose project (by its
//! labels), the single `sourcegraph/server` container, or the unlabelled
//! Sourcegraph containers of a pure-docker deployment. Several on one
//! host is the user's choice to make, never a guess.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::Target;
use super::connect::{connect, timed, unreachable};
use crate::UsageError;
use crate::bundle::format::DeploymentType;
use crate::collect::Options;
use crate::image::{ImageRef, is_sourcegraph_image};

pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const CONFIG_FILES_LABEL: &str = "com.docker.compose.project.config_files";
pub const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";

fn is_server_image(image: &str) -> bool {
    ImageRef::parse(image).is_sourcegraph("server")
}

pub fn name_of(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .or_else(|| c.id.clone())
        .unwrap_or_default()
}

pub fn label<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a str> {
    c.labels.as_ref()?.get(key).map(String::as_str)
}

enum Candidate {
    Compose(String, Vec<ContainerSummary>),
    Server(Box<ContainerSummary>),
    PureDocker(Vec<ContainerSummary>),
}

impl Candidate {
    fn describe(&self) -> String {
        match self {
            Candidate::Compose(p, cs) => {
                format!(
                    "docker-compose project '{p}' ({} containers): --project {p}",
                    cs.len()
                )
            }
            Candidate::Server(c) => {
                let n = name_of(c);
                format!("sourcegraph/server container '{n}': --container {n}")
            }
            Candidate::PureDocker(cs) => format!(
                "pure-docker deployment ({} Sourcegraph containers without compose labels): --pure-docker",
                cs.len()
            ),
        }
    }
}

fn candidates(all: &[ContainerSummary]) -> Vec<Candidate> {
    let mut projects: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
    let mut pure = Vec::new();
    let mut out = Vec::new();
    for c in all {
        let image = c.image.as_deref().unwrap_or_default();
        if let Some(p) = label(c, PROJECT_LABEL) {
            projects.entry(p.to_string()).or_default().push(c.clone());
        } else if is_server_image(image) {
            out.push(Candidate::Server(Box::new(c.clone())));
        } else if is_sourcegraph_image(image) {
            pure.push(c.clone());
        }
    }
    for (p, cs) in projects {
        // Whatever the project is called: it is Sourcegraph's if it runs
        // Sourcegraph's images.
        if cs
            .iter()
            .any(|c| is_sourcegraph_image(c.image.as_deref().unwrap_or_default()))
        {
            out.insert(0, Candidate::Compose(p, cs));
        }
    }
    if !pure.is_empty() {
        out.push(Candidate::PureDocker(pure));
    }
    out
}

/// Connects and picks the deployment to collect, or explains why not.
pub async fn detect(opts: &Options) -> Result<Target> {
    let (docker, host) = connect(opts.docker_host.as_deref(), opts.timeout)?;
    // Debian's engine speaks an older API than bollard's default.
    let docker = match tokio::time::timeout(opts.timeout, docker.negotiate_version()).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return Err(unreachable(&host, &e)),
        Err(_) => bail!(
            "the Docker daemon at {host} did not answer within {}s",
            opts.timeout.as_secs()
        ),
    };
    let list = ListContainersOptionsBuilder::default().all(true).build();
    let all = timed(
        opts,
        "listing containers",
        docker.list_containers(Some(list)),
    )
    .await?;

    if let Some(p) = &opts.project {
        let cs: Vec<ContainerSummary> = all
            .iter()
            .filter(|c| label(c, PROJECT_LABEL) == Some(p.as_str()))
            .cloned()
            .collect();
        if cs.is_empty() {
            return Err(UsageError(format!(
                "--project {p}: no containers of a docker-compose project '{p}' on {host}{}",
                list_candidates(&candidates(&all))
            ))
            .into());
        }
        return Ok(Target {
            docker,
            host,
            kind: DeploymentType::DockerCompose,
            name: Some(p.clone()),
            containers: cs,
        });
    }
    if let Some(name) = &opts.container {
        let Some(c) = all.iter().find(|c| {
            name_of(c) == *name
                || c.id
                    .as_deref()
                    .is_some_and(|id| id.starts_with(name.as_str()))
        }) else {
            return Err(UsageError(format!(
                "--container {name}: no such container on {host}{}",
                list_candidates(&candidates(&all))
            ))
            .into());
        };
        let image = c.image.as_deref().unwrap_or_default();
        if !is_server_image(image) {
            return Err(UsageError(format!(
                "--container {name}: runs {image}, not sourcegraph/server; for a docker-compose deployment use --project"
            ))
            .into());
        }
        return Ok(Target {
            docker,
            host,
            kind: DeploymentType::SingleContainer,
            name: Some(name_of(c)),
            containers: vec![c.clone()],
        });
    }
    let mut found = candidates(&all);
    if opts.pure_docker {
        let Some(Candidate::PureDocker(cs)) = found
            .into_iter()
            .find(|c| matches!(c, Candidate::PureDocker(_)))
        else {
            return Err(UsageError(format!(
                "--pure-docker: no Sourcegraph containers without compose labels on {host}{}",
                list_candidates(&candidates(&all))
            ))
            .into());
        };
        return Ok(Target {
            docker,
            host,
            kind: DeploymentType::PureDocker,
            name: None,
            containers: cs,
        });
    }
    match found.len() {
        0 => bail!(
            "no Sourcegraph deployment found on {host}: none of its {} containers runs a sourcegraph/* image",
            all.len()
        ),
        1 => {}
        _ => {
            return Err(UsageError(format!(
                "several Sourcegraph deployments on {host}; choose one:{}",
                list_candidates(&found)
            ))
            .into());
        }
    }
    let (kind, name, containers) = match found.remove(0) {
        Candidate::Compose(p, cs) => (DeploymentType::DockerCompose, Some(p), cs),
        Candidate::Server(c) => (DeploymentType::SingleContainer, Some(name_of(&c)), vec![*c]),
        Candidate::PureDocker(cs) => (DeploymentType::PureDocker, None, cs),
    };
    Ok(Target {
        docker,
        host,
        kind,
        name,
        containers,
    })
}

fn list_candidates(found: &[Candidate]) -> String {
    if found.is_empty() {
        return "; no Sourcegraph deployment is visible there".into();
    }
    found
        .iter()
        .map(|c| format!("\n  {}", c.describe()))
        .collect()
}
