//! The structured pass on whole files: JSON, JSONC, YAML, Kubernetes
//! Secrets, and the line-pass fallback for files that do not parse.

use super::*;

#[test]
fn json_by_key_stays_valid() {
    let r = redactor();
    let input = r#"{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "sourcegraph-frontend", "uid": "123e4567-e89b-12d3-a456-426614174000",
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{\"env\":[{\"name\":\"PGPASSWORD\",\"value\":\"nested-pw\"}]}}"}},
  "spec": {"template": {"spec": {"containers": [{
    "image": "index.docker.io/sourcegraph/frontend:6.12.5040@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "env": [
      {"name": "PGPASSWORD", "value": "pairpw"},
      {"value": "reversed-pw", "name": "CODEINTEL_PGPASSWORD"},
      {"name": "PGHOST", "value": "pgsql"},
      {"name": "PGDATASOURCE", "value": "postgres://sg:dsnpw@pgsql:5432/sg"},
      {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "pgsql-auth", "key": "password"}}}
    ]}]}}}
}"#;
    let (out, counts, notes) = file(&r, "k8s/deployment.json", input.as_bytes());
    assert!(notes.is_empty(), "{notes:?}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for s in ["pairpw", "reversed-pw", "dsnpw", "nested-pw"] {
        assert!(!out.contains(s), "{s} in {out}");
    }
    assert!(out.contains("\"value\": \"pgsql\""));
    assert!(
        out.contains("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    );
    assert!(
        out.contains("\"secretKeyRef\": {\"name\": \"pgsql-auth\", \"key\": \"password\"}"),
        "{out}"
    );
    let env = &v["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env[0]["value"]
            .as_str()
            .unwrap()
            .starts_with("[REDACTED:secret-key-name:")
    );
    let nested = v["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap();
    serde_json::from_str::<serde_json::Value>(nested).unwrap();
    assert!(counts.values().sum::<u64>() >= 4, "{counts:?}");
}

#[test]
fn jsonc_site_config_keeps_comments() {
    let r = redactor();
    let input = "{\n  // the license\n  \"licenseKey\": \"lk-123\",\n  /* auth */ \"auth.providers\": [\n    {\"type\": \"openidconnect\", \"clientID\": \"sg\", \"clientSecret\": \"oidc-cs\",},\n  ],\n  \"email.smtp\": {\"username\": \"alice\", \"password\": \"smtppw\"},\n  \"externalURL\": \"https://sg.example.com\",\n}\n";
    let (out, _, notes) = file(&r, "config/site-config.jsonc", input.as_bytes());
    assert!(notes.is_empty(), "{notes:?}");
    for s in ["lk-123", "oidc-cs", "smtppw"] {
        assert!(!out.contains(s), "{s}: {out}");
    }
    for k in [
        "// the license",
        "/* auth */",
        "\"clientID\": \"sg\"",
        "\"username\": \"alice\"",
        "https://sg.example.com",
        ",}",
    ] {
        assert!(out.contains(k), "{k} lost: {out}");
    }
}

#[test]
fn kubernetes_secrets_keep_names_and_sizes() {
    let r = redactor();
    let input = "apiVersion: v1\nkind: Secret\ntype: Opaque\nmetadata:\n  name: pgsql-auth\ndata:\n  password: c2VjcmV0cHc=\n  user: c2c=\nstringData:\n  extra: plain-secret\n";
    let (out, counts, notes) = file(&r, "k8s/secret.yaml", input.as_bytes());
    assert!(notes.is_empty(), "{notes:?}");
    assert!(
        !out.contains("c2VjcmV0cHc=") && !out.contains("c2c=") && !out.contains("plain-secret"),
        "{out}"
    );
    assert!(
        out.contains("password: \"[REDACTED:kubernetes-secret:"),
        "{out}"
    );
    assert!(
        out.contains("] (8 bytes)\"")
            && out.contains("] (2 bytes)\"")
            && out.contains("] (12 bytes)\""),
        "{out}"
    );
    assert!(out.contains("name: pgsql-auth"));
    assert_eq!(counts.get("kubernetes-secret"), Some(&3));
}

#[test]
fn yaml_compose_env_lists_maps_anchors_and_tags() {
    let r = redactor();
    let input = "x-env: &env\n  PGPASSWORD: anchorpw\nservices:\n  frontend:\n    image: 'index.docker.io/sourcegraph/frontend:6.12.5040'\n    environment:\n      <<: *env\n      - ignored\n";
    // (invalid YAML above on purpose: mapping and sequence mixed) -> fallback
    let (out, _, notes) = file(&r, "compose/bad.yaml", input.as_bytes());
    assert!(!out.contains("anchorpw"), "{out}");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let input = "x-env: &env\n  CODEINSIGHTS_PGPASSWORD: anchorpw\nservices:\n  frontend:\n    environment:\n      - PGPASSWORD=listpw\n      - PGHOST=pgsql\n      - 'SRC_GIT_TOKEN=quotedtok'\n  pgsql:\n    environment:\n      <<: *env\n      POSTGRES_PASSWORD: !reset null\n      OTHER: !override keep\n    cpus: 4\n    mem_limit: '8g'\n    key: |\n      -----BEGIN PRIVATE KEY-----\n      MIIEblockbody\n      -----END PRIVATE KEY-----\n";
    let (out, _, notes) = file(&r, "compose/docker-compose.yaml", input.as_bytes());
    assert!(notes.is_empty(), "{notes:?}: {out}");
    for s in ["anchorpw", "listpw", "quotedtok", "MIIEblockbody"] {
        assert!(!out.contains(s), "{s}: {out}");
    }
    for k in [
        "- PGHOST=pgsql",
        "<<: *env",
        "!reset null",
        "!override keep",
        "mem_limit: '8g'",
        "cpus: 4",
    ] {
        assert!(out.contains(k), "{k} lost: {out}");
    }
    assert!(
        out.contains("- \"PGPASSWORD=[REDACTED:secret-key-name:"),
        "{out}"
    );
}

#[test]
fn unparseable_structured_files_fall_back_to_lines() {
    let r = redactor();
    let (out, _, notes) = file(
        &r,
        "config/broken.json",
        b"{\"password\": \"pw1\", oops\nPGPASSWORD=pw2\n",
    );
    assert!(!out.contains("pw1") && !out.contains("pw2"), "{out}");
    assert!(notes[0].contains("redacted line by line"), "{notes:?}");
}

/// One byte that is not UTF-8 (a Latin-1 comment) must not cost a file
/// its structure. Sent to the line pass, env pairs and block scalars
/// under secret keys leaked; later, once the invalid bytes sat inside a
/// redacted value, the output was valid UTF-8 and a second pass read it
/// by structure and redacted more (both found by fuzzing). Now the
/// structure is read through a lossy copy and the other bytes are kept.
#[test]
fn text_that_is_not_utf8_is_redacted_by_structure_and_keeps_its_bytes() {
    let r = redactor();
    let body = b"# caf\xe9\nenv:\n- name: PGPASSWORD\n  value: pw-env-1\nsecretKey: |\n  pw-block-2\npassword: x\xff\xfey\nnote: \xff\xfe\n";
    let (out, notes) = config_bytes(&r, "k8s/deploy.yaml", body);
    let text = String::from_utf8_lossy(&out);
    for secret in ["pw-env-1", "pw-block-2", "x\u{fffd}y"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(out.starts_with(b"# caf\xe9\n"), "{text}");
    assert!(out.ends_with(b"note: \xff\xfe\n"), "{text}");
    assert_eq!(text.lines().count(), 8, "{text}");
    assert!(notes.is_empty(), "{notes:?}");
    let (again, _) = config_bytes(&r, "k8s/deploy.yaml", &out);
    assert_eq!(again, out, "a second pass changed it");
}

/// Not UTF-8 and not parseable either: the line pass, after env pairs
/// are looked for in a lossy copy, with every other byte kept.
#[test]
fn text_that_is_not_utf8_nor_parseable_reads_env_pairs_line_by_line() {
    let r = redactor();
    let body = b"# caf\xe9\nenv:\n- name: PGPASSWORD\n  value: pw-env-1\nbroken: [\xff\n";
    let (out, notes) = config_bytes(&r, "k8s/deploy.yaml", body);
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("pw-env-1"), "{text}");
    assert!(out.starts_with(b"# caf\xe9\n"), "{text}");
    assert!(out.ends_with(b"broken: [\xff\n"), "{text}");
    assert!(notes[0].contains("redacted line by line"), "{notes:?}");
}

/// A YAML document that is one string over several lines (a top-level
/// `>` block or a quoted string across lines) holds text: folded by the
/// parser, its env pairs and `key: |` blocks no longer looked like
/// themselves and leaked (found by fuzzing). It is read line by line, and
/// a second pass changes nothing.
#[test]
fn a_document_that_is_one_multiline_string_is_read_line_by_line() {
    let r = redactor();
    for body in [
        ">\nenv:\n- name: PGPASSWORD\n  value: pw-env-1\n",
        "\"x\nsecretKey: |\n  pw-block-2\ny\"\n",
    ] {
        let (once, _, notes) = file(&r, "k8s/x.yaml", body.as_bytes());
        assert!(
            !once.contains("pw-env-1") && !once.contains("pw-block-2"),
            "{once}"
        );
        assert!(
            notes[0].contains("one string over several lines"),
            "{notes:?}"
        );
        assert_eq!(once.lines().count(), body.lines().count());
        let (twice, counts, _) = file(&r, "k8s/x.yaml", once.as_bytes());
        assert_eq!(once, twice);
        assert!(counts.is_empty(), "{counts:?}");
    }
}

#[test]
fn a_value_that_is_itself_a_pair_is_scanned() {
    // OTEL_EXPORTER_OTLP_HEADERS is no secret name, but its value is a pair.
    check(
        "OTEL_EXPORTER_OTLP_HEADERS=api-key=otlpkey123,x-team=platform",
        &["otlpkey123"],
        &["OTEL_EXPORTER_OTLP_HEADERS=api-key=", ",x-team=platform"],
    );
    let r = redactor();
    let (out, _, notes) = file(
        &r,
        "docker/inspect.json",
        br#"{"Env": ["OTEL_EXPORTER_OTLP_HEADERS=api-key=otlpkey123", "PGHOST=pgsql"]}"#,
    );
    assert!(notes.is_empty(), "{notes:?}");
    assert!(!out.contains("otlpkey123"), "{out}");
    assert!(out.contains("\"PGHOST=pgsql\""), "{out}");
}

#[test]
fn url_user_names_are_not_keys() {
    // `x-access-token` names a secret, but here it is the user of a URL: the
    // password goes (url-password), the host and path stay.
    check(
        "git push https://x-access-token:s3cr3tv4lue@github.com/acme/api.git: exit status 128",
        &["s3cr3tv4lue"],
        &[
            "https://x-access-token:",
            "@github.com/acme/api.git: exit status 128",
        ],
    );
    check(
        "remote https://token:tok3nvalue@git.example.com/x.git",
        &["tok3nvalue"],
        &["@git.example.com/x.git"],
    );
    // Schemes url-password does not know lose the password too.
    check(
        "s3sync://token:s3tok3n@bucket.example.com/backups",
        &["s3tok3n"],
        &["s3sync://token:", "@bucket.example.com/backups"],
    );
    // Outside a URL the key still works.
    check("x-access-token: tok3nvalue", &["tok3nvalue"], &[]);
}

#[test]
fn secret_flags_in_argument_lists_redact_the_next_item() {
    let r = redactor();
    let input = "containers:\n  - name: redis\n    command: [\"redis-server\", \"/etc/redis/redis.conf\", \"--requirepass\", \"flowpw\"]\n    args:\n      - --password\n      - blockpw\n      - --password\n      - --host\n      - pgsql\n      - --verbose\n      - --token=inlinetok\n";
    let (out, counts, notes) = file(&r, "k8s/deployment.yaml", input.as_bytes());
    assert!(notes.is_empty(), "{notes:?}");
    for s in ["flowpw", "blockpw", "inlinetok"] {
        assert!(!out.contains(s), "{s}: {out}");
    }
    // A flag followed by another flag takes no value.
    for k in [
        "\"--requirepass\", \"[REDACTED:redis-password-key:",
        "- --password\n      - \"[REDACTED:secret-key-name:",
        "- --password\n      - --host\n      - pgsql\n      - --verbose\n",
        "\"/etc/redis/redis.conf\"",
    ] {
        assert!(out.contains(k), "{k} lost: {out}");
    }
    assert_eq!(counts.get("redis-password-key"), Some(&1), "{counts:?}");
    let (out, _, _) = file(
        &r,
        "compose.json",
        br#"{"command": ["redis-server", "--masterauth", "masterpw", "--port", "6379"]}"#,
    );
    assert!(
        !out.contains("masterpw") && out.contains("\"--port\", \"6379\""),
        "{out}"
    );
}

#[test]
fn corpus_misses_stay_fixed() {
    // Go header maps: map[string][]string marshalled to JSON.
    check(
        r#"{"Authorization":["token 4c7a1e9d3b8f2a6c0e5d9b7f1a3c8e2d6b0f4a9c"],"User-Agent":["bot"]}"#,
        &["4c7a1e9d3b8f2a6c0e5d9b7f1a3c8e2d6b0f4a9c"],
        &[
            r#"{"Authorization":["token "#,
            r#""],"User-Agent":["bot"]}"#,
        ],
    );
    check(
        r#"{"Set-Cookie":["_gitlab_session=abc123; path=/"],"X-Request-Id":["01JDQ"]}"#,
        &["abc123"],
        &[r#"{"Set-Cookie":[""#, r#""],"X-Request-Id":["01JDQ"]}"#],
    );
    // Go MySQL driver DSNs have no scheme.
    check(
        "dsn report:gomysqlpw@tcp(mysql:3306)/reports?parseTime=true",
        &["gomysqlpw"],
        &["dsn report:", "@tcp(mysql:3306)/reports?parseTime=true"],
    );
    check(
        "connecting to root:pw2@unix(/tmp/mysql.sock)/db",
        &["pw2@"],
        &["to root:", "@unix(/tmp/mysql.sock)/db"],
    );
    // netrc: the default entry and entries split over lines.
    check(
        "default login anonymous password defpw",
        &["defpw"],
        &["default login anonymous password "],
    );
    check("  password splitpw\n", &["splitpw"], &["  password "]);
    check(
        "  login oauth2 password splitpw2",
        &["splitpw2"],
        &["login oauth2"],
    );
    // Redis configuration.
    check("requirepass confpw", &["confpw"], &["requirepass "]);
    check("masterauth \"confpw2\"", &["confpw2"], &["masterauth \""]);
    check(
        "redis-server --requirepass clipw --port 6379",
        &["clipw"],
        &["--port 6379"],
    );
    // PagerDuty integration keys; names of Secrets and key references stay.
    let r = redactor();
    assert_eq!(
        r.rules().secret_key("integrationKey"),
        Some("secret-key-name")
    );
    assert_eq!(r.rules().secret_key("routingKey"), Some("secret-key-name"));
    for not_secret in ["imagePullSecrets", "tlsSecret", "encryption.keys"] {
        assert_eq!(r.rules().secret_key(not_secret), None, "{not_secret}");
    }
    // Idempotent, including markers right after a header name.
    for i in [
        "Cookie: [REDACTED:http-cookie:0011aabb]",
        "Authorization: [REDACTED:http-authorization:0011aabb]",
        r#"{"Set-Cookie":["[REDACTED:http-cookie:0011aabb]"]}"#,
        "report:[REDACTED:go-mysql-dsn:0011aabb]@tcp(mysql:3306)/db",
        "  password [REDACTED:netrc-password-line:0011aabb]",
    ] {
        let (out, counts) = line(&r, i);
        assert_eq!(out, i);
        assert!(counts.is_empty(), "{i}: {counts:?}");
    }
}
