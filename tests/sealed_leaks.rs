//! Nothing unredacted reaches disk or the terminal, even when a file
//! cannot be parsed: parser errors say where and what, never quote the
//! text, and the manifest is redacted after its last field is filled.

mod support;

use std::io::Read;
use std::path::Path;

use support::{manifest, sg, write_bundle};

const JSON_SECRET: &str = "abc123secretvalueJSON";
const JSONC_SECRET: &str = "abc123secretvalueJSONC";
const YAML_SECRET: &str = "abc123secretvalueYAML";

/// Three files the structured pass must refuse, each with a secret where
/// the parser stops.
fn malformed() -> Vec<(&'static str, String)> {
    vec![
        ("bad.json", format!("{{\"token\": {JSON_SECRET}}}\n")),
        (
            "bad.jsonc",
            format!("{{\n  // the site configuration\n  \"token\": {JSONC_SECRET},\n}}\n"),
        ),
        (
            "bad.yaml",
            format!("password: {YAML_SECRET}\n  - nested: [unclosed\nother: value\n"),
        ),
    ]
}

const SECRETS: [&str; 3] = [JSON_SECRET, JSONC_SECRET, YAML_SECRET];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} reached {what}:\n{text}");
    }
}

/// Every byte of every file below `dir`, and of every zip entry.
fn all_output(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in support::files_below(dir) {
        let bytes = std::fs::read(&p).unwrap();
        if p.extension().is_some_and(|x| x == "zip") {
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
            for i in 0..zip.len() {
                let mut f = zip.by_index(i).unwrap();
                let mut body = String::new();
                f.read_to_string(&mut body).unwrap();
                out.push((format!("{}:{}", p.display(), f.name().unwrap()), body));
            }
        }
        out.push((
            p.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    out
}

fn check_run(what: &str, r: &support::Run, out_dir: &Path) {
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    assert_clean(&format!("{what}: stderr"), &r.stderr);
    assert_clean(&format!("{what}: stdout"), &r.stdout);
    assert!(
        r.stderr.contains("structured redaction not possible"),
        "{what}: the fallback is still reported: {}",
        r.stderr
    );
    let files = all_output(out_dir);
    assert!(!files.is_empty());
    for (path, body) in files {
        assert_clean(&path, &body);
    }
}

#[test]
fn a_secret_in_a_malformed_file_reaches_no_output_no_manifest_and_no_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for (name, body) in malformed() {
        std::fs::write(input.join(name), body).unwrap();
    }

    // One file at a time.
    for (name, _) in malformed() {
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join(format!("{name}.out"));
        let r = sg(
            &[
                "redact",
                input.join(name).to_str().unwrap(),
                "-o",
                dest.to_str().unwrap(),
            ],
            dir.path(),
        );
        check_run(&format!("redact {name}"), &r, out.path());
        let written = std::fs::read_to_string(&dest).unwrap();
        assert!(written.contains("[REDACTED:"), "{written}");
        assert_eq!(
            written.lines().count(),
            std::fs::read_to_string(input.join(name))
                .unwrap()
                .lines()
                .count(),
            "the line pass keeps every line"
        );
    }

    // A directory.
    let out = tempfile::tempdir().unwrap();
    let r = sg(
        &[
            "redact",
            input.to_str().unwrap(),
            "-o",
            out.path().join("dir").to_str().unwrap(),
        ],
        dir.path(),
    );
    check_run("redact DIR", &r, out.path());

    // A bundle that holds them (as one sent by an older sg-debug might).
    let files: Vec<(String, Vec<u8>)> = malformed()
        .into_iter()
        .map(|(n, b)| (format!("config/{n}"), b.into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let m = manifest("database", "2026-11-25T04:05:06Z", &refs);
    let bundle = dir.path().join("in.zip");
    write_bundle(&bundle, "sg-debug-database-20261125T040506Z", &m, &refs);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("out.zip");
    let r = sg(
        &[
            "redact",
            bundle.to_str().unwrap(),
            "-o",
            dest.to_str().unwrap(),
        ],
        dir.path(),
    );
    check_run("redact BUNDLE", &r, out.path());
    // The notes are in the manifest, position and kind only.
    let r = sg(&["inspect", dest.to_str().unwrap(), "--json"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("invalid value at line 1"), "{}", r.stdout);
    assert!(
        r.stdout.contains("YAML syntax error at line"),
        "{}",
        r.stdout
    );
    assert_clean("the manifest", &r.stdout);
}
