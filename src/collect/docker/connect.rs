//! Reaching the Docker engine, and turning its failures into what to do.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use bollard::Docker;

use crate::UsageError;
use crate::collect::Options;

pub fn connect(host: Option<&str>, timeout: Duration) -> Result<(Docker, String)> {
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
pub fn unreachable(host: &str, e: &bollard::errors::Error) -> anyhow::Error {
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

pub async fn timed<T, F>(opts: &Options, what: &str, f: F) -> Result<T>
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
