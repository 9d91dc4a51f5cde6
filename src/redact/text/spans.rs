//! Drawing spans: never splitting an escape or a marker, never redacting
//! an earlier pass's marker again, and merging overlaps.

use memchr::memmem;

use super::{RuleRef, Span};
use crate::redact::marker::{self, is_marker};

pub(super) fn push_span(
    spans: &mut Vec<Span>,
    line: &[u8],
    mut s: usize,
    mut e: usize,
    rule: RuleRef,
) {
    // Never split an escape sequence: a JSON string must stay a JSON string.
    if s > 0 && odd_backslashes_before(line, s) {
        s += 1;
    }
    while e > s && odd_backslashes_before(line, e) {
        e -= 1;
    }
    // A value that stops inside a marker (at its `]`, a list's end to the
    // value parser) takes the whole marker, so that `holds_marker` sees it:
    // cut in two, it would be redacted again on every pass.
    if let Some(end) = marker_around(line, e) {
        e = end;
    }
    if e <= s || is_marker(&line[s..e]) || inside_marker(line, s) || holds_marker(&line[s..e]) {
        return;
    }
    spans.push(Span {
        start: s,
        end: e,
        rule,
    });
}

/// Bytes a key is made of (the KV pattern's key class).
pub(super) fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Whether `span` is (or takes in) an earlier pass's marker: one that
/// starts with a complete marker, or ends in one with nothing that could
/// be a secret after it (the URL password of `u:key=[REDACTED:…]&@host`).
/// Such text was redacted already; redacting it again, with a rule that
/// draws the span a little differently, would change the output on every
/// run. (A forged marker right before a secret is the price; no log writes
/// one by accident.)
pub(super) fn holds_marker(span: &[u8]) -> bool {
    if marker::marker_len(span).is_some() {
        return true;
    }
    let last = memmem::find_iter(span, marker::PREFIX)
        .filter_map(|i| marker::marker_len(&span[i..]).map(|n| i + n))
        .last();
    last.is_some_and(|end| !span[end..].iter().any(u8::is_ascii_alphanumeric))
}

/// Whether `pos` falls inside a complete marker.
pub(super) fn inside_marker(line: &[u8], pos: usize) -> bool {
    marker_around(line, pos).is_some()
}

/// The end of the complete marker that `pos` falls strictly inside (after
/// its first byte, before its end), if any.
pub(super) fn marker_around(line: &[u8], pos: usize) -> Option<usize> {
    let prefix = marker::PREFIX;
    let mut window = (pos + prefix.len() - 1).min(line.len());
    // Markers never overlap, so the one holding `pos` is the last one that
    // starts before it.
    let i = loop {
        let i = memmem::rfind(&line[..window], prefix)?;
        if i < pos {
            break i;
        }
        window = i;
    };
    let end = i + marker::marker_len(&line[i..])?;
    (end > pos).then_some(end)
}

/// The start of the UTF-8 character that holds byte `i`.
pub(super) fn char_start(line: &[u8], mut i: usize) -> usize {
    while i > 0 && line[i] & 0xC0 == 0x80 {
        i -= 1;
    }
    i
}

fn odd_backslashes_before(line: &[u8], i: usize) -> bool {
    line[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1
}

/// Overlapping finds become one, named after the one that starts first
/// (the longer on a tie, and a regex rule's when a regex and a key rule
/// find the same bytes: `sourcegraph-access-token` says more than
/// `secret-key-name`; the structured pass names values the same way).
pub(super) fn merge(spans: &mut Vec<Span>) {
    if spans.len() < 2 {
        return;
    }
    spans.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(matches!(a.rule, RuleRef::Key(_)).cmp(&matches!(b.rule, RuleRef::Key(_))))
    });
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans.drain(..) {
        match out.last_mut() {
            Some(last) if s.start < last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    *spans = out;
}
