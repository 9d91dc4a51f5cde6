//! The line pass: token formats, pairs, URLs and headers, PEM blocks,
//! long and binary lines.

use super::*;

#[test]
fn vendor_tokens() {
    let sgp = "sgp_0123456789abcdef_0123456789abcdef0123456789abcdef01234567";
    check(&format!("token {sgp} used"), &[sgp], &["token ", " used"]);
    check(
        "x sgp_local_0123456789abcdef0123456789abcdef01234567 y",
        &["0123456789abcdef0123456789abcdef01234567"],
        &[],
    );
    let sgd = format!("sgd_{}", "a1".repeat(32));
    check(&format!("dotcom {sgd}"), &[&sgd], &["dotcom"]);
    check(
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 is bad",
        &["ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"],
        &["is bad"],
    );
    check(
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        &["github_pat_11ABCDEFG"],
        &[],
    );
    check(
        "glpat-abcdefghij0123456789 ok",
        &["glpat-abcdefghij0123456789"],
        &["ok"],
    );
    check("AKIAIOSFODNN7EXAMPLE", &["AKIAIOSFODNN7EXAMPLE"], &[]);
    check(
        "key AIzaSyA1234567890abcdefghijklmnopqrstuv",
        &["AIzaSyA1234567890abcdefghijklmnopqrstuv"],
        &[],
    );
    check(
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        &["xoxb-123456789012"],
        &[],
    );
    check(
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        &["npm_abcdefghij"],
        &[],
    );
    check(
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
        &["sk-ant-api03-abcdef"],
        &[],
    );
    check(
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        &["sk-proj-abcdef"],
        &[],
    );
    check(
        "auth eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
        &["eyJhbGciOiJIUzI1NiJ9", "dozjgNryP4J3jVmNHl0w5N"],
        &["auth", "end"],
    );
}

#[test]
fn urls_headers_and_pairs() {
    check(
        "dsn postgres://sg:hunter2@pgsql:5432/sg?sslmode=disable",
        &["hunter2"],
        &["postgres://sg:", "@pgsql:5432/sg?sslmode=disable"],
    );
    check(
        "redis://:p4ss@redis-store:6379",
        &["p4ss"],
        &["redis-store:6379"],
    );
    check(
        "HTTPS_PROXY=http://user:pw123@proxy:3128",
        &["pw123"],
        &["proxy:3128"],
    );
    check(
        "Authorization: Bearer abc.def-ghi",
        &["abc.def-ghi"],
        &["Authorization: Bearer "],
    );
    check(
        "Authorization: token 0123456789abcdef0123456789abcdef01234567",
        &["0123456789abcdef0123456789abcdef01234567"],
        &[],
    );
    check(
        "Cookie: sgs=abc123; other=def456",
        &["abc123", "def456"],
        &["Cookie: "],
    );
    check(
        "GET /callback?code=x&access_token=tok123&client_secret=cs456&state=ok",
        &["tok123", "cs456"],
        &["state=ok"],
    );
    check(
        "host=pgsql user=sg password=libpqpw dbname=sg",
        &["libpqpw"],
        &["host=pgsql", "user=sg", "dbname=sg"],
    );
    check(
        "machine github.com login alice password netrcpw",
        &["netrcpw"],
        &["login alice"],
    );
    check(
        "export SOME_API_KEY=k3y-value",
        &["k3y-value"],
        &["SOME_API_KEY="],
    );
    check("PGPASSWORD=sg", &["=sg"], &["PGPASSWORD="]);
    check("--password=flagpw --user=bob", &["flagpw"], &["--user=bob"]);
    check(
        "  password: yaml secret phrase # comment",
        &["yaml secret phrase"],
        &["# comment"],
    );
    check(
        "{\"password\":\"jsonpw\",\"user\":\"alice\"}",
        &["jsonpw"],
        &["\"user\":\"alice\""],
    );
    check(
        r#"{"Body":"request {\"token\":\"esc4ped\",\"repo\":\"github.com/acme/api\"}"}"#,
        &["esc4ped"],
        &[r#"\"repo\":\"github.com/acme/api\""#],
    );
}

#[test]
fn identifiers_survive() {
    let keep = [
        "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b pushed",
        "image index.docker.io/sourcegraph/frontend:6.12.5040@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "uuid 123e4567-e89b-12d3-a456-426614174000 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
        "repo github.com/acme/api path /var/opt/sourcegraph/repos took 1.234s size 512Mi user alice",
        "2026-11-25T04:00:00Z level=info msg=\"cache key computed\" tokenizer=cl100k maxTokens=4000",
        "secretName: pgsql-auth existingSecret: sg-pgsql",
        "password: ${PGPASSWORD}",
    ];
    let r = redactor();
    for k in keep {
        let (out, counts) = line(&r, k);
        assert_eq!(out, k, "changed ({counts:?})");
    }
}

#[test]
fn same_secret_same_marker_in_a_run_and_not_across_runs() {
    let r = redactor();
    let (a, _) = line(&r, "PGPASSWORD=s3cret");
    let (b, _) = line(&r, "postgres://sg:s3cret@pgsql/sg");
    let hex = |s: &str| s.split(':').nth(2).unwrap()[..8].to_string();
    let ma = &a[a.find("[REDACTED").unwrap()..];
    let mb = &b[b.find("[REDACTED").unwrap()..];
    assert_eq!(hex(ma), hex(mb), "{a} / {b}");
    let other = Redactor::new(RuleSet::defaults());
    let (c, _) = line(&other, "PGPASSWORD=s3cret");
    assert_ne!(a, c);
    // Length is not revealed.
    let (short, _) = line(&r, "PGPASSWORD=x1");
    let (long, _) = line(&r, &format!("PGPASSWORD={}", "y".repeat(300)));
    assert_eq!(short.len(), long.len());
}

#[test]
fn redacting_twice_changes_nothing() {
    let r = redactor();
    let inputs = [
        "postgres://sg:hunter2@pgsql/sg Authorization: Bearer abc Cookie: a=b",
        "{\"password\":\"x\",\"token\":\"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789\"}",
        "  password: yaml secret phrase",
        "machine h login u password p",
    ];
    for i in inputs {
        let (once, _) = line(&r, i);
        let (twice, counts) = line(&r, &once);
        assert_eq!(once, twice);
        assert!(counts.is_empty(), "{counts:?}");
        let (other_run, _) = line(&Redactor::new(RuleSet::defaults()), &once);
        assert_eq!(once, other_run);
    }
}

/// A match whose value is the start of the next match (found by fuzzing):
/// the first `Authorization:`'s value is the word `Authorization:`, and
/// the token after the second one used to survive.
#[test]
fn a_value_that_starts_the_next_match_does_not_hide_it() {
    check(
        "Authorization: Bearer Authorization: Bearer tok3nVALUE",
        &["tok3nVALUE"],
        &["Authorization: Bearer "],
    );
    check(
        "x Authorization: Bearer a=authorization:Bearer tok3nVALUE y",
        &["tok3nVALUE"],
        &[" y"],
    );
    // Nested matches that add nothing cost one more look, and the line's
    // secrets are all still found.
    let many = "Cookie: ".repeat(5000) + "s3cret";
    check(&many, &["s3cret"], &[]);
}

/// A pretty-printed JSON line is not a YAML line: `"no_secrets": true,`
/// holds no secret (the value is `true`, the comma is JSON's).
#[test]
fn json_lines_end_their_values_at_the_comma() {
    let r = redactor();
    for keep in [
        "    \"no_secrets\": true,",
        "  \"token_count\": 3,",
        "\"password\": null,",
    ] {
        assert_eq!(line(&r, keep).0, keep);
    }
    check(
        "  \"password\": hunter2,",
        &["hunter2"],
        &["\"password\": ", ","],
    );
    // YAML keeps its rest-of-line values, with its keys quoted or not.
    check("password: two words", &["two words"], &["password: "]);
    check(
        "\"password\": two words",
        &["two", "words"],
        &["\"password\": "],
    );
}

/// Go prints a slice as `[a b]`: `password=[hunter2]` holds a secret.
#[test]
fn a_bracketed_value_is_redacted_inside_its_brackets() {
    check(
        "password=[hunter2] user=bob",
        &["hunter2"],
        &["password=[", "] user=bob"],
    );
    check("token=[\"s3cr3t\"]", &["s3cr3t"], &["token=[\""]);
    check("password=[[nested]]", &["nested"], &["password=[["]);
    // Empty lists and markers are not secrets.
    let r = redactor();
    for keep in ["password=[] ok", "password=[[[[ ok"] {
        assert_eq!(line(&r, keep).0, keep);
    }
}

/// A pair's value that stops at a marker's closing `]` (a list's end to
/// the value parser) used to redact the marker's front half on a second
/// pass, and the output changed on every run (found by fuzzing).
#[test]
fn a_value_ending_inside_a_marker_is_left_as_it_is() {
    let r = redactor();
    for input in [
        "SeCookie:  re:63@tcp(es:8//nCookie1 ge: x",
        "de=dCookie: eim1Nwe:63@tcp(80",
        "KEYKEYE=I:SRC_GIT_TOKEN=KX@tcp(Cookie:tokenPP",
    ] {
        let (once, _) = line(&r, input);
        let (twice, counts) = line(&r, &once);
        assert_eq!(once, twice, "input {input:?}");
        assert!(counts.is_empty(), "{counts:?}");
    }
}

#[test]
fn multi_line_pem_blocks_go_whole_and_certificates_stay() {
    let r = redactor();
    let input = "start\nkey: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n2026-11-25T00:00:00Z abcdEFGH1234+/==\n-----END RSA PRIVATE KEY----- tail\n-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----\nend\n";
    let (out, counts, _) = file(&r, "logs/x.log", input.as_bytes());
    assert!(
        !out.contains("MIIEowIBAAKCAQEA7bq") && !out.contains("abcdEFGH1234"),
        "{out}"
    );
    assert!(out.contains("key: [REDACTED:pem-private-key:"), "{out}");
    // The marker stands where the key began; its lines stay, empty.
    assert!(out.contains("]\n\n\n tail\n"), "{out}");
    assert_eq!(out.lines().count(), input.lines().count(), "{out}");
    assert!(out.contains("MIIDdzCCAl+gAwIBAgIE"), "{out}");
    assert!(
        out.starts_with("start\n") && out.ends_with("end\n"),
        "{out}"
    );
    assert_eq!(counts.get("pem-private-key"), Some(&1));
    // A key that never ends is still removed.
    let (out, _, _) = file(
        &r,
        "logs/x.log",
        b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqh\n",
    );
    assert!(!out.contains("MIIEvQIBADANBgkqh"), "{out}");
    // One-line (escaped) keys.
    let (out, _) = line(
        &r,
        r#"{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n"}"#,
    );
    assert!(!out.contains("MHcCAQEEIB"), "{out}");
}

#[test]
fn base64_private_keys_go_and_base64_certificates_stay() {
    use std::fmt::Write;
    let b64 = |s: &str| {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut o = String::new();
        for c in s.as_bytes().chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= c.len() {
                    o.write_char(T[(n >> (18 - 6 * i) & 63) as usize] as char)
                        .unwrap();
                } else {
                    o.push('=');
                }
            }
        }
        o
    };
    for kind in [
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ] {
        let enc = b64(&format!(
            "-----BEGIN {kind}-----\nMIIEabc\n-----END {kind}-----\n"
        ));
        check(&format!("SAML_KEY_B64={enc}"), &[&enc[..30]], &[]);
        check(&format!("value {enc} x"), &[&enc[..30]], &[" x"]);
    }
    let cert = b64("-----BEGIN CERTIFICATE-----\nMIIDdz\n-----END CERTIFICATE-----\n");
    let (out, _) = line(&redactor(), &format!("tls.crt {cert}"));
    assert!(out.contains(&cert), "{out}");
}

#[test]
fn over_long_lines_and_binary_lines_are_dropped_not_kept() {
    let r = redactor();
    let long = format!("token={}\nnext\n", "a".repeat(text::MAX_LINE + 10));
    let (out, counts, _) = file(&r, "logs/x.log", long.as_bytes());
    let expected = format!(
        "[sg-debug: removed a line of {} bytes, longer than the {}-byte redaction limit]\nnext\n",
        long.len() - 5,
        text::MAX_LINE
    );
    assert_eq!(out, expected);
    assert!(out.ends_with("next\n"));
    assert_eq!(counts.get(rules::RULE_LONG_LINE), Some(&1));
    let mut bin = b"ok\n".to_vec();
    bin.extend_from_slice(&vec![b'x'; 9000]);
    bin.extend_from_slice(b"\nnul\0here\nlast");
    let (out, counts, _) = file(&r, "logs/x.log", &bin);
    assert!(
        out.contains("binary content") && out.ends_with("last"),
        "{out:?}"
    );
    assert_eq!(counts.get(rules::RULE_BINARY_LINE), Some(&1));
}

#[test]
fn binary_artifacts_are_left_out() {
    let r = redactor();
    let a = Artifact {
        meta: ArtifactMeta {
            path: BundlePath::new("x.bin").unwrap(),
            kind: FileKind::Metadata,
            collector: "t".into(),
        },
        body: Body::Bytes(b"\x7fELF\0\0\0".to_vec()),
    };
    match r.redact(a) {
        Outcome::Omitted { reason, .. } => assert!(reason.contains("binary"), "{reason}"),
        Outcome::Kept(_) => panic!("binary kept"),
    }
}
