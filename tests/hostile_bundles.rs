//! Crafted bundles that once got past `sg-debug inspect`. Most are written
//! byte by byte: the zip crate refuses to write duplicate names or
//! overlapping entries, and that is exactly what an attacker sends.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use support::*;

const TOP: &str = "sg-debug-search-20261125T040506Z";
const AT: &str = "2026-11-25T04:05:06Z";
const SECRET: &[u8] = b"GITHUB_TOKEN=ghp_R8x2mQ4vN7kL1pZ9wE3tY6uI0oA5sD2fG8hJ\n";
const CLEAN: &[u8] = b"2026-11-25T04:00:00Z INFO all good\n";

/// One entry's bytes as they sit in the archive.
struct Data {
    method: u16,
    crc: u32,
    compressed: Vec<u8>,
    /// The uncompressed size the headers declare (may be a lie).
    size: u64,
}

fn crc(body: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(body);
    c.sum()
}

fn stored(body: &[u8]) -> Data {
    Data {
        method: 0,
        crc: crc(body),
        compressed: body.to_vec(),
        size: body.len() as u64,
    }
}

fn deflated(body: &[u8]) -> Data {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(body).unwrap();
    Data {
        method: 8,
        crc: crc(body),
        compressed: e.finish().unwrap(),
        size: body.len() as u64,
    }
}

/// A zip written header by header: local headers and data first, then
/// the central directory, whose records may point anywhere.
struct RawZip {
    bytes: Vec<u8>,
    central: Vec<u8>,
    records: u16,
}

const DOS_DATE: u16 = ((2026 - 1980) << 9) | (11 << 5) | 25;

impl RawZip {
    fn new() -> RawZip {
        RawZip {
            bytes: Vec::new(),
            central: Vec::new(),
            records: 0,
        }
    }

    /// Sizes that do not fit the 32-bit fields go to a zip64 extra field.
    fn sizes(d: &Data) -> (u32, u32, Vec<u8>) {
        let csize = d.compressed.len() as u64;
        if d.size < 0xFFFF_FFFF && csize < 0xFFFF_FFFF {
            return (csize as u32, d.size as u32, Vec::new());
        }
        let mut extra = Vec::new();
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&d.size.to_le_bytes());
        extra.extend_from_slice(&csize.to_le_bytes());
        (0xFFFF_FFFF, 0xFFFF_FFFF, extra)
    }

    /// Writes a local header and the data; returns the header's offset.
    fn local(&mut self, name: &str, d: &Data) -> u32 {
        let offset = self.bytes.len() as u32;
        let (csize, size, extra) = Self::sizes(d);
        let b = &mut self.bytes;
        b.extend_from_slice(&0x04034b50u32.to_le_bytes());
        b.extend_from_slice(&45u16.to_le_bytes());
        b.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
        b.extend_from_slice(&d.method.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&DOS_DATE.to_le_bytes());
        b.extend_from_slice(&d.crc.to_le_bytes());
        b.extend_from_slice(&csize.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&extra);
        b.extend_from_slice(&d.compressed);
        offset
    }

    /// A central-directory record naming the data at `offset`.
    fn central(&mut self, name: &str, d: &Data, offset: u32) {
        let (csize, size, extra) = Self::sizes(d);
        let c = &mut self.central;
        c.extend_from_slice(&0x02014b50u32.to_le_bytes());
        c.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes()); // made on unix
        c.extend_from_slice(&45u16.to_le_bytes());
        c.extend_from_slice(&0x0800u16.to_le_bytes());
        c.extend_from_slice(&d.method.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes());
        c.extend_from_slice(&DOS_DATE.to_le_bytes());
        c.extend_from_slice(&d.crc.to_le_bytes());
        c.extend_from_slice(&csize.to_le_bytes());
        c.extend_from_slice(&size.to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // comment
        c.extend_from_slice(&0u16.to_le_bytes()); // disk
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&(0o100600u32 << 16).to_le_bytes());
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        c.extend_from_slice(&extra);
        self.records += 1;
    }

    fn add(&mut self, name: &str, d: &Data) {
        let at = self.local(name, d);
        self.central(name, d, at);
    }

    fn finish(mut self) -> Vec<u8> {
        let start = self.bytes.len() as u32;
        let size = self.central.len() as u32;
        self.bytes.append(&mut self.central);
        let b = &mut self.bytes;
        b.extend_from_slice(&0x06054b50u32.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&self.records.to_le_bytes());
        b.extend_from_slice(&self.records.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&start.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        self.bytes
    }
}

fn entry(name: &str) -> String {
    format!("{TOP}/{name}")
}

fn manifest_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    serde_json::to_vec_pretty(&manifest("search", AT, files)).unwrap()
}

/// A bundle whose manifest lists `listed` while the zip holds `held`.
fn bundle(dir: &Path, name: &str, listed: &[(&str, &[u8])], held: &[(&str, &[u8])]) -> PathBuf {
    let mut z = RawZip::new();
    z.add(&entry("manifest.json"), &deflated(&manifest_bytes(listed)));
    for (p, b) in held {
        z.add(&entry(p), &deflated(b));
    }
    let path = dir.join(name);
    fs::write(&path, z.finish()).unwrap();
    path
}

fn extract_to(b: &Path, out: &Path) -> Run {
    sg(
        &[
            "inspect",
            b.to_str().unwrap(),
            "--extract",
            out.to_str().unwrap(),
        ],
        b.parent().unwrap(),
    )
}

fn assert_nothing_extracted(out: &Path) {
    assert!(!out.exists(), "{} was created", out.display());
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    assert!(!Path::new(&partial).exists(), "a .partial was left behind");
}

/// Every way of reading the bundle refuses it, naming it and the reason,
/// and `--extract` writes nothing.
fn assert_refused(b: &Path, needle: &str) {
    let dir = b.parent().unwrap();
    for extra in [
        &[][..],
        &["--list"][..],
        &["--json"][..],
        &["--verify"][..],
        &["--scan"][..],
    ] {
        let mut args = vec!["inspect", b.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = sg(&args, dir);
        assert_eq!(r.code, 1, "{args:?} was accepted: {}", r.stdout);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(r.stderr.contains(b.to_str().unwrap()), "{}", r.stderr);
        assert!(
            r.stderr.contains(needle),
            "{args:?}: wanted {needle:?} in: {}",
            r.stderr
        );
    }
    let out = dir.join("out");
    let r = extract_to(b, &out);
    assert_eq!(r.code, 1, "--extract was accepted: {}", r.stdout);
    assert_nothing_extracted(&out);
}

// 1. Two entries with one name: `unzip` extracts the first (the secret),
// the zip crate's name index keeps the second (clean, matching the
// manifest), so a check and an extraction would see different files.
#[test]
fn duplicate_entry_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let listed: &[(&str, &[u8])] = &[("logs/a.log", CLEAN)];
    let b = bundle(
        dir.path(),
        "dup.zip",
        listed,
        &[("logs/a.log", SECRET), ("logs/a.log", CLEAN)],
    );
    assert_refused(&b, "same name");

    // The manifest itself, twice: the first one unzip would show.
    let mut z = RawZip::new();
    let mut evil = manifest("search", AT, &[]);
    evil["incident"]["note"] = "evil".into();
    z.add(
        &entry("manifest.json"),
        &deflated(&serde_json::to_vec(&evil).unwrap()),
    );
    z.add(&entry("manifest.json"), &deflated(&manifest_bytes(&[])));
    let b = dir.path().join("dupmanifest.zip");
    fs::write(&b, z.finish()).unwrap();
    assert_refused(&b, "same name");
}

/// A name under the top folder that is unsafe on its own: the whole
/// name `TOP/C:nfig/site.json` passed the check, the extracted and listed
/// one, `C:nfig/site.json`, would not have (found by fuzzing; on Windows
/// `C:` starts a path on a drive).
#[test]
fn unsafe_names_under_the_top_folder_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["C:nfig/site.json", "C:/x.log"].into_iter().enumerate() {
        let b = bundle(dir.path(), &format!("drive-{i}.zip"), &[], &[(name, CLEAN)]);
        assert_refused(&b, &format!("drive-letter path '{name}'"));
    }
}

/// The SHA-256 and CRC-32 of 256 MiB of zeros, computed once with
/// `head -c 268435456 /dev/zero | sha256sum` and Python's zlib.crc32, so
/// the test does not hash 2 GiB in a debug build.
const ZEROS_SHA256: &str = "a6d72ac7690f53be6ae46ba88506bd97302a093f7108472bd9efc3cefda06484";
const ZEROS_CRC: u32 = 0x2a0e7dbb;
const ZEROS_LEN: u64 = 256 << 20;

/// 256 MiB of zeros as one raw deflate stream (~260 KB), without
/// compressing 256 MiB in a debug build: one MiB compressed and
/// sync-flushed never refers back past its own start, so its bytes can be
/// repeated; an empty final block ends the stream.
fn zeros_deflated() -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; 1 << 20]).unwrap();
    e.flush().unwrap();
    let chunk = e.get_ref().clone();
    let mut out = Vec::with_capacity(chunk.len() * 256 + 2);
    for _ in 0..256 {
        out.extend_from_slice(&chunk);
    }
    out.extend_from_slice(&[0x03, 0x00]);
    out
}

// 2. Eight central-directory records pointing at one 256 MiB deflate
// stream: a 262 KB file that verified and extracted to 2.1 GB.
#[test]
fn overlapping_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..8).map(|i| format!("logs/b{i}.log")).collect();
    let files: Vec<serde_json::Value> = names
        .iter()
        .map(|n| {
            serde_json::json!({"path": n, "bytes": ZEROS_LEN, "sha256": ZEROS_SHA256,
                "kind": "log", "collector": "test", "redactions": {}})
        })
        .collect();
    let mut m = manifest("search", AT, &[]);
    m["files"] = files.into();

    let mut z = RawZip::new();
    z.add(
        &entry("manifest.json"),
        &deflated(&serde_json::to_vec_pretty(&m).unwrap()),
    );
    // Zeros deflate at about 1030:1, past the ratio check; bytes after the
    // final block are never read, so padding brings the ratio under it.
    let mut compressed = zeros_deflated();
    compressed.resize(300_000, 0);
    let bomb = Data {
        method: 8,
        crc: ZEROS_CRC,
        compressed,
        size: ZEROS_LEN,
    };
    let at = z.local(&entry(&names[0]), &bomb);
    for n in &names {
        z.central(&entry(n), &bomb, at);
    }
    let bytes = z.finish();
    assert!(bytes.len() < 400_000, "{} bytes", bytes.len());
    let b = dir.path().join("eight.zip");
    fs::write(&b, bytes).unwrap();
    assert_refused(&b, "overlap");

    // The smallest case: two records sharing one local header and its one
    // byte of data.
    let mut z = RawZip::new();
    z.add(&entry("manifest.json"), &deflated(&manifest_bytes(&[])));
    let d = deflated(b"x");
    let at = z.local(&entry("logs/x.log"), &d);
    z.central(&entry("logs/x.log"), &d, at);
    z.central(&entry("logs/y.log"), &d, at);
    let b = dir.path().join("two.zip");
    fs::write(&b, z.finish()).unwrap();
    assert_refused(&b, "overlap");
}

// 3. --extract writes exactly what --verify checks: nothing unlisted,
// nothing missing, every size and hash as the manifest says.
#[test]
fn extract_accepts_exactly_the_verified_set() {
    let dir = tempfile::tempdir().unwrap();
    let listed: &[(&str, &[u8])] = &[("logs/a.log", CLEAN)];
    type Files<'a> = &'a [(&'a str, &'a [u8])];
    let cases: &[(&str, Files)] = &[
        (
            "unlisted",
            &[("logs/a.log", CLEAN), ("logs/extra.log", SECRET)],
        ),
        ("missing", &[]),
    ];
    for (name, held) in cases {
        let b = bundle(dir.path(), &format!("{name}.zip"), listed, held);
        let out = dir.path().join(format!("out-{name}"));
        let r = extract_to(&b, &out);
        assert_eq!(r.code, 1, "{name}: extracted: {}", r.stdout);
        assert!(r.stderr.contains("--verify"), "{name}: {}", r.stderr);
        assert!(r.stderr.contains("logs/"), "{name}: {}", r.stderr);
        assert_nothing_extracted(&out);
    }

    // The right hash but the wrong size in the manifest.
    let mut m = manifest("search", AT, listed);
    m["files"][0]["bytes"] = (CLEAN.len() + 1).into();
    let mut z = RawZip::new();
    z.add(
        &entry("manifest.json"),
        &deflated(&serde_json::to_vec(&m).unwrap()),
    );
    z.add(&entry("logs/a.log"), &deflated(CLEAN));
    let b = dir.path().join("size.zip");
    fs::write(&b, z.finish()).unwrap();
    let out = dir.path().join("out-size");
    let r = extract_to(&b, &out);
    assert_eq!(r.code, 1, "extracted: {}", r.stdout);
    assert!(r.stderr.contains("logs/a.log"), "{}", r.stderr);
    assert_nothing_extracted(&out);

    // And the matching bundle still extracts.
    let b = bundle(dir.path(), "good.zip", listed, listed);
    let out = dir.path().join("out-good");
    let r = extract_to(&b, &out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(out.join("logs/a.log")).unwrap(), CLEAN);
}

// 4. Extracted files hold customer data: owner-only whatever the umask.
#[cfg(unix)]
#[test]
fn extracted_files_are_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[("logs/a.log", CLEAN), ("config/deep/site.json", b"{}")];
    let b = bundle(dir.path(), "b.zip", files, files);
    let out = dir.path().join("parent/out");
    let r = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; exec "$0" inspect "$1" --extract "$2""#)
        .arg(env!("CARGO_BIN_EXE_sg-debug"))
        .arg(&b)
        .arg(&out)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut seen = 0;
    let mut stack = vec![out.clone()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            assert_eq!(mode, 0o600, "{}", p.display());
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "manifest.json and two files");
}

/// Deterministic bytes that deflate poorly, for manifests that must not
/// be refused merely for their compression ratio.
fn noise_hex(len: usize) -> String {
    let mut state: u64 = 7;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            char::from(b"0123456789abcdef"[(state >> 60) as usize])
        })
        .collect()
}

fn with_manifest(dir: &Path, name: &str, body: &[u8], how: fn(&[u8]) -> Data) -> PathBuf {
    let mut z = RawZip::new();
    z.add(&entry("manifest.json"), &how(body));
    let p = dir.join(name);
    fs::write(&p, z.finish()).unwrap();
    p
}

// 5. A manifest tens of MiB long is refused before it is parsed, and one
// made of millions of tiny values is refused before serde_json builds
// them (a 65 KB bundle once took 1.45 GB of memory this way).
#[test]
fn huge_manifests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = manifest("search", AT, &[]);
    m["options"]["padding"] = noise_hex(48 << 20).into();
    let b = with_manifest(
        dir.path(),
        "long.zip",
        &serde_json::to_vec(&m).unwrap(),
        stored,
    );
    assert_refused(&b, "manifest.json");
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert!(r.stderr.contains("zip bomb"), "{}", r.stderr);

    let mut body = serde_json::to_vec(&manifest("search", AT, &[])).unwrap();
    body.pop(); // the closing brace
    body.extend_from_slice(b",\"options\":{\"x\":[0");
    for _ in 0..5_000_000 {
        body.extend_from_slice(b",0");
    }
    body.extend_from_slice(b"]}}");
    let b = with_manifest(dir.path(), "many.zip", &body, stored);
    assert_refused(&b, "manifest.json is malformed");
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert!(r.stderr.contains("values"), "{}", r.stderr);
}

// 6. Verifying is linear in the number of entries (it was quadratic: 9 s
// at 100,000). No timing here; this only keeps a large bundle working.
#[test]
fn verify_handles_fifty_thousand_entries() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..50_000).map(|i| format!("logs/{i:05}.log")).collect();
    let bodies: Vec<Vec<u8>> = (0..50_000).map(|i| format!("{i}\n").into_bytes()).collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&bodies)
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let mut z = RawZip::new();
    z.add(&entry("manifest.json"), &stored(&manifest_bytes(&files)));
    for (n, b) in &files {
        z.add(&entry(n), &stored(b));
    }
    let p = dir.path().join("many.zip");
    fs::write(&p, z.finish()).unwrap();
    let mut b = sg_debug::bundle::Bundle::open(&p).unwrap();
    let v = b.verify();
    assert_eq!(v.problems, Vec::<String>::new());
    assert_eq!(v.checked, 50_000);
}

// 7. Sizes are summed with checked arithmetic: a manifest whose sizes add
// past u64 is refused (it made `inspect` panic), and so is an entry
// declaring u64::MAX bytes.
#[test]
fn sizes_that_overflow_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let listed: &[(&str, &[u8])] = &[("logs/a.log", CLEAN), ("logs/b.log", CLEAN)];
    let mut m = manifest("search", AT, listed);
    m["files"][0]["bytes"] = u64::MAX.into();
    m["files"][1]["bytes"] = u64::MAX.into();
    let mut z = RawZip::new();
    z.add(
        &entry("manifest.json"),
        &deflated(&serde_json::to_vec(&m).unwrap()),
    );
    z.add(&entry("logs/a.log"), &deflated(CLEAN));
    z.add(&entry("logs/b.log"), &deflated(CLEAN));
    let b = dir.path().join("sum.zip");
    fs::write(&b, z.finish()).unwrap();
    assert_refused(&b, "manifest.json is malformed");

    let mut m = manifest("search", AT, &[]);
    m["files"] = serde_json::json!([{"path": "logs/a.log", "bytes": 1, "sha256": "",
        "kind": "log", "collector": "test",
        "redactions": {"a": u64::MAX, "b": u64::MAX}}]);
    let b = with_manifest(
        dir.path(),
        "counts.zip",
        &serde_json::to_vec(&m).unwrap(),
        deflated,
    );
    assert_refused(&b, "manifest.json is malformed");

    let mut z = RawZip::new();
    z.add(&entry("manifest.json"), &deflated(&manifest_bytes(&[])));
    let mut huge = deflated(CLEAN);
    huge.size = u64::MAX;
    z.add(&entry("logs/a.log"), &huge);
    let b = dir.path().join("u64max.zip");
    fs::write(&b, z.finish()).unwrap();
    assert_refused(&b, "zip bomb");
}

// 8. A malformed manifest is reported by position and kind, never by
// quoting it: the text may be a secret.
#[test]
fn manifest_errors_never_quote_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "SECRETVALUE123";
    let base = manifest("search", AT, &[("logs/a.log", CLEAN)]);
    let mut cases: Vec<(&str, serde_json::Value)> = Vec::new();
    for (field, at) in [
        ("complete", &["complete"][..]),
        ("created", &["created_at"][..]),
        ("kind", &["files", "0", "kind"][..]),
        ("bytes", &["files", "0", "bytes"][..]),
        ("type", &["deployment", "type"][..]),
        ("version", &["format_version"][..]),
    ] {
        let mut m = base.clone();
        let mut v = &mut m;
        for k in at {
            v = match k.parse::<usize>() {
                Ok(i) => &mut v[i],
                Err(_) => &mut v[*k],
            };
        }
        *v = secret.into();
        cases.push((field, m));
    }
    for (name, m) in cases {
        let b = with_manifest(
            dir.path(),
            &format!("{name}.zip"),
            &serde_json::to_vec_pretty(&m).unwrap(),
            deflated,
        );
        for extra in [&[][..], &["--json"][..], &["--verify"][..]] {
            let mut args = vec!["inspect", b.to_str().unwrap()];
            args.extend_from_slice(extra);
            let r = sg(&args, dir.path());
            assert_eq!(r.code, 1, "{name}: accepted");
            assert!(
                r.stderr.contains("manifest.json is malformed"),
                "{name}: {}",
                r.stderr
            );
            // format_version is checked on its own, before the full parse.
            if name != "version" {
                assert!(r.stderr.contains("line "), "{name}: {}", r.stderr);
            }
            assert!(
                !r.stderr.contains(secret) && !r.stdout.contains(secret),
                "{name} quoted the manifest: {}",
                r.stderr
            );
        }
    }
    // Syntax errors, too, say where and not what.
    let b = with_manifest(
        dir.path(),
        "syntax.zip",
        format!("{{\"format_version\": 1, \"note\": \"{secret}\" oops}}").as_bytes(),
        deflated,
    );
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not JSON"), "{}", r.stderr);
    assert!(r.stderr.contains("line 1 column"), "{}", r.stderr);
    assert!(!r.stderr.contains(secret), "{}", r.stderr);
}

// 9. format_version that is negative or beyond any format gets an error
// saying so (a negative number was called "not a whole number", and
// 4294967296 asked to upgrade sg-debug to a format that cannot exist).
#[test]
fn odd_format_versions_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("negative", "-1", "negative"),
        ("hugenegative", "-99999999999999999999", "negative"),
        ("pastu32", "4294967296", "out of range"),
        ("pastu64", "18446744073709551616", "out of range"),
        ("float", "1e300", "out of range"),
        ("fraction", "1.5", "not a whole number"),
        ("string", "\"1\"", "not a number"),
    ];
    for (i, (name, version, needle)) in cases.iter().enumerate() {
        let body = format!("{{\"format_version\": {version}, \"tool\": {{}}}}");
        // Numbered, so the file name in the message cannot match a needle.
        let b = with_manifest(dir.path(), &format!("{i}.zip"), body.as_bytes(), deflated);
        let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
        assert_eq!(r.code, 1, "{name}: accepted");
        assert!(r.stderr.contains("format_version"), "{name}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("upgrade"), "{name}: {}", r.stderr);
    }
}
