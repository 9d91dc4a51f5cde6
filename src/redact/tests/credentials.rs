//! Credential formats (Sourcegraph's own, code hosts, clouds, command
//! lines) and what must survive beside them.

use super::*;

/// Sourcegraph's own credentials, in free text as well as next to keys.
/// Formats from the Sourcegraph source: internal/accesstoken and
/// lib/accesstoken (sgp_, sgph_, instance identifiers), cody_access_token.go
/// (sgd_), internal/license/access_token.go (slk_),
/// internal/productsubscription/consts.go (sgs_), internal/session (the
/// `sgs` cookie), internal/license/license.go (license keys),
/// internal/authz/header.go (`token-sudo`).
#[test]
fn sourcegraph_credentials_in_free_text() {
    let hex40 = "4c7a1e9d3b8f2a6c0e5d9b7f1a3c8e2d6b0f4a9c";
    let hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    for token in [
        format!("sgp_0123456789abcdef_{hex40}"),
        format!("sgp_local_{hex40}"),
        format!("sgp_{hex40}"),
        // Hex in capitals, as the parser accepts it.
        "sgp_C3F6EBC6DABA1EE2_F154E2DC67638939F113763904DBC3FB6CC33766".to_string(),
        // The short-lived sgph_ prefix, and a 10-hex instance identifier.
        format!("sgph_0123456789_{hex40}"),
        format!("sgph_{hex40}"),
        format!("sgd_{hex64}"),
        format!("slk_{hex64}"),
        format!("sgs_{hex64}"),
    ] {
        check(
            &format!("level=warn msg=\"request with {token} rejected\""),
            &[&token[token.len() - 40..]],
            &["level=warn msg=\"request with ", " rejected\""],
        );
    }
    // The session cookie outside a Cookie header.
    let session =
        "MTczMjc4NjQwMHxEdi1CQkFFQ180SUFBUkFCRUFBQVJfLUNBQUVHYzNSeWFXNW5EQWNBQld0bGVRPT18xA3mZ7Qx";
    check(
        &format!("curl -b sgs={session} https://sourcegraph.example.com/.api/graphql"),
        &[session],
        &[
            "curl -b sgs=",
            " https://sourcegraph.example.com/.api/graphql",
        ],
    );
    check(
        &format!("jar: sgs={session}; Path=/; HttpOnly"),
        &[session],
        &["; Path=/; HttpOnly"],
    );
    // A license key (base64url of {"sig":{...},"info":...}) in free text.
    let license = "eyJzaWciOnsiRm9ybWF0IjoicnNhLXNoYTItNTEyIiwiQmxvYiI6IkZBS0VzaWduYXR1cmVibG9iMDAwMDAwMDAwMDAwMDAwMCIsIlJlc3QiOm51bGx9LCJpbmZvIjoiZXlKMklqb3pMQ0p1SWpwYk1WMTkifQ";
    check(
        &format!("applying license {license} from the env"),
        &[license],
        &["applying license ", " from the env"],
    );
    // The 40-hex tokens from before prefixes: next to keys and headers.
    for line in [
        format!("SRC_ACCESS_TOKEN={hex40}"),
        format!("Authorization: token {hex40}"),
        format!("Authorization: token token=\"{hex40}\""),
        format!("Authorization: token-sudo user=\"alice\",token=\"{hex40}\""),
        format!("Authorization: token-sudo token=\"{hex40}\", user=\"alice\""),
        format!("{{\"accessToken\": \"{hex40}\"}}"),
        format!("GET /.api/graphql?access_token={hex40}"),
    ] {
        check(&line, &[hex40], &[]);
    }
    check(
        &format!("Authorization: token-sudo user=\"alice\",token=\"{hex40}\""),
        &[hex40],
        &["user=\"alice\""],
    );
    // Bare 40-hex strings are git commits.
    let r = redactor();
    for keep in [
        format!("commit {hex40} pushed"),
        format!("resolved HEAD to {hex40}"),
        "msgs=12 sgs=short".to_string(),
    ] {
        let (out, counts) = line(&r, &keep);
        assert_eq!(out, keep, "{counts:?}");
    }
}

#[test]
fn code_host_tokens_presigned_urls_and_command_line_passwords() {
    // Bitbucket Data Center HTTP access tokens, Bitbucket Cloud app
    // passwords, Atlassian API tokens: in free text.
    let bbdc = "BBDC-MDYzNjE2NjM2ODY3OvzgsEDUXo5mMMjV8l9d1eyJn9Lu";
    check(
        &format!("clone failed with {bbdc}: 401"),
        &[bbdc],
        &["clone failed with ", ": 401"],
    );
    let atbb = "ATBB3g7gLXseCxPjJs1CQNMyEjwf1D12516D";
    check(
        &format!("app password {atbb} for bob"),
        &[atbb],
        &[" for bob"],
    );
    let atatt = "ATATT3xFfGF0T4kq8mZp2rX9vB1nC7dL5sW3yH6jK0gF2aQ8eR4tU1iO9pA7sD3fG5hJ2kL6zX8cV0bN4mQ1wE=1A2B3C4D";
    check(&format!("api token {atatt} ok"), &[atatt], &[" ok"]);
    // Azure DevOps PATs: 52 characters of base32 next to the service's
    // URLs or keys; the 84-character format (AZDO signature) anywhere.
    let ado = "k2jwq5rtq3vxyzabcdefg7hijklmnop4qrstuvwxyzab2cdefghi";
    assert_eq!(ado.len(), 52);
    check(
        &format!(
            "git -c http.extraheader=x clone https://dev.azure.com/acme/web/_git/app using pat {ado}"
        ),
        &[ado],
        &["https://dev.azure.com/acme/web/_git/app using pat "],
    );
    check(
        &format!("az devops login --organization https://acme.visualstudio.com/ token {ado}"),
        &[ado],
        &["https://acme.visualstudio.com/"],
    );
    check(
        &format!("AZURE_DEVOPS_EXT_PAT={ado}"),
        &[ado],
        &["AZURE_DEVOPS_EXT_PAT="],
    );
    check(&format!("  AZURE_DEVOPS_PAT: {ado}"), &[ado], &[]);
    check(&format!("SYSTEM_ACCESSTOKEN={ado}"), &[ado], &[]);
    let azdo = format!("{}AZDO{}", "a1B2c3D4e5".repeat(7) + "F6g7H8", "x9Y0");
    assert_eq!(azdo.len(), 84);
    check(&format!("token {azdo} expired"), &[&azdo], &[" expired"]);
    // Presigned URLs: the signature goes, the rest of the query stays.
    let sig = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    check(
        &format!(
            "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261125T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature={sig} 200"
        ),
        &[sig],
        &[
            "X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=",
            " 200",
        ],
    );
    check(
        &format!(
            "{{\"url\":\"https://b.s3.amazonaws.com/k?X-Amz-Date=x\\u0026X-Amz-Signature={sig}\"}}"
        ),
        &[sig],
        &["\\u0026X-Amz-Signature="],
    );
    check(
        &format!("https://storage.googleapis.com/b/o?X-Goog-Date=x&X-Goog-Signature={sig}"),
        &[sig],
        &[],
    );
    // Passwords on command lines.
    check(
        "pg_dump --password hunter2 --host pgsql sg",
        &["hunter2"],
        &["pg_dump --password ", " --host pgsql sg"],
    );
    check(
        "helm repo add acme https://charts.acme.dev --username bob --password 'quoted pw'",
        &["quoted pw"],
        &["--username bob --password '"],
    );
    check(
        "src login --token sgtok3nv4lue https://sg",
        &["sgtok3nv4lue"],
        &[" https://sg"],
    );
    check(
        "redis-cli --pass r3dispass ping",
        &["r3dispass"],
        &[" ping"],
    );
    check(
        "args: [\"--db-password\", \"listpw\", \"--port\", \"5432\"]",
        &["listpw"],
        &["\"--port\", \"5432\""],
    );
    check(
        "mongosh -u admin -p m0ngopw --host mongo",
        &["m0ngopw"],
        &["-u admin -p ", " --host mongo"],
    );
    check(
        "docker login -u bob -p d0ckerpw registry.example.com",
        &["d0ckerpw"],
        &[" registry.example.com"],
    );
    check(
        "sshpass -p sshpw ssh -p 2222 git@host",
        &["sshpw"],
        &["ssh -p 2222 git@host"],
    );
    check(
        "redis-cli -h redis -p 6379 -a r3dispw ping",
        &["r3dispw"],
        &["-h redis -p 6379 -a ", " ping"],
    );
    check(
        "mysql -uroot -pmysqlpw sg",
        &["mysqlpw"],
        &["mysql -uroot -p", " sg"],
    );
    check(
        "sqlcmd -S db -U sa -P sqlpw -Q 'select 1'",
        &["sqlpw"],
        &["-Q 'select 1'"],
    );
    check(
        "curl -u admin:curlpw https://sg.example.com/.api/graphql",
        &["curlpw"],
        &["curl -u admin:", " https://sg.example.com"],
    );
    // What must stay: ports, flags without values, other flags' values,
    // and 52-character words away from Azure DevOps.
    let r = redactor();
    for keep in [
        "docker run -p 8080:80 -p 443:443 sourcegraph/server:6.0.0".to_string(),
        "psql -h pgsql -p 5432 -U sg sg".to_string(),
        "pg_dump -p 5432 sg".to_string(),
        "redis-cli -h redis -p 6379 ping".to_string(),
        "ssh -p 2222 git@host".to_string(),
        "mysql -P 3306 -p sg".to_string(),
        "psql --no-password -h pgsql sg".to_string(),
        "docker login --password-stdin -u bob registry.example.com".to_string(),
        "--password-file /run/secrets/pw --token-type bearer --max-tokens 100".to_string(),
        "psql --password --host pgsql sg".to_string(),
        "docker login registry.example.com && docker run -p 8080:80 x".to_string(),
        format!("layer {ado} pulled"),
        format!("commit {} pushed", &sig[..40]),
        "X-Amz-SignedHeaders=host&X-Amz-Expires=900".to_string(),
    ] {
        let (out, counts) = line(&r, &keep);
        assert_eq!(out, keep, "{counts:?}");
    }
}

#[test]
fn user_names_and_dsn_hosts_survive_under_secret_keys() {
    let r = redactor();
    // Identities inside a map under a secret-named key stay.
    let input = "credentials:\n  username: alice\n  password: credpw\nauth:\n  token:\n    user: bob\n    value: tokval\ndb:\n  credentials: {username: carol, password: flowpw, host: pgsql.internal, port: 5432}\n";
    let (out, _, notes) = file(&r, "config/x.yaml", input.as_bytes());
    assert!(notes.is_empty(), "{notes:?}");
    for s in ["credpw", "tokval", "flowpw"] {
        assert!(!out.contains(s), "{s}: {out}");
    }
    for k in [
        "username: alice",
        "user: bob",
        "username: carol",
        "host: pgsql.internal",
        "port: 5432",
    ] {
        assert!(out.contains(k), "{k} lost: {out}");
    }
    let (out, _, _) = file(
        &r,
        "config/x.json",
        br#"{"secrets": {"login": "dave", "email": "dave@example.com", "apiKey": "k3yv4lue"}}"#,
    );
    assert!(!out.contains("k3yv4lue"), "{out}");
    assert!(
        out.contains(r#""login": "dave""#) && out.contains(r#""email": "dave@example.com""#),
        "{out}"
    );

    // A DSN under a secret key loses its password only.
    check(
        "PGDATASOURCE=postgres://sg:dsnpw@db.internal:5432/sg?sslmode=disable",
        &["dsnpw"],
        &[
            "PGDATASOURCE=postgres://sg:",
            "@db.internal:5432/sg?sslmode=disable",
        ],
    );
    check(
        "CODEINTEL_PGDATASOURCE='postgres://ci:cipw@codeintel-db:5432/ci'",
        &["cipw"],
        &["'postgres://ci:", "@codeintel-db:5432/ci'"],
    );
    check(
        "  dsn: mysql://root:mypw@mysql:3306/app",
        &["mypw"],
        &["mysql://root:", "@mysql:3306/app"],
    );
    check(
        "DATA_SOURCE_NAME=report:gopw@tcp(mysql:3306)/reports",
        &["gopw"],
        &["=report:", "@tcp(mysql:3306)/reports"],
    );
    // Without a password there is nothing to hide but what other rules find.
    check(
        "PGDATASOURCE=postgres://sg@pgsql:5432/sg?sslmode=disable&password=qpw",
        &["qpw"],
        &["postgres://sg@pgsql:5432/sg?sslmode=disable&password="],
    );
    // Outside database schemes the user part may be the token itself
    // (https://TOKEN:x-oauth-basic@github.com, Sentry DSNs): all of it goes.
    check(
        "GIT_TOKEN=https://4c7a1e9d3b8f2a6c0e5d9b7f1a3c8e2d6b0f4a9c:x-oauth-basic@github.com",
        &["4c7a1e9d3b8f2a6c0e5d9b7f1a3c8e2d6b0f4a9c", "x-oauth-basic"],
        &["GIT_TOKEN="],
    );
    check(
        "backendDSN: https://7f3e9c1a5b2d4e6f@o1.ingest.sentry.io/42",
        &["7f3e9c1a5b2d4e6f"],
        &[],
    );
    // The structured pass, in all the places a key names a value.
    let input = r#"{
  "PGDATASOURCE": "postgres://sg:jsonpw@pgsql:5432/sg",
  "env": [{"name": "CODEINSIGHTS_PGDATASOURCE", "value": "postgres://ci:pairpw@ci-db:5432/ci"}],
  "Env": ["PGDATASOURCE=postgres://sg:envpw@pgsql:5432/sg"],
  "dataSource": "postgres://sg@pgsql:5432/sg?password=querypw"
}"#;
    let (out, _, notes) = file(&r, "docker/inspect.json", input.as_bytes());
    assert!(notes.is_empty(), "{notes:?}");
    for s in ["jsonpw", "pairpw", "envpw", "querypw"] {
        assert!(!out.contains(s), "{s}: {out}");
    }
    for k in [
        "\"postgres://sg:[REDACTED:url-password:",
        "]@pgsql:5432/sg\"",
        "\"postgres://ci:[REDACTED:url-password:",
        "]@ci-db:5432/ci\"",
        "\"PGDATASOURCE=postgres://sg:[REDACTED:",
        "\"postgres://sg@pgsql:5432/sg?password=[REDACTED:",
    ] {
        assert!(out.contains(k), "{k} lost: {out}");
    }
}

/// False positives the grown corpus showed: a scope is no token, and a
/// variable reference holds no secret, whichever rule looks at it.
#[test]
fn scopes_and_variable_references_are_not_secrets() {
    let r = redactor();
    for keep in [
        "GITSERVER_TOKEN_SCOPE=repo",
        "oauth token_scopes: read_api,read_repository",
        "curl -H \"Authorization: Bearer $BITBUCKET_TOKEN\" https://bitbucket.acme.internal",
        "curl -H 'Authorization: token ${SRC_ACCESS_TOKEN}' https://sg",
        "mongosh -u admin -p $MONGO_PASSWORD --host mongo",
        "Cookie: $COOKIE_JAR",
    ] {
        let (out, counts) = line(&r, keep);
        assert_eq!(out, keep, "{counts:?}");
    }
    check(
        "Authorization: Bearer $2a$10$abcdefghijklmnopqrstuv",
        &["$2a$10$abcdefghijklmnopqrstuv"],
        &[],
    );
}
