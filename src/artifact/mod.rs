//! Stage 1, what collectors yield: a named, typed body of bytes that has
//! not been redacted yet. Nothing here can be written to disk; see
//! `redact` for the only way an artifact becomes something the packager
//! accepts. This module depends on nothing else in the crate.

pub mod channel;
pub mod name;

use std::io::{BufRead, Read};

pub use channel::{ChannelReader, ChannelWriter, channel};
pub use name::{BundlePath, FileKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactMeta {
    pub path: BundlePath,
    pub kind: FileKind,
    /// Name of the collector that produced it, as recorded in the manifest.
    pub collector: String,
}

pub enum Body {
    Bytes(Vec<u8>),
    /// Large or unbounded content (logs); read once, never held whole.
    Stream(Box<dyn Read + Send>),
    /// A Kubernetes `List` too large to hold: its items as JSON Lines, one
    /// object a line. The redactor redacts each item by structure and
    /// writes the `List` document (`{"apiVersion", "items", "kind"}`,
    /// pretty-printed), so no more than one item is ever in memory.
    JsonList(Box<dyn BufRead + Send>),
}

pub struct Artifact {
    pub meta: ArtifactMeta,
    pub body: Body,
}

impl Body {
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        match self {
            Body::Bytes(b) => Box::new(std::io::Cursor::new(b)),
            Body::Stream(r) => r,
            Body::JsonList(r) => Box::new(r),
        }
    }
}
