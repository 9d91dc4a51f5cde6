//! `sg-debug check` and `collect --dry-run`: the preflight, printed for a
//! person or as JSON for scripts, and its verdict as the exit code.

use std::process::ExitCode;

use anyhow::Result;

use crate::collect::Options;
use crate::collect::preflight::{self, Preflight, Verdict};
use crate::display::terminal_safe;

/// Everything would be collected.
pub const COMPLETE: u8 = 0;
/// Collection would run but the bundle would lack something.
pub const PARTIAL: u8 = 3;
/// Collection could not run at all (nothing found, nothing reachable).
pub const CANNOT_RUN: u8 = 1;

pub fn run(opts: &Options, json: bool) -> Result<ExitCode> {
    let p = preflight::run(opts)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        print!("{}", text(&p));
    }
    Ok(ExitCode::from(match p.verdict {
        Verdict::Complete => COMPLETE,
        Verdict::Partial => PARTIAL,
        Verdict::CannotRun => CANNOT_RUN,
    }))
}

/// The report for a person. Everything from the cluster or daemon (names,
/// server messages) is escaped.
fn text(p: &Preflight) -> String {
    let t = |s: &str| terminal_safe(s).into_owned();
    let mut o = String::new();
    if let Some(k) = &p.kubernetes {
        o.push_str(&format!(
            "kubernetes: context {} on {}\n  user: {}\n  namespace: {}\n",
            t(&k.context),
            t(&k.server),
            k.user
                .as_deref()
                .map(t)
                .unwrap_or_else(|| "unknown (the server does not answer SelfSubjectReview)".into()),
            k.namespace
                .as_deref()
                .map(t)
                .unwrap_or_else(|| "not found".into()),
        ));
        if !k.permissions.is_empty() {
            o.push_str("  permissions (SelfSubjectAccessReview):\n");
        }
        for perm in &k.permissions {
            let state = match (perm.needed, perm.allowed) {
                (false, _) => "unused ",
                (true, Some(true)) => "granted",
                (true, Some(false)) => "MISSING",
                (true, None) => "UNKNOWN",
            };
            let res = if perm.group.is_empty() {
                perm.resource.clone()
            } else {
                format!("{}.{}", perm.resource, perm.group)
            };
            let scope = match &perm.namespace {
                Some(ns) => format!("in namespace {}", t(ns)),
                None => "cluster-wide".into(),
            };
            o.push_str(&format!("    {state}  {} {res} {scope}", perm.verb));
            if let Some(d) = perm
                .detail
                .as_deref()
                .filter(|_| perm.allowed != Some(true))
            {
                o.push_str(&format!(" ({})", t(d)));
            }
            o.push('\n');
        }
    }
    if let Some(d) = &p.docker {
        o.push_str(&format!("docker: {}", t(&d.host)));
        match &d.error {
            None => o.push_str(" (reachable)\n"),
            Some(e) => o.push_str(&format!(" NOT reachable: {}\n", t(e))),
        }
    }
    match &p.deployment {
        Some(d) => {
            o.push_str(&format!("deployment: {}\n", t(&d.description)));
            o.push_str(&format!(
                "  kind {}, flavour {}, Sourcegraph version {}\n",
                d.kind,
                d.flavour
                    .as_deref()
                    .map(t)
                    .unwrap_or_else(|| "unknown".into()),
                d.version
                    .as_deref()
                    .map(t)
                    .unwrap_or_else(|| "unknown".into())
            ));
        }
        None => o.push_str("deployment: none found\n"),
    }
    for pr in &p.problems {
        o.push_str(&format!("problem: {}\n", t(pr)));
    }
    if !p.missing.is_empty() {
        o.push_str("the bundle would miss:\n");
        for m in &p.missing {
            o.push_str(&format!("  - {}\n", t(m)));
        }
    }
    o.push_str(match p.verdict {
        Verdict::Complete => "verdict: complete: collect would gather everything (exit 0)\n",
        Verdict::Partial => "verdict: partial: collect would write a bundle lacking the above; grant it (sg-debug rbac prints the RBAC) or accept it (exit 3)\n",
        Verdict::CannotRun => "verdict: cannot run: collect would write no bundle (exit 1)\n",
    });
    o
}
