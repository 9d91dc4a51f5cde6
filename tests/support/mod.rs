//! Shared helpers for the CLI tests: run the real binary, and craft
//! bundles by hand (including broken and hostile ones) with the zip crate.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn sg(args: &[&str], cwd: &Path) -> Run {
    Run::from(command(cwd).args(args).output().expect("running sg-debug"))
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// sg-debug in `cwd`, blind to the developer's own Kubernetes
/// configuration and triage ledger: a kubeconfig in $HOME must never send
/// a test's collection to a real cluster, nor a test write to the
/// developer's ledger (its default is below $HOME, which is `cwd`).
///
/// `SG_DEBUG_BIN=path` runs the tests against another build (an older
/// release, to see that a regression test fails there).
pub fn command(cwd: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(cwd)
        .stdin(Stdio::null())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("SG_DEBUG_CATEGORIES")
        .env_remove("SG_DEBUG_LEDGER")
        .env_remove("XDG_DATA_HOME")
        .env("HOME", cwd);
    // Nor to a Sourcegraph instance of the developer's (src-cli's variables).
    c.env_remove("SRC_ENDPOINT").env_remove("SRC_ACCESS_TOKEN");
    c
}

pub fn bin() -> String {
    std::env::var("SG_DEBUG_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sg-debug").to_string())
}

pub fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A manifest as a script would see it, listing `files` with true hashes.
pub fn manifest(category: &str, created_at: &str, files: &[(&str, &[u8])]) -> serde_json::Value {
    serde_json::json!({
        "format_version": 1,
        "tool": {"name": "sg-debug", "version": "0.1.0"},
        "created_at": created_at,
        "complete": true,
        "incident": {"category": category},
        "deployment": {"type": "unknown"},
        "options": {},
        "collectors": [],
        "files": files.iter().map(|(p, b)| serde_json::json!({
            "path": p, "bytes": b.len(), "sha256": sha256(b),
            "kind": if p.starts_with("config/") { "config" } else { "log" }, "collector": "test", "redactions": {}
        })).collect::<Vec<_>>(),
    })
}

/// Writes a zip with exactly these entry names and contents, in order.
pub fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in entries {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(body).unwrap();
    }
    zip.finish().unwrap();
}

/// A valid bundle: manifest first, then the files, under `top/`.
pub fn write_bundle(path: &Path, top: &str, manifest: &serde_json::Value, files: &[(&str, &[u8])]) {
    let m = serde_json::to_vec_pretty(manifest).unwrap();
    let mut entries: Vec<(String, &[u8])> = vec![(format!("{top}/manifest.json"), &m)];
    for (p, b) in files {
        entries.push((format!("{top}/{p}"), b));
    }
    let refs: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    write_zip(path, &refs);
}

/// Every regular file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A bundle sg-debug wrote, verified, with every entry as text.
pub fn read_bundle(
    path: &Path,
) -> (
    sg_debug::bundle::Manifest,
    std::collections::BTreeMap<String, String>,
) {
    let mut b = sg_debug::bundle::Bundle::open(path).unwrap();
    let v = b.verify();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let names: Vec<String> = b.entries().iter().map(|e| e.name.clone()).collect();
    let files = names
        .into_iter()
        .map(|n| {
            let data = b.read_entry(&n).unwrap();
            (n, String::from_utf8_lossy(&data).into_owned())
        })
        .collect();
    (b.manifest().clone(), files)
}

/// Whether a Docker engine holding `image`, and docker-compose, answer
/// (`scripts/docker-up` makes both); under `CI` their absence fails the
/// test instead of skipping it.
pub fn docker_ready(image: &str) -> bool {
    let ok = Command::new("docker")
        .args(["image", "inspect", "--format", "ok", image])
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("docker-compose")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Docker engine with the test image {image}, or no docker-compose, answers; run scripts/docker-up"
        );
        eprintln!(
            "SKIPPED: no Docker engine with the test image {image}, or no docker-compose; run scripts/docker-up"
        );
    }
    ok
}
