//! The bundle: format (manifest and naming rules), writer (the packager)
//! and reader (for `inspect` and `report`).

pub mod format;
pub mod reader;
pub mod writer;

pub use format::{BundlePath, FileKind, Manifest};
pub use reader::{Bundle, BundleError};
pub use writer::BundleWriter;

#[cfg(test)]
mod tests;
