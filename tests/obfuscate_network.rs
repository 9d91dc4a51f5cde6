//! `--obfuscate-network`: addresses, hostnames and emails become
//! pseudonyms in the output, and the way back is written beside it, never
//! inside it.

#[path = "support/fake_docker.rs"]
mod fake_docker;
mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use support::sg;

fn all_entries(bundle: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    let mut all = String::new();
    for i in 0..zip.len() {
        zip.by_index(i).unwrap().read_to_string(&mut all).unwrap();
    }
    all
}

fn map(path: &Path) -> Value {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "the map is private"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn original_of(map: &Value, pseudonym: &str) -> String {
    map["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["pseudonym"] == pseudonym)
        .unwrap_or_else(|| panic!("{pseudonym} not in {map:#}"))["original"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn redact_replaces_addresses_and_writes_the_map_beside_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = "2026-11-26T10:00:00Z gitserver: clone from git@ghe.acme-corp.com:platform/api failed: dial tcp 10.4.0.17:22: i/o timeout\n\
               2026-11-26T10:00:01Z frontend: password reset mail to jane.doe@acme-corp.com; retry 10.4.0.17 (repo github.com/acme/widgets@4b825dc642cb6eb9a060e54bf8d69288fbee4904) from 127.0.0.1\n\
               2026-11-26T10:00:02Z frontend: db postgres://sg:hunter2-db-pass@pgsql.acme-corp.internal:5432/sg\n";
    std::fs::write(dir.path().join("frontend.log"), log).unwrap();

    // Off by default: debugging needs addresses.
    let r = sg(&["redact", "frontend.log", "-o", "plain.log"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plain = std::fs::read_to_string(dir.path().join("plain.log")).unwrap();
    assert!(plain.contains("10.4.0.17") && plain.contains("jane.doe@acme-corp.com"));
    assert!(!dir.path().join("plain.log.network-map.json").exists());

    let r = sg(
        &[
            "redact",
            "frontend.log",
            "-o",
            "out.log",
            "--obfuscate-network",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("out.log.network-map.json"),
        "{}",
        r.stdout
    );
    let out = std::fs::read_to_string(dir.path().join("out.log")).unwrap();
    for gone in [
        "10.4.0.17",
        "ghe.acme-corp.com",
        "jane.doe@acme-corp.com",
        "pgsql.acme-corp.internal",
        "hunter2-db-pass",
    ] {
        assert!(!out.contains(gone), "{gone} survived: {out}");
    }
    // One address, one pseudonym; what debugging needs stays.
    assert_eq!(out.matches("ip-1").count(), 2, "{out}");
    assert!(out.contains("git@host-1.invalid:platform/api"), "{out}");
    assert!(out.contains("github.com/acme/widgets@4b825dc642cb6eb9a060e54bf8d69288fbee4904"));
    assert!(out.contains("from 127.0.0.1"));
    assert!(out.contains("2026-11-26T10:00:01Z"));
    assert!(
        out.contains("[REDACTED:"),
        "secrets are still redacted: {out}"
    );
    let m = map(&dir.path().join("out.log.network-map.json"));
    assert_eq!(original_of(&m, "ip-1"), "10.4.0.17");
    assert_eq!(original_of(&m, "host-1.invalid"), "ghe.acme-corp.com");
    assert_eq!(
        original_of(&m, "user-1@email.invalid"),
        "jane.doe@acme-corp.com"
    );
    assert!(
        r.stdout.contains("network-ip"),
        "counts by rule: {}",
        r.stdout
    );
}

#[test]
fn collect_obfuscates_the_bundle_and_keeps_the_map_outside_it() {
    let fake = fake_docker::start();
    let work = tempfile::tempdir().unwrap();
    let r = sg(
        &[
            "collect",
            "-c",
            "networking-tls",
            "-o",
            "b.zip",
            "--docker-host",
            &fake.url,
            "--timeout",
            "1s",
            "--obfuscate-network",
        ],
        work.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = work.path().join("b.zip");
    let all = all_entries(&bundle);
    for a in fake_docker::ADDRESSES {
        assert!(!all.contains(a), "{a} is in the bundle");
    }
    assert!(!all.contains("network-map"), "the map is not in the bundle");
    assert!(
        all.contains("SRC_GIT_SERVERS=ip-1:3178"),
        "consistent pseudonyms"
    );
    let manifest: Value = {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&bundle).unwrap()).unwrap();
        let mut s = String::new();
        zip.by_index(0).unwrap().read_to_string(&mut s).unwrap();
        serde_json::from_str(&s).unwrap()
    };
    assert_eq!(manifest["options"]["obfuscate_network"], true);
    // Loopback says nothing about the customer and stays.
    assert_eq!(manifest["deployment"]["location"]["docker_host"], fake.url);
    let m = map(&work.path().join("b.zip.network-map.json"));
    assert_eq!(original_of(&m, "ip-1"), "10.20.30.40");
    assert!(r.stderr.contains("b.zip.network-map.json"), "{}", r.stderr);
    let v = sg(&["inspect", "b.zip", "--verify"], work.path());
    assert_eq!(v.code, 0, "{}", v.stderr);
}
