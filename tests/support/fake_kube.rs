//! A fake Kubernetes API server on 127.0.0.1 for the collector's tests and
//! benchmark. It speaks plain HTTP/1.1 (keep-alive, chunked log streams,
//! the websocket exec protocol) and serves objects that went through
//! k8s-openapi's types, so their JSON has the real shapes. Scenarios live in
//! `testdata/kube/<name>/`:
//!
//! - `objects/*.json`: objects or `List`s; a scenario that `extends`
//!   another replaces its objects of the same kind, namespace and name;
//! - `logs/<pod>/<container>[.previous].log`: lines, stamped with times
//!   ending now (a line starting `@-SECONDS ` is that old);
//! - `scenario.json`: `extends`, `forbidden` (`"list nodes"`), `metrics`,
//!   `helm_releases` (encoded here the way Helm stores them).
//!
//! The service proxy (`.../services/NAME/proxy/PATH`) forwards to
//! `Scenario::service_proxy` as the API server does: without the
//! `Authorization` header, which it consumes.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
use k8s_openapi::api::{networking::v1 as net, storage::v1 as storage};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub const USER: &str = "system:serviceaccount:sourcegraph:support-bot";

#[derive(Clone, Debug)]
pub enum LogSource {
    Lines(Vec<String>),
    /// `bytes` of numbered lines, made on the fly and never held whole.
    Generated {
        bytes: usize,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Scenario {
    pub objects: Vec<Value>,
    /// (pod, container, previous) -> log
    pub logs: HashMap<(String, String, bool), LogSource>,
    /// `"list nodes"`, `"create pods/exec"`, `"list pods.metrics.k8s.io"`.
    pub forbidden: Vec<String>,
    /// Path prefix -> delay before answering.
    pub delays: Vec<(String, Duration)>,
    /// Added to every request.
    pub latency: Duration,
    pub metrics: bool,
    /// The server's own page size cap (a real one may send fewer items
    /// than `limit` asks for); `None`: as asked.
    pub max_page: Option<usize>,
    /// Plural -> how many continue requests still get 410 Gone (the token
    /// expired): shared, so the count goes down as they are answered.
    pub expire_continue: Arc<std::sync::Mutex<HashMap<String, usize>>>,
    /// Every request's path and query, in order of arrival.
    pub seen: Arc<std::sync::Mutex<Vec<String>>>,
    /// Where `services/sourcegraph-frontend:http/proxy/...` goes.
    pub service_proxy: Option<std::net::SocketAddr>,
    /// When set, every request must carry `Authorization: Bearer TOKEN`
    /// (else 401, as the API server answers).
    pub bearer: Option<String>,
    /// Every SelfSubjectAccessReview asked, in order.
    pub reviews: Arc<std::sync::Mutex<Vec<Attributes>>>,
    /// When set, an RBAC authorizer: only what these rules grant is
    /// allowed (see `Rbac`); `forbidden` still applies on top.
    pub rbac: Option<Rbac>,
}

/// One RBAC policy rule as a Role or ClusterRole holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

impl PolicyRule {
    fn allows(&self, a: &Attributes) -> bool {
        let has = |v: &[String], x: &str| v.iter().any(|e| e == x || e == "*");
        has(&self.verbs, &a.verb)
            && has(&self.groups, &a.group)
            && has(&self.resources, &a.resource)
    }
}

/// The rules bound to the test's user, as kube-apiserver's RBAC authorizer
/// applies them: a Role's rules in its own namespace only, a ClusterRole's
/// (bound with a ClusterRoleBinding) everywhere.
#[derive(Clone, Debug, Default)]
pub struct Rbac {
    /// (namespace, rules of a Role there)
    pub roles: Vec<(String, Vec<PolicyRule>)>,
    pub cluster_roles: Vec<Vec<PolicyRule>>,
}

impl Rbac {
    /// The Roles and ClusterRoles of a multi-document YAML (what
    /// `sg-debug rbac` prints); bindings are taken as binding them to us.
    pub fn from_yaml(text: &str) -> Rbac {
        let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("RBAC YAML");
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        };
        let mut out = Rbac::default();
        for d in &docs {
            let rules: Vec<PolicyRule> = d["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| PolicyRule {
                    groups: strings(&r["apiGroups"]),
                    resources: strings(&r["resources"]),
                    verbs: strings(&r["verbs"]),
                })
                .collect();
            match d["kind"].as_str() {
                Some("Role") => out.roles.push((
                    d["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .into(),
                    rules,
                )),
                Some("ClusterRole") => out.cluster_roles.push(rules),
                _ => {}
            }
        }
        out
    }

    pub fn allows(&self, a: &Attributes) -> bool {
        let namespaced = self
            .roles
            .iter()
            .filter(|(ns, _)| a.namespace.as_deref() == Some(ns.as_str()))
            .flat_map(|(_, r)| r);
        namespaced
            .chain(self.cluster_roles.iter().flatten())
            .any(|r| r.allows(a))
    }
}

/// What kube-apiserver's request-info resolver makes of a resource
/// request: the verb (from the method and path), API group, resource
/// (`pods/log` for subresources), namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kube")
}

fn key(o: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        s(&o["kind"]),
        s(&o["metadata"]["namespace"]),
        s(&o["metadata"]["name"]),
    )
}

impl Scenario {
    pub fn load(name: &str) -> Scenario {
        let dir = testdata().join(name);
        let meta: Value = std::fs::read(dir.join("scenario.json"))
            .map(|b| serde_json::from_slice(&b).expect("scenario.json"))
            .unwrap_or(json!({}));
        let mut s = match meta["extends"].as_str() {
            Some(base) => Scenario::load(base),
            None => Scenario::default(),
        };
        if let Some(m) = meta["metrics"].as_bool() {
            s.metrics = m;
        }
        if let Some(f) = meta["forbidden"].as_array() {
            s.forbidden = f
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("objects"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let items = match v["kind"].as_str() {
                Some("List") => v["items"].as_array().cloned().unwrap_or_default(),
                _ => vec![v],
            };
            for o in items {
                let o = typed(&o).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                s.put(o);
            }
        }
        for r in meta["helm_releases"].as_array().into_iter().flatten() {
            s.put(helm_secret(r));
        }
        let logs = dir.join("logs");
        for pod in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(pod.path()).unwrap().flatten() {
                let file = f.file_name().to_string_lossy().into_owned();
                let (container, previous) = match file.strip_suffix(".previous.log") {
                    Some(c) => (c.to_string(), true),
                    None => (file.trim_end_matches(".log").to_string(), false),
                };
                let text = std::fs::read_to_string(f.path()).unwrap();
                let lines = text.lines().map(String::from).collect();
                s.logs.insert(
                    (
                        pod.file_name().to_string_lossy().into_owned(),
                        container,
                        previous,
                    ),
                    LogSource::Lines(lines),
                );
            }
        }
        s
    }

    /// Adds an object, replacing one of the same kind, namespace and name.
    pub fn put(&mut self, o: Value) {
        let k = key(&o);
        self.objects.retain(|x| key(x) != k);
        self.objects.push(o);
    }

    pub fn delay(mut self, path_prefix: &str, d: Duration) -> Scenario {
        self.delays.push((path_prefix.to_string(), d));
        self
    }

    pub fn generated_log(mut self, pod: &str, container: &str, bytes: usize) -> Scenario {
        self.logs.insert(
            (pod.into(), container.into(), false),
            LogSource::Generated { bytes },
        );
        self
    }

    /// `n` Normal events about worker-0000, one second apart, oldest first.
    pub fn with_events(mut self, n: usize) -> Scenario {
        for i in 0..n {
            let t = format!(
                "2025-11-20T{:02}:{:02}:{:02}Z",
                10 + i / 3600,
                (i / 60) % 60,
                i % 60
            );
            let e = json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("worker-0000.{i:08x}"), "namespace": "sourcegraph"},
                "involvedObject": {"kind": "Pod", "name": "worker-0000", "namespace": "sourcegraph"},
                "reason": "Pulled", "message": format!("event {i}"), "type": "Normal",
                "firstTimestamp": t, "lastTimestamp": t, "count": 1,
            });
            self.objects.push(typed(&e).unwrap());
        }
        self
    }

    /// `pods` Sourcegraph pods of `containers` running containers each, in
    /// namespace `sourcegraph`, each with a generated log of `log_bytes`.
    pub fn generated(pods: usize, containers: usize, log_bytes: usize) -> Scenario {
        let mut s = Scenario {
            metrics: true,
            ..Default::default()
        };
        for p in 0..pods {
            let name = format!("worker-{p:04}");
            let cs: Vec<Value> = (0..containers)
                .map(|c| {
                    json!({"name": format!("c{c}"), "image": "index.docker.io/sourcegraph/worker:6.12.5040",
                           "resources": {"limits": {"memory": "1Gi", "cpu": "1"}}})
                })
                .collect();
            let st: Vec<Value> = (0..containers)
                .map(|c| {
                    json!({"name": format!("c{c}"), "image": "sourcegraph/worker:6.12.5040", "imageID": "",
                           "ready": true, "restartCount": 0, "started": true,
                           "state": {"running": {"startedAt": "2025-11-20T10:00:00Z"}}})
                })
                .collect();
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "sourcegraph",
                             "labels": {"deploy": "sourcegraph", "app": "worker"}},
                "spec": {"containers": cs},
                "status": {"phase": "Running", "containerStatuses": st},
            });
            s.objects.push(typed(&pod).unwrap());
            for c in 0..containers {
                s.logs.insert(
                    (name.clone(), format!("c{c}"), false),
                    LogSource::Generated { bytes: log_bytes },
                );
            }
        }
        s
    }
}

/// Passes an object through its k8s-openapi type: a fixture with a field
/// of the wrong shape fails loudly here instead of testing nothing.
pub fn typed(o: &Value) -> Result<Value, String> {
    fn via<T: serde::de::DeserializeOwned + serde::Serialize>(o: &Value) -> Result<Value, String> {
        let t: T = serde_json::from_value(o.clone()).map_err(|e| {
            format!(
                "{} {}: {e}",
                o["kind"],
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })?;
        serde_json::to_value(t).map_err(|e| e.to_string())
    }
    match o["kind"].as_str().unwrap_or_default() {
        "Pod" => via::<core::Pod>(o),
        "Service" => via::<core::Service>(o),
        "ConfigMap" => via::<core::ConfigMap>(o),
        "Secret" => via::<core::Secret>(o),
        "PersistentVolumeClaim" => via::<core::PersistentVolumeClaim>(o),
        "PersistentVolume" => via::<core::PersistentVolume>(o),
        "ResourceQuota" => via::<core::ResourceQuota>(o),
        "LimitRange" => via::<core::LimitRange>(o),
        "Event" => via::<core::Event>(o),
        "Node" => via::<core::Node>(o),
        "Deployment" => via::<apps::Deployment>(o),
        "StatefulSet" => via::<apps::StatefulSet>(o),
        "DaemonSet" => via::<apps::DaemonSet>(o),
        "Job" => via::<batch::Job>(o),
        "CronJob" => via::<batch::CronJob>(o),
        "Ingress" => via::<net::Ingress>(o),
        "StorageClass" => via::<storage::StorageClass>(o),
        other => Err(format!("unknown kind {other:?}")),
    }
}

/// A release Secret as Helm 3 writes it: the release JSON, gzipped and
/// base64-encoded, as the Secret's `release` value.
fn helm_secret(r: &Value) -> Value {
    let name = r["name"].as_str().unwrap();
    let rev = r["revision"].as_u64().unwrap();
    let ns = r["namespace"].as_str().unwrap_or("sourcegraph");
    let release = json!({
        "name": name, "namespace": ns, "version": rev,
        "info": {"status": r["status"], "first_deployed": "2025-10-01T09:00:00Z",
                 "last_deployed": "2025-11-20T10:00:00Z", "description": "Upgrade complete"},
        "chart": {"metadata": {"name": "sourcegraph", "version": r["chart_version"], "appVersion": "6.12.5040"}},
        "config": r["values"],
        "manifest": "---\n# Source: sourcegraph/templates/rendered.yaml\n",
    });
    release_secret(&release, name, rev, ns, &r["status"])
}

/// The Secret Helm stores a release in: the release JSON gzipped and
/// base64-encoded as the `release` value (the API adds its own base64).
pub fn release_secret(release: &Value, name: &str, rev: u64, ns: &str, status: &Value) -> Value {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(release).unwrap()).unwrap();
    let helm = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let s = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v{rev}"), "namespace": ns,
                     "labels": {"owner": "helm", "name": name, "version": rev.to_string(), "status": status}},
        "data": {"release": base64::engine::general_purpose::STANDARD.encode(helm)},
    });
    typed(&s).unwrap()
}

/// A server on 127.0.0.1 on its own thread and runtime: `handle` serves
/// each connection, until the server is dropped. The fake API server and
/// the fake Sourcegraph instance (`fake_graphql.rs`) both run on one.
pub struct LocalServer {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalServer {
    pub fn start<F, Fut>(handle: F) -> LocalServer
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let serve = async {
                    loop {
                        let Ok((conn, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(handle(conn));
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
            rt.shutdown_background();
        });
        LocalServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A server certificate for 127.0.0.1 signed by a fresh CA: (CA PEM,
/// server chain, key).
pub struct TestCerts {
    pub ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl Default for TestCerts {
    fn default() -> TestCerts {
        TestCerts::new()
    }
}

impl TestCerts {
    /// A TLS acceptor serving the certificate.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert_der.clone().into()],
                tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into()),
            )
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }

    pub fn new() -> TestCerts {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "sg-debug test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        TestCerts {
            ca_pem: ca_cert.pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

pub struct FakeKube {
    pub addr: std::net::SocketAddr,
    tls: bool,
    requests: Arc<AtomicU64>,
    _server: LocalServer,
}

impl FakeKube {
    pub fn start(s: Scenario) -> FakeKube {
        Self::serve(s, None)
    }

    /// Over HTTPS with the test CA's certificate for 127.0.0.1, as a real
    /// API server (and kube's in-cluster configuration) wants.
    pub fn start_tls(s: Scenario, certs: &TestCerts) -> FakeKube {
        Self::serve(s, Some(certs.acceptor()))
    }

    fn serve(s: Scenario, tls: Option<tokio_rustls::TlsAcceptor>) -> FakeKube {
        let https = tls.is_some();
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let s = Arc::new(s);
        let server = LocalServer::start(move |conn| {
            let (s, counter, tls) = (s.clone(), counter.clone(), tls.clone());
            async move {
                // As Go's net/http (and so the API server) does: without
                // it, a reply written in pieces waits for delayed ACKs,
                // 40 ms at a time.
                let _ = conn.set_nodelay(true);
                match tls {
                    Some(acceptor) => {
                        if let Ok(c) = acceptor.accept(conn).await {
                            let _ = connection(c, &s, &counter).await;
                        }
                    }
                    None => {
                        let _ = connection(conn, &s, &counter).await;
                    }
                }
            }
        });
        FakeKube {
            addr: server.addr,
            tls: https,
            requests,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Requests served so far (websocket upgrades included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// A kubeconfig with context `fake` (namespace `namespace`) on this
    /// server, and a context `elsewhere` on a closed port.
    pub fn kubeconfig(&self, dir: &Path, namespace: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {}
- name: closed
  cluster:
    server: http://127.0.0.1:9
contexts:
- name: fake
  context:
    cluster: fake
    user: support
    namespace: {namespace}
- name: elsewhere
  context:
    cluster: closed
    user: support
current-context: fake
users:
- name: support
  user: {{}}
",
            self.url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// The request's attributes, or None for a non-resource URL (`/version`,
/// discovery), which every authenticated user may read.
fn attributes(req: &Req) -> Option<Attributes> {
    let seg: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let (group, rest): (&str, &[&str]) = match seg.as_slice() {
        ["api", _v, rest @ ..] => ("", rest),
        ["apis", g, _v, rest @ ..] => (g, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let upgrade = req.headers.contains_key("upgrade");
    let (resource, name, verb) = match rest {
        [] => return None,
        [plural] => (
            plural.to_string(),
            None,
            if req.method == "POST" {
                "create"
            } else {
                "list"
            },
        ),
        [plural, name] => (plural.to_string(), Some(name.to_string()), "get"),
        [plural, name, sub, ..] => (
            format!("{plural}/{sub}"),
            Some(name.to_string()),
            // Exec over a websocket is a GET the API server authorizes
            // as create; the proxy is authorized by its method.
            match req.method.as_str() {
                "POST" | "PUT" => "create",
                _ if upgrade && (*sub == "exec" || *sub == "attach") => "create",
                _ => "get",
            },
        ),
    };
    Some(Attributes {
        verb: verb.into(),
        group: group.into(),
        resource,
        namespace,
        name,
    })
}

/// Whether the scenario's authorizer lets `a` through.
pub fn authorized(s: &Scenario, a: &Attributes) -> bool {
    // Every user may ask what it may do (system:basic-user).
    let reviews = ["authorization.k8s.io", "authentication.k8s.io"];
    if reviews.contains(&a.group.as_str()) && a.resource.starts_with("selfsubject") {
        return true;
    }
    let named = if a.group.is_empty() {
        format!("{} {}", a.verb, a.resource)
    } else {
        format!("{} {}.{}", a.verb, a.resource, a.group)
    };
    let plain = format!("{} {}", a.verb, a.resource);
    if s.forbidden.iter().any(|f| *f == named || *f == plain) {
        return false;
    }
    s.rbac.as_ref().is_none_or(|r| r.allows(a))
}

struct Req {
    method: String,
    body: Vec<u8>,
    path: String,
    query: BTreeMap<String, String>,
    /// Every parameter in order: exec repeats `command`.
    params: Vec<(String, String)>,
    headers: HashMap<String, String>,
}

async fn read_request<S: AsyncRead + Unpin>(r: &mut BufReader<S>) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let method = line.split_whitespace().next()?.to_string();
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    // Only the service proxy takes a body.
    let mut body = Vec::new();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|n| n.parse::<u64>().ok())
    {
        body = vec![0; n as usize];
        r.read_exact(&mut body).await.ok()?;
    }
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let params: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unescape(k), unescape(v))
        })
        .collect();
    Some(Req {
        method,
        body,
        path: path.to_string(),
        query: params.iter().cloned().collect(),
        params,
        headers,
    })
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (c, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A stream the server speaks on: TCP, or TLS over it.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

async fn connection<S: Conn>(conn: S, s: &Scenario, counter: &AtomicU64) -> std::io::Result<()> {
    let mut r = BufReader::new(conn);
    while let Some(req) = read_request(&mut r).await {
        counter.fetch_add(1, Ordering::Relaxed);
        let query: Vec<String> = req.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.seen
            .lock()
            .unwrap()
            .push(format!("{}?{}", req.path, query.join("&")));
        tokio::time::sleep(s.latency).await;
        if let Some((_, d)) = s
            .delays
            .iter()
            .find(|(p, _)| req.path.starts_with(p.as_str()))
        {
            tokio::time::sleep(*d).await;
        }
        if let Some(want) = &s.bearer
            && req.headers.get("authorization") != Some(&format!("Bearer {want}"))
        {
            let reply = status(401, "Unauthorized", "Unauthorized".into());
            r.get_mut().write_all(&json_reply(reply)).await?;
            r.get_mut().flush().await?;
            continue;
        }
        if let Some(a) = attributes(&req).filter(|_| s.rbac.is_some())
            && !authorized(s, &a)
        {
            let reply = forbidden(
                &a.verb,
                &a.resource,
                &a.group,
                a.namespace.as_deref(),
                a.name.as_deref(),
            );
            r.get_mut().write_all(&json_reply(reply)).await?;
            r.get_mut().flush().await?;
            continue;
        }
        if let Some(reply) = service_proxy(s, &req).await {
            r.get_mut().write_all(&reply).await?;
            r.get_mut().flush().await?;
            continue;
        }
        let is_upgrade = req
            .headers
            .get("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        match route(s, &req) {
            reply @ Reply::Json(..) => r.get_mut().write_all(&json_reply(reply)).await?,
            Reply::Log(lines) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
                r.get_mut().write_all(head.as_bytes()).await?;
                let mut chunk = Vec::with_capacity(64 << 10);
                for line in lines {
                    chunk.extend_from_slice(line.as_bytes());
                    if chunk.len() >= 60 << 10 {
                        write_chunk(r.get_mut(), &chunk).await?;
                        chunk.clear();
                    }
                }
                if !chunk.is_empty() {
                    write_chunk(r.get_mut(), &chunk).await?;
                }
                r.get_mut().write_all(b"0\r\n\r\n").await?;
            }
            Reply::Exec(stdout) if is_upgrade => return exec(r, &req, stdout).await,
            Reply::Exec(_) => {
                let head = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
                r.get_mut().write_all(head.as_bytes()).await?;
            }
        }
        r.get_mut().flush().await?;
    }
    Ok(())
}

/// `/api/v1/namespaces/NS/services/NAME/proxy/PATH?QUERY`: the raw answer
/// of the service behind it, or the API server's refusal; None for other
/// paths.
async fn service_proxy(s: &Scenario, req: &Req) -> Option<Vec<u8>> {
    let seg: Vec<&str> = req.path.trim_matches('/').splitn(8, '/').collect();
    let [
        "api",
        "v1",
        "namespaces",
        ns,
        "services",
        svc,
        "proxy",
        rest,
    ] = seg.as_slice()
    else {
        return None;
    };
    let refuse = json_reply;
    if s.forbidden.iter().any(|f| f == "create services/proxy") {
        return Some(refuse(forbidden(
            "create",
            "services/proxy",
            "",
            Some(ns),
            Some(svc),
        )));
    }
    let Some(addr) = s
        .service_proxy
        .filter(|_| *svc == "sourcegraph-frontend:http")
    else {
        let name = svc.split(':').next().unwrap_or(svc);
        return Some(refuse(status(
            404,
            "NotFound",
            format!("services \"{name}\" not found"),
        )));
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&req.params)
        .finish();
    let target = if query.is_empty() {
        format!("/{rest}")
    } else {
        format!("/{rest}?{query}")
    };
    // Forwarded without Authorization: the API server consumed it.
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        req.method,
        req.body.len()
    );
    if let Some(ct) = req.headers.get("content-type") {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    let mut up = TcpStream::connect(addr).await.ok()?;
    up.write_all(head.as_bytes()).await.ok()?;
    up.write_all(&req.body).await.ok()?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).await.ok()?;
    Some(answer)
}

/// A JSON reply, head and body, as bytes.
fn json_reply(reply: Reply) -> Vec<u8> {
    let Reply::Json(code, v) = reply else {
        unreachable!("refusals are JSON")
    };
    let body = serde_json::to_vec(&v).unwrap();
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        reason(code),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

async fn write_chunk<S: Conn>(w: &mut S, data: &[u8]) -> std::io::Result<()> {
    w.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    w.write_all(data).await?;
    w.write_all(b"\r\n").await
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    }
}

/// The v4 channel protocol: stdout on channel 1, then the exit status on
/// channel 3.
async fn exec<S: Conn>(mut r: BufReader<S>, req: &Req, stdout: String) -> std::io::Result<()> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let key = req
        .headers
        .get("sec-websocket-key")
        .cloned()
        .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    r.get_mut().write_all(head.as_bytes()).await?;
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(r, Role::Server, None).await;
    let mut out = vec![1u8];
    out.extend_from_slice(stdout.as_bytes());
    let status = br#"{"metadata":{},"status":"Success"}"#;
    let mut st = vec![3u8];
    st.extend_from_slice(status);
    let send = async {
        ws.send(Message::Binary(out.into())).await?;
        ws.send(Message::Binary(st.into())).await?;
        ws.close(None).await
    };
    send.await.map_err(std::io::Error::other)
}

enum Reply {
    Json(u16, Value),
    Log(Box<dyn Iterator<Item = String> + Send>),
    Exec(String),
}

/// Kind, API group and whether namespaced, by the path's plural.
fn kind_of(group_version: &str, plural: &str) -> Option<&'static str> {
    Some(match (group_version, plural) {
        ("v1", "pods") => "Pod",
        ("v1", "services") => "Service",
        ("v1", "configmaps") => "ConfigMap",
        ("v1", "secrets") => "Secret",
        ("v1", "persistentvolumeclaims") => "PersistentVolumeClaim",
        ("v1", "persistentvolumes") => "PersistentVolume",
        ("v1", "resourcequotas") => "ResourceQuota",
        ("v1", "limitranges") => "LimitRange",
        ("v1", "events") => "Event",
        ("v1", "nodes") => "Node",
        ("apps/v1", "deployments") => "Deployment",
        ("apps/v1", "statefulsets") => "StatefulSet",
        ("apps/v1", "daemonsets") => "DaemonSet",
        ("batch/v1", "jobs") => "Job",
        ("batch/v1", "cronjobs") => "CronJob",
        ("networking.k8s.io/v1", "ingresses") => "Ingress",
        ("storage.k8s.io/v1", "storageclasses") => "StorageClass",
        _ => return None,
    })
}

fn status(code: u16, reason: &str, message: String) -> Reply {
    let st = k8s_openapi::apimachinery::pkg::apis::meta::v1::Status {
        code: Some(code.into()),
        message: Some(message),
        reason: Some(reason.into()),
        status: Some("Failure".into()),
        ..Default::default()
    };
    let mut v = serde_json::to_value(st).unwrap();
    v["kind"] = "Status".into();
    v["apiVersion"] = "v1".into();
    Reply::Json(code, v)
}

/// The message kube-apiserver's RBAC authorizer really sends.
fn forbidden(
    verb: &str,
    resource: &str,
    group: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> Reply {
    let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let what = match name {
        Some(n) => format!("{res} \"{n}\""),
        None => res.to_string(),
    };
    let full = if sub.is_empty() {
        res.to_string()
    } else {
        format!("{res}/{sub}")
    };
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".into(),
    };
    status(
        403,
        "Forbidden",
        format!(
            "{what} is forbidden: User \"{USER}\" cannot {verb} resource \"{full}\" in API group \"{group}\" {scope}"
        ),
    )
}

/// kube-apiserver's tokens are base64 of a small JSON document.
fn encode_continue(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(
        json!({"v": "meta.k8s.io/v1", "rv": 48213, "start": offset.to_string()}).to_string(),
    )
}

fn decode_continue(token: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    v["start"].as_str()?.parse().ok()
}

/// What kube-apiserver answers when a continue token is too old.
fn expired() -> Reply {
    status(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
    )
}

fn not_found() -> Reply {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
    )
}

fn matches_selector(o: &Value, sel: Option<&String>) -> bool {
    let Some(sel) = sel.filter(|s| !s.is_empty()) else {
        return true;
    };
    sel.split(',').all(|term| {
        let labels = &o["metadata"]["labels"];
        if let Some((k, v)) = term.split_once("!=") {
            labels[k].as_str() != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k.trim_end_matches('=')].as_str() == Some(v)
        } else {
            labels[term].is_string()
        }
    })
}

fn route(s: &Scenario, req: &Req) -> Reply {
    let seg: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let denied = |verb: &str, resource: &str| {
        s.forbidden
            .iter()
            .any(|f| f == &format!("{verb} {resource}"))
    };
    if seg == ["version"] {
        return Reply::Json(
            200,
            json!({"major": "1", "minor": "31", "gitVersion": "v1.31.4", "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b",
                   "gitTreeState": "clean", "buildDate": "2024-12-10T18:05:54Z", "goVersion": "go1.22.10",
                   "compiler": "gc", "platform": "linux/amd64"}),
        );
    }
    // /api/v1/... or /apis/GROUP/VERSION/...
    let (gv, rest): (String, &[&str]) = match seg.as_slice() {
        ["api", v, rest @ ..] => (v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return not_found(),
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, rest @ ..] => (Some(*ns), rest),
        _ => (None, rest),
    };
    if gv == "authentication.k8s.io/v1" && rest == ["selfsubjectreviews"] && req.method == "POST" {
        return Reply::Json(
            201,
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {},
                   "status": {"userInfo": {"username": USER, "groups": ["system:serviceaccounts", "system:authenticated"]}}}),
        );
    }
    if gv == "authorization.k8s.io/v1" && rest == ["selfsubjectaccessreviews"] {
        return access_review(s, req);
    }
    if gv == "metrics.k8s.io/v1beta1" {
        if !s.metrics {
            return not_found();
        }
        if denied("list", "pods.metrics.k8s.io") {
            return forbidden("list", "pods", "metrics.k8s.io", ns, None);
        }
        return Reply::Json(200, metrics(s, ns));
    }
    match rest {
        [plural] => {
            let Some(kind) = kind_of(&gv, plural) else {
                return not_found();
            };
            let group = gv.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            if denied("list", plural) {
                return forbidden("list", plural, group, ns, None);
            }
            let items: Vec<&Value> = s
                .objects
                .iter()
                .filter(|o| o["kind"] == kind)
                .filter(|o| ns.is_none_or(|n| o["metadata"]["namespace"] == n))
                .filter(|o| matches_selector(o, req.query.get("labelSelector")))
                .collect();
            // Pagination as kube-apiserver does it: `limit`, an opaque
            // `continue` token, remainingItemCount; 410 on an expired token.
            let start = match req.query.get("continue").filter(|c| !c.is_empty()) {
                None => 0,
                Some(token) => {
                    let mut expire = s.expire_continue.lock().unwrap();
                    if let Some(n) = expire.get_mut(*plural).filter(|n| **n > 0) {
                        *n -= 1;
                        return expired();
                    }
                    match decode_continue(token) {
                        Some(offset) => offset,
                        None => {
                            return status(400, "BadRequest", "invalid continue token".into());
                        }
                    }
                }
            };
            let limit = req
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|l| *l > 0)
                .map(|l| s.max_page.map_or(l, |m| l.min(m)));
            let start = start.min(items.len());
            let end = limit.map_or(items.len(), |l| (start + l).min(items.len()));
            let more = end < items.len();
            let total = items.len();
            let items: Vec<Value> = items[start..end]
                .iter()
                .map(|o| {
                    let mut o = (*o).clone();
                    // Items of a list come without kind and apiVersion.
                    if let Some(m) = o.as_object_mut() {
                        m.remove("kind");
                        m.remove("apiVersion");
                    }
                    o
                })
                .collect();
            let mut metadata = json!({"resourceVersion": "48213"});
            if more {
                metadata["continue"] = encode_continue(end).into();
                metadata["remainingItemCount"] = (total - end).into();
            }
            Reply::Json(
                200,
                json!({"kind": format!("{kind}List"), "apiVersion": gv, "metadata": metadata, "items": items}),
            )
        }
        ["pods", pod, "log"] => logs(s, ns.unwrap_or_default(), pod, &req.query),
        ["pods", pod, "exec"] => {
            if denied("create", "pods/exec") {
                return forbidden("create", "pods/exec", "", ns, Some(pod));
            }
            let cmd: Vec<&str> = req
                .params
                .iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.as_str())
                .collect();
            Reply::Exec(df_output(&cmd))
        }
        _ => not_found(),
    }
}

/// A SelfSubjectAccessReview, answered by the same authorizer as the
/// requests themselves.
fn access_review(s: &Scenario, req: &Req) -> Reply {
    use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReview, SubjectAccessReviewStatus};
    if req.method != "POST" {
        return status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method".into(),
        );
    }
    let mut review: SelfSubjectAccessReview = match serde_json::from_slice(&req.body) {
        Ok(r) => r,
        Err(e) => return status(400, "BadRequest", format!("invalid review: {e}")),
    };
    let Some(ra) = review.spec.resource_attributes.clone() else {
        return status(
            400,
            "BadRequest",
            "only resourceAttributes are answered here".into(),
        );
    };
    let resource = match ra.subresource.as_deref().filter(|s| !s.is_empty()) {
        Some(sub) => format!("{}/{sub}", ra.resource.unwrap_or_default()),
        None => ra.resource.unwrap_or_default(),
    };
    let a = Attributes {
        verb: ra.verb.unwrap_or_default(),
        group: ra.group.unwrap_or_default(),
        resource,
        namespace: ra.namespace.filter(|n| !n.is_empty()),
        name: ra.name,
    };
    s.reviews.lock().unwrap().push(a.clone());
    let allowed = authorized(s, &a);
    review.status = Some(SubjectAccessReviewStatus {
        allowed,
        reason: allowed.then(|| "RBAC: allowed by the test's rules".to_string()),
        ..Default::default()
    });
    let mut v = serde_json::to_value(review).unwrap();
    v["kind"] = "SelfSubjectAccessReview".into();
    v["apiVersion"] = "authorization.k8s.io/v1".into();
    Reply::Json(201, v)
}

/// `df -Pk PATH...` as busybox prints it, 100 GiB volumes 40% used.
fn df_output(cmd: &[&str]) -> String {
    let mut out =
        "Filesystem     1024-blocks      Used Available Capacity Mounted on\n".to_string();
    for p in cmd.iter().filter(|a| a.starts_with('/')) {
        out.push_str(&format!(
            "/dev/sdb  104857600  41943040  62914560  40% {p}\n"
        ));
    }
    out
}

fn metrics(s: &Scenario, ns: Option<&str>) -> Value {
    let items: Vec<Value> = s
        .objects
        .iter()
        .filter(|o| o["kind"] == "Pod" && ns.is_none_or(|n| o["metadata"]["namespace"] == n))
        .filter(|o| o["status"]["phase"] == "Running")
        .map(|p| {
            let cs: Vec<Value> = p["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!({"name": c["name"], "usage": {"cpu": "250m", "memory": "512Mi"}}))
                .collect();
            json!({"metadata": {"name": p["metadata"]["name"], "namespace": p["metadata"]["namespace"]},
                   "timestamp": "2025-11-25T10:00:00Z", "window": "15s", "containers": cs})
        })
        .collect();
    json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items})
}

fn logs(s: &Scenario, ns: &str, pod: &str, q: &BTreeMap<String, String>) -> Reply {
    let denied = s.forbidden.iter().any(|f| f == "get pods/log");
    if denied {
        return forbidden("get", "pods/log", "", Some(ns), Some(pod));
    }
    let Some(p) = s.objects.iter().find(|o| {
        o["kind"] == "Pod" && o["metadata"]["namespace"] == ns && o["metadata"]["name"] == pod
    }) else {
        return status(404, "NotFound", format!("pods \"{pod}\" not found"));
    };
    let names: Vec<&str> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| p["spec"][k].as_array().into_iter().flatten())
        .filter_map(|c| c["name"].as_str())
        .collect();
    let container = match q.get("container") {
        Some(c) => c.as_str(),
        None if names.len() == 1 => names[0],
        None => {
            return status(
                400,
                "BadRequest",
                format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    names.join(" ")
                ),
            );
        }
    };
    if !names.contains(&container) {
        return status(
            400,
            "BadRequest",
            format!("container {container} is not valid for pod {pod}"),
        );
    }
    let previous = q.get("previous").is_some_and(|v| v == "true");
    let Some(src) = s
        .logs
        .get(&(pod.to_string(), container.to_string(), previous))
    else {
        if previous {
            return status(
                400,
                "BadRequest",
                format!("previous terminated container \"{container}\" in pod \"{pod}\" not found"),
            );
        }
        return Reply::Log(Box::new(std::iter::empty()));
    };
    let now = chrono::Utc::now();
    let stamps = q.get("timestamps").is_some_and(|v| v == "true");
    let since = q.get("sinceSeconds").and_then(|v| v.parse::<i64>().ok());
    let tail = q.get("tailLines").and_then(|v| v.parse::<usize>().ok());
    let limit = q.get("limitBytes").and_then(|v| v.parse::<usize>().ok());
    let lines: Box<dyn Iterator<Item = (i64, String)> + Send> = match src.clone() {
        LogSource::Lines(lines) => {
            let n = lines.len() as i64;
            let mut v: Vec<(i64, String)> = lines
                .into_iter()
                .enumerate()
                .map(
                    |(i, l)| match l.strip_prefix("@-").and_then(|r| r.split_once(' ')) {
                        Some((age, text)) => (age.parse().unwrap_or(0), text.to_string()),
                        None => (n - i as i64, l),
                    },
                )
                .collect();
            if let Some(t) = tail {
                v.drain(..v.len().saturating_sub(t));
            }
            Box::new(v.into_iter())
        }
        LogSource::Generated { bytes } => {
            // Fixed-size lines so `bytes` is met (within a line) without
            // holding anything.
            let body = "level=info msg=\"search request completed\" repo=github.com/acme/api duration=12ms";
            let n = bytes / (body.len() + 12) + 1;
            Box::new((0..n).map(move |i| (((n - i) / 100) as i64, format!("{body} n={i:08}"))))
        }
    };
    let mut budget = limit.unwrap_or(usize::MAX);
    let out = lines
        .filter(move |(age, _)| since.is_none_or(|s| *age <= s))
        .map(move |(age, text)| {
            if stamps {
                let t = now - chrono::Duration::seconds(age);
                format!("{} {text}\n", t.format("%Y-%m-%dT%H:%M:%S%.9fZ"))
            } else {
                format!("{text}\n")
            }
        })
        .map_while(move |mut l| {
            if budget == 0 {
                return None;
            }
            if l.len() > budget {
                l.truncate(budget);
            }
            budget -= l.len();
            Some(l)
        });
    Reply::Log(Box::new(out))
}
