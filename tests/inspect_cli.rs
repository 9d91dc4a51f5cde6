//! `sg-debug inspect` on good, tampered, broken and hostile bundles.

mod support;

use std::fs;

use support::*;

const TOP: &str = "sg-debug-search-20261125T040506Z";
const LOG: &[u8] = b"2026-11-25T04:00:00Z ERROR zoekt: shard corrupt\n";
const CONF: &[u8] = b"{\"externalURL\": \"https://sg.example.com\"}\n";

fn good(dir: &std::path::Path) -> std::path::PathBuf {
    let files: &[(&str, &[u8])] = &[("config/site.json", CONF), ("logs/zoekt.log", LOG)];
    let path = dir.join("good.zip");
    write_bundle(
        &path,
        TOP,
        &manifest("search", "2026-11-25T04:05:06Z", files),
        files,
    );
    path
}

#[test]
fn summary_json_list_and_cat() {
    let dir = tempfile::tempdir().unwrap();
    let b = good(dir.path());
    let b = b.to_str().unwrap();

    let r = sg(&["inspect", b], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Incident    search"), "{}", r.stdout);
    assert!(r.stdout.contains("Files       2 files"), "{}", r.stdout);
    assert!(r.stdout.contains("config         1 files"), "{}", r.stdout);

    let r = sg(&["inspect", b, "--json"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["manifest"]["incident"]["category"], "search");
    assert_eq!(v["derived"]["files"], 2);
    assert_eq!(v["derived"]["bytes"], (LOG.len() + CONF.len()) as u64);
    assert_eq!(v["derived"]["by_kind"]["log"]["files"], 1);
    assert_eq!(
        v["derived"]["by_kind"]["config"]["bytes"],
        CONF.len() as u64
    );

    let r = sg(&["inspect", b, "--list"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<&str> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(
        names,
        ["manifest.json", "config/site.json", "logs/zoekt.log"]
    );
    assert!(
        r.stdout
            .contains(&format!("{}  log       logs/zoekt.log", LOG.len())),
        "{}",
        r.stdout
    );

    let r = sg(&["inspect", b, "--cat", "logs/zoekt.log"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.as_bytes(), LOG);

    let r = sg(&["inspect", b, "--verify"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("OK, 2 files match"), "{}", r.stdout);
}

#[test]
fn cat_of_a_missing_path_names_it_and_suggests_list() {
    let dir = tempfile::tempdir().unwrap();
    let b = good(dir.path());
    let r = sg(
        &["inspect", b.to_str().unwrap(), "--cat", "logs/nope.log"],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("has no entry 'logs/nope.log'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--list"), "{}", r.stderr);
}

#[test]
fn verify_names_every_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let listed: &[(&str, &[u8])] = &[("config/site.json", CONF), ("logs/zoekt.log", LOG)];
    let m = manifest("search", "2026-11-25T04:05:06Z", listed);
    let tampered: &[(&str, &[u8])] = &[
        ("config/site.json", CONF),
        ("logs/zoekt.log", b"2026-11-25T04:00:00Z INFO all good\n"),
        ("extra.txt", b"smuggled"),
    ];
    let path = dir.path().join("t.zip");
    write_bundle(&path, TOP, &m, tampered);
    let r = sg(&["inspect", path.to_str().unwrap(), "--verify"], dir.path());
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("MISMATCH logs/zoekt.log: size"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("MISMATCH logs/zoekt.log: SHA-256"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("extra.txt: present but not listed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("config/site.json"), "{}", r.stderr);

    // Missing entries are named too.
    let path = dir.path().join("m.zip");
    write_bundle(&path, TOP, &m, &listed[..1]);
    let r = sg(&["inspect", path.to_str().unwrap(), "--verify"], dir.path());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("logs/zoekt.log: listed in the manifest but missing"),
        "{}",
        r.stderr
    );
}

#[test]
fn extract_unpacks_and_refuses_existing_targets() {
    let dir = tempfile::tempdir().unwrap();
    let b = good(dir.path());
    let out = dir.path().join("out");
    let r = sg(
        &[
            "inspect",
            b.to_str().unwrap(),
            "--extract",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(out.join("logs/zoekt.log")).unwrap(), LOG);
    assert_eq!(fs::read(out.join("config/site.json")).unwrap(), CONF);
    assert!(out.join("manifest.json").is_file());

    let r = sg(
        &[
            "inspect",
            b.to_str().unwrap(),
            "--extract",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("already exists; name a new directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn extract_of_a_tampered_bundle_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let listed: &[(&str, &[u8])] = &[("logs/zoekt.log", LOG)];
    let path = dir.path().join("t.zip");
    write_bundle(
        &path,
        TOP,
        &manifest("search", "2026-11-25T04:05:06Z", listed),
        &[("logs/zoekt.log", b"changed")],
    );
    let out = dir.path().join("out");
    let r = sg(
        &[
            "inspect",
            path.to_str().unwrap(),
            "--extract",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("does not match its SHA-256"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    assert!(!dir.path().join("out.partial").exists());
}

fn expect_error(path: &std::path::Path, needle: &str) {
    let dir = path.parent().unwrap();
    for extra in [&[][..], &["--list"][..], &["--verify"][..]] {
        let mut args = vec!["inspect", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = sg(&args, dir);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(
            r.stderr.contains(path.to_str().unwrap()),
            "names the bundle: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(needle),
            "wanted {needle:?} in: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

#[test]
fn not_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.zip");
    fs::write(&p, "these are my notes, not a zip").unwrap();
    expect_error(&p, "is not a readable zip archive");
}

#[test]
fn missing_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    expect_error(&dir.path().join("nope.zip"), "cannot open bundle");
    let d = dir.path().join("adir");
    fs::create_dir(&d).unwrap();
    expect_error(&d, "it is a directory");
}

#[test]
fn truncated_zip() {
    let dir = tempfile::tempdir().unwrap();
    let b = good(dir.path());
    let bytes = fs::read(&b).unwrap();
    let p = dir.path().join("cut.zip");
    fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    expect_error(&p, "may be truncated");
}

#[test]
fn missing_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nomanifest.zip");
    write_zip(&p, &[(&format!("{TOP}/logs/a.log"), LOG)]);
    expect_error(&p, "is not an sg-debug bundle: it has no");
}

#[test]
fn malformed_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "notjson",
            b"{ this is not json",
            "manifest.json is malformed: not JSON",
        ),
        ("noversion", b"{\"tool\": {}}", "no format_version field"),
        (
            "badshape",
            b"{\"format_version\": 1, \"tool\": 3}",
            "manifest.json is malformed",
        ),
        (
            "zero",
            b"{\"format_version\": 0}",
            "format_version 0 does not exist",
        ),
    ];
    for (name, body, needle) in cases {
        let p = dir.path().join(format!("{name}.zip"));
        write_zip(&p, &[(&format!("{TOP}/manifest.json"), body)]);
        expect_error(&p, needle);
    }
}

#[test]
fn newer_format_says_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = manifest("search", "2026-11-25T04:05:06Z", &[]);
    m["format_version"] = 2.into();
    let p = dir.path().join("future.zip");
    write_bundle(&p, TOP, &m, &[]);
    expect_error(&p, "uses bundle format 2");
    let r = sg(&["inspect", p.to_str().unwrap()], dir.path());
    assert!(r.stderr.contains("upgrade sg-debug"), "{}", r.stderr);
}

#[test]
fn unsafe_entry_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = serde_json::to_vec(&manifest("search", "2026-11-25T04:05:06Z", &[])).unwrap();
    let cases = [
        ("abs", "/etc/cron.d/evil", "absolute path"),
        ("dotdot", "sg-debug-x/../../evil", "'..' segment"),
        ("backslash", "sg-debug-x\\..\\evil", "backslash"),
        (
            "othertop",
            "elsewhere/evil",
            "outside the bundle's top folder",
        ),
    ];
    for (name, evil, needle) in cases {
        let p = dir.path().join(format!("{name}.zip"));
        write_zip(&p, &[("sg-debug-x/manifest.json", &m), (evil, b"pwned")]);
        expect_error(&p, needle);
        // --extract refuses before writing anything anywhere.
        let out = dir.path().join(format!("out-{name}"));
        let r = sg(
            &[
                "inspect",
                p.to_str().unwrap(),
                "--extract",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_eq!(r.code, 1);
        assert!(!out.exists());
    }
    assert!(!dir.path().join("evil").exists());
    assert!(!std::path::Path::new("/etc/cron.d/evil").exists());
}

#[test]
fn zip_bomb_by_ratio_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 64 << 20];
    let files: &[(&str, &[u8])] = &[("logs/bomb.log", &zeros)];
    let p = dir.path().join("bomb.zip");
    write_bundle(
        &p,
        TOP,
        &manifest("search", "2026-11-25T04:05:06Z", files),
        files,
    );
    expect_error(&p, "refusing it as a possible zip bomb");
}

/// Rewrites the uncompressed-size fields of every local and central header
/// in a small zip, the way a crafted archive lies about its contents.
fn patch_sizes(bytes: &mut [u8], entry_name: &str, new_size: u32) {
    let name = entry_name.as_bytes();
    let mut i = 0;
    while i + 46 < bytes.len() {
        let sig = u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        let (size_at, name_len_at, name_at) = match sig {
            0x04034b50 => (22, 26, 30),
            0x02014b50 => (24, 28, 46),
            _ => {
                i += 1;
                continue;
            }
        };
        let n = u16::from_le_bytes(
            bytes[i + name_len_at..i + name_len_at + 2]
                .try_into()
                .unwrap(),
        ) as usize;
        if bytes.get(i + name_at..i + name_at + n) == Some(name) {
            bytes[i + size_at..i + size_at + 4].copy_from_slice(&new_size.to_le_bytes());
        }
        i += 4;
    }
}

#[test]
fn entry_larger_than_declared_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![b'a'; 4096];
    let files: &[(&str, &[u8])] = &[("logs/a.log", &big)];
    let p = dir.path().join("liar.zip");
    write_bundle(
        &p,
        TOP,
        &manifest("search", "2026-11-25T04:05:06Z", files),
        files,
    );
    let mut bytes = fs::read(&p).unwrap();
    patch_sizes(&mut bytes, &format!("{TOP}/logs/a.log"), 100);
    fs::write(&p, &bytes).unwrap();
    let r = sg(
        &["inspect", p.to_str().unwrap(), "--cat", "logs/a.log"],
        dir.path(),
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("logs/a.log"), "{}", r.stderr);
    assert!(r.stdout.len() <= 101, "wrote {} bytes", r.stdout.len());
    let r = sg(&["inspect", p.to_str().unwrap(), "--verify"], dir.path());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("MISMATCH logs/a.log"), "{}", r.stderr);
}

#[test]
fn huge_declared_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[("logs/a.log", LOG)];
    let p = dir.path().join("huge.zip");
    write_bundle(
        &p,
        TOP,
        &manifest("search", "2026-11-25T04:05:06Z", files),
        files,
    );
    let mut bytes = fs::read(&p).unwrap();
    patch_sizes(&mut bytes, &format!("{TOP}/logs/a.log"), u32::MAX - 1);
    fs::write(&p, &bytes).unwrap();
    expect_error(&p, "zip bomb");
}

#[test]
fn inspect_actions_are_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let b = good(dir.path());
    let r = sg(
        &["inspect", b.to_str().unwrap(), "--list", "--verify"],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
}
