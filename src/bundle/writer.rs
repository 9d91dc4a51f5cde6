//! The packager. Artifacts stream into a spool zip as they arrive (in
//! whatever order collectors finish); `finish` then writes the real bundle
//! with `manifest.json` first and the entries in path order, copying the
//! already-compressed bytes without recompressing them. Both files are
//! `.partial` until the final rename, so a crash or error never leaves
//! something that looks like a finished bundle.
//!
//! What reaches disk is only ever redacted: entries arrive as
//! `RedactedArtifact`s, which only the redaction pass can make, and the
//! manifest is sealed (see `seal.rs`) here, after its last field is filled
//! and before it is serialized; the leak scan then re-reads both.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::format::{FileRecord, LeakScan, MANIFEST_NAME, Manifest};
use super::seal::SealedManifest;
use crate::fsutil::{Partial, with_suffix};
use crate::redact::scan;
use crate::redact::{RedactedArtifact, Redactor};

pub struct BundleWriter {
    dest: PathBuf,
    /// `--force`: replace `dest` at the end. Without it, a `dest` that
    /// appeared during the (long) collection is not replaced either.
    force: bool,
    /// The bundle being written (renamed to `dest` at the end) and the
    /// entry spool: both removed, on drop or abort, unless committed.
    partial: Option<Partial>,
    spool_file: Partial,
    spool: Option<ZipWriter<BufWriter<File>>>,
    out: Option<File>,
    stem: String,
    options: SimpleFileOptions,
    files: Vec<FileRecord>,
    seen: HashSet<String>,
    redactor: Redactor,
    leak_scan: bool,
    /// Entries a post-collection reader asked to see again (redacted, as
    /// written): see `keep`.
    keep: Option<fn(&str) -> bool>,
    kept: BTreeMap<String, Vec<u8>>,
}

/// A kept entry larger than this is not kept (it is still written).
const MAX_KEPT_BYTES: usize = 64 << 20;

impl BundleWriter {
    /// Prepares to write `dest`. Refuses an existing `dest` unless `force`.
    /// `stem` is the top folder every entry lives under; `created_at` is
    /// stamped on every entry so the same input gives the same bytes.
    /// `redactor` seals the manifest and, with `leak_scan`, re-reads
    /// everything written.
    pub fn create(
        dest: &Path,
        stem: &str,
        created_at: DateTime<Utc>,
        force: bool,
        redactor: Redactor,
        leak_scan: bool,
    ) -> Result<BundleWriter> {
        if dest.is_dir() {
            bail!(
                "output path {} is a directory; give a file name such as {}/{stem}.zip",
                dest.display(),
                dest.display()
            );
        }
        if dest.exists() && !force {
            bail!(
                "{} already exists; pass --force to overwrite it, or choose another name with -o",
                dest.display()
            );
        }
        // Both files are created now, exclusively: a path that exists (a
        // planted link, a crashed run's leftovers) is refused before any
        // work, and whatever the guards remove later is ours.
        let (partial, out) = Partial::file(with_suffix(dest, ".partial"))?;
        let (spool_file, spool) = Partial::file(with_suffix(dest, ".entries.partial"))?;
        let stamp = zip::DateTime::from_date_and_time(
            created_at.year().clamp(1980, 2107) as u16,
            created_at.month() as u8,
            created_at.day() as u8,
            created_at.hour() as u8,
            created_at.minute() as u8,
            created_at.second() as u8,
        )
        .unwrap_or_default();
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(stamp)
            .unix_permissions(0o600)
            // Logs can exceed 4 GiB in aggregate and, rarely, alone.
            .large_file(true);
        Ok(BundleWriter {
            dest: dest.to_path_buf(),
            force,
            partial: Some(partial),
            spool_file,
            spool: Some(ZipWriter::new(BufWriter::new(spool))),
            out: Some(out),
            stem: stem.to_string(),
            options,
            files: Vec::new(),
            seen: HashSet::new(),
            redactor,
            leak_scan,
            keep: None,
            kept: BTreeMap::new(),
        })
    }

    /// From now on, keep a copy of what is written for entries `wanted`
    /// names, for a reader that runs after collection (the upstream diff):
    /// it sees exactly what the bundle holds, redacted.
    pub fn keep(&mut self, wanted: fn(&str) -> bool) {
        self.keep = Some(wanted);
    }

    /// The kept entries by path.
    pub fn kept(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.kept
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Streams one artifact into the bundle. On error the entry is dropped
    /// whole (never half-included) and the writer stays usable, so the
    /// caller can record the failure and go on with the next artifact.
    pub fn add(&mut self, artifact: RedactedArtifact) -> Result<&FileRecord> {
        let (meta, mut body, counts) = artifact.into_parts();
        let path = meta.path.as_str().to_string();
        if !self.seen.insert(path.clone()) {
            bail!(
                "two artifacts named '{path}' (collector {})",
                meta.collector
            );
        }
        let spool = self.spool.as_mut().expect("add after finish");
        spool
            .start_file(format!("{}/{path}", self.stem), self.options)
            .with_context(|| format!("starting bundle entry {path}"))?;
        let mut sink = HashingWriter::new(&mut *spool);
        let keep = self.keep.is_some_and(|w| w(&path));
        let mut copy = Vec::new();
        let copied = if keep {
            io::copy(
                &mut Tee {
                    inner: &mut body,
                    copy: &mut copy,
                },
                &mut sink,
            )
        } else {
            io::copy(&mut body, &mut sink)
        };
        let (bytes, sha256) = sink.finish();
        if let Err(e) = copied {
            self.seen.remove(&path);
            spool
                .abort_file()
                .with_context(|| format!("dropping failed entry {path}"))?;
            return Err(e).with_context(|| format!("reading artifact {path}"));
        }
        if keep && copy.len() <= MAX_KEPT_BYTES {
            self.kept.insert(path.clone(), copy);
        }
        self.files.push(FileRecord {
            path,
            bytes,
            sha256,
            kind: meta.kind,
            collector: meta.collector,
            redactions: counts.snapshot(),
            notes: counts.notes(),
        });
        Ok(self.files.last().expect("just pushed"))
    }

    /// Writes the final bundle and returns its path and the manifest as
    /// written. `draft.files` is filled in here from what was actually
    /// written; then the manifest is sealed, and with the leak scan every
    /// entry and the sealed manifest are re-read for secrets first.
    pub fn finish(mut self, mut draft: Manifest) -> Result<(PathBuf, Manifest)> {
        let spool = self.spool.take().expect("finish twice");
        let spool = spool
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error().into()))
            .context("finishing the entry spool")?;
        drop(spool);
        let mut files = std::mem::take(&mut self.files);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        draft.files = files;
        draft.leak_scan = None;
        let mut manifest = SealedManifest::seal(draft, &self.redactor);

        let mut src = ZipArchive::new(File::open(self.spool_file.path())?)
            .context("re-reading the entry spool")?;
        let mut order: Vec<(String, usize)> = (0..src.len())
            .map(|i| Ok((src.by_index_raw(i)?.name()?.into_owned(), i)))
            .collect::<Result<_, zip::result::ZipError>>()
            .context("re-reading the entry spool")?;
        order.sort();
        if self.leak_scan {
            let mut red = self.redactor.line_redactor();
            let mut hits = Vec::new();
            for (name, i) in &order {
                let rel = name.split_once('/').map_or(name.as_str(), |(_, r)| r);
                let entry = BufReader::new(src.by_index(*i)?);
                scan::scan(&mut red, rel, entry, &mut hits)
                    .with_context(|| format!("re-reading {rel} for the leak scan"))?;
            }
            let json = manifest_json(&manifest)?;
            scan::scan(&mut red, MANIFEST_NAME, json.as_slice(), &mut hits)
                .context("re-reading the manifest for the leak scan")?;
            manifest.set_leak_scan(LeakScan {
                files: order.len() as u64 + 1,
                hits,
            });
        }

        let out = self.out.take().expect("finish once");
        let mut zip = ZipWriter::new(BufWriter::new(out));
        zip.start_file(format!("{}/{MANIFEST_NAME}", self.stem), self.options)?;
        zip.write_all(&manifest_json(&manifest)?)?;
        for (_, i) in order {
            zip.raw_copy_file(src.by_index_raw(i)?)?;
        }
        let partial = self.partial.take().expect("finish once");
        let shown = partial.path().display().to_string();
        let out = zip
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error().into()))
            .with_context(|| format!("writing {shown}"))?;
        out.sync_all().with_context(|| format!("writing {shown}"))?;
        drop(out);
        if self.force {
            partial.commit(&self.dest)?;
        } else {
            partial.commit_new(&self.dest)?;
        }
        Ok((self.dest.clone(), manifest.into_inner()))
    }
}

/// The only way a manifest becomes bytes in a bundle.
fn manifest_json(m: &SealedManifest) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(m.get())?;
    out.push(b'\n');
    Ok(out)
}

/// Counts and hashes the uncompressed bytes on their way into the zip.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub(crate) fn finish(self) -> (u64, String) {
        (self.bytes, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Reads through, keeping a copy of what was read.
struct Tee<'a, R> {
    inner: R,
    copy: &'a mut Vec<u8>,
}

impl<R: io::Read> io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.copy.len() <= MAX_KEPT_BYTES {
            self.copy.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}
