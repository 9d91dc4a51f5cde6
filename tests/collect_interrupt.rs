//! Collection that cannot finish: a stalled log stream, the overall
//! deadline and Ctrl-C. A fake engine on 127.0.0.1 stalls on demand; the
//! bundle must still be written, say `complete: false` where it is, and
//! keep what was collected.

#[path = "support/fake_docker.rs"]
mod fake_docker;
mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn spawn(cwd: &Path, args: &[&str]) -> Child {
    support::command(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `sg-debug collect` against the fake engine, writing `b.zip`.
fn collect_from(cwd: &Path, fake: &fake_docker::FakeDocker, extra: &[&str]) -> Child {
    let mut args = vec![
        "collect",
        "-c",
        "search",
        "-o",
        "b.zip",
        "--docker-host",
        &fake.url,
    ];
    args.extend_from_slice(extra);
    spawn(cwd, &args)
}

/// A collection from the fake engine, returned once it is reading the log
/// stream the fake leaves stalled: the moment to interrupt it.
fn stalled_collection(cwd: &Path, fake: &fake_docker::FakeDocker) -> Child {
    let child = collect_from(cwd, fake, &["--timeout", "60s"]);
    fake.logs_requested
        .recv_timeout(Duration::from_secs(60))
        .expect("sg-debug reached the log stream");
    child
}

/// Waits for exit; kills the child and fails after a minute.
fn finish(mut child: Child) -> (i32, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("sg-debug did not exit within 60s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn entry(bundle: &Path, rel: &str) -> Option<String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.name().unwrap().split_once('/').unwrap().1 == rel {
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            return Some(s);
        }
    }
    None
}

fn manifest(bundle: &Path) -> Value {
    serde_json::from_str(&entry(bundle, "manifest.json").expect("manifest")).unwrap()
}

fn docker_errors(m: &Value) -> Vec<(String, String)> {
    m["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "docker")
        .flat_map(|c| c["errors"].as_array().unwrap().clone())
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn only_the_bundle_is_left(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["b.zip"], "no .partial files left behind");
}

#[test]
fn a_stalled_log_is_recorded_and_what_was_read_is_kept() {
    let fake = fake_docker::start();
    let work = tempfile::tempdir().unwrap();
    // No --project: the one compose project on this engine is found by
    // its images, whatever it is called.
    let child = collect_from(work.path(), &fake, &["--timeout", "1s"]);
    let (code, stderr) = finish(child);
    assert_eq!(code, 0, "a partial bundle is still a bundle: {stderr}");
    let b = work.path().join("b.zip");
    let m = manifest(&b);
    assert_eq!(m["complete"], true);
    assert_eq!(m["deployment"]["type"], "docker-compose");
    assert_eq!(
        m["deployment"]["location"]["compose_project"],
        fake_docker::PROJECT
    );
    let errs = docker_errors(&m);
    let stalled = errs
        .iter()
        .find(|(t, _)| t == &format!("containers/{}/logs", fake_docker::CONTAINER))
        .unwrap_or_else(|| panic!("{errs:?}"));
    assert!(
        stalled.1.contains("stalled for 1s (raise --timeout)"),
        "{}",
        stalled.1
    );
    assert!(
        stderr.contains("stalled for 1s"),
        "problems are shown: {stderr}"
    );
    let status = &m["collectors"][0]["status"];
    assert_eq!(status, "partial");
    let log = entry(
        &b,
        &format!("docker/containers/{}/logs.txt", fake_docker::CONTAINER),
    )
    .unwrap();
    assert!(log.contains(fake_docker::FIRST_LOG_LINE), "{log}");
    let inspect = entry(
        &b,
        &format!("docker/containers/{}/inspect.json", fake_docker::CONTAINER),
    )
    .unwrap();
    assert!(inspect.contains("PGPASSWORD=[REDACTED:"), "{inspect}");
    assert!(!inspect.contains(fake_docker::SECRET));
    only_the_bundle_is_left(work.path());
}

#[test]
fn ctrl_c_finishes_the_bundle_with_what_was_collected() {
    let fake = fake_docker::start();
    let work = tempfile::tempdir().unwrap();
    let child = stalled_collection(work.path(), &fake);
    // The stream is open and stalled: the user gives up waiting.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(rc, 0);
    let (code, stderr) = finish(child);
    assert_eq!(
        code, 1,
        "an interrupted collection is not a success: {stderr}"
    );
    assert!(
        stderr.contains("interrupted: finishing the bundle"),
        "{stderr}"
    );
    assert!(stderr.contains("INCOMPLETE"), "{stderr}");
    let b = work.path().join("b.zip");
    let m = manifest(&b);
    assert_eq!(m["complete"], false);
    assert!(
        docker_errors(&m)
            .iter()
            .any(|(t, msg)| t == "collection" && msg.contains("interrupted by the user (Ctrl-C)")),
        "{m:#}"
    );
    // What was collected before the interruption is in the bundle.
    assert!(entry(&b, "docker/host/version.json").is_some());
    assert!(
        entry(
            &b,
            &format!("docker/containers/{}/inspect.json", fake_docker::CONTAINER)
        )
        .is_some()
    );
    let v = support::sg(&["inspect", "b.zip", "--verify"], work.path());
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let s = support::sg(&["inspect", "b.zip"], work.path());
    assert!(
        s.stdout.to_lowercase().contains("incomplete"),
        "{}",
        s.stdout
    );
    only_the_bundle_is_left(work.path());
}

#[test]
fn the_overall_deadline_ends_collection_and_says_so() {
    let fake = fake_docker::start();
    let work = tempfile::tempdir().unwrap();
    let child = collect_from(
        work.path(),
        &fake,
        &["--timeout", "60s", "--deadline", "2s"],
    );
    let (code, stderr) = finish(child);
    assert_eq!(code, 1, "{stderr}");
    let m = manifest(&work.path().join("b.zip"));
    assert_eq!(m["complete"], false);
    assert!(
        docker_errors(&m)
            .iter()
            .any(|(_, msg)| msg.contains("overall deadline of 2s passed; raise it with --deadline")),
        "{m:#}"
    );
    only_the_bundle_is_left(work.path());
}

#[test]
fn termination_leaves_nothing_behind() {
    // `kill`, or the terminal closing (SIGHUP): no time to finish a
    // bundle, but no partial bundle or log spool may stay behind either.
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let fake = fake_docker::start();
        let work = tempfile::tempdir().unwrap();
        let child = stalled_collection(work.path(), &fake);
        let before: Vec<String> = std::fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            before.iter().any(|n| n.starts_with(".sg-debug-spool-")),
            "the spool exists while collecting: {before:?}"
        );
        let rc = unsafe { libc::kill(child.id() as i32, signal) };
        assert_eq!(rc, 0);
        let (got, stderr) = finish(child);
        assert_eq!(got, code, "{stderr}");
        assert!(stderr.contains("terminated: no bundle written"), "{stderr}");
        let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
