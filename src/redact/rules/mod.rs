//! Redaction rules: data in `redaction-rules/*.yaml` (embedded) plus the
//! user's own files, compiled into one `RuleSet` (`load`); this file holds
//! the compiled set and what the passes ask of it.

use aho_corasick::AhoCorasick;
use regex::Regex;
use regex::bytes::Regex as BytesRegex;
use serde::{Deserialize, Serialize};

mod load;

pub use load::DEFAULT_RULE_FILES;

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

#[cfg(test)]
mod tests;
