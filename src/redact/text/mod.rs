//! The line-based pass: log text, and the fallback for anything the
//! structured pass cannot parse. Streams: one bounded line in memory at a
//! time (plus a PEM block while one is open).

mod reader;
mod spans;
mod value;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use memchr::memmem;
use regex::bytes::Regex;

use super::marker::Marker;
use super::rules::RuleSet;
use spans::{char_start, inside_marker, is_key_byte, merge, push_span};
pub(crate) use value::{Dsn, dsn, not_a_secret};
use value::{is_reference, value_span};

/// Longer lines are not scanned: they are replaced by a notice (fail closed).
pub const MAX_LINE: usize = 1 << 20;

pub use reader::RedactingReader;

/// `key=value`, `key: value`, `"key":"value"`, `\"key\":\"value\"`: the key
/// and separator. The value is parsed by hand (quotes, escapes).
static KV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[^A-Za-z0-9_.])(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)(?:\\?["'])?[ \t]*(?P<sep>[:=])[ \t]*"#)
        .expect("valid")
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub rule: RuleRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleRef {
    Regex(usize),
    Key(usize),
}

pub(crate) fn rule_id(rules: &RuleSet, r: RuleRef) -> &str {
    match r {
        RuleRef::Regex(i) => &rules.regex_rules[i].id,
        RuleRef::Key(i) => &rules.key_rules[i].id,
    }
}

/// Finds and replaces secrets in single lines.
pub struct LineRedactor {
    rules: Arc<RuleSet>,
    marker: Marker,
    candidates: Vec<usize>,
    key_hits: Vec<usize>,
    lower: Vec<u8>,
    spans: Vec<Span>,
    locs: Vec<Option<regex::bytes::CaptureLocations>>,
}

impl LineRedactor {
    pub fn new(rules: Arc<RuleSet>, marker: Marker) -> LineRedactor {
        let locs = vec![None; rules.regex_rules.len()];
        LineRedactor {
            rules,
            marker,
            candidates: Vec::new(),
            key_hits: Vec::new(),
            lower: Vec::new(),
            spans: Vec::new(),
            locs,
        }
    }

    /// Another redactor with the same rules and marker key.
    pub fn new_sharing(other: &LineRedactor) -> LineRedactor {
        LineRedactor::new(other.rules.clone(), other.marker.clone())
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn marker(&self) -> &Marker {
        &self.marker
    }

    /// Appends `line` to `out` with every secret replaced by its marker.
    /// A line that had secrets is read again until nothing more is found
    /// (at most three times): a marker where a value with spaces or odd
    /// bytes was can let another rule match what it could not before, and
    /// a second pass over the output then found more (found by fuzzing).
    pub fn redact_into(
        &mut self,
        line: &[u8],
        out: &mut Vec<u8>,
        counts: &mut BTreeMap<String, u64>,
    ) {
        let from = out.len();
        if !self.redact_once(line, out, counts) {
            return;
        }
        let mut previous = Vec::new();
        for _ in 0..2 {
            previous.clear();
            previous.extend_from_slice(&out[from..]);
            out.truncate(from);
            // Nothing found: `previous` is copied back as it was.
            if !self.redact_once(&previous, out, counts) {
                return;
            }
        }
    }

    /// One reading of `line` into `out`; whether anything was replaced.
    fn redact_once(
        &mut self,
        line: &[u8],
        out: &mut Vec<u8>,
        counts: &mut BTreeMap<String, u64>,
    ) -> bool {
        self.find(line);
        let mut at = 0;
        for s in &self.spans {
            out.extend_from_slice(&line[at..s.start]);
            let id = rule_id(&self.rules, s.rule);
            out.extend_from_slice(self.marker.make(id, &line[s.start..s.end]).as_bytes());
            *counts.entry(id.to_string()).or_default() += 1;
            at = s.end;
        }
        out.extend_from_slice(&line[at..]);
        !self.spans.is_empty()
    }

    /// The secrets in `line`: sorted, non-overlapping, never a marker, and
    /// never in the line terminator: a value whose quote never closes ends
    /// at the end of its line, so redaction cannot join two lines.
    pub(crate) fn find(&mut self, line: &[u8]) -> &[Span] {
        self.spans.clear();
        let line = without_terminator(line);
        let keys = self.rules.candidates(
            line,
            &mut self.lower,
            &mut self.candidates,
            &mut self.key_hits,
        );
        for &i in &self.candidates {
            let rule = &self.rules.regex_rules[i];
            let locs = self.locs[i].get_or_insert_with(|| rule.regex.capture_locations());
            let mut at = 0;
            let mut covered = 0;
            while at <= line.len() {
                let Some(m) = rule.regex.captures_read_at(locs, line, at) else {
                    break;
                };
                let secret = locs.get(rule.secret_group);
                // `Authorization: Bearer $TOKEN` names a secret, holds none.
                if let Some((s, e)) = secret
                    && !is_reference(&line[s..e])
                {
                    push_span(&mut self.spans, line, s, e, RuleRef::Regex(i));
                }
                at = match secret {
                    // The secret may itself begin the next match: in
                    // `Authorization: Bearer Authorization: Bearer TOKEN`
                    // the first value is `Authorization:`, and TOKEN is
                    // found only by looking again from there (one byte
                    // early, for the rule's leading delimiter). Only
                    // while the spans grow, so a run of nested matches
                    // that add nothing costs one more look, not one per
                    // match.
                    Some((s, e)) if e > covered && s > m.start() => {
                        covered = e;
                        char_start(line, s - 1).max(m.start() + 1)
                    }
                    _ if m.end() > m.start() => m.end(),
                    _ => m.end() + 1,
                };
            }
        }
        if keys {
            self.find_key_values(line);
        }
        merge(&mut self.spans);
        &self.spans
    }

    fn find_key_values(&mut self, line: &[u8]) {
        let has_marker = memmem::find(line, super::marker::PREFIX).is_some();
        if self.key_hits.is_empty() {
            // Every pair (a key rule without keywords is loaded).
            let mut at = 0;
            while let Some(caps) = KV.captures_at(line, at) {
                // The next look starts at the separator, which may bound
                // the next key: in `OTEL_EXPORTER_OTLP_HEADERS=api-key=abc`
                // the value is itself a pair.
                at = caps.name("sep").expect("group").start();
                self.key_value(line, &caps, has_marker);
            }
            for flag in memchr::memchr_iter(b'-', line) {
                if flag == 0 || line[flag - 1] != b'-' {
                    self.flag_value(line, flag, has_marker);
                }
            }
            return;
        }
        // Only the pairs whose key holds a keyword: look from the start of
        // the word around each hit.
        let mut hits = std::mem::take(&mut self.key_hits);
        hits.sort_unstable();
        let mut done_until = 0;
        for &hit in &hits {
            if hit < done_until {
                continue;
            }
            let word = line[..hit]
                .iter()
                .rposition(|b| !is_key_byte(*b))
                .map_or(0, |i| i + 1);
            let from = word.saturating_sub(1);
            if let Some(caps) = KV.captures_at(line, from) {
                let key = caps.name("key").expect("group");
                if key.start() <= hit && hit < key.end() {
                    self.key_value(line, &caps, has_marker);
                    done_until = key.end();
                    continue;
                }
            }
            if let Some(end) = self.flag_value(line, word, has_marker) {
                done_until = end;
            }
        }
        self.key_hits = hits;
    }

    /// `--password VALUE`, `-token VALUE`, `"--db-password", "VALUE"`: a
    /// command-line flag named like a secret (by the key rules, as in the
    /// structured pass's argument lists) takes the next word as its value.
    /// `flag` is where the flag's first `-` is. Not: `--no-password`, a flag
    /// followed by another flag, `--password=x` (a pair, found as such).
    /// Returns where the flag's word ends when it names a secret.
    fn flag_value(&mut self, line: &[u8], flag: usize, has_marker: bool) -> Option<usize> {
        if line.get(flag) != Some(&b'-')
            || (flag > 0
                && !matches!(
                    line[flag - 1],
                    b' ' | b'\t' | b'"' | b'\'' | b'[' | b'(' | b','
                ))
        {
            return None;
        }
        let end = line[flag..]
            .iter()
            .position(|b| !is_key_byte(*b))
            .map_or(line.len(), |i| flag + i);
        let word = &line[flag..end];
        let dashes = word.iter().take_while(|b| **b == b'-').count();
        let name = std::str::from_utf8(&word[dashes..]).ok()?;
        if dashes > 2
            || !name.starts_with(|c: char| c.is_ascii_alphabetic())
            || name.starts_with("no-")
            || !self.rules.key_may_match(name)
            || (has_marker && inside_marker(line, flag))
        {
            return None;
        }
        let rule = self.rules.secret_key_index(name)?;
        // The separator: blanks, or in a quoted list the closing quote, a
        // comma and the next item's opening quote.
        let mut at = end;
        let quoted_list = matches!(line.get(at), Some(b'"' | b'\''));
        if quoted_list {
            at += 1;
            if line.get(at) == Some(&b',') {
                at += 1;
            }
        }
        let blanks = line[at..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        at += blanks;
        if at == end
            || (quoted_list && (at == end + 1 || !matches!(line.get(at), Some(b'"' | b'\''))))
            || matches!(line.get(at), None | Some(b'-'))
        {
            return None;
        }
        let (s, e) = value_span(line, at, false)?;
        push_span(&mut self.spans, line, s, e, RuleRef::Key(rule));
        Some(end)
    }

    /// One `key<sep>value` match: a span when the key is a secret's.
    fn key_value(&mut self, line: &[u8], caps: &regex::bytes::Captures<'_>, has_marker: bool) {
        let key = caps.name("key").expect("group");
        let Ok(key_text) = std::str::from_utf8(key.as_bytes()) else {
            return;
        };
        if !self.rules.key_may_match(key_text) {
            return;
        }
        // `[REDACTED:url-password:1a2b3c4d]` is a marker, not a pair.
        if has_marker && inside_marker(line, key.start()) {
            return;
        }
        let Some(rule) = self.rules.secret_key_index(key_text) else {
            return;
        };
        let whole = caps.get(0).expect("match");
        let at_line_start = line[..key.start()]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'-' | b'"' | b'\''));
        let colon = caps.name("sep").is_some_and(|s| s.as_bytes() == b":");
        // A pretty-printed JSON line, `"no_secrets": true,` (quoted key,
        // trailing comma), is not YAML: its value ends at the comma. A
        // quoted YAML key's `"password": two words` still takes the rest.
        let json_line = line[key.end()..].starts_with(b"\"")
            && without_terminator(line).trim_ascii_end().ends_with(b",");
        if let Some((s, mut e)) =
            value_span(line, whole.end(), at_line_start && colon && !json_line)
        {
            // `https://x-access-token:SECRET@host/path`: the key is the
            // user of a URL, so the value is its password and ends at
            // `@`; the host and path stay.
            if line[..key.start()].ends_with(b"://")
                && let Some(i) = memchr::memchr(b'@', &line[s..e])
            {
                e = s + i;
            }
            // `PGDATASOURCE=postgres://sg:PASSWORD@pgsql:5432/sg`: the
            // password goes, the host stays.
            let (s, e) = match dsn(&line[s..e]) {
                Dsn::Password(a, b) => (s + a, s + b),
                Dsn::NoPassword => return,
                Dsn::Other => (s, e),
            };
            push_span(&mut self.spans, line, s, e, RuleRef::Key(rule));
        }
    }
}

/// `line` without its `\n` or `\r\n`.
pub(crate) fn without_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
