//! The zip underneath a bundle: every entry validated before anything is
//! inflated, entries indexed by name, and each read bounded by the entry's
//! declared size and by what the whole bundle may inflate.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};

use zip::ZipArchive;
use zip::read::ZipFile;

use super::format::check_relative_name;
use super::{BundleError, Entry, Limits};

type Zip = ZipArchive<BufReader<File>>;
/// Entry name -> position in the entry list.
type Index = HashMap<String, usize>;

pub(super) struct Archive {
    pub(super) path: String,
    zip: Zip,
    pub(super) entries: Vec<Entry>,
    /// Name -> position in `entries`, so lookups stay O(1) with 100,000
    /// entries (a linear search made `verify` quadratic).
    by_name: Index,
    /// Bytes inflated so far, over the Bundle's whole life.
    inflated: u64,
    limits: Limits,
}

impl Archive {
    /// Validates every entry; returns the archive and its top folder.
    pub(super) fn new(
        path: String,
        mut zip: Zip,
        limits: Limits,
    ) -> Result<(Archive, String), BundleError> {
        let (top, entries, by_name) = scan_entries(&path, &mut zip, &limits)?;
        let archive = Archive {
            path,
            zip,
            entries,
            by_name,
            inflated: 0,
            limits,
        };
        Ok((archive, top))
    }

    pub(super) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(super) fn find(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    pub(super) fn open_entry(&mut self, name: &str) -> Result<EntryReader<'_>, BundleError> {
        let Some(&i) = self.by_name.get(name) else {
            return Err(BundleError::NoEntry {
                path: self.path.clone(),
                name: name.to_string(),
            });
        };
        let entry = &self.entries[i];
        let inner = self
            .zip
            .by_index(entry.index)
            .map_err(|e| BundleError::Read {
                path: self.path.clone(),
                name: entry.name.clone(),
                source: io::Error::other(e),
            })?;
        Ok(EntryReader {
            inner,
            path: &self.path,
            name: &entry.name,
            declared: entry.size,
            read: 0,
            inflated: &mut self.inflated,
            budget: self.limits.inflated,
        })
    }

    /// Streams one entry to `out`.
    pub(super) fn copy(&mut self, name: &str, out: &mut dyn Write) -> Result<u64, BundleError> {
        let mut r = self.open_entry(name)?;
        io::copy(&mut r, out).map_err(|e| r.error(e))
    }
}

/// One entry, inflating as it is read. Never yields more than the entry's
/// declared size: reading past it, or past what the bundle may inflate in
/// all, is an error (refused as a possible zip bomb) rather than a silent
/// cut, so a crafted entry is noticed.
pub struct EntryReader<'a> {
    inner: ZipFile<'a, BufReader<File>>,
    path: &'a str,
    name: &'a str,
    declared: u64,
    read: u64,
    inflated: &'a mut u64,
    budget: u64,
}

impl EntryReader<'_> {
    /// The entry's name, relative to the bundle's top folder.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The size the zip declares; the reader never yields more.
    pub fn declared_size(&self) -> u64 {
        self.declared
    }

    fn bomb(&self, why: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            BundleError::Bomb {
                path: self.path.to_string(),
                name: self.name.to_string(),
                why,
            },
        )
    }

    fn past_declared(&self) -> io::Error {
        self.bomb(format!(
            "inflates past its declared {} bytes",
            self.declared
        ))
    }

    fn over_budget(&self) -> io::Error {
        self.bomb(format!(
            "takes the bytes inflated from this bundle past {}, the most one open bundle may produce",
            self.budget
        ))
    }

    /// The BundleError for an I/O error met while copying this entry: our
    /// own refusals come back as they were raised, the rest name the entry.
    pub(super) fn error(&self, e: io::Error) -> BundleError {
        into_bundle_error(e, self.path, self.name)
    }
}

pub(super) fn into_bundle_error(e: io::Error, path: &str, name: &str) -> BundleError {
    if e.get_ref().is_some_and(|inner| inner.is::<BundleError>()) {
        let inner = e.into_inner().expect("checked above");
        return *inner.downcast::<BundleError>().expect("checked above");
    }
    BundleError::Read {
        path: path.to_string(),
        name: name.to_string(),
        source: e,
    }
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read > self.declared {
            return Err(self.past_declared());
        }
        if *self.inflated > self.budget {
            return Err(self.over_budget());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // One byte of slack past the declared size (and the budget), so an
        // entry that inflates further is noticed instead of silently cut.
        let allowed = self.declared.saturating_add(1) - self.read;
        let room = self.budget.saturating_sub(*self.inflated).saturating_add(1);
        let want = usize::try_from(allowed.min(room))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        self.read = self.read.saturating_add(n as u64);
        *self.inflated = self.inflated.saturating_add(n as u64);
        if self.read > self.declared {
            return Err(self.past_declared());
        }
        if *self.inflated > self.budget {
            return Err(self.over_budget());
        }
        Ok(n)
    }
}

/// Validates every entry before anything is inflated; returns the top
/// folder, the file entries and their index by name.
fn scan_entries(
    path: &str,
    zip: &mut Zip,
    limits: &Limits,
) -> Result<(String, Vec<Entry>, Index), BundleError> {
    // The zip crate indexes entries by name and keeps one per name (the
    // last record), while `unzip` extracts the first: with two entries of
    // one name, what we verify and what the recipient unpacks differ. No
    // writer of ours produces that.
    if zip.has_duplicate_names() {
        return Err(BundleError::NotBundle {
            path: path.to_string(),
            why: "two entries in its zip directory have the same name, and zip tools \
                  disagree about which one is the file; refusing to read it"
                .into(),
        });
    }
    let mut top: Option<String> = None;
    let mut entries = Vec::new();
    let mut spans = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    let mut by_name = HashMap::with_capacity(zip.len());
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
        // The name under the top folder is what is extracted and listed,
        // so it must be a safe name of its own: `TOP/C:x` passed the check
        // of the whole name (found by fuzzing).
        if let Some(rest) = rest {
            check_relative_name(rest).map_err(&unsafe_entry)?;
        }
        // Every record's bytes, local header to end of data, directories
        // included: checked for overlaps once all are known.
        let end = f
            .data_start()
            .and_then(|d| d.checked_add(f.compressed_size()))
            .ok_or_else(|| unsafe_entry("its data offset or size does not fit the file".into()))?;
        spans.push(Span {
            start: f.header_start(),
            end,
            name: rest.unwrap_or(trimmed).to_string(),
        });
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
        // Distinct raw names can still meet here (invalid UTF-8 made lossy).
        if by_name.insert(rest.to_string(), entries.len()).is_some() {
            return Err(unsafe_entry("appears twice".into()));
        }
        let bomb = |why: String| BundleError::Bomb {
            path: path.to_string(),
            name: rest.to_string(),
            why,
        };
        let (size, compressed) = (f.size(), f.compressed_size());
        if size > limits.entry {
            return Err(bomb(format!(
                "declares {size} bytes, over the {}-byte limit",
                limits.entry
            )));
        }
        let ratio = size / compressed.max(1);
        if size > (1 << 20) && ratio > super::MAX_RATIO {
            return Err(bomb(format!(
                "claims a compression ratio of {ratio}:1 ({compressed} -> {size} bytes)"
            )));
        }
        total = total.saturating_add(size);
        if total > limits.total {
            return Err(bomb(format!(
                "brings the total past {} bytes",
                limits.total
            )));
        }
        entries.push(Entry {
            name: rest.to_string(),
            size,
            compressed,
            index,
        });
    }
    check_overlaps(path, &mut spans, zip.central_directory_start())?;
    let top = top.ok_or_else(|| BundleError::NotBundle {
        path: path.to_string(),
        why: "the archive is empty".into(),
    })?;
    Ok((top, entries, by_name))
}

/// Where one record's local header and data lie in the file.
struct Span {
    start: u64,
    end: u64,
    name: String,
}

/// Refuses records whose bytes overlap: many names for one deflate stream
/// is how a small file inflates to gigabytes (eight records on one 256 MiB
/// stream made a 300 KB bundle extract 2 GiB), each within its declared
/// size. A genuine zip stores every entry once, before the central
/// directory.
fn check_overlaps(path: &str, spans: &mut [Span], directory_start: u64) -> Result<(), BundleError> {
    let bomb = |name: &str, why: String| BundleError::Bomb {
        path: path.to_string(),
        name: name.to_string(),
        why,
    };
    spans.sort_unstable_by_key(|s| (s.start, s.end));
    for pair in spans.windows(2) {
        if pair[0].end > pair[1].start {
            return Err(bomb(
                &pair[1].name,
                format!("overlaps the data of entry {}", pair[0].name),
            ));
        }
    }
    if let Some(last) = spans.last()
        && last.end > directory_start
    {
        return Err(bomb(
            &last.name,
            "overlaps the zip's central directory".into(),
        ));
    }
    Ok(())
}
