//! A fake Sourcegraph instance on 127.0.0.1 for the instance collector's
//! tests: `POST /.api/graphql` over plain HTTP/1.1 or HTTPS, answering the
//! way the real frontend does. The token is checked from
//! `Authorization: token X` or the `token` URL parameter (what the
//! service proxy path uses); a wrong one gets the real 401 text. Fields
//! an older schema lacks get graphql-go's validation error; a non-admin
//! token gets `must be site admin`; code host connections come in pages
//! of at most `page_cap`, whatever was asked for. It runs on
//! `fake_kube::LocalServer`: include `fake_kube.rs` beside it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::fake_kube::LocalServer;
pub use super::fake_kube::TestCerts;

#[derive(Clone, Debug)]
pub struct Instance {
    pub token: String,
    pub version: String,
    pub site_config: String,
    /// (kind, displayName, config, lastSyncError) of each connection.
    pub services: Vec<(String, String, String, Option<String>)>,
    pub page_cap: usize,
    /// `(type, field)` the schema lacks.
    pub missing: Vec<(String, String)>,
    pub admin: bool,
    /// An instance older than `externalServices(after:)`.
    pub no_after: bool,
    pub delay: Duration,
    pub license: Value,
    pub users: u64,
    pub alerts: Value,
    pub repository_stats: Value,
}

impl Default for Instance {
    fn default() -> Instance {
        Instance {
            token: "0123456789abcdef0123456789abcdef01234567".into(),
            version: "6.12.5040".into(),
            site_config: "{\n  // Set by the admins.\n  \"externalURL\": \"https://sourcegraph.example.com\"\n}".into(),
            services: vec![(
                "GITHUB".into(),
                "GitHub".into(),
                "{\"url\": \"https://github.com\", \"token\": \"REDACTED\"}".into(),
                None,
            )],
            page_cap: 50,
            missing: Vec::new(),
            admin: true,
            no_after: false,
            delay: Duration::ZERO,
            license: json!({"actualUserCount": 42, "license": {"tags": ["plan:enterprise-1"], "userCount": 100, "expiresAt": "2099-01-01T00:00:00Z"}}),
            users: 45,
            alerts: json!([]),
            repository_stats: json!({"total": 1200, "cloned": 1190, "cloning": 4, "notCloned": 6, "failedFetch": 2, "indexed": 1100}),
        }
    }
}

/// What the fake saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The request's target as sent: absolute (`http://host/...`) when
    /// it came as to an HTTP proxy.
    pub target: String,
    pub path: String,
    pub authorization: Option<String>,
    pub query: String,
}

pub struct FakeSourcegraph {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    _server: LocalServer,
}

impl FakeSourcegraph {
    pub fn start(i: Instance) -> FakeSourcegraph {
        Self::serve(i, None)
    }

    pub fn start_tls(i: Instance, certs: &TestCerts) -> FakeSourcegraph {
        Self::serve(i, Some(certs.acceptor()))
    }

    fn serve(i: Instance, tls: Option<tokio_rustls::TlsAcceptor>) -> FakeSourcegraph {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, i) = (seen.clone(), Arc::new(i));
        let server = LocalServer::start(move |conn| {
            let (i, log, tls) = (i.clone(), log.clone(), tls.clone());
            async move {
                match tls {
                    // A client that refuses our certificate ends here.
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(conn).await {
                            let _ = connection(s, &i, &log).await;
                        }
                    }
                    None => {
                        let _ = connection(conn, &i, &log).await;
                    }
                }
            }
        });
        FakeSourcegraph {
            addr: server.addr,
            seen,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads HTTP/1.1 requests with a Content-Length body, one after another.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    conn: S,
    i: &Instance,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let len = header("content-length")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        // A request sent to a proxy names the whole URL: the fake then
        // plays the proxy and the instance behind it.
        let origin_form = match target.strip_prefix("http://") {
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
            None => target.clone(),
        };
        let (path, query) = origin_form.split_once('?').unwrap_or((&origin_form, ""));
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = request["query"].as_str().unwrap_or_default().to_string();
        log.lock().unwrap().push(Seen {
            target: target.clone(),
            path: path.to_string(),
            authorization: header("authorization"),
            query: text.clone(),
        });
        tokio::time::sleep(i.delay).await;
        let token = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .or_else(|| {
                header("authorization").and_then(|a| a.strip_prefix("token ").map(str::to_string))
            });
        let (code, ctype, out) = if path != "/.api/graphql" {
            (404, "text/plain", "404 page not found\n".to_string())
        } else if token.as_deref() != Some(i.token.as_str()) {
            (
                401,
                "text/plain; charset=utf-8",
                "Invalid access token.\n".to_string(),
            )
        } else {
            (
                200,
                "application/json",
                answer(i, &text, &request["variables"]).to_string(),
            )
        };
        let head = format!(
            "HTTP/1.1 {code} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            out.len()
        );
        r.get_mut().write_all(head.as_bytes()).await?;
        r.get_mut().write_all(out.as_bytes()).await?;
        r.get_mut().flush().await?;
        if header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
            r.get_mut().shutdown().await?;
            return Ok(());
        }
    }
}

fn has_word(query: &str, word: &str) -> bool {
    query
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == word)
}

/// The answer to one query, as the real frontend shapes it.
fn answer(i: &Instance, q: &str, vars: &Value) -> Value {
    let mut unknown: Vec<Value> = i
        .missing
        .iter()
        .filter(|(_, f)| has_word(q, f))
        .map(|(t, f)| json!({"message": format!("Cannot query field \"{f}\" on type \"{t}\"."), "locations": [{"line": 1, "column": 10}]}))
        .collect();
    if i.no_after && q.contains("after:") {
        unknown.push(json!({"message": "Unknown argument \"after\" on field \"externalServices\" of type \"Query\".", "locations": [{"line": 1, "column": 40}]}));
    }
    if !unknown.is_empty() {
        return json!({"errors": unknown});
    }
    let admin_only = [
        "configuration",
        "externalServices",
        "productSubscription",
        "alerts",
    ];
    if !i.admin && admin_only.iter().any(|w| has_word(q, w)) {
        // What anyone may read comes with the refusal.
        let data = if has_word(q, "productVersion") {
            json!({"site": {"productVersion": i.version, "configuration": null}})
        } else {
            Value::Null
        };
        return json!({"data": data, "errors": [{"message": "must be site admin", "path": ["site", "configuration"]}]});
    }
    let has =
        |ty: &str, f: &str| has_word(q, f) && !i.missing.iter().any(|(t, m)| t == ty && m == f);
    let mut data = Map::new();
    if has_word(q, "externalServices") {
        let first = vars["first"].as_u64().unwrap_or(20) as usize;
        let start = vars["after"]
            .as_str()
            .and_then(|c| c.strip_prefix("cursor:"))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let end = (start + first.min(i.page_cap)).min(i.services.len());
        let nodes: Vec<Value> = (start..end)
            .map(|n| {
                let (kind, name, config, err) = &i.services[n];
                let mut o = Map::new();
                let mut put = |f: &str, v: Value| {
                    if has("ExternalService", f) {
                        o.insert(f.into(), v);
                    }
                };
                put("id", json!(format!("RXh0ZXJuYWxTZXJ2aWNlOj{n}")));
                put("kind", json!(kind));
                put("displayName", json!(name));
                put("url", json!(format!("/site-admin/external-services/{n}")));
                put("config", json!(config));
                put("createdAt", json!("2025-01-01T00:00:00Z"));
                put("updatedAt", json!("2025-06-01T00:00:00Z"));
                put("lastSyncAt", json!("2026-11-28T09:00:00Z"));
                put("nextSyncAt", json!("2026-11-28T10:00:00Z"));
                put("lastSyncError", json!(err));
                put("repoCount", json!(10));
                put("warning", Value::Null);
                Value::Object(o)
            })
            .collect();
        data.insert(
            "externalServices".into(),
            json!({"totalCount": i.services.len(), "nodes": nodes,
                   "pageInfo": {"hasNextPage": end < i.services.len(),
                                "endCursor": if end > start { Value::from(format!("cursor:{end}")) } else { Value::Null }}}),
        );
    }
    let mut site = Map::new();
    if has("Site", "productVersion") {
        site.insert("productVersion".into(), json!(i.version));
    }
    if has("Site", "configuration") {
        site.insert(
            "configuration".into(),
            json!({"id": 7, "effectiveContents": i.site_config, "validationMessages": []}),
        );
    }
    if has("Site", "productSubscription") {
        site.insert("productSubscription".into(), i.license.clone());
    }
    if has("Site", "alerts") {
        site.insert("alerts".into(), i.alerts.clone());
    }
    if !site.is_empty() {
        data.insert("site".into(), Value::Object(site));
    }
    if has("Query", "users") {
        data.insert("users".into(), json!({"totalCount": i.users}));
    }
    if has("Query", "repositoryStats") {
        data.insert("repositoryStats".into(), i.repository_stats.clone());
    }
    json!({"data": data})
}
