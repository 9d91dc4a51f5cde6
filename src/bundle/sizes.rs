//! Contract: `disk-usage.json`, written by every deployment collector in
//! the same shape: how full each volume is, however it was measured.
//! `docs/bundle-format.md` documents it; `inspect` reads it.

use serde::{Deserialize, Serialize};

pub const DISK_USAGE_NAME: &str = "disk-usage.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DiskUsage {
    pub volumes: Vec<VolumeUsage>,
    /// Why some or all volumes were not measured (`--no-exec`, exec
    /// forbidden, a volume no running container mounts, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeKind {
    /// A named Docker volume.
    DockerVolume,
    /// A Kubernetes PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// A directory inside a container (the single container's data).
    ContainerPath,
    /// A file system on the Docker host (the engine's data root).
    HostPath,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumeUsage {
    /// Volume or claim name, or the path for the two path kinds.
    pub name: String,
    pub kind: VolumeKind,
    /// Who mounts it where: `container:/path` or `pod/container:/path`.
    #[serde(default)]
    pub mounted_by: Vec<String>,
    /// Size of the file system holding it (from `df`/`statvfs`); unknown
    /// when only `du` could measure it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// How it was measured (`df in pod/container`, `du in container`,
    /// `host path`, `statvfs`), or why it was not.
    pub source: String,
}

impl VolumeUsage {
    /// Percent used as `df` computes it: used / (used + available), which
    /// leaves out the blocks reserved for root. None when not measured.
    pub fn used_percent(&self) -> Option<f64> {
        let used = self.used_bytes? as f64;
        let avail = self.available_bytes? as f64;
        (used + avail > 0.0).then(|| used * 100.0 / (used + avail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_like_df() {
        let mut v = VolumeUsage {
            name: "repos".into(),
            kind: VolumeKind::PersistentVolumeClaim,
            mounted_by: vec![],
            capacity_bytes: Some(100),
            used_bytes: Some(85),
            available_bytes: Some(10),
            source: "df".into(),
        };
        assert_eq!(v.used_percent().map(|p| p.round()), Some(89.0));
        v.available_bytes = None;
        assert_eq!(v.used_percent(), None);
    }
}
