//! `--obfuscate-network`: pseudonyms, consistency, the bound on memory.

use std::io::Read;

use super::reader::MAX_PIECE;
use super::*;

fn run(text: &str) -> (String, NetworkObfuscator, RedactionCounts) {
    let n = NetworkObfuscator::new();
    let c = RedactionCounts::default();
    let out = n.obfuscate(text, &c);
    (out, n, c)
}

#[test]
fn addresses_hosts_and_emails_get_consistent_pseudonyms() {
    let (out, n, c) = run(
        "dial tcp 10.12.0.7:5432 from 10.12.0.9; again 10.12.0.7 via [fd00:1::7]:80 \
         host=pgsql.acme.internal admin=Jane.Doe@acme-corp.com git@ghe.acme.com:org/repo",
    );
    assert_eq!(
        out,
        "dial tcp ip-1:5432 from ip-2; again ip-1 via [ip-3]:80 \
         host=host-1.invalid admin=user-1@email.invalid git@host-2.invalid:org/repo"
    );
    let counts = c.snapshot();
    assert_eq!(counts["network-ip"], 4);
    assert_eq!(counts["network-host"], 2);
    assert_eq!(counts["network-email"], 1);
    let m = n.mappings();
    assert_eq!(m[0].original, "10.12.0.7");
    assert_eq!(m[0].pseudonym, "ip-1");
}

#[test]
fn what_debugging_needs_survives() {
    let keep = "version 6.12.5040 go1.22.4 v1.2.3.4.5 127.0.0.1:3080 0.0.0.0 [::1]:80 \
        2026-11-26T13:43:06.651Z 13:43:06 aa:bb:cc:dd:ee:ff std::string \
        github.com/acme/widgets index.docker.io/sourcegraph/frontend api.github.com \
        site-config.json docker-compose.override.yaml README.md main.go \
        sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904 [REDACTED:url-password:1a2b3c4d] \
        pgsql:5432 sourcegraph-frontend-0 ip-1 host-2.invalid user-1@email.invalid";
    let (out, _, c) = run(keep);
    assert_eq!(out, keep, "{:?}", c.snapshot());
}

#[test]
fn obfuscating_twice_changes_nothing_more() {
    let n = NetworkObfuscator::new();
    let c = RedactionCounts::default();
    let once = n.obfuscate("a 192.168.1.20 b build.acme.io c ops@acme.io", &c);
    let twice = n.obfuscate(&once, &c);
    assert_eq!(once, twice);
}

#[test]
fn the_reader_streams_lines_and_long_lines() {
    let n = NetworkObfuscator::new();
    let c = RedactionCounts::default();
    let mut input = "first 10.0.0.1\n".to_string();
    input.push_str(&"x ".repeat(MAX_PIECE));
    input.push_str("10.0.0.2 end\nlast 10.0.0.1");
    let mut r = NetworkReader::new(io::Cursor::new(input.clone()), n, c.clone());
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("first ip-1\n"));
    assert!(
        out.ends_with("ip-2 end\nlast ip-1"),
        "{}",
        &out[out.len() - 40..]
    );
    assert_eq!(
        out.len(),
        input.len() - 3 * "10.0.0.1".len() + 3 * "ip-1".len()
    );
    assert_eq!(c.snapshot()["network-ip"], 3);
}

#[test]
fn memory_is_bounded_past_the_numbered_pseudonyms() {
    let net = NetworkObfuscator::new();
    let counts = RedactionCounts::default();
    let ip = |i: usize| format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let mut past = Vec::new();
    for i in 0..MAX_NUMBERED + 3 {
        let out = net.obfuscate(&format!("from {}", ip(i)), &counts);
        if i >= MAX_NUMBERED {
            past.push(out);
        }
    }
    {
        let st = net.state.lock().unwrap();
        assert_eq!(st.order.len(), MAX_NUMBERED, "no more kept in memory");
    }
    // Past the bound: hashed, still consistent, still hiding the value.
    for (k, out) in past.iter().enumerate() {
        let i = MAX_NUMBERED + k;
        assert!(out.starts_with("from ip-x"), "{out}");
        assert!(!out.contains(&ip(i)), "{out}");
        assert_eq!(
            net.obfuscate(&format!("again {}", ip(i)), &counts),
            format!("again {}", &out[5..])
        );
    }
    assert_eq!(net.obfuscate("from 10.0.0.1", &counts), "from ip-2");
    // And in the map, once each.
    let dir = tempfile::tempdir().unwrap();
    let map = net.write_map(&dir.path().join("out")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(map).unwrap()).unwrap();
    let m = v["mappings"].as_array().unwrap();
    assert_eq!(m.len(), MAX_NUMBERED + 3);
    assert_eq!(m[MAX_NUMBERED]["original"], ip(MAX_NUMBERED).as_str());
    assert_eq!(m[MAX_NUMBERED]["pseudonym"], &past[0][5..]);
}
