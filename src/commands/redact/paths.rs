//! Where `redact` reads and writes: the input is opened once (a pipe or
//! FIFO cannot be read twice), and the output is checked before any work
//! so that nothing the user did not name is ever touched.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::UsageError;
use crate::fsutil::with_suffix;

/// What INPUT is, decided from one open.
pub enum Input {
    Dir,
    /// A regular file starting with a zip header.
    Bundle,
    /// Anything else, read once from this handle: a regular file, a pipe,
    /// a FIFO, `/dev/stdin`, process substitution.
    Stream(File),
}

pub fn classify(input: &Path) -> Result<Input> {
    let meta =
        fs::metadata(input).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", input.display()))?;
    if meta.is_dir() {
        return Ok(Input::Dir);
    }
    let file = File::open(input).with_context(|| format!("cannot read {}", input.display()))?;
    // Only a regular file can be looked at without consuming it; a bundle
    // needs seeking anyway, so nothing else is taken for one.
    if meta.is_file() {
        let mut magic = [0u8; 4];
        let n = file.read_at(&mut magic, 0).unwrap_or(0);
        if n == 4 && &magic == b"PK\x03\x04" {
            return Ok(Input::Bundle);
        }
    }
    Ok(Input::Stream(file))
}

/// `p` made absolute without following what does not exist yet: the
/// deepest existing ancestor is canonicalized, the rest appended.
pub fn resolve(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return Ok(out);
        }
        match (cur.parent(), cur.components().next_back()) {
            (Some(parent), Some(Component::Normal(name))) => {
                tail.push(name.to_owned());
                cur = parent;
            }
            (Some(parent), Some(Component::ParentDir)) => {
                // `missing/..`: resolve lexically against the parent.
                cur = parent.parent().unwrap_or(parent);
            }
            (Some(parent), _) => cur = parent,
            (None, _) => bail!("cannot resolve {}", p.display()),
        }
    }
}

/// Every check on OUTPUT, before anything is read or written.
pub fn check_output(input: &Path, output: &Path, force: bool, network_map: bool) -> Result<()> {
    let usage = |m: String| -> anyhow::Error { UsageError(m).into() };
    let inp = resolve(input)?;
    let out = resolve(output)?;
    if inp == out {
        return Err(usage(format!(
            "OUTPUT {} is INPUT itself; sg-debug never modifies its input: choose another -o",
            output.display()
        )));
    }
    if inp.starts_with(&out) {
        return Err(usage(format!(
            "OUTPUT {} contains INPUT {}; replacing it would destroy the input: choose another -o",
            output.display(),
            input.display()
        )));
    }
    if inp.is_dir() && out.starts_with(&inp) {
        return Err(usage(format!(
            "OUTPUT {} is inside INPUT {}; choose a place outside it",
            output.display(),
            input.display()
        )));
    }
    let exists = |p: &Path| fs::symlink_metadata(p).is_ok();
    if exists(output) && !force {
        bail!(
            "{} already exists; pass --force to replace it, or choose another name with -o",
            output.display()
        );
    }
    let map = with_suffix(output, ".network-map.json");
    if network_map && exists(&map) && !force {
        bail!(
            "{} already exists (the pseudonym map of an earlier run?); pass --force to replace it, or choose another name with -o",
            map.display()
        );
    }
    Ok(())
}

/// Just before the finished output is renamed into place: with `--force`,
/// whatever is at OUTPUT (a file, link or directory) goes; without it,
/// nothing is touched, and the rename refuses an OUTPUT that appeared
/// since `check_output` (`Partial::commit_new`).
pub fn make_room(output: &Path, force: bool) -> Result<()> {
    if !force {
        return Ok(());
    }
    match fs::symlink_metadata(output) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(output).with_context(|| format!("replacing {}", output.display()))
        }
        Ok(_) => fs::remove_file(output).with_context(|| format!("replacing {}", output.display())),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolving_does_not_need_the_path_to_exist() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        assert_eq!(
            resolve(&d.path().join("a/b/c")).unwrap(),
            base.join("a/b/c")
        );
        assert_eq!(resolve(&d.path().join("a/../b")).unwrap(), base.join("b"));
    }

    #[test]
    fn output_checks() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in");
        std::fs::create_dir_all(input.join("sub")).unwrap();
        // Inside the input, through a parent that does not exist yet.
        assert!(check_output(&input, &input.join("new/out"), false, false).is_err());
        // A parent of the input, even with --force.
        assert!(check_output(&input.join("sub"), &input, true, false).is_err());
        assert!(check_output(&input, d.path(), true, false).is_err());
        assert!(check_output(&input, &input, true, false).is_err());
        assert!(check_output(&input, &d.path().join("out"), false, false).is_ok());
        std::fs::write(d.path().join("out.network-map.json"), b"{}").unwrap();
        assert!(check_output(&input, &d.path().join("out"), false, true).is_err());
        assert!(check_output(&input, &d.path().join("out"), true, true).is_ok());
    }
}
