//! A lenient JSON parser (JSONC: comments and trailing commas) that keeps
//! byte spans for the structured pass.

use super::{Kind, MAX_DEPTH, Node};

/// One document; text after it is an error.
pub(super) fn parse(src: &str) -> Result<Node, String> {
    let mut p = JsonParser {
        s: src.as_bytes(),
        src,
        i: 0,
    };
    let v = p.value(0)?;
    p.ws()?;
    if p.i != p.s.len() {
        return p.err("unexpected text after the value");
    }
    Ok(v)
}

/// A lenient JSON parser (comments and trailing commas allowed) that keeps
/// byte spans.
pub(super) struct JsonParser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl JsonParser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        let line = self.s[..self.i.min(self.s.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        // Where and what, never the text: see the module comment in mod.rs.
        Err(format!("{what} at line {line}"))
    }

    fn ws(&mut self) -> Result<(), String> {
        loop {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if self.s[self.i..].starts_with(b"//") {
                self.i =
                    memchr::memchr(b'\n', &self.s[self.i..]).map_or(self.s.len(), |n| self.i + n);
            } else if self.s[self.i..].starts_with(b"/*") {
                match memchr::memmem::find(&self.s[self.i + 2..], b"*/") {
                    Some(n) => self.i += n + 4,
                    None => return self.err("unterminated comment"),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.ws()?;
        let start = self.i;
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'{') => {
                self.i += 1;
                let mut entries = Vec::new();
                loop {
                    self.ws()?;
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        break;
                    }
                    let k = self.string()?;
                    self.ws()?;
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected ':'");
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    self.ws()?;
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            break;
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
                Ok(Node {
                    kind: Kind::Map(entries),
                    start,
                    end: self.i,
                })
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws()?;
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    self.ws()?;
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
                Ok(Node {
                    kind: Kind::Seq(items),
                    start,
                    end: self.i,
                })
            }
            Some(b'"') => self.string(),
            Some(_) => {
                while self.i < self.s.len()
                    && !matches!(self.s[self.i], b',' | b'}' | b']' | b'/')
                    && !self.s[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                let text = &self.src[start..self.i];
                if text.is_empty() || serde_json::from_str::<serde_json::Value>(text).is_err() {
                    return self.err("invalid value");
                }
                Ok(Node {
                    kind: Kind::Other(text.to_string()),
                    start,
                    end: self.i,
                })
            }
        }
    }

    fn string(&mut self) -> Result<Node, String> {
        let start = self.i;
        if self.s.get(self.i) != Some(&b'"') {
            return self.err("expected a string");
        }
        self.i += 1;
        while self.i < self.s.len() && self.s[self.i] != b'"' {
            self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
        }
        if self.i >= self.s.len() {
            return self.err("unterminated string");
        }
        self.i += 1;
        let value: String = serde_json::from_str(&self.src[start..self.i])
            .or_else(|_| self.err("invalid string (a bad escape or control character)"))?;
        Ok(Node {
            kind: Kind::Str(value),
            start,
            end: self.i,
        })
    }
}
