//! Headless Chromium for the HTML test: found on PATH, run with a
//! throwaway profile and a time bound.
#![allow(dead_code)]

use std::path::Path;

/// The first Chromium-like browser on PATH.
pub fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Headless Chromium, bounded in time, with a throwaway profile.
pub fn run_chromium(bin: &str, profile: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("timeout")
        .arg("120")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A screenshot of `url` to look at, kept in the target directory as
/// `name`; fails when Chromium wrote nothing worth looking at.
pub fn screenshot(
    bin: &str,
    profile: &Path,
    url: &str,
    name: &str,
    size: &str,
) -> std::path::PathBuf {
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        bin,
        profile,
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={size}"),
            url,
        ],
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot at {}",
        shot.display()
    );
    println!("screenshot: {}", shot.display());
    shot
}
