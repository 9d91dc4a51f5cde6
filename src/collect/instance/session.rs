//! The queries sg-debug asks, and running one: fields the instance's
//! schema lacks are dropped and the query sent again (and named in the
//! summary); other GraphQL errors are recorded and the data that came
//! with them kept; a refused token or an unreachable instance stops the
//! collector.

use serde_json::{Value, json};

use super::graphql::{
    Query, error_messages, is_not_admin, leaf, leaves, missing_field, obj, unknown_argument,
};
use super::transport::{ApiError, Route, scrub};
use crate::collect::CollectorHandle;

/// Connections asked for per page; the instance may send fewer.
pub const PAGE: u64 = 100;
/// Instances older than `externalServices(after:)` list connections in
/// one page of at most `first`: ask for more than any instance has.
pub const ALL_AT_ONCE: u64 = 1_000_000;

pub fn site() -> Query {
    Query {
        name: "SgDebugSite",
        params: "",
        fields: vec![obj(
            "site",
            "Site",
            vec![
                leaf("productVersion"),
                obj(
                    "configuration",
                    "SiteConfiguration",
                    leaves(&["id", "effectiveContents", "validationMessages"]),
                ),
            ],
        )],
    }
}

pub fn external_services() -> Query {
    Query {
        name: "SgDebugExternalServices",
        params: "($first: Int!, $after: String)",
        fields: vec![
            obj(
                "externalServices",
                "ExternalServiceConnection",
                vec![
                    leaf("totalCount"),
                    obj(
                        "pageInfo",
                        "PageInfo",
                        leaves(&["hasNextPage", "endCursor"]),
                    ),
                    obj(
                        "nodes",
                        "ExternalService",
                        leaves(&[
                            "id",
                            "kind",
                            "displayName",
                            "url",
                            "config",
                            "createdAt",
                            "updatedAt",
                            "lastSyncAt",
                            "nextSyncAt",
                            "lastSyncError",
                            "repoCount",
                            "warning",
                        ]),
                    ),
                ],
            )
            .with_args("(first: $first, after: $after)"),
        ],
    }
}

pub fn license() -> Query {
    Query {
        name: "SgDebugLicense",
        params: "",
        fields: vec![
            obj(
                "site",
                "Site",
                vec![obj(
                    "productSubscription",
                    "ProductSubscriptionStatus",
                    vec![
                        leaf("actualUserCount"),
                        obj(
                            "license",
                            "ProductLicenseInfo",
                            leaves(&["tags", "userCount", "expiresAt"]),
                        ),
                    ],
                )],
            ),
            obj("users", "UserConnection", leaves(&["totalCount"])),
        ],
    }
}

pub fn health() -> Query {
    Query {
        name: "SgDebugHealth",
        params: "",
        fields: vec![
            obj(
                "site",
                "Site",
                vec![obj("alerts", "Alert", leaves(&["type", "message"]))],
            ),
            obj(
                "repositoryStats",
                "RepositoryStats",
                leaves(&[
                    "total",
                    "cloned",
                    "cloning",
                    "notCloned",
                    "failedFetch",
                    "indexed",
                ]),
            ),
        ],
    }
}

/// The collector cannot go on; the message says why and what to do.
#[derive(Debug)]
pub struct Stop(pub String);

pub struct Session<'a> {
    pub route: &'a Route,
    pub token: &'a str,
    pub rec: &'a CollectorHandle,
    /// `Type.field` dropped so far.
    pub missing: Vec<String>,
    /// The `data` that came with a refusal that stopped the collector
    /// (fields anyone may read, like the version, beside a site admin's).
    pub partial: Option<Value>,
}

impl Session<'_> {
    /// Runs `q` (made smaller as the schema requires); the answer's
    /// `data`, or None when it had none. `target` names the query in the
    /// manifest's errors.
    pub async fn run(
        &mut self,
        target: &str,
        q: &mut Query,
        vars: Value,
    ) -> Result<Option<Value>, Stop> {
        loop {
            if q.is_empty() {
                return Ok(None);
            }
            let mut vars = vars.clone();
            if !q.text().contains("$after")
                && let Some(v) = vars.as_object_mut()
                && v.remove("after").is_some()
            {
                v.insert("first".into(), ALL_AT_ONCE.into());
            }
            let body = json!({"query": q.text(), "variables": vars});
            let answer = match self.route.post(&body, self.token).await {
                Ok(a) => a,
                Err(ApiError::Fatal(m)) => return Err(Stop(m)),
                Err(ApiError::Query(m)) => {
                    self.rec.error(target, m);
                    return Ok(None);
                }
            };
            let messages: Vec<String> = error_messages(&answer)
                .iter()
                .map(|m| scrub(m, self.token))
                .collect();
            if let Some(m) = messages.iter().find(|m| is_not_admin(m)) {
                self.partial = answer.get("data").filter(|d| d.is_object()).cloned();
                return Err(Stop(format!(
                    "the token in SRC_ACCESS_TOKEN does not belong to a site admin (the instance said: {m}); the site configuration, code hosts and license are for site admins only: use a site admin's token"
                )));
            }
            let mut dropped = false;
            for (ty, field) in messages.iter().filter_map(|m| missing_field(m)) {
                if q.drop_field(&ty, &field) {
                    dropped = true;
                    let name = format!("{ty}.{field}");
                    if !self.missing.contains(&name) {
                        self.missing.push(name);
                    }
                }
            }
            // Older instances list connections without `after`: all of
            // them in one page instead.
            if messages
                .iter()
                .filter_map(|m| unknown_argument(m))
                .any(|(f, a)| f == "externalServices" && a == "after")
                && q.text().contains("after: $after")
            {
                q.set_args("externalServices", "(first: $first)", "($first: Int!)");
                self.missing.push("Query.externalServices(after)".into());
                dropped = true;
            }
            if dropped {
                continue;
            }
            for m in &messages {
                self.rec
                    .error(target, format!("the instance answered with an error: {m}"));
            }
            return Ok(answer.get("data").filter(|d| d.is_object()).cloned());
        }
    }
}
