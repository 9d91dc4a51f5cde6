//! `sg-debug collect` against a real Docker Engine. `scripts/docker-up`
//! starts one (no bridge, no iptables), installs Debian's `docker-compose`
//! and builds the busybox image tagged like Sourcegraph's; containers run
//! with `--network none`. Compose deployments are made by the real Compose
//! tool, so the collector sees the labels Compose really writes.
//!
//! When `CI` is set these tests fail without an engine; elsewhere they say
//! they were skipped. Each test uses its own project and container names so
//! they can run in parallel, and removes what it created.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::sg;

const VERSION: &str = "6.12.5040";
const PG_PASSWORD: &str = "Tr0ub4dor-and-3-pg-pass";
const GH_TOKEN: &str = "ghp_R8x2mQ4vN7kL1pZ9wE3tY6uI0oA5sD2fG8hJ";
const POSTGRES_PASSWORD: &str = "codeintel-db-pass-71f3";
const LOGGED_SECRET: &str = "s3ssion-Cookie-Value-9931";
const ENV_FILE_SECRET: &str = "dotenv-only-secret-5521";
const LICENSE_KEY: &str =
    "eyJzaWciOnsiRm9ybWF0IjoicnNhLXNoYTItMjU2IiwiQmxvYiI6Im5vdC1hLXJlYWwta2V5In19";
const SSH_KEY_LINE: &str = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";

/// Whether an engine with the test images answers; fails under CI.
fn docker_ready() -> bool {
    support::docker_ready(&format!("sourcegraph/frontend:{VERSION}"))
}

/// A project brought up by `docker-compose` from files in its own
/// directory (the way an admin runs it: relative file names, from that
/// directory), and taken down with its volumes when the test ends.
struct ComposeProject {
    project: String,
    dir: tempfile::TempDir,
    files: Vec<String>,
}

impl ComposeProject {
    /// `files`: (name, content) of the compose files, in `-f` order; more
    /// files (like `.env`) can be written into `dir` before `up`.
    fn new(prefix: &str, files: &[(&str, String)]) -> ComposeProject {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        ComposeProject {
            project: unique(prefix),
            dir,
            files: files.iter().map(|(n, _)| n.to_string()).collect(),
        }
    }

    fn compose(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("docker-compose");
        c.current_dir(self.dir.path()).args(["-p", &self.project]);
        for f in &self.files {
            c.args(["-f", f]);
        }
        c.args(args).output().expect("running docker-compose")
    }

    fn up(&self) {
        let out = self.compose(&["up", "-d"]);
        assert!(
            out.status.success(),
            "docker-compose up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The container Compose (v1, as Debian ships it) names for `service`.
    fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.project)
    }
}

impl Drop for ComposeProject {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans", "-t", "1"]);
    }
}

/// A compose service running `script` in `sourcegraph/IMAGE`, without a
/// network; `extra` is more YAML for the service, indented by 4.
fn service(name: &str, image: &str, script: &str, extra: &str) -> String {
    let script = serde_json::to_string(&script.replace('$', "$$")).unwrap();
    format!(
        "  {name}:\n    image: index.docker.io/sourcegraph/{image}:{VERSION}\n    network_mode: none\n    command: [\"sh\", \"-c\", {script}]\n{extra}"
    )
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Containers and volumes a test created; removed even when it fails.
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&self.containers)
                .output();
        }
        if !self.volumes.is_empty() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f"])
                .args(&self.volumes)
                .output();
        }
    }
}

impl Cleanup {
    /// `docker run -d --network none --name NAME FLAGS sourcegraph/IMAGE:VERSION
    /// sh -c SCRIPT`; the container is removed when the test ends.
    fn run(&mut self, name: &str, image: &str, flags: &[&str], script: &str) {
        let image = format!("sourcegraph/{image}:{VERSION}");
        let mut args = vec!["run", "-d", "--network", "none", "--name", name];
        args.extend_from_slice(flags);
        args.extend([image.as_str(), "sh", "-c", script]);
        docker(&args);
        self.containers.push(name.to_string());
    }
}

/// Waits until SCRIPT inside the container touched /tmp/ready.
fn wait_ready(what: &str, container: &str) {
    wait_for(what, || {
        Command::new("docker")
            .args(["exec", container, "test", "-f", "/tmp/ready"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn inspect_field(container: &str, format: &str) -> String {
    docker(&["inspect", "--format", format, container])
}

/// A Sourcegraph-shaped docker-compose deployment under a non-default
/// project name, with an override file and an `.env`: a failed migrator,
/// a searcher in a restart loop, a memory-limited gitserver with a named
/// volume, secrets in the environment and in a log.
fn compose_deployment(prefix: &str) -> ComposeProject {
    let main = format!(
        "services:\n{}{}{}{}{}volumes:\n  repos:\n",
        service(
            "sourcegraph-frontend-0",
            "frontend",
            &format!(
                "echo '{{\"SeverityText\":\"INFO\",\"Body\":\"frontend started\"}}'; \
                 echo 'http: request failed Cookie: sgs={LOGGED_SECRET}' >&2; \
                 echo 'search: repo github.com/acme/widgets at 4b825dc642cb6eb9a060e54bf8d69288fbee4904'; \
                 sleep 3600"
            ),
            &format!(
                "    environment:\n      - PGPASSWORD={PG_PASSWORD}\n      - GITHUB_TOKEN={GH_TOKEN}\n      - SRC_LOG_LEVEL=dbug\n"
            ),
        ),
        service(
            "migrator",
            "migrator",
            "echo 'migrator: applying 1528395787 to frontend'; echo 'migration failed: relation \"repo\" already exists' >&2; exit 1",
            &format!("    environment:\n      - PGPASSWORD={PG_PASSWORD}\n"),
        ),
        service(
            "searcher-0",
            "searcher",
            "echo 'searcher: cannot reach zoekt'; exit 3",
            "    restart: always\n",
        ),
        service(
            "gitserver-0",
            "gitserver",
            "dd if=/dev/zero of=/data/repos/pack bs=1024 count=300 2>/dev/null; touch /tmp/ready; sleep 3600",
            "    volumes:\n      - repos:/data/repos\n",
        ),
        service(
            "pgsql",
            "pgsql",
            "sleep 3600",
            &format!(
                "    environment:\n      - POSTGRES_PASSWORD={POSTGRES_PASSWORD}\n      - PGPASSWORD_FROM_DOTENV=${{PGPASSWORD}}\n"
            ),
        ),
    );
    let d = ComposeProject::new(
        prefix,
        &[
            ("docker-compose.yaml", main),
            (
                "docker-compose.override.yaml",
                "services:\n  gitserver-0:\n    mem_limit: 64m\n".to_string(),
            ),
        ],
    );
    // Compose reads it for ${PGPASSWORD}; the collector must redact it,
    // in the file and in pgsql's environment.
    std::fs::write(
        d.dir.path().join(".env"),
        format!("PGPASSWORD={ENV_FILE_SECRET}\n"),
    )
    .unwrap();
    d.up();
    let migrator = d.container("migrator");
    let searcher = d.container("searcher-0");
    wait_for("the migrator to exit", || {
        inspect_field(&migrator, "{{.State.Status}}") == "exited"
    });
    wait_for("the searcher to restart", || {
        inspect_field(&searcher, "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 1
    });
    wait_ready("gitserver to fill its volume", &d.container("gitserver-0"));
    d
}

fn entries(bundle: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut body = Vec::new();
        f.read_to_end(&mut body).unwrap();
        let rel = name.split_once('/').unwrap().1.to_string();
        out.insert(rel, body);
    }
    out
}

fn text(e: &BTreeMap<String, Vec<u8>>, path: &str) -> String {
    String::from_utf8(
        e.get(path)
            .unwrap_or_else(|| panic!("{path} not in the bundle: {:?}", e.keys()))
            .clone(),
    )
    .unwrap()
}

fn json(e: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    serde_json::from_str(&text(e, path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn assert_no_secret(e: &BTreeMap<String, Vec<u8>>, secrets: &[&str]) {
    for (path, body) in e {
        let body = String::from_utf8_lossy(body);
        for s in secrets {
            assert!(!body.contains(s), "secret {s:?} survived in {path}");
        }
    }
}

fn assert_stderr(r: &support::Run, want: &str) {
    assert!(
        r.stderr.contains(want),
        "stderr lacks {want:?}: {}",
        r.stderr
    );
}

fn summary_row<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no summary row {name}: {summary:#}"))
}

fn collect(cwd: &Path, extra: &[&str]) -> (support::Run, PathBuf) {
    let out = cwd.join("bundle.zip");
    let mut args = vec!["collect", "-c", "outage-crash", "-o", "bundle.zip"];
    args.extend_from_slice(extra);
    (sg(&args, cwd), out)
}

#[test]
fn compose_deployment_is_collected_redacted_and_verifiable() {
    if !docker_ready() {
        return;
    }
    let d = compose_deployment("acme-prod");
    let p = &d.project;
    let work = tempfile::tempdir().unwrap();
    let (r, bundle) = collect(work.path(), &["--project", p, "--ticket", "4711"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(r.stdout.trim(), "bundle.zip");

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&bundle).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "bundles hold customer data");

    let e = entries(&bundle);
    let m = json(&e, "manifest.json");
    assert_eq!(m["complete"], true);
    assert_eq!(m["incident"]["ticket"], "4711");
    assert_eq!(m["deployment"]["type"], "docker-compose");
    assert_eq!(m["deployment"]["sourcegraph_version"], VERSION);
    assert_eq!(m["deployment"]["location"]["compose_project"], p.as_str());
    let docker_rec = m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "docker")
        .expect("docker collector recorded");
    assert_eq!(docker_rec["status"], "ok", "{docker_rec:#}");
    assert!(m["leak_scan"]["hits"].as_array().unwrap().is_empty());

    // Every container, the exited one-shot migrator included.
    for svc in [
        "sourcegraph-frontend-0",
        "migrator",
        "searcher-0",
        "gitserver-0",
        "pgsql",
    ] {
        let base = format!("docker/containers/{p}_{svc}_1");
        for f in ["inspect.json", "logs.txt"] {
            assert!(e.contains_key(&format!("{base}/{f}")), "{base}/{f} missing");
        }
    }
    let migrator_log = text(&e, &format!("docker/containers/{p}_migrator_1/logs.txt"));
    assert!(
        migrator_log.contains("migration failed: relation \"repo\" already exists"),
        "stderr kept: {migrator_log}"
    );
    // Timestamps on every line, as docker logs --timestamps gives them.
    assert!(
        migrator_log
            .lines()
            .all(|l| l.len() > 30 && l.as_bytes()[4] == b'-' && l.contains('T')),
        "{migrator_log}"
    );
    let frontend_log = text(
        &e,
        &format!("docker/containers/{p}_sourcegraph-frontend-0_1/logs.txt"),
    );
    assert!(frontend_log.contains("4b825dc642cb6eb9a060e54bf8d69288fbee4904"));
    assert!(frontend_log.contains("github.com/acme/widgets"));

    // The same password in two containers gets the same marker.
    let marker_of = |path: String| {
        let i = json(&e, &path);
        let env = i["Config"]["Env"].as_array().unwrap().clone();
        env.iter()
            .filter_map(|v| v.as_str())
            .find_map(|v| v.strip_prefix("PGPASSWORD=").map(str::to_string))
            .unwrap()
    };
    let a = marker_of(format!(
        "docker/containers/{p}_sourcegraph-frontend-0_1/inspect.json"
    ));
    let b = marker_of(format!("docker/containers/{p}_migrator_1/inspect.json"));
    assert!(a.starts_with("[REDACTED:"), "{a}");
    assert_eq!(a, b, "one secret, one marker within a bundle");

    // At a glance: the failed migrator, the restarting searcher, the limit.
    let s = json(&e, "summary.json");
    let mig = summary_row(&s, &format!("{p}_migrator_1"));
    assert_eq!(mig["exit_code"], 1);
    assert_eq!(mig["state"], "exited");
    assert_eq!(mig["reason"], "Error");
    assert_eq!(mig["service"], "migrator");
    let searcher = summary_row(&s, &format!("{p}_searcher-0_1"));
    assert!(searcher["restarts"].as_u64().unwrap() >= 1, "{searcher}");
    let gs = summary_row(&s, &format!("{p}_gitserver-0_1"));
    assert_eq!(gs["memory_limit_bytes"], 64 * 1024 * 1024);
    assert_eq!(gs["state"], "running");
    let txt = text(&e, "summary.txt");
    assert!(txt.contains(&format!("{p}_migrator_1")), "{txt}");

    // Volume with its size; images with ids; compose files and .env.
    let vols = json(&e, "docker/volumes.json");
    let repos = vols
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == format!("{p}_repos"))
        .expect("the named volume");
    assert_eq!(
        repos["used_by"][0],
        format!("{p}_gitserver-0_1:/data/repos")
    );
    // Its size, in the shape both collectors share; the engine's data
    // root says how full the file system under local volumes is.
    let disk = json(&e, "disk-usage.json");
    let vols = disk["volumes"].as_array().unwrap();
    let repos = vols
        .iter()
        .find(|v| v["name"] == format!("{p}_repos"))
        .expect("the named volume's size");
    assert_eq!(repos["kind"], "docker-volume");
    assert!(
        repos["used_bytes"].as_u64().unwrap() >= 300 * 1024,
        "{repos}"
    );
    assert_eq!(
        repos["mounted_by"][0],
        format!("{p}_gitserver-0_1:/data/repos")
    );
    let root = vols
        .iter()
        .find(|v| v["kind"] == "host-path")
        .expect("the data root");
    assert!(root["capacity_bytes"].as_u64().unwrap() >= root["used_bytes"].as_u64().unwrap());
    assert!(e.contains_key("docker/images.json"));
    assert!(e.contains_key("docker/networks.json"));
    assert!(e.contains_key("docker/host/version.json"));
    assert!(e.contains_key("docker/host/info.json"));
    let compose = text(&e, "docker/compose/0-docker-compose.yaml");
    assert!(compose.contains("sourcegraph-frontend-0"));
    assert!(compose.contains("PGPASSWORD=[REDACTED:"), "{compose}");
    assert!(text(&e, "docker/compose/1-docker-compose.override.yaml").contains("mem_limit: 64m"));
    assert!(text(&e, "docker/compose/2-.env").contains("PGPASSWORD=[REDACTED:"));

    assert_no_secret(
        &e,
        &[
            PG_PASSWORD,
            GH_TOKEN,
            POSTGRES_PASSWORD,
            LOGGED_SECRET,
            ENV_FILE_SECRET,
        ],
    );
    // Every file in the manifest, with its redaction counts.
    let files = m["files"].as_array().unwrap();
    assert_eq!(files.len() + 1, e.len(), "manifest lists every entry");
    let fe = files
        .iter()
        .find(|f| {
            f["path"] == format!("docker/containers/{p}_sourcegraph-frontend-0_1/inspect.json")
        })
        .unwrap();
    assert!(
        fe["redactions"]
            .as_object()
            .unwrap()
            .values()
            .any(|n| n.as_u64() > Some(0))
    );

    let v = sg(&["inspect", "bundle.zip", "--verify"], work.path());
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let i = sg(&["inspect", "bundle.zip"], work.path());
    assert!(i.stdout.contains("docker-compose"), "{}", i.stdout);
    assert!(i.stdout.contains(VERSION), "{}", i.stdout);
    drop(d);
}

#[test]
fn logs_are_bounded_by_size_keeping_the_newest() {
    if !docker_ready() {
        return;
    }
    let d = ComposeProject::new(
        "capped",
        &[(
            "docker-compose.yaml",
            format!(
                "services:\n{}",
                service(
                    "frontend",
                    "frontend",
                    "i=0; while [ $i -lt 3000 ]; do echo \"line $i of a chatty frontend log\"; i=$((i+1)); done; echo LAST-LINE; sleep 3600",
                    ""
                )
            ),
        )],
    );
    d.up();
    let (project, name) = (d.project.clone(), d.container("frontend"));
    wait_for("the log to be written", || {
        docker(&["logs", "--tail", "1", &name]).contains("LAST-LINE")
    });
    let work = tempfile::tempdir().unwrap();
    let (r, bundle) = collect(
        work.path(),
        &["--project", &project, "--max-log-bytes", "4KiB"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e = entries(&bundle);
    let log = text(&e, &format!("docker/containers/{name}/logs.txt"));
    assert!(
        log.starts_with("[sg-debug: log truncated: the oldest"),
        "{log}"
    );
    assert!(log.trim_end().ends_with("LAST-LINE"), "newest kept: {log}");
    assert!(!log.contains("line 0 of"), "oldest dropped");
    assert!(log.len() < 4096 + 200, "bounded: {} bytes", log.len());
}

#[test]
fn server_container_is_collected_inside_and_out() {
    if !docker_ready() {
        return;
    }
    let name = unique("sourcegraph-server");
    let mut cleanup = Cleanup::default();
    let script = format!(
        "mkdir -p /etc/sourcegraph/ssh /var/opt/sourcegraph/postgresql /var/opt/sourcegraph/repos /var/opt/sourcegraph/logs; \
         printf '{{\\n  // the site configuration\\n  \"licenseKey\": \"{LICENSE_KEY}\",\\n  \"externalURL\": \"https://sourcegraph.acme.internal\",\\n}}\\n' > /etc/sourcegraph/site-config.json; \
         printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\n{SSH_KEY_LINE}\\n-----END OPENSSH PRIVATE KEY-----\\n' > /etc/sourcegraph/ssh/id_rsa; \
         printf '{{\"token\": {MALFORMED_SECRET}}}\\n' > /etc/sourcegraph/broken.json; \
         dd if=/dev/zero of=/var/opt/sourcegraph/repos/pack bs=1024 count=200 2>/dev/null; \
         echo 'frontend: listening on :3080' > /var/opt/sourcegraph/logs/frontend.log; \
         i=0; while [ $i -lt 2000 ]; do echo \"gitserver line $i\"; i=$((i+1)); done > /var/opt/sourcegraph/logs/gitserver.log; \
         echo 'server: all services up'; touch /tmp/ready; sleep 3600"
    );
    cleanup.run(&name, "server", &[], &script);
    wait_ready("the server container to be ready", &name);
    let work = tempfile::tempdir().unwrap();
    let (r, bundle) = collect(
        work.path(),
        &["--container", &name, "--max-log-bytes", "8KiB"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e = entries(&bundle);
    let m = json(&e, "manifest.json");
    assert_eq!(m["deployment"]["type"], "single-container");
    assert_eq!(m["deployment"]["sourcegraph_version"], VERSION);
    assert_eq!(m["deployment"]["location"]["container"], name.as_str());

    let site = text(&e, "server/etc-sourcegraph/site-config.json");
    assert!(site.contains("https://sourcegraph.acme.internal"), "{site}");
    assert!(site.contains("\"licenseKey\": \"[REDACTED:"), "{site}");
    let key = text(&e, "server/etc-sourcegraph/ssh/id_rsa");
    assert!(
        !key.contains(SSH_KEY_LINE),
        "private keys never leave: {key}"
    );
    let disk = json(&e, "disk-usage.json");
    let data = disk["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "/var/opt/sourcegraph")
        .expect("df of the data directory");
    assert_eq!(data["kind"], "container-path");
    assert!(data["capacity_bytes"].as_u64().unwrap() > 0, "{data}");
    let du = text(&e, "server/disk-usage.txt");
    assert!(du.contains("/var/opt/sourcegraph/repos"), "{du}");
    assert!(du.contains("Filesystem"), "df output: {du}");
    assert!(
        text(&e, "server/logs/var/opt/sourcegraph/logs/frontend.log")
            .contains("listening on :3080")
    );
    // Log files inside the container are bounded like container logs.
    let big = text(&e, "server/logs/var/opt/sourcegraph/logs/gitserver.log");
    assert!(big.starts_with("[sg-debug: log truncated"), "{big}");
    assert!(big.ends_with("gitserver line 1999\n"), "newest kept");
    assert!(big.len() <= 8192 + 200, "{} bytes", big.len());
    assert!(text(&e, &format!("docker/containers/{name}/logs.txt")).contains("all services up"));
    // A secret in a file the structured pass cannot parse: redacted by the
    // line pass, and quoted by no parser error, in the bundle (manifest
    // included) or on stderr.
    let broken = text(&e, "server/etc-sourcegraph/broken.json");
    assert!(broken.contains("[REDACTED:"), "{broken}");
    assert!(
        text(&e, "manifest.json").contains("structured redaction not possible"),
        "the note is kept, without the text"
    );
    assert!(!r.stderr.contains(MALFORMED_SECRET), "{}", r.stderr);
    assert_no_secret(&e, &[LICENSE_KEY, SSH_KEY_LINE, MALFORMED_SECRET]);
}

const MALFORMED_SECRET: &str = "abc123secretvalueXYZ";

#[test]
fn several_deployments_on_one_host_ask_which_one() {
    if !docker_ready() {
        return;
    }
    let compose = ComposeProject::new(
        "ambiguous",
        &[(
            "docker-compose.yaml",
            format!("services:\n{}", service("frontend", "frontend", "true", "")),
        )],
    );
    compose.up();
    let project = compose.project.clone();
    let server = unique("ambiguous-server");
    let mut cleanup = Cleanup::default();
    for (name, image) in [
        (server.clone(), "server"),
        (format!("{project}-unlabelled-searcher"), "searcher"),
    ] {
        docker(&[
            "create",
            "--network",
            "none",
            "--name",
            &name,
            &format!("sourcegraph/{image}:{VERSION}"),
            "true",
        ]);
        cleanup.containers.push(name);
    }
    let work = tempfile::tempdir().unwrap();
    let (r, bundle) = collect(work.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_stderr(&r, "several Sourcegraph deployments");
    assert_stderr(&r, &format!("--project {project}"));
    assert_stderr(&r, &format!("--container {server}"));
    assert!(!bundle.exists());
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "nothing left behind"
    );

    // A project that does not exist names what does.
    let (r, _) = collect(work.path(), &["--project", "no-such-project"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_stderr(&r, "--project no-such-project");
    assert_stderr(&r, &format!("--project {project}"));
    // --container must be the server image.
    let (r, _) = collect(
        work.path(),
        &["--container", &compose.container("frontend")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_stderr(&r, "not sourcegraph/server");
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
}

#[test]
fn pure_docker_containers_are_collected_on_request() {
    if !docker_ready() {
        return;
    }
    let prefix = unique("pure");
    let mut cleanup = Cleanup::default();
    for (svc, image) in [("sourcegraph-frontend-0", "frontend"), ("pgsql", "pgsql")] {
        let name = format!("{prefix}-{svc}");
        let env = format!("PGPASSWORD={PG_PASSWORD}");
        cleanup.run(&name, image, &["-e", &env], "echo up; sleep 3600");
    }
    let work = tempfile::tempdir().unwrap();
    let (r, bundle) = collect(work.path(), &["--pure-docker"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e = entries(&bundle);
    let m = json(&e, "manifest.json");
    assert_eq!(m["deployment"]["type"], "pure-docker");
    assert_eq!(m["deployment"]["sourcegraph_version"], VERSION);
    assert_eq!(m["options"]["pure_docker"], true);
    for c in &cleanup.containers {
        assert!(
            text(&e, &format!("docker/containers/{c}/logs.txt")).contains("up"),
            "{c}"
        );
    }
    assert_no_secret(&e, &[PG_PASSWORD]);

    // The flags that pick a deployment exclude each other.
    let (r, _) = collect(work.path(), &["--pure-docker", "--project", "x"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_stderr(&r, "cannot be used with");
}

#[test]
fn permission_denied_on_the_socket_says_what_to_do() {
    if !docker_ready() {
        return;
    }
    // Root reads any socket; run the binary as nobody to be refused.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/var/run/docker.sock").exists() {
        eprintln!("SKIPPED: needs root (to drop to nobody) and /var/run/docker.sock");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_sg-debug"))
        .args(["collect", "-c", "other", "-o", "b.zip"])
        .current_dir(work.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("SRC_ENDPOINT")
        .env_remove("SRC_ACCESS_TOKEN")
        .env("HOME", work.path())
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "permission denied on the Docker socket /var/run/docker.sock: run sg-debug as root, or as a user in the docker group"
        ),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "no bundle, no .partial"
    );
}
