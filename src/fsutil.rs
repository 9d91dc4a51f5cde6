//! Files sg-debug writes hold customer data: created owner-only, written
//! as `NAME.partial`, renamed into place only when complete.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Creates (or truncates) `path` readable by the owner only, from the first byte.
pub fn create_private(path: &Path) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).read(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let f = opts
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        // A pre-existing file keeps its old mode through open(); fix it.
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(f)
    }
    #[cfg(not(unix))]
    opts.open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Removes a path on drop unless `keep` was called: nothing half-written
/// survives an error or a panic.
pub struct Partial {
    path: Option<PathBuf>,
}

impl Partial {
    pub fn new(path: PathBuf) -> Partial {
        cleanup::register(&path);
        Partial { path: Some(path) }
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("not yet kept")
    }

    /// Renames the partial into `dest` and stops guarding it.
    pub fn commit(mut self, dest: &Path) -> Result<()> {
        let p = self.path.take().expect("commit once");
        cleanup::unregister(&p);
        fs::rename(&p, dest)
            .with_context(|| format!("renaming {} to {}", p.display(), dest.display()))
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            cleanup::unregister(&p);
            if p.is_dir() {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
    }
}

/// Paths to remove if the process must exit at once (a second Ctrl-C):
/// `std::process::exit` runs no destructors, so `Partial` and the spool
/// directory register here while they exist.
pub mod cleanup {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    fn paths() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
        PATHS.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(p: &Path) {
        paths().push(p.to_path_buf());
    }

    pub fn unregister(p: &Path) {
        let mut v = paths();
        if let Some(i) = v.iter().rposition(|x| x == p) {
            v.remove(i);
        }
    }

    /// Removes every registered path, says `why` on stderr (if stderr is
    /// still there: a closed terminal must not stop the cleanup), then
    /// exits with `code`.
    pub fn exit(code: i32, why: &str) -> ! {
        for p in paths().drain(..) {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    let _ = std::fs::remove_dir_all(&p);
                }
                Ok(_) => {
                    let _ = std::fs::remove_file(&p);
                }
                Err(_) => {}
            }
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{why}");
        std::process::exit(code)
    }
}
