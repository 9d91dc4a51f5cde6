//! The incident taxonomy. Every bundle carries exactly one category so the
//! support team can count triage effort per kind of incident (`sg-debug report`).
//! The set is fixed on purpose: free-form labels cannot be counted.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Category {
    pub id: &'static str,
    pub description: &'static str,
    pub symptoms: &'static str,
}

pub const CATEGORIES: &[Category] = &[
    Category {
        id: "upgrade-migration",
        description: "An upgrade or database migration failed or left the instance unhealthy",
        symptoms: "migrator exits non-zero, 'dirty database' errors, version skew between services",
    },
    Category {
        id: "performance-resources",
        description: "The instance is slow or starved of CPU, memory or I/O",
        symptoms: "slow pages, OOMKilled pods, CPU throttling, high latency alerts",
    },
    Category {
        id: "search",
        description: "Search returns wrong, partial or no results, or times out",
        symptoms: "zoekt/searcher errors, missing results, indexing lag, search timeouts",
    },
    Category {
        id: "code-intelligence",
        description: "Precise or search-based code navigation does not work",
        symptoms: "SCIP upload failures, precise-code-intel-worker errors, missing hovers",
    },
    Category {
        id: "repository-sync",
        description: "Repositories are not cloned, fetched or updated from the code host",
        symptoms: "gitserver clone errors, stale repositories, code host rate limits",
    },
    Category {
        id: "authentication",
        description: "Users cannot sign in, or permissions are wrong",
        symptoms: "SAML/OIDC/OAuth errors, SCIM failures, permission sync lag",
    },
    Category {
        id: "licensing",
        description: "License key, seat count or feature entitlement problems",
        symptoms: "license expired or invalid, features disabled, seat limit warnings",
    },
    Category {
        id: "storage-disk",
        description: "Volumes are full, slow or lost",
        symptoms: "disk pressure, 'no space left on device', PVC resize, gitserver disk alerts",
    },
    Category {
        id: "networking-tls",
        description: "Connectivity, DNS, proxy, ingress or certificate problems",
        symptoms: "x509 errors, 502/504 from the ingress, proxy timeouts, DNS failures",
    },
    Category {
        id: "database",
        description: "PostgreSQL (frontend, codeintel, codeinsights) is unhealthy or unreachable",
        symptoms: "connection refused, too many connections, slow queries, bloat",
    },
    Category {
        id: "deployment-config",
        description: "Site configuration, manifests, Helm values or compose files are wrong",
        symptoms: "pods that never become ready, invalid site config, drift from upstream",
    },
    Category {
        id: "outage-crash",
        description: "The instance or a service is down or crash-looping",
        symptoms: "CrashLoopBackOff, containers restarting, the whole site unreachable",
    },
    Category {
        id: "other",
        description: "None of the above; say what happened in --note",
        symptoms: "anything else",
    },
];

pub fn find(id: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.id == id)
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
    CATEGORIES.iter().map(|c| c.id).collect()
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
        assert_eq!(ids.len(), CATEGORIES.len());
    }
}
