//! The redaction corpus: realistic Sourcegraph files with planted secrets
//! (`testdata/redaction/corpus`) and their ground truth
//! (`testdata/redaction/ground-truth.json`), run through the real binary.
//! Every planted secret must be gone from every output file, every listed
//! identifier must survive in its file, structured files must keep their
//! shape and every file its line count, and a second pass must change
//! nothing. Recall and precision are measured per rule family
//! (`cargo test --test redaction_corpus -- --nocapture` prints them).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::ops::Range;
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
    families: Vec<Family>,
}

#[derive(Debug, Deserialize)]
struct Secret {
    file: String,
    value: String,
    what: String,
    /// The rule family meant to catch it.
    family: String,
}

/// Rules grouped for the recall and precision report.
#[derive(Debug, Deserialize)]
struct Family {
    family: String,
    /// Rule ids; one ending in `-` names every id it starts.
    rules: Vec<String>,
    /// The share of this family's markers that must cover a planted secret.
    precision_floor: f64,
}

impl GroundTruth {
    fn family_of_rule(&self, rule: &str) -> Option<&str> {
        self.families
            .iter()
            .find(|f| {
                f.rules
                    .iter()
                    .any(|r| r == rule || (r.ends_with('-') && rule.starts_with(r.as_str())))
            })
            .map(|f| f.family.as_str())
    }
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
    // Families: every secret names one, every rule is in exactly one.
    let families: BTreeSet<&str> = gt.families.iter().map(|f| f.family.as_str()).collect();
    assert_eq!(families.len(), gt.families.len(), "a family twice");
    for s in &gt.secrets {
        assert!(
            families.contains(s.family.as_str()),
            "{}: {:?} names family {:?}, not one of {families:?}",
            s.file,
            s.value,
            s.family
        );
    }
    for f in &gt.families {
        assert!((0.0..=1.0).contains(&f.precision_floor), "{}", f.family);
    }
    // Every rule that can write a marker is in exactly one family.
    let tmp = tempfile::tempdir().unwrap();
    let rules = sg(&["redact", "--list-rules"], tmp.path());
    let mut listed = 0;
    for line in rules.stdout.lines().filter(|l| !l.starts_with(' ')) {
        let mut words = line.split_whitespace();
        let (Some(id), Some("regex" | "key")) = (words.next(), words.next()) else {
            continue;
        };
        listed += 1;
        let n = gt
            .families
            .iter()
            .filter(|f| {
                f.rules
                    .iter()
                    .any(|r| r == id || (r.ends_with('-') && id.starts_with(r.as_str())))
            })
            .count();
        assert_eq!(n, 1, "rule {id} is in {n} families");
    }
    assert!(listed >= 30, "{}", rules.stdout);
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

/// Every file keeps its number of lines (line feeds): markers stand where
/// secrets stood, line by line.
#[test]
fn every_file_keeps_its_line_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = redact(&corpus(), tmp.path(), "out");
    let inputs = tree(&corpus());
    let mut changed = Vec::new();
    for (path, text) in &inputs {
        let (a, b) = (text.matches('\n').count(), out[path].matches('\n').count());
        if a != b {
            changed.push(format!("{path}: {a} lines became {b}"));
        }
    }
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}

/// What one marker in an output file replaced: byte ranges of the input.
#[derive(Debug)]
struct Replacement {
    rule: String,
    ranges: Vec<Range<usize>>,
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn common_suffix(a: &str, b: &str) -> usize {
    a.bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The text after a marker without what redaction itself adds there: the
/// size a Kubernetes Secret value gets (` (22 bytes)`), and quotes and
/// escapes around a rewritten value.
fn added_by_redaction(after: &str) -> &str {
    static SIZE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^ \(\d+ bytes\)").unwrap());
    let after = SIZE.find(after).map_or(after, |m| &after[m.end()..]);
    after.trim_matches(|c: char| c == '"' || c == '\'' || c == '\\' || c.is_whitespace())
}

/// `s` as it reads inside a YAML double-quoted scalar continued over lines
/// (what the structured pass writes for a multi-line scalar it changes):
/// escapes decoded, the value's own `\n` and the escaped line break at the
/// end of the line dropped.
fn decoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('t') => out.push('\t'),
            Some('n') | None => {}
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_or('?', char::from));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// Where `core` (text of the output) is in `inp` at or after `from`: as it
/// stands, or decoded (see `decoded`).
fn find_core(inp: &str, from: usize, core: &str) -> Option<Range<usize>> {
    if let Some(j) = inp[from..].find(core) {
        return Some(from + j..from + j + core.len());
    }
    let d = decoded(core);
    let d = d.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    (!d.is_empty())
        .then(|| inp[from..].find(d).map(|j| from + j..from + j + d.len()))
        .flatten()
}

/// Maps every marker of `output` back to the input bytes it replaced.
/// Redaction keeps lines, so lines are compared pairwise; within a line,
/// the text between markers is found again in the input (the structured
/// pass may add quotes around a replaced value: they are not searched
/// for). A line changed without a marker (the rest of a multi-line key or
/// block) belongs to the marker that ended the line before it.
fn replacements(input: &str, output: &str) -> Result<Vec<Replacement>, String> {
    let (ins, outs): (Vec<&str>, Vec<&str>) =
        (input.split('\n').collect(), output.split('\n').collect());
    if ins.len() != outs.len() {
        return Err(format!("{} lines became {}", ins.len(), outs.len()));
    }
    let mut reps: Vec<Replacement> = Vec::new();
    let mut open: Option<usize> = None;
    let mut offset = 0;
    for (n, (inp, out)) in ins.iter().zip(&outs).enumerate() {
        let line_start = offset;
        offset += inp.len() + 1;
        let markers: Vec<(Range<usize>, String)> = MARKER
            .captures_iter(out)
            .map(|c| (c.get(0).unwrap().range(), c[1].to_string()))
            .collect();
        if markers.is_empty() {
            match open {
                Some(i) if inp != out => reps[i].ranges.push(line_start..line_start + inp.len()),
                _ => open = None,
            }
            continue;
        }
        open = None;
        let head = &out[..markers[0].0.start];
        let mut start = common_prefix(inp, head).max(common_prefix(inp, &decoded(head)));
        let mut pending: Vec<(usize, String)> = Vec::new();
        for (i, (m, rule)) in markers.iter().enumerate() {
            pending.push((start, rule.clone()));
            let (end, next_start) = if let Some((next, _)) = markers.get(i + 1) {
                let core = added_by_redaction(&out[m.end..next.start]);
                if core.is_empty() {
                    continue;
                }
                let from = (start + 1).min(inp.len());
                let Some(found) = find_core(inp, from, core) else {
                    return Err(format!(
                        "line {}: {core:?} (after a marker) is not in {inp:?}",
                        n + 1
                    ));
                };
                (found.start, found.end)
            } else {
                let after = added_by_redaction(&out[m.end..]);
                let tail = common_suffix(&inp[start..], after)
                    .max(common_suffix(&inp[start..], &decoded(after)));
                (inp.len() - tail, inp.len())
            };
            for (s, rule) in pending.drain(..) {
                reps.push(Replacement {
                    rule,
                    ranges: std::iter::once(line_start + s..line_start + end.max(s)).collect(),
                });
            }
            if end == inp.len() && i + 1 == markers.len() {
                open = Some(reps.len() - 1);
            }
            start = next_start;
        }
    }
    Ok(reps)
}

#[derive(Default)]
struct Score {
    planted: usize,
    gone: usize,
    markers: usize,
    true_positives: usize,
    false_positives: Vec<String>,
}

/// Recall per family: planted secrets (by the family meant to catch them)
/// gone from every output. Precision per family: the family's markers that
/// replaced bytes of a planted secret, of all its markers.
#[test]
fn recall_and_precision_per_rule_family() {
    let gt = ground_truth();
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = redact(&corpus(), tmp.path(), "out");
    let inputs = tree(&corpus());
    let mut scores: BTreeMap<&str, Score> = gt
        .families
        .iter()
        .map(|f| (f.family.as_str(), Score::default()))
        .collect();
    for s in &gt.secrets {
        let score = scores.get_mut(s.family.as_str()).unwrap();
        score.planted += 1;
        score.gone += usize::from(!out.values().any(|t| t.contains(&s.value)));
    }
    let mut problems = Vec::new();
    for (path, input) in &inputs {
        let planted: Vec<Range<usize>> = gt
            .secrets
            .iter()
            .filter(|s| &s.file == path)
            .flat_map(|s| input.match_indices(&s.value).map(|(i, v)| i..i + v.len()))
            .collect();
        let reps = match replacements(input, &out[path]) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{path}: {e}"));
                continue;
            }
        };
        for r in reps {
            let Some(family) = gt.family_of_rule(&r.rule) else {
                problems.push(format!("{path}: rule {} is in no family", r.rule));
                continue;
            };
            let score = scores.get_mut(family).unwrap();
            score.markers += 1;
            let hit = r
                .ranges
                .iter()
                .any(|a| planted.iter().any(|b| a.start < b.end && b.start < a.end));
            if hit {
                score.true_positives += 1;
            } else {
                let text: Vec<&str> = r.ranges.iter().map(|x| &input[x.clone()]).collect();
                score.false_positives.push(format!(
                    "{path}: {} replaced {:?}",
                    r.rule,
                    text.concat()
                ));
            }
        }
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", 100.0 * a as f64 / b as f64)
        }
    };
    println!(
        "{:<22} {:>7} {:>6} {:>7}   {:>7} {:>5} {:>4} {:>9} {:>6}",
        "family", "planted", "gone", "recall", "markers", "TP", "FP", "precision", "floor"
    );
    let mut failures = Vec::new();
    for f in &gt.families {
        let s = &scores[f.family.as_str()];
        println!(
            "{:<22} {:>7} {:>6} {:>7}   {:>7} {:>5} {:>4} {:>9} {:>5.0}%",
            f.family,
            s.planted,
            s.gone,
            pct(s.gone, s.planted),
            s.markers,
            s.true_positives,
            s.false_positives.len(),
            pct(s.true_positives, s.markers),
            100.0 * f.precision_floor
        );
        if s.gone < s.planted {
            failures.push(format!("{}: recall {}", f.family, pct(s.gone, s.planted)));
        }
        if s.markers > 0 && (s.true_positives as f64) < f.precision_floor * s.markers as f64 {
            failures.push(format!(
                "{}: precision {} under the floor {}; false positives:\n  {}",
                f.family,
                pct(s.true_positives, s.markers),
                f.precision_floor,
                s.false_positives.join("\n  ")
            ));
        }
        if s.planted == 0 {
            failures.push(format!("{}: no planted secret to measure", f.family));
        }
    }
    for s in scores.values() {
        for fp in &s.false_positives {
            println!("  false positive: {fp}");
        }
    }
    // Files that could not be aligned count no markers: precision is only
    // measured when every file could be.
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
