//! How a debugging session ended: a closed set, like the incident
//! categories, so that the report can count effort per outcome. Free-form
//! outcomes cannot be counted; what happened in detail goes in the root
//! cause and the note.

use serde::Serialize;

use crate::category;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub id: &'static str,
    pub description: &'static str,
}

pub const OUTCOMES: &[Outcome] = &[
    Outcome {
        id: "fixed-config",
        description: "Fixed by a configuration change (site config, Helm values, manifests, compose file, environment)",
    },
    Outcome {
        id: "fixed-upgrade",
        description: "Fixed by upgrading Sourcegraph (or finishing an upgrade)",
    },
    Outcome {
        id: "fixed-infrastructure",
        description: "Fixed outside Sourcegraph: resources, disks, network, DNS, certificates, code host",
    },
    Outcome {
        id: "product-bug",
        description: "A product bug: filed with engineering (put the issue link in --doc or --note)",
    },
    Outcome {
        id: "documentation-gap",
        description: "The documentation was missing or wrong (put the page in --doc); counted under documentation gaps",
    },
    Outcome {
        id: "workaround",
        description: "A workaround was given; the cause remains",
    },
    Outcome {
        id: "cannot-reproduce",
        description: "Could not reproduce, or it went away by itself",
    },
    Outcome {
        id: "duplicate",
        description: "A duplicate of another incident (name it in --note)",
    },
    Outcome {
        id: "in-progress",
        description: "Not resolved yet: effort so far; record again when it ends",
    },
];

pub fn find(id: &str) -> Option<&'static Outcome> {
    OUTCOMES.iter().find(|o| o.id == id)
}

pub fn ids() -> Vec<&'static str> {
    OUTCOMES.iter().map(|o| o.id).collect()
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
        assert_eq!(ids.len(), OUTCOMES.len());
    }
}
