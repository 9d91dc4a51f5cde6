//! How a debugging session ended: a closed set, like the incident
//! categories, so that the report can count effort per outcome. Free-form
//! outcomes cannot be counted; what happened in detail goes in the root
//! cause and the note.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::category;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub id: String,
    pub description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeFile {
    outcomes: Vec<Outcome>,
}

/// The outcomes, embedded at build time. Not extensible per user, unlike
/// categories: a ledger is shared by a team, and an outcome one engineer's
/// file adds would be unknown to the next reader of the same ledger.
pub const DEFAULT_FILE: &str = include_str!("../../outcomes/default.yaml");

static OUTCOMES: LazyLock<Vec<Outcome>> = LazyLock::new(|| {
    serde_saphyr::from_str::<OutcomeFile>(DEFAULT_FILE)
        .expect("the built-in outcomes parse")
        .outcomes
});

/// Every outcome, in order.
pub fn all() -> &'static [Outcome] {
    &OUTCOMES
}

pub fn find(id: &str) -> Option<&'static Outcome> {
    all().iter().find(|o| o.id == id)
}

pub fn ids() -> Vec<&'static str> {
    all().iter().map(|o| o.id.as_str()).collect()
}

/// Resolves a user-supplied outcome, or lists the valid ones with a
/// suggestion when the input looks like a typo of one.
pub fn parse(input: &str) -> Result<&'static Outcome, String> {
    let wanted = input.trim().to_ascii_lowercase();
    if let Some(o) = find(&wanted) {
        return Ok(o);
    }
    let mut msg = format!("unknown outcome '{input}'");
    if let Some(s) = category::closest(&wanted, ids()) {
        msg.push_str(&format!(": did you mean '{s}'?"));
    }
    msg.push_str(&format!("\nvalid outcomes: {}", ids().join(", ")));
    msg.push_str("\n(run `sg-debug triage outcomes` for descriptions)");
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_nonsense_the_list() {
        assert_eq!(parse(" Workaround ").unwrap().id, "workaround");
        let e = parse("workarond").unwrap_err();
        assert!(e.contains("did you mean 'workaround'?"), "{e}");
        let e = parse("documentaton-gap").unwrap_err();
        assert!(e.contains("did you mean 'documentation-gap'?"), "{e}");
        let e = parse("bug").unwrap_err();
        assert!(e.contains("did you mean 'product-bug'?"), "{e}");
        let e = parse("zzzzzz").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(
            e.contains("fixed-config") && e.contains("in-progress"),
            "{e}"
        );
    }

    #[test]
    fn ids_are_unique_and_lowercase() {
        let mut ids = ids();
        assert!(ids.iter().all(|i| *i == i.to_ascii_lowercase()));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all().len());
        assert!(all().iter().all(|o| !o.description.trim().is_empty()));
    }
}
