//! Names and kinds of what goes into a bundle. They live with the
//! artifact, below redaction and the bundle, because a collector names
//! what it yields before anything else touches it; the bundle's writer and
//! reader apply the same rule, so a crafted zip cannot escape either.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The one name reserved at the top of every bundle.
pub const MANIFEST_NAME: &str = "manifest.json";

/// What a file is, so `inspect` can count bytes per kind and later stages
/// (findings, drift) know where to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Log,
    Config,
    Manifest,
    Diff,
    Metadata,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Log => "log",
            FileKind::Config => "config",
            FileKind::Manifest => "manifest",
            FileKind::Diff => "diff",
            FileKind::Metadata => "metadata",
        }
    }
}

/// A validated entry name, relative to the bundle's top folder: forward
/// slashes, no empty, `.` or `..` segments, not absolute, no backslashes
/// or control characters. Construction is the only check, so holding one
/// proves it is safe to join onto a directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundlePath(String);

impl BundlePath {
    pub fn new(path: &str) -> Result<BundlePath, String> {
        check_relative_name(path)?;
        if path == MANIFEST_NAME {
            return Err(format!("'{MANIFEST_NAME}' is reserved for the manifest"));
        }
        Ok(BundlePath(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one rule for names inside a bundle, used by the writer (so we never
/// produce a bad name) and the reader (so a crafted zip cannot escape).
pub fn check_relative_name(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.starts_with('/') {
        return Err(format!("absolute path '{path}'"));
    }
    if path.contains('\\') {
        return Err(format!("backslash in path '{path}'"));
    }
    if path.chars().any(|c| c.is_control()) {
        return Err(format!("control character in path {path:?}"));
    }
    // A Windows drive prefix ("C:") is absolute on the machine that extracts it.
    if path.as_bytes().get(1) == Some(&b':') {
        return Err(format!("drive-letter path '{path}'"));
    }
    for seg in path.split('/') {
        match seg {
            "" => return Err(format!("empty segment in path '{path}'")),
            "." | ".." => return Err(format!("'{seg}' segment in path '{path}'")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_paths() {
        for ok in ["logs/frontend.log", "a", "k8s/pods/x-1.json", "a..b/c"] {
            BundlePath::new(ok).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "C:/x",
            "a\nb",
            "manifest.json",
        ] {
            assert!(BundlePath::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
