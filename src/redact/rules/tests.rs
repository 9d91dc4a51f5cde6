//! The rule files and their loader.

use std::fs;
use std::path::Path;

use super::*;

#[test]
fn every_file_in_redaction_rules_is_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("redaction-rules");
    let mut on_disk: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = DEFAULT_RULE_FILES
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    embedded.sort();
    assert_eq!(on_disk, embedded);
}

#[test]
fn defaults_load() {
    let r = RuleSet::defaults();
    assert!(r.regex_rules.len() >= 15);
    assert_eq!(r.secret_key("PGPASSWORD"), Some("secret-key-name"));
    assert_eq!(r.secret_key("clientSecret"), Some("secret-key-name"));
    assert_eq!(r.secret_key("licenseKey"), Some("secret-key-name"));
    assert_eq!(r.secret_key("p4.passwd"), Some("secret-key-name"));
    assert_eq!(r.secret_key("DATA_SOURCE_NAME"), Some("datasource"));
    assert_eq!(r.secret_key("PGDATASOURCE"), Some("datasource"));
    assert_eq!(r.secret_key("SRC_GIT_TOKEN"), Some("secret-key-name"));
    assert_eq!(r.secret_key("SOME_API_KEY"), Some("secret-key-name"));
    assert_eq!(r.secret_key("MY_KEY"), Some("env-secret-name"));
    for not_secret in [
        "secretName",
        "existingSecret",
        "maxTokens",
        "PGUSER",
        "username",
        "tokenType",
        "passwordFile",
        "key",
        "keyboard",
        "PGSSLKEY_FILE",
    ] {
        assert_eq!(r.secret_key(not_secret), None, "{not_secret}");
    }
}

fn load_text(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mine.yaml");
    fs::write(&f, text).unwrap();
    match RuleSet::load(&[f], &[]) {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn invalid_rule_files_name_file_rule_and_problem() {
    let e = load_text("rules:\n  - id: mine\n    description: d\n    regex: '(oops'\n");
    assert!(
        e.contains("mine.yaml: rule 'mine': regex does not compile"),
        "{e}"
    );
    let e = load_text("rules:\n  - id: mine\n    description: d\n    regex: 'abc'\n");
    assert!(
        e.contains("rule 'mine': regex has no named group `secret`"),
        "{e}"
    );
    let e = load_text("rules:\n  - id: mine\n    description: d\n");
    assert!(e.contains("needs exactly one of"), "{e}");
    let e = load_text(
        "rules:\n  - id: mine\n    description: d\n    key: x\n    keep_inside: '(oops'\n",
    );
    assert!(
        e.contains("rule 'mine': keep_inside does not compile"),
        "{e}"
    );
    let e = load_text(
        "rules:\n  - id: mine\n    description: d\n    regex: '(?P<secret>x)'\n    keep_inside: user\n",
    );
    assert!(e.contains("keep_inside go with key"), "{e}");
    let e = load_text("rules:\n  - id: Bad_Id\n    description: d\n    key: x\n");
    assert!(e.contains("rule 'Bad_Id': id must be"), "{e}");
    let e = load_text("rules:\n  - id: jwt\n    description: d\n    key: x\n");
    assert!(e.contains("already defined in built-in tokens.yaml"), "{e}");
    let e = load_text("rulez: []\n");
    assert!(e.contains("mine.yaml is not valid"), "{e}");
    let e = load_text(
        "rules:\n  - id: acme-token\n    description: d\n    keywords: [acme_]\n    regex: '(?P<secret>acme_[0-9]{8})'\n",
    );
    assert_eq!(e, "ok");
}

/// Teddy, the SIMD searcher behind a keyword gate, takes at most this
/// many patterns; past it the gate falls back to a searcher several
/// times slower, and so does every keyword-free log line.
const GATE_FAST_LIMIT: usize = 64;

#[test]
fn the_keyword_gate_stays_on_the_simd_path() {
    let r = RuleSet::defaults();
    assert_eq!(r.gate_lens.len(), 2);
    for n in &r.gate_lens {
        assert!(
            *n <= GATE_FAST_LIMIT,
            "the default rules' keywords need {n} patterns in one gate, more than {GATE_FAST_LIMIT}: share keywords between rules (a shorter common one: `xox` for Slack's `xoxb-`, `xoxp-`), or drop those another keyword contains"
        );
    }
    let gate = gate_keywords(&[
        "password".into(),
        "pass".into(),
        "sk-ant-".into(),
        "sk-".into(),
    ]);
    assert_eq!(gate, ["pass", "private key", "sk-"]);
}

#[test]
fn disable_rule_checks_the_id() {
    let e = RuleSet::load(&[], &["nope".into()]).err().unwrap();
    assert!(
        e.to_string().contains("--disable-rule nope: no such rule"),
        "{e}"
    );
    let r = RuleSet::load(&[], &["jwt".into()]).unwrap();
    assert!(r.regex_rules.iter().all(|x| x.id != "jwt"));
}
