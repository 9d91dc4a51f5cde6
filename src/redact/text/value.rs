//! The value after a secret-named key: where it starts and ends (quotes,
//! escapes, brackets), whether it can be a secret at all, and which part of
//! a connection string is the secret.

use std::sync::LazyLock;

use memchr::memmem;
use regex::bytes::Regex;

use crate::redact::marker::is_marker;

/// What is secret in a value found under a secret-named key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Dsn {
    /// A database connection string with a password: only the password
    /// (its byte range in the value) is secret; scheme, user, host, port,
    /// path and query stay (query parameters such as `password=` are found
    /// as pairs of their own).
    Password(usize, usize),
    /// A database connection string without a password.
    NoPassword,
    /// Anything else: all of it is secret.
    Other,
}

/// Schemes whose URL user part is a database user name. Elsewhere it may
/// be the token itself (`https://TOKEN:x-oauth-basic@github.com`, a Sentry
/// DSN's key), so other URLs under secret keys go whole.
const DB_SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "redis",
    "rediss",
    "mongodb",
    "mongodb+srv",
    "amqp",
    "amqps",
    "sqlserver",
    "clickhouse",
    "cockroachdb",
];

/// Go's MySQL driver DSN: `user:password@tcp(host:port)/db`.
static GO_MYSQL_DSN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^\s:@/]+:(?P<pw>[^\s@]+)@(?:tcp6?|unix)\(").expect("valid"));

/// Reads `v`, a value under a secret-named key, as a database connection
/// string.
pub(crate) fn dsn(v: &[u8]) -> Dsn {
    let Some(sep) = memmem::find(v, b"://") else {
        return match GO_MYSQL_DSN.captures(v).and_then(|c| c.name("pw")) {
            Some(pw) if is_marker(pw.as_bytes()) => Dsn::NoPassword,
            Some(pw) => Dsn::Password(pw.start(), pw.end()),
            None => Dsn::Other,
        };
    };
    if !DB_SCHEMES
        .iter()
        .any(|s| v[..sep].eq_ignore_ascii_case(s.as_bytes()))
    {
        return Dsn::Other;
    }
    let from = sep + 3;
    let rest = &v[from..];
    let query = rest
        .iter()
        .position(|b| matches!(b, b'?' | b'#'))
        .unwrap_or(rest.len());
    // The user part ends at the last `@` before the query: a password may
    // hold an `@` or a `/` that nobody escaped.
    let Some(at) = memchr::memrchr(b'@', &rest[..query]) else {
        return Dsn::NoPassword;
    };
    if rest[..at].iter().any(u8::is_ascii_whitespace) {
        return Dsn::Other;
    }
    match memchr::memchr(b':', &rest[..at]) {
        // (A marker there: redacted before.)
        Some(colon) if colon + 1 < at && !is_marker(&rest[colon + 1..at]) => {
            Dsn::Password(from + colon + 1, from + at)
        }
        _ => Dsn::NoPassword,
    }
}

/// Where the value after a key starts and ends.
pub(super) fn value_span(
    line: &[u8],
    mut pos: usize,
    rest_of_line: bool,
) -> Option<(usize, usize)> {
    // `password=[hunter2]`, `token=["abc"]` (Go's `%v` of a slice): the
    // items are the value. A marker stays a marker; a YAML-ish line's
    // `key: [a, b]` stays a flow sequence for the rest-of-line reading.
    while !rest_of_line
        && line.get(pos) == Some(&b'[')
        && !line[pos..].starts_with(crate::redact::marker::PREFIX)
    {
        pos += 1;
    }
    let rest = &line[pos..];
    let (s, e) = if rest.starts_with(b"\\\"") {
        let s = pos + 2;
        let e = memmem::find(&line[s..], b"\\\"").map_or(line.len(), |i| s + i);
        (s, e)
    } else if rest.first() == Some(&b'"') {
        let s = pos + 1;
        let mut i = s;
        while i < line.len() && line[i] != b'"' {
            i += if line[i] == b'\\' { 2 } else { 1 };
        }
        (s, i.min(line.len()))
    } else if rest.first() == Some(&b'\'') {
        let s = pos + 1;
        (
            s,
            memchr::memchr(b'\'', &line[s..]).map_or(line.len(), |i| s + i),
        )
    } else if rest_of_line {
        // YAML-ish `key: value with spaces  # comment`
        let mut e = memmem::find(rest, b" #").map_or(line.len(), |i| pos + i);
        while e > pos && matches!(line[e - 1], b' ' | b'\t' | b'\r' | b'\n') {
            e -= 1;
        }
        (pos, e)
    } else {
        let e = rest
            .iter()
            .position(|b| {
                b.is_ascii_whitespace()
                    || matches!(
                        b,
                        b',' | b';'
                            | b'&'
                            | b'"'
                            | b'\''
                            | b'<'
                            | b'>'
                            | b')'
                            | b'}'
                            | b']'
                            | b'\\'
                    )
            })
            .map_or(line.len(), |i| pos + i);
        (pos, e)
    };
    let v = &line[s..e];
    if v.is_empty() || not_a_secret(v) {
        return None;
    }
    Some((s, e))
}

/// `|`, `>-`, `|2+`: a YAML block scalar's header, after a key whose
/// value is on the lines below it (which pairs.rs redacts); the header
/// itself is no secret, and keeping it keeps the YAML readable.
fn is_block_header(v: &[u8]) -> bool {
    // An indentation digit and a chomping sign, each at most once, in
    // either order.
    matches!(
        v,
        [b'|' | b'>']
            | [b'|' | b'>', b'-' | b'+' | b'1'..=b'9']
            | [b'|' | b'>', b'-' | b'+', b'1'..=b'9']
            | [b'|' | b'>', b'1'..=b'9', b'-' | b'+']
    )
}

/// `$NAME`, `${NAME}`: a shell or template variable, not its value.
pub(super) fn is_reference(v: &[u8]) -> bool {
    v.starts_with(b"${")
        || (v.len() > 1 && v[0] == b'$' && (v[1].is_ascii_alphabetic() || v[1] == b'_'))
}

/// Values that say nothing about a secret and help debugging: empty
/// placeholders, references to other variables, booleans.
pub(crate) fn not_a_secret(v: &[u8]) -> bool {
    if v.starts_with(b"${") || v.starts_with(b"{") || v.starts_with(b"[") {
        return true;
    }
    // A marker, also behind the quotes and escapes of text the line pass
    // redacted that a later pass reads as YAML (`\"[REDACTED:...]`).
    let unquoted = v
        .iter()
        .position(|b| !matches!(b, b'\\' | b'"' | b'\''))
        .map_or(&v[..0], |i| &v[i..]);
    if is_marker(unquoted) {
        return true;
    }
    if is_reference(v) || is_block_header(v) {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    matches!(
        lower.as_slice(),
        b"true" | b"false" | b"null" | b"nil" | b"<nil>" | b"none" | b"redacted" | b"***" | b"\"\""
    )
}
