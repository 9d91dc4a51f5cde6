//! Replays what the fuzzers kept, on stable Rust, in the normal
//! `cargo test`: every file in `fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/` must pass the target's invariants
//! (`tests/support/invariants.rs`, the same checks the fuzz targets run).
//!
//! Inputs that still break an invariant (bugs found, not fixed yet) live in
//! `fuzz/regressions/<target>/open/`: they are counted and named here, not
//! run. Once the bug is fixed, move the file up one directory so it guards
//! the fix; `cargo test --test fuzz_regressions -- --ignored` shows which
//! open inputs pass already.

#[path = "support/invariants.rs"]
mod invariants;

use std::fs;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The regular files directly in `dir`, sorted (none if it is missing).
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

/// Runs `target`'s invariants on each file; the failures, with why.
fn failures(target: &str, inputs: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut failed = Vec::new();
    for p in inputs {
        let data = fs::read(p).unwrap();
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| invariants::run(target, &data))) {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            failed.push((p.clone(), why));
        }
    }
    failed
}

fn replay(target: &str) {
    let seeds = files(&fuzz_dir().join("seeds").join(target));
    let kept = files(&fuzz_dir().join("regressions").join(target));
    let open = files(&fuzz_dir().join("regressions").join(target).join("open"));
    assert!(!seeds.is_empty(), "no seeds for {target}");
    if !open.is_empty() {
        let mut note = format!(
            "{target}: {} known-failing input(s) in fuzz/regressions/{target}/open/ not replayed (open bugs):\n",
            open.len()
        );
        for p in &open {
            note += &format!("  {}\n", p.file_name().unwrap().to_string_lossy());
        }
        say(note.trim_end());
    }
    let inputs: Vec<PathBuf> = seeds.into_iter().chain(kept).collect();
    let failed = failures(target, &inputs);
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs break an invariant:\n{}",
        failed.len(),
        inputs.len(),
        failed
            .iter()
            .map(|(p, why)| format!("{}: {why}", p.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn bundle_reader() {
    replay("bundle_reader");
}

#[test]
fn redact_structured() {
    replay("redact_structured");
}

#[test]
fn redact_lines() {
    replay("redact_lines");
}

#[test]
fn drift_manifests() {
    replay("drift_manifests");
}

#[test]
fn every_target_has_a_test() {
    for t in invariants::TARGETS {
        assert!(fuzz_dir().join("seeds").join(t).is_dir(), "{t}");
    }
}

/// The open (known-failing) inputs: which still fail, and which pass now
/// and can move out of open/ to guard the fix.
#[test]
#[ignore = "open bugs: run with --ignored to see which are fixed"]
fn open_regressions_status() {
    let mut still = 0;
    for t in invariants::TARGETS {
        let open = files(&fuzz_dir().join("regressions").join(t).join("open"));
        let failed = failures(t, &open);
        for p in &open {
            let name = p.file_name().unwrap().to_string_lossy();
            match failed.iter().find(|(f, _)| f == p) {
                Some((_, why)) => {
                    still += 1;
                    say(&format!(
                        "{t}/open/{name}: still fails: {}",
                        first_line(why)
                    ));
                }
                None => say(&format!(
                    "{t}/open/{name}: PASSES now; move it out of open/"
                )),
            }
        }
    }
    say(&format!("{still} open input(s) still fail"));
}

/// A line on stderr that libtest does not capture, so it shows on every run.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
