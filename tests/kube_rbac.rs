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
use serde_json::Value;
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
    support::Run::from(c.output().unwrap())
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

/// `check --json` under `rbac`.
fn check_under(rbac: Rbac, extra: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(scenario(rbac));
    let mut args = vec!["check", "--json"];
    args.extend_from_slice(extra);
    let r = run(&fake, dir.path(), &args);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("check --json: {e}: {}\n{}", r.stdout, r.stderr));
    (r.code, v)
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
        let o = collect_under(less.clone(), &[]);
        let msgs = o.messages();
        let want = named(&verb, &group, &resource);
        assert!(
            msgs.contains(&want),
            "without {verb} {resource} ({group}): no 403 naming it ({want:?}): {msgs}"
        );
        let server = format!("cannot {verb} resource \"{resource}\" in API group \"{group}\"");
        assert!(msgs.contains(&server), "{server}: {msgs}");
        // And check names exactly that one, asked not tried.
        let (code, v) = check_under(less, &[]);
        let denied: Vec<(&str, &str, &str)> = v["kubernetes"]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["allowed"] != true)
            .map(|p| {
                (
                    p["verb"].as_str().unwrap(),
                    p["group"].as_str().unwrap(),
                    p["resource"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            denied,
            [(verb.as_str(), group.as_str(), resource.as_str())],
            "{v}"
        );
        // Without listing pods nothing is found: no bundle at all.
        let (want, verdict) = match (verb.as_str(), resource.as_str()) {
            ("list", "pods") if group.is_empty() => (1, "cannot-run"),
            _ => (3, "partial"),
        };
        assert_eq!(code, want, "{v}");
        assert_eq!(v["verdict"], verdict);
        let missing = v["missing"].to_string();
        assert!(missing.contains("would miss"), "{missing}");
    }
}

#[test]
fn check_asks_the_server_and_says_complete_under_the_printed_rules() {
    let yaml = printed(&[]);
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(Rbac::from_yaml(&yaml));
    let (seen, reviews) = (s.seen.clone(), s.reviews.clone());
    let fake = FakeKube::start(s);
    let r = run(&fake, dir.path(), &["check", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verdict"], "complete");
    assert_eq!(v["target"], "kubernetes");
    let k = &v["kubernetes"];
    assert_eq!(k["context"], "fake");
    assert_eq!(k["server"], fake.url());
    assert_eq!(k["user"], fake_kube::USER);
    assert_eq!(k["namespace"], "sourcegraph");
    let d = &v["deployment"];
    assert_eq!(d["version"], "6.12.5040");
    assert_eq!(d["flavour"], "kustomize");
    assert_eq!(
        d["members"][0], "sourcegraph-frontend-7d9c8b6f5-x2x4k",
        "{d}"
    );
    // Every grant asked once, by review: nothing was tried.
    let grants = Rbac::from_yaml(&yaml);
    let n: usize = grants
        .roles
        .iter()
        .flat_map(|(_, r)| r)
        .chain(grants.cluster_roles.iter().flatten())
        .map(|r| r.resources.len())
        .sum();
    assert_eq!(reviews.lock().unwrap().len(), n);
    let seen = seen.lock().unwrap();
    assert!(
        !seen
            .iter()
            .any(|p| p.contains("/log") || p.contains("/exec") || p.contains("/nodes")),
        "{seen:?}"
    );
    drop(seen);

    // The same as text, and as collect --dry-run, which writes nothing.
    let r = run(&fake, dir.path(), &["collect", "--dry-run", "-o", "x.zip"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!dir.path().join("x.zip").exists());
    for needle in [
        "kubernetes: context fake on http://127.0.0.1",
        "user: system:serviceaccount:sourcegraph:support-bot",
        "granted  create pods/exec in namespace sourcegraph",
        "granted  list nodes cluster-wide",
        "verdict: complete",
    ] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }
}

#[test]
fn check_without_exec_says_partial_and_what_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(scenario(Rbac::from_yaml(&printed(&["--no-exec"]))));
    let r = run(&fake, dir.path(), &["check"]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("MISSING  create pods/exec in namespace sourcegraph"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("volume disk use"), "{}", r.stdout);
    // With --no-exec the smaller grant is complete.
    let r = run(&fake, dir.path(), &["check", "--no-exec"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // --json only with the preflight.
    let r = run(&fake, dir.path(), &["collect", "-c", "other", "--json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn check_cannot_run_when_nothing_is_found() {
    let dir = tempfile::tempdir().unwrap();
    // Listing pods refused: detection cannot run.
    let fake = FakeKube::start(scenario(Rbac::default()));
    let r = run(&fake, dir.path(), &["check", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verdict"], "cannot-run");
    assert_eq!(v["kubernetes"]["context"], "fake");
    assert!(v["deployment"].is_null());
    assert!(
        v["problems"][0]
            .as_str()
            .unwrap()
            .contains("missing RBAC permission to list pods in namespace sourcegraph"),
        "{v}"
    );
}

#[test]
fn check_in_auto_mode_says_what_both_kinds_lack() {
    // A cluster without Sourcegraph, found through KUBECONFIG (auto mode),
    // and no Docker: both are told.
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start(Scenario::default());
    let kc = fake.kubeconfig(dir.path(), "sourcegraph");
    let out = support::command(dir.path())
        .args(["check", "--json"])
        .env("KUBECONFIG", &kc)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let r = support::Run::from(out);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verdict"], "cannot-run");
    assert!(v["target"].is_null());
    let problems = v["problems"].to_string();
    assert!(
        problems.contains("kubernetes: no pods labelled deploy=sourcegraph")
            && problems.contains("docker: "),
        "{problems}"
    );
    assert_eq!(v["kubernetes"]["context"], "fake");
    assert_eq!(v["docker"]["reachable"], false);
}
