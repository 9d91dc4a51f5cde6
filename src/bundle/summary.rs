//! Contract: `summary.json` (and its table, `summary.txt`), written by
//! every deployment collector: one row per container (or pod container)
//! with what support looks at first. `inspect` and later stages read it;
//! `docs/bundle-format.md` documents it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Row {
    /// Container name, or pod/container.
    pub name: String,
    /// Compose service, Kubernetes workload, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub image: String,
    /// running, exited, restarting, waiting, Pending, ...
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    pub restarts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub oom_killed: bool,
    /// Why it is in that state: CrashLoopBackOff, OOMKilled, Error, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
}

impl Row {
    /// Whether a human should look at this row first.
    pub fn is_unhealthy(&self) -> bool {
        self.oom_killed
            || self.exit_code.is_some_and(|c| c != 0)
            || self.ready == Some(false)
            || self.health.as_deref() == Some("unhealthy")
            || matches!(
                self.state.as_str(),
                "restarting" | "dead" | "waiting" | "Pending" | "Failed"
            )
            || self.restarts > 0
    }
}

impl Summary {
    /// A fixed-width table, problems first.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| (!r.is_unhealthy(), r.name.clone()));
        let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<w$}  {:<10} {:>8} {:>5} {:>4}  {:<16} REASON",
            "NAME", "STATE", "RESTARTS", "EXIT", "OOM", "MEMORY"
        );
        for r in rows {
            let mem = match (r.memory_used_bytes, r.memory_limit_bytes) {
                (Some(u), Some(l)) if l > 0 => format!("{}/{}", mib(u), mib(l)),
                (Some(u), _) => mib(u),
                _ => "-".into(),
            };
            let mut reason = r.reason.clone().unwrap_or_default();
            if let Some(h) = &r.health {
                if !reason.is_empty() {
                    reason.push_str(", ");
                }
                reason.push_str(&format!("health {h}"));
            }
            if let Some(m) = &r.message {
                if !reason.is_empty() {
                    reason.push_str(": ");
                }
                reason.push_str(m);
            }
            let _ = writeln!(
                s,
                "{:<w$}  {:<10} {:>8} {:>5} {:>4}  {:<16} {}",
                r.name,
                r.state,
                r.restarts,
                r.exit_code.map_or("-".into(), |c| c.to_string()),
                if r.oom_killed { "yes" } else { "-" },
                mem,
                reason
            );
        }
        s
    }
}

fn mib(b: u64) -> String {
    format!("{}Mi", b >> 20)
}
