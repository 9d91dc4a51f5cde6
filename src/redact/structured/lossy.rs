//! The structured pass for a file that is not all UTF-8: its structure is
//! read from a lossy copy, its replacements made in the original bytes.

use std::collections::BTreeMap;

use super::{Format, LineRedactor, parse, replacements, splice};

/// As `redact`, for a file that is not all UTF-8: one stray Latin-1 byte
/// must not cost a YAML file its structure. The structure is read from a
/// copy where each invalid sequence is U+FFFD; the replacements are made
/// in the original bytes, so every byte outside a redacted value is kept
/// as it was. (Sent to the line pass instead, the file came out valid
/// UTF-8 once its invalid bytes sat inside a redacted value, and a second
/// pass then read it by structure and redacted more: found by fuzzing.)
pub fn redact_bytes(
    format: Format,
    bytes: &[u8],
    red: &mut LineRedactor,
    counts: &mut BTreeMap<String, u64>,
) -> Result<Vec<u8>, String> {
    let (lossy, map) = lossy_with_map(bytes);
    let repl = replacements(format, &lossy, red, counts)?;
    let original = |i: usize| {
        // The last break at or before `i`: positions between breaks move
        // by the same amount, and replacements start and end on characters.
        let k = map.partition_point(|&(l, _)| l <= i) - 1;
        let (l, o) = map[k];
        o + (i - l)
    };
    let out = splice(bytes, &repl, original);
    parse(format, &String::from_utf8_lossy(&out))
        .map_err(|e| format!("redacted output no longer parses: {e}"))?;
    Ok(out)
}

/// `String::from_utf8_lossy`, with the breaks where lossy and original
/// positions part: `(lossy, original)` at the start and after each
/// invalid sequence.
fn lossy_with_map(bytes: &[u8]) -> (String, Vec<(usize, usize)>) {
    let mut lossy = String::with_capacity(bytes.len() + 16);
    let mut map = vec![(0, 0)];
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        lossy.push_str(chunk.valid());
        at += chunk.valid().len();
        if !chunk.invalid().is_empty() {
            lossy.push(char::REPLACEMENT_CHARACTER);
            at += chunk.invalid().len();
            map.push((lossy.len(), at));
        }
    }
    (lossy, map)
}
