//! The engine itself (version, info, its data root's file system), and
//! the images and networks the deployment's containers use.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use bollard::Docker;

use super::connect::timed;
use super::containers::ContainerFacts;
use crate::artifact::FileKind;
use crate::bundle::sizes::{DiskUsage, VolumeKind, VolumeUsage};
use crate::collect::Ctx;
use crate::collect::parts::disk;

pub async fn engine(docker: &Docker, ctx: &Ctx, usage: &mut DiskUsage) -> Result<()> {
    ctx.progress.phase("docker: host version and info");
    let opts = &ctx.opts;
    let sink = &ctx.sink;
    let mut data_root = None;
    match timed(opts, "docker version", docker.version()).await {
        Ok(v) => {
            sink.json("docker/host/version.json", FileKind::Metadata, &v)
                .await?
        }
        Err(e) => ctx.rec.error("docker/host/version", format!("{e:#}")),
    }
    match timed(opts, "docker info", docker.info()).await {
        Ok(info) => {
            data_root = info.docker_root_dir.clone();
            sink.json("docker/host/info.json", FileKind::Metadata, &info)
                .await?;
        }
        Err(e) => ctx.rec.error("docker/host/info", format!("{e:#}")),
    }
    if let Some(root) = data_root {
        // Local volumes live under the data root: its file system filling
        // up is what stops the deployment.
        match disk::statvfs(Path::new(&root)) {
            Some((size, used, avail)) => usage.volumes.push(VolumeUsage {
                name: root,
                kind: VolumeKind::HostPath,
                mounted_by: vec!["docker engine data root".into()],
                capacity_bytes: Some(size),
                used_bytes: Some(used),
                available_bytes: Some(avail),
                source: "statvfs on the Docker host".into(),
            }),
            None => usage.notes.push(format!(
                "the engine's data root {root} is not visible from where sg-debug ran; its free space was not measured"
            )),
        }
    }
    Ok(())
}

pub async fn images(docker: &Docker, ctx: &Ctx, facts: &[ContainerFacts]) -> Result<()> {
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

pub async fn networks(docker: &Docker, ctx: &Ctx, facts: &[ContainerFacts]) -> Result<()> {
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
