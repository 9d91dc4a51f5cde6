//! Logs are bounded by size, newest kept. Neither the Docker nor the
//! Kubernetes API can cut from the end (`limitBytes` keeps the oldest), so
//! the tail is cut here as the stream passes: into a private spool file,
//! never into memory, so that memory does not grow with log size or with
//! the number of logs waiting for the packager.
//!
//! The spool is a ring of `cap` bytes in an unnamed file (`O_TMPFILE` where
//! the kernel has it) inside a private directory beside the bundle: the
//! file disappears when its last handle closes, whatever ends the process.

#[cfg(test)]
use std::fs;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A private (0700) directory for one run's spool files, removed on drop
/// and, through `fsutil::cleanup`, on an abort that skips destructors.
pub struct SpoolDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl SpoolDir {
    /// In `near` (the bundle's directory: it has room for the bundle, so it
    /// has room for what goes into it; `/tmp` may be a small tmpfs that
    /// counts against a pod's memory limit).
    pub fn create(near: &Path) -> io::Result<SpoolDir> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix(".sg-debug-spool-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(near)?;
        let path = dir.path().to_path_buf();
        crate::fsutil::cleanup::register(&path);
        Ok(SpoolDir {
            dir: Some(dir),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        crate::fsutil::cleanup::unregister(&self.path);
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
    }
}

/// Writes are gathered to this size before they reach the file.
const WRITE_BUF: usize = 64 << 10;

/// Keeps the newest `cap` bytes of a stream and counts what was dropped.
pub struct TailSpool {
    file: File,
    cap: u64,
    /// Bytes pushed so far; the ring position is `total % cap`.
    total: u64,
    pending: Vec<u8>,
    /// Held until the packager has read the tail: bounds the spool files
    /// (disk and descriptors) in flight, see `Ctx::log_tail`.
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TailSpool {
    pub fn new(dir: &SpoolDir, cap: u64) -> io::Result<TailSpool> {
        let file = tempfile::tempfile_in(dir.path())?;
        Ok(TailSpool {
            file,
            cap: cap.max(1),
            total: 0,
            pending: Vec::new(),
            slot: None,
        })
    }

    /// The spool keeps `slot` until its reader is dropped.
    pub fn holding(mut self, slot: tokio::sync::OwnedSemaphorePermit) -> TailSpool {
        self.slot = Some(slot);
        self
    }

    pub fn push(&mut self, data: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= WRITE_BUF {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let data = std::mem::take(&mut self.pending);
        // Only the last `cap` bytes of a long write can survive it.
        let skip = (data.len() as u64).saturating_sub(self.cap);
        self.total += skip;
        let mut rest = &data[skip as usize..];
        while !rest.is_empty() {
            let pos = self.total % self.cap;
            let n = rest.len().min((self.cap - pos) as usize);
            self.file.write_all_at(&rest[..n], pos)?;
            self.total += n as u64;
            rest = &rest[n..];
        }
        self.pending = data;
        self.pending.clear();
        Ok(())
    }

    /// Bytes pushed so far, kept or not.
    pub fn total(&self) -> u64 {
        self.total + self.pending.len() as u64
    }

    /// The kept bytes, starting at a whole line when anything was dropped,
    /// behind a notice saying how much is missing. The file is read as the
    /// result is read; it vanishes when the reader is dropped.
    pub fn finish(mut self) -> io::Result<TailReader> {
        self.flush()?;
        self.pending = Vec::new();
        let kept = self.total.min(self.cap);
        let dropped = self.total - kept;
        let start = if dropped > 0 {
            self.total % self.cap
        } else {
            0
        };
        let mut reader = TailReader {
            file: self.file,
            cap: self.cap,
            pos: start,
            left: kept,
            notice: Vec::new(),
            notice_pos: 0,
            _slot: self.slot.take(),
        };
        if dropped == 0 {
            return Ok(reader);
        }
        // Start at a whole line, unless that would leave nothing.
        let cut = match reader.find_newline()? {
            Some(i) if i + 1 < kept => i + 1,
            _ => 0,
        };
        reader.skip(cut);
        reader.notice = format!(
            "[sg-debug: log truncated: the oldest {} bytes were dropped to keep the newest {} (--max-log-bytes)]\n",
            dropped + cut,
            self.cap
        )
        .into_bytes();
        Ok(reader)
    }
}

/// Reads a log stream chunk by chunk into `tail`, giving up when no chunk
/// comes within `timeout`. Returns why it ended early, for the manifest;
/// what was read before is kept either way.
pub async fn read_log<S, B, E>(
    stream: S,
    tail: &mut TailSpool,
    timeout: std::time::Duration,
) -> Option<String>
where
    S: futures_util::Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    let mut stream = std::pin::pin!(stream);
    let why = loop {
        match tokio::time::timeout(timeout, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                if let Err(e) = tail.push(chunk.as_ref()) {
                    break format!("writing the log's spool file: {e}");
                }
            }
            Ok(Some(Err(e))) => break e.to_string(),
            Ok(None) => return None,
            Err(_) => {
                break format!(
                    "the log stream stalled for {}s (raise --timeout)",
                    timeout.as_secs()
                );
            }
        }
    };
    Some(format!(
        "{why}; the bundle has the part read before the failure"
    ))
}

/// Reads a finished spool: the notice, then the ring from its oldest byte.
pub struct TailReader {
    file: File,
    cap: u64,
    pos: u64,
    left: u64,
    notice: Vec<u8>,
    notice_pos: usize,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TailReader {
    /// Offset of the first newline in what is left, if any.
    fn find_newline(&self) -> io::Result<Option<u64>> {
        let mut buf = vec![0u8; WRITE_BUF];
        let (mut pos, mut left, mut seen) = (self.pos, self.left, 0u64);
        while left > 0 {
            let n = (left.min(buf.len() as u64)).min(self.cap - pos) as usize;
            self.file.read_exact_at(&mut buf[..n], pos)?;
            if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                return Ok(Some(seen + i as u64));
            }
            seen += n as u64;
            left -= n as u64;
            pos = (pos + n as u64) % self.cap;
        }
        Ok(None)
    }

    fn skip(&mut self, n: u64) {
        self.pos = (self.pos + n) % self.cap;
        self.left -= n;
    }
}

impl Read for TailReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.notice_pos < self.notice.len() {
            let n = out.len().min(self.notice.len() - self.notice_pos);
            out[..n].copy_from_slice(&self.notice[self.notice_pos..self.notice_pos + n]);
            self.notice_pos += n;
            return Ok(n);
        }
        if self.left == 0 || out.is_empty() {
            return Ok(0);
        }
        let n = (out.len() as u64).min(self.left).min(self.cap - self.pos) as usize;
        self.file.read_exact_at(&mut out[..n], self.pos)?;
        self.skip(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the spool must produce, computed the obvious way in memory.
    fn expected(input: &[u8], cap: usize) -> Vec<u8> {
        if input.len() <= cap {
            return input.to_vec();
        }
        let kept = &input[input.len() - cap..];
        let dropped = input.len() - cap;
        let cut = match memchr::memchr(b'\n', kept) {
            Some(i) if i + 1 < kept.len() => i + 1,
            _ => 0,
        };
        let mut out = format!(
            "[sg-debug: log truncated: the oldest {} bytes were dropped to keep the newest {cap} (--max-log-bytes)]\n",
            dropped + cut
        )
        .into_bytes();
        out.extend_from_slice(&kept[cut..]);
        out
    }

    fn spooled(chunks: &[&[u8]], cap: u64) -> Vec<u8> {
        let dir = SpoolDir::create(Path::new(".")).unwrap();
        let mut t = TailSpool::new(&dir, cap).unwrap();
        for c in chunks {
            t.push(c).unwrap();
        }
        let mut out = Vec::new();
        t.finish().unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn keeps_the_newest_whole_lines() {
        let out =
            String::from_utf8(spooled(&[b"line one\n", b"line two\nline three\n"], 12)).unwrap();
        assert!(out.ends_with("]\nline three\n"), "{out}");
        assert!(
            out.starts_with("[sg-debug: log truncated: the oldest 18 bytes"),
            "{out}"
        );
        assert_eq!(spooled(&[b"short\n"], 100), b"short\n");
        // One line longer than the cap: its tail is better than nothing.
        assert!(spooled(&[b"abcdefgh\n"], 4).ends_with(b"]\nfgh\n"));
        assert_eq!(spooled(&[], 10), b"");
    }

    #[test]
    fn same_bytes_as_the_in_memory_tail_at_every_chunking() {
        let mut input = Vec::new();
        for i in 0..5000u32 {
            input.extend_from_slice(
                format!(
                    "{{\"n\":{i},\"msg\":\"{}\"}}\n",
                    "x".repeat((i % 97) as usize)
                )
                .as_bytes(),
            );
        }
        for cap in [
            1usize,
            7,
            4096,
            65_535,
            65_536,
            200_000,
            input.len() - 1,
            input.len(),
            input.len() + 5,
        ] {
            for chunk in [1usize, 13, 4096, 70_000, input.len()] {
                if chunk == 1 && cap > 10_000 {
                    continue; // slow in debug builds, and covered by the others
                }
                let chunks: Vec<&[u8]> = input.chunks(chunk).collect();
                assert_eq!(
                    spooled(&chunks, cap as u64),
                    expected(&input, cap),
                    "cap {cap}, chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn the_spool_directory_is_private_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let dir = SpoolDir::create(Path::new(".")).unwrap();
        let path = dir.path().to_path_buf();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mut t = TailSpool::new(&dir, 10).unwrap();
        t.push(b"hello\n").unwrap();
        let r = t.finish().unwrap();
        drop(dir);
        assert!(!path.exists());
        drop(r);
    }

    #[test]
    fn a_spool_holds_its_slot_until_its_reader_is_dropped() {
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
        let dir = SpoolDir::create(Path::new(".")).unwrap();
        let slot = slots.clone().try_acquire_owned().unwrap();
        let mut t = TailSpool::new(&dir, 10).unwrap().holding(slot);
        t.push(b"x\n").unwrap();
        let r = t.finish().unwrap();
        assert_eq!(slots.available_permits(), 0, "queued for the packager");
        drop(r);
        assert_eq!(slots.available_permits(), 1, "read: the slot is free");
    }
}
