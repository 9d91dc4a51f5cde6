//! The triage ledger at scale, on SQLite:
//!
//!     cargo bench --bench triage_report
//!
//! 1. `sg-debug report --json` over a ledger of 10,000 incidents and
//!    50,000 records (target: under one second). The ledger is built once
//!    into `target/bench-ledger-10k.sqlite` through the ledger's own write.
//! 2. `sg-debug triage import` of 1,000 bundles (512 KiB of incompressible
//!    log each, 500 MiB in all, made once into `target/bench-import/`): the
//!    wall time of the command, and, for the same work in this process,
//!    the bytes actually read (`rchar` from /proc/self/io) against the
//!    bundles' total size. Reading a manifest costs the zip's directory
//!    and the manifest's own bytes, a few KiB whatever the bundle holds;
//!    the check fails if any bundle's entries were read.

#[path = "support/rss.rs"]
mod rss;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use sg_debug::category;
use sg_debug::ledger::outcome;
use sg_debug::ledger::{self, Incident, Ledger, Location, Record};

const INCIDENTS: usize = 10_000;
const RECORDS: usize = 50_000;
const BUNDLES: usize = 1_000;
const LOG_BYTES: usize = 512 << 10;

fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// A deterministic stream of numbers (an LCG): the same ledger every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn build_ledger(path: &Path) {
    let mut rng = Lcg(42);
    let start: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let versions = ["6.9.0", "6.10.2", "6.11.0", "6.12.5040", "5.11.6271"];
    let kinds = [
        "kubernetes",
        "docker-compose",
        "pure-docker",
        "single-container",
    ];
    let incidents: Vec<Incident> = (0..INCIDENTS)
        .map(|i| Incident {
            id: hex(&Sha256::digest(i.to_le_bytes())),
            category: category::all()[rng.next() as usize % category::all().len()]
                .id
                .clone(),
            ticket: Some(format!("T-{i}")),
            deployment_type: kinds[rng.next() as usize % kinds.len()].into(),
            flavour: rng.next().is_multiple_of(3).then(|| "helm".to_string()),
            sourcegraph_version: Some(versions[rng.next() as usize % versions.len()].into()),
            collected_at: start + chrono::Duration::minutes((rng.next() % (700 * 24 * 60)) as i64),
        })
        .collect();
    let records: Vec<Record> = (0..RECORDS)
        .map(|r| {
            let inc = &incidents[rng.next() as usize % INCIDENTS];
            Record {
                id: hex(&Sha256::digest(((r as u64 + 1) << 40).to_le_bytes())),
                incident_id: inc.id.clone(),
                recorded_at: inc.collected_at + chrono::Duration::hours((rng.next() % 200) as i64),
                effort_seconds: 900 + rng.next() % (6 * 3600),
                outcome: outcome::all()[rng.next() as usize % outcome::all().len()]
                    .id
                    .clone(),
                root_cause: rng
                    .next()
                    .is_multiple_of(2)
                    .then(|| format!("root cause {}", rng.next() % 200)),
                doc_url: rng
                    .next()
                    .is_multiple_of(10)
                    .then(|| format!("https://docs.example/page-{}", rng.next() % 50)),
                category: None,
                ticket: None,
                note: Some("a note of about the length people write, saying what was tried".into()),
            }
        })
        .collect();
    let t = Instant::now();
    let mut l = Ledger::open(&Location::Sqlite(path.into())).unwrap();
    l.write(&incidents, &records).unwrap();
    println!(
        "built {} ({INCIDENTS} incidents, {RECORDS} records) in {:.1}s",
        path.display(),
        t.elapsed().as_secs_f64()
    );
}

fn run(args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sg-debug"))
        .args(args)
        .output()
        .unwrap();
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn report() {
    let path = target().join("bench-ledger-10k.sqlite");
    if !path.exists() {
        build_ledger(&path);
    }
    let p = path.to_str().unwrap();
    let mut times: Vec<Duration> = (0..5)
        .map(|_| run(&["report", "--json", "--ledger", p]))
        .collect();
    times.sort();
    println!(
        "report --json, {INCIDENTS} incidents / {RECORDS} records: median {:.0} ms, best {:.0} ms (target < 1000 ms)",
        times[2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let mut l = Ledger::open(&Location::Sqlite(path.clone())).unwrap();
    let w = ledger::Window::default();
    let (totals, lessons) = l.load(&w).unwrap();
    let loaded = t.elapsed();
    let rep = ledger::report::build(&w, &totals, &lessons);
    println!(
        "  in process: load {:.0} ms, aggregate {:.0} ms; {:.0} hours in all; peak RSS {} MiB",
        loaded.as_secs_f64() * 1000.0,
        (t.elapsed() - loaded).as_secs_f64() * 1000.0,
        rep.hours,
        rss::peak_rss_kib("self").unwrap_or(0) / 1024
    );
}

fn make_bundles(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Lcg(7);
    for b in 0..BUNDLES {
        let log: Vec<u8> = (0..LOG_BYTES).map(|_| rng.next() as u8).collect();
        let at = format!(
            "2026-{:02}-{:02}T10:00:{:02}Z",
            1 + b % 12,
            1 + b % 28,
            b % 60
        );
        let top = format!("sg-debug-search-{b}");
        let manifest = serde_json::json!({
            "format_version": 1,
            "tool": {"name": "sg-debug", "version": "0.1.0"},
            "created_at": at,
            "complete": true,
            "incident": {"category": category::all()[b % category::all().len()].id, "ticket": format!("T-{b}")},
            "deployment": {"type": "kubernetes", "sourcegraph_version": "6.12.5040"},
            "options": {}, "collectors": [],
            "files": [{"path": "logs/frontend.log", "bytes": log.len(), "sha256": hex(&Sha256::digest(&log)),
                       "kind": "log", "collector": "bench", "redactions": {}}],
        });
        let f = std::fs::File::create(dir.join(format!("{top}.zip"))).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.start_file(format!("{top}/manifest.json"), o).unwrap();
        std::io::Write::write_all(&mut z, &serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        z.start_file(format!("{top}/logs/frontend.log"), o).unwrap();
        std::io::Write::write_all(&mut z, &log).unwrap();
        z.finish().unwrap();
    }
}

fn rchar() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn import() {
    let dir = target().join("bench-import");
    if !dir.join("done").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        make_bundles(&dir.join("bundles"));
        std::fs::write(dir.join("done"), "").unwrap();
    }
    let bundles = dir.join("bundles");
    let total: u64 = std::fs::read_dir(&bundles)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let ledger_path = dir.join("ledger.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(sg_debug::fsutil::with_suffix(&ledger_path, suffix));
    }
    let d = run(&[
        "triage",
        "import",
        bundles.to_str().unwrap(),
        "--ledger",
        ledger_path.to_str().unwrap(),
    ]);
    println!(
        "triage import of {BUNDLES} bundles ({} MiB): {:.0} ms ({:.2} ms per bundle)",
        total >> 20,
        d.as_secs_f64() * 1000.0,
        d.as_secs_f64() * 1000.0 / BUNDLES as f64
    );
    // The same reading in this process, counting the bytes read.
    let files: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&bundles)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let before = rchar();
    let t = Instant::now();
    let incidents = ledger::read_incidents(&files).unwrap();
    let read = rchar() - before;
    let per_bundle = read / BUNDLES as u64;
    println!(
        "  reading {} manifests: {:.0} ms, {} KiB read of {} MiB of bundles ({:.2}%): {} KiB per bundle of {} KiB",
        incidents.len(),
        t.elapsed().as_secs_f64() * 1000.0,
        read >> 10,
        total >> 20,
        read as f64 * 100.0 / total as f64,
        per_bundle >> 10,
        (total / BUNDLES as u64) >> 10,
    );
    // Each log entry alone is LOG_BYTES: reading any would pass this.
    assert!(
        per_bundle < LOG_BYTES as u64 / 4,
        "import read {per_bundle} bytes per bundle: more than manifests"
    );
}

fn main() {
    report();
    import();
}
