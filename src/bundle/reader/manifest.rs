//! Reading manifest.json: bounded before it is parsed, parsed once
//! straight into the typed Manifest, and never quoted back in an error
//! (a hostile or damaged manifest may hold a secret).

use std::io::Read;

use serde::Deserialize;
use serde_json::error::Category;
use sha2::Digest;

use super::archive::{Archive, into_bundle_error};
use super::format::{FORMAT_VERSION, MANIFEST_NAME, Manifest};
use super::{BundleError, Limits, MAX_TOTAL_BYTES};

/// The manifest, and the SHA-256 of its bytes as stored (the bundle's
/// identity: see `Bundle::id`).
pub(super) fn read_manifest(
    archive: &mut Archive,
    top: &str,
) -> Result<(Manifest, String), BundleError> {
    let path = archive.path.clone();
    let limits = *archive.limits();
    let Some(entry) = archive.find(MANIFEST_NAME) else {
        return Err(BundleError::NotBundle {
            path,
            why: format!("it has no {top}/{MANIFEST_NAME}"),
        });
    };
    if entry.size > limits.manifest {
        return Err(BundleError::Bomb {
            path,
            name: MANIFEST_NAME.into(),
            why: format!(
                "declares {} bytes, over the {} a manifest may hold",
                entry.size, limits.manifest
            ),
        });
    }
    // The declared size is at most limits.manifest, and the reader never
    // yields more, so this is the most the buffer holds.
    let mut raw = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
    archive
        .open_entry(MANIFEST_NAME)?
        .read_to_end(&mut raw)
        .map_err(|e| into_bundle_error(e, &path, MANIFEST_NAME))?;
    let id = super::super::writer::hex(&sha2::Sha256::digest(&raw));
    let manifest = parse(&raw, &limits).map_err(|r| match r {
        Refusal::Bad(why) => BundleError::BadManifest { path, why },
        Refusal::Newer(found) => BundleError::NewerFormat {
            path,
            found,
            ours: env!("CARGO_PKG_VERSION"),
        },
    })?;
    Ok((manifest, id))
}

/// Why a manifest cannot be used.
enum Refusal {
    /// Malformed, in words that never quote it.
    Bad(String),
    /// A format this sg-debug is too old to read.
    Newer(u64),
}

impl From<String> for Refusal {
    fn from(why: String) -> Refusal {
        Refusal::Bad(why)
    }
}

/// Only the version, with every other field skipped unparsed: checking it
/// first means a newer format is reported as such, not as a shape error.
#[derive(Deserialize)]
struct Probe {
    format_version: Option<serde_json::Value>,
}

/// The manifest in `raw`, or why it is unusable, in words that never
/// include its text.
fn parse(raw: &[u8], limits: &Limits) -> Result<Manifest, Refusal> {
    if count_values(raw) > limits.manifest_values {
        return Err(Refusal::Bad(format!(
            "it holds more than {} JSON values, far more than any bundle's files need",
            limits.manifest_values
        )));
    }
    let probe: Probe = serde_json::from_slice(raw).map_err(|e| describe(&e))?;
    let version = probe
        .format_version
        .ok_or_else(|| "no format_version field".to_string())?;
    check_version(&version)?;
    let manifest: Manifest = serde_json::from_slice(raw).map_err(|e| describe(&e))?;
    check_sums(&manifest)?;
    Ok(manifest)
}

/// Formats are numbered 1, 2, ...; this sg-debug reads up to
/// FORMAT_VERSION. Anything that cannot be a format at all says so rather
/// than asking for an upgrade that would not help.
fn check_version(v: &serde_json::Value) -> Result<(), Refusal> {
    let Some(n) = v.as_number() else {
        return Err(Refusal::Bad("format_version is not a number".into()));
    };
    // Whatever serde_json could not hold as an integer arrives as an f64.
    let version = match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(v), _, _) => v,
        (None, Some(_), _) => return Err(negative()),
        (_, _, Some(f)) if f < 0.0 => return Err(negative()),
        (_, _, Some(f)) if f.fract() == 0.0 && f > f64::from(u32::MAX) => {
            return Err(out_of_range());
        }
        (_, _, Some(f)) if f.fract() == 0.0 => {
            return Err(Refusal::Bad(
                "format_version must be written as a whole number, without a fraction or exponent"
                    .into(),
            ));
        }
        _ => return Err(Refusal::Bad("format_version is not a whole number".into())),
    };
    if version == 0 {
        return Err(Refusal::Bad("format_version 0 does not exist".into()));
    }
    // The typed field is a u32: no format could ever be numbered higher.
    if version > u64::from(u32::MAX) {
        return Err(out_of_range());
    }
    if version > u64::from(FORMAT_VERSION) {
        return Err(Refusal::Newer(version));
    }
    Ok(())
}

fn negative() -> Refusal {
    Refusal::Bad("format_version is negative; bundle formats are numbered from 1".into())
}

fn out_of_range() -> Refusal {
    Refusal::Bad(format!(
        "format_version is out of range: bundle formats are numbered from 1, and this sg-debug reads format {FORMAT_VERSION}"
    ))
}

/// Callers add up file sizes and redaction counts (`inspect` shows the
/// totals): a manifest whose numbers overflow a u64, or whose files add up
/// to more than a bundle may hold, was not written by sg-debug.
fn check_sums(m: &Manifest) -> Result<(), String> {
    let mut bytes: u64 = 0;
    let mut redactions: u64 = 0;
    for f in &m.files {
        bytes = bytes
            .checked_add(f.bytes)
            .filter(|&b| b <= MAX_TOTAL_BYTES)
            .ok_or_else(|| {
                format!(
                    "its files add up to more than the {MAX_TOTAL_BYTES} bytes a bundle may hold"
                )
            })?;
        for n in f.redactions.values() {
            redactions = redactions
                .checked_add(*n)
                .ok_or_else(|| "its redaction counts add up past 2^64".to_string())?;
        }
    }
    Ok(())
}

/// An upper bound on the number of JSON values in `raw`, in one pass and
/// without allocating: outside strings, every value after a container's
/// first follows a comma, and every container opens with a bracket. This
/// bounds what serde_json allocates for the untyped `options` (32 bytes per
/// value) before it allocates anything.
fn count_values(raw: &[u8]) -> u64 {
    let mut n: u64 = 1;
    let (mut in_string, mut escaped) = (false, false);
    for &b in raw {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b',' | b'[' | b'{' => n += 1,
                _ => {}
            }
        }
    }
    n
}

/// A serde_json error by position and kind only. Its Display quotes the
/// input (`invalid type: string "s3cr3t", expected a boolean`), and the
/// input may be a secret.
fn describe(e: &serde_json::Error) -> String {
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        // These messages are fixed texts chosen by serde_json's parser
        // ("expected `,` or `}`", "EOF while parsing a string"), never input.
        Category::Syntax | Category::Eof => {
            let msg = e.to_string();
            let what = msg
                .strip_suffix(&format!(" at {at}"))
                .unwrap_or("syntax error");
            format!("not JSON: {what} at {at}")
        }
        Category::Data => {
            let msg = e.to_string();
            let msg = msg.strip_suffix(&format!(" at {at}")).unwrap_or(&msg);
            format!("{} at {at}", data_error(msg))
        }
        Category::Io => format!("could not be read at {at}"),
    }
}

/// The part of a data error that comes from our own types, never from the
/// input: which field is missing, or what was expected.
fn data_error(msg: &str) -> String {
    let fixed = |s: &str| {
        s.len() <= 200
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || " _-`,.".contains(c))
    };
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split_once('`'))
        .map(|(f, _)| f)
        && fixed(field)
    {
        return format!("missing field `{field}`");
    }
    // "invalid type: string \"…\", expected a boolean": the text after the
    // last ", expected " is the Deserialize impl's, the rest is the input's.
    let ours = [
        "invalid type: ",
        "invalid value: ",
        "unknown variant ",
        "invalid length ",
    ];
    if ours.iter().any(|p| msg.starts_with(p))
        && let Some((_, expected)) = msg.rsplit_once(", expected ")
        && fixed(expected)
    {
        return format!("a field has the wrong type or value (expected {expected})");
    }
    "a field has the wrong type or value".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_count_is_an_upper_bound() {
        for (json, at_least) in [
            ("1", 1),
            ("[]", 1),
            ("[1,2,3]", 4),
            ("{\"a\":[1,{\"b\":2}],\"c\":3}", 6),
            ("[\"a,b,[c\\\",{\"]", 2),
        ] {
            let n = count_values(json.as_bytes());
            let real = count(&serde_json::from_str(json).unwrap());
            assert!(n >= real && n >= at_least, "{json}: {n} < {real}");
        }
        assert_eq!(count_values(b"[\"a,b,[c\\\",{\"]"), 2);
    }

    fn count(v: &serde_json::Value) -> u64 {
        1 + match v {
            serde_json::Value::Array(a) => a.iter().map(count).sum(),
            serde_json::Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }

    #[test]
    fn data_errors_keep_only_our_words() {
        for (msg, want) in [
            (
                "invalid type: string \"s3cr3t, expected x\", expected a boolean",
                "a field has the wrong type or value (expected a boolean)",
            ),
            (
                "unknown variant `s3cr3t`, expected one of `log`, `config`",
                "a field has the wrong type or value (expected one of `log`, `config`)",
            ),
            ("missing field `tool`", "missing field `tool`"),
            (
                "missing field `s3cr3t\"`",
                "a field has the wrong type or value",
            ),
            (
                "input contains invalid characters",
                "a field has the wrong type or value",
            ),
            (
                "invalid value: integer `4294967296`, expected u32",
                "a field has the wrong type or value (expected u32)",
            ),
        ] {
            assert_eq!(data_error(msg), want, "{msg}");
        }
    }
}
