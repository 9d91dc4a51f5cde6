//! Reaching the API server: one client with bounded concurrency and a
//! per-request timeout (the configuration it uses is chosen in
//! `config.rs`), and errors that say what to do (an RBAC refusal names the
//! missing verb and resource, and how to grant it).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, AttachParams};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::load_config;
pub use super::config::{ConnectError, config_available};
use crate::collect::Options;
use crate::collect::parts::exec::{Bounded, MAX_STDERR, OutputSink};

#[derive(Clone)]
pub struct Kube {
    client: Client,
    sem: Arc<Semaphore>,
    timeout: Duration,
    /// The API server URL, for messages.
    pub server: String,
    /// Context name, or `in-cluster`.
    pub context: String,
    /// The context's namespace (or `default`).
    pub default_namespace: String,
}

/// In auto mode (no Kubernetes flag given), how long an unreachable or
/// silent API server may keep Docker waiting: the connection and the
/// first answer (`/version`) each, whatever `--timeout` says.
pub const AUTO_GIVE_UP: Duration = Duration::from_secs(4);

pub async fn connect(opts: &Options) -> Result<Kube, ConnectError> {
    let (mut config, context) = load_config(opts).await?;
    let auto = opts.deployment == crate::collect::DeploymentChoice::Auto;
    config.connect_timeout = Some(if auto {
        opts.timeout.min(AUTO_GIVE_UP)
    } else {
        opts.timeout
    });
    // Our own timeout covers each request; kube's would cut long log reads.
    config.read_timeout = None;
    let server = config.cluster_url.to_string();
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| {
        anyhow!("cannot use the Kubernetes API server {server} (context {context}): {e}")
    })?;
    let kube = Kube {
        client,
        sem: Arc::new(Semaphore::new(opts.concurrency)),
        timeout: opts.timeout,
        server: server.trim_end_matches('/').to_string(),
        context,
        default_namespace,
    };
    if auto {
        kube.probe().await?;
    }
    Ok(kube)
}

impl Kube {
    /// One cheap request (`/version`, readable by everyone) that must be
    /// answered within `AUTO_GIVE_UP`: a cluster that accepts connections
    /// and never answers is given up quickly, so Docker is tried next.
    async fn probe(&self) -> Result<(), ConnectError> {
        let a = Access {
            verb: "get",
            resource: "version",
            group: "",
            namespace: None,
        };
        let req = http::Request::get("/version")
            .body(Vec::new())
            .expect("a static URI");
        match tokio::time::timeout(AUTO_GIVE_UP, self.client.request::<Value>(req)).await {
            Ok(Ok(_)) => Ok(()),
            // It answered: whatever it said, detection will say it better.
            Ok(Err(kube::Error::Api(_))) => Ok(()),
            Ok(Err(e)) => Err(anyhow!("{}", self.convert(&a, e).message).into()),
            Err(_) => Err(anyhow!(
                "the Kubernetes API server {} (context {}) did not answer within {}s; pass --deployment kubernetes (or --context/--kubeconfig) to wait up to --timeout instead",
                self.server,
                self.context,
                AUTO_GIVE_UP.as_secs()
            )
            .into()),
        }
    }
}

/// What a request needs permission for, so a refusal can say how to grant it.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub verb: &'a str,
    /// Plural resource, `pods/log` style for subresources.
    pub resource: &'a str,
    pub group: &'a str,
    /// `None` for cluster-scoped requests.
    pub namespace: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    Forbidden,
    NotFound,
    /// Anything else the server answered with an error status.
    Status(u16),
    /// No answer: unreachable, refused, timed out.
    Transport,
}

/// What a service behind the service proxy answered.
#[derive(Debug)]
pub struct Proxied {
    pub status: u16,
    pub body: String,
}

#[derive(Debug)]
pub struct KubeError {
    pub kind: ErrorKind,
    pub message: String,
}

impl std::fmt::Display for KubeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KubeError {}

impl Kube {
    fn permit_timeout(&self) -> String {
        format!(
            "no answer within {}s (raise --timeout)",
            self.timeout.as_secs()
        )
    }

    async fn permit(&self) -> OwnedSemaphorePermit {
        self.sem
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    fn convert(&self, a: &Access<'_>, e: kube::Error) -> KubeError {
        match e {
            kube::Error::Api(s) if s.code == 403 => KubeError {
                kind: ErrorKind::Forbidden,
                message: forbidden(a, &s.message),
            },
            kube::Error::Api(s) if s.code == 404 => KubeError {
                kind: ErrorKind::NotFound,
                message: format!("not found: {}", s.message),
            },
            kube::Error::Api(s) if s.code == 401 => KubeError {
                kind: ErrorKind::Status(401),
                message: format!(
                    "the API server {} rejected the credentials of context {} (401 Unauthorized): log in again or refresh the token",
                    self.server, self.context
                ),
            },
            kube::Error::Api(s) => KubeError {
                kind: ErrorKind::Status(s.code),
                message: format!("the API server answered {}: {}", s.code, s.message),
            },
            other => KubeError {
                kind: ErrorKind::Transport,
                message: format!(
                    "cannot reach the Kubernetes API server {} (context {}): {:#}",
                    self.server,
                    self.context,
                    anyhow::Error::from(other)
                ),
            },
        }
    }

    /// One GET returning JSON, within the concurrency limit and timeout.
    pub async fn json(
        &self,
        a: Access<'_>,
        req: http::Request<Vec<u8>>,
    ) -> Result<Value, KubeError> {
        let _permit = self.permit().await;
        match tokio::time::timeout(self.timeout, self.client.request::<Value>(req)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.convert(&a, e)),
            Err(_) => Err(KubeError {
                kind: ErrorKind::Transport,
                message: self.permit_timeout(),
            }),
        }
    }

    pub async fn get(&self, a: Access<'_>, path: &str) -> Result<Value, KubeError> {
        let req = http::Request::get(path)
            .body(Vec::new())
            .expect("a path is a valid URI");
        self.json(a, req).await
    }

    /// One POST of a JSON document (a review), answered with JSON.
    pub async fn post(&self, a: Access<'_>, path: &str, body: &Value) -> Result<Value, KubeError> {
        let req = http::Request::post(path)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(body).expect("JSON serializes"))
            .expect("a path is a valid URI");
        self.json(a, req).await
    }

    /// A request answered by a service behind the API server (the service
    /// proxy). The API server's own refusals (a JSON `Status` it wrote)
    /// become a `KubeError` as usual; anything else the service answered,
    /// error statuses included, is returned as it came.
    pub async fn proxied(
        &self,
        a: Access<'_>,
        req: http::Request<Vec<u8>>,
    ) -> Result<Proxied, KubeError> {
        let _permit = self.permit().await;
        match tokio::time::timeout(self.timeout, self.client.request_text(req)).await {
            Ok(Ok(body)) => Ok(Proxied { status: 200, body }),
            // kube makes a `Status` of a body that is not one, with this
            // reason: that body is the service's.
            Ok(Err(kube::Error::Api(s))) if s.reason == "Failed to parse error data" => {
                Ok(Proxied {
                    status: s.code,
                    body: s.message,
                })
            }
            // kube reads any JSON error body as a `Status`; the API server's
            // own always says `Failure`. Without it, the service answered.
            Ok(Err(kube::Error::Api(s))) if s.status.is_none() => Err(KubeError {
                kind: ErrorKind::Status(s.code),
                message: format!(
                    "the service answered an HTTP error with a JSON body that is not a Kubernetes Status{}",
                    if s.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", s.message)
                    }
                ),
            }),
            Ok(Err(e)) => Err(self.convert(&a, e)),
            Err(_) => Err(KubeError {
                kind: ErrorKind::Transport,
                message: self.permit_timeout(),
            }),
        }
    }

    /// A streamed GET (logs). The permit travels with the body, so a slow
    /// reader still counts against `--concurrency`.
    pub async fn stream(
        &self,
        a: Access<'_>,
        req: http::Request<Vec<u8>>,
    ) -> Result<
        (
            OwnedSemaphorePermit,
            impl futures_util::AsyncBufRead + use<>,
        ),
        KubeError,
    > {
        let permit = self.permit().await;
        match tokio::time::timeout(self.timeout, self.client.request_stream(req)).await {
            Ok(Ok(body)) => Ok((permit, body)),
            Ok(Err(e)) => Err(self.convert(&a, e)),
            Err(_) => Err(KubeError {
                kind: ErrorKind::Transport,
                message: self.permit_timeout(),
            }),
        }
    }

    /// Runs a command in a container and returns its stdout. A non-zero
    /// exit is an error carrying stderr.
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        cmd: &[&str],
    ) -> Result<String, KubeError> {
        let a = Access {
            verb: "create",
            resource: "pods/exec",
            group: "",
            namespace: Some(namespace),
        };
        let _permit = self.permit().await;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = AttachParams::default()
            .container(container)
            .stdin(false)
            .stdout(true)
            .stderr(true);
        let run = async {
            let mut p = api
                .exec(pod, cmd.iter().map(|s| s.to_string()), &params)
                .await
                .map_err(|e| self.convert(&a, e))?;
            let status = p.take_status();
            // Both pipes at once: a full stderr must not stall stdout.
            let (out, err) = tokio::join!(
                read_bounded(p.stdout(), MAX_EXEC_STDOUT),
                read_bounded(p.stderr(), MAX_STDERR)
            );
            let status = match status {
                Some(s) => s.await,
                None => None,
            };
            let _ = p.join().await;
            if let Some(s) = status
                && s.status.as_deref() == Some("Failure")
            {
                return Err(KubeError {
                    kind: ErrorKind::Status(0),
                    message: format!(
                        "`{}` in {pod}/{container} failed: {} {}",
                        cmd.join(" "),
                        s.message.unwrap_or_default(),
                        err.text().trim()
                    ),
                });
            }
            Ok(out.text())
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(KubeError {
                kind: ErrorKind::Transport,
                message: format!("exec in {pod}/{container}: {}", self.permit_timeout()),
            }),
        }
    }
}

/// Reads a pipe of an exec to the end, keeping at most 4 MiB.
/// `df` of a few mounts prints a few hundred bytes; anything longer is
/// not what was asked for.
const MAX_EXEC_STDOUT: usize = 4 << 20;

async fn read_bounded<R: tokio::io::AsyncRead + Unpin>(r: Option<R>, limit: usize) -> Bounded {
    use tokio::io::AsyncReadExt;
    let mut out = Bounded::new(limit);
    if let Some(mut r) = r {
        let mut buf = vec![0u8; 16 << 10];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 || !out.push(&buf[..n]).unwrap_or(false) {
                break;
            }
        }
    }
    out
}

/// A 403 in words: what is missing, who lacks it, and the two kubectl
/// commands that grant exactly that.
fn forbidden(a: &Access<'_>, server_message: &str) -> String {
    let user = server_message
        .split("User \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .filter(|u| !u.is_empty());
    let subject = match user {
        Some(u) if u.starts_with("system:serviceaccount:") => {
            let sa = u.trim_start_matches("system:serviceaccount:");
            format!("--serviceaccount={sa}")
        }
        Some(u) => format!("--user={u}"),
        None => "--user=<your user>".into(),
    };
    let resource = if a.group.is_empty() {
        a.resource.to_string()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    // One role per verb and resource: two grants (pods/exec, then
    // services/proxy, both `create`) must not collide on one name.
    let name = format!("{}-{}", a.verb, a.resource.replace('/', "-"));
    let (scope, grant) = match a.namespace {
        Some(ns) => (
            format!("in namespace {ns}"),
            format!(
                "kubectl create role sg-debug-{name} -n {ns} --verb={verb} --resource={resource} && kubectl create rolebinding sg-debug-{name} -n {ns} --role=sg-debug-{name} {subject}",
                verb = a.verb
            ),
        ),
        None => (
            "cluster-wide".into(),
            format!(
                "kubectl create clusterrole sg-debug-{name} --verb={verb} --resource={resource} && kubectl create clusterrolebinding sg-debug-{name} --clusterrole=sg-debug-{name} {subject}",
                verb = a.verb,
            ),
        ),
    };
    format!(
        "forbidden: missing RBAC permission to {} {resource} {scope} (the server said: {server_message}); a cluster admin can grant it with: {grant}",
        a.verb
    )
}

/// `/api/v1/...` or `/apis/GROUP/VERSION/...`, namespaced or not.
pub fn list_path(group: &str, version: &str, plural: &str, namespace: Option<&str>) -> String {
    let root = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    match namespace {
        Some(ns) => format!("{root}/namespaces/{ns}/{plural}"),
        None => format!("{root}/{plural}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_verb_resource_and_grant() {
        let a = Access {
            verb: "list",
            resource: "nodes",
            group: "",
            namespace: None,
        };
        let m = forbidden(
            &a,
            "nodes is forbidden: User \"system:serviceaccount:sourcegraph:sg-debug\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
        );
        assert!(
            m.contains("missing RBAC permission to list nodes cluster-wide"),
            "{m}"
        );
        assert!(
            m.contains(
                "kubectl create clusterrole sg-debug-list-nodes --verb=list --resource=nodes"
            ),
            "{m}"
        );
        assert!(m.contains("--serviceaccount=sourcegraph:sg-debug"), "{m}");
        let a = Access {
            verb: "create",
            resource: "pods/exec",
            group: "",
            namespace: Some("sg"),
        };
        let m = forbidden(&a, "pods \"x\" is forbidden: User \"jane\" cannot create");
        assert!(
            m.contains(
                "kubectl create role sg-debug-create-pods-exec -n sg --verb=create --resource=pods/exec"
            ),
            "{m}"
        );
        assert!(m.contains("--user=jane"), "{m}");
    }

    #[test]
    fn paths() {
        assert_eq!(
            list_path("", "v1", "pods", Some("sg")),
            "/api/v1/namespaces/sg/pods"
        );
        assert_eq!(
            list_path("storage.k8s.io", "v1", "storageclasses", None),
            "/apis/storage.k8s.io/v1/storageclasses"
        );
    }
}
