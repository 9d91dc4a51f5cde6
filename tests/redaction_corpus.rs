//! The redaction corpus: realistic Sourcegraph files with planted secrets
//! (`testdata/redaction/corpus`) and their ground truth
//! (`testdata/redaction/ground-truth.json`), run through the real binary.
//! Every planted secret must be gone from every output file, every listed
//! identifier must survive in its file, structured files must keep their
//! shape, and a second pass must change nothing.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use support::*;

#[derive(Debug, Deserialize)]
struct GroundTruth {
    secrets: Vec<Secret>,
    must_survive: Vec<Survivor>,
}

#[derive(Debug, Deserialize)]
struct Secret {
    file: String,
    value: String,
    what: String,
}

#[derive(Debug, Deserialize)]
struct Survivor {
    file: String,
    value: String,
}

static MARKER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[REDACTED:([a-z0-9-]+):([0-9a-f]{8})\]").unwrap());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/redaction")
}

fn corpus() -> PathBuf {
    root().join("corpus")
}

fn ground_truth() -> GroundTruth {
    let text = fs::read_to_string(root().join("ground-truth.json")).unwrap();
    serde_json::from_str(&text).expect("ground-truth.json parses")
}

/// Every regular file below `dir`, by '/'-separated relative path.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(rel, fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `sg-debug redact INPUT -o <tmp>/<name>`; the output tree.
fn redact(input: &Path, tmp: &Path, name: &str) -> (BTreeMap<String, String>, Run) {
    let r = sg(&["redact", input.to_str().unwrap(), "-o", name], tmp);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    (tree(&tmp.join(name)), r)
}

/// JSONC -> JSON: comments and trailing commas out, strings untouched.
fn strip_jsonc(src: &str) -> String {
    let b = src.as_bytes();
    let mut no_comments = Vec::with_capacity(b.len());
    let (mut i, mut in_str) = (0, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            no_comments.push(c);
            if c == b'\\' && i + 1 < b.len() {
                no_comments.push(b[i + 1]);
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let end = src[i + 2..].find("*/").expect("closed comment");
            i += end + 4;
        } else {
            in_str = c == b'"';
            no_comments.push(c);
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(no_comments.len());
    let (mut i, mut in_str) = (0, false);
    while i < no_comments.len() {
        let c = no_comments[i];
        if in_str {
            if c == b'\\' {
                out.push(c);
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b',' {
            let next = no_comments[i + 1..]
                .iter()
                .find(|x| !x.is_ascii_whitespace());
            if matches!(next, Some(b'}' | b']')) {
                i += 1;
                continue;
            }
        }
        out.push(no_comments[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The documents of a structured file, or `None` for other files.
fn parse(path: &str, text: &str) -> Option<Result<Vec<Value>, String>> {
    let ext = path.rsplit_once('.').map(|x| x.1).unwrap_or_default();
    Some(match ext {
        "json" => serde_json::from_str(text)
            .map(|v| vec![v])
            .map_err(|e| e.to_string()),
        "jsonc" => serde_json::from_str(&strip_jsonc(text))
            .map(|v| vec![v])
            .map_err(|e| e.to_string()),
        "yaml" | "yml" => serde_saphyr::from_multiple(text).map_err(|e| e.to_string()),
        _ => return None,
    })
}

/// Same keys, same lengths, same nesting; a scalar may only change into a
/// string holding a marker.
fn same_shape(input: &Value, output: &Value, at: &str, problems: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            if ka != kb {
                problems.push(format!("{at}: keys {ka:?} became {kb:?}"));
                return;
            }
            for (k, v) in a {
                same_shape(v, &b[k], &format!("{at}.{k}"), problems);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                problems.push(format!("{at}: {} items became {}", a.len(), b.len()));
                return;
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same_shape(x, y, &format!("{at}[{i}]"), problems);
            }
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => {
            problems.push(format!("{at}: {input} became {output}"));
        }
        (a, b) if a == b => {}
        (_, Value::String(s)) if MARKER.is_match(s) => {}
        (a, b) => problems.push(format!("{at}: {a} became {b} without a marker")),
    }
}

#[test]
fn ground_truth_is_sane() {
    let gt = ground_truth();
    let inputs = tree(&corpus());
    assert!(gt.secrets.len() >= 100, "{} secrets", gt.secrets.len());
    assert!(
        gt.must_survive.len() >= 100,
        "{} survivors",
        gt.must_survive.len()
    );
    let mut seen = BTreeSet::new();
    for s in &gt.secrets {
        let text = inputs
            .get(&s.file)
            .unwrap_or_else(|| panic!("secret in unknown file {}", s.file));
        assert!(
            text.contains(&s.value),
            "{}: secret {:?} ({}) is not in the input",
            s.file,
            s.value,
            s.what
        );
        assert!(!s.what.trim().is_empty(), "{:?} says nothing", s.value);
        // Long enough that "absent from every output file" means something.
        assert!(s.value.len() >= 8, "{}: {:?} is too short", s.file, s.value);
        assert!(
            seen.insert((&s.file, &s.value)),
            "{}: {:?} twice",
            s.file,
            s.value
        );
    }
    for m in &gt.must_survive {
        let text = inputs
            .get(&m.file)
            .unwrap_or_else(|| panic!("survivor in unknown file {}", m.file));
        assert!(
            text.contains(&m.value),
            "{}: survivor {:?} is not in the input",
            m.file,
            m.value
        );
        // A survivor that holds a secret could never pass.
        for s in &gt.secrets {
            assert!(
                !m.value.contains(&s.value),
                "{}: survivor {:?} contains secret {:?}",
                m.file,
                m.value,
                s.value
            );
        }
    }
    // Every corpus file is accounted for, and the secrets are not all in
    // one place.
    let named: BTreeSet<&str> = gt
        .secrets
        .iter()
        .map(|s| s.file.as_str())
        .chain(gt.must_survive.iter().map(|m| m.file.as_str()))
        .collect();
    for f in inputs.keys() {
        assert!(named.contains(f.as_str()), "{f} has no ground truth");
    }
    let with_secrets: BTreeSet<&str> = gt.secrets.iter().map(|s| s.file.as_str()).collect();
    assert!(with_secrets.len() >= 20, "{with_secrets:?}");
    // The inputs really are what they claim: structured files parse.
    for (path, text) in &inputs {
        if let Some(parsed) = parse(path, text) {
            parsed.unwrap_or_else(|e| panic!("input {path} does not parse: {e}"));
        }
    }
}

#[test]
fn secrets_gone_survivors_kept_structure_intact() {
    let gt = ground_truth();
    let tmp = tempfile::tempdir().unwrap();
    let (out, run) = redact(&corpus(), tmp.path(), "out");
    let inputs = tree(&corpus());
    assert_eq!(
        inputs.keys().collect::<Vec<_>>(),
        out.keys().collect::<Vec<_>>(),
        "every file is kept"
    );
    // No fallback to the line pass, nothing left out.
    assert!(
        !run.stderr.contains("left out") && !run.stderr.contains("note:"),
        "{}",
        run.stderr
    );

    let mut leaks = Vec::new();
    for s in &gt.secrets {
        for (path, text) in &out {
            if text.contains(&s.value) {
                leaks.push(format!(
                    "{path}: {} (planted in {}): {:?}",
                    s.what, s.file, s.value
                ));
            }
        }
    }
    let mut lost = Vec::new();
    for m in &gt.must_survive {
        if !out[&m.file].contains(&m.value) {
            lost.push(format!("{}: {:?}", m.file, m.value));
        }
    }
    assert!(
        leaks.is_empty() && lost.is_empty(),
        "{} leaked:\n{}\n{} lost:\n{}",
        leaks.len(),
        leaks.join("\n"),
        lost.len(),
        lost.join("\n")
    );

    let mut structured = 0;
    for (path, text) in &out {
        let Some(after) = parse(path, text) else {
            continue;
        };
        structured += 1;
        let after = after.unwrap_or_else(|e| panic!("output {path} no longer parses: {e}"));
        let before = parse(path, &inputs[path]).unwrap().unwrap();
        assert_eq!(before.len(), after.len(), "{path}: documents");
        let mut problems = Vec::new();
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            same_shape(a, b, &format!("{path}#{i}"), &mut problems);
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
    assert!(structured >= 15, "{structured} structured files");

    // Comments of JSONC and YAML survive the structured pass.
    assert!(out["site-config.jsonc"].contains("// Legacy completions block"));
    assert!(out["helm-values.yaml"].contains("# created outside the helm chart"));

    // A Kubernetes Secret keeps its key names and value sizes.
    let secret = &out["k8s/secret.yaml"];
    for (key, size) in [
        ("password", 22),
        ("port", 4),
        ("tls.key", 258),
        ("smtp-password", 31),
    ] {
        let re = Regex::new(&format!(
            r#"\n  {}: "\[REDACTED:kubernetes-secret:[0-9a-f]{{8}}\] \({size} bytes\)"\n"#,
            regex::escape(key)
        ))
        .unwrap();
        assert!(re.is_match(secret), "{key} ({size} bytes):\n{secret}");
    }
}

#[test]
fn redacting_the_output_again_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (once, _) = redact(&corpus(), tmp.path(), "once");
    let (twice, run) = redact(&tmp.path().join("once"), tmp.path(), "twice");
    assert!(
        run.stdout.contains("\n0 replacement(s)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(
        once.keys().collect::<Vec<_>>(),
        twice.keys().collect::<Vec<_>>()
    );
    for (path, text) in &once {
        assert!(text == &twice[path], "{path} changed on a second pass");
    }
}

/// The marker that replaced the value after `anchor` (skipping a quote).
fn marker_after(tree: &BTreeMap<String, String>, file: &str, anchor: &str) -> String {
    let text = &tree[file];
    let at = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor:?} not in {file}"))
        + anchor.len();
    let rest = text[at..].trim_start_matches(['"', '\'']);
    let m = MARKER
        .find(rest)
        .filter(|m| m.start() == 0)
        .unwrap_or_else(|| panic!("no marker after {anchor:?} in {file}: {:.80}", rest));
    m.as_str().to_string()
}

#[test]
fn markers_match_within_a_run_and_differ_across_runs() {
    // Each group: one secret, in several files, redacted by the same rule.
    let groups: &[&[(&str, &str)]] = &[
        &[
            ("docker-inspect.json", "\"PGPASSWORD="),
            ("docker-compose/.env", "\nPGPASSWORD="),
        ],
        &[
            ("site-config.jsonc", "\"executors.accessToken\": "),
            ("docker-inspect.json", "\"EXECUTOR_FRONTEND_PASSWORD="),
            (
                "helm-values.yaml",
                "EXECUTOR_FRONTEND_PASSWORD:\n      value: ",
            ),
        ],
        &[
            ("external-services/gitlab.json", "\"secret\": "),
            ("logs/frontend.log", "X-Gitlab-Token: "),
        ],
        &[
            ("external-services/github.json", "\"token\": "),
            ("docker-inspect.json", "\"GITHUB_TOKEN="),
        ],
        &[
            ("site-config.jsonc", "\"licenseKey\": "),
            ("docker-compose/.env", "SRC_LICENSE_KEY="),
        ],
        &[
            ("external-services/aws-codecommit.json", "\"accessKeyID\": "),
            ("docker-inspect.json", "\"AWS_ACCESS_KEY_ID="),
        ],
    ];
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = redact(&corpus(), tmp.path(), "a");
    let (b, _) = redact(&corpus(), tmp.path(), "b");
    let mut firsts = BTreeSet::new();
    for group in groups {
        let in_a: Vec<String> = group.iter().map(|(f, x)| marker_after(&a, f, x)).collect();
        let in_b: Vec<String> = group.iter().map(|(f, x)| marker_after(&b, f, x)).collect();
        assert!(
            in_a.iter().all(|m| m == &in_a[0]),
            "one secret, one marker in a run: {group:?} -> {in_a:?}"
        );
        assert!(in_b.iter().all(|m| m == &in_b[0]), "{group:?} -> {in_b:?}");
        let (ra, rb) = (
            &MARKER.captures(&in_a[0]).unwrap(),
            &MARKER.captures(&in_b[0]).unwrap(),
        );
        assert_eq!(ra[1], rb[1], "same rule in both runs");
        assert_ne!(ra[2], rb[2], "markers mean nothing across runs: {group:?}");
        // Different secrets, different markers.
        assert!(
            firsts.insert(in_a[0].clone()),
            "{group:?} shares {}",
            in_a[0]
        );
    }
    assert_ne!(
        marker_after(&a, "docker-inspect.json", "\"PGPASSWORD="),
        marker_after(&a, "docker-inspect.json", "\"CODEINTEL_PGPASSWORD=")
    );
    // Files without secrets are the same in both runs; files with them differ.
    assert_eq!(a["logs/gitserver.log"], b["logs/gitserver.log"]);
    assert_ne!(a["logs/frontend.log"], b["logs/frontend.log"]);
}
