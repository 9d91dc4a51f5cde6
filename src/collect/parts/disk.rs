//! Disk usage, measured the ways the two deployment types allow: `statvfs`
//! and a directory walk on this host, `df -Pk` and `du -sk` inside a
//! container. Every result is a `bundle::sizes::VolumeUsage`.

use std::collections::BTreeMap;
use std::path::Path;

/// Size, used and available bytes of the file system holding `p`.
pub fn statvfs(p: &Path) -> Option<(u64, u64, u64)> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `s` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let f = s.f_frsize as u64;
    let total = (s.f_blocks as u64).saturating_mul(f);
    let free = (s.f_bfree as u64).saturating_mul(f);
    let avail = (s.f_bavail as u64).saturating_mul(f);
    Some((total, total.saturating_sub(free), avail))
}

/// Bytes in regular files below `p`; links are not followed.
pub fn dir_size(p: &Path) -> u64 {
    let mut total: u64 = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => {
                    total = total.saturating_add(e.metadata().map(|m| m.len()).unwrap_or(0))
                }
                _ => {}
            }
        }
    }
    total
}

/// `df -Pk` output: (size, used, available) bytes by mount point.
pub fn parse_df(out: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let mut m = BTreeMap::new();
    for line in out.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let n = |i: usize| f[i].parse::<u64>().ok().and_then(|k| k.checked_mul(1024));
        if let (Some(size), Some(used), Some(avail)) = (n(1), n(2), n(3)) {
            m.insert(f[5..].join(" "), (size, used, avail));
        }
    }
    m
}

/// `du -sk` output: the bytes of its first line.
pub fn parse_du(out: &str) -> Option<u64> {
    out.split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?
        .checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_output() {
        let out = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/sdb          205375464  10485760 194889704       6% /data/repos\n";
        let m = parse_df(out);
        assert_eq!(
            m["/data/repos"],
            (205375464 * 1024, 10485760 * 1024, 194889704 * 1024)
        );
        assert!(parse_df("Filesystem\n/dev/x 99999999999999999999 1 1 1% /x\n").is_empty());
    }

    #[test]
    fn du_output() {
        assert_eq!(parse_du("12\t/data\n"), Some(12 * 1024));
        assert_eq!(parse_du("du: cannot access"), None);
    }

    #[test]
    fn this_host() {
        let (size, used, avail) = statvfs(Path::new(".")).unwrap();
        assert!(size > 0 && used <= size && avail <= size);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"12345").unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/b"), b"123").unwrap();
        assert_eq!(dir_size(dir.path()), 8);
    }
}
