//! Peak memory, as the benchmarks report it: `VmHWM` from /proc, the
//! high-water mark of one process's own address space (`wait4`'s
//! `ru_maxrss` would count what a spawned child inherited through exec).

/// Peak resident set of `pid` (`"self"` for this process), in KiB.
pub fn peak_rss_kib(pid: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
