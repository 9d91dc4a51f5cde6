//! Properties over generated input: the fast path equals the line pass,
//! lines are never added or lost, a second pass changes nothing.

use super::*;

/// The fast path (bulk copy between keyword lines) must give exactly what
/// the line-by-line pass gives, wherever the reader's buffer happens to
/// cut: through PEM blocks, binary lines and lines longer than the buffer.
#[test]
fn the_bulk_fast_path_equals_the_line_pass_at_any_buffer_size() {
    let mut input = String::new();
    for i in 0..40 {
        input.push_str(&format!(
            "{{\"msg\":\"request {i} done\",\"commit\":\"4b825dc642cb6eb9a060e54bf8d69288fbee4904\"}}\n"
        ));
        if i % 7 == 3 {
            input.push_str("db dial postgres://sg:hunter2-pass@pgsql:5432/sg failed\n");
        }
        if i % 11 == 5 {
            input.push_str(
                "2026-11-26 key follows\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onL\n-----END RSA PRIVATE KEY-----\nafter the key\n",
            );
        }
        if i % 13 == 6 {
            input.push_str("binary \0 line, nothing to see\n");
        }
        if i == 20 {
            input.push_str(&format!(
                "long {} GITHUB_TOKEN=ghp_R8x2mQ4vN7kL1pZ9wE3tY6uI0oA5sD2fG8hJ\n",
                "x".repeat(5000)
            ));
        }
    }
    input.push_str("last line without newline password=tail-secret");
    let r = redactor();
    // A one-byte buffer never holds a whole line (but for empty ones), so
    // this is the line-by-line pass.
    let reference = {
        let mut out = Vec::new();
        let mut red = text::RedactingReader::new(
            std::io::BufReader::with_capacity(1, input.as_bytes()),
            r.line_redactor(),
            RedactionCounts::default(),
        );
        red.read_to_end(&mut out).unwrap();
        out
    };
    for cap in [7, 64, 100, 333, 4096, 1 << 16] {
        let counts = RedactionCounts::default();
        let mut red = text::RedactingReader::new(
            std::io::BufReader::with_capacity(cap, input.as_bytes()),
            r.line_redactor(),
            counts.clone(),
        );
        let mut out = Vec::new();
        red.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            text,
            String::from_utf8_lossy(&reference),
            "buffer of {cap} bytes"
        );
        for s in [
            "hunter2-pass",
            "u1SU1LfVLPHCozMxH2Mo",
            "ghp_R8x2mQ4v",
            "tail-secret",
            "nothing to see",
        ] {
            assert!(
                !text.contains(s),
                "{s} survived with a buffer of {cap} bytes"
            );
        }
        assert_eq!(
            text.matches("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
                .count(),
            40
        );
        assert!(text.contains("after the key\n"));
        assert_eq!(text.matches("with binary content]").count(), 3);
        assert_eq!(
            counts.snapshot()["pem-private-key"],
            4,
            "{:?}",
            counts.snapshot()
        );
    }
}

/// Looking only at pairs around key-rule keywords must find what looking
/// at every pair finds. A loaded key rule without keywords (one that never
/// matches) makes the line pass look at every pair: the two must agree.
#[test]
fn pairs_near_keywords_find_what_every_pair_finds() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never.yaml");
    std::fs::write(
        &never,
        "rules:\n  - id: never-matches\n    description: forces every pair to be looked at\n    key: '^$'\n",
    )
    .unwrap();
    let marker = Marker::with_key([9; 32]);
    let near = Redactor::with_marker(RuleSet::defaults(), marker.clone());
    let every = Redactor::with_marker(RuleSet::load(&[never], &[]).unwrap(), marker);
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/redaction/corpus/logs/frontend.log"
    ))
    .unwrap();
    let extra = [
        "cache key computed for shard; apiKey=abc123def secret_key: s3cr3t",
        "OTEL_EXPORTER_OTLP_HEADERS=api-key=abc,x-token=def PGPASSWORD=pw1 --password=pw2",
        "{\"db.password\":\"pw3\",\"nested\":\"{\\\"token\\\":\\\"pw4\\\"}\",\"keyspace\":\"k1\"}",
        "https://x-access-token:pw5@github.com/acme/widgets key=value KEY_FILE=/etc/key",
        "password password=pw6 passwordless=true mykey:pw7 [REDACTED:x:00000000] token=",
    ];
    let mut checked = 0;
    for l in corpus.lines().chain(extra) {
        let (a, ca) = line(&near, l);
        let (b, cb) = line(&every, l);
        assert_eq!(a, b, "line: {l}");
        assert_eq!(ca, cb, "line: {l}");
        checked += usize::from(a != l);
    }
    assert!(checked > 20, "the lines hold secrets: {checked} changed");
}

/// A small deterministic generator for the property tests below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// Line bodies that stress the line pass: keywords, quotes that never
/// close, escaped quotes, PEM fragments, DSNs, flags, YAML-ish shapes.
const LINE_FRAGMENTS: &[&str] = &[
    "token: \"unclosed value",
    "password: 'half open",
    "DATABASE_URL=\"postgres://u:pw@db.internal:5432/sg",
    "PGDATASOURCE='postgres://sg:s3cret@pgsql/sg",
    "{\"password\":\"jsonpw\",\"user\":\"alice\"}",
    "{\"msg\":\"x\",\\\"token\\\":\\\"esc4ped",
    "Authorization: Bearer abc.def-ghi",
    "Authorization: \"token 0123456789abcdef0123456789abcdef01234567",
    "Cookie: sgs=MTcwMDAwMDAwMHxEdi1CQkFFQ180SUFBUkFCRUFBQV; path=/",
    "Set-Cookie: \"sgs=abc",
    "machine github.com login alice password netrcpw",
    "  password splitpw",
    "requirepass \"confpw",
    "key: -----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "MIIEowIBAAKCAQEA7bq",
    "2026-11-25T00:00:00Z abcdEFGH1234+/==",
    "-----END RSA PRIVATE KEY----- tail",
    "-----END PRIVATE KEY-----",
    "{\"key\":\"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIB\\n-----END EC PRIVATE KEY-----\\n\"}",
    "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b pushed",
    "docker run -p 8080:80 sourcegraph/server:6.0.0",
    "psql --password hunter2 -h pgsql -p 5432",
    "",
    "   ",
    "plain log line with nothing in it",
    "secret_key = \"a \\\" b",
    "x-access-token: tok3nvalue",
    "git push https://x-access-token:s3cr3tv4lue@github.com/acme/api.git",
    "token: |",
    "  multi line secret body",
    "  - --password",
    "  - blockpw",
    "value: \"multi",
    "  line quoted\"",
    "sgp_0123456789abcdef_0123456789abcdef0123456789abcdef01234567",
    "dsn report:gomysqlpw@tcp(mysql:3306)/reports",
    "GET /x?access_token=tok123&state=ok",
    "'SRC_GIT_TOKEN=quotedtok",
    "\\\"password\\\": \\\"unterminated",
];

fn generated_input(rng: &mut Rng) -> String {
    let mut s = String::new();
    let n = 1 + rng.below(10);
    for i in 0..n {
        s.push_str(rng.pick(LINE_FRAGMENTS));
        if i + 1 == n && rng.below(5) == 0 {
            break;
        }
        s.push_str(if rng.below(10) < 3 { "\r\n" } else { "\n" });
    }
    s
}

/// Lines as `wc -l` counts them: line feeds. (A PEM key that ends the
/// input without a newline leaves its last line empty, and an empty last
/// line without a newline is no line at all: only the feeds are kept.)
fn line_count(s: &str) -> usize {
    s.matches('\n').count()
}

#[test]
fn redaction_never_changes_the_number_of_lines_and_is_idempotent() {
    let r = redactor();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut changed = 0;
    for case in 0..3000 {
        let input = generated_input(&mut rng);
        for path in ["logs/x.log", "config/x.yaml"] {
            let (once, _, _) = file(&r, path, input.as_bytes());
            assert_eq!(
                line_count(&once),
                line_count(&input),
                "case {case}, {path}: lines changed:\n{input:?}\n->\n{once:?}"
            );
            let (twice, counts, _) = file(&r, path, once.as_bytes());
            assert_eq!(
                twice, once,
                "case {case}, {path}: a second pass changed the output ({counts:?}):\n{input:?}"
            );
            changed += usize::from(once != input);
        }
    }
    assert!(changed > 3000, "the inputs hold secrets: {changed} changed");
}

/// YAML entries (each a top-level key) that parse, for the structured pass.
const YAML_ENTRIES: &[&str] = &[
    "password: |\n  first line of it\n  second line\n",
    "config: |\n  {\"token\": \"jsonblocktok\", \"x\": 1}\n  more text\n",
    "privateKey: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIEowIBAAKCAQEA7bq\n  abcdEFGH1234+/==\n  -----END RSA PRIVATE KEY-----\n",
    "note: >\n  folded token=abc123\n  more text\n",
    "plain: first line\n  continued password=plainpw\n",
    "quoted: \"multi\n  line token=quotedtok\"\n",
    "single: 'multi\n  line secret=singletok'\n",
    "args:\n  - --password\n  - argpw\n",
    "flow: {user: alice, password: flowpw}\n",
    "credentials:\n  username: alice\n  password: credpw\n",
    "dsn: postgres://u:dsnpw@db.internal:5432/sg\n",
    "nested:\n  deeper:\n    secret: |\n      nested one\n      nested two\n",
    "items:\n  - token: |-\n      itemtok\n      more\n  - name: keep\n",
    "script: |2\n    indented more\n  less\n",
    "keep: |\n  nothing secret here\n  at all\n",
    "env:\n  - name: PGPASSWORD\n    value: >-\n      folded\n      envpw\n",
    "log: |\n  2026-01-01 Authorization: Bearer blocktoken\n    spaced line\n\n  after blank\n",
    "empty: \"\"\n",
];

#[test]
fn structured_yaml_keeps_its_lines_and_stays_structured() {
    let r = redactor();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for case in 0..1500 {
        let mut doc = String::new();
        for _ in 0..1 + rng.below(5) {
            doc.push_str(rng.pick(YAML_ENTRIES));
        }
        if rng.below(4) == 0 {
            doc = doc.replace('\n', "\r\n");
        }
        let (once, _, notes) = file(&r, "config/x.yaml", doc.as_bytes());
        assert!(
            notes.is_empty(),
            "case {case}: {notes:?}\n{doc}\n->\n{once}"
        );
        assert_eq!(
            line_count(&once),
            line_count(&doc),
            "case {case}: lines changed:\n{doc}\n->\n{once}"
        );
        let (twice, counts, notes) = file(&r, "config/x.yaml", once.as_bytes());
        assert!(notes.is_empty(), "case {case}: {notes:?}");
        assert_eq!(twice, once, "case {case}: second pass ({counts:?})");
        for s in [
            "first line of it",
            "jsonblocktok",
            "MIIEowIBAAKCAQEA7bq",
            "abc123",
            "plainpw",
            "quotedtok",
            "singletok",
            "argpw",
            "flowpw",
            "credpw",
            "dsnpw",
            "nested one",
            "itemtok",
            "envpw",
            "blocktoken",
        ] {
            assert!(!once.contains(s), "case {case}: {s} survived:\n{once}");
        }
        for k in [
            "nothing secret here",
            "alice",
            "after blank",
            "indented more",
        ] {
            assert_eq!(
                doc.contains(k),
                once.contains(k),
                "case {case}: {k}:\n{once}"
            );
        }
    }
}
