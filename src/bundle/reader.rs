//! Opening a bundle someone sent us. Bundles come from customers, over
//! tickets: treat every byte as hostile until checked. Names are validated
//! before anything is read, sizes are bounded before anything is inflated,
//! and nothing is ever written outside the directory asked for.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use zip::ZipArchive;

use super::format::{FORMAT_VERSION, MANIFEST_NAME, Manifest, check_relative_name};
use super::writer::HashingWriter;

/// One entry is refused above this size (declared or actual). Logs are
/// capped per container when collected, so a legitimate entry is far smaller.
pub const MAX_ENTRY_BYTES: u64 = 4 << 30;
/// All entries together, inflated.
pub const MAX_TOTAL_BYTES: u64 = 32 << 30;
/// Deflate cannot exceed about 1032:1; anything claiming more is crafted.
pub const MAX_RATIO: u64 = 1000;
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

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
    path: String,
    top: String,
    zip: ZipArchive<BufReader<File>>,
    entries: Vec<Entry>,
    manifest: Manifest,
}

#[derive(Debug, Default)]
pub struct Verification {
    pub checked: usize,
    pub problems: Vec<String>,
}

impl Bundle {
    pub fn open(path: &Path) -> Result<Bundle, BundleError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| BundleError::Open {
            path: shown.clone(),
            source,
        })?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(BundleError::NotBundle {
                path: shown,
                why: "it is a directory; pass the .zip file".into(),
            });
        }
        let mut zip =
            ZipArchive::new(BufReader::new(file)).map_err(|source| BundleError::NotZip {
                path: shown.clone(),
                source,
            })?;
        let (top, entries) = scan_entries(&shown, &mut zip)?;
        let manifest = read_manifest(&shown, &top, &mut zip, &entries)?;
        Ok(Bundle {
            path: shown,
            top,
            zip,
            entries,
            manifest,
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The folder every entry sits under, `sg-debug-<category>-<time>`.
    pub fn top(&self) -> &str {
        &self.top
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Streams one entry to `out`, bounded by its declared size.
    pub fn copy_entry(&mut self, name: &str, out: &mut dyn Write) -> Result<u64, BundleError> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .ok_or_else(|| BundleError::NoEntry {
                path: self.path.clone(),
                name: name.to_string(),
            })?;
        copy_raw(&mut self.zip, &self.path, &entry, out)
    }

    pub fn read_entry(&mut self, name: &str) -> Result<Vec<u8>, BundleError> {
        let mut buf = Vec::new();
        self.copy_entry(name, &mut buf)?;
        Ok(buf)
    }

    /// Recomputes every hash and size against the manifest. Problems are
    /// collected, not fatal, so one run names every mismatch.
    pub fn verify(&mut self) -> Verification {
        let mut v = Verification::default();
        let listed: HashSet<String> = self.manifest.files.iter().map(|f| f.path.clone()).collect();
        for f in self.manifest.files.clone() {
            v.checked += 1;
            let mut w = HashingWriter::new(io::sink());
            match self.copy_entry(&f.path, &mut w) {
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
        for e in &self.entries {
            if e.name != MANIFEST_NAME && !listed.contains(&e.name) {
                v.problems.push(format!(
                    "{}: present but not listed in the manifest",
                    e.name
                ));
            }
        }
        v
    }

    /// Unpacks into `dir`, which must not exist yet. Everything lands in a
    /// sibling `.partial` directory first and is renamed at the end, so a
    /// failure leaves nothing behind; hashes are checked on the way.
    pub fn extract(&mut self, dir: &Path) -> Result<usize, BundleError> {
        let shown = self.path.clone();
        let fail = |why: String| BundleError::Extract {
            path: shown.clone(),
            why,
        };
        if dir.exists() {
            return Err(fail(format!(
                "{} already exists; name a new directory",
                dir.display()
            )));
        }
        let mut tmp: OsString = dir.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        if tmp.exists() {
            return Err(fail(format!(
                "{} exists (left by an earlier run?); remove it and try again",
                tmp.display()
            )));
        }
        let guard = RemoveOnDrop(Some(tmp.clone()));
        fs::create_dir_all(&tmp).map_err(|e| fail(format!("creating {}: {e}", tmp.display())))?;
        let expected: BTreeMap<String, String> = self
            .manifest
            .files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone()))
            .collect();
        let names: Vec<String> = self.entries.iter().map(|e| e.name.clone()).collect();
        for name in &names {
            // Names were validated in open(): relative, no `..`, no backslash.
            let target = tmp.join(name);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| fail(format!("creating {}: {e}", parent.display())))?;
            }
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(|e| fail(format!("creating {}: {e}", target.display())))?;
            let mut w = HashingWriter::new(&mut file);
            self.copy_entry(name, &mut w)?;
            let (_, sha) = w.finish();
            if let Some(want) = expected.get(name)
                && *want != sha
            {
                return Err(fail(format!(
                    "{name} does not match its SHA-256 in the manifest; run `sg-debug inspect {shown} --verify`"
                )));
            }
        }
        fs::rename(&tmp, dir).map_err(|e| fail(format!("renaming into {}: {e}", dir.display())))?;
        let mut guard = guard;
        guard.0 = None;
        Ok(names.len())
    }
}

fn read_manifest(
    path: &str,
    top: &str,
    zip: &mut ZipArchive<BufReader<File>>,
    entries: &[Entry],
) -> Result<Manifest, BundleError> {
    let path = path.to_string();
    let Some(entry) = entries.iter().find(|e| e.name == MANIFEST_NAME) else {
        return Err(BundleError::NotBundle {
            path,
            why: format!("it has no {top}/{MANIFEST_NAME}"),
        });
    };
    if entry.size > MAX_MANIFEST_BYTES {
        return Err(BundleError::Bomb {
            path,
            name: MANIFEST_NAME.into(),
            why: format!("declares {} bytes", entry.size),
        });
    }
    let mut raw = Vec::new();
    copy_raw(zip, &path, entry, &mut raw)?;
    let bad = |why: String| BundleError::BadManifest {
        path: path.clone(),
        why,
    };
    let value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| bad(format!("not JSON ({e})")))?;
    let version = value
        .get("format_version")
        .ok_or_else(|| bad("no format_version field".into()))?
        .as_u64()
        .ok_or_else(|| bad("format_version is not a whole number".into()))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(BundleError::NewerFormat {
            path,
            found: version,
            ours: env!("CARGO_PKG_VERSION"),
        });
    }
    if version == 0 {
        return Err(bad("format_version 0 does not exist".into()));
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// Streams one entry to `out`, bounded by its declared size.
fn copy_raw(
    zip: &mut ZipArchive<BufReader<File>>,
    path: &str,
    entry: &Entry,
    out: &mut dyn Write,
) -> Result<u64, BundleError> {
    let read_err = |source| BundleError::Read {
        path: path.to_string(),
        name: entry.name.clone(),
        source,
    };
    let file = zip
        .by_index(entry.index)
        .map_err(|e| read_err(io::Error::other(e)))?;
    // One byte of slack so an entry that inflates past its header is
    // noticed instead of silently cut.
    let mut limited = file.take(entry.size + 1);
    let n = io::copy(&mut limited, out).map_err(read_err)?;
    if n > entry.size {
        return Err(BundleError::Bomb {
            path: path.to_string(),
            name: entry.name.clone(),
            why: format!("inflates past its declared {} bytes", entry.size),
        });
    }
    Ok(n)
}

/// Validates every entry before anything is inflated.
fn scan_entries(
    path: &str,
    zip: &mut ZipArchive<BufReader<File>>,
) -> Result<(String, Vec<Entry>), BundleError> {
    let mut top: Option<String> = None;
    let mut entries = Vec::new();
    let mut total: u64 = 0;
    let mut seen = HashSet::new();
    for index in 0..zip.len() {
        let f = zip
            .by_index_raw(index)
            .map_err(|source| BundleError::NotZip {
                path: path.to_string(),
                source,
            })?;
        let full = String::from_utf8_lossy(f.name_raw()).into_owned();
        let unsafe_entry = |why: String| BundleError::UnsafeEntry {
            path: path.to_string(),
            name: full.clone(),
            why,
        };
        if f.is_symlink() {
            return Err(unsafe_entry("symbolic link".into()));
        }
        let trimmed = full.strip_suffix('/').unwrap_or(&full);
        check_relative_name(trimmed).map_err(&unsafe_entry)?;
        let (first, rest) = match trimmed.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (trimmed, None),
        };
        match &top {
            None => top = Some(first.to_string()),
            Some(t) if t != first => {
                return Err(unsafe_entry(format!(
                    "outside the bundle's top folder '{t}'"
                )));
            }
            _ => {}
        }
        // Directory entries (from re-zipping an extracted bundle) carry no data.
        if f.is_dir() || full.ends_with('/') {
            continue;
        }
        let Some(rest) = rest else {
            return Err(unsafe_entry("file outside the bundle's top folder".into()));
        };
        if !seen.insert(rest.to_string()) {
            return Err(unsafe_entry("appears twice".into()));
        }
        let bomb = |why: String| BundleError::Bomb {
            path: path.to_string(),
            name: rest.to_string(),
            why,
        };
        let (size, compressed) = (f.size(), f.compressed_size());
        if size > MAX_ENTRY_BYTES {
            return Err(bomb(format!(
                "declares {size} bytes, over the {MAX_ENTRY_BYTES}-byte limit"
            )));
        }
        if size > (1 << 20) && size / compressed.max(1) > MAX_RATIO {
            return Err(bomb(format!(
                "claims a compression ratio of {}:1 ({compressed} -> {size} bytes)",
                size / compressed.max(1)
            )));
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_BYTES {
            return Err(bomb(format!(
                "brings the total past {MAX_TOTAL_BYTES} bytes"
            )));
        }
        entries.push(Entry {
            name: rest.to_string(),
            size,
            compressed,
            index,
        });
    }
    let top = top.ok_or_else(|| BundleError::NotBundle {
        path: path.to_string(),
        why: "the archive is empty".into(),
    })?;
    Ok((top, entries))
}

fn inner_reason(e: &BundleError) -> String {
    match e {
        BundleError::Read { source, .. } => source.to_string(),
        BundleError::Bomb { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_dir_all(p);
        }
    }
}
