//! Classes of bug the fuzzers found, one test each (their inputs are
//! kept under fuzz/regressions/).

use super::*;

/// A file the parser refused can parse once the line pass put a marker
/// where the offending text was. It is then redacted by structure as
/// well, in the same pass: a second pass did it before, and so found more
/// (not idempotent; found by fuzzing), and the value on the line after its
/// key stayed in the first pass's output.
#[test]
fn line_pass_output_that_parses_is_redacted_by_structure_too() {
    let r = redactor();
    let body = b"token:\n  abc123def\npassword: x: y\n";
    let (out, notes) = config_bytes(&r, "k8s/values.yaml", body);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        !text.contains("abc123def") && !text.contains("x: y"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(notes[0].contains("redacted line by line"), "{notes:?}");
    assert!(notes[1].contains("then by structure"), "{notes:?}");
    let (again, _) = config_bytes(&r, "k8s/values.yaml", &out);
    assert_eq!(again, out, "a second pass changed it");
}

/// A netrc password holding a byte that is not UTF-8 stopped the rule's
/// match: the password stayed, and once another rule's marker replaced
/// part of it, a second pass matched and redacted that marker again
/// (found by fuzzing). Rules match bytes now (`rules::load::bytes_regex`).
#[test]
fn a_netrc_password_with_a_byte_that_is_not_utf8_is_redacted_whole() {
    let r = redactor();
    let mut out = Vec::new();
    r.line_redactor().redact_into(
        b"login alice password pw\xff-tail\n",
        &mut out,
        &mut BTreeMap::new(),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("login alice password [REDACTED:netrc-password-line:")
            && !text.contains("tail"),
        "{text}"
    );
    let mut again = Vec::new();
    r.line_redactor()
        .redact_into(&out, &mut again, &mut BTreeMap::new());
    assert_eq!(again, out);
}

/// Every rule's regex matches bytes: a byte that is not UTF-8 inside a
/// token no longer cuts the match short and leaves the token's tail.
#[test]
fn a_byte_that_is_not_utf8_does_not_end_a_secret() {
    let r = redactor();
    for line in [
        &b"Authorization: Bearer abcdefgh\xffijklmnopqrstuv\n"[..],
        b"postgres://app:pw\xfeSECRETTAIL@db:5432/sg\n",
    ] {
        let mut out = Vec::new();
        r.line_redactor()
            .redact_into(line, &mut out, &mut BTreeMap::new());
        let text = String::from_utf8_lossy(&out);
        assert!(
            !text.contains("ijklmnop") && !text.contains("SECRETTAIL"),
            "{text}"
        );
    }
}

/// A `-----END` that is not a key's armour (`-----BEGIN RSA PRIVATE
/// KEY----- -----END`) made the key look complete on its line, so its
/// body on the next lines was left to the line rules and leaked; and
/// once a line rule replaced such an `-----END`, a second pass removed
/// the key whole (found by fuzzing).
#[test]
fn only_a_key_armour_ends_a_private_key() {
    let r = redactor();
    let (out, _, _) = file(
        &r,
        "x.log",
        b"-----BEGIN RSA PRIVATE KEY----- -----END\nMIIEowIBAAKCAQEAbodybodybody\n-----END RSA PRIVATE KEY-----\n",
    );
    assert!(!out.contains("bodybody"), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (again, _, _) = file(&r, "x.log", out.as_bytes());
    assert_eq!(again, out);
}

/// A one-line key with dashes inside (`--`) is still one key to the
/// regex rule, as it is to the line pass: the rule stopped at the dashes,
/// the key's text went to the other rules, and a second pass then took
/// the key whole (found by fuzzing).
#[test]
fn a_one_line_key_with_dashes_inside_is_one_key() {
    let r = redactor();
    let (out, counts, _) = file(
        &r,
        "x.log",
        b"x -----BEGIN PRIVATE KEY-----ab--cdtoken:ef-----END RSA PRIVATE KEY----- tail\n",
    );
    assert!(out.starts_with("x [REDACTED:pem-private-key:"), "{out}");
    assert!(out.ends_with(" tail\n") && !out.contains("cd"), "{out}");
    assert_eq!(counts.len(), 1, "{counts:?}");
    let (again, _, _) = file(&r, "x.log", out.as_bytes());
    assert_eq!(again, out);
}

/// `secretKey: |` in YAML that does not parse: the block's lines are the
/// secret and go; the `|` was replaced and counted too, which made the
/// YAML unreadable and the count wrong. A header is no secret.
#[test]
fn a_block_scalar_header_is_no_secret() {
    let r = redactor();
    let (out, counts, _) = file(
        &r,
        "x.yaml",
        b"]\nsecretKey: |\n  Zq8rT1vX9kLm2NwP4yBs\ntoken: >-\n  Zq8rT1vX9kLm2NwP4yBt\n",
    );
    assert!(!out.contains("Zq8rT1vX9kLm2NwP4y"), "{out}");
    assert!(
        out.contains("secretKey: |\n") && out.contains("token: >-\n"),
        "{out}"
    );
    assert_eq!(counts.values().sum::<u64>(), 2, "{counts:?}");
    // Only a header: `|x` is a value like any other.
    check("password: |x1y2z3w4\n", &["x1y2z3w4"], &["password: "]);
}
