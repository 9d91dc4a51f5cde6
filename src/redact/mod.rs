//! Stage 2, the redaction pass: the only road from a collector's
//! `Artifact` to the packager. Depends on `artifact` only. `RedactedArtifact` has private fields and no public
//! constructor, so code outside this module cannot hand the packager
//! anything that did not pass through `Redactor::redact`.

mod list;
pub mod marker;
pub mod network;
pub mod rules;
pub mod scan;
pub mod structured;
pub mod text;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::{Arc, Mutex};

use crate::artifact::{Artifact, ArtifactMeta, Body};
use marker::Marker;
use network::{NetworkObfuscator, NetworkReader};
use rules::RuleSet;
use structured::Format;
use text::{LineRedactor, RedactingReader};

/// Structured files larger than this are redacted line by line instead:
/// the structured pass holds the whole document in memory.
pub const MAX_STRUCTURED: usize = 16 << 20;
/// How much of a stream is looked at to decide that it is binary.
const SNIFF: usize = 8 << 10;

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

    /// Counts from an earlier pass (re-redacting a bundle), so the manifest
    /// keeps the whole history.
    pub fn carry_prior_counts(&self, prior: &BTreeMap<String, u64>) {
        for (rule, n) in prior {
            self.counts.add(rule, *n);
        }
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

/// What became of an artifact.
pub enum Outcome {
    Kept(RedactedArtifact),
    /// Left out whole, with the reason for the manifest.
    Omitted {
        meta: ArtifactMeta,
        reason: String,
    },
}

/// Replacements per rule id and notes on how a file was redacted, filled
/// in while a body streams through the pass.
#[derive(Clone, Default, Debug)]
pub struct RedactionCounts(Arc<Mutex<Tally>>);

#[derive(Default, Debug)]
struct Tally {
    by_rule: BTreeMap<String, u64>,
    notes: Vec<String>,
}

impl RedactionCounts {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        // A panic elsewhere must not hide the counts.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, rule: &str, n: u64) {
        *self.tally().by_rule.entry(rule.to_string()).or_default() += n;
    }

    pub fn note(&self, text: String) {
        self.tally().notes.push(text);
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.tally().by_rule.clone()
    }

    pub fn notes(&self) -> Vec<String> {
        self.tally().notes.clone()
    }
}

/// One per run: the rules, and the marker key that makes one secret map to
/// one marker across the whole bundle.
#[derive(Clone)]
pub struct Redactor {
    rules: Arc<RuleSet>,
    marker: Marker,
    network: Option<NetworkObfuscator>,
}

impl Redactor {
    pub fn new(rules: RuleSet) -> Redactor {
        Redactor {
            rules: Arc::new(rules),
            marker: Marker::random(),
            network: None,
        }
    }

    /// `--obfuscate-network`: after the secrets, IPs, hostnames and emails
    /// become pseudonyms; the mapping stays with `network()`.
    pub fn obfuscating_network(mut self) -> Redactor {
        self.network = Some(NetworkObfuscator::new());
        self
    }

    pub fn network(&self) -> Option<&NetworkObfuscator> {
        self.network.as_ref()
    }

    #[cfg(test)]
    pub fn with_marker(rules: RuleSet, marker: Marker) -> Redactor {
        Redactor {
            rules: Arc::new(rules),
            marker,
            network: None,
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Free text (the incident note): the line pass, in memory.
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = Vec::new();
        let mut r = RedactingReader::new(
            text.as_bytes(),
            self.line_redactor(),
            RedactionCounts::default(),
        );
        r.read_to_end(&mut out).expect("reading from memory");
        let text = String::from_utf8_lossy(&out).into_owned();
        match &self.network {
            Some(n) => n.obfuscate(&text, &RedactionCounts::default()),
            None => text,
        }
    }

    pub fn line_redactor(&self) -> LineRedactor {
        LineRedactor::new(self.rules.clone(), self.marker.clone())
    }

    pub fn redact(&self, artifact: Artifact) -> Outcome {
        match (self.secrets(artifact), &self.network) {
            (Outcome::Kept(k), Some(net)) => {
                let body = NetworkReader::new(
                    BufReader::with_capacity(64 << 10, k.body),
                    net.clone(),
                    k.counts.clone(),
                );
                Outcome::Kept(RedactedArtifact {
                    meta: k.meta,
                    body: Box::new(body),
                    counts: k.counts,
                })
            }
            (outcome, _) => outcome,
        }
    }

    fn secrets(&self, artifact: Artifact) -> Outcome {
        let Artifact { meta, body } = artifact;
        let counts = RedactionCounts::default();
        let body = match body {
            Body::JsonList(items) => {
                let reader = list::ListReader::new(items, self.line_redactor(), counts.clone());
                return Outcome::Kept(RedactedArtifact {
                    meta,
                    body: Box::new(reader),
                    counts,
                });
            }
            other => other,
        };
        let mut reader = BufReader::with_capacity(64 << 10, body.into_reader());
        let head = match reader.fill_buf() {
            Ok(h) => &h[..h.len().min(SNIFF)],
            Err(e) => {
                return Outcome::Omitted {
                    meta,
                    reason: format!("could not be read: {e}"),
                };
            }
        };
        if head.contains(&0) {
            if self.rules.binary_is_safe(meta.path.as_str()) {
                return Outcome::Kept(RedactedArtifact {
                    meta,
                    body: Box::new(reader),
                    counts,
                });
            }
            return Outcome::Omitted {
                meta,
                reason: "binary content: not text-redactable, and no rule declares it safe".into(),
            };
        }
        if let Some(format) = structured_format(meta.path.as_str()) {
            return self.redact_structured(meta, reader, format, counts);
        }
        Outcome::Kept(self.line_pass(meta, Box::new(reader), counts))
    }

    fn line_pass(
        &self,
        meta: ArtifactMeta,
        body: Box<dyn BufRead + Send>,
        counts: RedactionCounts,
    ) -> RedactedArtifact {
        let reader = RedactingReader::new(body, self.line_redactor(), counts.clone());
        RedactedArtifact {
            meta,
            body: Box::new(reader),
            counts,
        }
    }

    fn redact_structured(
        &self,
        meta: ArtifactMeta,
        reader: BufReader<Box<dyn Read + Send>>,
        format: Format,
        counts: RedactionCounts,
    ) -> Outcome {
        let mut buf = Vec::new();
        let mut limited = reader.take(MAX_STRUCTURED as u64 + 1);
        if let Err(e) = limited.read_to_end(&mut buf) {
            return Outcome::Omitted {
                meta,
                reason: format!("could not be read: {e}"),
            };
        }
        let rest = limited.into_inner();
        let whole = buf.len() <= MAX_STRUCTURED;
        let why = if whole {
            match self.by_structure(format, &buf) {
                Ok((out, local)) => {
                    for (rule, n) in local {
                        counts.add(&rule, n);
                    }
                    return Outcome::Kept(RedactedArtifact {
                        meta,
                        body: Box::new(Cursor::new(out)),
                        counts,
                    });
                }
                Err(e) => e,
            }
        } else {
            format!("larger than {MAX_STRUCTURED} bytes")
        };
        // Fail closed: the stricter line pass, never the raw bytes.
        counts.note(format!(
            "structured redaction not possible ({why}); redacted line by line"
        ));
        // What structure would have tied to a secret's name (env pairs)
        // is looked for line by line first, in the part held in memory.
        let mut local = BTreeMap::new();
        let buf = match String::from_utf8(buf) {
            Ok(text) => {
                structured::env_pairs(&text, &mut self.line_redactor(), &mut local).into_bytes()
            }
            Err(e) => self.env_pairs_in_bytes(e.into_bytes(), &mut local),
        };
        for (rule, n) in local {
            counts.add(&rule, n);
        }
        if !whole {
            let body: Box<dyn BufRead + Send> =
                Box::new(BufReader::new(Cursor::new(buf).chain(rest)));
            return Outcome::Kept(self.line_pass(meta, body, counts));
        }
        // A marker can stand where the text that broke the parse was: the
        // line pass's output may parse. It is then redacted by structure
        // too, now rather than on a second pass (which found more and so
        // was not idempotent: found by fuzzing).
        let mut lined = Vec::with_capacity(buf.len());
        RedactingReader::new(Cursor::new(buf), self.line_redactor(), counts.clone())
            .read_to_end(&mut lined)
            .expect("reading from memory");
        let out = match self.by_structure(format, &lined) {
            Ok((out, local)) => {
                for (rule, n) in local {
                    counts.add(&rule, n);
                }
                counts.note(
                    "then by structure: with the markers in, the file could be parsed".into(),
                );
                out
            }
            Err(_) => lined,
        };
        Outcome::Kept(RedactedArtifact {
            meta,
            body: Box::new(Cursor::new(out)),
            counts,
        })
    }

    /// The structured pass over a file held whole; `Err` says why not.
    /// Repeated on its own output until that stays as it is (at most
    /// three passes): in odd YAML (tabs, tags, control characters, bytes
    /// that are not UTF-8) a replacement can change how the rest parses,
    /// and a second pass then found more. Redacting a bundle again must
    /// change nothing (found by fuzzing).
    fn by_structure(
        &self,
        format: Format,
        buf: &[u8],
    ) -> Result<(Vec<u8>, BTreeMap<String, u64>), String> {
        let once = |buf: &[u8], counts: &mut BTreeMap<String, u64>| {
            let mut line = self.line_redactor();
            match std::str::from_utf8(buf) {
                Ok(text) => {
                    structured::redact(format, text, &mut line, counts).map(String::into_bytes)
                }
                Err(_) => structured::redact_bytes(format, buf, &mut line, counts),
            }
        };
        let mut counts = BTreeMap::new();
        let mut out = once(buf, &mut counts)?;
        for _ in 0..2 {
            let mut more = BTreeMap::new();
            match once(&out, &mut more) {
                Ok(again) if again != out => {
                    for (rule, n) in more {
                        *counts.entry(rule).or_default() += n;
                    }
                    out = again;
                }
                _ => break,
            }
        }
        Ok((out, counts))
    }

    /// `structured::env_pairs` over text that is not all UTF-8 (one stray
    /// Latin-1 byte must not hide an env pair's secret): it reads a lossy
    /// copy, and every line it left alone keeps its original bytes.
    fn env_pairs_in_bytes(&self, bytes: Vec<u8>, counts: &mut BTreeMap<String, u64>) -> Vec<u8> {
        let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        let lossy: String = lines.iter().map(|l| String::from_utf8_lossy(l)).collect();
        let paired = structured::env_pairs(&lossy, &mut self.line_redactor(), counts);
        let new: Vec<&str> = paired.split_inclusive('\n').collect();
        if new.len() != lines.len() {
            // env_pairs keeps the line count; should it not, the line pass
            // still reads every original byte.
            return bytes;
        }
        let mut out = Vec::with_capacity(bytes.len());
        for (old, new) in lines.iter().zip(new) {
            if String::from_utf8_lossy(old) == new {
                out.extend_from_slice(old);
            } else {
                out.extend_from_slice(new.as_bytes());
            }
        }
        out
    }
}

/// The structured pass applies by file name: collectors name what they
/// produce (`.json`, `.yaml`); site configuration is `.jsonc`.
pub fn structured_format(path: &str) -> Option<Format> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "json" | "jsonc" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
