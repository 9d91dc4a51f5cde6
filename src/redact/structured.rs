//! The structured pass for JSON, JSONC and YAML: redact by key and keep the
//! file valid. Both formats are parsed into one small tree that remembers
//! each scalar's byte span in the source; redaction produces replacements
//! for those spans only, so comments, order and layout survive.

use std::collections::BTreeMap;
use std::io::Read;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::RedactionCounts;
use super::marker::is_marker;
use super::text::{LineRedactor, RedactingReader, not_a_secret};

const MAX_DEPTH: usize = 200;
pub const RULE_K8S_SECRET: &str = "kubernetes-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON and JSONC (comments, trailing commas).
    Json,
    Yaml,
}

#[derive(Debug)]
enum Kind {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// A string (JSON) or any scalar written as text (YAML).
    Str(String),
    /// Numbers, booleans, null, aliases: never rewritten as text.
    Other(String),
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    start: usize,
    end: usize,
}

impl Node {
    fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) | Kind::Other(s) => Some(s),
            _ => None,
        }
    }
}

/// Redacts `src` by structure. `Err` means it could not be parsed (or the
/// result would not parse): the caller falls back to the line pass.
pub fn redact(
    format: Format,
    src: &str,
    red: &mut LineRedactor,
    counts: &mut BTreeMap<String, u64>,
) -> Result<String, String> {
    let docs = parse(format, src)?;
    let mut w = Walker {
        red,
        counts,
        repl: Vec::new(),
    };
    for d in &docs {
        w.walk(d, 0);
    }
    let mut repl = w.repl;
    repl.sort_by_key(|r| r.0);
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for (s, e, text) in repl {
        if s < at {
            return Err("overlapping replacements".into());
        }
        out.push_str(&src[at..s]);
        out.push_str(&text);
        at = e;
    }
    out.push_str(&src[at..]);
    parse(format, &out).map_err(|e| format!("redacted output no longer parses: {e}"))?;
    Ok(out)
}

fn parse(format: Format, src: &str) -> Result<Vec<Node>, String> {
    match format {
        Format::Json => {
            let mut p = JsonParser {
                s: src.as_bytes(),
                src,
                i: 0,
            };
            let v = p.value(0)?;
            p.ws()?;
            if p.i != p.s.len() {
                return Err(format!("unexpected text after the value at byte {}", p.i));
            }
            Ok(vec![v])
        }
        Format::Yaml => parse_yaml(src),
    }
}

struct Walker<'a> {
    red: &'a mut LineRedactor,
    counts: &'a mut BTreeMap<String, u64>,
    repl: Vec<(usize, usize, String)>,
}

impl Walker<'_> {
    fn walk(&mut self, n: &Node, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match &n.kind {
            Kind::Map(entries) => {
                let is_secret_object = entries
                    .iter()
                    .any(|(k, v)| k.text() == Some("kind") && v.text() == Some("Secret"))
                    && entries
                        .iter()
                        .any(|(k, _)| matches!(k.text(), Some("data" | "stringData")));
                // Kubernetes env pairs: {name: PGPASSWORD, value: ...}
                let pair_rule = entries
                    .iter()
                    .find(|(k, _)| k.text() == Some("name"))
                    .and_then(|(_, v)| v.text())
                    .and_then(|name| self.red.rules().secret_key(name))
                    .map(str::to_string);
                for (k, v) in entries {
                    let key = k.text().unwrap_or_default();
                    if is_secret_object && matches!(key, "data" | "stringData") {
                        self.secret_data(v, key == "data");
                    } else if let Some(rule) = self.red.rules().secret_key(key) {
                        let rule = rule.to_string();
                        self.redact_all(v, &rule, depth + 1);
                    } else if let (Some(rule), "value") = (&pair_rule, key) {
                        let rule = rule.clone();
                        self.redact_all(v, &rule, depth + 1);
                    } else {
                        self.walk(v, depth + 1);
                    }
                }
            }
            Kind::Seq(items) => {
                // Argument lists: `["redis-server", "--requirepass", "pw"]`,
                // `args: [--password, pw]`: a flag named like a secret
                // takes the next item as its value.
                let mut flag_rule: Option<String> = None;
                for i in items {
                    let is_flag = i.text().is_some_and(|t| t.starts_with('-'));
                    match flag_rule.take() {
                        // `--password --host pgsql`: a flag without a value.
                        Some(rule) if !is_flag => self.redact_all(i, &rule, depth + 1),
                        _ => self.walk(i, depth + 1),
                    }
                    flag_rule = i
                        .text()
                        .and_then(secret_flag_name)
                        .and_then(|name| self.red.rules().secret_key(name))
                        .map(str::to_string);
                }
            }
            Kind::Str(s) => self.string_leaf(n, s, depth),
            Kind::Other(_) => {}
        }
    }

    /// Everything under a secret key goes, whatever its shape.
    fn redact_all(&mut self, n: &Node, rule: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match &n.kind {
            Kind::Map(entries) => {
                for (_, v) in entries {
                    self.redact_all(v, rule, depth + 1);
                }
            }
            Kind::Seq(items) => {
                for i in items {
                    self.redact_all(i, rule, depth + 1);
                }
            }
            Kind::Str(s) | Kind::Other(s) => {
                if s.is_empty() || not_a_secret(s.as_bytes()) || is_plain_literal(s) {
                    return;
                }
                let marker = self.red.marker().make(rule, s.as_bytes());
                self.replace(n, &marker, rule);
            }
        }
    }

    /// Kubernetes Secret `data`/`stringData`: keep key names and sizes.
    fn secret_data(&mut self, n: &Node, base64: bool) {
        let Kind::Map(entries) = &n.kind else {
            return self.redact_all(n, RULE_K8S_SECRET, 0);
        };
        for (_, v) in entries {
            if let Some(s) = v.text() {
                if is_marker(s.as_bytes()) {
                    continue;
                }
                let size = if base64 {
                    base64_decoded_len(s)
                } else {
                    s.len()
                };
                let marker = self.red.marker().make(RULE_K8S_SECRET, s.as_bytes());
                self.replace(v, &format!("{marker} ({size} bytes)"), RULE_K8S_SECRET);
            } else {
                self.redact_all(v, RULE_K8S_SECRET, 0);
            }
        }
    }

    fn string_leaf(&mut self, n: &Node, s: &str, depth: usize) {
        // NAME=value, as in `docker inspect` Env and compose env lists.
        if let Some((name, value)) = s.split_once('=')
            && is_env_name(name)
            && !value.is_empty()
            && !not_a_secret(value.as_bytes())
            && let Some(rule) = self.red.rules().secret_key(name)
        {
            let rule = rule.to_string();
            let marker = self.red.marker().make(&rule, value.as_bytes());
            return self.replace(n, &format!("{name}={marker}"), &rule);
        }
        // JSON held in a string (kubectl's last-applied-configuration,
        // structured log bodies): redact it by structure too.
        let trimmed = s.trim_start();
        if depth < MAX_DEPTH
            && (trimmed.starts_with('{') || trimmed.starts_with('['))
            && let Ok(inner) = redact_nested(s, self.red, depth)
        {
            if inner.0 != s {
                for (rule, n) in inner.1 {
                    *self.counts.entry(rule).or_default() += n;
                }
                self.replace_raw(n, &inner.0);
            }
            return;
        }
        let mut out = Vec::new();
        let counts = RedactionCounts::default();
        let line_red = LineRedactor::new_sharing(self.red);
        let mut reader = RedactingReader::new(s.as_bytes(), line_red, counts.clone());
        if reader.read_to_end(&mut out).is_err() {
            return;
        }
        if out != s.as_bytes() {
            for (rule, n) in counts.snapshot() {
                *self.counts.entry(rule).or_default() += n;
            }
            let text = String::from_utf8_lossy(&out).into_owned();
            self.replace_raw(n, &text);
        }
    }

    fn replace(&mut self, n: &Node, text: &str, rule: &str) {
        *self.counts.entry(rule.to_string()).or_default() += 1;
        self.replace_raw(n, text);
    }

    /// Rewrites the scalar as a double-quoted string, valid in JSON and YAML.
    fn replace_raw(&mut self, n: &Node, text: &str) {
        let quoted = serde_json::to_string(text).expect("strings serialize");
        self.repl.push((n.start, n.end, quoted));
    }
}

fn redact_nested(
    s: &str,
    red: &LineRedactor,
    depth: usize,
) -> Result<(String, BTreeMap<String, u64>), String> {
    if depth > MAX_DEPTH / 2 {
        return Err("too deep".into());
    }
    let mut counts = BTreeMap::new();
    let mut inner = LineRedactor::new_sharing(red);
    let out = redact(Format::Json, s, &mut inner, &mut counts)?;
    Ok((out, counts))
}

/// `--requirepass` -> `requirepass`: a command-line flag that takes its
/// value from the next argument (no `=` of its own).
fn secret_flag_name(arg: &str) -> Option<&str> {
    let name = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    .then_some(name)
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn is_plain_literal(s: &str) -> bool {
    matches!(s, "true" | "false" | "null" | "~")
}

fn base64_decoded_len(s: &str) -> usize {
    let chars: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let pad = chars.iter().rev().take_while(|b| **b == b'=').count();
    (chars.len() / 4 * 3).saturating_sub(pad)
        + match chars.len() % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
}

/// A lenient JSON parser (comments and trailing commas allowed) that keeps
/// byte spans.
struct JsonParser<'a> {
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
                    return self.err(&format!("invalid value {text:?}"));
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
            .or_else(|e| self.err(&format!("bad string ({e})")))?;
        Ok(Node {
            kind: Kind::Str(value),
            start,
            end: self.i,
        })
    }
}

enum Frame {
    Map(usize, Vec<(Node, Node)>, Option<Node>),
    Seq(usize, Vec<Node>),
}

fn parse_yaml(src: &str) -> Result<Vec<Node>, String> {
    // saphyr counts characters; replacements need bytes.
    let offsets: Option<Vec<usize>> = (!src.is_ascii()).then(|| {
        let mut v: Vec<usize> = src.char_indices().map(|(b, _)| b).collect();
        v.push(src.len());
        v
    });
    let byte = |c: usize| offsets.as_ref().map_or(c, |o| o[c.min(o.len() - 1)]);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(src);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| e.to_string())?;
        let (start, end) = (byte(span.start.index()), byte(span.end.index()));
        let node = match ev {
            Event::Scalar(v, style, _, tag) => {
                let plain_literal = style == ScalarStyle::Plain
                    && (is_plain_literal(&v) || v.parse::<f64>().is_ok());
                let kind = if plain_literal || tag.is_some_and(|t| t.suffix != "str") {
                    Kind::Other(v.into_owned())
                } else {
                    Kind::Str(v.into_owned())
                };
                let (start, end) = scalar_extent(src, start, end, style);
                Some(Node { kind, start, end })
            }
            Event::Alias(_) => Some(Node {
                kind: Kind::Other(String::new()),
                start,
                end,
            }),
            Event::MappingStart(..) => {
                stack.push(Frame::Map(start, Vec::new(), None));
                None
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(start, Vec::new()));
                None
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(s, entries, _)) => Some(Node {
                    kind: Kind::Map(entries),
                    start: s,
                    end,
                }),
                _ => return Err("unbalanced mapping".into()),
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(s, items)) => Some(Node {
                    kind: Kind::Seq(items),
                    start: s,
                    end,
                }),
                _ => return Err("unbalanced sequence".into()),
            },
            _ => None,
        };
        let Some(node) = node else { continue };
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
        if stack.len() > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
    }
    Ok(docs)
}

/// The bytes a scalar occupies, quotes and block indicators included, so a
/// replacement swaps exactly the scalar.
fn scalar_extent(src: &str, start: usize, end: usize, style: ScalarStyle) -> (usize, usize) {
    let b = src.as_bytes();
    match style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let q = if style == ScalarStyle::SingleQuoted {
                b'\''
            } else {
                b'"'
            };
            let s = if b.get(start) == Some(&q) {
                start
            } else {
                src[..start].rfind(q as char).unwrap_or(start)
            };
            let e = if end > 0 && b.get(end - 1) == Some(&q) && end - 1 > s {
                end
            } else {
                src[end..].find(q as char).map_or(end, |i| end + i + 1)
            };
            (s, e)
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            // From the `|`/`>` indicator to the end of the block's content.
            let ind = if style == ScalarStyle::Literal {
                '|'
            } else {
                '>'
            };
            let s = src[..start].rfind(ind).unwrap_or(start);
            let mut e = end.min(src.len());
            while e > s && matches!(b[e - 1], b'\n' | b'\r' | b' ' | b'\t') {
                e -= 1;
            }
            (s, e)
        }
        _ => (start, end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_spans_cover_tokens() {
        let src = "{ // c\n \"a\": \"x\\\"y\", /* c */ \"b\": [1, true, null,],\n}";
        let d = parse(Format::Json, src).unwrap();
        let Kind::Map(e) = &d[0].kind else { panic!() };
        assert_eq!(&src[e[0].1.start..e[0].1.end], "\"x\\\"y\"");
        assert_eq!(e[0].1.text(), Some("x\"y"));
        assert!(parse(Format::Json, "{\"a\": }").is_err());
        assert!(parse(Format::Json, "{\"a\": 1} x").is_err());
    }

    #[test]
    fn yaml_spans_cover_scalars() {
        let src = "a: plain value\nb: 'single'\nc: \"dou\\\"ble\"\nd: |\n  line1\n  line2\ne: 12\nf: é ü\n";
        let d = parse(Format::Yaml, src).unwrap();
        let Kind::Map(e) = &d[0].kind else { panic!() };
        let got: Vec<&str> = e.iter().map(|(_, v)| &src[v.start..v.end]).collect();
        assert_eq!(
            got,
            [
                "plain value",
                "'single'",
                "\"dou\\\"ble\"",
                "|\n  line1\n  line2",
                "12",
                "é ü"
            ]
        );
    }
}
