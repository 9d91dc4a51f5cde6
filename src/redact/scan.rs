//! The second look: an independent re-read of what was written, with the
//! detection half of the rules. Anything found here slipped past the
//! redaction pass; it is reported (never printed) and recorded.

use std::io::{self, BufRead};

use memchr::memmem;
use serde::{Deserialize, Serialize};

use super::text::{LineRedactor, MAX_LINE, rule_id};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub path: String,
    /// 1-based line number.
    pub line: u64,
    pub rule: String,
}

/// Scans one stream line by line; returns the number of lines read.
pub fn scan(
    red: &mut LineRedactor,
    path: &str,
    mut r: impl BufRead,
    hits: &mut Vec<Hit>,
) -> io::Result<u64> {
    // The manifest's per-file counts (`"url-password": 2,`) are written by
    // sg-debug from rule ids; they look like secrets to the key rules.
    let manifest = path == crate::artifact::name::MANIFEST_NAME;
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let read = std::io::Read::take(&mut r, MAX_LINE as u64).read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(n);
        }
        n += 1;
        if manifest && is_count_line(red, &line) {
            continue;
        }
        if memmem::find(&line, b"PRIVATE KEY-----").is_some()
            && memmem::find(&line, b"-----BEGIN").is_some()
        {
            hits.push(Hit {
                path: path.into(),
                line: n,
                rule: "pem-private-key".into(),
            });
            continue;
        }
        for s in red.find(&line).to_vec() {
            let rule = rule_id(red.rules(), s.rule).to_string();
            hits.push(Hit {
                path: path.into(),
                line: n,
                rule,
            });
        }
    }
}

fn is_count_line(red: &LineRedactor, line: &[u8]) -> bool {
    let t = line.trim_ascii();
    let t = t.strip_suffix(b",").unwrap_or(t);
    let Some(i) = memmem::find(t, b"\": ") else {
        return false;
    };
    let (Some(id), value) = (t[..i].strip_prefix(b"\""), &t[i + 3..]) else {
        return false;
    };
    !value.is_empty()
        && value.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(id).is_ok_and(|id| {
            red.rules().loaded.iter().any(|r| r.spec.id == id)
                || super::rules::BUILTIN_RULES.contains(&id)
        })
}
