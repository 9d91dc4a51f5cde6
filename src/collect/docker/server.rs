//! Inside the single `sourcegraph/server` container: `/etc/sourcegraph`
//! (through redaction like everything else), the disk use of its data
//! directory, and the log files it keeps.

use anyhow::Result;
use bollard::Docker;
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt;

use super::containers::ContainerFacts;
use super::exec::exec;
use crate::artifact::FileKind;
use crate::bundle::sizes::{DiskUsage, VolumeKind, VolumeUsage};
use crate::collect::Ctx;
use crate::collect::parts::exec::Bounded;
use crate::collect::parts::{disk, path_segment};

/// `/etc/sourcegraph` of a server container is small; refuse anything huge.
const MAX_ETC_BYTES: usize = 64 << 20;
/// Where the single container keeps repositories, databases and logs.
const DATA: &str = "/var/opt/sourcegraph";

/// Inside the single container: `/etc/sourcegraph` (through redaction),
/// disk use of `/var/opt/sourcegraph`, and the log files it keeps.
pub async fn collect(
    docker: &Docker,
    ctx: &Ctx,
    f: &ContainerFacts,
    usage: &mut DiskUsage,
) -> Result<()> {
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
    let script = format!("df -Pk {DATA}; echo; du -sk {DATA}/* 2>&1");
    let mut out = Bounded::new(1 << 20);
    match exec(docker, &ctx.opts, name, &["sh", "-c", &script], &mut out).await {
        Ok(status) => {
            let text = out.text() + &status.stderr;
            match disk::parse_df(&text).into_iter().next() {
                Some((_, (size, used, avail))) => usage.volumes.push(VolumeUsage {
                    name: DATA.into(),
                    kind: VolumeKind::ContainerPath,
                    mounted_by: vec![format!("{name}:{DATA}")],
                    capacity_bytes: Some(size),
                    used_bytes: Some(used),
                    available_bytes: Some(avail),
                    source: format!("df in {name}"),
                }),
                None => usage
                    .notes
                    .push(format!("df of {DATA} in {name} printed nothing readable")),
            }
            ctx.sink
                .bytes(
                    "server/disk-usage.txt",
                    FileKind::Metadata,
                    text.into_bytes(),
                )
                .await?
        }
        Err(e) => ctx.rec.error("server/disk-usage", format!("{e:#}")),
    }
    let find = "find /var/opt/sourcegraph /var/log -maxdepth 4 -type f -name '*.log' 2>/dev/null | head -200";
    let mut list = Bounded::new(1 << 20);
    if let Err(e) = exec(docker, &ctx.opts, name, &["sh", "-c", find], &mut list).await {
        ctx.rec.error("server/logs", format!("{e:#}"));
        return Ok(());
    }
    // One byte more than the cap tells a file that was cut from one that
    // fits, so the truncation notice is honest.
    let cap = ctx.opts.max_log_bytes;
    let ask = (cap + 1).to_string();
    for path in list
        .text()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
    {
        let target = format!("server/logs{path}");
        let mut tail = ctx.tail(cap).await?;
        match exec(
            docker,
            &ctx.opts,
            name,
            &["tail", "-c", &ask, path],
            &mut tail,
        )
        .await
        {
            Ok(status) if status.failed => ctx.rec.error(
                &target,
                format!("reading it failed: {}", status.stderr.trim()),
            ),
            Ok(_) => {
                let rel = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(path_segment)
                    .collect::<Vec<_>>()
                    .join("/");
                ctx.sink
                    .tail(&format!("server/logs/{rel}"), FileKind::Log, tail)
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
