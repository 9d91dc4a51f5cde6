//! Round trips through the packager and the reader. These live inside the
//! crate because only here can a `RedactedArtifact` be built without the
//! redaction pass.

use std::io::{self, Read};
use std::path::Path;

use chrono::{TimeZone, Utc};

use super::format::*;
use super::{Bundle, BundleWriter};
use crate::artifact::ArtifactMeta;
use crate::redact::RedactedArtifact;

fn artifact(path: &str, kind: FileKind, body: impl Read + Send + 'static) -> RedactedArtifact {
    RedactedArtifact::for_tests(
        ArtifactMeta {
            path: BundlePath::new(path).unwrap(),
            kind,
            collector: "test".into(),
        },
        Box::new(body),
    )
}

fn redactor() -> crate::redact::Redactor {
    crate::redact::Redactor::new(crate::redact::rules::RuleSet::load(&[], &[]).unwrap())
}

fn manifest() -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        tool: Tool::this(),
        created_at: Utc.with_ymd_and_hms(2026, 11, 25, 4, 5, 6).unwrap(),
        complete: true,
        incident: Incident {
            category: "search".into(),
            ticket: Some("T-1".into()),
            note: None,
        },
        deployment: Deployment::unknown(),
        options: Default::default(),
        collectors: vec![],
        files: vec![],
        omitted: vec![],
        warnings: vec![],
        leak_scan: None,
        upstream: None,
    }
}

/// Deterministic, incompressible-ish bytes, so a multi-megabyte entry
/// really streams through deflate.
struct Noise {
    left: usize,
    state: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left);
        for b in &mut buf[..n] {
            self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (self.state >> 56) as u8;
        }
        self.left -= n;
        Ok(n)
    }
}

fn noise(len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    Noise {
        left: len,
        state: 7,
    }
    .read_to_end(&mut v)
    .unwrap();
    v
}

fn write_sample(dest: &Path) -> Manifest {
    let m = manifest();
    let mut w = BundleWriter::create(
        dest,
        "sg-debug-search-20261125T040506Z",
        m.created_at,
        false,
        redactor(),
        false,
    )
    .unwrap();
    // Added out of order: the bundle must still list them sorted.
    w.add(artifact(
        "logs/zoekt.log",
        FileKind::Log,
        Noise {
            left: 5 << 20,
            state: 7,
        },
    ))
    .unwrap();
    w.add(artifact(
        "config/site.json",
        FileKind::Config,
        &b"{\"a\":1}\n"[..],
    ))
    .unwrap();
    w.add(artifact("empty.txt", FileKind::Metadata, io::empty()))
        .unwrap();
    let (_, written) = w.finish(m).unwrap();
    written
}

#[test]
fn round_trip_keeps_bytes_and_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.zip");
    let written = write_sample(&dest);
    assert_eq!(
        written
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["config/site.json", "empty.txt", "logs/zoekt.log"]
    );

    let mut b = Bundle::open(&dest).unwrap();
    assert_eq!(b.top(), "sg-debug-search-20261125T040506Z");
    assert_eq!(b.manifest(), &written);
    let names: Vec<&str> = b.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "config/site.json",
            "empty.txt",
            "logs/zoekt.log"
        ]
    );

    assert_eq!(b.read_entry("logs/zoekt.log").unwrap(), noise(5 << 20));
    assert_eq!(b.read_entry("config/site.json").unwrap(), b"{\"a\":1}\n");
    let log = &written.files[2];
    assert_eq!(log.bytes, 5 << 20);
    use sha2::Digest;
    assert_eq!(
        log.sha256,
        super::writer::hex(&sha2::Sha256::digest(noise(5 << 20)))
    );

    let v = b.verify();
    assert_eq!((v.checked, v.problems.len()), (3, 0), "{:?}", v.problems);
}

#[test]
fn same_input_gives_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    write_sample(&dir.path().join("a.zip"));
    write_sample(&dir.path().join("b.zip"));
    assert_eq!(
        std::fs::read(dir.path().join("a.zip")).unwrap(),
        std::fs::read(dir.path().join("b.zip")).unwrap()
    );
}

#[cfg(unix)]
#[test]
fn bundle_is_private_and_nothing_partial_remains() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.zip");
    write_sample(&dest);
    let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["b.zip"]);
}

struct FailsAfter(usize);

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("connection reset by peer"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b'x');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn failed_artifact_is_dropped_whole_and_writing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.zip");
    let m = manifest();
    let mut w = BundleWriter::create(&dest, "top", m.created_at, false, redactor(), false).unwrap();
    w.add(artifact("a.log", FileKind::Log, &b"first\n"[..]))
        .unwrap();
    let err = w
        .add(artifact("broken.log", FileKind::Log, FailsAfter(100_000)))
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("connection reset by peer"),
        "{err:#}"
    );
    // The name is free again: a retry may use it.
    w.add(artifact("broken.log", FileKind::Log, &b"retry\n"[..]))
        .unwrap();
    w.add(artifact("z.log", FileKind::Log, &b"last\n"[..]))
        .unwrap();
    w.finish(m).unwrap();
    let mut b = Bundle::open(&dest).unwrap();
    assert_eq!(b.read_entry("broken.log").unwrap(), b"retry\n");
    assert_eq!(b.verify().problems, Vec::<String>::new());
}

/// The output was checked absent when collection began, minutes before
/// the bundle is finished: a file that appeared meanwhile is not replaced
/// (without --force), and the finished bundle is kept, not lost.
#[test]
fn an_output_that_appears_while_writing_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.zip");
    let m = manifest();
    let mut w = BundleWriter::create(&dest, "top", m.created_at, false, redactor(), false).unwrap();
    w.add(artifact("a.log", FileKind::Log, &b"first\n"[..]))
        .unwrap();
    std::fs::write(&dest, "someone else's file").unwrap();
    let err = format!("{:#}", w.finish(m.clone()).unwrap_err());
    assert!(
        err.contains("appeared while sg-debug was writing it"),
        "{err}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"someone else's file");
    let kept = dir.path().join("b.zip.partial");
    assert!(err.contains(&kept.display().to_string()), "{err}");
    assert_eq!(
        Bundle::open(&kept).unwrap().verify().problems,
        Vec::<String>::new()
    );

    // With --force it is replaced, as asked.
    std::fs::remove_file(&kept).unwrap();
    let mut w = BundleWriter::create(&dest, "top", m.created_at, true, redactor(), false).unwrap();
    w.add(artifact("a.log", FileKind::Log, &b"first\n"[..]))
        .unwrap();
    w.finish(m).unwrap();
    assert!(Bundle::open(&dest).is_ok());
}

#[test]
fn duplicate_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest();
    let mut w = BundleWriter::create(
        &dir.path().join("b.zip"),
        "top",
        m.created_at,
        false,
        redactor(),
        false,
    )
    .unwrap();
    w.add(artifact("a.log", FileKind::Log, &b"1"[..])).unwrap();
    let err = w
        .add(artifact("a.log", FileKind::Log, &b"2"[..]))
        .unwrap_err();
    assert!(
        err.to_string().contains("two artifacts named 'a.log'"),
        "{err}"
    );
}

#[test]
fn existing_output_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.zip");
    std::fs::write(&dest, b"precious").unwrap();
    let at = manifest().created_at;
    let err = BundleWriter::create(&dest, "top", at, false, redactor(), false)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("already exists; pass --force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"precious");
    BundleWriter::create(&dest, "top", at, true, redactor(), false)
        .unwrap()
        .finish(manifest())
        .unwrap();
    Bundle::open(&dest).unwrap();
}

#[test]
fn abandoned_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.zip");
    let mut w = BundleWriter::create(
        &dest,
        "top",
        manifest().created_at,
        false,
        redactor(),
        false,
    )
    .unwrap();
    w.add(artifact("a.log", FileKind::Log, &b"1"[..])).unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A small validator for the subset of JSON Schema the manifest schema
/// uses, so docs/manifest.schema.json cannot drift from the code.
fn check_schema(schema: &serde_json::Value, v: &serde_json::Value, at: &str) {
    use serde_json::Value;
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "boolean" => v.is_boolean(),
            other => panic!("schema type {other} not handled"),
        };
        assert!(ok, "{at}: expected {t}, got {v}");
    }
    if let Some(c) = schema.get("const") {
        assert_eq!(c, v, "{at}");
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        assert!(e.contains(v), "{at}: {v} not in {e:?}");
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req {
            assert!(v.get(r.as_str().unwrap()).is_some(), "{at}: missing {r}");
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            let sub = props
                .and_then(|p| p.get(k))
                .or_else(|| schema.get("additionalProperties"));
            match sub {
                Some(sub) => check_schema(sub, val, &format!("{at}.{k}")),
                None => assert!(
                    schema.get("properties").is_none() || k.is_empty(),
                    "{at}: property {k} is not in the schema"
                ),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check_schema(items, x, &format!("{at}[{i}]"));
        }
    }
}

#[test]
fn written_manifest_matches_the_documented_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/manifest.schema.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut m = write_sample(&dir.path().join("b.zip"));
    m.incident.note = Some("n".into());
    m.deployment.flavour = Some("helm".into());
    m.deployment.sourcegraph_version = Some("6.12.5040".into());
    m.deployment
        .location
        .insert("namespace".into(), "sg".into());
    m.collectors.push(CollectorRecord {
        name: "kubernetes".into(),
        status: CollectorStatus::Partial,
        duration_ms: 12,
        errors: vec![CollectorError {
            target: "nodes".into(),
            message: "forbidden".into(),
        }],
        notes: vec!["reached through the service proxy".into()],
    });
    m.warnings
        .push("the instance answering is not this deployment".into());
    m.files[0].redactions.insert("github-token".into(), 2);
    m.files[0].notes.push("redacted line by line".into());
    m.leak_scan = Some(LeakScan {
        files: 3,
        hits: vec![crate::redact::scan::Hit {
            path: "logs/zoekt.log".into(),
            line: 12,
            rule: "jwt".into(),
        }],
    });
    m.omitted.push(OmittedRecord {
        path: "x.bin".into(),
        collector: "docker".into(),
        reason: "binary".into(),
    });
    check_schema(&schema, &serde_json::to_value(&m).unwrap(), "manifest");
    let documented: Vec<&str> =
        schema["properties"]["incident"]["properties"]["category"]["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
    assert_eq!(documented, crate::category::ids());
    // And the check itself bites.
    let mut bad = serde_json::to_value(&m).unwrap();
    bad["files"][0]["kind"] = "video".into();
    let r = std::panic::catch_unwind(|| check_schema(&schema, &bad, "manifest"));
    assert!(r.is_err());
}
