//! Reading rule files (the embedded defaults and the user's), checking
//! each rule, and compiling them into a `RuleSet`.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use anyhow::{Context, Result, bail};
use regex::Regex;
use regex::bytes::Regex as BytesRegex;
use serde::{Deserialize, Serialize};

use super::{GATE_SPLIT, KeyRule, LoadedRule, RegexRule, RuleSet, RuleSpec, Wants, gate_keywords};

/// The default rule files, embedded at build time. A test checks that every
/// file in `redaction-rules/` is listed here.
pub const DEFAULT_RULE_FILES: &[(&str, &str)] = &[
    (
        "tokens.yaml",
        include_str!("../../../redaction-rules/tokens.yaml"),
    ),
    (
        "credentials.yaml",
        include_str!("../../../redaction-rules/credentials.yaml"),
    ),
    (
        "keys.yaml",
        include_str!("../../../redaction-rules/keys.yaml"),
    ),
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleSpec>,
}

impl RuleSet {
    /// The embedded defaults, then each of `extra` (files, or directories
    /// of `*.yaml`/`*.yml`), minus `disabled` ids.
    pub fn load(extra: &[PathBuf], disabled: &[String]) -> Result<RuleSet> {
        let mut loaded = Vec::new();
        for (name, text) in DEFAULT_RULE_FILES {
            loaded.extend(parse_file(&format!("built-in {name}"), text)?);
        }
        for path in extra {
            for file in rule_files(path)? {
                let text = fs::read_to_string(&file)
                    .with_context(|| format!("reading redaction rule file {}", file.display()))?;
                loaded.extend(parse_file(&file.display().to_string(), &text)?);
            }
        }
        let mut seen: HashMap<String, String> = HashMap::new();
        for r in &loaded {
            if let Some(first) = seen.insert(r.spec.id.clone(), r.source.clone()) {
                bail!(
                    "redaction rule file {}: rule '{}' is already defined in {first}; pick another id, or --disable-rule {} and define your own",
                    r.source,
                    r.spec.id,
                    r.spec.id
                );
            }
        }
        for id in disabled {
            if !seen.contains_key(id) {
                let ids: BTreeSet<&str> = loaded.iter().map(|r| r.spec.id.as_str()).collect();
                bail!(
                    "--disable-rule {id}: no such rule; rules are: {}",
                    ids.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
        }
        loaded.retain(|r| !disabled.contains(&r.spec.id));
        compile(loaded)
    }

    pub fn defaults() -> RuleSet {
        RuleSet::load(&[], &[]).expect("built-in redaction rules are valid")
    }
}

fn rule_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(path)
        .with_context(|| format!("reading redaction rules {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = fs::read_dir(path)
        .with_context(|| format!("listing redaction rules in {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "redaction rules directory {} holds no *.yaml or *.yml files",
            path.display()
        );
    }
    Ok(files)
}

fn parse_file(source: &str, text: &str) -> Result<Vec<LoadedRule>> {
    let file: RuleFile = serde_saphyr::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "redaction rule file {source} is not valid: {e}\n(see redaction-rules/README.md for the format)"
        )
    })?;
    let mut out = Vec::new();
    for spec in file.rules {
        check_spec(&spec).map_err(|why| {
            anyhow::anyhow!("redaction rule file {source}: rule '{}': {why}", spec.id)
        })?;
        out.push(LoadedRule {
            source: source.to_string(),
            spec,
        });
    }
    Ok(out)
}

fn check_spec(s: &RuleSpec) -> Result<(), String> {
    if s.id.is_empty()
        || !s
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("id must be lowercase letters, digits and '-'".into());
    }
    if s.description.trim().is_empty() {
        return Err("description is empty".into());
    }
    let matchers = [
        s.regex.is_some(),
        s.key.is_some(),
        s.binary_safe_path.is_some(),
    ];
    if matchers.iter().filter(|m| **m).count() != 1 {
        return Err("needs exactly one of regex, key, binary_safe_path".into());
    }
    if s.key.is_none() && (s.key_exclude.is_some() || s.key_exact || s.keep_inside.is_some()) {
        return Err("key_exclude, key_exact and keep_inside go with key".into());
    }
    if s.keywords.iter().any(|k| k.is_empty()) {
        return Err("empty keyword".into());
    }
    if let Some(r) = &s.regex {
        let re = bytes_regex(r).map_err(|e| format!("regex does not compile: {e}"))?;
        if !re.capture_names().any(|n| n == Some("secret")) {
            return Err("regex has no named group `secret` (write (?P<secret>...))".into());
        }
        if re.is_match(b"") {
            return Err("regex matches the empty string".into());
        }
    }
    for (what, r) in [
        ("key", &s.key),
        ("key_exclude", &s.key_exclude),
        ("keep_inside", &s.keep_inside),
        ("binary_safe_path", &s.binary_safe_path),
    ] {
        if let Some(r) = r {
            Regex::new(r).map_err(|e| format!("{what} does not compile: {e}"))?;
        }
    }
    Ok(())
}

fn compile(loaded: Vec<LoadedRule>) -> Result<RuleSet> {
    let mut regex_rules = Vec::new();
    let mut key_rules = Vec::new();
    let mut binary_safe = Vec::new();
    let mut patterns: Vec<String> = Vec::new();
    let mut wants = Vec::new();
    let mut always = Vec::new();
    let mut keys_always = false;
    let mut key_words: Vec<String> = Vec::new();
    for r in &loaded {
        let s = &r.spec;
        if let Some(re) = &s.regex {
            let regex = bytes_regex(re)?;
            let secret_group = regex
                .capture_names()
                .position(|n| n == Some("secret"))
                .expect("checked");
            let i = regex_rules.len();
            regex_rules.push(RegexRule {
                id: s.id.clone(),
                regex,
                secret_group,
            });
            if s.keywords.is_empty() {
                always.push(i);
            }
            for k in &s.keywords {
                patterns.push(k.clone());
                wants.push(Wants::Regex(i));
            }
        } else if let Some(key) = &s.key {
            key_rules.push(KeyRule {
                id: s.id.clone(),
                key: Regex::new(key)?,
                exclude: s.key_exclude.as_deref().map(Regex::new).transpose()?,
                exact: s.key_exact,
                keep_inside: s.keep_inside.as_deref().map(Regex::new).transpose()?,
            });
            if s.keywords.is_empty() {
                keys_always = true;
            }
            for k in &s.keywords {
                patterns.push(k.clone());
                wants.push(Wants::Keys);
                key_words.push(k.clone());
            }
        } else if let Some(p) = &s.binary_safe_path {
            binary_safe.push(Regex::new(p)?);
        }
    }
    // A full DFA: the overlapping search runs on every line of every log,
    // and the keyword set is small enough that its table stays tiny.
    let prefilter = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .context("building the keyword prefilter")?;
    let key_prefilter = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build(&key_words)
        .context("building the key prefilter")?;
    let lowered = gate_keywords(&patterns);
    let (short, long): (Vec<String>, Vec<String>) =
        lowered.into_iter().partition(|k| k.len() < GATE_SPLIT);
    let gates = [short, long]
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|g| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .build(&g)
                .map(|ac| (g.len(), ac))
        })
        .collect::<Result<Vec<_>, _>>()
        .context("building the keyword gate")?;
    Ok(RuleSet {
        #[cfg(test)]
        gate_lens: gates.iter().map(|(n, _)| *n).collect(),
        gates: gates.into_iter().map(|(_, ac)| ac).collect(),
        key_prefilter,
        regex_rules,
        key_rules,
        binary_safe,
        prefilter,
        wants,
        always,
        keys_always,
        loaded,
    })
}

/// A rule's regex, over bytes rather than characters: logs hold bytes that
/// are not UTF-8, and in Unicode mode `\S` or `[^"]` does not match one,
/// so a stray byte inside a secret cut its match short and the rest of
/// the secret stayed (found by fuzzing). Classes are ASCII (`\w`, `\d`,
/// `\s`, `(?i)`), which is what secrets are written in.
fn bytes_regex(re: &str) -> Result<BytesRegex, regex::Error> {
    regex::bytes::RegexBuilder::new(re).unicode(false).build()
}
