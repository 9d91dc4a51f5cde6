//! The redaction pass: the only road from a collector's `Artifact` to the
//! packager. `RedactedArtifact` has private fields and no public
//! constructor, so code outside this module cannot hand the packager
//! anything that did not pass through here.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use crate::artifact::ArtifactMeta;

pub struct RedactedArtifact {
    meta: ArtifactMeta,
    body: Box<dyn Read + Send>,
    counts: RedactionCounts,
}

impl RedactedArtifact {
    pub fn meta(&self) -> &ArtifactMeta {
        &self.meta
    }

    /// The body is redacted as it is read; `RedactionCounts` is complete once
    /// the body has been read to its end.
    pub fn into_parts(self) -> (ArtifactMeta, Box<dyn Read + Send>, RedactionCounts) {
        (self.meta, self.body, self.counts)
    }

    /// For the packager's own tests only: the type must stay impossible to
    /// build from unredacted data in the shipped binary.
    #[cfg(test)]
    pub(crate) fn for_tests(meta: ArtifactMeta, body: Box<dyn Read + Send>) -> Self {
        RedactedArtifact {
            meta,
            body,
            counts: RedactionCounts::default(),
        }
    }
}

/// Replacements per rule id, filled in while a body streams through the pass.
#[derive(Clone, Default, Debug)]
pub struct RedactionCounts(Arc<Mutex<BTreeMap<String, u64>>>);

impl RedactionCounts {
    pub fn add(&self, rule: &str, n: u64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(rule.to_string()).or_default() += n;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
