//! sg-debug: collector -> redactor -> packager, and `inspect` to read what
//! the packager wrote. Each stage is a module; `main.rs` only dispatches.

pub mod artifact;
pub mod bundle;
pub mod category;
pub mod cli;
pub mod collect;
pub mod fsutil;
pub mod inspect;
pub mod redact;

use std::fmt;

/// A mistake in how sg-debug was called (exit code 2), as opposed to a
/// failure while doing the work (exit code 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
