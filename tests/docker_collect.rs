//! `sg-debug collect` against a real Docker Engine. `scripts/docker-up`
//! starts one (no bridge, no iptables) and builds the busybox image tagged
//! like Sourcegraph's; containers run with `--network none`.
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
    let ok = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "ok",
            &format!("sourcegraph/frontend:{VERSION}"),
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Docker engine with the test images answers; run scripts/docker-up"
        );
        eprintln!(
            "SKIPPED: no Docker engine with sourcegraph/*:{VERSION} test images; run scripts/docker-up"
        );
    }
    ok
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

/// A docker-compose-shaped deployment under a non-default project name:
/// what `docker compose up` would leave behind, made with `docker run`.
struct Compose {
    project: String,
    dir: tempfile::TempDir,
    _cleanup: Cleanup,
}

fn compose_deployment(prefix: &str) -> Compose {
    let project = unique(prefix);
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("docker-compose.yaml");
    let over = dir.path().join("docker-compose.override.yaml");
    std::fs::write(
        &main,
        format!(
            "services:\n  sourcegraph-frontend-0:\n    image: index.docker.io/sourcegraph/frontend:{VERSION}\n    environment:\n      - PGPASSWORD={PG_PASSWORD}\n      - GITHUB_TOKEN={GH_TOKEN}\n  pgsql:\n    image: index.docker.io/sourcegraph/pgsql:{VERSION}\n"
        ),
    )
    .unwrap();
    std::fs::write(&over, "services:\n  gitserver-0:\n    mem_limit: 64m\n").unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("PGPASSWORD={ENV_FILE_SECRET}\n"),
    )
    .unwrap();
    let mut cleanup = Cleanup::default();
    let volume = format!("{project}_repos");
    docker(&["volume", "create", &volume]);
    cleanup.volumes.push(volume.clone());
    let config_files = format!("{},{}", main.display(), over.display());
    let run = |cleanup: &mut Cleanup, service: &str, image: &str, extra: &[&str], script: &str| {
        let name = format!("{project}-{service}-1");
        let labels = [
            format!("com.docker.compose.project={project}"),
            format!("com.docker.compose.service={service}"),
            format!("com.docker.compose.project.config_files={config_files}"),
            format!(
                "com.docker.compose.project.working_dir={}",
                dir.path().display()
            ),
        ];
        let mut flags: Vec<&str> = labels
            .iter()
            .flat_map(|l| ["--label", l.as_str()])
            .collect();
        flags.extend_from_slice(extra);
        cleanup.run(&name, image, &flags, script);
        name
    };
    run(
        &mut cleanup,
        "sourcegraph-frontend-0",
        "frontend",
        &[
            "-e",
            &format!("PGPASSWORD={PG_PASSWORD}"),
            "-e",
            &format!("GITHUB_TOKEN={GH_TOKEN}"),
            "-e",
            "SRC_LOG_LEVEL=dbug",
        ],
        &format!(
            "echo '{{\"SeverityText\":\"INFO\",\"Body\":\"frontend started\"}}'; \
             echo 'http: request failed Cookie: sgs={LOGGED_SECRET}' >&2; \
             echo 'search: repo github.com/acme/widgets at 4b825dc642cb6eb9a060e54bf8d69288fbee4904'; \
             sleep 3600"
        ),
    );
    let migrator = run(
        &mut cleanup,
        "migrator",
        "migrator",
        &["-e", &format!("PGPASSWORD={PG_PASSWORD}")],
        "echo 'migrator: applying 1528395787 to frontend'; echo 'migration failed: relation \"repo\" already exists' >&2; exit 1",
    );
    let searcher = run(
        &mut cleanup,
        "searcher-0",
        "searcher",
        &["--restart", "always"],
        "echo 'searcher: cannot reach zoekt'; exit 3",
    );
    let gitserver = run(
        &mut cleanup,
        "gitserver-0",
        "gitserver",
        &["--memory", "64m", "-v", &format!("{volume}:/data/repos")],
        "dd if=/dev/zero of=/data/repos/pack bs=1024 count=300 2>/dev/null; touch /tmp/ready; sleep 3600",
    );
    run(
        &mut cleanup,
        "pgsql",
        "pgsql",
        &["-e", &format!("POSTGRES_PASSWORD={POSTGRES_PASSWORD}")],
        "sleep 3600",
    );
    wait_for("the migrator to exit", || {
        inspect_field(&migrator, "{{.State.Status}}") == "exited"
    });
    wait_for("the searcher to restart", || {
        inspect_field(&searcher, "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 1
    });
    wait_ready("gitserver to fill its volume", &gitserver);
    Compose {
        project,
        dir,
        _cleanup: cleanup,
    }
}

/// Every entry of a bundle by its path under the top folder.
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
        let base = format!("docker/containers/{p}-{svc}-1");
        for f in ["inspect.json", "logs.txt"] {
            assert!(e.contains_key(&format!("{base}/{f}")), "{base}/{f} missing");
        }
    }
    let migrator_log = text(&e, &format!("docker/containers/{p}-migrator-1/logs.txt"));
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
        &format!("docker/containers/{p}-sourcegraph-frontend-0-1/logs.txt"),
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
        "docker/containers/{p}-sourcegraph-frontend-0-1/inspect.json"
    ));
    let b = marker_of(format!("docker/containers/{p}-migrator-1/inspect.json"));
    assert!(a.starts_with("[REDACTED:"), "{a}");
    assert_eq!(a, b, "one secret, one marker within a bundle");

    // At a glance: the failed migrator, the restarting searcher, the limit.
    let s = json(&e, "summary.json");
    let mig = summary_row(&s, &format!("{p}-migrator-1"));
    assert_eq!(mig["exit_code"], 1);
    assert_eq!(mig["state"], "exited");
    assert_eq!(mig["reason"], "Error");
    assert_eq!(mig["service"], "migrator");
    let searcher = summary_row(&s, &format!("{p}-searcher-0-1"));
    assert!(searcher["restarts"].as_u64().unwrap() >= 1, "{searcher}");
    let gs = summary_row(&s, &format!("{p}-gitserver-0-1"));
    assert_eq!(gs["memory_limit_bytes"], 64 * 1024 * 1024);
    assert_eq!(gs["state"], "running");
    let txt = text(&e, "summary.txt");
    assert!(txt.contains(&format!("{p}-migrator-1")), "{txt}");

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
        format!("{p}-gitserver-0-1:/data/repos")
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
        format!("{p}-gitserver-0-1:/data/repos")
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
            f["path"] == format!("docker/containers/{p}-sourcegraph-frontend-0-1/inspect.json")
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
    drop(d.dir);
}

#[test]
fn logs_are_bounded_by_size_keeping_the_newest() {
    if !docker_ready() {
        return;
    }
    let project = unique("capped");
    let mut cleanup = Cleanup::default();
    let name = format!("{project}-frontend-1");
    let label = format!("com.docker.compose.project={project}");
    cleanup.run(
        &name,
        "frontend",
        &["--label", &label],
        "i=0; while [ $i -lt 3000 ]; do echo \"line $i of a chatty frontend log\"; i=$((i+1)); done; echo LAST-LINE; sleep 3600",
    );
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
    let project = unique("ambiguous");
    let server = unique("ambiguous-server");
    let mut cleanup = Cleanup::default();
    for (name, image, label) in [
        (
            format!("{project}-frontend-1"),
            "frontend",
            Some(format!("com.docker.compose.project={project}")),
        ),
        (server.clone(), "server", None),
        (format!("{project}-unlabelled-searcher"), "searcher", None),
    ] {
        let mut args = vec![
            "create".to_string(),
            "--network".into(),
            "none".into(),
            "--name".into(),
            name.clone(),
        ];
        if let Some(l) = label {
            args.extend(["--label".into(), l]);
        }
        args.push(format!("sourcegraph/{image}:{VERSION}"));
        args.push("true".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&refs);
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
        &["--container", &format!("{project}-frontend-1")],
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
