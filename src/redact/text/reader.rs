//! `RedactingReader`: the line pass over a stream, with the fast path that
//! copies runs of lines holding no keyword straight through, and PEM
//! private keys that span lines.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};
use std::sync::LazyLock;

use memchr::memmem;

use super::{LineRedactor, MAX_LINE};
use crate::redact::RedactionCounts;
use crate::redact::rules::{GateCursor, RULE_BINARY_LINE, RULE_LONG_LINE, RULE_PEM};

/// A PEM block longer than this is closed and redacted as it stands.
const MAX_PEM: usize = 1 << 20;

enum State {
    Normal,
    /// Inside a multi-line PEM private key: `prefix` (already redacted) is
    /// what preceded `-----BEGIN` on its line; `body` is the key so far.
    InKey {
        prefix: Vec<u8>,
        body: Vec<u8>,
    },
}

/// Redacts a stream line by line as it is read.
pub struct RedactingReader<R> {
    inner: R,
    red: LineRedactor,
    state: State,
    line: Vec<u8>,
    /// The fast path's copy of the buffered lines, and its lowercase twin.
    chunk: Vec<u8>,
    lower: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    counts: BTreeMap<String, u64>,
    shared: RedactionCounts,
    done: bool,
    long_line_ended: bool,
}

impl<R: BufRead> RedactingReader<R> {
    pub fn new(inner: R, red: LineRedactor, shared: RedactionCounts) -> Self {
        RedactingReader {
            inner,
            red,
            state: State::Normal,
            line: Vec::new(),
            chunk: Vec::new(),
            lower: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            counts: BTreeMap::new(),
            shared,
            done: false,
            long_line_ended: false,
        }
    }

    /// Reads one line (with its newline) into `self.line`. Over-long lines
    /// are consumed and reported by their length instead, and whether they
    /// ended with a newline.
    fn next_line(&mut self) -> io::Result<Option<Result<(), (usize, bool)>>> {
        self.line.clear();
        self.long_line_ended = false;
        let mut total = 0usize;
        let mut too_long = false;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                break;
            }
            let (take, end) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !too_long {
                if self.line.len() + take > MAX_LINE {
                    too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(&buf[..take]);
                }
            }
            total += take;
            self.long_line_ended = end;
            self.inner.consume(take);
            if end {
                break;
            }
        }
        Ok(match (total, too_long) {
            (0, _) => None,
            (n, true) => Some(Err((n, self.long_line_ended))),
            (_, false) => Some(Ok(())),
        })
    }

    /// The fast path: the complete lines in the reader's buffer are taken
    /// at once, one SIMD literal search finds the lines that hold a
    /// keyword (or a NUL byte), and only those go through `process`; the
    /// runs between them are copied out as they are. Returns whether it
    /// took anything.
    fn bulk(&mut self) -> io::Result<bool> {
        if !matches!(self.state, State::Normal) || !self.red.rules.keyword_free_lines_pass() {
            return Ok(false);
        }
        let buf = loop {
            match self.inner.fill_buf() {
                Ok(b) => break b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let Some(last_nl) = memchr::memrchr(b'\n', buf) else {
            return Ok(false);
        };
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.clear();
        chunk.extend_from_slice(&buf[..=last_nl]);
        self.inner.consume(chunk.len());
        let mut lower = std::mem::take(&mut self.lower);
        lower.clear();
        lower.extend(chunk.iter().map(u8::to_ascii_lowercase));

        let mut pos = 0;
        let mut cursor = GateCursor::default();
        let mut nul = memchr::memchr(0, &chunk);
        while pos < chunk.len() {
            let line_end = |from: usize| {
                memchr::memchr(b'\n', &chunk[from..]).map_or(chunk.len(), |i| from + i + 1)
            };
            // Inside a PEM block every line goes through the state machine.
            if !matches!(self.state, State::Normal) {
                let e = line_end(pos);
                self.process(&chunk[pos..e]);
                pos = e;
                continue;
            }
            if nul.is_some_and(|z| z < pos) {
                nul = memchr::memchr(0, &chunk[pos..]).map(|z| pos + z);
            }
            let hit = match (self.red.rules.next_keyword(&lower, pos, &mut cursor), nul) {
                (Some(k), Some(z)) => Some(k.min(z)),
                (k, z) => k.or(z),
            };
            let Some(hit) = hit else {
                self.out.extend_from_slice(&chunk[pos..]);
                break;
            };
            let start = memchr::memrchr(b'\n', &chunk[pos..hit]).map_or(pos, |i| pos + i + 1);
            let end = line_end(hit);
            self.out.extend_from_slice(&chunk[pos..start]);
            self.process(&chunk[start..end]);
            pos = end;
        }
        self.chunk = chunk;
        self.lower = lower;
        Ok(true)
    }

    fn process_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.process(&line);
        self.line = line;
    }

    fn process(&mut self, line: &[u8]) {
        if line.contains(&0) {
            if matches!(self.state, State::InKey { .. }) {
                self.close_key();
            }
            self.notice(
                RULE_BINARY_LINE,
                &format!(
                    "[sg-debug: removed a line of {} bytes with binary content]",
                    line.len()
                ),
                line.ends_with(b"\n"),
            );
            return;
        }
        match &mut self.state {
            State::InKey { body, .. } => {
                if let Some(end) = pem_end(line) {
                    body.extend_from_slice(&line[..end]);
                    self.close_key();
                    let rest = &line[end..];
                    self.red.redact_into(rest, &mut self.out, &mut self.counts);
                } else if looks_like_pem_body(line) && body.len() + line.len() <= MAX_PEM {
                    body.extend_from_slice(line);
                } else {
                    self.close_key();
                    self.process(line);
                }
            }
            State::Normal => match pem_begin_without_end(line) {
                Some(begin) => {
                    let mut prefix = Vec::new();
                    self.red
                        .redact_into(&line[..begin], &mut prefix, &mut self.counts);
                    self.state = State::InKey {
                        prefix,
                        body: line[begin..].to_vec(),
                    };
                }
                None => self.red.redact_into(line, &mut self.out, &mut self.counts),
            },
        }
    }

    /// One marker for the whole key, where it began, then the line
    /// terminators of its lines: the output keeps the input's lines.
    fn close_key(&mut self) {
        if let State::InKey { prefix, body } = std::mem::replace(&mut self.state, State::Normal) {
            self.out.extend_from_slice(&prefix);
            let marker = self.red.marker().make(RULE_PEM, &body);
            self.out.extend_from_slice(marker.as_bytes());
            for i in memchr::memchr_iter(b'\n', &body) {
                if i > 0 && body[i - 1] == b'\r' {
                    self.out.push(b'\r');
                }
                self.out.push(b'\n');
            }
            *self.counts.entry(RULE_PEM.into()).or_default() += 1;
        }
    }

    /// A line replaced by a notice; the notice ends the line as it ended.
    fn notice(&mut self, rule: &str, text: &str, newline: bool) {
        self.out.extend_from_slice(text.as_bytes());
        if newline {
            self.out.push(b'\n');
        }
        *self.counts.entry(rule.into()).or_default() += 1;
    }

    fn finish(&mut self) {
        if matches!(self.state, State::InKey { .. }) {
            self.close_key();
        }
        for (rule, n) in std::mem::take(&mut self.counts) {
            self.shared.add(&rule, n);
        }
        self.done = true;
    }
}

impl<R: BufRead> Read for RedactingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            if self.done {
                return Ok(0);
            }
            if self.bulk()? {
                continue;
            }
            match self.next_line()? {
                None => self.finish(),
                Some(Ok(())) => self.process_line(),
                Some(Err((n, newline))) => {
                    if matches!(self.state, State::InKey { .. }) {
                        self.close_key();
                    }
                    self.notice(
                        RULE_LONG_LINE,
                        &format!(
                            "[sg-debug: removed a line of {n} bytes, longer than the {MAX_LINE}-byte redaction limit]"
                        ),
                        newline,
                    );
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

static PEM_TAIL: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"PRIVATE KEY-----"));

/// Byte offset of the first `-----BEGIN ... PRIVATE KEY-----` that no
/// `-----END` follows on the same line: the start of a key that goes on
/// over the next lines. (Complete one-line keys before it are the regex
/// rule's business.)
fn pem_begin_without_end(line: &[u8]) -> Option<usize> {
    PEM_TAIL.find(line)?;
    // After the last complete `-----END ... PRIVATE KEY-----` only: any
    // other `-----END` (`KEY------END akey`) made the key look complete,
    // so its lines were left to the line rules, and once one of them
    // replaced that `-----END`, a second pass removed the key whole (found
    // by fuzzing).
    let mut from = memmem::rfind_iter(line, b"-----END")
        .find(|&i| pem_armor(&line[i + b"-----END".len()..]))
        .unwrap_or(0);
    while let Some(i) = memmem::find(&line[from..], b"-----BEGIN") {
        let begin = from + i;
        if pem_armor(&line[begin + b"-----BEGIN".len()..]) {
            return Some(begin);
        }
        from = begin + 1;
    }
    None
}

/// Whether `rest` (what follows `-----BEGIN` or `-----END`) is
/// ` <KIND> PRIVATE KEY-----`.
fn pem_armor(rest: &[u8]) -> bool {
    let kind = rest
        .iter()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
        .count();
    rest[..kind].ends_with(b"PRIVATE KEY") && rest[kind..].starts_with(b"-----")
}

/// Offset just past `-----END ... PRIVATE KEY-----`.
fn pem_end(line: &[u8]) -> Option<usize> {
    let end = memmem::find(line, b"-----END")?;
    let tail = PEM_TAIL.find(&line[end..])?;
    Some(end + tail + b"PRIVATE KEY-----".len())
}

/// Base64 lines of a key, possibly behind a log prefix (timestamps), and
/// the RFC 1421 headers of encrypted keys.
fn looks_like_pem_body(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    if t.is_empty() || t.starts_with(b"Proc-Type:") || t.starts_with(b"DEK-Info:") {
        return true;
    }
    let last = t.rsplit(|b| b.is_ascii_whitespace()).next().unwrap_or(t);
    last.len() >= 4
        && last
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}
