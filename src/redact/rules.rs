//! Redaction rules: data in `redaction-rules/*.yaml` (embedded) plus the
//! user's own files, compiled into one `RuleSet`.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use anyhow::{Context, Result, bail};
use regex::Regex;
use regex::bytes::Regex as BytesRegex;
use serde::{Deserialize, Serialize};

/// The default rule files, embedded at build time. A test checks that every
/// file in `redaction-rules/` is listed here.
pub const DEFAULT_RULE_FILES: &[(&str, &str)] = &[
    (
        "tokens.yaml",
        include_str!("../../redaction-rules/tokens.yaml"),
    ),
    (
        "credentials.yaml",
        include_str!("../../redaction-rules/credentials.yaml"),
    ),
    ("keys.yaml", include_str!("../../redaction-rules/keys.yaml")),
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleSpec>,
}

/// Rule ids the passes use besides the loaded rules: they appear in
/// markers and counts like any other.
pub const RULE_LONG_LINE: &str = "line-too-long";
pub const RULE_BINARY_LINE: &str = "binary-content";
pub const RULE_PEM: &str = "pem-private-key";
pub const RULE_K8S_SECRET: &str = "kubernetes-secret";
pub const BUILTIN_RULES: &[&str] = &[RULE_LONG_LINE, RULE_BINARY_LINE, RULE_PEM, RULE_K8S_SECRET];

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_exclude: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_exact: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_inside: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_safe_path: Option<String>,
}

/// A rule as `--list-rules` shows it: where it came from, and the spec.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedRule {
    pub source: String,
    #[serde(flatten)]
    pub spec: RuleSpec,
}

pub(crate) struct RegexRule {
    pub id: String,
    pub regex: BytesRegex,
    pub secret_group: usize,
}

pub(crate) struct KeyRule {
    pub id: String,
    pub key: Regex,
    pub exclude: Option<Regex>,
    pub exact: bool,
    /// In a map under such a key, keys (normalized) whose values stay.
    pub keep_inside: Option<Regex>,
}

/// What a prefilter keyword hit asks for.
#[derive(Clone, Copy)]
enum Wants {
    Regex(usize),
    Keys,
}

pub struct RuleSet {
    pub(crate) regex_rules: Vec<RegexRule>,
    pub(crate) key_rules: Vec<KeyRule>,
    binary_safe: Vec<Regex>,
    /// Keywords of every rule, case-insensitive; `wants[pattern]` says what
    /// a hit switches on for the line.
    prefilter: AhoCorasick,
    /// The same keywords, lowercased, asked first of a lowercased copy of
    /// the line: most log lines hold none, and a case-sensitive searcher
    /// finds that with SIMD literal search (Teddy), several times faster
    /// than the case-insensitive overlapping walk needed to tell which.
    /// Two searchers: keywords under four bytes, and the others. Teddy
    /// fingerprints as many leading bytes as its shortest pattern has (up
    /// to four); in one searcher, `key` and `://` would make every longer
    /// keyword a three-byte fingerprint too, and the false candidates that
    /// brings cost more than a second pass over the text.
    gates: Vec<AhoCorasick>,
    wants: Vec<Wants>,
    /// Regex rules without keywords run on every line.
    always: Vec<usize>,
    keys_always: bool,
    key_prefilter: AhoCorasick,
    pub loaded: Vec<LoadedRule>,
    #[cfg(test)]
    gate_lens: Vec<usize>,
}

/// Where each keyword gate last found a keyword in one text, so that
/// `next_keyword` asks a gate again only once the caller has moved past
/// its find. One per text searched.
#[derive(Default)]
pub(crate) struct GateCursor {
    /// Per gate: not asked yet, or the next find (`None`: none to the end).
    found: [Option<Option<usize>>; 2],
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

    /// The id of the first key rule that says `key` names a secret.
    pub fn secret_key(&self, key: &str) -> Option<&str> {
        self.secret_key_index(key)
            .map(|i| self.key_rules[i].id.as_str())
    }

    /// Cheap test before `secret_key`: does the key hold a key-rule keyword?
    pub(crate) fn key_may_match(&self, key: &str) -> bool {
        self.keys_always || self.key_prefilter.is_match(key)
    }

    pub(crate) fn secret_key_index(&self, key: &str) -> Option<usize> {
        let mut normalized: Option<String> = None;
        for (i, r) in self.key_rules.iter().enumerate() {
            let subject: &str = if r.exact {
                key
            } else {
                normalized.get_or_insert_with(|| normalize_key(key))
            };
            if r.key.is_match(subject) && !r.exclude.as_ref().is_some_and(|x| x.is_match(subject)) {
                return Some(i);
            }
        }
        None
    }

    /// Whether, in a map under a key that rule `rule` found secret, the
    /// value of `key` stays (its `keep_inside`: user names, hosts, ports):
    /// in `credentials: {username: alice, password: x}` only `x` is secret.
    /// A key that names a secret itself never stays.
    pub fn keeps_inside(&self, rule: &str, key: &str) -> bool {
        let Some(keep) = self
            .key_rules
            .iter()
            .find(|r| r.id == rule)
            .and_then(|r| r.keep_inside.as_ref())
        else {
            return false;
        };
        keep.is_match(&normalize_key(key)) && self.secret_key(key).is_none()
    }

    pub fn binary_is_safe(&self, bundle_path: &str) -> bool {
        self.binary_safe.iter().any(|r| r.is_match(bundle_path))
    }

    /// Whether a line without any keyword passes through unchanged, so
    /// that runs of such lines can be copied in bulk (no rule runs on
    /// every line).
    pub(crate) fn keyword_free_lines_pass(&self) -> bool {
        self.always.is_empty() && !self.keys_always
    }

    /// Where the first keyword at or after `from` starts in `lower`, a
    /// lowercased text; `cursor` belongs to that text, and `from` never
    /// goes back.
    pub(crate) fn next_keyword(
        &self,
        lower: &[u8],
        from: usize,
        cursor: &mut GateCursor,
    ) -> Option<usize> {
        let mut next: Option<usize> = None;
        for (gate, found) in self.gates.iter().zip(cursor.found.iter_mut()) {
            let at = match *found {
                Some(Some(at)) if at >= from => Some(at),
                Some(None) => None,
                _ => {
                    let input = aho_corasick::Input::new(lower).range(from..);
                    let at = gate.find(input).map(|m| m.start());
                    *found = Some(at);
                    at
                }
            };
            next = match (next, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// Which regex rules to run on `line`, and whether to look for
    /// key/value pairs, judged by keyword hits alone. `key_hits` gets where
    /// key-rule keywords start: a secret key must contain one, so only the
    /// pairs around them need looking at (unless a key rule has no
    /// keywords: then every pair is looked at, and `key_hits` is empty).
    pub(crate) fn candidates(
        &self,
        line: &[u8],
        lower: &mut Vec<u8>,
        regexes: &mut Vec<usize>,
        key_hits: &mut Vec<usize>,
    ) -> bool {
        key_hits.clear();
        regexes.clear();
        regexes.extend_from_slice(&self.always);
        let mut keys = self.keys_always;
        lower.clear();
        lower.extend(line.iter().map(u8::to_ascii_lowercase));
        if !self.gates.iter().any(|g| g.is_match(lower.as_slice())) {
            return keys;
        }
        for m in self.prefilter.find_overlapping_iter(line) {
            match self.wants[m.pattern().as_usize()] {
                Wants::Regex(i) => {
                    if !regexes.contains(&i) {
                        regexes.push(i);
                    }
                }
                Wants::Keys => {
                    keys = true;
                    if !self.keys_always {
                        key_hits.push(m.start());
                    }
                }
            }
        }
        regexes.sort_unstable();
        keys
    }
}

/// Keywords shorter than this go to the first gate, the others to the
/// second (see `RuleSet::gates`).
const GATE_SPLIT: usize = 4;

/// The patterns of the keyword gates, which only ask whether a line holds
/// any keyword at all: the keywords lowercased, without those that contain
/// another (`password` holds `pass`, `sk-ant-` holds `sk-`), which could
/// never be the only one found.
fn gate_keywords(patterns: &[String]) -> Vec<String> {
    let mut lowered: Vec<String> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
    // The PEM block tracking of the line pass is built in, whatever rules
    // are loaded: a line that may open a key never takes the fast path.
    lowered.push("private key".into());
    lowered.sort();
    lowered.dedup();
    let all = lowered.clone();
    lowered.retain(|k| !all.iter().any(|o| o != k && k.contains(o.as_str())));
    lowered
}

/// `PG_PASSWORD`, `pgPassword`, `pg-password` -> `pgpassword`.
pub fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
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
        let re = BytesRegex::new(r).map_err(|e| format!("regex does not compile: {e}"))?;
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
            let regex = BytesRegex::new(re)?;
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

#[cfg(test)]
mod tests {
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
}
