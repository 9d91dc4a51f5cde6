//! The redaction pass's tests, by what they look at: the line pass
//! (`lines`), the structured pass (`structured`), properties over
//! generated input (`properties`), credential formats and the corpus's
//! lessons (`credentials`), and what fuzzing found (`fuzz_found`). The
//! helpers they share are here.

use std::collections::BTreeMap;
use std::io::Read;

use super::marker::Marker;
use super::rules::RuleSet;
use super::*;
use crate::artifact::{Artifact, ArtifactMeta, Body};
use crate::artifact::{BundlePath, FileKind};

fn redactor() -> Redactor {
    Redactor::with_marker(RuleSet::defaults(), Marker::with_key([7; 32]))
}

fn line(r: &Redactor, s: &str) -> (String, BTreeMap<String, u64>) {
    let mut out = Vec::new();
    let mut counts = BTreeMap::new();
    r.line_redactor()
        .redact_into(s.as_bytes(), &mut out, &mut counts);
    (String::from_utf8(out).unwrap(), counts)
}

fn file(r: &Redactor, path: &str, body: &[u8]) -> (String, BTreeMap<String, u64>, Vec<String>) {
    let a = Artifact {
        meta: ArtifactMeta {
            path: BundlePath::new(path).unwrap(),
            kind: FileKind::Log,
            collector: "t".into(),
        },
        body: Body::Bytes(body.to_vec()),
    };
    match r.redact(a) {
        Outcome::Kept(k) => {
            let (_, mut body, counts) = k.into_parts();
            let mut out = Vec::new();
            body.read_to_end(&mut out).unwrap();
            (
                String::from_utf8(out).unwrap(),
                counts.snapshot(),
                counts.notes(),
            )
        }
        Outcome::Omitted { reason, .. } => panic!("omitted: {reason}"),
    }
}

/// Every `secret` is gone from the redacted `input`, and `keep` survives.
fn check(input: &str, secrets: &[&str], keep: &[&str]) {
    let r = redactor();
    let (out, _) = line(&r, input);
    for s in secrets {
        assert!(!out.contains(s), "secret {s:?} survived in {out:?}");
    }
    for k in keep {
        assert!(out.contains(k), "{k:?} was lost from {out:?}");
    }
    assert!(out.contains("[REDACTED:") || secrets.is_empty(), "{out}");
}

/// Redacts `body` as a config file; the output's raw bytes and notes.
fn config_bytes(r: &Redactor, path: &str, body: &[u8]) -> (Vec<u8>, Vec<String>) {
    let a = Artifact {
        meta: ArtifactMeta {
            path: BundlePath::new(path).unwrap(),
            kind: FileKind::Config,
            collector: "t".into(),
        },
        body: Body::Bytes(body.to_vec()),
    };
    let Outcome::Kept(k) = r.redact(a) else {
        panic!("omitted")
    };
    let (_, mut rd, counts) = k.into_parts();
    let mut out = Vec::new();
    rd.read_to_end(&mut out).unwrap();
    (out, counts.notes())
}

mod credentials;
mod fuzz_found;
mod lines;
mod properties;
mod structured;
