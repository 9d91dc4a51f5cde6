//! The instance collector against a fake Sourcegraph GraphQL API on
//! 127.0.0.1, beside the Kubernetes collector on the fake API server: the
//! real binary, the bundle read back with the crate's reader. Every test
//! also checks that the token is nowhere in what sg-debug wrote or printed.

#[path = "support/fake_graphql.rs"]
mod fake_graphql;
#[path = "support/fake_kube.rs"]
mod fake_kube;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fake_graphql::{FakeSourcegraph, Instance, TestCerts};
use fake_kube::{FakeKube, Scenario};
use serde_json::{Value, json};
use sg_debug::bundle::format::{CollectorRecord, CollectorStatus, Manifest};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    manifest: Manifest,
    files: BTreeMap<String, String>,
}

impl Run {
    fn instance(&self) -> &CollectorRecord {
        self.manifest
            .collectors
            .iter()
            .find(|c| c.name == "instance")
            .expect("an instance record")
    }

    fn errors(&self) -> String {
        self.instance()
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.target, e.message))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn json(&self, name: &str) -> Value {
        let text = self.files.get(name).unwrap_or_else(|| {
            panic!(
                "{name} not in the bundle: {:?}\n{}",
                self.files.keys().collect::<Vec<_>>(),
                self.stderr
            )
        });
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// `needle` is nowhere: no entry, not the manifest, not the output.
    fn assert_absent(&self, needle: &str) {
        let manifest = serde_json::to_string(&self.manifest).unwrap();
        for (name, text) in self.files.iter().chain([
            (&"manifest".to_string(), &manifest),
            (&"stdout".to_string(), &self.stdout),
            (&"stderr".to_string(), &self.stderr),
        ]) {
            assert!(!text.contains(needle), "{name} holds {needle}: {text}");
        }
    }
}

/// `sg-debug collect` of the fake cluster, with `env` and no ambient
/// configuration (proxies, tokens, kubeconfigs) of the machine running it.
fn collect(kube: &FakeKube, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let kc = kube.kubeconfig(dir, "sourcegraph");
    let out_zip = dir.join("out.zip");
    let _ = std::fs::remove_file(&out_zip);
    let mut c = Command::new(env!("CARGO_BIN_EXE_sg-debug"));
    c.args(["collect", "-c", "other", "-o", "out.zip", "--no-exec"])
        .args(["--kubeconfig", kc.to_str().unwrap()])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("HOME", dir);
    for k in [
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "DOCKER_HOST",
        "SRC_ENDPOINT",
        "SRC_ACCESS_TOKEN",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("running sg-debug");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out_zip.exists(), "no bundle: {stderr}");
    let (manifest, files) = support::read_bundle(&out_zip);
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        manifest,
        files,
    };
    // The deployment collector ran whatever the instance did.
    assert!(
        run.files.contains_key("kubernetes/namespace/pods.json"),
        "{}",
        run.stderr
    );
    run
}

const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

fn with_token(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SRC_ENDPOINT", url.to_string()),
        ("SRC_ACCESS_TOKEN", TOKEN.into()),
    ]
}

fn env<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn healthy_kube() -> FakeKube {
    FakeKube::start(Scenario::load("healthy"))
}

#[test]
fn pagination_past_a_thousand_connections_in_short_pages() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let services = (0..1234)
        .map(|n| {
            (
                if n % 2 == 0 { "GITHUB" } else { "GITLAB" }.to_string(),
                format!("host {n}"),
                format!("{{\"url\": \"https://git{n}.example.com\"}}"),
                (n == 1200).then(|| "401 Bad credentials".to_string()),
            )
        })
        .collect();
    let sg = FakeSourcegraph::start(Instance {
        services,
        page_cap: 37,
        ..Instance::default()
    });
    let e = with_token(&sg.url());
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    let list = r.json("instance/external-services.json");
    let nodes = list["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1234);
    assert_eq!(list["total_count"], 1234);
    assert_eq!(nodes[1233]["displayName"], "host 1233");
    let configs = r
        .files
        .keys()
        .filter(|k| k.starts_with("instance/external-services/"))
        .count();
    assert_eq!(configs, 1234);
    assert!(
        r.files["instance/external-services/1234-gitlab.jsonc"].contains("git1233.example.com")
    );
    let s = r.json("instance/summary.json");
    assert_eq!(s["external_services"]["collected"], 1234);
    assert_eq!(s["external_services"]["by_kind"]["GITHUB"], 617);
    assert_eq!(
        s["external_services"]["sync_errors"][0]["display_name"],
        "host 1200"
    );
    // Pages of 37 though 100 were asked for: every page was fetched.
    let pages = sg
        .seen()
        .iter()
        .filter(|q| q.query.contains("externalServices"))
        .count();
    assert_eq!(pages, 1234usize.div_ceil(37));
    r.assert_absent(TOKEN);
}

#[test]
fn wrong_token_is_a_401_in_the_manifest_and_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let sg = FakeSourcegraph::start(Instance::default());
    let url = sg.url();
    let r = collect(
        &kube,
        dir.path(),
        &["--sourcegraph-url", &url],
        &[(
            "SRC_ACCESS_TOKEN",
            "sgp_local_ffffffffffffffffffffffffffffffffffffffff",
        )],
    );
    assert_eq!(r.instance().status, CollectorStatus::Failed);
    assert!(
        r.errors()
            .contains("refused the token in SRC_ACCESS_TOKEN (HTTP 401: Invalid access token.)"),
        "{}",
        r.errors()
    );
    assert!(
        r.stderr
            .contains("instance: collector: the instance refused the token"),
        "{}",
        r.stderr
    );
    assert!(!r.files.contains_key("instance/summary.json"));
    r.assert_absent("ffffffffffffffffffffffffffffffff");
    assert_eq!(r.manifest.options["sourcegraph_url"], url.as_str());
    assert_eq!(r.manifest.options["instance_auth"], "SRC_ACCESS_TOKEN");
}

#[test]
fn a_token_that_is_not_a_site_admin_s() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let sg = FakeSourcegraph::start(Instance {
        admin: false,
        version: "6.1.1".into(),
        ..Instance::default()
    });
    let e = with_token(&sg.url());
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Failed);
    assert!(
        r.errors()
            .contains("does not belong to a site admin (the instance said: must be site admin)"),
        "{}",
        r.errors()
    );
    assert!(r.stderr.contains("site admin"), "{}", r.stderr);
    // The version anyone may read still came: the same-instance check ran.
    assert_eq!(r.json("instance/summary.json")["product_version"], "6.1.1");
    assert!(r.manifest.warnings[0].contains("reports version 6.1.1"));
    assert!(!r.files.contains_key("instance/site-config.jsonc"));
    r.assert_absent(TOKEN);
}

#[test]
fn a_slow_instance_times_out_and_the_bundle_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let sg = FakeSourcegraph::start(Instance {
        delay: Duration::from_secs(4),
        ..Instance::default()
    });
    let e = with_token(&sg.url());
    let r = collect(&kube, dir.path(), &["--timeout", "1s"], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Failed);
    assert!(
        r.errors().contains("no answer within the --timeout"),
        "{}",
        r.errors()
    );
    assert!(r.errors().contains("raise --timeout"), "{}", r.errors());
    assert_eq!(
        r.manifest
            .collectors
            .iter()
            .find(|c| c.name == "kubernetes")
            .unwrap()
            .status,
        CollectorStatus::Ok
    );
}

#[test]
fn unreachable_instance_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let e = with_token("http://127.0.0.1:9");
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Failed);
    assert!(
        r.errors()
            .contains("cannot connect to http://127.0.0.1:9/.api/graphql"),
        "{}",
        r.errors()
    );
}

#[test]
fn an_older_schema_loses_fields_not_the_collector() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let missing = [
        ("ExternalService", "warning"),
        ("ExternalService", "repoCount"),
        ("ProductSubscriptionStatus", "actualUserCount"),
        ("Query", "repositoryStats"),
    ];
    let services = (0..120)
        .map(|n| {
            (
                "GITHUB".to_string(),
                format!("gh {n}"),
                "{}".to_string(),
                None,
            )
        })
        .collect();
    let sg = FakeSourcegraph::start(Instance {
        missing: missing
            .iter()
            .map(|(t, f)| (t.to_string(), f.to_string()))
            .collect(),
        no_after: true,
        services,
        page_cap: usize::MAX,
        ..Instance::default()
    });
    let e = with_token(&sg.url());
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    let s = r.json("instance/summary.json");
    let said: Vec<&str> = s["missing_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for (t, f) in missing {
        assert!(said.contains(&format!("{t}.{f}").as_str()), "{said:?}");
    }
    // The rest came.
    assert_eq!(s["product_version"], "6.12.5040");
    assert_eq!(s["license"]["licensed_users"], 100);
    assert_eq!(s["license"]["total_users"], 45);
    // Without `after`, every connection in one page.
    assert!(said.contains(&"Query.externalServices(after)"), "{said:?}");
    assert_eq!(s["external_services"]["collected"], 120);
    assert!(s.get("repository_stats").is_none());
    // The query was sent again without them.
    let seen = sg.seen();
    let last = &seen.last().unwrap().query;
    assert!(
        last.contains("alerts") && !last.contains("repositoryStats"),
        "{last}"
    );
}

/// Secrets of the kinds the server fails to redact (older versions sent
/// the site configuration in clear).
const SECRETS: [&str; 9] = [
    "oidc-client-secret-Zk29fLq0Zp8Wv3Rt6Ym1",
    "MIIEvQ2oGUCYfAGejUNTnFQbamoDF13DnWm3GWdNsw5HXd",
    "smtp-Pa55w0rd-mailer-2026",
    "exec-shared-secret-Jd83kLm29sPq71Zx",
    "ul-signing-9cJ2vQx7LmN4pR8sT1wY",
    "ghp_FAKEinstanceGhToken000000000000000a",
    "glpat-FAKEinstance0000001",
    "bb-app-password-FAKE-Hq7Lp2Zs9Vx4",
    "p4-FAKE-passwd-Rk4pT8wQ2zX6",
];

#[test]
fn secrets_the_server_did_not_redact_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let site_config = format!(
        r#"// Site configuration, as an older instance sent it: in clear.
{{
  "externalURL": "https://sourcegraph.example.com",
  "auth.providers": [
    {{"type": "openidconnect", "displayName": "Okta", "clientID": "0oa4f9k2l7",
      "clientSecret": "{}"}},
    {{"type": "saml", "serviceProviderPrivateKey": "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n"}},
  ],
  "email.smtp": {{"host": "smtp.example.com", "username": "mailer", "password": "{}"}},
  "executors.accessToken": "{}",
  "auth.unlockAccountLinkSigningKey": "{}",
}}"#,
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3], SECRETS[4]
    );
    let services = vec![
        (
            "GITHUB".into(),
            "GitHub".into(),
            format!(
                "{{\"url\": \"https://github.com\", \"token\": \"{}\"}}",
                SECRETS[5]
            ),
            None,
        ),
        (
            "GITLAB".into(),
            "GitLab".into(),
            format!(
                "{{\n  // on-prem\n  \"url\": \"https://gitlab.example.com\",\n  \"token\": \"{}\",\n}}",
                SECRETS[6]
            ),
            None,
        ),
        (
            "BITBUCKETCLOUD".into(),
            "Bitbucket".into(),
            format!(
                "{{\"username\": \"ci\", \"appPassword\": \"{}\"}}",
                SECRETS[7]
            ),
            None,
        ),
        (
            "PERFORCE".into(),
            "Perforce".into(),
            format!(
                "{{\"p4.user\": \"admin\", \"p4.passwd\": \"{}\"}}",
                SECRETS[8]
            ),
            None,
        ),
    ];
    let sg = FakeSourcegraph::start(Instance {
        site_config,
        services,
        ..Instance::default()
    });
    let e = with_token(&sg.url());
    let r = collect(&kube, dir.path(), &["-v"], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    for s in SECRETS {
        r.assert_absent(s);
    }
    r.assert_absent(TOKEN);
    let conf = &r.files["instance/site-config.jsonc"];
    assert!(
        conf.starts_with("// Site configuration"),
        "comments kept: {conf}"
    );
    assert!(conf.contains("\"clientID\": \"0oa4f9k2l7\""), "{conf}");
    assert!(conf.contains("[REDACTED:"), "{conf}");
    assert!(r.files["instance/external-services/0002-gitlab.jsonc"].contains("// on-prem"));
    let leak = r.manifest.leak_scan.as_ref().unwrap();
    assert!(leak.hits.is_empty(), "{:?}", leak.hits);
}

#[test]
fn same_instance_check_warns_on_another_version() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let sg = FakeSourcegraph::start(Instance {
        version: "6.1.1".into(),
        ..Instance::default()
    });
    let e = with_token(&sg.url());
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.manifest.warnings.len(), 1, "{:?}", r.manifest.warnings);
    assert!(
        r.manifest.warnings[0].contains(
            "reports version 6.1.1, but the deployment collected runs frontend 6.12.5040"
        )
    );
    assert!(
        r.stderr
            .contains("WARNING: the Sourcegraph instance whose API answered reports version 6.1.1"),
        "{}",
        r.stderr
    );
    // The same version: no warning.
    let sg = FakeSourcegraph::start(Instance::default());
    let e = with_token(&sg.url());
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert!(r.manifest.warnings.is_empty(), "{:?}", r.manifest.warnings);
    assert!(
        instance_notes(&r)
            .iter()
            .all(|n| !n.contains("not checked"))
    );

    // A deployment whose version is unknown (untagged images): not
    // checked, and the record says so rather than nothing.
    let mut s = Scenario::load("healthy");
    for o in &mut s.objects {
        *o = serde_json::from_str(&o.to_string().replace(":6.12.5040", "")).unwrap();
    }
    let kube = FakeKube::start(s);
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.manifest.deployment.sourcegraph_version, None);
    assert!(r.manifest.warnings.is_empty(), "{:?}", r.manifest.warnings);
    let notes = instance_notes(&r);
    assert!(
        notes.iter().any(|n| n.contains(
            "not checked that the instance whose API answered is the deployment collected"
        )),
        "{notes:?}"
    );
}

fn instance_notes(r: &Run) -> Vec<String> {
    r.manifest
        .collectors
        .iter()
        .find(|c| c.name == "instance")
        .expect("an instance record")
        .notes
        .clone()
}

#[test]
fn through_the_kubernetes_service_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let sg = FakeSourcegraph::start(Instance::default());
    let mut s = Scenario::load("healthy");
    s.service_proxy = Some(sg.addr);
    let kube = FakeKube::start(s);
    let r = collect(&kube, dir.path(), &[], &[("SRC_ACCESS_TOKEN", TOKEN)]);
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    assert_eq!(
        r.json("instance/summary.json")["product_version"],
        "6.12.5040"
    );
    assert!(r.files.contains_key("instance/site-config.jsonc"));
    let seen = sg.seen();
    assert!(!seen.is_empty());
    // The API server kept the Authorization header: the token came in the URL.
    assert!(
        seen.iter()
            .all(|q| q.authorization.is_none() && q.path == "/.api/graphql")
    );
    let notes = r.instance().notes.join("\n");
    assert!(
        notes.contains("service proxy") && notes.contains("audit log"),
        "{notes}"
    );
    r.assert_absent(TOKEN);

    // Without a token: skipped, saying how to enable it.
    let r = collect(&kube, dir.path(), &[], &[]);
    assert_eq!(r.instance().status, CollectorStatus::Skipped);
    assert!(
        r.instance().notes[0].contains("export a site admin's access token as SRC_ACCESS_TOKEN")
    );
    assert!(r.instance().errors.is_empty());
}

#[test]
fn a_forbidden_service_proxy_names_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let sg = FakeSourcegraph::start(Instance::default());
    let mut s = Scenario::load("healthy");
    s.service_proxy = Some(sg.addr);
    s.forbidden.push("create services/proxy".into());
    let kube = FakeKube::start(s);
    let r = collect(&kube, dir.path(), &[], &[("SRC_ACCESS_TOKEN", TOKEN)]);
    assert_eq!(r.instance().status, CollectorStatus::Failed);
    let e = r.errors();
    assert!(e.contains("may not use the service proxy"), "{e}");
    assert!(
        e.contains("kubectl create role sg-debug-create-services-proxy -n sourcegraph --verb=create --resource=services/proxy"),
        "{e}"
    );
    assert!(sg.seen().is_empty());
    r.assert_absent(TOKEN);
}

/// An instance on HTTPS with a certificate from a test CA, and the CA's
/// file (for --ca-cert) in `dir`.
fn tls_instance(dir: &Path) -> (FakeSourcegraph, std::path::PathBuf) {
    let certs = TestCerts::new();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &certs.ca_pem).unwrap();
    (FakeSourcegraph::start_tls(Instance::default(), &certs), ca)
}

#[test]
fn https_with_ca_cert_or_insecure_skip_verify() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let (sg, ca) = tls_instance(dir.path());
    let e = with_token(&sg.https_url());
    // Not trusted: a TLS failure, saying what to do.
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Failed);
    assert!(
        r.errors().contains("TLS failure") && r.errors().contains("--ca-cert"),
        "{}",
        r.errors()
    );
    // Trusted through --ca-cert.
    let r = collect(
        &kube,
        dir.path(),
        &["--ca-cert", ca.to_str().unwrap()],
        &env(&e),
    );
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    assert_eq!(
        r.json("instance/summary.json")["product_version"],
        "6.12.5040"
    );
    // Not verified at all.
    let r = collect(&kube, dir.path(), &["--insecure-skip-verify"], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    assert_eq!(r.manifest.options["insecure_skip_verify"], json!(true));
    r.assert_absent(TOKEN);
}

/// A minimal HTTPS proxy: answers CONNECT, records each request head,
/// and pipes bytes both ways. Its URL and what it was asked.
fn connect_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && client.read(&mut b).unwrap_or(0) == 1 {
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                seen.lock().unwrap().push(head.clone());
                let Some(target) = head
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split_whitespace().next())
                else {
                    let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                    return;
                };
                let Ok(mut upstream) = std::net::TcpStream::connect(target) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut u2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut client, &mut upstream);
                let _ = upstream.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (url, heads)
}

/// HTTPS_PROXY, as corporate networks set it: the instance (and the
/// Kubernetes API server) are reached through the proxy's CONNECT tunnel
/// (TLS end to end: the proxy never sees the token), and NO_PROXY naming
/// them goes around it.
#[test]
fn https_proxy_tunnels_with_connect() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    let (sg, ca) = tls_instance(dir.path());
    let (proxy, heads) = connect_proxy();
    let mut e = with_token(&sg.https_url());
    e.push(("HTTPS_PROXY", proxy.clone()));
    let args = ["--ca-cert", ca.to_str().unwrap()];
    let r = collect(&kube, dir.path(), &args, &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    let target = sg
        .https_url()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let asked = heads.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|h| h.starts_with(&format!("CONNECT {target} "))),
        "the instance was not reached through the proxy: {asked:?}"
    );
    // The Kubernetes collector honours it too, as kubectl does (it used
    // to stop with "requires the disabled feature kube/http-proxy").
    let api = kube.url().trim_start_matches("http://").to_string();
    assert!(
        asked
            .iter()
            .any(|h| h.starts_with(&format!("CONNECT {api} "))),
        "{asked:?}"
    );
    assert!(asked.iter().all(|h| h.starts_with("CONNECT ")), "{asked:?}");
    assert!(asked.iter().all(|h| !h.contains(TOKEN)), "{asked:?}");
    r.assert_absent(TOKEN);

    let before = heads.lock().unwrap().len();
    e.push(("NO_PROXY", "127.0.0.1".into()));
    let r = collect(&kube, dir.path(), &args, &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    assert_eq!(
        heads.lock().unwrap().len(),
        before,
        "NO_PROXY was not honoured"
    );
}

#[test]
fn url_without_token_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sg-debug"))
        .args([
            "collect",
            "-c",
            "other",
            "--sourcegraph-url",
            "https://sg.example.com",
        ])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env_remove("SRC_ACCESS_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SRC_ACCESS_TOKEN"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn http_proxy_and_no_proxy_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let kube = healthy_kube();
    // The fake plays the proxy: the instance's name does not resolve, so
    // only a request through the proxy reaches it.
    let sg = FakeSourcegraph::start(Instance::default());
    let proxy = sg.url();
    let mut e = with_token("http://sourcegraph.invalid");
    e.push(("HTTP_PROXY", proxy.clone()));
    e.push(("NO_PROXY", "127.0.0.1,localhost".into()));
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Ok, "{}", r.errors());
    assert!(
        sg.seen()
            .iter()
            .all(|q| q.target == "http://sourcegraph.invalid/.api/graphql"),
        "{:?}",
        sg.seen()
    );
    // NO_PROXY naming the instance: straight to it, which cannot resolve.
    let before = sg.seen().len();
    e.push(("NO_PROXY", "sourcegraph.invalid".into()));
    let r = collect(&kube, dir.path(), &[], &env(&e));
    assert_eq!(r.instance().status, CollectorStatus::Failed);
    assert!(
        r.errors()
            .contains("cannot connect to http://sourcegraph.invalid"),
        "{}",
        r.errors()
    );
    assert_eq!(sg.seen().len(), before);
    r.assert_absent(TOKEN);
}
