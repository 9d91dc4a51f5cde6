//! The structured pass for JSON, JSONC and YAML: redact by key and keep the
//! file valid. Both formats are parsed into one small tree that remembers
//! each scalar's byte span in the source; redaction produces replacements
//! for those spans only, so comments, order and layout survive.
//!
//! Parse errors say where and what kind, never quote the source: they end
//! up in notes on stderr and in the manifest, and the text they would
//! quote is exactly what failed to be redacted structurally.

use std::collections::BTreeMap;

mod json;
mod lines;
mod lossy;
mod pairs;
mod yaml;

pub use lossy::redact_bytes;
pub use pairs::env_pairs;

use super::marker::is_marker;
use super::rules::RULE_K8S_SECRET;
use super::text::{Dsn, LineRedactor, RuleRef, dsn, not_a_secret, rule_id};

const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON and JSONC (comments, trailing commas).
    Json,
    Yaml,
}

#[derive(Debug)]
pub(super) enum Kind {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// A string (JSON) or any scalar written as text (YAML).
    Str(String),
    /// Numbers, booleans, null, aliases: never rewritten as text.
    Other(String),
}

#[derive(Debug)]
pub(super) struct Node {
    pub(super) kind: Kind,
    pub(super) start: usize,
    pub(super) end: usize,
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
    let repl = replacements(format, src, red, counts)?;
    let out = splice(src.as_bytes(), &repl, |i| i);
    // Replacements are whole UTF-8 strings at character boundaries.
    let out = String::from_utf8(out).map_err(|_| "replacement split a character".to_string())?;
    parse(format, &out).map_err(|e| format!("redacted output no longer parses: {e}"))?;
    Ok(out)
}

/// The structured pass's replacements for `src`, sorted, never overlapping.
pub(super) fn replacements(
    format: Format,
    src: &str,
    red: &mut LineRedactor,
    counts: &mut BTreeMap<String, u64>,
) -> Result<Vec<(usize, usize, String)>, String> {
    let docs = parse(format, src)?;
    let mut w = Walker {
        src,
        red,
        counts,
        repl: Vec::new(),
    };
    for d in &docs {
        w.walk(d, 0);
    }
    let mut repl = w.repl;
    repl.sort_by_key(|r| r.0);
    if repl.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err("overlapping replacements".into());
    }
    Ok(repl)
}

/// `src` with each replacement's span (in positions `at` maps to `src`'s)
/// swapped for its text.
pub(super) fn splice(
    src: &[u8],
    repl: &[(usize, usize, String)],
    at: impl Fn(usize) -> usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    let mut from = 0;
    for (s, e, text) in repl {
        out.extend_from_slice(&src[from..at(*s)]);
        out.extend_from_slice(text.as_bytes());
        from = at(*e);
    }
    out.extend_from_slice(&src[from..]);
    out
}

pub(super) fn parse(format: Format, src: &str) -> Result<Vec<Node>, String> {
    match format {
        Format::Json => Ok(vec![json::parse(src)?]),
        Format::Yaml => {
            let docs = yaml::parse(src)?;
            // A document that is one string over several lines (`>` or
            // `|` at the top, a quoted string across lines) holds text,
            // not structure; folded, its `key: |` blocks and env pairs no
            // longer look like themselves. The line pass reads it as
            // written (found by fuzzing).
            if docs
                .iter()
                .any(|d| matches!(d.kind, Kind::Str(_)) && src[d.start..d.end].contains('\n'))
            {
                return Err("a document that is one string over several lines".into());
            }
            Ok(docs)
        }
    }
}

struct Walker<'a> {
    src: &'a str,
    red: &'a mut LineRedactor,
    counts: &'a mut BTreeMap<String, u64>,
    repl: Vec<(usize, usize, String)>,
}

impl Walker<'_> {
    /// `[REDACTED:rule:1a2b3c4d]` written as a bare YAML value parses as a
    /// flow sequence; it is a marker all the same, and stays as it is.
    fn is_marker_node(&self, n: &Node) -> bool {
        matches!(n.kind, Kind::Seq(_)) && is_marker(&self.src.as_bytes()[n.start..n.end])
    }

    fn walk(&mut self, n: &Node, depth: usize) {
        if depth > MAX_DEPTH || self.is_marker_node(n) {
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
                    // A YAML complex key (`? {password: x}`) is a value
                    // too: walk it like one.
                    if matches!(k.kind, Kind::Map(_) | Kind::Seq(_)) {
                        self.walk(k, depth + 1);
                    }
                    let key = k.text().unwrap_or_default();
                    if is_secret_object && matches!(key, "data" | "stringData") {
                        self.secret_data(v, key == "data");
                    } else if let Some(rule) = self.red.rules().secret_key(key)
                        // A key holding an earlier pass's marker names its
                        // rule (`url-password`), not a secret.
                        && !key.contains("[REDACTED:")
                    {
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
        if depth > MAX_DEPTH || self.is_marker_node(n) {
            return;
        }
        match &n.kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    // `credentials: {username: alice, password: x}`: the
                    // user name is no secret (unless its key says it is).
                    let identity = k
                        .text()
                        .is_some_and(|k| self.red.rules().keeps_inside(rule, k));
                    if identity {
                        self.walk(v, depth + 1);
                    } else {
                        self.redact_all(v, rule, depth + 1);
                    }
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
                if matches!(n.kind, Kind::Str(_)) {
                    match self.dsn_password(s, rule) {
                        Some(text) => return self.line_pass_leaf(n, s, &text),
                        None if dsn(s.as_bytes()) == Dsn::NoPassword => {
                            return self.line_pass_leaf(n, s, s);
                        }
                        None => {}
                    }
                }
                let rule = self.rule_for_value(s, rule);
                let marker = self.red.marker().make(&rule, s.as_bytes());
                self.replace(n, &marker, &rule);
            }
        }
    }

    /// The rule a secret value is named after: a regex rule that finds all
    /// of it (a GitHub token under `token` is a `github-token`), as the
    /// line pass names it, else `rule`, the key's. One secret, one marker
    /// in every file.
    fn rule_for_value(&mut self, value: &str, rule: &str) -> String {
        self.rule_for_range(value, 0, value.len(), rule)
    }

    /// The rule `text[start..end]` is named after: a regex rule that finds
    /// exactly it (blanks around it aside), else `rule`.
    fn rule_for_range(&mut self, text: &str, start: usize, end: usize, rule: &str) -> String {
        let blank = |s: &str| s.trim().is_empty();
        let found = self
            .red
            .find(text.as_bytes())
            .iter()
            .find(|s| {
                matches!(s.rule, RuleRef::Regex(_))
                    && s.start >= start
                    && s.end <= end
                    && blank(&text[start..s.start])
                    && blank(&text[s.end..end])
            })
            .map(|s| s.rule);
        match found {
            Some(r) => rule_id(self.red.rules(), r).to_string(),
            None => rule.to_string(),
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
        if !self.quoted_lines(n, depth) {
            self.value_leaf(n, s, depth);
        }
    }

    /// The readings of a string's value `s`.
    fn value_leaf(&mut self, n: &Node, s: &str, depth: usize) {
        // NAME=value, as in `docker inspect` Env and compose env lists.
        if let Some((name, value)) = s.split_once('=')
            && is_env_name(name)
            && !value.is_empty()
            && !not_a_secret(value.as_bytes())
            && let Some(rule) = self.red.rules().secret_key(name)
        {
            let rule = rule.to_string();
            if let Some(text) = self.dsn_password(value, &rule) {
                return self.line_pass_leaf(n, s, &format!("{name}={text}"));
            }
            if dsn(value.as_bytes()) != Dsn::NoPassword {
                let rule = self.rule_for_value(value, &rule);
                let marker = self.red.marker().make(&rule, value.as_bytes());
                return self.replace(n, &format!("{name}={marker}"), &rule);
            }
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
        // YAML held in a block scalar (a manifest in a ConfigMap): by
        // structure when it parses, and its env pairs line by line.
        if s.contains('\n')
            && depth < MAX_DEPTH
            && is_yaml_mapping(s)
            && let Ok(inner) = redact_nested_as(Format::Yaml, s, self.red, depth)
            && inner.0 != s
        {
            for (rule, n) in inner.1 {
                *self.counts.entry(rule).or_default() += n;
            }
            return self.line_pass_leaf(n, s, &inner.0);
        }
        if s.contains('\n') {
            let paired = env_pairs(s, self.red, self.counts);
            return self.line_pass_leaf(n, s, &paired);
        }
        self.line_pass_leaf(n, s, s);
    }

    /// `value` with its password replaced, when it is a database
    /// connection string with one (see `text::dsn`).
    fn dsn_password(&mut self, value: &str, rule: &str) -> Option<String> {
        let Dsn::Password(a, b) = dsn(value.as_bytes()) else {
            return None;
        };
        // Named as the line pass names it (url-password, go-mysql-dsn).
        let rule = self.rule_for_range(value, a, b, rule);
        let marker = self.red.marker().make(&rule, &value.as_bytes()[a..b]);
        *self.counts.entry(rule).or_default() += 1;
        Some(format!("{}{marker}{}", &value[..a], &value[b..]))
    }

    fn replace(&mut self, n: &Node, text: &str, rule: &str) {
        // An empty value (`key:` with nothing after it) has no bytes to
        // replace; text put at its place lands in the key, and every pass
        // put one more there (found by fuzzing).
        if n.start >= n.end {
            return;
        }
        *self.counts.entry(rule.to_string()).or_default() += 1;
        self.replace_raw(n, text);
    }

    /// Rewrites the scalar as a double-quoted string, valid in JSON and YAML.
    /// A YAML scalar over several lines (a block scalar, a folded plain or
    /// quoted one) keeps its number of lines: see `keep_lines`.
    fn replace_raw(&mut self, n: &Node, text: &str) {
        let quoted = serde_json::to_string(text).expect("strings serialize");
        let span = &self.src[n.start..n.end];
        let quoted = if span.contains('\n') {
            yaml::keep_lines(&quoted, span)
        } else {
            quoted
        };
        self.repl.push((n.start, n.end, quoted));
    }
}

fn redact_nested(
    s: &str,
    red: &LineRedactor,
    depth: usize,
) -> Result<(String, BTreeMap<String, u64>), String> {
    redact_nested_as(Format::Json, s, red, depth)
}

fn redact_nested_as(
    format: Format,
    s: &str,
    red: &LineRedactor,
    depth: usize,
) -> Result<(String, BTreeMap<String, u64>), String> {
    if depth > MAX_DEPTH / 2 {
        return Err("too deep".into());
    }
    let mut counts = BTreeMap::new();
    let mut inner = LineRedactor::new_sharing(red);
    let out = redact(format, s, &mut inner, &mut counts)?;
    Ok((out, counts))
}

/// Whether a multi-line string reads as a YAML mapping (a manifest or a
/// config held in a block scalar): then it is redacted by structure too.
fn is_yaml_mapping(s: &str) -> bool {
    matches!(
        yaml::parse(s).as_deref(),
        Ok([
            Node {
                kind: Kind::Map(_),
                ..
            },
            ..
        ])
    )
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

pub(super) fn is_plain_literal(s: &str) -> bool {
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

#[cfg(test)]
mod tests;
