//! Opening a bundle someone sent us. Bundles come from customers, over
//! tickets: treat every byte as hostile until checked. Names are validated
//! before anything is read (a name twice, or two entries sharing bytes, is
//! refused), sizes are bounded before anything is inflated and again while
//! inflating, and nothing is ever written outside the directory asked for.

mod archive;
mod extract;
mod manifest;

use std::collections::HashSet;
use std::io::{self, BufReader, Write};
use std::path::Path;

use thiserror::Error;
use zip::ZipArchive;

use self::archive::Archive;
pub use self::archive::EntryReader;
use self::manifest::read_manifest;
use super::format::{self, FORMAT_VERSION, MANIFEST_NAME, Manifest};
use super::writer::HashingWriter;

/// One entry is refused above this size (declared or actual). Logs are
/// capped per container when collected, so a legitimate entry is far smaller.
pub const MAX_ENTRY_BYTES: u64 = 4 << 30;
/// All entries together, as declared: eight entries at the cap above. A
/// bundle is many per-container-capped logs, far below this; the bound
/// keeps what one bundle can make us inflate or write finite.
pub const MAX_TOTAL_BYTES: u64 = 32 << 30;
/// Everything one open Bundle will ever inflate, however often entries are
/// read. Each action (verify, scan, extract, redact) reads every entry
/// once, so twice the largest bundle accepted lets a caller verify and then
/// extract in one process. Declared sizes and the overlap check stop crafted
/// archives first; this is the backstop should one get past them.
pub const MAX_INFLATED_BYTES: u64 = 2 * MAX_TOTAL_BYTES;
/// Deflate cannot exceed about 1032:1; anything claiming more is crafted.
pub const MAX_RATIO: u64 = 1000;
/// manifest.json, inflated. The largest real manifests run to about 300
/// bytes per file pretty-printed (path, size, hash, kind, collector, a few
/// redaction counts) for up to 100,000 files: about 29 MiB. It is held
/// whole to be parsed, so anything larger is refused unread.
pub const MAX_MANIFEST_BYTES: u64 = 32 << 20;
/// JSON values in manifest.json. A file record is about ten (the record,
/// its fields, its redaction counts), so 100,000 files make about a
/// million; four million leave room for collectors and leak-scan hits. It bounds
/// parsing: 32 MiB of `[0,0,...]` in the untyped `options` would be 16
/// million 32-byte serde_json Values, about 1 GiB with growth.
pub const MAX_MANIFEST_VALUES: u64 = 4_000_000;

/// The limits one Bundle enforces: the constants above, or smaller ones in
/// tests so that each can be reached without gigabytes.
#[derive(Debug, Clone, Copy)]
struct Limits {
    entry: u64,
    total: u64,
    inflated: u64,
    manifest: u64,
    manifest_values: u64,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        entry: MAX_ENTRY_BYTES,
        total: MAX_TOTAL_BYTES,
        inflated: MAX_INFLATED_BYTES,
        manifest: MAX_MANIFEST_BYTES,
        manifest_values: MAX_MANIFEST_VALUES,
    };
}

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("cannot open bundle {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error(
        "{path} is not a readable zip archive ({source}); if it was copied or downloaded, it may be truncated: compare its size with the original"
    )]
    NotZip {
        path: String,
        source: zip::result::ZipError,
    },
    #[error("{path} is not an sg-debug bundle: {why}")]
    NotBundle { path: String, why: String },
    #[error("{path}: manifest.json is malformed: {why}")]
    BadManifest { path: String, why: String },
    #[error(
        "{path} uses bundle format {found}, but this sg-debug ({ours}) reads format {FORMAT_VERSION} at most: upgrade sg-debug to read it"
    )]
    NewerFormat {
        path: String,
        found: u64,
        ours: &'static str,
    },
    #[error("{path}: unsafe entry name {name:?} ({why}); refusing to read this bundle")]
    UnsafeEntry {
        path: String,
        name: String,
        why: String,
    },
    #[error("{path}: entry {name} {why}; refusing it as a possible zip bomb")]
    Bomb {
        path: String,
        name: String,
        why: String,
    },
    #[error(
        "{path} has no entry '{name}'; run `sg-debug inspect {path} --list` to see what it holds"
    )]
    NoEntry { path: String, name: String },
    #[error("{path}: reading entry {name}: {source}")]
    Read {
        path: String,
        name: String,
        source: io::Error,
    },
    #[error("extracting {path}: {why}")]
    Extract { path: String, why: String },
}

/// One file inside the bundle, named relative to the top folder.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub compressed: u64,
    index: usize,
}

pub struct Bundle {
    top: String,
    archive: Archive,
    manifest: Manifest,
    id: String,
}

#[derive(Debug, Default)]
pub struct Verification {
    pub checked: usize,
    pub problems: Vec<String>,
}

impl Bundle {
    pub fn open(path: &Path) -> Result<Bundle, BundleError> {
        Bundle::open_with(path, Limits::DEFAULT)
    }

    fn open_with(path: &Path, limits: Limits) -> Result<Bundle, BundleError> {
        let shown = path.display().to_string();
        // Non-blocking: opening a FIFO named like a bundle must not hang
        // (it does nothing to a regular file). Only regular files are read.
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(path)
        }
        .map_err(|source| BundleError::Open {
            path: shown.clone(),
            source,
        })?;
        let meta = file.metadata().map_err(|source| BundleError::Open {
            path: shown.clone(),
            source,
        })?;
        if meta.is_dir() {
            return Err(BundleError::NotBundle {
                path: shown,
                why: "it is a directory; pass the .zip file".into(),
            });
        }
        if !meta.is_file() {
            return Err(BundleError::NotBundle {
                path: shown,
                why: "it is not a regular file (a FIFO, socket or device?); copy the bundle to a file first".into(),
            });
        }
        let zip = ZipArchive::new(BufReader::new(file)).map_err(|source| BundleError::NotZip {
            path: shown.clone(),
            source,
        })?;
        let (mut archive, top) = Archive::new(shown, zip, limits)?;
        let (manifest, id) = read_manifest(&mut archive, &top)?;
        Ok(Bundle {
            top,
            archive,
            manifest,
            id,
        })
    }

    pub fn path(&self) -> &str {
        &self.archive.path
    }

    /// The folder every entry sits under, `sg-debug-<category>-<time>`.
    pub fn top(&self) -> &str {
        &self.top
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The bundle's identity: the SHA-256 (hex) of its manifest.json as
    /// stored. The manifest holds the creation time and every file's hash,
    /// so two collections never share it, while a renamed or copied bundle
    /// keeps it. Known once the bundle is open; no entry is read for it.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn entries(&self) -> &[Entry] {
        &self.archive.entries
    }

    /// Opens one entry for reading, inflating as it goes: no entry is ever
    /// held whole. The reader yields at most the entry's declared size and
    /// counts against what this Bundle may inflate in all; going past
    /// either is an I/O error that refuses the entry as a possible zip bomb.
    pub fn open_entry(&mut self, name: &str) -> Result<EntryReader<'_>, BundleError> {
        self.archive.open_entry(name)
    }

    /// Streams one entry to `out`, bounded as `open_entry` is.
    pub fn copy_entry(&mut self, name: &str, out: &mut dyn Write) -> Result<u64, BundleError> {
        self.archive.copy(name, out)
    }

    pub fn read_entry(&mut self, name: &str) -> Result<Vec<u8>, BundleError> {
        let mut buf = Vec::new();
        self.copy_entry(name, &mut buf)?;
        Ok(buf)
    }

    /// Recomputes every hash and size against the manifest. Problems are
    /// collected, not fatal, so one run names every mismatch. Linear in the
    /// number of entries: every lookup goes through a hash index.
    pub fn verify(&mut self) -> Verification {
        let mut v = Verification::default();
        let mut listed: HashSet<&str> = HashSet::with_capacity(self.manifest.files.len());
        for f in &self.manifest.files {
            v.checked += 1;
            if !listed.insert(&f.path) {
                v.problems
                    .push(format!("{}: listed twice in the manifest", f.path));
                continue;
            }
            let mut w = HashingWriter::new(io::sink());
            match self.archive.copy(&f.path, &mut w) {
                Err(BundleError::NoEntry { .. }) => v
                    .problems
                    .push(format!("{}: listed in the manifest but missing", f.path)),
                Err(e) => v.problems.push(format!("{}: {}", f.path, inner_reason(&e))),
                Ok(_) => {
                    let (bytes, sha) = w.finish();
                    if bytes != f.bytes {
                        v.problems.push(format!(
                            "{}: size {} bytes, manifest says {}",
                            f.path, bytes, f.bytes
                        ));
                    }
                    if sha != f.sha256 {
                        v.problems.push(format!(
                            "{}: SHA-256 {}, manifest says {}",
                            f.path, sha, f.sha256
                        ));
                    }
                }
            }
        }
        for e in &self.archive.entries {
            if e.name != MANIFEST_NAME && !listed.contains(e.name.as_str()) {
                v.problems.push(format!(
                    "{}: present but not listed in the manifest",
                    e.name
                ));
            }
        }
        v
    }

    /// Unpacks into `dir`, which must not exist yet, exactly the files
    /// `verify` checks: the zip's entries must be the manifest's files at
    /// the listed sizes, and every hash must match, or nothing is left
    /// behind. Files are 0600 and directories 0700 whatever the umask.
    pub fn extract(&mut self, dir: &Path) -> Result<usize, BundleError> {
        extract::extract(&mut self.archive, &self.manifest, dir)
    }
}

fn inner_reason(e: &BundleError) -> String {
    match e {
        BundleError::Read { source, .. } => source.to_string(),
        BundleError::Bomb { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
