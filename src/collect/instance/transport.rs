//! Reaching the instance's GraphQL API: directly at a URL (reqwest, with
//! `HTTPS_PROXY`/`NO_PROXY`, `--ca-cert`, `--insecure-skip-verify`), or on
//! Kubernetes through the API server's service proxy with the
//! kubeconfig's credentials. Always the one endpoint: redirects are
//! refused, nothing falls back to another address.
//!
//! Errors say what happened and what to do; none of them carries the
//! token (`scrub` makes sure of it).

use serde_json::Value;

use crate::collect::Options;
use crate::collect::kubernetes::client::{Access, ErrorKind, Kube};

/// The service and port the Sourcegraph frontend serves on in the
/// Kubernetes deployments (kustomize, Helm).
pub const FRONTEND_SERVICE: &str = "sourcegraph-frontend:http";

pub enum Route {
    Direct {
        client: reqwest::Client,
        /// `<url>/.api/graphql`.
        endpoint: String,
    },
    KubeProxy {
        kube: Kube,
        namespace: String,
    },
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum ApiError {
    /// Nothing more can be asked: unreachable, TLS, timeout, a refused
    /// token, a proxy the credentials may not use. The whole collector
    /// fails with this message.
    Fatal(String),
    /// This query's answer was unusable; others may still work.
    Query(String),
}

impl Route {
    /// A client for `url`, or why none can be made (an unreadable CA file).
    pub fn direct(url: &str, opts: &Options) -> Result<Route, String> {
        // reqwest builds rustls without a crypto provider of its own:
        // ring, which kube already uses, is installed for the process.
        // An error means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sg-debug/", env!("CARGO_PKG_VERSION")));
        if opts.insecure_skip_verify {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        if let Some(path) = &opts.ca_cert {
            let pem =
                std::fs::read(path).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "--ca-cert {}: not PEM certificates ({e}); pass the CA certificate(s) in PEM form",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "--ca-cert {}: no certificate in it; pass the CA certificate(s) in PEM form",
                    path.display()
                ));
            }
            b = b.tls_certs_merge(certs);
        }
        let client = b
            .build()
            .map_err(|e| format!("cannot set up an HTTP client: {}", chain(&e)))?;
        Ok(Route::Direct {
            client,
            endpoint: format!("{}/.api/graphql", url.trim_end_matches('/')),
        })
    }

    /// Where requests go, for messages and the summary.
    pub fn describe(&self) -> String {
        match self {
            Route::Direct { endpoint, .. } => endpoint.clone(),
            Route::KubeProxy { kube, namespace } => format!(
                "service {FRONTEND_SERVICE} in namespace {namespace} through the Kubernetes API server {} (service proxy)",
                kube.server
            ),
        }
    }

    /// One GraphQL request; the parsed JSON answer, whatever its `errors`.
    pub async fn post(&self, body: &Value, token: &str) -> Result<Value, ApiError> {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let (status, text) = match self {
            Route::Direct { client, endpoint } => direct(client, endpoint, body, token)
                .await
                .map_err(|e| ApiError::Fatal(scrub(&e, token)))?,
            Route::KubeProxy { kube, namespace } => proxy(kube, namespace, body, token)
                .await
                .map_err(|e| ApiError::Fatal(scrub(&e, token)))?,
        };
        answer(status, &text, &self.describe()).map_err(|e| match e {
            ApiError::Fatal(m) => ApiError::Fatal(scrub(&m, token)),
            ApiError::Query(m) => ApiError::Query(scrub(&m, token)),
        })
    }
}

async fn direct(
    client: &reqwest::Client,
    endpoint: &str,
    body: Vec<u8>,
    token: &str,
) -> Result<(u16, String), String> {
    let res = client
        .post(endpoint)
        .header("Authorization", format!("token {token}"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| transport_error(&e, endpoint))?;
    let status = res.status();
    if status.is_redirection() {
        let to = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(format!(
            "{endpoint} redirects to {to} (HTTP {}); sg-debug asks only the endpoint it was given: pass the instance's external URL itself with --sourcegraph-url",
            status.as_u16()
        ));
    }
    let text = res
        .text()
        .await
        .map_err(|e| transport_error(&e, endpoint))?;
    Ok((status.as_u16(), text))
}

/// The API server removes the `Authorization` header once it has
/// authenticated a request, so the token travels as the `token` URL
/// parameter, which Sourcegraph's API accepts too.
async fn proxy(
    kube: &Kube,
    namespace: &str,
    body: Vec<u8>,
    token: &str,
) -> Result<(u16, String), String> {
    let path = format!(
        "/api/v1/namespaces/{namespace}/services/{FRONTEND_SERVICE}/proxy/.api/graphql?token={}",
        query_escape(token)
    );
    let req = http::Request::post(path)
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(|e| format!("cannot make the service-proxy request: {e}"))?;
    let a = Access {
        verb: "create",
        resource: "services/proxy",
        group: "",
        namespace: Some(namespace),
    };
    match kube.proxied(a, req).await {
        Ok(p) => Ok((p.status, p.body)),
        Err(e) if e.kind == ErrorKind::Forbidden => Err(format!(
            "the Kubernetes credentials may not use the service proxy to reach the Sourcegraph frontend: {}; or port-forward to the frontend and pass --sourcegraph-url",
            e.message
        )),
        Err(e) if e.kind == ErrorKind::NotFound => Err(format!(
            "no service {FRONTEND_SERVICE} in namespace {namespace} ({}); pass the instance's URL with --sourcegraph-url",
            e.message
        )),
        Err(e) => Err(format!(
            "reaching the frontend through the service proxy: {}",
            e.message
        )),
    }
}

fn query_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What the instance answered, as JSON, or why it is not an answer.
fn answer(status: u16, text: &str, endpoint: &str) -> Result<Value, ApiError> {
    let excerpt = excerpt(text);
    match status {
        200 => {}
        401 => {
            return Err(ApiError::Fatal(format!(
                "the instance refused the token in SRC_ACCESS_TOKEN (HTTP 401: {excerpt}); create a new access token as a site admin (Settings > Access tokens) and export it as SRC_ACCESS_TOKEN"
            )));
        }
        403 => {
            return Err(ApiError::Fatal(format!(
                "the instance refused the request (HTTP 403: {excerpt}); the token in SRC_ACCESS_TOKEN must belong to a site admin"
            )));
        }
        404 => {
            return Err(ApiError::Fatal(format!(
                "{endpoint} does not exist (HTTP 404); is this the Sourcegraph instance's external URL?"
            )));
        }
        code => {
            return Err(ApiError::Fatal(format!(
                "{endpoint} answered HTTP {code}: {excerpt}"
            )));
        }
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            ApiError::Fatal(format!(
                "{endpoint} did not answer with GraphQL JSON (it sent: {excerpt}); is this the Sourcegraph instance's URL, not a login page or proxy in front of it?"
            ))
        })
}

/// The start of an answer, on one line, for messages.
fn excerpt(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        format!("{}...", one.chars().take(200).collect::<String>())
    } else if one.is_empty() {
        "an empty body".into()
    } else {
        one
    }
}

/// reqwest's error and its causes in one line, named for what the user
/// can do about it.
fn transport_error(e: &reqwest::Error, endpoint: &str) -> String {
    let why = chain(e);
    if e.is_timeout() {
        return format!(
            "{endpoint}: no answer within the --timeout ({why}); raise --timeout if the instance is slow"
        );
    }
    let lower = why.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return format!(
            "{endpoint}: TLS failure ({why}); pass --ca-cert FILE with the CA that signed the instance's certificate, or --insecure-skip-verify for a self-signed one"
        );
    }
    if e.is_connect() {
        return format!(
            "cannot connect to {endpoint} ({why}); check the URL, that the instance is up, and HTTPS_PROXY/NO_PROXY if a proxy is needed"
        );
    }
    format!("{endpoint}: {why}")
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Removes the token from a message, in case some layer quoted it.
pub fn scrub(message: &str, token: &str) -> String {
    if token.is_empty() {
        return message.to_string();
    }
    message
        .replace(token, "[SRC_ACCESS_TOKEN]")
        .replace(&query_escape(token), "[SRC_ACCESS_TOKEN]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_messages() {
        let e = answer(401, "Invalid access token.\n", "https://sg/.api/graphql").unwrap_err();
        assert!(
            matches!(&e, ApiError::Fatal(m) if m.contains("refused the token") && m.contains("Invalid access token.")),
            "{e:?}"
        );
        let e = answer(200, "<html>login</html>", "https://sg/.api/graphql").unwrap_err();
        assert!(matches!(&e, ApiError::Fatal(m) if m.contains("not a login page")));
        assert!(answer(200, "{\"data\": {}}", "x").is_ok());
    }

    #[test]
    fn token_never_left_in_messages() {
        let t = "sgp_abc/+def";
        let m = format!("GET /x?token={} failed for {t}", query_escape(t));
        let s = scrub(&m, t);
        assert!(!s.contains("abc"), "{s}");
        assert_eq!(query_escape("a b/"), "a+b%2F");
    }
}
