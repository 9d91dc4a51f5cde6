//! Findings about containers, from `summary.json` (every deployment type)
//! and, on Kubernetes, which of them are init containers (`pods.json`).

use std::collections::HashSet;

use serde::Deserialize;

use super::{Evidence, Finding, Severity};
use crate::bundle::summary::Row;

const SUMMARY: &str = "summary.json";
/// Memory use at or above this share of the limit is reported.
const NEAR_LIMIT: f64 = 0.90;
/// Restarts worth a finding when the container is not crash-looping now.
const MANY_RESTARTS: u64 = 3;

pub fn findings(rows: &[Row], pods: Option<&PodList>) -> Vec<Finding> {
    let init = init_containers(pods);
    let mut out = Vec::new();
    let mut pending_pods = HashSet::new();
    for r in rows {
        let reason = r.reason.as_deref().unwrap_or("");
        let message = r.message.as_deref().unwrap_or("");
        let object = format!("rows[name={}]", r.name);
        let ev = |field: &str, text: String| Evidence::field(SUMMARY, &object, field, text);
        let is_init = init.contains(&r.name) || is_migrator(r);
        let failed = r.exit_code.is_some_and(|c| c != 0 && c != 137)
            || reason.contains("CrashLoopBackOff")
            || reason.starts_with("Error");
        if is_init && failed && r.state != "running" {
            let migrator = is_migrator(r);
            let (cat, what) = if migrator {
                (
                    "upgrade-migration",
                    "the migrator did not finish: the schema is not at the version the services expect",
                )
            } else {
                (
                    "outage-crash",
                    "an init container failed, so the pod's main containers never start",
                )
            };
            out.push(
                Finding::new(
                    "init-container-failed",
                    Severity::Critical,
                    cat,
                    format!("{} failed (exit {})", r.name, exit_text(r)),
                    what,
                )
                .with(ev(
                    "exit_code",
                    format!(
                        "exit_code {}, state {}, reason {}",
                        exit_text(r),
                        r.state,
                        or_dash(reason)
                    ),
                ))
                .with_message(message),
            );
        }
        if r.oom_killed || r.exit_code == Some(137) {
            let field = if r.oom_killed {
                "oom_killed"
            } else {
                "exit_code"
            };
            out.push(
                Finding::new(
                    "container-oom-killed",
                    Severity::Critical,
                    "performance-resources",
                    format!("{} was OOM-killed or exited 137 ({} restarts)", r.name, r.restarts),
                    "the kernel killed the container for memory: raise its memory limit or find what grew",
                )
                .with(ev(field, format!("oom_killed {}, exit_code {}, reason {}", r.oom_killed, exit_text(r), or_dash(reason)))),
            );
        }
        if reason.contains("CrashLoopBackOff") && !is_init {
            out.push(
                Finding::new(
                    "container-crashloop",
                    Severity::Critical,
                    "outage-crash",
                    format!("{} is in CrashLoopBackOff ({} restarts)", r.name, r.restarts),
                    "the container keeps exiting and Kubernetes is backing off restarts; its previous log says why",
                )
                .with(ev("reason", reason.to_string()))
                .with_message(message),
            );
        } else if (r.restarts >= MANY_RESTARTS || r.state == "restarting") && !is_init {
            out.push(
                Finding::new(
                    "container-restarts",
                    Severity::Warning,
                    "outage-crash",
                    format!("{} restarted {} times", r.name, r.restarts),
                    "the container has been restarting; look at its previous log and the exit reason",
                )
                .with(ev("restarts", format!("restarts {}, state {}, reason {}", r.restarts, r.state, or_dash(reason)))),
            );
        }
        if reason.contains("ImagePullBackOff") || reason.contains("ErrImagePull") {
            out.push(
                Finding::new(
                    "image-pull-failed",
                    Severity::Critical,
                    "deployment-config",
                    format!("{} cannot pull its image {}", r.name, r.image),
                    "the image cannot be pulled: check the image name and tag, the registry's reachability and pull secrets",
                )
                .with(ev("reason", reason.to_string()))
                .with_message(message),
            );
        }
        let pod = r.name.split('/').next().unwrap_or(&r.name);
        if r.state == "Pending" && pending_pods.insert(pod.to_string()) {
            let why = if message.is_empty() { reason } else { message };
            out.push(
                Finding::new(
                    "pod-unschedulable",
                    Severity::Critical,
                    "deployment-config",
                    format!("pod {pod} is Pending: {}", or_dash(why)),
                    "the scheduler cannot place the pod (resources, node selectors, taints or unbound volumes): its reason says which",
                )
                .with(ev(if message.is_empty() { "reason" } else { "message" }, format!("{} {}", or_dash(reason), message).trim().to_string())),
            );
        }
        if !is_init
            && r.exit_code.is_some_and(|c| c != 0 && c != 137)
            && matches!(r.state.as_str(), "exited" | "dead" | "terminated")
        {
            out.push(
                Finding::new(
                    "container-exited",
                    Severity::Warning,
                    "outage-crash",
                    format!("{} exited with code {}", r.name, exit_text(r)),
                    "the container is not running; its log says why it stopped",
                )
                .with(ev(
                    "exit_code",
                    format!("state {}, exit_code {}", r.state, exit_text(r)),
                )),
            );
        }
        if let (Some(used), Some(limit)) = (r.memory_used_bytes, r.memory_limit_bytes)
            && limit > 0
            && used as f64 >= limit as f64 * NEAR_LIMIT
        {
            let share = if used > limit {
                "more than".to_string()
            } else {
                format!("{:.0}% of", used as f64 * 100.0 / limit as f64)
            };
            out.push(
                Finding::new(
                    "memory-near-limit",
                    Severity::Warning,
                    "performance-resources",
                    format!(
                        "{} uses {share} its memory limit ({} of {})",
                        r.name,
                        super::super::format_bytes(used),
                        super::super::format_bytes(limit)
                    ),
                    "the container is close to its memory limit and will be OOM-killed if it grows",
                )
                .with(ev(
                    "memory_used_bytes",
                    format!("memory_used_bytes {used}, memory_limit_bytes {limit}"),
                )),
            );
        }
    }
    out
}

impl Finding {
    /// The runtime's message (the scheduler's, the kubelet's) as a second
    /// piece of evidence, when there is one.
    fn with_message(self, message: &str) -> Finding {
        if message.is_empty() {
            return self;
        }
        let object = self
            .evidence
            .first()
            .and_then(|e| e.object.clone())
            .unwrap_or_default();
        let text = super::super::template::cut(message, 300).to_string();
        self.with(Evidence::field(SUMMARY, &object, "message", text))
    }
}

fn is_migrator(r: &Row) -> bool {
    let last = r.name.rsplit('/').next().unwrap_or(&r.name);
    last.contains("migrator") || r.service.as_deref().is_some_and(|s| s.contains("migrator"))
}

fn exit_text(r: &Row) -> String {
    r.exit_code.map_or("-".into(), |c| c.to_string())
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Only what findings need of `pods.json`: parsed into these, the rest of
/// a large (or hostile) list is skipped, not held.
#[derive(Debug, Default, Deserialize)]
pub struct PodList {
    #[serde(default)]
    items: Vec<Pod>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Pod {
    metadata: Named,
    spec: PodSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodSpec {
    init_containers: Vec<Named>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    name: String,
}

/// `pod/container` names of init containers, from the pods' specs.
fn init_containers(pods: Option<&PodList>) -> HashSet<String> {
    let mut out = HashSet::new();
    for pod in pods.into_iter().flat_map(|p| &p.items) {
        for c in &pod.spec.init_containers {
            out.insert(format!("{}/{}", pod.metadata.name, c.name));
        }
    }
    out
}
