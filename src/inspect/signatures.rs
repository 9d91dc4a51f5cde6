//! Known log signatures: data in `signatures/*.yaml` (embedded) plus the
//! files given with `--signatures`, compiled into one set so every log line
//! is matched against all of them in a single pass.

use std::collections::HashSet;
use std::path::Path;

use aho_corasick::AhoCorasick;
use anyhow::{Context, Result, bail};
use regex::bytes::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

use super::findings::Severity;

/// The default signature files, embedded at build time. A test checks that
/// every file in `signatures/` is listed here.
pub const DEFAULT_SIGNATURE_FILES: &[(&str, &str)] = &[(
    "default.yaml",
    include_str!("../../signatures/default.yaml"),
)];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    signatures: Vec<Signature>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub id: String,
    pub category: String,
    pub severity: Severity,
    pub pattern: String,
    /// Literals (case-insensitive) one of which every match contains: the
    /// pattern runs only on lines holding one. Empty: on every line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    pub explanation: String,
    pub docs: String,
}

/// Every signature in force. A line is matched in one automaton pass for
/// all keywords; only the signatures whose keyword it holds run their
/// regex, and those without keywords run as one regex set.
pub struct Signatures {
    pub list: Vec<Signature>,
    keywords: AhoCorasick,
    /// Keyword number -> signature index.
    keyword_owner: Vec<usize>,
    regexes: Vec<Regex>,
    /// Signatures without keywords, and their indices in `list`.
    unkeyed: RegexSet,
    unkeyed_index: Vec<usize>,
}

impl Signatures {
    /// The embedded files, then `extra` files in order. A later signature
    /// with an id already loaded is refused: two meanings for one id would
    /// make findings ambiguous.
    pub fn load(extra: &[impl AsRef<Path>]) -> Result<Signatures> {
        let mut list = Vec::new();
        for (name, text) in DEFAULT_SIGNATURE_FILES {
            list.extend(parse(name, text)?);
        }
        for path in extra {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading signatures file {}", path.display()))?;
            list.extend(parse(&path.display().to_string(), &text)?);
        }
        let mut seen = HashSet::new();
        for s in &list {
            if !seen.insert(s.id.as_str()) {
                bail!(
                    "signature id {:?} is defined twice; rename one of them (ids must be unique across the embedded signatures and --signatures files)",
                    s.id
                );
            }
        }
        let mut words = Vec::new();
        let mut keyword_owner = Vec::new();
        for (i, s) in list.iter().enumerate() {
            for k in &s.keywords {
                words.push(k.as_str());
                keyword_owner.push(i);
            }
        }
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&words)
            .context("compiling the signature keywords")?;
        let regexes = list
            .iter()
            .map(|s| Regex::new(&s.pattern))
            .collect::<Result<Vec<_>, _>>()
            .context("compiling the signature patterns")?;
        let unkeyed_index: Vec<usize> = (0..list.len())
            .filter(|&i| list[i].keywords.is_empty())
            .collect();
        let unkeyed = RegexSet::new(unkeyed_index.iter().map(|&i| list[i].pattern.as_str()))
            .context("compiling the signature patterns")?;
        Ok(Signatures {
            list,
            keywords,
            keyword_owner,
            regexes,
            unkeyed,
            unkeyed_index,
        })
    }

    /// The indices of the signatures `line` matches, into `out` (cleared),
    /// in ascending order.
    pub fn matches(&self, line: &[u8], out: &mut Vec<usize>) {
        out.clear();
        for m in self.keywords.find_overlapping_iter(line) {
            let i = self.keyword_owner[m.pattern().as_usize()];
            if !out.contains(&i) && self.regexes[i].is_match(line) {
                out.push(i);
            }
        }
        if !self.unkeyed_index.is_empty() {
            out.extend(
                self.unkeyed
                    .matches(line)
                    .iter()
                    .map(|k| self.unkeyed_index[k]),
            );
        }
        out.sort_unstable();
        out.dedup();
    }
}

fn parse(source: &str, text: &str) -> Result<Vec<Signature>> {
    let file: SignatureFile = serde_saphyr::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{source}: not a signatures file ({e}); see signatures/README.md for the format"
        )
    })?;
    for s in &file.signatures {
        let ok_id = !s.id.is_empty()
            && s.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok_id {
            bail!(
                "{source}: signature id {:?} must be lowercase letters, digits and '-'",
                s.id
            );
        }
        if crate::category::find(&s.category).is_none() {
            bail!(
                "{source}: signature {} has category {:?}, which is not one of `sg-debug categories`",
                s.id,
                s.category
            );
        }
        if s.keywords.iter().any(|k| k.is_empty()) {
            bail!("{source}: signature {} has an empty keyword", s.id);
        }
        Regex::new(&s.pattern)
            .with_context(|| format!("{source}: signature {} has an invalid pattern", s.id))?;
        if s.explanation.contains('\n') {
            bail!(
                "{source}: signature {}: the explanation must be one line",
                s.id
            );
        }
    }
    Ok(file.signatures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_directory_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".yaml") {
                assert!(
                    DEFAULT_SIGNATURE_FILES.iter().any(|(n, _)| *n == name),
                    "signatures/{name} is not listed in DEFAULT_SIGNATURE_FILES"
                );
            }
        }
    }

    #[test]
    fn defaults_load_and_are_complete() {
        let s = Signatures::load(&[] as &[&Path]).unwrap();
        assert!(s.list.len() >= 15);
        for sig in &s.list {
            assert!(sig.docs.starts_with("https://"), "{}", sig.id);
        }
        let hit = |line: &str| -> Vec<&str> {
            let mut out = Vec::new();
            s.matches(line.as_bytes(), &mut out);
            out.into_iter().map(|i| s.list[i].id.as_str()).collect()
        };
        assert_eq!(
            hit("Get https://ghe: x509: certificate signed by unknown authority"),
            ["x509-unknown-authority"]
        );
        assert_eq!(hit("git clone failed: exit status 128"), ["clone-exit-128"]);
        assert!(hit("level=info msg=\"frontend listening\" addr=:3080").is_empty());
        assert_eq!(hit("X509: CERTIFICATE SIGNED by nobody"), [] as [&str; 0]);
        // A gap in a pattern does not cross a JSON field: the scope and the
        // body of a healthy line do not make a match together.
        assert!(
            hit(r#"{"InstrumentationScope":"migrator","Body":"no failed migrations"}"#).is_empty()
        );
        assert!(hit(r#"{"InstrumentationScope":"licensing","Body":"user count 12"}"#).is_empty());
        assert_eq!(
            hit("a Dirty Database, and exit status 128"),
            ["dirty-database", "clone-exit-128"]
        );
    }
}
