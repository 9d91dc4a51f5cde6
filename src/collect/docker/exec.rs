//! Commands inside a running container, through the engine's exec API;
//! output bounded by the sinks in `parts::exec`.

use anyhow::{Result, anyhow, bail};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::connect::timed;
use crate::collect::Options;
use crate::collect::parts::exec::{Bounded, ExecStatus, MAX_STDERR, OutputSink};

/// Runs `cmd` in `container`; stdout goes to `stdout` until it has enough.
pub async fn exec(
    docker: &Docker,
    opts: &Options,
    container: &str,
    cmd: &[&str],
    stdout: &mut dyn OutputSink,
) -> Result<ExecStatus> {
    let what = format!("exec in {container}");
    let created = timed(
        opts,
        &what,
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
    let started = timed(opts, &what, docker.start_exec(&created.id, None)).await?;
    let StartExecResults::Attached { mut output, .. } = started else {
        bail!("{what} did not attach");
    };
    let mut stderr = Bounded::new(MAX_STDERR);
    let read = async {
        while let Some(chunk) = output.next().await {
            match chunk.map_err(|e| anyhow!("{what}: {e}"))? {
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.push(&message)?;
                }
                other => {
                    if !stdout.push(&other.into_bytes())? {
                        break;
                    }
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    match tokio::time::timeout(opts.timeout, read).await {
        Ok(r) => r?,
        Err(_) => bail!("{what}: no result within {}s", opts.timeout.as_secs()),
    }
    let exit_code = timed(opts, &what, docker.inspect_exec(&created.id))
        .await
        .ok()
        .and_then(|i| i.exit_code);
    Ok(ExecStatus::from_stderr(&stderr, exit_code, false))
}
