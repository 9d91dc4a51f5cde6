//! Named volumes the containers mount: their metadata in
//! `docker/volumes.json`, their size in the shared `disk-usage.json`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Result;
use bollard::Docker;
use serde::Serialize;

use super::connect::timed;
use super::containers::ContainerFacts;
use super::exec::exec;
use crate::artifact::FileKind;
use crate::bundle::sizes::{DiskUsage, VolumeKind, VolumeUsage};
use crate::collect::Ctx;
use crate::collect::parts::disk;
use crate::collect::parts::exec::Bounded;

#[derive(Serialize)]
struct VolumeRecord {
    name: String,
    driver: Option<String>,
    mountpoint: Option<String>,
    labels: HashMap<String, String>,
    used_by: Vec<String>,
}

/// Who mounts a volume: (container, destination, whether it runs).
type Users = Vec<(String, String, bool)>;

pub async fn collect(
    docker: &Docker,
    ctx: &Ctx,
    facts: &[ContainerFacts],
    usage: &mut DiskUsage,
) -> Result<()> {
    let mut used_by: BTreeMap<String, Users> = BTreeMap::new();
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
        let mounted_by: Vec<String> = users.iter().map(|(c, d, _)| format!("{c}:{d}")).collect();
        let (used_bytes, source) = size(docker, ctx, mountpoint.as_deref(), &users).await;
        usage.volumes.push(VolumeUsage {
            name: name.clone(),
            kind: VolumeKind::DockerVolume,
            mounted_by: mounted_by.clone(),
            // `du` measures the volume, not its file system; the data
            // root's entry says how full that is.
            capacity_bytes: None,
            used_bytes,
            available_bytes: None,
            source,
        });
        out.push(VolumeRecord {
            driver: v.as_ref().map(|v| v.driver.clone()),
            labels: v.as_ref().map(|v| v.labels.clone()).unwrap_or_default(),
            used_by: mounted_by,
            name,
            mountpoint,
        });
    }
    ctx.sink
        .json("docker/volumes.json", FileKind::Metadata, &out)
        .await
}

/// On the Docker host itself the volume's directory is readable; elsewhere
/// ask a running container that mounts it.
async fn size(
    docker: &Docker,
    ctx: &Ctx,
    mountpoint: Option<&str>,
    users: &Users,
) -> (Option<u64>, String) {
    if let Some(mp) = mountpoint
        && Path::new(mp).is_dir()
    {
        let mp = mp.to_string();
        if let Ok(Ok(n)) = tokio::time::timeout(
            ctx.opts.timeout,
            tokio::task::spawn_blocking(move || disk::dir_size(Path::new(&mp))),
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
    let mut out = Bounded::new(4096);
    match exec(docker, &ctx.opts, container, &["du", "-sk", dest], &mut out).await {
        Ok(status) => match disk::parse_du(&out.text()) {
            Some(n) => (Some(n), format!("du in {container}")),
            None => (
                None,
                format!(
                    "du in {container} printed {:?}",
                    out.text() + &status.stderr
                ),
            ),
        },
        Err(e) => (None, format!("du in {container} failed: {e:#}")),
    }
}
