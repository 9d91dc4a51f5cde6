//! Log messages grouped by template: the parts that change from one
//! occurrence to the next (numbers, hex ids, UUIDs, durations, quoted
//! values) are masked as `<*>`, so "fetch of repo 1234 took 1.2s" and
//! "fetch of repo 99 took 300ms" count as one message.

/// At most this many bytes of a message become its template: grouping
/// needs the start of a message, not a stack trace.
const MAX_TEMPLATE: usize = 240;
pub const MASK: &str = "<*>";

pub fn template(msg: &str) -> String {
    let msg = cut(msg.trim(), MAX_TEMPLATE);
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        // A quoted value; an apostrophe inside a word (can't) is not a quote.
        let opens =
            matches!(c, '"' | '`') || (c == '\'' && !prev.is_some_and(char::is_alphanumeric));
        if opens && let Some(len) = msg[i + 1..].find(c) {
            out.push(c);
            out.push_str(MASK);
            out.push(c);
            let end = i + 1 + len;
            while chars.peek().is_some_and(|(j, _)| *j <= end) {
                chars.next();
            }
            prev = Some(c);
            continue;
        }
        if is_word(c) {
            let start = i;
            let mut end = i + c.len_utf8();
            while let Some((j, d)) = chars.peek().copied() {
                if !is_word(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            mask_word(&msg[start..end], &mut out);
            prev = msg[..end].chars().next_back();
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '/')
}

/// A word is masked part by part (split at `.-:/`), then runs of masked
/// parts joined by separators collapse, so `1.5s`, `10.0.0.1:5432` and
/// `2026-11-25` each become one `<*>`.
fn mask_word(word: &str, out: &mut String) {
    if is_uuid(word) {
        out.push_str(MASK);
        return;
    }
    let bytes = word.as_bytes();
    let mut last_masked = false;
    let mut part_start = 0;
    for i in 0..=word.len() {
        let at_end = i == word.len();
        if !at_end && !matches!(bytes[i], b'.' | b'-' | b':' | b'/') {
            continue;
        }
        let part = &word[part_start..i];
        let masked = is_variable(part);
        // Collapse `<*>.<*>` into `<*>`: the separator goes too.
        if !(masked && last_masked) {
            if part_start > 0 {
                out.push_str(&word[part_start - 1..part_start]);
            }
            out.push_str(if masked { MASK } else { part });
        }
        last_masked = masked;
        part_start = i + 1;
    }
}

/// Numbers, durations (`300ms`, `2m30s`: they start with a digit) and hex
/// ids (all hex digits, at least 6 long, with a digit, or 8 or more).
fn is_variable(part: &str) -> bool {
    let Some(first) = part.chars().next() else {
        return false;
    };
    if first.is_ascii_digit() {
        return true;
    }
    let hex = part.chars().all(|c| c.is_ascii_hexdigit());
    hex && (part.len() >= 8 || (part.len() >= 6 && part.chars().any(|c| c.is_ascii_digit())))
}

fn is_uuid(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_are_masked() {
        assert_eq!(
            template("fetch of repo 1234 took 1.5s"),
            "fetch of repo <*> took <*>"
        );
        assert_eq!(
            template("fetch of repo 9 took 300ms"),
            template("fetch of repo 1234 took 1.5s")
        );
        assert_eq!(
            template("dial tcp 10.0.0.1:5432: connection refused"),
            "dial tcp <*>: connection refused"
        );
        assert_eq!(
            template("job 3f9c2a1b-0000-4a4a-9b9b-deadbeefcafe failed for \"github.com/a/b\""),
            "job <*> failed for \"<*>\""
        );
        assert_eq!(
            template("commit deadbeefcafe not found"),
            "commit <*> not found"
        );
        assert_eq!(template("can't open 'x.txt'"), "can't open '<*>'");
        assert_eq!(
            template("x509: certificate signed"),
            "x509: certificate signed"
        );
        assert_eq!(
            template("pod gitserver-0 restarted"),
            "pod gitserver-<*> restarted"
        );
    }

    #[test]
    fn cut_respects_characters() {
        assert_eq!(cut("aü", 2), "a");
        assert_eq!(cut("abc", 5), "abc");
    }
}
