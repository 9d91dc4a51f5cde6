//! The line pass on a structured file's strings: a scalar's value, and a
//! quoted YAML scalar's lines as they are written.

use std::collections::BTreeMap;
use std::io::Read;

use super::{Node, Walker, yaml};
use crate::redact::RedactionCounts;
use crate::redact::text::{LineRedactor, RedactingReader};

impl Walker<'_> {
    /// `text` (the scalar's value `original`, perhaps partly redacted
    /// already) through the line pass; the scalar is rewritten if that
    /// changes anything.
    pub(super) fn line_pass_leaf(&mut self, n: &Node, original: &str, text: &str) {
        if let Some(out) = self.line_pass(text, original) {
            self.replace_raw(n, &out);
        }
    }

    /// `text` through the line pass, when that makes it differ from
    /// `original`; the replacements are counted.
    fn line_pass(&mut self, text: &str, original: &str) -> Option<String> {
        let (out, counts) = self.read_lines(text)?;
        if out == original.as_bytes() {
            return None;
        }
        for (rule, n) in counts {
            *self.counts.entry(rule).or_default() += n;
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    /// `text` through the line pass: what comes out, and what it replaced.
    fn read_lines(&self, text: &str) -> Option<(Vec<u8>, BTreeMap<String, u64>)> {
        let mut out = Vec::new();
        let counts = RedactionCounts::default();
        let line_red = LineRedactor::new_sharing(self.red);
        let mut reader = RedactingReader::new(text.as_bytes(), line_red, counts.clone());
        reader.read_to_end(&mut out).ok()?;
        Some((out, counts.snapshot()))
    }

    /// A quoted YAML scalar over several lines is read as its lines are
    /// written before it is read as its value: the parser folds the lines
    /// into one, so `secretKey: |` and its block became
    /// `secretKey: | Zq8r...`, where the secret is no longer under its key
    /// (found by fuzzing). When that reading finds secrets, the redacted
    /// lines become the value, a line break where each was.
    pub(super) fn quoted_lines(&mut self, n: &Node, depth: usize) -> bool {
        let Some(lines) = yaml::quoted_lines(&self.src[n.start..n.end]) else {
            return false;
        };
        let (before, counted) = (self.repl.len(), self.counts.clone());
        self.value_leaf(n, &lines, depth);
        if self.repl.len() == before {
            return false;
        }
        // What the redacted lines fold into is read too, as a probe; what
        // it finds (`password:` at a line's end, its value on the next)
        // could not be placed in the lines, so the whole string goes.
        let folded = self
            .repl
            .last()
            .and_then(|(_, _, written)| yaml::one_string(written))
            .map(|value| {
                let lines: Vec<&str> = value.split('\n').map(str::trim_start).collect();
                lines.join(" ")
            });
        if let Some(rule) = folded.and_then(|f| self.line_pass_finds(&f)) {
            self.repl.truncate(before);
            *self.counts = counted;
            let marker = self.red.marker().make(&rule, lines.as_bytes());
            self.replace(n, &marker, &rule);
        }
        true
    }

    /// The first rule the line pass applies to `text`, counting nothing.
    fn line_pass_finds(&self, text: &str) -> Option<String> {
        let (out, counts) = self.read_lines(text)?;
        let rule = counts.into_keys().next()?;
        (out != text.as_bytes()).then_some(rule)
    }
}
