//! `sg-debug collect` against a fake Kubernetes API server: the real
//! binary, a kubeconfig pointing at 127.0.0.1, and the bundle read back
//! with the crate's reader.

#[path = "support/fake_kube.rs"]
mod fake_kube;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fake_kube::{FakeKube, Scenario, USER, typed};
use serde_json::Value;
use sg_debug::bundle::Manifest;

struct Run {
    code: i32,
    stderr: String,
}

/// Runs sg-debug with no ambient Kubernetes or Docker configuration, so
/// that only what a test passes counts.
fn sg(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sg-debug"));
    c.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("SRC_ENDPOINT")
        .env_remove("SRC_ACCESS_TOKEN")
        .env_remove("DOCKER_HOST")
        .env("HOME", cwd);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("running sg-debug");
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

struct Opened {
    manifest: Manifest,
    files: BTreeMap<String, String>,
}

impl Opened {
    fn file(&self, name: &str) -> &str {
        self.files.get(name).unwrap_or_else(|| {
            panic!(
                "{name} not in the bundle; it has: {:?}",
                self.files.keys().collect::<Vec<_>>()
            )
        })
    }

    fn json(&self, name: &str) -> Value {
        serde_json::from_str(self.file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn errors(&self) -> Vec<(String, String)> {
        let c = self.collector();
        c.errors
            .iter()
            .map(|e| (e.target.clone(), e.message.clone()))
            .collect()
    }

    fn collector(&self) -> &sg_debug::bundle::format::CollectorRecord {
        // The deployment's collector, the instance collector beside it
        // (skipped here: no SRC_ACCESS_TOKEN; tests/instance_collect.rs
        // covers it), then the upstream diff's record.
        let names: Vec<&str> = self
            .manifest
            .collectors
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["kubernetes", "instance", "upstream-diff"]);
        assert_eq!(self.manifest.collectors[1].status.as_str(), "skipped");
        &self.manifest.collectors[0]
    }

    fn summary_row(&self, name: &str) -> Value {
        let s = self.json("summary.json");
        s["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no summary row {name}: {s}"))
            .clone()
    }
}

fn open(path: &Path) -> Opened {
    let (manifest, files) = support::read_bundle(path);
    Opened { manifest, files }
}

/// Every secret planted in the fixtures starts with `fixture-`; the
/// base64 forms are those of the Secret values.
fn assert_no_secrets(o: &Opened) {
    let scan = o
        .manifest
        .leak_scan
        .as_ref()
        .expect("the packager's leak scan ran");
    assert!(scan.hits.is_empty(), "leak scan: {:?}", scan.hits);
    let manifest = serde_json::to_string(&o.manifest).unwrap();
    for (name, text) in o.files.iter().chain([(&"manifest".to_string(), &manifest)]) {
        for needle in [
            "fixture-",
            "Zml4dHVyZS",
            "ghp_FixtureLogToken",
            "last-applied-configuration\": \"{",
        ] {
            assert!(
                !text.contains(needle),
                "{name} leaks {needle}: {}",
                &text[text.find(needle).unwrap().saturating_sub(200)..]
                    .chars()
                    .take(400)
                    .collect::<String>()
            );
        }
    }
}

/// Collects from `fake` with `args` added; the bundle must be written.
fn collect(fake: &FakeKube, dir: &Path, args: &[&str]) -> (Run, Opened) {
    let kc = fake.kubeconfig(dir, "sourcegraph");
    let mut all = vec![
        "collect",
        "-c",
        "outage-crash",
        "-o",
        "out.zip",
        "--kubeconfig",
        kc.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let r = sg(&all, &[], dir);
    assert!(dir.join("out.zip").exists(), "no bundle: {}", r.stderr);
    let o = open(&dir.join("out.zip"));
    assert_no_secrets(&o);
    (r, o)
}

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

const FE: &str = "sourcegraph-frontend-7d9c8b6f5-x2x4k";

#[test]
fn healthy_kustomize_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("healthy"));
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(o.errors().is_empty(), "{:?}", o.errors());

    let d = &o.manifest.deployment;
    assert_eq!(d.kind.as_str(), "kubernetes");
    assert_eq!(d.flavour.as_deref(), Some("kustomize"));
    assert_eq!(d.sourcegraph_version.as_deref(), Some("6.12.5040"));
    assert_eq!(d.location["context"], "fake");
    assert_eq!(d.location["namespace"], "sourcegraph");
    assert_eq!(o.manifest.options["deployment"], "kubernetes");
    assert!(o.manifest.options["kubeconfig"].is_string());

    // Cluster.
    assert_eq!(
        o.json("kubernetes/cluster/version.json")["gitVersion"],
        "v1.31.4"
    );
    let nodes = o.json("kubernetes/cluster/nodes.json");
    assert_eq!(nodes.as_array().unwrap().len(), 2);
    assert_eq!(
        nodes[0]["nodeInfo"]["kubeletVersion"],
        "v1.31.4-gke.1256000"
    );
    assert_eq!(nodes[0]["allocatable"]["memory"], "61279180Ki");
    assert!(nodes[0]["conditions"].as_array().unwrap().len() == 3);
    assert!(
        !o.file("kubernetes/cluster/nodes.json")
            .contains("sizeBytes")
    );
    let pvs = o.file("kubernetes/cluster/persistentvolumes.json");
    assert!(pvs.contains("pvc-6f1c1d9e") && pvs.contains("pvc-0a7b3c21"));
    assert!(
        !pvs.contains("pvc-other-team"),
        "another namespace's volume"
    );
    assert!(
        o.file("kubernetes/cluster/storageclasses.json")
            .contains("pd.csi.storage.gke.io")
    );

    // Namespace objects: every kind, as lists, without managedFields.
    for kind in [
        "deployments",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "pods",
        "services",
        "ingresses",
        "configmaps",
        "secrets",
        "persistentvolumeclaims",
        "resourcequotas",
        "limitranges",
        "events",
    ] {
        o.file(&format!("kubernetes/namespace/{kind}.json"));
    }
    for (name, text) in &o.files {
        assert!(!text.contains("managedFields"), "{name}");
    }
    let deployments = o.json("kubernetes/namespace/deployments.json");
    assert_eq!(deployments["kind"], "List");
    assert_eq!(deployments["items"][0]["kind"], "Deployment");
    let cm = o.json("kubernetes/namespace/configmaps.json");
    assert_eq!(
        cm["items"][0]["data"]["PGHOST"], "pgsql",
        "non-secrets kept"
    );
    let secrets = o.json("kubernetes/namespace/secrets.json");
    let pg = &secrets["items"][0];
    assert_eq!(pg["name"], "pgsql-auth");
    assert_eq!(pg["type"], "Opaque");
    assert_eq!(
        pg["keys"],
        serde_json::json!([{"name": "password", "bytes": 25}, {"name": "user", "bytes": 2}]),
        "sizes of the values, not the values"
    );
    assert_eq!(secrets["items"][1]["keys"][1]["bytes"], 19);
    let events = o.json("kubernetes/namespace/events.json");
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Pulled", "Started"], "oldest first");

    // Logs: init containers and sidecars, with timestamps, within --since.
    let fe = o.file(&format!("kubernetes/pods/{FE}/frontend.log"));
    assert!(fe.contains("FRONTEND-CURRENT"), "{fe}");
    assert!(!fe.contains("OLD-LINE-3D"), "older than --since: {fe}");
    for line in fe.lines() {
        assert!(
            line.len() > 30 && line.as_bytes()[4] == b'-' && &line[10..11] == "T",
            "no timestamp: {line}"
        );
    }
    assert!(
        o.file(&format!("kubernetes/pods/{FE}/migrator.log"))
            .contains("MIGRATOR-RAN")
    );
    assert!(
        o.file("kubernetes/pods/pgsql-0/pgsql-exporter.log")
            .contains("EXPORTER-SIDECAR")
    );
    assert!(
        o.file("kubernetes/pods/gitserver-0/gitserver.log")
            .contains("GITSERVER-CURRENT")
    );
    assert!(
        !o.files.keys().any(|k| k.contains("debug-shell")),
        "not a Sourcegraph pod"
    );
    assert!(!o.files.keys().any(|k| k.ends_with(".previous.log")));
    // The planted secret lines are there, redacted.
    assert_eq!(lines_with(fe, "PGPASSWORD=").len(), 1);

    // Sizes: replicas, requests and limits, claims, df through exec, metrics.
    let sizes = o.json("kubernetes/sizes.json");
    let w = sizes["workloads"].as_array().unwrap();
    assert!(w.iter().any(|w| w["name"] == "gitserver"
        && w["replicas_desired"] == 1
        && w["replicas_ready"] == 1));
    // Claims' fill levels, in the shape both collectors share.
    let disk = o.json("disk-usage.json");
    let vol = disk["volumes"].as_array().unwrap();
    let repos = vol
        .iter()
        .find(|v| v["name"] == "repos-gitserver-0")
        .unwrap();
    assert_eq!(repos["kind"], "persistent-volume-claim");
    assert_eq!(repos["mounted_by"][0], "gitserver-0/gitserver:/data/repos");
    assert_eq!(repos["used_bytes"], 41943040u64 * 1024);
    assert!(repos["capacity_bytes"].as_u64().unwrap() > 41943040u64 * 1024);
    assert!(
        vol.iter()
            .any(|v| v["name"] == "data-pgsql-0"
                && v["source"].as_str().unwrap().ends_with("/pgsql"))
    );
    assert!(sizes.get("volume_usage").is_none(), "one schema, one place");
    let fe_size = sizes["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["container"] == "frontend")
        .unwrap();
    assert_eq!(fe_size["limits"]["memory"], "4G");
    assert_eq!(fe_size["memory_used_bytes"], 512u64 << 20);
    assert_eq!(sizes["persistent_volume_claims"][0]["capacity"], "200Gi");
    assert_eq!(sizes["usage_source"], "metrics.k8s.io");

    let row = o.summary_row(&format!("{FE}/frontend"));
    assert_eq!(row["state"], "running");
    assert_eq!(row["ready"], true);
    assert_eq!(row["service"], "sourcegraph-frontend");
    assert_eq!(row["memory_limit_bytes"], 4_000_000_000u64);
    let mig = o.summary_row(&format!("{FE}/migrator"));
    assert_eq!(mig["state"], "terminated");
    assert_eq!(mig["exit_code"], 0);
    assert!(o.file("summary.txt").contains("NAME"));
}

#[test]
fn helm_values_come_from_the_newest_release_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("helm"));
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(o.errors().is_empty(), "{:?}", o.errors());
    assert_eq!(o.manifest.deployment.flavour.as_deref(), Some("helm"));
    let values = o.json("kubernetes/helm/sourcegraph/values.json");
    assert_eq!(values["marker"], "HELM-NEWEST-REVISION");
    assert_eq!(values["codeInsightsDB"]["auth"]["user"], "newuser");
    assert!(
        values["codeInsightsDB"]["auth"]["password"]
            .as_str()
            .is_some_and(|p| !p.is_empty()),
        "the key stays, its value is replaced"
    );
    let release = o.json("kubernetes/helm/sourcegraph/release.json");
    assert_eq!(release["revision"], 2);
    assert_eq!(release["status"], "deployed");
    assert_eq!(release["chart_version"], "6.12.5040");
    assert!(!o.files.values().any(|t| t.contains("HELM-OLD-REVISION")));
    // Without metrics-server the figures say so; that is not a failure.
    assert!(
        o.json("kubernetes/sizes.json")["usage_source"]
            .as_str()
            .unwrap()
            .contains("no metrics-server")
    );
    let secrets = o.file("kubernetes/namespace/secrets.json");
    assert!(secrets.contains("sh.helm.release.v1.sourcegraph.v2"));
}

#[test]
fn oomkilled_container_has_previous_logs_and_a_summary_row() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("oomkilled"));
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(o.errors().is_empty(), "{:?}", o.errors());
    let prev = o.file("kubernetes/pods/gitserver-0/gitserver.previous.log");
    assert!(prev.contains("GITSERVER-PREVIOUS"), "{prev}");
    assert!(
        o.file("kubernetes/pods/gitserver-0/gitserver.log")
            .contains("GITSERVER-CURRENT")
    );
    let row = o.summary_row("gitserver-0/gitserver");
    assert_eq!(row["oom_killed"], true);
    assert_eq!(row["restarts"], 3);
    assert_eq!(row["exit_code"], 137);
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .contains("OOMKilled (exit 137)")
    );
    let text = o.file("summary.txt");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("gitserver-0/gitserver"),
        "problems first:\n{text}"
    );
}

#[test]
fn crashloop_shows_waiting_reason_and_last_exit() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("crashloop"));
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let row = o.summary_row(&format!("{FE}/frontend"));
    assert_eq!(row["state"], "waiting");
    assert_eq!(row["ready"], false);
    assert_eq!(row["restarts"], 7);
    assert_eq!(row["exit_code"], 1);
    let reason = row["reason"].as_str().unwrap();
    assert!(
        reason.contains("CrashLoopBackOff") && reason.contains("last terminated: Error (exit 1)"),
        "{reason}"
    );
    assert!(
        o.file(&format!("kubernetes/pods/{FE}/frontend.previous.log"))
            .contains("FRONTEND-PREVIOUS")
    );
    // While it waits to restart, its current log is that of its last run.
    assert!(
        o.files
            .contains_key(&format!("kubernetes/pods/{FE}/frontend.log"))
    );
}

#[test]
fn pending_pod_says_why_it_is_unschedulable() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("pending"));
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        o.errors().is_empty(),
        "no log requests for containers that never ran: {:?}",
        o.errors()
    );
    let row = o.summary_row("indexed-search-0/zoekt-webserver");
    assert_eq!(row["state"], "Pending");
    assert_eq!(row["reason"], "Unschedulable");
    assert_eq!(
        row["message"],
        "0/2 nodes are available: 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    );
    assert!(!o.files.keys().any(|k| k.contains("indexed-search-0")));
    assert!(o.file("summary.txt").contains("Insufficient memory"));
}

#[test]
fn rbac_limits_are_recorded_with_how_to_grant_them() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("rbac"));
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(
        r.code, 0,
        "a partial bundle is still a bundle: {}",
        r.stderr
    );
    assert_eq!(o.collector().status.as_str(), "partial");
    let errors = o.errors();
    let targets: Vec<&str> = errors.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        {
            let mut t = targets.clone();
            t.sort();
            t
        },
        ["cluster/nodes", "cluster/persistentvolumes", "pods/exec"],
        "{errors:?}"
    );
    let msg = |t: &str| &errors.iter().find(|e| e.0 == t).unwrap().1;
    let nodes = msg("cluster/nodes");
    assert!(
        nodes.contains("missing RBAC permission to list nodes cluster-wide"),
        "{nodes}"
    );
    assert!(
        nodes.contains(&format!("nodes is forbidden: User \"{USER}\" cannot list resource \"nodes\" in API group \"\" at the cluster scope")),
        "{nodes}"
    );
    assert!(
        nodes.contains(
            "kubectl create clusterrole sg-debug-list-nodes --verb=list --resource=nodes"
        ) && nodes.contains("--serviceaccount=sourcegraph:support-bot"),
        "{nodes}"
    );
    let exec = msg("pods/exec");
    assert!(
        exec.contains("to create pods/exec in namespace sourcegraph"),
        "{exec}"
    );
    assert!(exec.contains("kubectl create role"), "{exec}");
    assert!(!o.files.contains_key("kubernetes/cluster/nodes.json"));
    assert!(
        !o.files
            .contains_key("kubernetes/cluster/persistentvolumes.json")
    );
    assert!(
        o.files
            .contains_key(&format!("kubernetes/pods/{FE}/frontend.log"))
    );
    assert_eq!(
        o.json("disk-usage.json")["notes"][0],
        "not measured: exec into pods is forbidden"
    );
    // The user sees the same on stderr.
    assert!(
        r.stderr.contains("kubernetes: cluster/nodes: forbidden"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_endpoint_slower_than_the_timeout_is_recorded_and_the_rest_collected() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::load("healthy").delay(
        "/api/v1/namespaces/sourcegraph/resourcequotas",
        Duration::from_secs(4),
    );
    let fake = FakeKube::start(s);
    let (r, o) = collect(&fake, dir.path(), &["--timeout", "1s"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        o.errors(),
        [(
            "namespace/resourcequotas".to_string(),
            "no answer within 1s (raise --timeout)".to_string()
        )]
    );
    assert!(
        !o.files
            .contains_key("kubernetes/namespace/resourcequotas.json")
    );
    assert!(
        o.files
            .contains_key("kubernetes/namespace/limitranges.json")
    );
    assert!(
        o.files
            .contains_key(&format!("kubernetes/pods/{FE}/frontend.log"))
    );
}

#[test]
fn a_log_larger_than_the_cap_keeps_the_newest_lines() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::load("healthy").generated_log(FE, "frontend", 3 << 20);
    let fake = FakeKube::start(s);
    let (r, o) = collect(&fake, dir.path(), &["--max-log-bytes", "1MiB"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = o.file(&format!("kubernetes/pods/{FE}/frontend.log"));
    assert!(log.len() <= (1 << 20) + 200, "{} bytes", log.len());
    assert!(log.len() > (1 << 20) - 200, "{} bytes", log.len());
    let mut lines = log.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("[sg-debug: log truncated: the oldest"),
    );
    let numbers: Vec<u64> = lines
        .map(|l| {
            let n = l
                .rsplit_once("n=")
                .unwrap_or_else(|| panic!("cut line: {l}"))
                .1;
            n.parse().unwrap()
        })
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "contiguous");
    // The fake made about 3 MiB of lines: the kept ones are the last.
    let total = (3u64 << 20) / (80 + 12 + 31);
    assert!(
        numbers[0] > total / 2,
        "oldest kept line {} of ~{total}",
        numbers[0]
    );
}

#[test]
fn no_exec_leaves_disk_use_unmeasured() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("healthy"));
    let (r, o) = collect(&fake, dir.path(), &["--no-exec"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(o.errors().is_empty());
    assert_eq!(
        o.json("disk-usage.json"),
        serde_json::json!({"volumes": [], "notes": ["not measured: --no-exec"]})
    );
}

/// `n` events about the generated pods, one second apart.
/// Lists come in pages (`limit`, `continue`), also when the server sends
/// fewer items than asked: every object arrives, none twice.
#[test]
fn lists_are_read_page_by_page_and_whole() {
    for max_page in [None, Some(7)] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scenario::generated(30, 1, 100).with_events(1234);
        s.max_page = max_page;
        let seen = s.seen.clone();
        let fake = FakeKube::start(s);
        let (r, o) = collect(&fake, dir.path(), &["--no-exec"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(o.errors().is_empty(), "{:?}", o.errors());
        let events = o.json("kubernetes/namespace/events.json");
        let names: std::collections::BTreeSet<&str> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 1234, "max_page {max_page:?}");
        assert_eq!(events["items"].as_array().unwrap().len(), 1234);
        assert_eq!(
            o.json("kubernetes/namespace/pods.json")["items"]
                .as_array()
                .unwrap()
                .len(),
            30
        );
        // 1234 events are three pages of 500, or 177 of 7; each asked
        // with limit=500, all but the first with the previous token.
        let asked: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with("/api/v1/namespaces/sourcegraph/events?"))
            .cloned()
            .collect();
        assert_eq!(asked.len(), if max_page.is_some() { 177 } else { 3 });
        assert!(asked.iter().all(|r| r.contains("limit=500")), "{asked:?}");
        assert!(
            asked.iter().skip(1).all(|r| r.contains("continue=")),
            "{asked:?}"
        );
    }
}

/// A namespace with more events than the bound keeps the newest, and the
/// collector's record says how many older ones were left out. Past twice
/// the bound (25,000) the spool is cut down while listing, too.
#[test]
fn events_past_the_bound_keep_the_newest_and_say_so() {
    for total in [12_345, 25_000] {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeKube::start(Scenario::generated(3, 1, 100).with_events(total));
        let (r, o) = collect(&fake, dir.path(), &["--no-exec"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(o.errors().is_empty(), "{:?}", o.errors());
        let events = o.json("kubernetes/namespace/events.json");
        let items = events["items"].as_array().unwrap();
        assert_eq!(items.len(), 10_000);
        // Oldest first, and the oldest kept is event total - 10,000.
        let dropped = total - 10_000;
        assert_eq!(items[0]["message"], format!("event {dropped}"));
        assert_eq!(items[9_999]["message"], format!("event {}", total - 1));
        let note =
            format!("namespace/events: kept the newest 10000 of {total}; {dropped} older left out");
        assert!(
            o.collector().notes.contains(&note),
            "{:?}",
            o.collector().notes
        );
    }
}

/// A continue token that expires mid-list (410 Gone) restarts the list;
/// a second expiry keeps what was read and records the list as partial.
#[test]
fn an_expired_continue_token_restarts_or_says_partial() {
    for (expiries, partial) in [(1, false), (2, true)] {
        let dir = tempfile::tempdir().unwrap();
        let s = Scenario::generated(3, 1, 100).with_events(1200);
        s.expire_continue
            .lock()
            .unwrap()
            .insert("events".into(), expiries);
        let fake = FakeKube::start(s);
        let (r, o) = collect(&fake, dir.path(), &["--no-exec"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let kept = o.json("kubernetes/namespace/events.json")["items"]
            .as_array()
            .unwrap()
            .len();
        if partial {
            let errors = o.errors();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].0, "namespace/events");
            assert!(
                errors[0]
                    .1
                    .contains("expired the list's continue token twice")
                    && errors[0].1.contains("500 item(s) kept"),
                "{}",
                errors[0].1
            );
            assert_eq!(kept, 500);
            assert_eq!(
                o.manifest.collectors[0].status,
                sg_debug::bundle::format::CollectorStatus::Partial
            );
        } else {
            assert!(o.errors().is_empty(), "{:?}", o.errors());
            assert_eq!(kept, 1200);
        }
    }
}

/// Logs start from the pods seen while detecting, before the objects are
/// listed; a pod the detection missed (here its list of labelled pods was
/// cut short by two expired continue tokens) still gets its log, from the
/// pods listing, and no log is fetched twice.
#[test]
fn pods_the_detection_missed_still_get_their_logs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::generated(600, 1, 100);
    s.expire_continue.lock().unwrap().insert("pods".into(), 2);
    let seen = s.seen.clone();
    let fake = FakeKube::start(s);
    let (r, o) = collect(&fake, dir.path(), &["--no-exec"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(o.errors().is_empty(), "{:?}", o.errors());
    let logs = o
        .files
        .keys()
        .filter(|k| k.starts_with("kubernetes/pods/") && k.ends_with(".log"))
        .count();
    assert_eq!(logs, 600);
    let log_requests = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains("/log?"))
        .count();
    assert_eq!(log_requests, 600, "a log fetched twice");
    // The detection's list: a page, an expired token, the page again,
    // expired again: 500 of the 600 pods.
    let labelled = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains("labelSelector=deploy=sourcegraph"))
        .count();
    assert_eq!(labelled, 4);
    let listed = o.json("kubernetes/namespace/pods.json")["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, 600);
}

/// For RBAC without Secrets (`sg-debug rbac --no-secrets`): nothing asks
/// for them, and the bundle says what it lacks.
#[test]
fn no_secrets_does_not_list_them_and_says_what_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::load("helm");
    s.forbidden.push("list secrets".into());
    let fake = FakeKube::start(s);
    let (r, o) = collect(&fake, dir.path(), &["--no-secrets"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(o.errors().is_empty(), "{:?}", o.errors());
    let secrets = o.json("kubernetes/namespace/secrets.json");
    assert_eq!(secrets["items"], serde_json::json!([]));
    let note = secrets["note"].as_str().unwrap();
    assert!(
        note.contains("--no-secrets") && note.contains("Helm release"),
        "{note}"
    );
    assert!(
        !o.files
            .contains_key("kubernetes/helm/sourcegraph/values.json")
    );
    assert_eq!(o.manifest.options["no_secrets"], true);
}

#[test]
fn the_namespace_is_found_when_the_context_points_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::load("healthy"));
    let kc = fake.kubeconfig(dir.path(), "default");
    let r = sg(
        &["collect", "-c", "other", "-o", "out.zip"],
        &[("KUBECONFIG", kc.to_str().unwrap())],
        dir.path(),
    );
    assert_eq!(r.code, 0, "auto-detected through KUBECONFIG: {}", r.stderr);
    let o = open(&dir.path().join("out.zip"));
    assert_eq!(o.manifest.deployment.location["namespace"], "sourcegraph");
    assert_eq!(o.manifest.options["deployment"], "auto");
    o.collector();
}

#[test]
fn several_namespaces_ask_for_n() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::load("healthy");
    let mut staging = s
        .objects
        .iter()
        .find(|o| o["kind"] == "Pod" && o["metadata"]["name"] == "gitserver-0")
        .unwrap()
        .clone();
    staging["metadata"]["namespace"] = "sourcegraph-staging".into();
    s.put(staging);
    let fake = FakeKube::start(s);
    let kc = fake.kubeconfig(dir.path(), "default");
    let r = sg(
        &[
            "collect",
            "-c",
            "other",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ],
        &[],
        dir.path(),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("choose one with -n"), "{}", r.stderr);
    assert!(
        r.stderr.contains("-n sourcegraph  (3 pods)")
            && r.stderr.contains("-n sourcegraph-staging  (1 pods)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the kubeconfig"
    );
}

/// Bad input: a clear error naming it, non-zero exit, nothing written.
fn expect_failure(args: &[&str], env: &[(&str, &str)], code: i32, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["collect", "-c", "other"];
    all.extend_from_slice(args);
    let r = sg(&all, env, dir.path());
    assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "{args:?}: missing {n:?} in {}",
            r.stderr
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{args:?} left {left:?}");
}

#[test]
fn bad_inputs_name_the_input_and_write_nothing() {
    let fake = FakeKube::start(Scenario::load("healthy"));
    let kdir = tempfile::tempdir().unwrap();
    let kc = fake.kubeconfig(kdir.path(), "sourcegraph");
    let kc = kc.to_str().unwrap();
    expect_failure(
        &["--kubeconfig", "/nonexistent/kubeconfig"],
        &[],
        1,
        &[
            "--kubeconfig /nonexistent/kubeconfig: cannot use it",
            "pass a readable kubeconfig file",
        ],
    );
    let garbage = kdir.path().join("garbage");
    std::fs::write(&garbage, "clusters: [this is not: a kubeconfig").unwrap();
    expect_failure(
        &["--kubeconfig", garbage.to_str().unwrap()],
        &[],
        1,
        &["cannot use it"],
    );
    expect_failure(
        &["--kubeconfig", kc, "--context", "nope"],
        &[],
        2,
        &["--context nope: no such context", "fake, elsewhere"],
    );
    expect_failure(
        &["--kubeconfig", kc, "--context", "elsewhere"],
        &[],
        1,
        &[
            "cannot reach the Kubernetes API server http://127.0.0.1:9",
            "context elsewhere",
        ],
    );
    expect_failure(
        &["--kubeconfig", kc, "-n", "billing"],
        &[],
        2,
        &[
            "-n billing: no pods labelled deploy=sourcegraph",
            "-n sourcegraph  (3 pods)",
        ],
    );
    expect_failure(
        &[
            "--kubeconfig",
            kc,
            "--docker-host",
            "unix:///var/run/docker.sock",
        ],
        &[],
        2,
        &["--kubeconfig cannot be combined with --docker-host"],
    );
    expect_failure(
        &["--deployment", "docker", "-n", "sourcegraph"],
        &[],
        2,
        &["--namespace cannot be combined with --deployment docker"],
    );
    expect_failure(
        &["--deployment", "kubernetes"],
        &[],
        1,
        &["no Kubernetes configuration", "pass --kubeconfig FILE"],
    );
}

#[test]
fn a_cluster_without_sourcegraph_and_no_docker_explains_both() {
    let fake = FakeKube::start(Scenario::default());
    let kdir = tempfile::tempdir().unwrap();
    let kc = fake.kubeconfig(kdir.path(), "sourcegraph");
    expect_failure(
        &["--kubeconfig", kc.to_str().unwrap()],
        &[],
        1,
        &["nor in any other namespace of context fake"],
    );
    expect_failure(
        &[],
        &[
            ("KUBECONFIG", kc.to_str().unwrap()),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
        1,
        &[
            "no Sourcegraph deployment found",
            "kubernetes: no pods labelled deploy=sourcegraph",
            "docker: no Docker daemon socket at /nonexistent/docker.sock",
            "--deployment kubernetes",
            "--deployment docker",
        ],
    );
}

#[test]
fn a_silent_cluster_is_given_up_quickly_in_auto_mode() {
    // Accepts connections (the kernel does, from the backlog) and never
    // answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: http://{}\ncontexts:\n- name: s\n  context:\n    cluster: s\n    user: u\ncurrent-context: s\nusers:\n- name: u\n  user: {{}}\n",
            silent.local_addr().unwrap()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let r = sg(
        &["collect", "-c", "other", "--timeout", "60s"],
        &[
            ("KUBECONFIG", kc.to_str().unwrap()),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
        dir.path(),
    );
    let took = started.elapsed();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("did not answer within 4s")
            && r.stderr.contains("docker: no Docker daemon socket"),
        "{}",
        r.stderr
    );
    // Behaviour, not speed: well under the 60 s --timeout, so Docker was
    // tried after the short give-up, not after --timeout.
    assert!(took < Duration::from_secs(30), "{took:?}");
    // Asked for explicitly, the cluster gets the whole --timeout.
    let started = std::time::Instant::now();
    let r = sg(
        &[
            "collect",
            "-c",
            "other",
            "--timeout",
            "6s",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ],
        &[],
        dir.path(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(started.elapsed() >= Duration::from_secs(6), "{}", r.stderr);
    assert!(r.stderr.contains("no answer within 6s"), "{}", r.stderr);
    drop(silent);
}

#[test]
fn ephemeral_debug_containers_logs_are_collected() {
    let mut s = Scenario::load("healthy");
    let fe = s
        .objects
        .iter()
        .find(|o| o["kind"] == "Pod" && o["metadata"]["name"] == FE)
        .unwrap()
        .clone();
    let mut pod = fe;
    // What `kubectl debug -it POD --image=busybox --target=frontend` adds.
    pod["spec"]["ephemeralContainers"] = serde_json::json!([
        {"name": "debugger-x7k2p", "image": "busybox:1.36", "targetContainerName": "frontend",
         "stdin": true, "tty": true}
    ]);
    pod["status"]["ephemeralContainerStatuses"] = serde_json::json!([
        {"name": "debugger-x7k2p", "image": "docker.io/library/busybox:1.36", "imageID": "",
         "ready": false, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                  "startedAt": "2025-11-25T09:00:00Z", "finishedAt": "2025-11-25T09:05:00Z"}}}
    ]);
    s.put(typed(&pod).unwrap());
    s.logs.insert(
        (FE.into(), "debugger-x7k2p".into(), false),
        fake_kube::LogSource::Lines(vec![
            "/ # wget -qO- localhost:6060/healthz".into(),
            "ok".into(),
        ]),
    );
    let fake = FakeKube::start(s);
    let dir = tempfile::tempdir().unwrap();
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(o.errors().is_empty(), "{:?}", o.errors());
    let log = o.file(&format!("kubernetes/pods/{FE}/debugger-x7k2p.log"));
    assert!(log.contains("wget -qO- localhost:6060/healthz"), "{log}");
    // Never restarted: no previous log asked for.
    assert!(
        !o.files
            .contains_key(&format!("kubernetes/pods/{FE}/debugger-x7k2p.previous.log"))
    );
}

#[test]
fn progress_is_plain_lines_off_a_terminal_and_nothing_with_quiet() {
    let fake = FakeKube::start(Scenario::load("healthy"));
    let dir = tempfile::tempdir().unwrap();
    let (r, o) = collect(&fake, dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .lines()
            .next()
            .unwrap_or_default()
            .starts_with("sg-debug: collecting Kubernetes namespace sourcegraph"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("sg-debug: writing the bundle"),
        "{}",
        r.stderr
    );
    // The last line counts what was done, in the words the live line uses.
    let logs = o.files.keys().filter(|k| k.ends_with(".log")).count();
    let done = lines_with(&r.stderr, "sg-debug: done: ");
    assert_eq!(done.len(), 1, "{}", r.stderr);
    assert!(
        done[0].contains(&format!("logs {logs}/{logs}")),
        "{}",
        done[0]
    );
    assert!(done[0].contains(" objects, "), "{}", done[0]);

    let dir = tempfile::tempdir().unwrap();
    let (r, _) = collect(&fake, dir.path(), &["--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "", "nothing but problems with --quiet");
}
