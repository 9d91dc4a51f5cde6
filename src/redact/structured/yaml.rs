//! YAML through saphyr's event parser, into the structured pass's tree
//! with byte spans; and `keep_lines`, which writes a redacted scalar back
//! over as many lines as it took.

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::{Kind, MAX_DEPTH, Node, is_plain_literal};

enum Frame {
    Map(usize, Vec<(Node, Node)>, Option<Node>),
    Seq(usize, Vec<Node>),
}

pub(super) fn parse(src: &str) -> Result<Vec<Node>, String> {
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
        // saphyr's message can quote the source; keep only the position.
        let (ev, span) = ev.map_err(|e| {
            format!(
                "YAML syntax error at line {} column {}",
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        let (start, end) = (byte(span.start.index()), byte(span.end.index()));
        let node = match ev {
            Event::Scalar(v, style, _, _tag) => {
                let plain_literal = style == ScalarStyle::Plain
                    && (is_plain_literal(&v) || v.parse::<f64>().is_ok());
                // A tag does not make text less of a secret: `!custom |`
                // over `password=...` lines was never looked at (found by
                // fuzzing). Only numbers, booleans and null are not text.
                let kind = if plain_literal {
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

/// The value of `src` read as one YAML document that is one string, whole.
pub(super) fn one_string(src: &str) -> Option<String> {
    match parse(src).ok()?.as_mut_slice() {
        [
            Node {
                kind: Kind::Str(v),
                start: 0,
                end,
            },
        ] if *end == src.len() => Some(std::mem::take(v)),
        _ => None,
    }
}

/// The value of a quoted scalar written over several lines (`span`, quotes
/// included), with a line break wherever its source has one, where YAML
/// folds them into spaces; an escaped line break (`\` at a line's end, in
/// double quotes) still joins. `None` for any other scalar.
pub(super) fn quoted_lines(span: &str) -> Option<String> {
    let q = span.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    if span.len() < 2 || !span.ends_with(q) || !span.contains('\n') {
        return None;
    }
    let inner = &span[1..span.len() - 1];
    if q == '\'' {
        // No escapes in single quotes but `''`.
        let lines: Vec<&str> = inner
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        return Some(lines.join("\n").replace("''", "'"));
    }
    // Double quotes: an escaped `\n` before each line break that is not
    // escaped already, and the parser does the rest.
    let mut src = String::with_capacity(span.len() + 8);
    src.push('"');
    // Indentation is kept too (as `\x20` and `\t`, which the parser does
    // not strip), since a block scalar is known by it.
    let mut lines = inner.split('\n').peekable();
    let mut joined = true;
    while let Some(line) = lines.next() {
        let mut line = line;
        if !joined {
            let rest = line.trim_start_matches([' ', '\t']);
            for c in line[..line.len() - rest.len()].chars() {
                src.push_str(if c == ' ' { "\\x20" } else { "\\t" });
            }
            line = rest;
        }
        if lines.peek().is_none() {
            src.push_str(line);
            break;
        }
        let (body, cr) = line.strip_suffix('\r').map_or((line, ""), |b| (b, "\r"));
        src.push_str(body);
        joined = (body.len() - body.trim_end_matches('\\').len()) % 2 == 1;
        if !joined {
            src.push_str("\\n\\");
        }
        src.push_str(cr);
        src.push('\n');
    }
    src.push('"');
    one_string(&src)
}

/// The bytes a scalar occupies, quotes and block indicators included, so a
/// replacement swaps exactly the scalar.
fn scalar_extent(src: &str, start: usize, end: usize, style: ScalarStyle) -> (usize, usize) {
    let b = src.as_bytes();
    // The parser's span starts at the node's properties (`!tag`, `&anchor`)
    // when it has any: they stay, the scalar starts after them.
    let mut start = start;
    while start < end && matches!(b[start], b'!' | b'&') {
        while start < end && !b[start].is_ascii_whitespace() {
            start += 1;
        }
        while start < end && b[start].is_ascii_whitespace() {
            start += 1;
        }
    }
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
            let s = if b.get(start) == Some(&(ind as u8)) {
                start
            } else {
                src[..start].rfind(ind).unwrap_or(start)
            };
            let mut e = end.min(src.len());
            while e > s && matches!(b[e - 1], b'\n' | b'\r' | b' ' | b'\t') {
                e -= 1;
            }
            (s, e)
        }
        _ => (start, end),
    }
}

/// `quoted` (a JSON string, which is also a YAML double-quoted scalar)
/// spread over as many lines as `span`, the scalar it replaces, so that
/// redaction never changes a file's line count. YAML lets a double-quoted
/// scalar continue on the next line after an escaped line break (`\` at
/// the end of a line), which adds nothing to the value; the value's own
/// `\n`s are where the lines break, so a redacted block keeps its lines
/// in place, and the lines that are left over come last. A block scalar's
/// first line is its header: the value starts on the line after it.
/// Continuation lines take the scalar's indentation, and a leading space of
/// the value's own is escaped (`\x20`) so that it is not taken for
/// indentation.
pub(super) fn keep_lines(quoted: &str, span: &str) -> String {
    let mut breaks = span.matches('\n').count();
    let indent = span
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let indent = " ".repeat(indent);
    let body = &quoted[1..quoted.len() - 1];
    let mut out = String::with_capacity(quoted.len() + breaks * (indent.len() + 3));
    out.push('"');
    let mut line_start = true;
    let newline = if span.contains("\r\n") {
        "\\\r\n"
    } else {
        "\\\n"
    };
    let next_line = |out: &mut String, line_start: &mut bool| {
        out.push_str(newline);
        out.push_str(&indent);
        *line_start = true;
    };
    if span.starts_with(['|', '>']) && breaks > 0 {
        next_line(&mut out, &mut line_start);
        breaks -= 1;
    }
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if line_start && b[i] == b' ' {
            out.push_str("\\x20");
            i += 1;
            line_start = false;
            continue;
        }
        line_start = false;
        // One character or one escape sequence at a time, never split.
        let len = if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'u') { 6 } else { 2 }
        } else {
            body[i..].chars().next().map_or(1, char::len_utf8)
        };
        let piece = &body[i..(i + len).min(b.len())];
        out.push_str(piece);
        i += len;
        if piece == "\\n" && breaks > 0 {
            next_line(&mut out, &mut line_start);
            breaks -= 1;
        }
    }
    for _ in 0..breaks {
        next_line(&mut out, &mut line_start);
    }
    out.push('"');
    out
}
