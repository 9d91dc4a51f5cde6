//! Pods: which logs exist, reading them, the at-a-glance rows, volume use
//! through `df`, and resource figures.

use std::collections::BTreeMap;

use futures_util::AsyncReadExt;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Resource;
use kube::api::LogParams;
use serde::Serialize;
use serde_json::Value;

use super::client::{Access, Kube};
use crate::artifact::FileKind;
use crate::bundle::summary::Row;
use crate::collect::Ctx;
use crate::collect::parts::path_segment;
use crate::collect::parts::tail::read_log;

/// One log to read: a container's current or previous instance.
#[derive(Debug, Clone, PartialEq)]
pub struct LogJob {
    pub pod: String,
    pub container: String,
    pub previous: bool,
}

fn statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let s = pod.status.as_ref();
    s.and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(
            s.and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten(),
        )
        .chain(
            s.and_then(|s| s.ephemeral_container_statuses.as_ref())
                .into_iter()
                .flatten(),
        )
}

fn all_containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let spec = pod.spec.as_ref();
    spec.and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .map(|c| (c, true))
        .chain(
            spec.map(|s| &s.containers)
                .into_iter()
                .flatten()
                .map(|c| (c, false)),
        )
}

/// Logs that exist: a container that never started has none, and only a
/// container that restarted or was terminated before has a previous one.
pub fn log_jobs(pod: &Pod) -> Vec<LogJob> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    // Ephemeral debug containers (`kubectl debug`) log like the others:
    // what someone ran while debugging is evidence too.
    let ephemeral = pod
        .spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_ref())
        .into_iter()
        .flatten()
        .map(|c| &c.name);
    for c_name in all_containers(pod).map(|(c, _)| &c.name).chain(ephemeral) {
        let Some(st) = statuses(pod).find(|s| &s.name == c_name) else {
            continue;
        };
        let state = st.state.as_ref();
        let had_previous = st.restart_count > 0
            || st
                .last_state
                .as_ref()
                .is_some_and(|l| l.terminated.is_some());
        // A container waiting to restart still has its last run's log.
        let started =
            had_previous || state.is_some_and(|s| s.running.is_some() || s.terminated.is_some());
        for (exists, previous) in [(started, false), (had_previous, true)] {
            if exists {
                out.push(LogJob {
                    pod: name.clone(),
                    container: c_name.clone(),
                    previous,
                });
            }
        }
    }
    out
}

pub fn log_path(j: &LogJob) -> String {
    format!(
        "kubernetes/pods/{}/{}{}.log",
        path_segment(&j.pod),
        path_segment(&j.container),
        if j.previous { ".previous" } else { "" }
    )
}

/// Reads one log, keeping the newest `--max-log-bytes`, and sends it. The
/// server cannot keep the newest bytes for us (`limitBytes` keeps the
/// oldest), so the tail is cut here as the stream passes.
pub async fn fetch_log(kube: &Kube, ctx: &Ctx, ns: &str, j: &LogJob) -> anyhow::Result<()> {
    let target = format!(
        "pods/{}/{}{}",
        j.pod,
        j.container,
        if j.previous { "/previous" } else { "" }
    );
    let lp = LogParams {
        container: Some(j.container.clone()),
        previous: j.previous,
        since_seconds: Some(ctx.opts.since.as_secs() as i64),
        timestamps: true,
        ..Default::default()
    };
    let req = match kube::core::Request::new(Pod::url_path(&(), Some(ns))).logs(&j.pod, &lp) {
        Ok(r) => r,
        Err(e) => {
            ctx.rec
                .error(&target, format!("building the log request: {e}"));
            return Ok(());
        }
    };
    let access = Access {
        verb: "get",
        resource: "pods/log",
        group: "",
        namespace: Some(ns),
    };
    // A spool slot first: a stream opened and then left waiting for one
    // would idle on the server.
    let mut tail = ctx.log_tail().await?;
    let (permit, body) = match kube.stream(access, req).await {
        Ok(s) => s,
        Err(e) => {
            ctx.rec.error(&target, e.message);
            return Ok(());
        }
    };
    // The body as a stream of chunks, for the reader both collectors share.
    let chunks = futures_util::stream::unfold(
        (body, vec![0u8; 64 << 10]),
        |(mut body, mut buf)| async move {
            match body.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    let chunk = buf[..n].to_vec();
                    Some((Ok(chunk), (body, buf)))
                }
                Err(e) => Some((Err(e), (body, buf))),
            }
        },
    );
    let failed = read_log(chunks, &mut tail, ctx.opts.timeout).await;
    // The log is on disk now: the request's permit can go, and memory
    // does not depend on how long the packager takes to get to it.
    drop(permit);
    if let Some(why) = failed {
        ctx.rec.error(&target, why);
    }
    ctx.progress.detail(&format!("log {target}"));
    ctx.progress.log_done();
    ctx.sink.tail(&log_path(j), FileKind::Log, tail).await
}

/// Container usage from metrics.k8s.io, by (pod, container).
pub type Usage = BTreeMap<(String, String), (Option<f64>, Option<f64>)>;

pub fn parse_metrics(list: &Value) -> Usage {
    let mut out = Usage::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let pod = item["metadata"]["name"].as_str().unwrap_or_default();
        for c in item["containers"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            let q = |k: &str| c["usage"][k].as_str().and_then(parse_quantity);
            out.insert((pod.to_string(), name.to_string()), (q("cpu"), q("memory")));
        }
    }
    out
}

/// Kubernetes quantities: `500m`, `2`, `4G`, `8Gi`, `1e3`, `123456n`.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

fn quantity(q: Option<&BTreeMap<String, Quantity>>, key: &str) -> Option<f64> {
    q?.get(key).and_then(|q| parse_quantity(&q.0))
}

/// The workload a pod belongs to: the ReplicaSet's Deployment (hash
/// suffix dropped), the StatefulSet, DaemonSet or Job.
fn workload(pod: &Pod) -> Option<String> {
    let owner = pod.metadata.owner_references.as_ref()?.first()?;
    if owner.kind == "ReplicaSet" {
        return Some(match owner.name.rsplit_once('-') {
            Some((deploy, _)) => deploy.to_string(),
            None => owner.name.clone(),
        });
    }
    Some(owner.name.clone())
}

/// One row per container; an unscheduled pod's containers say why.
pub fn rows(pod: &Pod, usage: &Usage, scheduling: &BTreeMap<String, String>) -> Vec<Row> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    let unschedulable = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False");
    let mut out = Vec::new();
    for (c, init) in all_containers(pod) {
        let mut r = Row {
            name: format!("{name}/{}", c.name),
            service: workload(pod),
            image: c.image.clone().unwrap_or_default(),
            state: phase.clone(),
            ..Row::default()
        };
        let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
        r.memory_limit_bytes = quantity(limits, "memory").map(|m| m as u64);
        if let Some((cpu, mem)) = usage.get(&(name.clone(), c.name.clone())) {
            r.memory_used_bytes = mem.map(|m| m as u64);
            r.cpu_percent = cpu.map(|c| (c * 1000.0).round() / 10.0);
        }
        let mut reasons: Vec<String> = Vec::new();
        match statuses(pod).find(|s| s.name == c.name) {
            Some(st) => {
                r.restarts = st.restart_count.max(0) as u64;
                if !init {
                    r.ready = Some(st.ready);
                }
                let state = st.state.as_ref();
                if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
                    r.state = "waiting".into();
                    reasons.extend(w.reason.clone());
                    r.message = w.message.clone();
                } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
                    r.state = "terminated".into();
                    r.exit_code = Some(t.exit_code.into());
                    r.oom_killed |= t.reason.as_deref() == Some("OOMKilled");
                    if t.exit_code != 0 {
                        reasons.extend(t.reason.clone());
                        r.message = t.message.clone();
                    }
                } else if state.is_some_and(|s| s.running.is_some()) {
                    r.state = "running".into();
                }
                if let Some(t) = st.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
                    r.oom_killed |= t.reason.as_deref() == Some("OOMKilled");
                    r.exit_code.get_or_insert(t.exit_code.into());
                    reasons.push(format!(
                        "last terminated: {} (exit {})",
                        t.reason.as_deref().unwrap_or("unknown reason"),
                        t.exit_code
                    ));
                }
            }
            None => {
                if let Some(u) = unschedulable {
                    reasons.extend(u.reason.clone());
                    r.message = scheduling.get(&name).cloned().or_else(|| u.message.clone());
                }
            }
        }
        if !reasons.is_empty() {
            r.reason = Some(reasons.join("; "));
        }
        out.push(r);
    }
    out
}

#[derive(Debug, Serialize)]
pub struct ContainerSize {
    pub pod: String,
    pub container: String,
    pub init: bool,
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_used_cores: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_used_bytes: Option<u64>,
}

pub fn container_sizes(pod: &Pod, usage: &Usage) -> Vec<ContainerSize> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let text = |m: Option<&BTreeMap<String, Quantity>>| {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
            .unwrap_or_default()
    };
    all_containers(pod)
        .map(|(c, init)| {
            let res = c.resources.as_ref();
            let used = usage.get(&(name.clone(), c.name.clone()));
            ContainerSize {
                pod: name.clone(),
                container: c.name.clone(),
                init,
                requests: text(res.and_then(|r| r.requests.as_ref())),
                limits: text(res.and_then(|r| r.limits.as_ref())),
                cpu_used_cores: used.and_then(|u| u.0),
                memory_used_bytes: used.and_then(|u| u.1).map(|m| m as u64),
            }
        })
        .collect()
}

/// Where a running pod mounts its claims: (container, mount path, claim).
pub fn claim_mounts(pod: &Pod) -> Vec<(String, String, String)> {
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let Some(spec) = pod.spec.as_ref().filter(|_| running) else {
        return Vec::new();
    };
    let claims: BTreeMap<&str, &str> = spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| {
            let c = v.persistent_volume_claim.as_ref()?;
            Some((v.name.as_str(), c.claim_name.as_str()))
        })
        .collect();
    let mut out = Vec::new();
    for (volume, claim) in claims {
        let user = spec.containers.iter().find_map(|c| {
            c.volume_mounts
                .iter()
                .flatten()
                .find(|m| m.name == volume)
                .map(|m| (c.name.clone(), m.mount_path.clone()))
        });
        if let Some((container, path)) = user {
            out.push((container, path, claim.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("4G"), Some(4e9));
        assert_eq!(parse_quantity("8Gi"), Some(8.0 * 1024f64.powi(3)));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("250000n"), Some(0.00025));
        assert_eq!(parse_quantity("lots"), None);
    }
}
