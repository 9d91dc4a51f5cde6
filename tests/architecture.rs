//! The stages depend on each other in one direction only:
//! base (`category`, `fsutil`, the crate root) <- `artifact` <- `redact`
//! <- `bundle` <- `collect`, `inspect`, `ledger` <- `commands` <- `main.rs`.
//! `docs/architecture.md` says why; this test keeps it true.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

/// Stage of each top-level module; a module may use its own stage's
/// module (itself) and lower stages only.
const STAGES: &[(&str, u8)] = &[
    ("category", 0),
    ("display", 0),
    ("fsutil", 0),
    ("image", 0),
    ("artifact", 1),
    ("redact", 2),
    ("bundle", 3),
    ("collect", 4),
    ("inspect", 4),
    ("ledger", 4),
    ("drift", 4),
    ("commands", 5),
];

fn stage(module: &str) -> Option<u8> {
    STAGES.iter().find(|(m, _)| *m == module).map(|(_, s)| *s)
}

/// The top-level modules `text` (from a file of module `owner`) names
/// through `crate::` paths, or through `super::` in a file directly below
/// the crate root.
fn references(owner_is_top_file: bool, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (prefix, applies) in [("crate::", true), ("super::", owner_is_top_file)] {
            if !applies {
                continue;
            }
            let mut rest = code;
            while let Some(i) = rest.find(prefix) {
                let after = &rest[i + prefix.len()..];
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name.clone());
                }
                // `use crate::{a, b}`: every name in the braces.
                if let Some(braced) = after.strip_prefix('{') {
                    let inner = braced.split('}').next().unwrap_or("");
                    for part in inner.split(',') {
                        let n: String = part
                            .trim()
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if !n.is_empty() {
                            out.push(n);
                        }
                    }
                }
                rest = after;
            }
        }
    }
    out
}

/// Violations as `file: module (stage a) uses module (stage b)`.
fn violations(files: &[(String, String, bool, String)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (file, owner, top, text) in files {
        let Some(own) = stage(owner) else { continue };
        for used in references(*top, text) {
            let Some(theirs) = stage(&used) else { continue };
            if used != *owner && theirs >= own {
                bad.push(format!(
                    "{file}: {owner} (stage {own}) uses {used} (stage {theirs})"
                ));
            }
        }
    }
    bad
}

fn source_files() -> Vec<(String, String, bool, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for p in support::files_below(&root) {
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let rel = p.strip_prefix(&root).unwrap();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let owner = parts[0].trim_end_matches(".rs").to_string();
        // `super::` means the crate root in src/x.rs and src/x/mod.rs.
        let top = parts.len() == 1 || (parts.len() == 2 && parts[1] == "mod.rs");
        let text = std::fs::read_to_string(&p).unwrap();
        out.push((rel.display().to_string(), owner, top, text));
    }
    out
}

#[test]
fn stages_depend_on_lower_stages_only() {
    let files = source_files();
    let owners: BTreeMap<String, usize> = files.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(f.1.clone()).or_default() += 1;
        m
    });
    for (module, _) in STAGES {
        assert!(owners.contains_key(*module), "no source files for {module}");
    }
    let bad = violations(&files);
    assert!(
        bad.is_empty(),
        "dependencies against the stage order:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_a_backward_dependency() {
    let files = vec![
        (
            "redact/x.rs".to_string(),
            "redact".to_string(),
            false,
            "use crate::bundle::format::Manifest;\nuse crate::artifact::Artifact;".to_string(),
        ),
        (
            "bundle/mod.rs".to_string(),
            "bundle".to_string(),
            true,
            "use super::{collect, redact};".to_string(),
        ),
        (
            "collect/y.rs".to_string(),
            "collect".to_string(),
            false,
            "fn f() { crate::inspect::summary(); }".to_string(),
        ),
    ];
    assert_eq!(
        violations(&files),
        [
            "redact/x.rs: redact (stage 2) uses bundle (stage 3)",
            "bundle/mod.rs: bundle (stage 3) uses collect (stage 4)",
            "collect/y.rs: collect (stage 4) uses inspect (stage 4)",
        ]
    );
}
