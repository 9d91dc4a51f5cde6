//! One container: its inspect document, a stats sample when it runs, its
//! log (newest `--max-log-bytes` kept), and its row of the summary.

use anyhow::Result;
use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse, ContainerSummary};
use bollard::query_parameters::{InspectContainerOptions, LogsOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt;

use super::connect::timed;
use super::detect::{SERVICE_LABEL, name_of};
use crate::artifact::FileKind;
use crate::bundle::summary::Row;
use crate::collect::Ctx;
use crate::collect::parts::path_segment;
use crate::collect::parts::tail::read_log;

/// Everything about one container the later steps need.
pub struct ContainerFacts {
    pub name: String,
    pub inspect: Option<ContainerInspectResponse>,
    pub stats: Option<ContainerStatsResponse>,
}

pub async fn collect(docker: &Docker, ctx: &Ctx, c: &ContainerSummary) -> Result<ContainerFacts> {
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
    let mut tail = ctx.log_tail().await?;
    let logs = docker.logs(&id, Some(lo));
    if let Some(why) = read_log(logs, &mut tail, opts.timeout).await {
        ctx.rec.error(&format!("containers/{name}/logs"), why);
    }
    ctx.sink
        .tail(&format!("{base}/logs.txt"), FileKind::Log, tail)
        .await?;
    ctx.progress.log_done();

    Ok(ContainerFacts {
        name,
        inspect,
        stats,
    })
}

pub fn row(f: &ContainerFacts) -> Row {
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
