//! Kubernetes `List`s sent as JSON Lines (`Body::JsonList`): each item is
//! redacted by structure on its own and the `List` document is written
//! around the items as it is read, so memory holds one item, never the
//! list. The bytes are those `serde_json::to_vec_pretty` gives for the
//! whole `List` (and the whole-document pass would redact): a 5,000-pod
//! namespace no longer means a 40 MB tree in memory, nor a document past
//! `MAX_STRUCTURED` sent to the line pass.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};

use super::structured::{self, Format};
use super::text::LineRedactor;
use super::{MAX_STRUCTURED, RedactionCounts};

const HEAD: &[u8] = b"{\n  \"apiVersion\": \"v1\",\n  \"items\": [";
const TAIL: &[u8] = b",\n  \"kind\": \"List\"\n}\n";

enum State {
    Head,
    Items { first: bool },
    Done,
}

pub(super) struct ListReader {
    src: Box<dyn BufRead + Send>,
    red: LineRedactor,
    counts: RedactionCounts,
    state: State,
    out: Vec<u8>,
    at: usize,
    line: Vec<u8>,
    left_out: u64,
}

impl ListReader {
    pub(super) fn new(
        src: Box<dyn BufRead + Send>,
        red: LineRedactor,
        counts: RedactionCounts,
    ) -> ListReader {
        ListReader {
            src,
            red,
            counts,
            state: State::Head,
            out: Vec::new(),
            at: 0,
            line: Vec::new(),
            left_out: 0,
        }
    }

    /// The next line into `self.line`; false at the end. A line longer
    /// than `MAX_STRUCTURED` is read past, never held: it comes back empty.
    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = self.src.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], i + 1),
                None => (buf, buf.len()),
            };
            if !too_long && self.line.len() + chunk.len() <= MAX_STRUCTURED {
                self.line.extend_from_slice(chunk);
            } else {
                too_long = true;
                self.line.clear();
            }
            let ended = done > chunk.len();
            self.src.consume(done);
            if ended {
                break;
            }
        }
        if too_long {
            self.left_out += 1;
        }
        Ok(any)
    }

    /// One item, redacted and indented as it sits in the `List`; None for
    /// a line that is not one JSON object (left out and counted: the
    /// collector writes only objects, so this is a bug, not data).
    fn item(&mut self) -> Option<Vec<u8>> {
        let value: serde_json::Value = serde_json::from_slice(&self.line).ok()?;
        let pretty = serde_json::to_string_pretty(&value).ok()?;
        let mut local = BTreeMap::new();
        let text = match structured::redact(Format::Json, &pretty, &mut self.red, &mut local) {
            Ok(t) => t.into_bytes(),
            Err(why) => {
                // Fail closed, as for a whole document: the line pass.
                self.counts.note(format!(
                    "structured redaction of a list item not possible ({why}); that item redacted line by line"
                ));
                let mut out = Vec::with_capacity(pretty.len());
                for l in pretty.as_bytes().split_inclusive(|b| *b == b'\n') {
                    self.red.redact_into(l, &mut out, &mut local);
                }
                out
            }
        };
        for (rule, n) in local {
            self.counts.add(&rule, n);
        }
        let mut out = Vec::with_capacity(text.len() + text.len() / 8);
        for l in text.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(b"    ");
            out.extend_from_slice(l);
        }
        Some(out)
    }

    /// Fills `self.out` with the next piece of the document; false at its end.
    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.at = 0;
        match self.state {
            State::Head => {
                self.out.extend_from_slice(HEAD);
                self.state = State::Items { first: true };
            }
            State::Items { first } => loop {
                if !self.next_line()? {
                    self.out
                        .extend_from_slice(if first { b"]" } else { b"\n  ]" });
                    self.out.extend_from_slice(TAIL);
                    if self.left_out > 0 {
                        self.counts.note(format!(
                            "{} list item(s) left out: not one JSON object of at most {MAX_STRUCTURED} bytes",
                            self.left_out
                        ));
                    }
                    self.state = State::Done;
                    break;
                }
                if self.line.is_empty() {
                    continue;
                }
                match self.item() {
                    Some(item) => {
                        self.out
                            .extend_from_slice(if first { b"\n" } else { b",\n" });
                        self.out.extend_from_slice(&item);
                        self.state = State::Items { first: false };
                        break;
                    }
                    None => self.left_out += 1,
                }
            },
            State::Done => return Ok(false),
        }
        Ok(true)
    }
}

impl Read for ListReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::marker::Marker;
    use crate::redact::rules::RuleSet;
    use serde_json::json;
    use std::sync::Arc;

    fn read(lines: &str) -> (String, RedactionCounts) {
        let red = LineRedactor::new(Arc::new(RuleSet::defaults()), Marker::with_key([7; 32]));
        let counts = RedactionCounts::default();
        let mut r = ListReader::new(
            Box::new(io::Cursor::new(lines.as_bytes().to_vec())),
            red,
            counts.clone(),
        );
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        (out, counts)
    }

    /// The document is byte for byte the one the whole `List` gave, with
    /// every item redacted as the whole-document pass redacted it.
    #[test]
    fn writes_the_list_the_whole_document_pass_wrote() {
        let red = || LineRedactor::new(Arc::new(RuleSet::defaults()), Marker::with_key([7; 32]));
        let items = [
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"PGPASSWORD": "hunter2", "x": "ok"}}),
            json!({}),
            json!({"kind": "Pod", "spec": {"containers": [{"env": [{"name": "SRC_TOKEN", "value": "s3cr3t-tok"}], "args": ["--password", "pw9"]}]}}),
        ];
        for n in 0..=items.len() {
            let lines: String = items[..n].iter().map(|i| format!("{i}\n")).collect();
            let (out, counts) = read(&lines);
            let mut whole = serde_json::to_vec_pretty(
                &json!({"apiVersion": "v1", "kind": "List", "items": items[..n]}),
            )
            .unwrap();
            whole.push(b'\n');
            let whole = String::from_utf8(whole).unwrap();
            let mut c = BTreeMap::new();
            let expected = structured::redact(Format::Json, &whole, &mut red(), &mut c).unwrap();
            assert_eq!(out, expected, "{n} items");
            assert_eq!(counts.snapshot(), c, "{n} items");
            for secret in ["hunter2", "s3cr3t-tok", "pw9"] {
                assert!(!out.contains(secret), "{secret} in {out}");
            }
        }
    }

    #[test]
    fn a_line_that_is_no_object_is_left_out_and_said() {
        let (out, counts) = read("{\"a\": 1}\nnot json\n\n{\"b\": 2}\n");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["items"], json!([{"a": 1}, {"b": 2}]));
        assert!(
            counts
                .notes()
                .iter()
                .any(|n| n.contains("1 list item(s) left out")),
            "{:?}",
            counts.notes()
        );
    }
}
