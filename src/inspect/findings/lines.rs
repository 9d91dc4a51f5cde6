//! Taking log lines apart: reading them bounded, and telling the formats
//! Sourcegraph deployments write (Sourcegraph's JSON, the single
//! container's `HH:MM:SS proc | ` prefix, logfmt, PostgreSQL, klog and
//! plain text) and their severity.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One line taken apart: when, which process (single container), how
/// severe, and the message to group by.
#[derive(Debug, PartialEq)]
pub struct Line {
    pub time: Option<String>,
    pub process: Option<String>,
    pub level: Option<Level>,
    pub message: String,
}

/// Reads one line (through `\n`) into `buf`, keeping at most `max` bytes
/// and skipping the rest. Returns the bytes consumed and whether the line
/// was cut.
pub fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    buf.clear();
    let mut total = 0;
    let mut long = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok((total, long));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if take > room {
            long = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        total += take;
        r.consume(take);
        if done {
            return Ok((total, long));
        }
    }
}

/// A cheap look for an error or warning marker, so that the common
/// (info) line costs one automaton pass over its head and no parsing.
pub fn quick_level(line: &[u8]) -> Option<()> {
    use std::sync::OnceLock;
    static MARKERS: OnceLock<aho_corasick::AhoCorasick> = OnceLock::new();
    let ac = MARKERS.get_or_init(|| {
        aho_corasick::AhoCorasick::new([
            "ERROR", "WARN", "FATAL", "CRIT", "PANIC", "rror", "arn", "eror", "ERR", "E0", "E1",
            "W0", "W1",
        ])
        .expect("static patterns")
    });
    let head = &line[..line.len().min(512)];
    ac.is_match(head).then_some(())
}

#[derive(Deserialize)]
struct JsonLine {
    #[serde(rename = "SeverityText", default)]
    severity: Option<String>,
    #[serde(rename = "Body", default)]
    body: Option<String>,
    #[serde(rename = "Timestamp", default)]
    timestamp: Option<serde_json::Value>,
    #[serde(rename = "InstrumentationScope", default)]
    scope: Option<String>,
}

/// Takes a line apart: a Docker/Kubernetes RFC 3339 prefix, the single
/// container's `HH:MM:SS proc | `, then Sourcegraph's JSON, logfmt or
/// plain text.
pub fn parse_line(line: &str) -> Line {
    let mut rest = line.trim_end_matches(['\n', '\r']);
    let mut time = None;
    let mut process = None;
    let b = rest.as_bytes();
    if b.len() > 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[..4].iter().all(u8::is_ascii_digit)
        && let Some((ts, after)) = rest.split_once(' ')
    {
        time = Some(ts.to_string());
        rest = after;
    }
    let b = rest.as_bytes();
    if b.len() > 11
        && b[2] == b':'
        && b[5] == b':'
        && b[8] == b' '
        && b[..2].iter().all(u8::is_ascii_digit)
        && let Some(bar) = rest[..rest.len().min(80)].find(" | ")
    {
        time.get_or_insert_with(|| rest[..8].to_string());
        process = Some(rest[9..bar].trim().to_string());
        rest = &rest[bar + 3..];
    }
    let t = rest.trim_start();
    if t.starts_with('{')
        && let Ok(j) = serde_json::from_str::<JsonLine>(t)
        && (j.severity.is_some() || j.body.is_some())
    {
        let level = j.severity.as_deref().and_then(level_word);
        if let Some(ts) = j.timestamp.as_ref().and_then(epoch_nanos) {
            time = Some(ts);
        }
        let mut message = j.body.unwrap_or_default();
        if let Some(scope) = j.scope.filter(|s| !s.is_empty()) {
            message = format!("{scope}: {message}");
        }
        return Line {
            time,
            process,
            level,
            message,
        };
    }
    let (level, message) = plain_level(t);
    Line {
        time,
        process,
        level,
        message,
    }
}

fn level_word(w: &str) -> Option<Level> {
    match w.to_ascii_lowercase().as_str() {
        "error" | "err" | "eror" | "fatal" | "crit" | "critical" | "panic" | "dpanic" => {
            Some(Level::Error)
        }
        "warn" | "warning" | "wrn" => Some(Level::Warning),
        _ => None,
    }
}

/// logfmt (`level=error msg="..."`), bracketed or bare words (`[ERROR]`,
/// `ERROR:` as PostgreSQL writes), and klog (`E1128 12:00:00.000 ...`).
fn plain_level(t: &str) -> (Option<Level>, String) {
    for key in ["level=", "lvl=", "\"level\":\"", "severity="] {
        if let Some(i) = t.find(key) {
            let v: String = t[i + key.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            if let Some(l) = level_word(&v) {
                let msg = logfmt_value(t, "msg=").unwrap_or_else(|| t.to_string());
                return (Some(l), msg);
            }
            return (None, String::new());
        }
    }
    let b = t.as_bytes();
    if b.len() > 5 && matches!(b[0], b'E' | b'W' | b'F') && b[1..5].iter().all(u8::is_ascii_digit) {
        let l = if b[0] == b'W' {
            Level::Warning
        } else {
            Level::Error
        };
        let msg = t.split_once("] ").map_or(t, |(_, m)| m);
        return (Some(l), msg.to_string());
    }
    for w in t
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .take(12)
    {
        if w.len() >= 3
            && w.bytes().all(|c| c.is_ascii_uppercase())
            && let Some(l) = level_word(w)
        {
            return (Some(l), t.to_string());
        }
    }
    (None, String::new())
}

/// A logfmt value, quoted or bare.
fn logfmt_value(t: &str, key: &str) -> Option<String> {
    let i = t.find(key)?;
    let v = &t[i + key.len()..];
    if let Some(q) = v.strip_prefix('"') {
        let end = q.find('"').unwrap_or(q.len());
        Some(q[..end].to_string())
    } else {
        Some(v.split(' ').next().unwrap_or("").to_string())
    }
}

/// Sourcegraph's `Timestamp`: epoch nanoseconds, as a number or a string.
fn epoch_nanos(v: &serde_json::Value) -> Option<String> {
    let ns: i64 = match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        serde_json::Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    let t = chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )?;
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_taken_apart() {
        let l = parse_line(
            "2026-11-25T04:00:00.123Z {\"SeverityText\":\"ERROR\",\"Timestamp\":1764043200000000000,\"InstrumentationScope\":\"gitserver.clone\",\"Body\":\"clone failed for repo 42\"}\n",
        );
        assert_eq!(l.level, Some(Level::Error));
        assert_eq!(l.message, "gitserver.clone: clone failed for repo 42");
        assert_eq!(l.time.as_deref(), Some("2025-11-25T04:00:00.000Z"));

        let l = parse_line("12:01:02 frontend | level=warn msg=\"slow request\" took=3s");
        assert_eq!(l.process.as_deref(), Some("frontend"));
        assert_eq!(l.time.as_deref(), Some("12:01:02"));
        assert_eq!(
            (l.level, l.message.as_str()),
            (Some(Level::Warning), "slow request")
        );

        let l = parse_line(
            "2026-11-25T04:00:00Z 2026-11-25 04:00:00 UTC [1] ERROR:  relation \"x\" does not exist",
        );
        assert_eq!(l.level, Some(Level::Error));
        let l = parse_line("E1128 12:00:00.000000 1 reflector.go:1] watch failed");
        assert_eq!(
            (l.level, l.message.as_str()),
            (Some(Level::Error), "watch failed")
        );
        assert_eq!(parse_line("level=info msg=\"error budget ok\"").level, None);
        assert_eq!(parse_line("all good").level, None);
    }

    #[test]
    fn long_lines_are_cut_not_held() {
        let data = format!("{}\nshort\n", "x".repeat(100));
        let mut r = std::io::BufReader::with_capacity(16, data.as_bytes());
        let mut buf = Vec::new();
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 10).unwrap(),
            (101, true)
        );
        assert_eq!(buf.len(), 10);
        assert_eq!(read_line_bounded(&mut r, &mut buf, 10).unwrap(), (6, false));
        assert_eq!(buf, b"short\n");
        assert_eq!(read_line_bounded(&mut r, &mut buf, 10).unwrap(), (0, false));
    }
}
