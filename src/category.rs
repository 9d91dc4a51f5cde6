//! The incident taxonomy. Every bundle carries exactly one category so the
//! support team can count triage effort per kind of incident (`sg-debug
//! report`). The set is closed on purpose (free-form labels cannot be
//! counted) and is data: `categories/default.yaml`, embedded, plus the
//! team's own in the file `SG_DEBUG_CATEGORIES` names (new ids only).

use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The built-in categories, embedded at build time.
pub const DEFAULT_FILE: &str = include_str!("../categories/default.yaml");

/// The environment variable naming a file of extra categories.
pub const ENV_FILE: &str = "SG_DEBUG_CATEGORIES";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub description: String,
    pub symptoms: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    categories: Vec<Category>,
}

static SET: OnceLock<Vec<Category>> = OnceLock::new();

/// Every category in force: the built-in ones, then the extra file's if
/// `load_extra` ran first.
pub fn all() -> &'static [Category] {
    SET.get_or_init(|| {
        parse_file("built-in categories", DEFAULT_FILE, &[]).expect("built-in categories are valid")
    })
}

/// Adds the categories of the file named by `SG_DEBUG_CATEGORIES`, when
/// set. Runs once, before anything asks for a category.
pub fn load_from_env() -> Result<(), String> {
    match std::env::var_os(ENV_FILE).filter(|v| !v.is_empty()) {
        Some(path) => load_extra(Path::new(&path)),
        None => Ok(()),
    }
}

/// The built-in categories plus those in `path`.
pub fn load_extra(path: &Path) -> Result<(), String> {
    let source = format!("{ENV_FILE}={}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("{source}: cannot read the categories file: {e}; fix the path or unset {ENV_FILE}")
    })?;
    let builtin = parse_file("built-in categories", DEFAULT_FILE, &[])
        .expect("built-in categories are valid");
    let extra = parse_file(&source, &text, &builtin)?;
    let mut set = builtin;
    set.extend(extra);
    SET.set(set)
        .map_err(|_| "categories were read before the extra file was loaded".to_string())
}

/// The categories of one file, checked: ids in kebab-case, unique (also
/// against `known`), descriptions given.
fn parse_file(source: &str, text: &str, known: &[Category]) -> Result<Vec<Category>, String> {
    let file: CategoryFile = serde_saphyr::from_str(text).map_err(|e| {
        format!("{source}: not a categories file ({e}); the format is in docs/categories.md")
    })?;
    let mut seen: Vec<&str> = known.iter().map(|c| c.id.as_str()).collect();
    for c in &file.categories {
        let kebab = !c.id.is_empty()
            && c.id.len() <= 40
            && c.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !c.id.starts_with('-')
            && !c.id.ends_with('-');
        if !kebab {
            return Err(format!(
                "{source}: category id {:?}: use lowercase letters, digits and inner dashes (at most 40), like 'storage-disk'",
                c.id
            ));
        }
        if seen.contains(&c.id.as_str()) {
            return Err(format!(
                "{source}: category '{}' is defined twice (or is built in); pick another id",
                c.id
            ));
        }
        if c.description.trim().is_empty() {
            return Err(format!(
                "{source}: category '{}': the description is empty",
                c.id
            ));
        }
        seen.push(&c.id);
    }
    if file.categories.is_empty() {
        return Err(format!("{source}: no categories in the file"));
    }
    Ok(file.categories)
}

pub fn find(id: &str) -> Option<&'static Category> {
    all().iter().find(|c| c.id == id)
}

/// Resolves a user-supplied category, or explains what the valid values are,
/// with a suggestion when the input looks like a typo of one of them.
pub fn parse(input: &str) -> Result<&'static Category, String> {
    let wanted = input.trim().to_ascii_lowercase();
    if let Some(c) = find(&wanted) {
        return Ok(c);
    }
    let mut msg = format!("unknown incident category '{input}'");
    if let Some(s) = suggest(&wanted) {
        msg.push_str(&format!(": did you mean '{}'?", s.id));
    }
    msg.push_str(&format!("\nvalid categories: {}", ids().join(", ")));
    msg.push_str("\n(run `sg-debug categories` for descriptions)");
    Err(msg)
}

pub fn ids() -> Vec<&'static str> {
    all().iter().map(|c| c.id.as_str()).collect()
}

fn suggest(input: &str) -> Option<&'static Category> {
    closest(input, ids()).and_then(find)
}

/// The id in `ids` that `input` most looks like a typo of, if any: for
/// every closed set a user types from (categories, triage outcomes).
pub fn closest<'a>(input: &str, ids: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let ids: Vec<&str> = ids.into_iter().collect();
    // A prefix or substring is a strong hint ("upgrade", "perf", "tls").
    if input.len() >= 3
        && let Some(id) = ids.iter().find(|id| id.contains(input))
    {
        return Some(id);
    }
    ids.iter()
        .map(|id| (edit_distance(input, id), *id))
        .filter(|(d, id)| *d <= (id.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, id)| id)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_case_insensitive() {
        assert_eq!(parse("search").unwrap().id, "search");
        assert_eq!(parse(" Storage-Disk ").unwrap().id, "storage-disk");
    }

    #[test]
    fn typos_get_a_suggestion() {
        let e = parse("serach").unwrap_err();
        assert!(e.contains("did you mean 'search'?"), "{e}");
        let e = parse("upgrade").unwrap_err();
        assert!(e.contains("did you mean 'upgrade-migration'?"), "{e}");
        let e = parse("databse").unwrap_err();
        assert!(e.contains("did you mean 'database'?"), "{e}");
    }

    #[test]
    fn nonsense_lists_valid_values_without_a_guess() {
        let e = parse("zzzzzz").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(e.contains("outage-crash") && e.contains("other"), "{e}");
    }

    #[test]
    fn ids_are_unique() {
        let mut ids = ids();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all().len());
    }
}
