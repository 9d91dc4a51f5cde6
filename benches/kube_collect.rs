//! The Kubernetes collector against the fake API server: wall time against
//! the ideal, and the collector's peak memory as log volume grows.
//!
//!     cargo bench --bench kube_collect
//!     BENCH_PODS=100 BENCH_LATENCY_MS=20 cargo bench --bench kube_collect
//!
//! Part 1: BENCH_PODS pods x 2 containers, BENCH_LATENCY_MS added to every
//! request, --concurrency 8. The ideal is requests x latency / concurrency:
//! what perfect pipelining of the same requests would take.
//! Part 2: the same few pods with 8x more log per container than the
//! --max-log-bytes cap, then 64x; the peak RSS of sg-debug should not move.
//! Part 3: many large logs at the default settings (120 logs of ~10 MB,
//! 600 of ~3.4 MB): peak RSS against total log volume. With
//! BENCH_BASELINE_BIN=path/to/an/older/sg-debug the same runs are made
//! with it too, and the two bundles' entries are compared byte for byte
//! (all but the manifest and the two size files whose shape changed).
//! BENCH_PART=3 runs part 3 only.
//! Part 4 (BENCH_PART=4 runs it alone): a big namespace, 5,000 pods
//! (BENCH_SCALE_PODS) and 50,000 events (BENCH_SCALE_EVENTS) behind 50 ms
//! of latency: every list is paginated (500 a page), events are bounded
//! (the newest 10,000 kept); wall time against the ideal and peak RSS
//! (aims: 1.3x the ideal, 150 MB). With BENCH_BASELINE_BIN the same run
//! is made with that binary too, and the bundles compared entry by entry.

#[path = "../tests/support/fake_kube.rs"]
mod fake_kube;
#[path = "support/rss.rs"]
mod rss;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_kube::{FakeKube, Scenario};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Outcome {
    wall: Duration,
    peak_rss_kib: i64,
    /// User plus system CPU time of sg-debug.
    cpu: Duration,
    requests: u64,
    bundle_bytes: u64,
}

/// Runs `sg-debug collect` and measures its wall time and peak RSS.
fn run(fake: &FakeKube, dir: &Path, extra: &[&str]) -> Outcome {
    run_bin(env!("CARGO_BIN_EXE_sg-debug"), fake, dir, "out.zip", extra)
}

fn run_bin(bin: &str, fake: &FakeKube, dir: &Path, name: &str, extra: &[&str]) -> Outcome {
    let kc = fake.kubeconfig(dir, "sourcegraph");
    let out = dir.join(name);
    let _ = std::fs::remove_file(&out);
    let before = fake.requests();
    let started = Instant::now();
    // Reaped below with wait4, which also gives the peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(bin)
        .args(["collect", "-c", "performance-resources", "--kubeconfig"])
        .arg(&kc)
        .arg("-o")
        .arg(&out)
        .args(["--concurrency", "8"])
        .args(extra)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting sg-debug");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // The peak is read from /proc (VmHWM, the high-water mark of sg-debug's
    // own address space) while it runs: wait4's ru_maxrss would include
    // this process's memory (the fake API server's), which a spawned child
    // inherits as its high-water mark through exec.
    let mut peak_kib = 0i64;
    let r = loop {
        if let Some(hwm) = rss::peak_rss_kib(&pid.to_string()) {
            peak_kib = peak_kib.max(hwm as i64);
        }
        // SAFETY: waits for our own child; both out-parameters are valid.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r != 0 {
            break r;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "sg-debug failed (status {status})"
    );
    Outcome {
        wall,
        peak_rss_kib: peak_kib,
        cpu: Duration::from_micros(
            (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) as u64 * 1_000_000
                + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) as u64,
        ),
        requests: fake.requests() - before,
        bundle_bytes: std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0),
    }
}

fn main() {
    if env("BENCH_PART", 0) == 3 {
        return many_large_logs();
    }
    if env("BENCH_PART", 0) == 4 {
        return big_namespace();
    }
    let pods = env("BENCH_PODS", 300) as usize;
    let latency = Duration::from_millis(env("BENCH_LATENCY_MS", 50));
    let log_kib = env("BENCH_LOG_KIB", 16) as usize;
    let dir = tempfile::tempdir().unwrap();

    let mut s = Scenario::generated(pods, 2, log_kib << 10);
    s.latency = latency;
    let fake = FakeKube::start(s);
    let o = run(&fake, dir.path(), &[]);
    println!(
        "kube_collect: {pods} pods x 2 containers, {log_kib} KiB log each, {} ms latency, concurrency 8",
        latency.as_millis()
    );
    print_timing(&o, latency);
    drop(fake);

    // Memory against log volume: same pods, same cap, more log.
    let cap_mib = 1;
    let small_pods = env("BENCH_MEM_PODS", 4) as usize;
    println!(
        "memory: {small_pods} pods x 2 containers, --max-log-bytes {cap_mib}MiB, no added latency"
    );
    for factor in [8, 64] {
        let bytes = factor * (cap_mib << 20);
        let fake = FakeKube::start(Scenario::generated(small_pods, 2, bytes));
        let o = run(
            &fake,
            dir.path(),
            &["--max-log-bytes", &format!("{cap_mib}MiB")],
        );
        println!(
            "  {:>4} MiB log per container ({:>5} MiB in all): peak RSS {} MiB, wall {:.2}s",
            bytes >> 20,
            (bytes * small_pods * 2) >> 20,
            o.peak_rss_kib / 1024,
            o.wall.as_secs_f64()
        );
    }
    many_large_logs();
}

/// Part 4: a namespace at the scale of a large customer's.
fn big_namespace() {
    let pods = env("BENCH_SCALE_PODS", 5000) as usize;
    let events = env("BENCH_SCALE_EVENTS", 50_000) as usize;
    let latency = Duration::from_millis(env("BENCH_LATENCY_MS", 50));
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::generated(pods, 1, 4 << 10).with_events(events);
    s.latency = latency;
    let seen = s.seen.clone();
    let fake = FakeKube::start(s);
    let o = run(&fake, dir.path(), &[]);
    let pages = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.contains("limit="))
        .count();
    println!(
        "big namespace: {pods} pods x 1 container (4 KiB log each), {events} events, {} ms latency, concurrency 8; {pages} list pages; aims: ratio 1.3, 150 MB",
        latency.as_millis()
    );
    print_timing(&o, latency);
    if let Ok(bin) = std::env::var("BENCH_BASELINE_BIN") {
        let b = run_bin(&bin, &fake, dir.path(), "baseline.zip", &[]);
        println!("  baseline {bin}:");
        print_timing(&b, latency);
        let (same, compared) = same_entries(
            &dir.path().join("out.zip"),
            &dir.path().join("baseline.zip"),
        );
        println!("  entries identical to the baseline's: {same} of {compared} compared");
    }
}

/// Requests, wall time against the ideal (requests x latency /
/// concurrency 8), peak RSS, CPU and bundle size.
fn print_timing(o: &Outcome, latency: Duration) {
    let ideal = latency.as_secs_f64() * o.requests as f64 / 8.0;
    println!(
        "  {} requests; wall {:.2}s; ideal {:.2}s (requests x latency / concurrency); ratio {:.2}",
        o.requests,
        o.wall.as_secs_f64(),
        ideal,
        o.wall.as_secs_f64() / ideal
    );
    println!(
        "  peak RSS {} MiB; sg-debug CPU {:.2}s; bundle {} KiB",
        o.peak_rss_kib / 1024,
        o.cpu.as_secs_f64(),
        o.bundle_bytes >> 10
    );
}

/// Part 3: the figures of the memory issue, at the default settings.
fn many_large_logs() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = std::env::var("BENCH_BASELINE_BIN").ok();
    println!("many large logs, default settings (--max-log-bytes 10MiB, --concurrency 8):");
    for (pods, bytes) in [(60usize, 10_000_000usize), (300, 3_400_000)] {
        let fake = FakeKube::start(Scenario::generated(pods, 2, bytes));
        let total_mb = (pods * 2 * bytes) as f64 / 1e6;
        let o = run(&fake, dir.path(), &[]);
        println!(
            "  {:>3} logs x {:.1} MB = {:>6.0} MB of log: peak RSS {:>4} MiB, wall {:.1}s, bundle {} MiB",
            pods * 2,
            bytes as f64 / 1e6,
            total_mb,
            o.peak_rss_kib / 1024,
            o.wall.as_secs_f64(),
            o.bundle_bytes >> 20
        );
        if let Some(bin) = &baseline {
            let b = run_bin(bin, &fake, dir.path(), "baseline.zip", &[]);
            println!(
                "      baseline {bin}: peak RSS {:>4} MiB, wall {:.1}s",
                b.peak_rss_kib / 1024,
                b.wall.as_secs_f64()
            );
            let (same, compared) = same_entries(
                &dir.path().join("out.zip"),
                &dir.path().join("baseline.zip"),
            );
            println!("      entries identical to the baseline's: {same} of {compared} compared");
        }
    }
}

/// Entries present in both bundles with equal bytes, and how many were
/// compared (the manifest and the size files are not).
fn same_entries(a: &Path, b: &Path) -> (usize, usize) {
    use std::io::Read;
    fn read(p: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
        let mut out = std::collections::BTreeMap::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().split_once('/').unwrap().1.to_string();
            let mut body = Vec::new();
            f.read_to_end(&mut body).unwrap();
            out.insert(name, body);
        }
        out
    }
    let (a, b) = (read(a), read(b));
    let skip = ["manifest.json", "disk-usage.json", "kubernetes/sizes.json"];
    // The fake API server stamps log lines with the time of the request:
    // compare logs with that column taken out.
    let unstamped = |name: &str, body: &[u8]| -> Vec<u8> {
        if !name.ends_with(".log") {
            return body.to_vec();
        }
        let mut out = Vec::with_capacity(body.len());
        for line in body.split_inclusive(|b| *b == b'\n') {
            let stamped = line.len() > 31 && line[4] == b'-' && line[10] == b'T';
            match line.iter().position(|b| *b == b' ') {
                Some(i) if stamped => out.extend_from_slice(&line[i..]),
                _ => out.extend_from_slice(line),
            }
        }
        out
    };
    let mut same = 0;
    let mut compared = 0;
    for (name, body) in &b {
        if skip.contains(&name.as_str()) {
            continue;
        }
        compared += 1;
        if a.get(name).map(|x| unstamped(name, x)) == Some(unstamped(name, body)) {
            same += 1;
        } else {
            println!("      differs: {name}");
        }
    }
    (same, compared)
}
