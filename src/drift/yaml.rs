//! YAML documents into `serde_json::Value`s, from saphyr's event parser:
//! anchors and aliases, YAML 1.1 merge keys (`<<`, which compose files
//! use), and Compose's `!reset` / `!override` tags kept as marks for the
//! compose merge. Upstream manifests are plain data, so nothing else of
//! YAML's tag machinery is needed.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Value};

/// The key of the mark a Compose tag leaves: `{TAG_KEY: "reset", VALUE_KEY: v}`.
/// NUL cannot appear in a YAML key written by a person.
pub const TAG_KEY: &str = "\0tag";
pub const VALUE_KEY: &str = "\0value";
const MAX_DEPTH: usize = 256;
/// What aliases may copy, in total, per file: a node counts as
/// `NODE_WEIGHT`, a string as its bytes. Anchors that alias anchors grow
/// tenfold a level (nine levels of ten copies of "lol" are a billion
/// nodes from a few hundred bytes); a compose file's `<<: *common` over
/// thirty services copies a few KiB.
const MAX_ALIAS_WEIGHT: u64 = 16 << 20;
const NODE_WEIGHT: u64 = 32;

enum Frame {
    Map {
        anchor: usize,
        /// `weight` when the node started.
        from: u64,
        tag: Option<String>,
        entries: Vec<(String, Value)>,
        key: Option<String>,
    },
    Seq {
        anchor: usize,
        from: u64,
        tag: Option<String>,
        items: Vec<Value>,
    },
}

/// Every document of `src`; an error gives a position, never the text.
pub fn documents(src: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // An anchored value, and its weight (aliases inside it included).
    let mut anchors: HashMap<usize, (Value, u64)> = HashMap::new();
    // The weight of everything built so far, and of what aliases copied.
    let (mut weight, mut copied) = (0u64, 0u64);
    let mut parser = Parser::new_from_str(src);
    while let Some(ev) = parser.next_event() {
        let (ev, _) = ev.map_err(|e| {
            format!(
                "YAML syntax error at line {} column {}",
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        let done = match ev {
            Event::Scalar(v, style, anchor, tag) => {
                let w = NODE_WEIGHT + v.len() as u64;
                weight += w;
                let value = scalar(&v, style, tag.as_deref());
                let value = compose_tag(tag.as_deref(), value);
                if anchor > 0 {
                    anchors.insert(anchor, (value.clone(), w));
                }
                Some(value)
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((v, w)) => {
                    copied += w;
                    if copied > MAX_ALIAS_WEIGHT {
                        return Err(format!(
                            "YAML aliases copy more than {} MiB (anchors that alias anchors, as in a file built to exhaust memory); not read",
                            MAX_ALIAS_WEIGHT >> 20
                        ));
                    }
                    weight += w;
                    Some(v.clone())
                }
                None => Some(Value::Null),
            },
            Event::MappingStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("YAML nested deeper than {MAX_DEPTH} levels"));
                }
                weight += NODE_WEIGHT;
                stack.push(Frame::Map {
                    anchor,
                    from: weight,
                    tag: tag_name(tag.as_deref()),
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("YAML nested deeper than {MAX_DEPTH} levels"));
                }
                weight += NODE_WEIGHT;
                stack.push(Frame::Seq {
                    anchor,
                    from: weight,
                    tag: tag_name(tag.as_deref()),
                    items: Vec::new(),
                });
                None
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    anchor,
                    from,
                    tag,
                    entries,
                    ..
                }) => {
                    let v = tagged(tag, Value::Object(merge_keys(entries)));
                    if anchor > 0 {
                        anchors.insert(anchor, (v.clone(), NODE_WEIGHT + weight - from));
                    }
                    Some(v)
                }
                _ => return Err("YAML mapping end without a start".into()),
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    anchor,
                    from,
                    tag,
                    items,
                }) => {
                    let v = tagged(tag, Value::Array(items));
                    if anchor > 0 {
                        anchors.insert(anchor, (v.clone(), NODE_WEIGHT + weight - from));
                    }
                    Some(v)
                }
                _ => return Err("YAML sequence end without a start".into()),
            },
            Event::DocumentEnd => {
                anchors.clear();
                None
            }
            _ => None,
        };
        let Some(v) = done else { continue };
        match stack.last_mut() {
            None => docs.push(v),
            Some(Frame::Seq { items, .. }) => items.push(v),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(key_text(&v)),
                Some(k) => entries.push((k, v)),
            },
        }
    }
    Ok(docs)
}

fn tag_name(tag: Option<&Tag>) -> Option<String> {
    let t = tag?;
    (t.handle == "!").then(|| t.suffix.clone())
}

fn tagged(tag: Option<String>, v: Value) -> Value {
    match tag.as_deref() {
        Some(t @ ("reset" | "override")) => {
            let mut m = Map::new();
            m.insert(TAG_KEY.into(), t.into());
            m.insert(VALUE_KEY.into(), v);
            Value::Object(m)
        }
        _ => v,
    }
}

fn compose_tag(tag: Option<&Tag>, v: Value) -> Value {
    tagged(tag_name(tag), v)
}

fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Explicit keys win over merged ones; among merged sources the earlier
/// wins (YAML 1.1's merge key, as Compose applies it).
fn merge_keys(entries: Vec<(String, Value)>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut merged: Vec<Value> = Vec::new();
    for (k, v) in entries {
        if k == "<<" {
            match v {
                Value::Array(items) => merged.extend(items),
                v => merged.push(v),
            }
        } else {
            out.insert(k, v);
        }
    }
    for source in merged {
        if let Value::Object(m) = source {
            for (k, v) in m {
                out.entry(k).or_insert(v);
            }
        }
    }
    out
}

fn scalar(v: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(t) = tag
        && t.handle == "tag:yaml.org,2002:"
    {
        match t.suffix.as_str() {
            "str" => return Value::String(v.into()),
            "null" => return Value::Null,
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Value::String(v.into());
    }
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    // YAML 1.1 (what kubectl reads): `0644` is octal.
    if v.len() > 1
        && v.starts_with('0')
        && v.bytes().all(|b| (b'0'..=b'7').contains(&b))
        && let Ok(i) = i64::from_str_radix(&v[1..], 8)
    {
        return i.into();
    }
    if let Ok(i) = v.parse::<i64>() {
        return i.into();
    }
    if let Some(h) = v.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(h, 16)
    {
        return i.into();
    }
    if let Some(o) = v.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(o, 8)
    {
        return i.into();
    }
    let looks_numeric = v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if looks_numeric
        && v.chars().any(|c| c.is_ascii_digit())
        && let Ok(f) = v.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(v.into())
}

/// `levels` anchors, each a list of ten aliases of the one before: the
/// "billion laughs" at nine (tests).
#[cfg(test)]
pub(super) fn laughs(levels: usize) -> String {
    let mut src = String::from("a0: &a0 lol\n");
    for i in 1..=levels {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        src.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    src
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anchors_merge_keys_and_compose_tags() {
        let src = "x-common: &common\n  restart: always\n  cpus: 1\nservices:\n  a:\n    <<: *common\n    cpus: 2\n    image: 'sourcegraph/a:1'\n    ports: !reset []\n    environment: !override\n      A: 1\n---\nkind: Service\nport: 8080\nquoted: \"8080\"\nempty:\n";
        let docs = documents(src).unwrap();
        assert_eq!(docs.len(), 2);
        let a = &docs[0]["services"]["a"];
        assert_eq!(a["restart"], "always");
        assert_eq!(a["cpus"], 2, "explicit keys win over merged ones");
        assert_eq!(a["ports"][TAG_KEY], "reset");
        assert_eq!(a["environment"][TAG_KEY], "override");
        assert_eq!(a["environment"][VALUE_KEY], json!({"A": 1}));
        assert_eq!(docs[1]["port"], 8080);
        assert_eq!(documents("mode: 0644\n").unwrap()[0]["mode"], 420);
        assert_eq!(docs[1]["quoted"], "8080");
        assert!(docs[1]["empty"].is_null());
    }

    /// Anchors that alias anchors: seven levels of ten copies made ten
    /// million strings from 300 bytes (1.5 GB RSS in `inspect
    /// --diff-upstream`; nine levels would make a billion). Refused once
    /// the copies pass the bound.
    #[test]
    fn aliases_that_multiply_are_refused() {
        let src = laughs(7);
        // Not `unwrap_err()`: the Ok would print a gigabyte.
        let Err(e) = documents(&src) else {
            panic!("aliases that multiply were read");
        };
        assert!(e.contains("aliases copy more than 16 MiB"), "{e}");
        // What compose files do: one anchor merged into many services.
        let mut src = String::from(
            "x-common: &common\n  restart: always\n  logging: {driver: json-file, options: {max-size: 10m}}\nservices:\n",
        );
        for i in 0..2000 {
            src.push_str(&format!(
                "  s{i}:\n    <<: *common\n    image: sourcegraph/s:{i}\n"
            ));
        }
        let docs = documents(&src).unwrap();
        assert_eq!(docs[0]["services"]["s1999"]["restart"], "always");
    }

    #[test]
    fn errors_give_a_position_not_the_text() {
        let e = documents("a: [secret-value\nb: 2\n").unwrap_err();
        assert!(e.contains("line") && !e.contains("secret-value"), "{e}");
    }
}
