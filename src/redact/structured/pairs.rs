//! Line by line, what structure ties to a secret's name, for text the
//! structured pass cannot parse and for YAML held in a string.

use std::collections::BTreeMap;

use crate::redact::marker::is_marker;
use crate::redact::text::{LineRedactor, not_a_secret};

/// What structure ties to a secret's name, found line by line in text
/// the structured pass cannot parse (or YAML held in a string): the value
/// of `- name: PGPASSWORD` / `value: ...` pairs, and every line of a block
/// scalar under a secret key (`secretKey: |`). The number of lines never
/// changes.
pub fn env_pairs(text: &str, red: &mut LineRedactor, counts: &mut BTreeMap<String, u64>) -> String {
    fn field<'a>(line: &'a str, key: &str) -> Option<(usize, &'a str)> {
        let t = line.trim_start();
        let t = t.strip_prefix('-').map_or(t, str::trim_start);
        let rest = t.strip_prefix(key)?.strip_prefix(':')?;
        let value = rest.trim();
        let start = line.len() - rest.trim_start().len();
        (!value.is_empty()).then_some((start, value))
    }
    /// `KEY: |`, `KEY: >-`, `- KEY: |2`: the key of a block scalar.
    fn block_key(line: &str) -> Option<&str> {
        let t = line.trim_start();
        let t = t.strip_prefix('-').map_or(t, str::trim_start);
        let (key, rest) = t.split_once(':')?;
        let ind = rest.trim();
        let is_block = ind.starts_with(['|', '>'])
            && ind[1..].chars().all(|c| matches!(c, '-' | '+' | '1'..='9'));
        is_block.then(|| key.trim().trim_matches(['"', '\'']))
    }
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = String::with_capacity(text.len());
    let mut rule: Option<String> = None;
    // Inside a secret block scalar: its rule and the key line's indent.
    let mut block: Option<(String, usize)> = None;
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let (body, cr) = match body.strip_suffix('\r') {
            Some(b) => (b, "\r"),
            None => (body, ""),
        };
        if let Some((r, key_indent)) = &block {
            if body.trim().is_empty() {
                out.push_str(line);
                continue;
            }
            if indent(body) > *key_indent {
                let content = body.trim_start();
                // Redacted already (a second pass): left as it is.
                if is_marker(content.as_bytes()) {
                    out.push_str(line);
                    continue;
                }
                let marker = red.marker().make(r, content.as_bytes());
                *counts.entry(r.clone()).or_default() += 1;
                out.push_str(&body[..indent(body)]);
                out.push_str(&marker);
                out.push_str(cr);
                out.push_str(nl);
                continue;
            }
            block = None;
        }
        if let (Some(r), Some((start, value))) = (rule.take(), field(body, "value"))
            && !is_marker(value.trim_matches(['"', '\'']).as_bytes())
            && !not_a_secret(value.trim_matches(['"', '\'']).as_bytes())
        {
            let marker = red.marker().make(&r, value.as_bytes());
            *counts.entry(r).or_default() += 1;
            out.push_str(&body[..start]);
            out.push_str(&marker);
            out.push_str(cr);
            out.push_str(nl);
            continue;
        }
        rule = field(body, "name").and_then(|(_, name)| {
            let name = name.trim_matches(['"', '\'']);
            red.rules().secret_key(name).map(str::to_string)
        });
        if let Some(key) = block_key(body)
            && let Some(r) = red.rules().secret_key(key)
        {
            block = Some((r.to_string(), indent(body)));
        }
        out.push_str(line);
    }
    out
}
