//! The Kubernetes permissions `collect` uses, as data: what `sg-debug rbac`
//! prints (a ServiceAccount, Role and RoleBinding, and with `--cluster` a
//! ClusterRole and binding), and what `sg-debug check` asks the API server
//! about. Derived from the kinds the collector lists (`objects`), so a new
//! kind is granted as soon as it is collected.

use super::objects::{CLUSTER, NAMESPACED};

/// One rule: verbs on resources of one API group, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub group: &'static str,
    pub resources: Vec<&'static str>,
    pub verb: &'static str,
    /// Namespaced (a Role) or cluster-scoped (a ClusterRole).
    pub cluster: bool,
    /// What the bundle holds thanks to this rule, and what it lacks without.
    pub why: String,
}

/// What to leave out of the grant (the collector's matching flags).
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope {
    /// Nodes, persistent volumes and storage classes (cluster-scoped).
    pub cluster: bool,
    /// `--no-exec`: no `pods/exec`.
    pub no_exec: bool,
    /// `--no-secrets`: no Secrets listed.
    pub no_secrets: bool,
}

/// What a bundle misses without Secrets (`collect --no-secrets`).
pub const WITHOUT_SECRETS: &str = "the Helm release (chart, version, the values it was installed with), Secret names and key names, and flavour detection from Helm's release Secrets";

/// The rules, in the order they are printed.
pub fn rules(scope: Scope) -> Vec<Rule> {
    let mut out = Vec::new();
    // One list rule per API group, Secrets apart so they can be left out.
    let mut groups: Vec<&'static str> = Vec::new();
    for k in NAMESPACED {
        if !groups.contains(&k.group) {
            groups.push(k.group);
        }
    }
    for g in groups {
        let resources: Vec<&'static str> = NAMESPACED
            .iter()
            .filter(|k| k.group == g && k.plural != "secrets")
            .map(|k| k.plural)
            .collect();
        out.push(Rule {
            group: g,
            resources,
            verb: "list",
            cluster: false,
            why: format!(
                "the namespace's {}, into kubernetes/namespace/<plural>.json",
                if g.is_empty() {
                    "core objects".to_string()
                } else {
                    format!("{g} objects")
                }
            ),
        });
    }
    if !scope.no_secrets {
        out.push(Rule {
            group: "",
            resources: vec!["secrets"],
            verb: "list",
            cluster: false,
            why: format!(
                "{WITHOUT_SECRETS}; values are never collected. Without it, run collect --no-secrets"
            ),
        });
    }
    out.push(Rule {
        group: "",
        resources: vec!["pods/log"],
        verb: "get",
        cluster: false,
        why: "container logs (current and previous)".into(),
    });
    if !scope.no_exec {
        out.push(Rule {
            group: "",
            resources: vec!["pods/exec"],
            verb: "create",
            cluster: false,
            why: "volume disk use (`df` in one container per pod with claims). Without it, run collect --no-exec".into(),
        });
    }
    out.push(Rule {
        group: "",
        resources: vec!["services/proxy"],
        verb: "create",
        cluster: false,
        why: "the instance's site configuration, code hosts and license through the frontend's Service (the instance collector without --sourcegraph-url)".into(),
    });
    out.push(Rule {
        group: "metrics.k8s.io",
        resources: vec!["pods"],
        verb: "list",
        cluster: false,
        why: "memory and CPU use of each pod (when metrics-server runs)".into(),
    });
    if scope.cluster {
        let mut groups: Vec<&'static str> = Vec::new();
        for k in CLUSTER {
            if !groups.contains(&k.group) {
                groups.push(k.group);
            }
        }
        for g in groups {
            out.push(Rule {
                group: g,
                resources: CLUSTER
                    .iter()
                    .filter(|k| k.group == g)
                    .map(|k| k.plural)
                    .collect(),
                verb: "list",
                cluster: true,
                why: "node capacity and pressure, the volumes behind the namespace's claims, storage classes".into(),
            });
        }
    }
    out
}

/// Every (verb, group, resource) the rules grant, one per resource.
pub fn grants(rules: &[Rule]) -> Vec<(&'static str, &'static str, &'static str, bool)> {
    rules
        .iter()
        .flat_map(|r| {
            r.resources
                .iter()
                .map(|res| (r.verb, r.group, *res, r.cluster))
        })
        .collect()
}

/// The manifests, as one multi-document YAML, with comments saying why
/// each rule is there.
pub fn manifests(namespace: &str, account: &str, scope: Scope) -> String {
    let rules = rules(scope);
    let mut y = String::new();
    y.push_str(&format!(
        "# What `sg-debug collect -n {namespace}` reads, read-only, and nothing else.\n\
         # Apply: kubectl apply -f THIS_FILE\n\
         # Then collect as the service account (kubectl create token {account} -n {namespace}),\n\
         # or bind the Role to your own user instead of the service account below.\n"
    ));
    if !scope.cluster {
        y.push_str(
            "# Cluster-scoped facts (nodes, persistent volumes, storage classes) need --cluster.\n",
        );
    }
    y.push_str("# Give collect -n: finding the namespace on its own lists pods cluster-wide.\n");
    y.push_str(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {account}\n  namespace: {namespace}\n"
    ));
    let rule_yaml = |r: &Rule| {
        format!(
            "  # {}\n  - apiGroups: [\"{}\"]\n    resources: [{}]\n    verbs: [{}]\n",
            r.why,
            r.group,
            r.resources.join(", "),
            r.verb
        )
    };
    y.push_str(&format!(
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {account}\n  namespace: {namespace}\nrules:\n"
    ));
    for r in rules.iter().filter(|r| !r.cluster) {
        y.push_str(&rule_yaml(r));
    }
    let subject = format!(
        "subjects:\n  - kind: ServiceAccount\n    name: {account}\n    namespace: {namespace}\n"
    );
    y.push_str(&format!(
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {account}\n  namespace: {namespace}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: {account}\n{subject}"
    ));
    if scope.cluster {
        let name = format!("{account}-{namespace}");
        y.push_str(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}\nrules:\n"
        ));
        for r in rules.iter().filter(|r| r.cluster) {
            y.push_str(&rule_yaml(r));
        }
        y.push_str(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {name}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {name}\n{subject}"
        ));
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The printed YAML is what the rules say: parsed back, every rule's
    /// group, resources and verb, and nothing but read verbs and exec.
    #[test]
    fn manifests_hold_exactly_the_rules() {
        for scope in [
            Scope::default(),
            Scope {
                cluster: true,
                no_exec: true,
                no_secrets: true,
            },
        ] {
            let text = manifests("sg", "sg-debug", scope);
            let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
            let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
            let mut want = vec!["ServiceAccount", "Role", "RoleBinding"];
            if scope.cluster {
                want.extend(["ClusterRole", "ClusterRoleBinding"]);
            }
            assert_eq!(kinds, want);
            let mut printed = Vec::new();
            for d in docs
                .iter()
                .filter(|d| d["kind"].as_str().unwrap().ends_with("Role"))
            {
                let cluster = d["kind"] == "ClusterRole";
                for r in d["rules"].as_array().unwrap() {
                    let verbs = r["verbs"].as_array().unwrap();
                    assert_eq!(verbs.len(), 1);
                    let verb = verbs[0].as_str().unwrap().to_string();
                    for res in r["resources"].as_array().unwrap() {
                        printed.push((
                            verb.clone(),
                            r["apiGroups"][0].as_str().unwrap().to_string(),
                            res.as_str().unwrap().to_string(),
                            cluster,
                        ));
                    }
                }
            }
            let want: Vec<(String, String, String, bool)> = grants(&rules(scope))
                .into_iter()
                .map(|(v, g, r, c)| (v.into(), g.into(), r.into(), c))
                .collect();
            assert_eq!(printed, want);
            assert!(printed.iter().all(|(v, _, r, _)| v == "list"
                || v == "get"
                || (v == "create" && (r == "pods/exec" || r == "services/proxy"))));
            assert_eq!(
                printed.iter().any(|(_, _, r, _)| r == "secrets"),
                !scope.no_secrets
            );
            assert_eq!(
                printed.iter().any(|(_, _, r, _)| r == "pods/exec"),
                !scope.no_exec
            );
        }
    }
}
