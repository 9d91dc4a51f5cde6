//! sg-debug inside a pod: no kubeconfig, only `KUBERNETES_SERVICE_HOST`/
//! `_PORT` and the service account's token, CA and namespace files at the
//! fixed path kube reads (`/var/run/secrets/kubernetes.io/serviceaccount/`).
//! The test puts them there for sg-debug alone: it runs it under
//! `unshare --mount` (root, as CI is) with a tmpfs over /run, so nothing on
//! the host changes. The fake API server speaks TLS with a test CA and
//! wants the token, and enforces the RBAC `sg-debug rbac` prints.

#[path = "support/fake_kube.rs"]
mod fake_kube;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use fake_kube::{FakeKube, Rbac, Scenario, TestCerts};
use serde_json::Value;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.sg-debug-test-service-account";

/// Whether this process may make a mount namespace; CI (root) must.
fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var_os("CI").is_some() {
        panic!("CI runs as root: unshare --mount must work here");
    }
    if !ok {
        eprintln!("skipped: unshare --mount needs root (CI runs it)");
    }
    ok
}

/// The service account's files as the kubelet mounts them.
fn service_account(dir: &Path, ca_pem: &str) -> std::path::PathBuf {
    let sa = dir.join("serviceaccount");
    std::fs::create_dir(&sa).unwrap();
    std::fs::write(sa.join("token"), TOKEN).unwrap();
    std::fs::write(sa.join("ca.crt"), ca_pem).unwrap();
    std::fs::write(sa.join("namespace"), "sourcegraph").unwrap();
    sa
}

/// `sg-debug ARGS` as in a pod of the cluster `fake` serves.
fn in_pod(fake: &FakeKube, sa: &Path, cwd: &Path, args: &[&str]) -> support::Run {
    let script = "mount -t tmpfs sg-debug-test /run \
        && mkdir -p /run/secrets/kubernetes.io/serviceaccount \
        && cp \"$SA\"/* /run/secrets/kubernetes.io/serviceaccount/ \
        && exec \"$@\"";
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(support::bin())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .env("SA", sa)
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", fake.addr.port().to_string())
        .env("HOME", cwd)
        .env_remove("KUBECONFIG")
        .env_remove("SRC_ENDPOINT")
        .env_remove("SRC_ACCESS_TOKEN")
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    support::Run::from(out)
}

fn cluster(certs: &TestCerts) -> FakeKube {
    let dir = tempfile::tempdir().unwrap();
    let yaml = support::sg(&["rbac", "-n", "sourcegraph", "--cluster"], dir.path()).stdout;
    let mut s = Scenario::load("healthy");
    s.bearer = Some(TOKEN.into());
    s.rbac = Some(Rbac::from_yaml(&yaml));
    FakeKube::start_tls(s, certs)
}

#[test]
fn in_cluster_collect_uses_the_service_account_files() {
    if !can_unshare() {
        return;
    }
    let certs = TestCerts::new();
    let fake = cluster(&certs);
    let dir = tempfile::tempdir().unwrap();
    let sa = service_account(dir.path(), &certs.ca_pem);

    // No -n: the namespace comes from the service account's file.
    let r = in_pod(
        &fake,
        &sa,
        dir.path(),
        &["collect", "-c", "outage-crash", "-o", "bundle.zip"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (m, _) = support::read_bundle(&dir.path().join("bundle.zip"));
    let k = &m.collectors[0];
    assert_eq!(k.name, "kubernetes");
    assert!(k.errors.is_empty(), "{:?}", k.errors);
    assert_eq!(m.deployment.location["context"], "in-cluster");
    assert_eq!(m.deployment.location["namespace"], "sourcegraph");

    let r = in_pod(&fake, &sa, dir.path(), &["check", "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["kubernetes"]["context"], "in-cluster");
    assert_eq!(v["kubernetes"]["server"], fake.url());
    assert!(fake.url().starts_with("https://"));
    assert_eq!(v["kubernetes"]["namespace"], "sourcegraph");
    assert_eq!(v["verdict"], "complete");
}

#[test]
fn in_cluster_with_a_wrong_token_or_ca_cannot_run() {
    if !can_unshare() {
        return;
    }
    let certs = TestCerts::new();
    let fake = cluster(&certs);
    let dir = tempfile::tempdir().unwrap();
    // Another CA: the server's certificate is not trusted.
    let sa = service_account(dir.path(), &TestCerts::new().ca_pem);
    let r = in_pod(&fake, &sa, dir.path(), &["check"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("cannot reach the Kubernetes API server"),
        "{}",
        r.stdout
    );
    assert_eq!(fake.requests(), 0, "nothing got past TLS");

    // The right CA, another token: 401, named.
    std::fs::write(sa.join("ca.crt"), &certs.ca_pem).unwrap();
    std::fs::write(sa.join("token"), "not-the-token").unwrap();
    let r = in_pod(&fake, &sa, dir.path(), &["check"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("401 Unauthorized"), "{}", r.stdout);
}
