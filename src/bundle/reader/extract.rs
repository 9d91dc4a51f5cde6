//! `inspect --extract`: writes exactly what `--verify` checks, or nothing.
//! The entry set must equal the manifest's file list before a byte is
//! written; hashes and sizes are checked as each file streams out; files
//! are owner-only from their first byte, whatever the umask.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::BundleError;
use super::archive::Archive;
use crate::bundle::format::{FileRecord, MANIFEST_NAME, Manifest};
use crate::bundle::writer::HashingWriter;
use crate::fsutil::with_suffix;

/// Unpacks into `dir`, which must not exist yet. Everything lands in a
/// sibling `.partial` directory first and is renamed at the end, so a
/// failure leaves nothing behind.
pub(super) fn extract(
    archive: &mut Archive,
    manifest: &Manifest,
    dir: &Path,
) -> Result<usize, BundleError> {
    let shown = archive.path.clone();
    let fail = |why: String| BundleError::Extract {
        path: shown.clone(),
        why,
    };
    if fs::symlink_metadata(dir).is_ok() {
        return Err(fail(format!(
            "{} already exists; name a new directory",
            dir.display()
        )));
    }
    let records = match listed_files(archive, manifest) {
        Ok(r) => r,
        Err(problems) => {
            let more = match problems.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(fail(format!(
                "{}{more}; the bundle is not what its manifest lists, so nothing was extracted: run `sg-debug inspect {shown} --verify` to see every difference",
                problems[0]
            )));
        }
    };
    let tmp = with_suffix(dir, ".partial");
    let mut made = HashSet::new();
    if let Some(parent) = tmp.parent() {
        private_dirs(Path::new(""), parent, &mut made)
            .map_err(|e| fail(format!("creating {}: {e}", parent.display())))?;
    }
    match private_dir(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(fail(format!(
                "{} exists (left by an earlier run?); remove it and try again",
                tmp.display()
            )));
        }
        Err(e) => return Err(fail(format!("creating {}: {e}", tmp.display()))),
    }
    let mut guard = RemoveOnDrop::new(tmp.clone());
    let names: Vec<String> = archive.entries.iter().map(|e| e.name.clone()).collect();
    for name in &names {
        // Names were validated in open(): relative, no `..`, no backslash.
        let rel = Path::new(name);
        if let Some(parent) = rel.parent() {
            private_dirs(&tmp, parent, &mut made)
                .map_err(|e| fail(format!("creating {}: {e}", tmp.join(parent).display())))?;
        }
        let target = tmp.join(rel);
        let mut file = private_file(&target)
            .map_err(|e| fail(format!("creating {}: {e}", target.display())))?;
        let mut w = HashingWriter::new(&mut file);
        archive.copy(name, &mut w)?;
        let (bytes, sha) = w.finish();
        // manifest.json is the one entry the manifest does not list.
        let Some(rec) = records.get(name.as_str()) else {
            continue;
        };
        if sha != rec.sha256 {
            return Err(fail(format!(
                "{name} does not match its SHA-256 in the manifest; run `sg-debug inspect {shown} --verify`"
            )));
        }
        if bytes != rec.bytes {
            return Err(fail(format!(
                "{name} is {bytes} bytes, the manifest says {}; run `sg-debug inspect {shown} --verify`",
                rec.bytes
            )));
        }
    }
    // Not over something that appeared at `dir` since the check above.
    crate::fsutil::rename_new(&tmp, dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => fail(format!(
            "{} appeared while extracting (another process?); it was left as it is; extract again into a new directory",
            dir.display()
        )),
        _ => fail(format!("renaming into {}: {e}", dir.display())),
    })?;
    crate::fsutil::cleanup::unregister(&tmp);
    guard.0 = None;
    Ok(names.len())
}

/// The manifest's records by path, if the zip holds exactly the files the
/// manifest lists; otherwise every difference. Only names are compared:
/// sizes and hashes are checked as each file streams out.
fn listed_files<'m>(
    archive: &Archive,
    manifest: &'m Manifest,
) -> Result<HashMap<&'m str, &'m FileRecord>, Vec<String>> {
    let mut problems = Vec::new();
    let mut records = HashMap::with_capacity(manifest.files.len());
    for f in &manifest.files {
        if records.insert(f.path.as_str(), f).is_some() {
            problems.push(format!("{}: listed twice in the manifest", f.path));
            continue;
        }
        if archive.find(&f.path).is_none() {
            problems.push(format!("{}: listed in the manifest but missing", f.path));
        }
    }
    for e in &archive.entries {
        if e.name != MANIFEST_NAME && !records.contains_key(e.name.as_str()) {
            problems.push(format!(
                "{}: present but not listed in the manifest",
                e.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems)
    }
}

/// Creates each missing directory of `rel` under `base`, owner-only.
/// Iterative: a crafted name can nest thousands deep.
fn private_dirs(base: &Path, rel: &Path, made: &mut HashSet<PathBuf>) -> io::Result<()> {
    let mut p = base.to_path_buf();
    for c in rel.components() {
        p.push(c);
        if made.contains(&p) {
            continue;
        }
        match private_dir(&p) {
            Ok(()) => {}
            // A file in the way shows up when the entry is created.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        made.insert(p.clone());
    }
    Ok(())
}

/// One directory, 0700. The mode given to mkdir is masked by the umask;
/// it is set again so the result does not depend on it.
fn private_dir(p: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        b.mode(0o700).create(p)?;
        fs::set_permissions(p, fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    b.create(p)
}

/// A new file, 0600 from its first byte, whatever the umask.
fn private_file(p: &Path) -> io::Result<File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let f = o.mode(0o600).open(p)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(f)
    }
    #[cfg(not(unix))]
    o.open(p)
}

/// Registered with `fsutil::cleanup` too, so that an abort (Ctrl-C with
/// `cleanup::exit_on_signals`) removes it as well.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn new(p: PathBuf) -> RemoveOnDrop {
        crate::fsutil::cleanup::register(&p);
        RemoveOnDrop(Some(p))
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            crate::fsutil::cleanup::unregister(&p);
            let _ = fs::remove_dir_all(p);
        }
    }
}
