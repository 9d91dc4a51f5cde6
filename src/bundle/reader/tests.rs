//! The reader's limits at sizes a test can reach: the same code paths as
//! the real constants, with small numbers passed to `Bundle::open_with`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use sha2::Digest;
use zip::write::SimpleFileOptions;

use super::{Bundle, BundleError, Limits};
use crate::bundle::writer::hex;

const TOP: &str = "sg-debug-search-20261125T040506Z";

fn manifest(files: &[(&str, &[u8])]) -> Vec<u8> {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, b)| {
            serde_json::json!({"path": p, "bytes": b.len(), "sha256": hex(&sha2::Sha256::digest(b)),
                "kind": "log", "collector": "test"})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "format_version": 1,
        "tool": {"name": "sg-debug", "version": "0.1.0"},
        "created_at": "2026-11-25T04:05:06Z",
        "complete": true,
        "incident": {"category": "search"},
        "deployment": {"type": "unknown"},
        "files": files,
    }))
    .unwrap()
}

fn write(path: &Path, files: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = SimpleFileOptions::default();
    zip.start_file(format!("{TOP}/manifest.json"), opts)
        .unwrap();
    zip.write_all(&manifest(files)).unwrap();
    for (name, body) in files {
        zip.start_file(format!("{TOP}/{name}"), opts).unwrap();
        zip.write_all(body).unwrap();
    }
    zip.finish().unwrap();
}

fn sample(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("b.zip");
    write(
        &p,
        &[
            ("logs/a.log", b"line one\nline two\n"),
            ("logs/b.log", &[b'b'; 1000]),
        ],
    );
    p
}

#[test]
fn entry_reader_streams_through_a_bufreader() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Bundle::open(&sample(dir.path())).unwrap();
    let r = b.open_entry("logs/a.log").unwrap();
    assert_eq!(r.name(), "logs/a.log");
    assert_eq!(r.declared_size(), 18);
    let lines: Vec<String> = BufReader::new(r).lines().map(Result::unwrap).collect();
    assert_eq!(lines, ["line one", "line two"]);
    match b.open_entry("logs/nope.log") {
        Err(BundleError::NoEntry { name, .. }) => assert_eq!(name, "logs/nope.log"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn inflated_bytes_are_bounded_over_the_bundles_life() {
    let dir = tempfile::tempdir().unwrap();
    let p = sample(dir.path());
    let manifest_len = Bundle::open(&p).unwrap().entries()[0].size;
    // Room for the manifest and the 1000-byte entry twice, not three times.
    let limits = Limits {
        inflated: manifest_len + 2000,
        ..Limits::DEFAULT
    };
    let mut b = Bundle::open_with(&p, limits).unwrap();
    for _ in 0..2 {
        assert_eq!(b.read_entry("logs/b.log").unwrap().len(), 1000);
    }
    let err = b.read_entry("logs/b.log").unwrap_err();
    assert!(
        matches!(&err, BundleError::Bomb { name, .. } if name == "logs/b.log"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the most one open bundle may produce")
    );
    // Through open_entry the same refusal is an io::Error saying why.
    let mut r = b.open_entry("logs/a.log").unwrap();
    let e = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("possible zip bomb"), "{e}");
    drop(r);
    // verify reports it instead of reading on.
    let v = b.verify();
    assert!(!v.problems.is_empty());
}

#[test]
fn the_manifest_counts_against_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        inflated: 10,
        ..Limits::DEFAULT
    };
    let err = Bundle::open_with(&sample(dir.path()), limits)
        .err()
        .unwrap();
    assert!(
        matches!(&err, BundleError::Bomb { name, .. } if name == "manifest.json"),
        "{err}"
    );
}
