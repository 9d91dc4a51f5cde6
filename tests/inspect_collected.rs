//! Findings on bundles the collectors really write (from the fake API
//! server's scenarios), on Kubernetes events, and on hostile log lines.

mod support;

#[path = "support/findings.rs"]
mod findings_support;

#[path = "support/fake_kube.rs"]
mod fake_kube;

use findings_support::*;
use serde_json::{Value, json};
use support::*;

/// Bundles the Kubernetes collector really writes (from the fake API
/// server's scenarios), not only hand-made ones.
mod collected {
    use super::*;
    use crate::fake_kube::{FakeKube, Scenario};

    fn collect_and_inspect(scenario: &str) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeKube::start(Scenario::load(scenario));
        let kc = fake.kubeconfig(dir.path(), "sourcegraph");
        let r = sg(
            &[
                "collect",
                "-c",
                "search",
                "-o",
                "out.zip",
                "--kubeconfig",
                kc.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(
            dir.path().join("out.zip").exists(),
            "no bundle: {}",
            r.stderr
        );
        let bundle = dir.path().join("out.zip");
        // The text view leads with the findings, then the summary.
        let r = sg(&["inspect", bundle.to_str().unwrap()], dir.path());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let findings = r.stdout.find("Findings").unwrap();
        assert!(
            findings < r.stdout.find("Bundle      ").unwrap(),
            "{}",
            r.stdout
        );
        println!("{scenario}:\n{}", r.stdout);
        inspect_json(dir.path(), &bundle, &[])
    }

    #[test]
    fn collected_kubernetes_bundles() {
        let v = collect_and_inspect("healthy");
        let critical: Vec<&Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "critical")
            .collect();
        assert!(critical.is_empty(), "healthy: {critical:#?}");
        assert!(
            v["logs"]["entries"].as_u64().unwrap() >= 3,
            "{:#}",
            v["logs"]
        );

        let v = collect_and_inspect("oomkilled");
        let f = one(&v, "container-oom-killed");
        assert!(
            f["evidence"][0]["object"]
                .as_str()
                .unwrap()
                .starts_with("rows[name=gitserver-0/gitserver"),
            "{f}"
        );

        let v = collect_and_inspect("crashloop");
        let f = one(&v, "container-crashloop");
        assert!(f["title"].as_str().unwrap().contains("7 restarts"), "{f}");
        assert_eq!(
            v["category_hint"]["points_to"], "outage-crash",
            "{:#}",
            v["findings"]
        );

        let v = collect_and_inspect("pending");
        let f = one(&v, "pod-unschedulable");
        assert!(
            f["title"].as_str().unwrap().contains(
                "indexed-search-0 is Pending: 0/2 nodes are available: 2 Insufficient memory"
            ),
            "{f}"
        );
    }
}

#[test]
fn long_lines_and_escapes_in_logs_are_bounded_and_shown_safely() {
    let dir = tempfile::tempdir().unwrap();
    // A 2 MiB line with no newline at the end: read up to the bound, still matched.
    let mut long = b"2025-11-25T04:00:01Z x509: certificate signed by unknown authority ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 2 << 20));
    let evil =
        b"2025-11-25T04:00:02Z level=error msg=\"\x1b]0;owned\x07 no space left on device\"\n"
            .to_vec();
    let mut log = evil;
    log.extend(long);
    let files = with(vec![("kubernetes/pods/gitserver-0/gitserver.log", log)]);
    let b = bundle(dir.path(), "l.zip", "other", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    assert_eq!(v["logs"]["long_lines"], 1);
    // These two, and the healthy frontend's 51.
    assert_eq!(v["logs"]["lines"], 2 + 51);
    let f = one(&v, "x509-unknown-authority");
    assert_eq!(f["evidence"][0]["line"], 2);
    assert!(f["evidence"][0]["text"].as_str().unwrap().len() <= 300);
    let r = sg(&["inspect", b.to_str().unwrap()], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\\u{1b}]0;owned"), "{}", r.stdout);
}

#[test]
fn kubernetes_events_evictions_and_mounts() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |reason: &str, kind: &str, name: &str, msg: &str, count: u64| {
        json!({"kind": "Event", "type": kind, "reason": reason, "message": msg, "count": count,
               "involvedObject": {"kind": "Pod", "name": name},
               "firstTimestamp": "2025-11-25T03:00:00Z", "lastTimestamp": "2025-11-25T03:59:00Z"})
    };
    let events = json!({"kind": "List", "items": [
        ev("Started", "Normal", "gitserver-0", "Started container gitserver", 1),
        ev("Evicted", "Warning", "searcher-0", "The node was low on resource: ephemeral-storage.", 1),
        ev("FailedMount", "Warning", "gitserver-0", "MountVolume.SetUp failed for volume \"pvc-1\": timed out", 4),
        ev("FailedAttachVolume", "Warning", "pgsql-0", "AttachVolume.Attach failed for volume \"pvc-2\"", 1),
    ]});
    let files = with(vec![(
        "kubernetes/namespace/events.json",
        json_bytes(&events),
    )]);
    let b = bundle(dir.path(), "e.zip", "storage-disk", "kubernetes", &files);
    let v = inspect_json(dir.path(), &b, &[]);
    let f = one(&v, "pod-evicted");
    assert_eq!(f["category"], "performance-resources");
    assert_eq!(
        f["evidence"][0]["entry"],
        "kubernetes/namespace/events.json"
    );
    assert_eq!(f["evidence"][0]["object"], "Pod searcher-0");
    assert_eq!(f["evidence"][0]["field"], "items[1].reason");
    let f = one(&v, "volume-mount-failed");
    assert_eq!(f["category"], "storage-disk");
    assert_eq!(f["count"], 5);
    assert_eq!(f["evidence"].as_array().unwrap().len(), 2);
    assert_eq!(f["first_seen"], "2025-11-25T03:00:00Z");
    assert_eq!(ids(&v).len(), 2, "{:?}", ids(&v));
}
