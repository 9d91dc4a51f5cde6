//! `redact`, `report` and `inspect` on hostile file systems and inputs:
//! pipes, FIFOs, planted links, umask 000, outputs that overlap the
//! input, terminal escapes and spreadsheet formulas in manifests,
//! tampered bundles, interruptions. Each test failed on sg-debug before
//! the fix it guards (run with `SG_DEBUG_BIN=old/sg-debug` to see).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{bin, manifest, sg, write_bundle};

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs sg-debug through `sh -c` (for pipes, umask and redirections).
fn sh(script: &str, cwd: &Path) -> support::Run {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin())
        .current_dir(cwd)
        .env("HOME", cwd)
        .output()
        .unwrap();
    support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn piped_input_is_read_once_and_redacted_whole() {
    let dir = tempfile::tempdir().unwrap();
    let r = sh(
        "printf 'password=hunter2hunter2\\nplain line\\n' | \"$0\" redact /dev/stdin -o out",
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
    assert!(out.starts_with("password=[REDACTED:"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.ends_with("plain line\n"), "{out}");

    // A FIFO, fed by another process.
    let fifo = dir.path().join("in.log");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            f.write_all(b"token: ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123\n")
                .unwrap();
        })
    };
    let r = sg(&["redact", "in.log", "-o", "fifo.out"], dir.path());
    writer.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = std::fs::read_to_string(dir.path().join("fifo.out")).unwrap();
    assert!(out.starts_with("token: [REDACTED:"), "{out}");
}

#[test]
fn partial_files_never_follow_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.log"), "password=hunter2hunter2\n").unwrap();
    let victim = d.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();

    // A file.
    symlink(&victim, d.join("out.log.partial")).unwrap();
    let r = sg(&["redact", "in.log", "-o", "out.log"], d);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is a symbolic link"), "{}", r.stderr);
    assert!(!d.join("out.log").exists());

    // A bundle: the final partial and the entry spool.
    let files: &[(&str, &[u8])] = &[("logs/a.log", b"hello\n")];
    write_bundle(
        &d.join("b.zip"),
        "sg-debug-other-20261125T040506Z",
        &manifest("other", "2026-11-25T04:05:06Z", files),
        files,
    );
    for partial in ["out.zip.partial", "out.zip.entries.partial"] {
        symlink(&victim, d.join(partial)).unwrap();
        let r = sg(&["redact", "b.zip", "-o", "out.zip"], d);
        assert_ne!(r.code, 0, "{partial}");
        assert!(r.stderr.contains("is a symbolic link"), "{}", r.stderr);
        assert!(!d.join("out.zip").exists());
        std::fs::remove_file(d.join(partial)).unwrap();
    }

    // The pseudonym map.
    symlink(&victim, d.join("net.log.network-map.json.partial")).unwrap();
    let r = sg(
        &["redact", "in.log", "-o", "net.log", "--obfuscate-network"],
        d,
    );
    assert_ne!(r.code, 0);
    assert!(!d.join("net.log.network-map.json").exists());

    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(mode(&victim), 0o644, "never chmodded");
}

#[test]
fn redacted_directories_are_owner_only_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("in/sub")).unwrap();
    std::fs::write(d.join("in/sub/a.log"), "hello\n").unwrap();
    let r = sh("umask 000; exec \"$0\" redact in -o out", d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(mode(&d.join("out")), 0o700);
    assert_eq!(mode(&d.join("out/sub")), 0o700);
    assert_eq!(mode(&d.join("out/sub/a.log")), 0o600);
    let r = sh("umask 000; exec \"$0\" redact in/sub/a.log -o one.log", d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(mode(&d.join("one.log")), 0o600);
}

#[test]
fn redact_touches_nothing_it_was_not_asked_to() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("in/sub")).unwrap();
    std::fs::write(d.join("in/sub/a.log"), "hello\n").unwrap();

    // An existing OUT.partial is refused and left alone.
    std::fs::create_dir(d.join("out.partial")).unwrap();
    std::fs::write(d.join("out.partial/keep"), "mine").unwrap();
    let r = sg(&["redact", "in", "-o", "out"], d);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(d.join("out.partial/keep")).unwrap(),
        "mine"
    );

    // OUT a parent of INPUT, even with --force: the input survives.
    let r = sg(&["redact", "in/sub", "-o", "in", "--force"], d);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(d.join("in/sub/a.log").exists());

    // OUT inside INPUT through a parent that does not exist yet.
    let r = sg(&["redact", "in", "-o", "in/new/out"], d);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!d.join("in/new").exists());
    assert_eq!(names(&d.join("in")), ["sub"]);

    // An existing pseudonym map needs --force too.
    std::fs::write(d.join("net.network-map.json"), "old map").unwrap();
    let r = sg(&["redact", "in", "-o", "net", "--obfuscate-network"], d);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("net.network-map.json"), "{}", r.stderr);
    assert!(!d.join("net").exists(), "refused before any work");
    assert_eq!(
        std::fs::read_to_string(d.join("net.network-map.json")).unwrap(),
        "old map"
    );
}

#[test]
fn report_and_inspect_open_only_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("bundles/locked")).unwrap();
    let files: &[(&str, &[u8])] = &[("logs/a.log", b"hello\n")];
    write_bundle(
        &d.join("bundles/good.zip"),
        "sg-debug-search-20261125T040506Z",
        &manifest("search", "2026-11-25T04:05:06Z", files),
        files,
    );
    let fifo = d.join("bundles/b.zip");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

    let started = Instant::now();
    let r = sg(&["report", "bundles", "--json"], d);
    assert!(started.elapsed() < Duration::from_secs(20), "report hung");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["bundles"], 1);
    assert!(
        v["skipped"][0]["path"].as_str().unwrap().ends_with("b.zip"),
        "{v:#}"
    );

    let r = sg(&["inspect", "bundles/b.zip"], d);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);

    // A directory that cannot be listed is passed over, not fatal. Root
    // reads anything, so the report runs as nobody.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(d.join("bundles"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        d.join("bundles/good.zip"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(
        d.join("bundles/locked"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(bin())
        .args(["report", "bundles", "--json"])
        .current_dir(d)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("cannot list this directory"), "{stdout}");
}

/// A bundle whose manifest carries terminal escapes and formulas.
fn hostile_manifest_bundle(path: &Path, category: &str) {
    let files: &[(&str, &[u8])] = &[("logs/a.log", b"hello\n")];
    let mut m = manifest(category, "2026-11-25T04:05:06Z", files);
    m["incident"]["note"] = "fine\u{1b}]0;owned\u{7}\u{1b}[2K\rRedactions  none".into();
    m["deployment"]["sourcegraph_version"] = "=1+1".into();
    m["collectors"] = serde_json::json!([{
        "name": "docker\u{1b}[1A\u{1b}[2KRedactions  none", "status": "ok", "duration_ms": 1, "errors": []
    }]);
    write_bundle(path, "sg-debug-search-20261125T040506Z", &m, files);
}

#[test]
fn manifest_text_cannot_drive_the_terminal_or_a_spreadsheet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hostile_manifest_bundle(&d.join("a.zip"), "search");
    let r = sg(&["inspect", "a.zip"], d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains('\r'),
        "{:?}",
        r.stdout
    );
    assert!(r.stdout.contains("\\u{1b}]0;owned"), "{}", r.stdout);
    let r = sg(&["report", "a.zip"], d);
    assert!(!r.stdout.contains('\u{1b}'), "{:?}", r.stdout);

    let r = sg(&["report", "a.zip", "--csv"], d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("sourcegraph_version,'=1+1,1"),
        "{}",
        r.stdout
    );
    for line in r.stdout.lines() {
        for cell in line.split(',') {
            assert!(
                !cell.trim_matches('"').starts_with(['=', '+', '@']),
                "{line}"
            );
        }
    }

    // A category outside the taxonomy is not counted as one.
    hostile_manifest_bundle(&d.join("b.zip"), "=HYPERLINK(\"http://evil.example\")");
    let r = sg(&["report", "b.zip", "a.zip", "--csv"], d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("HYPERLINK"), "{}", r.stdout);
    assert!(
        r.stderr.contains("is not one of sg-debug's"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bodies: Vec<(String, Vec<u8>)> = (0..3000)
        .map(|i| (format!("logs/service-{i:05}.log"), b"x\n".to_vec()))
        .collect();
    let files: Vec<(&str, &[u8])> = bodies
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    write_bundle(
        &d.join("big.zip"),
        "sg-debug-search-20261125T040506Z",
        &manifest("search", "2026-11-25T04:05:06Z", &files),
        &files,
    );
    let mut child = Command::new(bin())
        .args(["inspect", "big.zip", "--list"])
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader goes away, as `| head -1` does.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(first.contains("manifest.json"), "{first}");
}

#[test]
fn an_interrupted_redact_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("in.log");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let child = Command::new(bin())
            .args(["redact", "in.log", "-o", "out.log"])
            .current_dir(d)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Feed a first line and keep the FIFO open: sg-debug is mid-file.
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !d.join("out.log.partial").exists() {
            assert!(Instant::now() < deadline, "sg-debug never started writing");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let out = child.wait_with_output().unwrap();
        drop(w);
        assert_eq!(out.status.code(), Some(code));
        assert_eq!(names(d), ["in.log"], "nothing left behind");
    }
}

#[test]
fn a_tampered_bundle_is_not_laundered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files: &[(&str, &[u8])] = &[("logs/a.log", b"hello\n")];
    let m = manifest("search", "2026-11-25T04:05:06Z", files);
    // The entry was changed after the manifest was written.
    write_bundle(
        &d.join("changed.zip"),
        "sg-debug-search-20261125T040506Z",
        &m,
        &[("logs/a.log", b"hello, changed\n")],
    );
    // An entry the manifest does not list.
    write_bundle(
        &d.join("extra.zip"),
        "sg-debug-search-20261125T040506Z",
        &m,
        &[("logs/a.log", b"hello\n"), ("logs/hidden.log", b"secret\n")],
    );
    for input in ["changed.zip", "extra.zip"] {
        let r = sg(&["redact", input, "-o", "out.zip"], d);
        assert_ne!(r.code, 0, "{input}: {}", r.stdout);
        assert!(
            r.stderr.contains("does not match its manifest"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("--verify"), "{}", r.stderr);
        assert!(!d.join("out.zip").exists());
    }
}

#[test]
fn an_interrupted_extract_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Big enough that extraction is still running when the signal comes:
    // stored, so building it is quick.
    let body: Vec<u8> = (0..(96u32 << 20))
        .map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[(i % 27) as usize])
        .collect();
    let m = manifest("search", "2026-11-25T04:05:06Z", &[("logs/big.log", &body)]);
    let top = "sg-debug-search-20261125T040506Z";
    {
        use zip::write::SimpleFileOptions;
        let mut zip = zip::ZipWriter::new(std::fs::File::create(d.join("b.zip")).unwrap());
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        zip.start_file(format!("{top}/manifest.json"), opts)
            .unwrap();
        zip.write_all(&serde_json::to_vec(&m).unwrap()).unwrap();
        zip.start_file(format!("{top}/logs/big.log"), opts).unwrap();
        zip.write_all(&body).unwrap();
        zip.finish().unwrap();
    }
    drop(body);
    let child = Command::new(bin())
        .args(["inspect", "b.zip", "--extract", "out"])
        .current_dir(d)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !d.join("out.partial/logs/big.log").exists() {
        assert!(Instant::now() < deadline, "extraction never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(0) {
        // Finished before the signal landed: nothing to check this time.
        eprintln!("extraction finished before the signal; not interrupted");
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(names(d), ["b.zip"], "nothing left behind");
}
