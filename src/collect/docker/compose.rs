//! The compose files a project was started from, override files
//! included, plus the `.env` compose reads variables from; found through
//! the labels Compose puts on every container.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use bollard::models::ContainerSummary;

use super::detect::{CONFIG_FILES_LABEL, WORKING_DIR_LABEL, label};
use crate::artifact::FileKind;
use crate::collect::Ctx;
use crate::collect::parts::path_segment;

pub async fn collect(ctx: &Ctx, cs: &[ContainerSummary]) -> Result<()> {
    let mut files: Vec<String> = Vec::new();
    let mut dirs = BTreeSet::new();
    for c in cs {
        let dir = label(c, WORKING_DIR_LABEL);
        if let Some(list) = label(c, CONFIG_FILES_LABEL) {
            for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                let f = resolve(f, dir);
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
        if let Some(d) = dir {
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

/// Compose v1 records the files as they were named on its command line
/// (`docker-compose.yaml`, relative to where it ran); v2 records absolute
/// paths. Relative ones are taken from the project's working directory.
fn resolve(file: &str, working_dir: Option<&str>) -> String {
    match working_dir {
        Some(d) if !Path::new(file).is_absolute() => Path::new(d).join(file).display().to_string(),
        _ => file.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_compose_files_are_found_in_the_working_dir() {
        assert_eq!(
            resolve("docker-compose.yaml", Some("/srv/sg")),
            "/srv/sg/docker-compose.yaml"
        );
        assert_eq!(
            resolve("/etc/sg/compose.yaml", Some("/srv/sg")),
            "/etc/sg/compose.yaml"
        );
        assert_eq!(resolve("compose.yaml", None), "compose.yaml");
    }
}
