//! Docker hosts: docker-compose projects, pure-docker deployments and the
//! single `sourcegraph/server` container, through the Docker Engine API
//! (bollard). Never the docker CLI.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse, ContainerSummary};
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    LogsOptionsBuilder, StatsOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::summary::{Row, Summary};
use super::{Ctx, Options, TailBuffer, path_segment};
use crate::UsageError;
use crate::bundle::format::{Deployment, DeploymentType, FileKind};

pub const NAME: &str = "docker";
const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";
const CONFIG_FILES_LABEL: &str = "com.docker.compose.project.config_files";
const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";
/// `/etc/sourcegraph` of a server container is small; refuse anything huge.
const MAX_ETC_BYTES: usize = 64 << 20;

/// What `detect` chose to collect.
pub struct Target {
    docker: Docker,
    host: String,
    kind: DeploymentType,
    /// Compose project name, or the server container's name.
    name: Option<String>,
    containers: Vec<ContainerSummary>,
}

impl Target {
    pub fn describe(&self) -> String {
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
}

fn connect(host: Option<&str>, timeout: Duration) -> Result<(Docker, String)> {
    let secs = timeout.as_secs().max(1);
    let v = bollard::API_DEFAULT_VERSION;
    let (docker, shown) = match host {
        None => (
            Docker::connect_with_socket("/var/run/docker.sock", secs, v),
            "unix:///var/run/docker.sock".to_string(),
        ),
        Some(h) if h.starts_with("unix://") => (
            Docker::connect_with_socket(h.trim_start_matches("unix://"), secs, v),
            h.to_string(),
        ),
        Some(h) if h.starts_with("tcp://") || h.starts_with("http://") => {
            (Docker::connect_with_http(h, secs, v), h.to_string())
        }
        Some(h) if h.starts_with('/') => (Docker::connect_with_socket(h, secs, v), h.to_string()),
        Some(h) => {
            return Err(UsageError(format!(
                "--docker-host {h}: use unix:///path/to/docker.sock or tcp://HOST:PORT"
            ))
            .into());
        }
    };
    let socket = shown.trim_start_matches("unix://");
    if socket.starts_with('/') && !Path::new(socket).exists() {
        bail!(
            "no Docker daemon socket at {socket}: is Docker running on this host? Point elsewhere with --docker-host or DOCKER_HOST"
        );
    }
    let docker = docker.map_err(|e| anyhow!("cannot use Docker at {shown}: {e}"))?;
    Ok((docker, shown))
}

/// Turns a connection failure into what to do about it.
fn unreachable(host: &str, e: &bollard::errors::Error) -> anyhow::Error {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let socket = host.trim_start_matches("unix://");
            return match io.kind() {
                std::io::ErrorKind::PermissionDenied => anyhow!(
                    "permission denied on the Docker socket {socket}: run sg-debug as root, or as a user in the docker group"
                ),
                std::io::ErrorKind::NotFound => anyhow!(
                    "no Docker daemon socket at {socket}: is Docker running on this host? Point elsewhere with --docker-host or DOCKER_HOST"
                ),
                std::io::ErrorKind::ConnectionRefused => anyhow!(
                    "the Docker daemon at {host} refused the connection: is it running? Point elsewhere with --docker-host or DOCKER_HOST"
                ),
                _ => anyhow!("cannot reach the Docker daemon at {host}: {io}"),
            };
        }
        src = s.source();
    }
    anyhow!("cannot reach the Docker daemon at {host}: {e}")
}

async fn timed<T, F>(opts: &Options, what: &str, f: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T, bollard::errors::Error>>,
{
    match tokio::time::timeout(opts.timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(anyhow!("{what}: {e}")),
        Err(_) => Err(anyhow!(
            "{what}: no answer within {}s (raise --timeout)",
            opts.timeout.as_secs()
        )),
    }
}

fn is_sourcegraph_image(image: &str) -> bool {
    image.contains("sourcegraph/")
}

/// `index.docker.io/sourcegraph/server:6.1@sha256:..` -> `index.docker.io/sourcegraph/server`
fn image_repo(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => no_digest,
    }
}

pub fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rsplit_once(':') {
        Some((_, tag)) if !tag.contains('/') && !tag.is_empty() => Some(tag),
        _ => None,
    }
}

fn is_server_image(image: &str) -> bool {
    image_repo(image).ends_with("sourcegraph/server")
}

fn name_of(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .or_else(|| c.id.clone())
        .unwrap_or_default()
}

fn label<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a str> {
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

/// Everything about one container the bundle keeps.
struct ContainerFacts {
    name: String,
    inspect: Option<ContainerInspectResponse>,
    stats: Option<ContainerStatsResponse>,
}

pub async fn collect(t: Target, ctx: Ctx) -> Result<()> {
    let docker = t.docker.clone();
    let opts = ctx.opts.clone();
    let sink = &ctx.sink;

    let mut deployment = Deployment {
        kind: t.kind,
        flavour: None,
        sourcegraph_version: None,
        location: BTreeMap::from([("docker_host".to_string(), t.host.clone())]),
    };
    match t.kind {
        DeploymentType::DockerCompose => {
            deployment
                .location
                .insert("compose_project".into(), t.name.clone().unwrap_or_default());
        }
        DeploymentType::SingleContainer => {
            deployment
                .location
                .insert("container".into(), t.name.clone().unwrap_or_default());
        }
        _ => {}
    }
    deployment.sourcegraph_version = version_of(&t.containers);
    ctx.rec.set_deployment(deployment);

    // Host.
    ctx.progress.phase("docker: host version and info");
    let mut data_root = None;
    match timed(&opts, "docker version", docker.version()).await {
        Ok(v) => {
            sink.json("docker/host/version.json", FileKind::Metadata, &v)
                .await?
        }
        Err(e) => ctx.rec.error("docker/host/version", format!("{e:#}")),
    }
    match timed(&opts, "docker info", docker.info()).await {
        Ok(info) => {
            data_root = info.docker_root_dir.clone();
            sink.json("docker/host/info.json", FileKind::Metadata, &info)
                .await?;
        }
        Err(e) => ctx.rec.error("docker/host/info", format!("{e:#}")),
    }
    if let Some(root) = &data_root {
        match disk_free(Path::new(root)) {
            Some(d) => {
                sink.json("docker/host/data-root-disk.json", FileKind::Metadata, &d)
                    .await?
            }
            None => ctx.progress.detail(&format!(
                "data root {root} is not visible from here; free disk not recorded"
            )),
        }
    }

    // Containers, with bounded concurrency.
    ctx.progress
        .phase(&format!("docker: {} containers", t.containers.len()));
    let sem = Arc::new(Semaphore::new(opts.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for c in t.containers.clone() {
        let (docker, ctx, sem) = (docker.clone(), ctx.clone(), sem.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            container(&docker, &ctx, &c).await
        });
    }
    let mut facts = Vec::new();
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

    volumes(&docker, &ctx, &facts).await?;
    images(&docker, &ctx, &facts).await?;
    networks(&docker, &ctx, &facts).await?;
    if t.kind == DeploymentType::DockerCompose {
        compose_files(&ctx, &t.containers).await?;
    }
    if t.kind == DeploymentType::SingleContainer
        && let Some(f) = facts.first()
    {
        server_extras(&docker, &ctx, f).await?;
    }

    let summary = Summary {
        rows: facts.iter().map(row).collect(),
    };
    sink.summary(&summary).await
}

fn version_of(cs: &[ContainerSummary]) -> Option<String> {
    let image_of = |want: &str| {
        cs.iter()
            .filter_map(|c| c.image.as_deref())
            .find(|i| image_repo(i).ends_with(want))
            .and_then(image_tag)
            .map(str::to_string)
    };
    image_of("sourcegraph/frontend")
        .or_else(|| image_of("sourcegraph/server"))
        .or_else(|| {
            cs.iter()
                .filter_map(|c| c.image.as_deref())
                .filter(|i| is_sourcegraph_image(i))
                .find_map(image_tag)
                .map(str::to_string)
        })
}

async fn container(docker: &Docker, ctx: &Ctx, c: &ContainerSummary) -> Result<ContainerFacts> {
    let opts = &ctx.opts;
    let name = name_of(c);
    let id = c.id.clone().unwrap_or_else(|| name.clone());
    let base = format!("docker/containers/{}", path_segment(&name));
    ctx.progress.detail(&format!("container {name}"));

    let inspect = match timed(
        opts,
        &format!("inspecting {name}"),
        docker.inspect_container(&id, None::<InspectContainerOptions>),
    )
    .await
    {
        Ok(i) => {
            ctx.sink
                .json(&format!("{base}/inspect.json"), FileKind::Config, &i)
                .await?;
            Some(i)
        }
        Err(e) => {
            ctx.rec
                .error(&format!("containers/{name}/inspect"), format!("{e:#}"));
            None
        }
    };
    let running = inspect
        .as_ref()
        .and_then(|i| i.state.as_ref()?.running)
        .unwrap_or(false);

    let mut stats = None;
    if running {
        let so = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut s = docker.stats(&id, Some(so));
        match tokio::time::timeout(opts.timeout, s.next()).await {
            Ok(Some(Ok(v))) => {
                ctx.sink
                    .json(&format!("{base}/stats.json"), FileKind::Metadata, &v)
                    .await?;
                stats = Some(v);
            }
            Ok(Some(Err(e))) => ctx
                .rec
                .error(&format!("containers/{name}/stats"), e.to_string()),
            Ok(None) => ctx.rec.error(
                &format!("containers/{name}/stats"),
                "no sample returned".into(),
            ),
            Err(_) => ctx.rec.error(
                &format!("containers/{name}/stats"),
                format!("no sample within {}s", opts.timeout.as_secs()),
            ),
        }
    }

    // Logs: stdout and stderr interleaved as Docker stores them, with
    // timestamps, bounded by --since and --max-log-bytes (newest kept).
    let since = chrono::Utc::now().timestamp() - opts.since.as_secs() as i64;
    let lo = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(since.clamp(0, i32::MAX as i64) as i32)
        .tail("all")
        .build();
    let mut tail = TailBuffer::new(opts.max_log_bytes as usize);
    let mut logs = docker.logs(&id, Some(lo));
    let mut failed = None;
    loop {
        match tokio::time::timeout(opts.timeout, logs.next()).await {
            Ok(Some(Ok(out))) => tail.push(&out.into_bytes()),
            Ok(Some(Err(e))) => {
                failed = Some(e.to_string());
                break;
            }
            Ok(None) => break,
            Err(_) => {
                failed = Some(format!(
                    "the log stream stalled for {}s (raise --timeout)",
                    opts.timeout.as_secs()
                ));
                break;
            }
        }
    }
    if let Some(e) = failed {
        ctx.rec.error(
            &format!("containers/{name}/logs"),
            format!("{e}; the bundle has the part read before the failure"),
        );
    }
    ctx.sink
        .bytes(&format!("{base}/logs.txt"), FileKind::Log, tail.finish())
        .await?;

    Ok(ContainerFacts {
        name,
        inspect,
        stats,
    })
}

fn row(f: &ContainerFacts) -> Row {
    let mut r = Row {
        name: f.name.clone(),
        ..Row::default()
    };
    if let Some(i) = &f.inspect {
        let cfg = i.config.as_ref();
        r.image = cfg.and_then(|c| c.image.clone()).unwrap_or_default();
        r.service = cfg
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(SERVICE_LABEL).cloned());
        r.restarts = i.restart_count.unwrap_or(0).max(0) as u64;
        r.memory_limit_bytes = i
            .host_config
            .as_ref()
            .and_then(|h| h.memory)
            .filter(|m| *m > 0)
            .map(|m| m as u64);
        if let Some(s) = &i.state {
            r.state = s
                .status
                .map(|st| {
                    serde_json::to_value(st)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            r.oom_killed = s.oom_killed.unwrap_or(false);
            if !s.running.unwrap_or(false) || s.restarting.unwrap_or(false) {
                r.exit_code = s.exit_code;
            }
            r.health = s.health.as_ref().and_then(|h| h.status).and_then(|st| {
                serde_json::to_value(st)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .filter(|v| !v.is_empty() && v != "none")
            });
            if r.oom_killed {
                r.reason = Some("OOMKilled".into());
            } else if r.exit_code.is_some_and(|c| c != 0) {
                r.reason = Some("Error".into());
            }
            r.message = s.error.clone().filter(|e| !e.is_empty());
        }
    }
    if let Some(s) = &f.stats {
        if let Some(m) = &s.memory_stats {
            r.memory_used_bytes = m.usage;
            if r.memory_limit_bytes.is_none() {
                r.memory_limit_bytes = m.limit;
            }
        }
        r.cpu_percent = cpu_percent(s);
    }
    r
}

/// The CPU share Docker's CLI shows, from the sample and its predecessor.
fn cpu_percent(s: &ContainerStatsResponse) -> Option<f64> {
    let cur = s.cpu_stats.as_ref()?;
    let pre = s.precpu_stats.as_ref()?;
    let total = cur.cpu_usage.as_ref()?.total_usage? as f64
        - pre.cpu_usage.as_ref()?.total_usage.unwrap_or(0) as f64;
    let system = cur.system_cpu_usage? as f64 - pre.system_cpu_usage.unwrap_or(0) as f64;
    let cpus = cur.online_cpus.unwrap_or(1).max(1) as f64;
    (system > 0.0 && total >= 0.0).then(|| total / system * cpus * 100.0)
}

#[derive(Serialize)]
struct VolumeRecord {
    name: String,
    driver: Option<String>,
    mountpoint: Option<String>,
    labels: HashMap<String, String>,
    used_by: Vec<String>,
    size_bytes: Option<u64>,
    /// How the size was measured, or why it is unknown.
    size_source: String,
}

async fn volumes(docker: &Docker, ctx: &Ctx, facts: &[ContainerFacts]) -> Result<()> {
    let mut used_by: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for f in facts {
        let Some(i) = &f.inspect else { continue };
        let running = i.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        for m in i.mounts.iter().flatten() {
            let is_volume = m.typ.as_deref() == Some("volume");
            if let (true, Some(name)) = (is_volume, &m.name) {
                used_by.entry(name.clone()).or_default().push((
                    f.name.clone(),
                    m.destination.clone().unwrap_or_default(),
                    running,
                ));
            }
        }
    }
    ctx.progress
        .phase(&format!("docker: {} volumes", used_by.len()));
    let mut out = Vec::new();
    for (name, users) in used_by {
        let v = match timed(
            &ctx.opts,
            &format!("inspecting volume {name}"),
            docker.inspect_volume(&name),
        )
        .await
        {
            Ok(v) => Some(v),
            Err(e) => {
                ctx.rec.error(&format!("volumes/{name}"), format!("{e:#}"));
                None
            }
        };
        let mountpoint = v.as_ref().map(|v| v.mountpoint.clone());
        let (size_bytes, size_source) =
            volume_size(docker, ctx, mountpoint.as_deref(), &users).await;
        out.push(VolumeRecord {
            driver: v.as_ref().map(|v| v.driver.clone()),
            labels: v.as_ref().map(|v| v.labels.clone()).unwrap_or_default(),
            used_by: users.iter().map(|(c, d, _)| format!("{c}:{d}")).collect(),
            name,
            mountpoint,
            size_bytes,
            size_source,
        });
    }
    ctx.sink
        .json("docker/volumes.json", FileKind::Metadata, &out)
        .await
}

/// On the Docker host itself the volume's directory is readable; elsewhere
/// ask a running container that mounts it.
async fn volume_size(
    docker: &Docker,
    ctx: &Ctx,
    mountpoint: Option<&str>,
    users: &[(String, String, bool)],
) -> (Option<u64>, String) {
    if let Some(mp) = mountpoint
        && Path::new(mp).is_dir()
    {
        let mp = mp.to_string();
        if let Ok(Ok(n)) = tokio::time::timeout(
            ctx.opts.timeout,
            tokio::task::spawn_blocking(move || dir_size(Path::new(&mp))),
        )
        .await
        {
            return (Some(n), "host path".into());
        }
    }
    if ctx.opts.no_exec {
        return (None, "not visible from this host, and --no-exec".into());
    }
    let Some((container, dest, _)) = users.iter().find(|u| u.2) else {
        return (
            None,
            "not visible from this host, and no running container mounts it".into(),
        );
    };
    match exec(docker, &ctx.opts, container, &["du", "-sk", dest], 4096).await {
        Ok(out) => match String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|k| k.parse::<u64>().ok())
        {
            Some(k) => (Some(k * 1024), format!("du in {container}")),
            None => (None, format!("du in {container} printed {:?}", out.text())),
        },
        Err(e) => (None, format!("du in {container} failed: {e:#}")),
    }
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[derive(Serialize)]
struct DiskFree {
    path: String,
    total_bytes: u64,
    free_bytes: u64,
    available_bytes: u64,
}

fn disk_free(p: &Path) -> Option<DiskFree> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `s` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let f = s.f_frsize as u64;
    Some(DiskFree {
        path: p.display().to_string(),
        total_bytes: s.f_blocks as u64 * f,
        free_bytes: s.f_bfree as u64 * f,
        available_bytes: s.f_bavail as u64 * f,
    })
}

async fn images(docker: &Docker, ctx: &Ctx, facts: &[ContainerFacts]) -> Result<()> {
    let ids: BTreeSet<String> = facts
        .iter()
        .filter_map(|f| f.inspect.as_ref()?.image.clone())
        .collect();
    let mut out = Vec::new();
    for id in ids {
        match timed(
            &ctx.opts,
            &format!("inspecting image {id}"),
            docker.inspect_image(&id),
        )
        .await
        {
            Ok(i) => out.push(serde_json::json!({
                "id": i.id,
                "repo_tags": i.repo_tags,
                "repo_digests": i.repo_digests,
                "created": i.created,
                "size_bytes": i.size,
                "architecture": i.architecture,
                "os": i.os,
            })),
            Err(e) => ctx.rec.error(&format!("images/{id}"), format!("{e:#}")),
        }
    }
    ctx.sink
        .json("docker/images.json", FileKind::Metadata, &out)
        .await
}

async fn networks(docker: &Docker, ctx: &Ctx, facts: &[ContainerFacts]) -> Result<()> {
    let names: BTreeSet<String> = facts
        .iter()
        .filter_map(|f| {
            f.inspect
                .as_ref()?
                .network_settings
                .as_ref()?
                .networks
                .as_ref()
        })
        .flat_map(|n| n.keys().cloned())
        .filter(|n| n != "none")
        .collect();
    let mut out = Vec::new();
    for n in names {
        match timed(
            &ctx.opts,
            &format!("inspecting network {n}"),
            docker.inspect_network(&n, None::<bollard::query_parameters::InspectNetworkOptions>),
        )
        .await
        {
            Ok(i) => out.push(i),
            Err(e) => ctx.rec.error(&format!("networks/{n}"), format!("{e:#}")),
        }
    }
    ctx.sink
        .json("docker/networks.json", FileKind::Metadata, &out)
        .await
}

/// The compose files the project was started from, override files
/// included, plus the `.env` compose reads variables from.
async fn compose_files(ctx: &Ctx, cs: &[ContainerSummary]) -> Result<()> {
    let mut files: Vec<String> = Vec::new();
    let mut dirs = BTreeSet::new();
    for c in cs {
        if let Some(list) = label(c, CONFIG_FILES_LABEL) {
            for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                if !files.iter().any(|x| x == f) {
                    files.push(f.to_string());
                }
            }
        }
        if let Some(d) = label(c, WORKING_DIR_LABEL) {
            dirs.insert(d.to_string());
        }
    }
    for d in dirs {
        let env = Path::new(&d).join(".env");
        if env.is_file() {
            files.push(env.display().to_string());
        }
    }
    if files.is_empty() {
        ctx.rec.error(
            "compose/files",
            format!(
                "the containers carry no {CONFIG_FILES_LABEL} label; compose files not collected"
            ),
        );
    }
    for (i, f) in files.iter().enumerate() {
        let base = Path::new(f)
            .file_name()
            .map(|b| path_segment(&b.to_string_lossy()))
            .unwrap_or_else(|| "compose.yaml".into());
        match tokio::fs::read(f).await {
            Ok(data) => {
                ctx.sink
                    .bytes(&format!("docker/compose/{i}-{base}"), FileKind::Config, data)
                    .await?
            }
            Err(e) => ctx.rec.error(
                &format!("compose/{f}"),
                format!("not readable on this host ({e}); run sg-debug where the compose files are, or attach them with `sg-debug redact`"),
            ),
        }
    }
    Ok(())
}

/// What a command run inside a container printed, kept apart so that an
/// error message never passes for a file's content.
struct ExecOutput {
    stdout: Vec<u8>,
    stderr: String,
    exit_code: Option<i64>,
}

impl ExecOutput {
    /// Stdout and stderr, joined, for commands whose output is read as text.
    fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.stdout).into_owned();
        s.push_str(&self.stderr);
        s
    }
}

/// Runs a command in a running container, keeping at most `limit` bytes
/// of stdout (the command itself is expected to bound its output).
async fn exec(
    docker: &Docker,
    opts: &Options,
    container: &str,
    cmd: &[&str],
    limit: usize,
) -> Result<ExecOutput> {
    let created = timed(
        opts,
        &format!("exec in {container}"),
        docker.create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        ),
    )
    .await?;
    let started = timed(
        opts,
        &format!("exec in {container}"),
        docker.start_exec(&created.id, None),
    )
    .await?;
    let StartExecResults::Attached { mut output, .. } = started else {
        bail!("exec in {container} did not attach");
    };
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let read = async {
        while let Some(chunk) = output.next().await {
            match chunk? {
                bollard::container::LogOutput::StdErr { message } => {
                    if stderr.len() < 64 << 10 {
                        stderr.extend_from_slice(&message)
                    }
                }
                other => {
                    stdout.extend_from_slice(&other.into_bytes());
                    if stdout.len() > limit {
                        stdout.truncate(limit);
                        break;
                    }
                }
            }
        }
        Ok::<_, bollard::errors::Error>(())
    };
    match tokio::time::timeout(opts.timeout, read).await {
        Ok(r) => r.map_err(|e| anyhow!("exec in {container}: {e}"))?,
        Err(_) => bail!(
            "exec in {container}: no result within {}s",
            opts.timeout.as_secs()
        ),
    }
    let exit_code = timed(
        opts,
        &format!("exec in {container}"),
        docker.inspect_exec(&created.id),
    )
    .await
    .ok()
    .and_then(|i| i.exit_code);
    Ok(ExecOutput {
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        exit_code,
    })
}

/// Inside the single container: `/etc/sourcegraph` (through redaction),
/// disk use of `/var/opt/sourcegraph`, and the log files it keeps.
async fn server_extras(docker: &Docker, ctx: &Ctx, f: &ContainerFacts) -> Result<()> {
    let name = &f.name;
    ctx.progress
        .phase("docker: inside the sourcegraph/server container");
    let dl = DownloadFromContainerOptionsBuilder::default()
        .path("/etc/sourcegraph")
        .build();
    let mut stream = docker.download_from_container(name, Some(dl));
    let mut tarball = Vec::new();
    let mut err = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                tarball.extend_from_slice(&b);
                if tarball.len() > MAX_ETC_BYTES {
                    err = Some(format!("larger than {MAX_ETC_BYTES} bytes; not collected"));
                    break;
                }
            }
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
        }
    }
    match err {
        Some(e) => ctx.rec.error("server/etc-sourcegraph", e),
        None => {
            let files = tokio::task::spawn_blocking(move || untar(&tarball)).await??;
            for (path, data) in files {
                ctx.sink
                    .bytes(&format!("server/{path}"), FileKind::Config, data)
                    .await?;
            }
        }
    }

    let running = f
        .inspect
        .as_ref()
        .and_then(|i| i.state.as_ref()?.running)
        .unwrap_or(false);
    if ctx.opts.no_exec || !running {
        let why = if ctx.opts.no_exec {
            "--no-exec"
        } else {
            "the container is not running"
        };
        ctx.rec.error(
            "server/disk-usage",
            format!("disk use and log files inside the container not collected: {why}"),
        );
        return Ok(());
    }
    let script = "df -k /var/opt/sourcegraph; echo; du -sk /var/opt/sourcegraph/* 2>&1";
    match exec(docker, &ctx.opts, name, &["sh", "-c", script], 1 << 20).await {
        Ok(out) => {
            ctx.sink
                .bytes(
                    "server/disk-usage.txt",
                    FileKind::Metadata,
                    out.text().into_bytes(),
                )
                .await?
        }
        Err(e) => ctx.rec.error("server/disk-usage", format!("{e:#}")),
    }
    let find = "find /var/opt/sourcegraph /var/log -maxdepth 4 -type f -name '*.log' 2>/dev/null | head -200";
    let list = match exec(docker, &ctx.opts, name, &["sh", "-c", find], 1 << 20).await {
        Ok(l) => String::from_utf8_lossy(&l.stdout).into_owned(),
        Err(e) => {
            ctx.rec.error("server/logs", format!("{e:#}"));
            return Ok(());
        }
    };
    // One byte more than the cap tells a file that was cut from one that
    // fits, so the truncation notice is honest.
    let cap = ctx.opts.max_log_bytes as usize;
    let ask = (cap + 1).to_string();
    for path in list.lines().map(str::trim).filter(|l| l.starts_with('/')) {
        let target = format!("server/logs{path}");
        match exec(
            docker,
            &ctx.opts,
            name,
            &["tail", "-c", &ask, path],
            cap + 1,
        )
        .await
        {
            Ok(out) if out.exit_code.unwrap_or(0) != 0 => ctx
                .rec
                .error(&target, format!("reading it failed: {}", out.stderr.trim())),
            Ok(out) => {
                let rel = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(path_segment)
                    .collect::<Vec<_>>()
                    .join("/");
                let mut tail = TailBuffer::new(cap);
                tail.push(&out.stdout);
                ctx.sink
                    .bytes(&format!("server/logs/{rel}"), FileKind::Log, tail.finish())
                    .await?
            }
            Err(e) => ctx.rec.error(&target, format!("{e:#}")),
        }
    }
    Ok(())
}

/// Regular files of a tar archive as (path under `etc-sourcegraph/`, bytes).
fn untar(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries()? {
        let mut e = e?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let path = e.path()?.to_string_lossy().into_owned();
        // The archive's root is the `sourcegraph` directory itself.
        let rel = path.trim_start_matches("./");
        let rel = rel.strip_prefix("sourcegraph/").unwrap_or(rel);
        let rel: Vec<String> = rel
            .split('/')
            .filter(|s| !s.is_empty())
            .map(path_segment)
            .collect();
        if rel.is_empty() {
            continue;
        }
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut buf)?;
        out.push((format!("etc-sourcegraph/{}", rel.join("/")), buf));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        let i = "index.docker.io/sourcegraph/frontend:6.12.5040@sha256:abc";
        assert_eq!(image_tag(i), Some("6.12.5040"));
        assert_eq!(image_repo(i), "index.docker.io/sourcegraph/frontend");
        assert_eq!(image_tag("localhost:5000/sourcegraph/server"), None);
        assert!(is_server_image("sourcegraph/server:6.12.5040"));
        assert!(is_server_image(
            "registry.acme.com:5000/sourcegraph/server:6.1"
        ));
        assert!(!is_server_image("sourcegraph/frontend:6.1"));
        assert_eq!(path_segment("../x y"), ".._x_y");
        assert_eq!(path_segment(".."), "_");
    }
}
