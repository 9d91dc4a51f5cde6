//! Text from bundles, logs and manifests is untrusted: shown on a terminal
//! it could move the cursor, rewrite lines or set the window title; in a
//! spreadsheet a cell starting with `=` is a formula. Every place that
//! prints such text goes through here.

use std::borrow::Cow;

/// Control characters (escape sequences, carriage returns, newlines in a
/// one-line field) shown as escapes, so the text cannot act on the
/// terminal. Ordinary text, Unicode included, is returned as it is.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like `terminal_safe`, but keeps line breaks (for multi-line notes).
pub fn terminal_safe_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| terminal_safe(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_unsafe(c: char) -> bool {
    // C0 and C1 controls, DEL, and the bidirectional overrides that can
    // make text read differently than it is.
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A CSV cell a spreadsheet will not run: one starting with `=`, `+`,
/// `-`, `@`, tab or carriage return is prefixed with `'` so it stays text
/// (the OWASP advice on CSV injection). Quoting is the CSV writer's job.
pub fn spreadsheet_safe(v: &str) -> Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{v}"))
    } else {
        Cow::Borrowed(v)
    }
}

/// HTML-escapes text for element content and quoted attribute values.
/// Five characters are enough for both; hand-written because it is all
/// the pages (`inspect --html`, `report --html`) need.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab and newline render as nothing or
            // garbage; show them as a replacement character instead.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_cannot_reach_the_terminal() {
        assert_eq!(terminal_safe("plain ü"), "plain ü");
        let s = terminal_safe("a\u{1b}]0;owned\u{7}\rRedactions  none\u{1b}[2K");
        assert!(
            !s.contains('\u{1b}') && !s.contains('\r') && !s.contains('\u{7}'),
            "{s}"
        );
        assert!(s.contains("\\u{1b}]0;owned"), "{s}");
        assert_eq!(terminal_safe("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(terminal_safe_lines("a\nb\u{1b}"), "a\nb\\u{1b}");
    }

    #[test]
    fn cells_are_never_formulas() {
        assert_eq!(spreadsheet_safe("6.12.5040"), "6.12.5040");
        assert_eq!(
            spreadsheet_safe("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(spreadsheet_safe("+1"), "'+1");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("-2"), "'-2");
        assert_eq!(spreadsheet_safe("a=b"), "a=b");
    }
}
