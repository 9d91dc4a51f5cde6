//! sg-debug: collector -> redactor -> packager, and `inspect` to read what
//! the packager wrote. Each stage is a module and depends only on the
//! stages above it in this list (`tests/architecture.rs` checks it;
//! `docs/architecture.md` explains it):
//!
//! 0. `category`, `display`, `fsutil`, `image`, this file: plain data and helpers
//! 1. `artifact`: what collectors yield, and the rules for its names
//! 2. `redact`: the only road from an artifact to something writable
//! 3. `bundle`: format, sealed manifest, contracts, writer, reader
//! 4. `collect`, `inspect`, `ledger`: the work
//! 5. `commands`: command-line arguments to typed options, and output

pub mod category;
pub mod display;
pub mod fsutil;
pub mod image;

pub mod artifact;

pub mod redact;

pub mod bundle;

pub mod collect;
pub mod drift;
pub mod inspect;
pub mod ledger;

pub mod commands;

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
