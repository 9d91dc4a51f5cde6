//! The RBAC `sg-debug rbac` prints is exact: the test API server enforces
//! it (an RBAC authorizer in `fake_kube.rs`), `collect` under it meets no
//! refusal, and without any one of its grants `collect` meets a 403 that
//! names that verb and resource, and `check` names it too.

#[path = "support/fake_graphql.rs"]
mod fake_graphql;
#[path = "support/fake_kube.rs"]
mod fake_kube;
mod support;

use std::path::Path;

use fake_graphql::{FakeSourcegraph, Instance};
use fake_kube::{FakeKube, Rbac, Scenario};
use sg_debug::bundle::Manifest;

/// What `sg-debug rbac -n sourcegraph --cluster ARGS` prints.
fn printed(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["rbac", "-n", "sourcegraph", "--cluster"];
    all.extend_from_slice(args);
    let r = support::sg(&all, dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

struct Outcome {
    code: i32,
    stderr: String,
    manifest: Option<Manifest>,
}

impl Outcome {
    /// Every error any collector recorded, and stderr.
    fn messages(&self) -> String {
        let mut m = self.stderr.clone();
        for c in self.manifest.iter().flat_map(|m| &m.collectors) {
            for e in &c.errors {
                m.push_str(&format!("\n{}: {}: {}", c.name, e.target, e.message));
            }
        }
        m
    }
}

/// The healthy deployment behind an API server that enforces `rbac`, with
/// the instance reachable through the service proxy (so that grant is
/// used too).
fn scenario(rbac: Rbac) -> Scenario {
    let mut s = Scenario::load("healthy");
    s.rbac = Some(rbac);
    s
}

/// `sg-debug ARGS --kubeconfig KC -n sourcegraph` with a site admin's
/// token, against `fake`.
fn run(fake: &FakeKube, dir: &Path, args: &[&str]) -> support::Run {
    let kc = fake.kubeconfig(dir, "default");
    let mut c = support::command(dir);
    c.args(args)
        .args(["--kubeconfig", kc.to_str().unwrap(), "-n", "sourcegraph"])
        .env("SRC_ACCESS_TOKEN", Instance::default().token);
    let out = c.output().unwrap();
    support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn collect_under(rbac: Rbac, extra: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let sg = FakeSourcegraph::start(Instance::default());
    let mut s = scenario(rbac);
    s.service_proxy = Some(sg.addr);
    let fake = FakeKube::start(s);
    let mut args = vec!["collect", "-c", "outage-crash", "-o", "out.zip"];
    args.extend_from_slice(extra);
    let r = run(&fake, dir.path(), &args);
    let zip = dir.path().join("out.zip");
    Outcome {
        code: r.code,
        stderr: r.stderr,
        manifest: zip.exists().then(|| support::read_bundle(&zip).0),
    }
}

fn assert_clean(o: &Outcome, what: &str) {
    assert_eq!(o.code, 0, "{what}: {}", o.stderr);
    let m = o.manifest.as_ref().expect("a bundle");
    let msgs = o.messages();
    assert!(!msgs.contains("forbidden"), "{what}: {msgs}");
    for c in &m.collectors {
        assert!(c.errors.is_empty(), "{what}: {}: {:?}", c.name, c.errors);
    }
    assert_eq!(m.collectors[0].name, "kubernetes");
    assert_eq!(m.collectors[0].status.as_str(), "ok", "{what}");
    assert_eq!(m.collectors[1].status.as_str(), "ok", "{what}: instance");
}

/// (verb, group, resource) of every grant in the YAML, and the YAML with
/// just that one resource removed from its rule.
fn without_each(yaml: &str) -> Vec<((String, String, String), Rbac)> {
    let full = Rbac::from_yaml(yaml);
    let mut out = Vec::new();
    let roles: Vec<Vec<fake_kube::PolicyRule>> = full
        .roles
        .iter()
        .map(|(_, r)| r.clone())
        .chain(full.cluster_roles.iter().cloned())
        .collect();
    for (ri, role) in roles.iter().enumerate() {
        for (i, rule) in role.iter().enumerate() {
            for (j, res) in rule.resources.iter().enumerate() {
                let mut less = full.clone();
                let target = if ri < full.roles.len() {
                    &mut less.roles[ri].1
                } else {
                    &mut less.cluster_roles[ri - full.roles.len()]
                };
                target[i].resources.remove(j);
                assert_eq!(rule.verbs.len(), 1);
                out.push((
                    (rule.verbs[0].clone(), rule.groups[0].clone(), res.clone()),
                    less,
                ));
            }
        }
    }
    out
}

#[test]
fn collect_under_exactly_the_printed_rules_meets_no_refusal() {
    let yaml = printed(&[]);
    let o = collect_under(Rbac::from_yaml(&yaml), &[]);
    assert_clean(&o, "all rules");
    // The rules were really enforced: nothing at all is refused.
    let o = collect_under(Rbac::default(), &[]);
    assert_ne!(o.code, 0);
    assert!(
        o.messages()
            .contains("missing RBAC permission to list pods in namespace sourcegraph"),
        "{}",
        o.messages()
    );
}

#[test]
fn the_smaller_rules_suffice_for_no_exec_and_no_secrets() {
    for flags in [
        &["--no-exec"][..],
        &["--no-secrets"],
        &["--no-exec", "--no-secrets"],
    ] {
        let yaml = printed(flags);
        let o = collect_under(Rbac::from_yaml(&yaml), flags);
        assert_clean(&o, &flags.join(" "));
    }
    // And they are smaller: without the flag, collect is refused.
    let o = collect_under(Rbac::from_yaml(&printed(&["--no-exec"])), &[]);
    assert!(
        o.messages().contains("to create pods/exec"),
        "{}",
        o.messages()
    );
}

/// How the client's 403 text names a grant: `list deployments.apps`.
fn named(verb: &str, group: &str, resource: &str) -> String {
    if group.is_empty() {
        format!("to {verb} {resource} ")
    } else {
        format!("to {verb} {resource}.{group} ")
    }
}

#[test]
fn without_any_one_rule_collect_is_refused_naming_it() {
    let yaml = printed(&[]);
    let cases = without_each(&yaml);
    assert!(cases.len() >= 15, "{}", cases.len());
    for ((verb, group, resource), less) in cases {
        let o = collect_under(less, &[]);
        let msgs = o.messages();
        let want = named(&verb, &group, &resource);
        assert!(
            msgs.contains(&want),
            "without {verb} {resource} ({group}): no 403 naming it ({want:?}): {msgs}"
        );
        let server = format!("cannot {verb} resource \"{resource}\" in API group \"{group}\"");
        assert!(msgs.contains(&server), "{server}: {msgs}");
    }
}
