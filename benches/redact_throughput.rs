//! Redaction throughput and memory on realistic Sourcegraph JSON logs.
//!
//!     cargo bench --bench redact_throughput            # 200 MB
//!     BENCH_MB=50 cargo bench --bench redact_throughput
//!
//! Generates the log file (one planted secret per ~1,000 lines), then
//! streams it through the redaction pass on one thread into a sink, and
//! reports MB/s and the process's peak RSS. `benches/compare-ripgrep.sh`
//! times ripgrep on the same file for comparison.

#[path = "support/rss.rs"]
mod rss;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::Instant;

use sg_debug::artifact::{Artifact, ArtifactMeta, Body};
use sg_debug::bundle::{BundlePath, FileKind};
use sg_debug::redact::rules::RuleSet;
use sg_debug::redact::{Outcome, Redactor};

const SERVICES: &[&str] = &[
    "frontend",
    "gitserver",
    "searcher",
    "zoekt-webserver",
    "worker",
    "repo-updater",
    "precise-code-intel-worker",
    "symbols",
];
const MESSAGES: &[&str] = &[
    "request completed",
    "search query executed",
    "fetched repository from code host",
    "cache key computed for shard",
    "permission sync job finished",
    "git fetch finished",
    "zoekt shard loaded",
    "updating repository metadata",
    "graphql request",
    "background job tick",
];
const REPOS: &[&str] = &[
    "github.com/acme/api",
    "github.com/acme/web",
    "gitlab.example.com/platform/infra",
    "bitbucket.example.com/PROJ/billing",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit((self.next() % 16) as u32, 16).unwrap())
            .collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[(self.next() % A.len() as u64) as usize] as char)
            .collect()
    }
}

fn secret(r: &mut Rng, i: u64) -> String {
    match i % 6 {
        0 => format!(
            "\"Body\":\"auth with token sgp_{}_{}\"",
            r.hex(16),
            r.hex(40)
        ),
        1 => format!(
            "\"Body\":\"clone https://oauth2:glpat-{}@gitlab.example.com/platform/infra.git\"",
            r.alnum(20)
        ),
        2 => format!(
            "\"Body\":\"connecting\",\"Attributes\":{{\"dsn\":\"postgres://sg:{}@pgsql:5432/sg\"}}",
            r.alnum(12)
        ),
        3 => format!(
            "\"Body\":\"request {{\\\"token\\\":\\\"ghp_{}\\\"}}\"",
            r.alnum(36)
        ),
        4 => format!(
            "\"Body\":\"upstream header Authorization: Bearer {}\"",
            r.alnum(32)
        ),
        _ => format!("\"Body\":\"env PGPASSWORD={} loaded\"", r.alnum(16)),
    }
}

fn generate(path: &std::path::Path, bytes: u64) -> io::Result<(u64, u64)> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut r = Rng(0x5eed);
    let (mut written, mut lines, mut secrets) = (0u64, 0u64, 0u64);
    let mut ts = 1_764_043_200_000_000_000u64;
    while written < bytes {
        ts += r.next() % 50_000_000;
        let svc = r.pick(SERVICES);
        let body = if r.next().is_multiple_of(1000) {
            secrets += 1;
            secret(&mut r, secrets)
        } else {
            format!(
                "\"Body\":\"{}\",\"Attributes\":{{\"repo\":\"{}\",\"commit\":\"{}\",\"duration\":\"{}.{:03}s\",\"trace_id\":\"{}\",\"span_id\":\"{}\",\"status\":{}}}",
                r.pick(MESSAGES),
                r.pick(REPOS),
                r.hex(40),
                r.next() % 10,
                r.next() % 1000,
                r.hex(32),
                r.hex(16),
                [200, 200, 200, 404, 500][(r.next() % 5) as usize]
            )
        };
        let line = format!(
            "{{\"SeverityText\":\"{}\",\"Timestamp\":{ts},\"InstrumentationScope\":\"{svc}\",\"Caller\":\"{svc}/internal/handler.go:{}\",\"Function\":\"github.com/sourcegraph/sourcegraph/{svc}.(*Handler).Serve\",{body},\"Resource\":{{\"service.name\":\"{svc}\",\"service.version\":\"6.12.5040\",\"service.instance.id\":\"{svc}-{}\"}}}}\n",
            ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"][(r.next() % 6) as usize],
            r.next() % 900 + 10,
            r.hex(8),
        );
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
        lines += 1;
    }
    w.flush()?;
    Ok((lines, secrets))
}

fn peak_rss_kib() -> u64 {
    rss::peak_rss_kib("self").unwrap_or(0)
}

fn main() -> io::Result<()> {
    let mb: u64 = std::env::var("BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let path = std::env::var("BENCH_LOG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("sg-debug-bench-{mb}MB.log")));
    let (lines, secrets) = generate(&path, mb << 20)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "input: {} ({:.1} MB, {lines} lines, {secrets} planted secrets)",
        path.display(),
        size as f64 / 1e6
    );
    let rss_before = peak_rss_kib();

    let redactor = Redactor::new(RuleSet::defaults());
    let best = (0..3)
        .map(|_| {
            let artifact = Artifact {
                meta: ArtifactMeta {
                    path: BundlePath::new("logs/frontend.log").unwrap(),
                    kind: FileKind::Log,
                    collector: "bench".into(),
                },
                body: Body::Stream(Box::new(File::open(&path).unwrap())),
            };
            let Outcome::Kept(k) = redactor.redact(artifact) else {
                panic!("omitted")
            };
            let (_, mut body, counts) = k.into_parts();
            let t = Instant::now();
            let n = io::copy(&mut body, &mut io::sink()).unwrap();
            let secs = t.elapsed().as_secs_f64();
            let found: u64 = counts.snapshot().values().sum();
            println!(
                "  pass: {:.2}s, {:.0} MB/s, {found} replacements, {n} bytes out",
                secs,
                size as f64 / 1e6 / secs
            );
            assert!(
                found >= secrets,
                "missed planted secrets: {found} < {secrets}"
            );
            secs
        })
        .fold(f64::MAX, f64::min);
    println!(
        "redaction, one thread, best of 3: {:.0} MB/s",
        size as f64 / 1e6 / best
    );
    println!(
        "peak RSS: {:.1} MiB after generating, {:.1} MiB after redacting",
        rss_before as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0
    );
    if std::env::var("BENCH_KEEP").is_err() {
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
