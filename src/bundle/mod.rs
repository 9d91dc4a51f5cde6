//! Stage 3, the bundle: its format (manifest, naming rules, sealing), the
//! files other stages read (the contracts: `summary`, `sizes`, `instance`), the writer
//! (the packager) and the reader (for `inspect`, `report` and `redact`).
//! Depends on `artifact` and `redact`, never on collectors or commands.

pub mod drift;
pub mod format;
pub mod instance;
pub mod reader;
pub mod seal;
pub mod sizes;
pub mod summary;
pub mod writer;

pub use format::{BundlePath, FileKind, Manifest};
pub use reader::{Bundle, BundleError};
pub use writer::BundleWriter;

#[cfg(test)]
mod tests;
