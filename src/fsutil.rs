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

/// Creates `path` readable by the owner only, from the first byte. An
/// existing path of any kind is refused, never truncated or followed: a
/// link planted where sg-debug writes must not redirect customer data, and
/// a file left by an earlier run is for the user to look at.
pub fn create_private(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| refusal(path, e))
}

/// Creates the directory `path` (not its parents) readable by the owner
/// only, whatever the umask; an existing path is refused.
pub fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| refusal(path, e))?;
    // The umask can only have removed bits; set exactly 0700.
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

fn refusal(path: &Path, e: std::io::Error) -> anyhow::Error {
    if e.kind() != std::io::ErrorKind::AlreadyExists {
        return anyhow::anyhow!("creating {}: {e}", path.display());
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => anyhow::anyhow!(
            "{} is a symbolic link; sg-debug never writes through one: remove it, or choose another output name",
            path.display()
        ),
        _ => anyhow::anyhow!(
            "{} already exists (left by an earlier run?); remove it and try again",
            path.display()
        ),
    }
}

/// A file or directory being written as `NAME.partial`: removed on drop
/// unless committed, so nothing half-written survives an error, a panic
/// or (through `cleanup`) an abort. Only what it created itself is ever
/// removed.
pub struct Partial {
    path: Option<PathBuf>,
}

impl Partial {
    /// Creates the file `path`; the guard owns it from then on.
    pub fn file(path: PathBuf) -> Result<(Partial, File)> {
        let f = create_private(&path)?;
        Ok((Partial::arm(path), f))
    }

    /// Creates the directory `path` (mode 0700); the guard owns it.
    pub fn dir(path: PathBuf) -> Result<Partial> {
        create_private_dir(&path)?;
        Ok(Partial::arm(path))
    }

    fn arm(path: PathBuf) -> Partial {
        cleanup::register(&path);
        Partial { path: Some(path) }
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("not yet kept")
    }

    /// Renames the partial into `dest`, replacing what is there, and stops
    /// guarding it.
    pub fn commit(mut self, dest: &Path) -> Result<()> {
        let p = self.path.take().expect("commit once");
        cleanup::unregister(&p);
        fs::rename(&p, dest)
            .with_context(|| format!("renaming {} to {}", p.display(), dest.display()))
    }

    /// Renames the partial into `dest` only if nothing is there, atomically:
    /// a file or directory that appeared at `dest` while the partial was
    /// being written (checked absent at the start, minutes ago) is never
    /// replaced. The finished partial is then kept, not lost, and the
    /// error says where it is.
    pub fn commit_new(mut self, dest: &Path) -> Result<()> {
        let p = self.path.as_ref().expect("commit once").clone();
        match rename_new(&p, dest) {
            Ok(()) => {
                self.path = None;
                cleanup::unregister(&p);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.path = None;
                cleanup::unregister(&p);
                anyhow::bail!(
                    "{} appeared while sg-debug was writing it (another process?); it was left as it is, and the finished result is kept at {}: move it where you want it",
                    dest.display(),
                    p.display()
                )
            }
            Err(e) => {
                Err(e).with_context(|| format!("renaming {} to {}", p.display(), dest.display()))
            }
        }
    }
}

/// `rename(from, to)` that fails with `AlreadyExists` instead of replacing
/// `to`: `renameat2(RENAME_NOREPLACE)`, atomic, where the file system
/// supports it; elsewhere a check just before the rename.
pub fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
            }
            fs::rename(from, to)
        }
        _ => Err(e),
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            cleanup::unregister(&p);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    let _ = fs::remove_dir_all(&p);
                }
                Ok(_) => {
                    let _ = fs::remove_file(&p);
                }
                Err(_) => {}
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

    /// For commands with no signal handling of their own: Ctrl-C, SIGTERM
    /// and SIGHUP remove what is registered, say `why`, and exit with 128
    /// plus the signal's number. Waits on its own thread.
    pub fn exit_on_signals(why: &'static str) {
        // Returns once the handlers are in place, so no signal slips by.
        let (ready, wait) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                let _ = ready.send(());
                let code = tokio::select! {
                    _ = int.recv() => 128 + libc::SIGINT,
                    _ = term.recv() => 128 + libc::SIGTERM,
                    _ = hup.recv() => 128 + libc::SIGHUP,
                };
                exit(code, why);
            });
        });
        let _ = wait.recv();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain rename(2) replaces a file, and an empty directory with a
    /// directory; rename_new replaces neither.
    #[test]
    fn rename_new_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n);
        fs::write(p("new"), "new").unwrap();
        fs::write(p("old"), "old").unwrap();
        let e = rename_new(&p("new"), &p("old")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(p("old")).unwrap(), b"old");
        fs::create_dir(p("tmpdir")).unwrap();
        fs::create_dir(p("empty")).unwrap();
        let e = rename_new(&p("tmpdir"), &p("empty")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(p("tmpdir").is_dir());
        std::os::unix::fs::symlink("/nonexistent", p("link")).unwrap();
        let e = rename_new(&p("new"), &p("link")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        rename_new(&p("new"), &p("fresh")).unwrap();
        assert_eq!(fs::read(p("fresh")).unwrap(), b"new");
    }
}
