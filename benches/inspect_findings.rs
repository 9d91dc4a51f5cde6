//! `inspect` speed and memory on a large bundle: the manifest-only summary,
//! and the findings, which stream every log.
//!
//!     cargo bench --bench inspect_findings             # 1 GiB, 500 entries
//!     BENCH_MB=100 cargo bench --bench inspect_findings
//!
//! The bundle (realistic Sourcegraph JSON logs, about 10% warnings and
//! errors, a planted signature every ~5,000 lines) is generated once into
//! `target/bench-inspect-<MB>.zip`. The measurement then runs in a fresh
//! child process, so its peak RSS is that of reading, not of generating.

#[path = "support/rss.rs"]
mod rss;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use sg_debug::bundle::Bundle;
use sg_debug::inspect;

const ENTRIES: usize = 500;
const TOP: &str = "sg-debug-search-20261125T040506Z";
const SERVICES: &[&str] = &[
    "frontend",
    "gitserver",
    "searcher",
    "zoekt-webserver",
    "worker",
    "repo-updater",
    "symbols",
    "precise-code-intel-worker",
];
const INFO: &[&str] = &[
    "request completed",
    "search query executed",
    "fetched repository from code host",
    "zoekt shard loaded",
    "graphql request",
    "background job tick",
    "permission sync job finished",
    "git fetch finished",
];

/// Deterministic log body for entry `e` of about `bytes`, written to `out`.
fn log(e: usize, bytes: u64, out: &mut dyn Write) -> io::Result<()> {
    let svc = SERVICES[e % SERVICES.len()];
    let mut written = 0u64;
    let mut i: u64 = e as u64 * 1_000_003;
    let mut line = String::with_capacity(512);
    while written < bytes {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (i >> 33) % 1000;
        let ns = 1_764_043_200_000_000_000u64 + written * 1000;
        let (level, body) = match r {
            0..=69 => ("WARN", format!("slow request to {svc} took {}ms for repo {}", r * 7, i % 5000)),
            70..=99 => ("ERROR", format!("failed to fetch repo github.com/org/repo-{}: context deadline exceeded after {}s", i % 300, r % 30)),
            100 if i.is_multiple_of(5) => ("ERROR", "Get \"https://ghe.internal/api/v3\": x509: certificate signed by unknown authority".to_string()),
            _ => ("INFO", format!("{} id={} duration={}ms", INFO[(r % 8) as usize], i % 100_000, r)),
        };
        line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "2025-11-25T04:{:02}:{:02}.{:09}Z {{\"SeverityText\":\"{level}\",\"Timestamp\":{ns},\"InstrumentationScope\":\"{svc}.handler\",\"Body\":\"{}\",\"Resource\":{{\"service.name\":\"{svc}\",\"service.version\":\"6.12.5040\",\"service.instance.id\":\"{svc}-{e}\"}},\"Attributes\":{{\"trace_id\":\"{:016x}\"}}}}",
            (written / 60_000_000) % 60,
            (written / 1_000_000) % 60,
            written % 1_000_000_000,
            body.replace('"', "\\\""),
            i
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(())
}

struct Hasher(Sha256, u64);
impl Write for Hasher {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.update(b);
        self.1 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn generate(path: &Path, mb: u64) -> io::Result<()> {
    let per = (mb << 20) / (ENTRIES as u64 - 2);
    let summary = serde_json::to_vec(
        &serde_json::json!({"rows": (0..20).map(|i| serde_json::json!({
        "name": format!("{}-{i}/{}", SERVICES[i % 8], SERVICES[i % 8]), "image": "sourcegraph/frontend:6.12.5040",
        "state": "running", "restarts": 0})).collect::<Vec<_>>()}),
    )?;
    let disk = br#"{"volumes":[]}"#.to_vec();
    // Pass 1: sizes and hashes, so the manifest can come first.
    let mut files = vec![
        serde_json::json!({"path": "disk-usage.json", "bytes": disk.len(), "sha256": hex(&Sha256::digest(&disk)), "kind": "metadata", "collector": "bench", "redactions": {}}),
    ];
    let mut names = Vec::new();
    for e in 0..ENTRIES - 2 {
        let name = format!(
            "kubernetes/pods/{}-{e}/{}.log",
            SERVICES[e % 8],
            SERVICES[e % 8]
        );
        let mut h = Hasher(Sha256::new(), 0);
        log(e, per, &mut h)?;
        files.push(serde_json::json!({"path": name, "bytes": h.1, "sha256": hex(&h.0.finalize()), "kind": "log", "collector": "bench", "redactions": {}}));
        names.push(name);
    }
    files.push(serde_json::json!({"path": "summary.json", "bytes": summary.len(), "sha256": hex(&Sha256::digest(&summary)), "kind": "metadata", "collector": "bench", "redactions": {}}));
    let manifest = serde_json::json!({
        "format_version": 1, "tool": {"name": "sg-debug", "version": "0.1.0"},
        "created_at": "2026-11-25T04:05:06Z", "complete": true,
        "incident": {"category": "search"}, "deployment": {"type": "kubernetes"},
        "options": {}, "collectors": [], "files": files,
    });
    let partial = path.with_extension("partial");
    let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(&partial)?));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    zip.start_file(format!("{TOP}/manifest.json"), opts)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
    zip.start_file(format!("{TOP}/disk-usage.json"), opts)?;
    zip.write_all(&disk)?;
    for (e, name) in names.iter().enumerate() {
        zip.start_file(format!("{TOP}/{name}"), opts)?;
        log(e, per, &mut zip)?;
    }
    zip.start_file(format!("{TOP}/summary.json"), opts)?;
    zip.write_all(&summary)?;
    zip.finish()?.flush()?;
    std::fs::rename(partial, path)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn peak_rss_kib() -> u64 {
    rss::peak_rss_kib("self").unwrap_or(0)
}

/// CPU seconds (user + system) this process has used: on a shared machine
/// the wall clock also counts other people's work.
fn cpu_s() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn measure(path: &Path) -> anyhow::Result<()> {
    let t = Instant::now();
    let bundle = Bundle::open(path)?;
    let text = inspect::summary(&bundle);
    let summary_s = t.elapsed().as_secs_f64();
    assert!(text.contains("Incident    search"));
    println!(
        "summary (open + manifest only): {:.3} s, {} entries",
        summary_s,
        bundle.entries().len()
    );

    let mut bundle = Bundle::open(path)?;
    let sigs = inspect::signatures::Signatures::load(&[] as &[&Path])?;
    let t = Instant::now();
    let cpu0 = cpu_s();
    let report = inspect::findings::analyze(&mut bundle, &sigs)?;
    let s = t.elapsed().as_secs_f64();
    let cpu = cpu_s() - cpu0;
    let mb = report.logs.bytes as f64 / 1e6;
    println!(
        "findings: {} log entries, {:.0} MB, {} lines in {s:.2} s = {:.0} MB/s; {} findings, {} top messages",
        report.logs.entries,
        mb,
        report.logs.lines,
        mb / s,
        report.findings.len(),
        report.top_messages.len()
    );
    println!(
        "  on CPU time: {cpu:.2} s = {:.0} MB/s (one thread)",
        mb / cpu
    );
    println!(
        "peak RSS (measuring process): {:.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if let Ok(p) = std::env::var("SG_BENCH_MEASURE") {
        return measure(Path::new(&p));
    }
    let mb: u64 = std::env::var("BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let path = target.join(format!("bench-inspect-{mb}.zip"));
    if !path.exists() {
        let t = Instant::now();
        generate(&path, mb)?;
        println!(
            "generated {} in {:.1} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let status = std::process::Command::new(std::env::current_exe()?)
        .env("SG_BENCH_MEASURE", &path)
        .status()?;
    anyhow::ensure!(status.success(), "measurement failed");
    Ok(())
}
