//! The `instance` collector: what the Sourcegraph instance's GraphQL API
//! says about itself (site configuration, code host connections, license
//! and users, site alerts, repository counts). It runs beside the
//! deployment collector, in every deployment type, with its own record in
//! the manifest; everything it sends goes through the redaction pass like
//! any file, whatever the server redacted already.
//!
//! Endpoint: `--sourcegraph-url`, else `SRC_ENDPOINT`, else on Kubernetes
//! the frontend through the API server's service proxy; otherwise the
//! collector is skipped, saying how to enable it. Token: `SRC_ACCESS_TOKEN`
//! only.

mod facts;
mod graphql;
mod session;
pub mod transport;

use anyhow::{Result, anyhow};
use chrono::Utc;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use self::session::{Session, Stop};
use self::transport::Route;
use super::kubernetes::KubeFrontend;
use super::{Collector, Ctx, Options};
use crate::artifact::FileKind;
use crate::bundle::instance::{
    ExternalServices, INSTANCE_SUMMARY_NAME, InstanceSummary, SiteConfig,
};

pub const NAME: &str = "instance";
pub const SITE_CONFIG_NAME: &str = "instance/site-config.jsonc";
pub const EXTERNAL_SERVICES_NAME: &str = "instance/external-services.json";

const WHAT: &str = "the site configuration, code host connections, license and site alerts";

pub struct Instance {
    plan: Plan,
}

enum Plan {
    Skip(String),
    /// The route, or why none could be made (a bad --ca-cert): the
    /// collector then fails, and the rest of the bundle is still written.
    Run {
        route: Result<Box<Route>, String>,
        token: String,
        /// How the route was chosen, for the manifest.
        note: Option<String>,
    },
}

/// The collector for these options: direct to a URL, through the
/// Kubernetes service proxy of the deployment being collected, or skipped.
pub fn plan(opts: &Options, kube: Option<KubeFrontend>) -> Instance {
    let token = opts.access_token.as_ref().map(|t| t.expose().to_string());
    let plan = match (&opts.sourcegraph_url, kube, token) {
        (Some(url), _, Some(token)) => Plan::Run {
            route: Route::direct(url, opts).map(Box::new),
            token,
            note: None,
        },
        (Some(_), _, None) => Plan::Skip(format!(
            "{} is set but SRC_ACCESS_TOKEN is not: export a site admin's access token as SRC_ACCESS_TOKEN to collect {WHAT}",
            opts.sourcegraph_url_source
        )),
        (None, Some(k), Some(token)) => Plan::Run {
            route: Ok(Box::new(Route::KubeProxy {
                kube: k.kube,
                namespace: k.namespace,
            })),
            token,
            note: Some(
                "reached through the Kubernetes API server's service proxy; the API server does not pass an Authorization header on, so the token went as the `token` URL parameter, which the API server's audit log may record: to avoid that, port-forward to the frontend and pass --sourcegraph-url".into(),
            ),
        },
        (None, Some(_), None) => Plan::Skip(format!(
            "SRC_ACCESS_TOKEN is not set: export a site admin's access token as SRC_ACCESS_TOKEN to collect {WHAT} through the Kubernetes API server (or pass --sourcegraph-url URL with it)"
        )),
        (None, None, _) => Plan::Skip(format!(
            "no instance URL: pass --sourcegraph-url URL (or set SRC_ENDPOINT) with a site admin's access token in SRC_ACCESS_TOKEN to collect {WHAT}"
        )),
    };
    Instance { plan }
}

impl Collector for Instance {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> String {
        match &self.plan {
            Plan::Skip(_) => "the Sourcegraph instance's API: skipped".into(),
            Plan::Run { route: Ok(r), .. } => {
                format!("the Sourcegraph instance's API at {}", r.describe())
            }
            Plan::Run { route: Err(_), .. } => "the Sourcegraph instance's API".into(),
        }
    }

    fn collect(self: Box<Self>, ctx: Ctx) -> BoxFuture<'static, Result<()>> {
        async move {
            match self.plan {
                Plan::Skip(why) => {
                    ctx.rec.skip(why);
                    Ok(())
                }
                Plan::Run { route: Err(e), .. } => Err(anyhow!(e)),
                Plan::Run {
                    route: Ok(route),
                    token,
                    note,
                } => {
                    if let Some(n) = note {
                        ctx.rec.note(n);
                    }
                    collect(&ctx, &route, &token).await
                }
            }
        }
        .boxed()
    }
}

async fn collect(ctx: &Ctx, route: &Route, token: &str) -> Result<()> {
    let mut s = Session {
        route,
        token,
        rec: &ctx.rec,
        missing: Vec::new(),
        partial: None,
    };
    let mut summary = InstanceSummary {
        endpoint: route.describe(),
        ..InstanceSummary::default()
    };
    ctx.progress
        .phase(&format!("instance: asking {}", route.describe()));
    let stopped = gather(ctx, &mut s, &mut summary).await?;
    summary.missing_fields = std::mem::take(&mut s.missing);
    // What was learnt before a stop is still worth having.
    if summary.product_version.is_some() || stopped.is_none() {
        ctx.sink
            .json(INSTANCE_SUMMARY_NAME, FileKind::Metadata, &summary)
            .await?;
    }
    match stopped {
        Some(Stop(why)) => Err(anyhow!(why)),
        None => Ok(()),
    }
}

/// Runs the queries in turn; `Some(stop)` when the instance could not be
/// asked further. `Err` only when the packager is gone.
async fn gather(
    ctx: &Ctx,
    s: &mut Session<'_>,
    summary: &mut InstanceSummary,
) -> Result<Option<Stop>> {
    macro_rules! ask {
        ($target:expr, $q:expr, $vars:expr) => {
            match s.run($target, $q, $vars).await {
                Ok(d) => d,
                Err(stop) => return Ok(Some(stop)),
            }
        };
    }
    let site = match s.run("site", &mut session::site(), json!({})).await {
        Ok(d) => d,
        Err(stop) => {
            // A token that is not a site admin's still learns the version,
            // for the same-instance check.
            if let Some(d) = &s.partial {
                version(ctx, summary, d);
            }
            return Ok(Some(stop));
        }
    };
    if let Some(d) = site {
        version(ctx, summary, &d);
        let site = &d["site"];
        let conf = &site["configuration"];
        if let Some(text) = conf["effectiveContents"].as_str() {
            // As the instance holds it: JSONC, comments kept.
            ctx.sink
                .bytes(SITE_CONFIG_NAME, FileKind::Config, with_newline(text))
                .await?;
            summary.site_config = Some(SiteConfig {
                entry: SITE_CONFIG_NAME.into(),
                validation_messages: conf["validationMessages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect(),
            });
        }
    }
    let (services, stop) = external_services(ctx, s).await?;
    summary.external_services = services;
    if stop.is_some() {
        return Ok(stop);
    }
    if let Some(d) = ask!("license", &mut session::license(), json!({})) {
        summary.license = facts::license(&d, Utc::now());
    }
    if let Some(d) = ask!("alerts-and-repositories", &mut session::health(), json!({})) {
        summary.alerts = facts::alerts(&d);
        summary.repository_stats = facts::repository_stats(&d);
    }
    Ok(None)
}

fn version(ctx: &Ctx, summary: &mut InstanceSummary, data: &Value) {
    summary.product_version = data["site"]["productVersion"].as_str().map(str::to_string);
    if let Some(v) = &summary.product_version {
        ctx.rec.set_instance_version(v.clone());
    }
}

/// Every code host connection, page after page until the instance says
/// there are no more: each configuration to its own JSONC entry, the list
/// to `instance/external-services.json`.
async fn external_services(
    ctx: &Ctx,
    s: &mut Session<'_>,
) -> Result<(Option<ExternalServices>, Option<Stop>)> {
    let mut q = session::external_services();
    let mut after: Option<String> = None;
    let mut nodes: Vec<Value> = Vec::new();
    let mut tally = ExternalServices::default();
    let mut total = None;
    let mut stop = None;
    loop {
        let vars = json!({"first": session::PAGE, "after": after});
        let data = match s.run("external-services", &mut q, vars).await {
            Ok(Some(d)) => d,
            Ok(None) => break,
            Err(e) => {
                stop = Some(e);
                break;
            }
        };
        let conn = &data["externalServices"];
        total = total.or(conn["totalCount"].as_u64());
        for node in conn["nodes"].as_array().into_iter().flatten() {
            let entry = facts::config_entry(nodes.len() + 1, node["kind"].as_str().unwrap_or(""));
            let (node, config) = facts::split_node(node, &entry);
            if let Some(c) = config {
                ctx.sink
                    .bytes(&entry, FileKind::Config, with_newline(&c))
                    .await?;
            }
            facts::tally(&mut tally, &node);
            nodes.push(node);
        }
        let page = &conn["pageInfo"];
        if page["hasNextPage"].as_bool() != Some(true) {
            break;
        }
        let next = page["endCursor"].as_str().map(str::to_string);
        if next.is_none() || next == after {
            ctx.rec.error(
                "external-services",
                format!(
                    "the instance said more connections follow but gave no new cursor after {}; the list is incomplete",
                    nodes.len()
                ),
            );
            break;
        }
        after = next;
    }
    if nodes.is_empty() && total.is_none() {
        return Ok((None, stop));
    }
    tally.total_count = total.unwrap_or(nodes.len() as u64);
    ctx.sink
        .json(
            EXTERNAL_SERVICES_NAME,
            FileKind::Config,
            &json!({"total_count": tally.total_count, "nodes": nodes}),
        )
        .await?;
    ctx.progress
        .detail(&format!("instance: {} code host connections", nodes.len()));
    Ok((Some(tally), stop))
}

/// A text file's bytes, ending with a line break.
fn with_newline(text: &str) -> Vec<u8> {
    let mut body = text.as_bytes().to_vec();
    if !body.ends_with(b"\n") {
        body.push(b'\n');
    }
    body
}

/// Whether the instance whose API answered is the deployment collected:
/// its version against the frontend image tag. A warning when they differ.
pub fn same_instance(deployment: Option<&str>, instance: Option<&str>) -> Option<String> {
    let (d, i) = (deployment?, instance?);
    let norm = |s: &str| s.trim().trim_start_matches('v').to_string();
    let (dn, inn) = (norm(d), norm(i));
    // A build's version can carry more after the release (`_date_sha`).
    let extends = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.starts_with(['_', '-', '+']))
    };
    if dn == inn || extends(&inn, &dn) || extends(&dn, &inn) {
        return None;
    }
    Some(format!(
        "the Sourcegraph instance whose API answered reports version {i}, but the deployment collected runs frontend {d}: the instance data (site configuration, code hosts, license) may belong to another instance; check --sourcegraph-url / SRC_ENDPOINT"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::AccessToken;

    fn skipped(i: &Instance) -> &str {
        match &i.plan {
            Plan::Skip(why) => why,
            Plan::Run { .. } => panic!("not skipped"),
        }
    }

    #[test]
    fn skipped_outside_kubernetes_without_a_url_or_without_a_token() {
        let mut o = Options::for_tests();
        let why = skipped(&plan(&o, None)).to_string();
        assert!(
            why.contains("no instance URL: pass --sourcegraph-url URL (or set SRC_ENDPOINT)")
                && why.contains("SRC_ACCESS_TOKEN"),
            "{why}"
        );
        o.sourcegraph_url = Some("https://sg.example.com".into());
        o.sourcegraph_url_source = "SRC_ENDPOINT";
        let why = skipped(&plan(&o, None)).to_string();
        assert!(
            why.starts_with("SRC_ENDPOINT is set but SRC_ACCESS_TOKEN is not"),
            "{why}"
        );
        o.access_token = Some(AccessToken::new("t".into()));
        let p = plan(&o, None);
        assert!(matches!(&p.plan, Plan::Run { route: Ok(_), .. }));
        assert_eq!(
            p.describe(),
            "the Sourcegraph instance's API at https://sg.example.com/.api/graphql"
        );
        // An unusable CA file fails the collector, not the run.
        o.ca_cert = Some("/nonexistent/ca.pem".into());
        let p = plan(&o, None);
        assert!(
            matches!(&p.plan, Plan::Run { route: Err(e), .. } if e.contains("--ca-cert /nonexistent/ca.pem"))
        );
    }

    #[test]
    fn same_instance_by_version() {
        assert_eq!(same_instance(Some("6.12.5040"), Some("6.12.5040")), None);
        assert_eq!(same_instance(Some("v6.12.5040"), Some("6.12.5040")), None);
        assert_eq!(
            same_instance(Some("6.12.5040"), Some("6.12.5040_2025-11-20_6.12-ab12cd")),
            None
        );
        let w = same_instance(Some("6.12.5040"), Some("6.1.1")).unwrap();
        assert!(
            w.contains("reports version 6.1.1") && w.contains("frontend 6.12.5040"),
            "{w}"
        );
        assert!(same_instance(Some("6.12.5040"), Some("6.12.50401")).is_some());
        assert_eq!(same_instance(None, Some("6.1.1")), None);
    }
}
