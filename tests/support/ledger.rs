//! The triage ledger's backends for the tests: a SQLite file in a temp
//! directory, and a fresh database on the real PostgreSQL server that
//! `scripts/postgres-up` starts (postgres://postgres@127.0.0.1:54329,
//! or SG_DEBUG_TEST_POSTGRES). Without that server the PostgreSQL half of
//! each test prints SKIPPED; with `CI` set it fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sqlx::{ConnectOptions, Connection, Row};

use crate::support::{Run, sg};

pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:54329/postgres";

pub struct TestLedger {
    /// What `--ledger` is given.
    pub arg: String,
    pub backend: &'static str,
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn admin_url() -> String {
    std::env::var("SG_DEBUG_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.into())
}

/// A SQLite ledger, and a PostgreSQL one when the server answers.
pub fn ledgers(test: &str) -> Vec<TestLedger> {
    let mut out = vec![sqlite()];
    match postgres(test) {
        Ok(l) => out.push(l),
        Err(e) if std::env::var_os("CI").is_some() => panic!(
            "PostgreSQL at {} is unreachable ({e}); .ci/run starts it with scripts/postgres-up",
            admin_url()
        ),
        Err(e) => println!(
            "SKIPPED {test} on postgres: {} unreachable ({e}); run scripts/postgres-up",
            admin_url()
        ),
    }
    out
}

pub fn sqlite() -> TestLedger {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    TestLedger {
        arg: path.display().to_string(),
        backend: "sqlite",
        dir,
        postgres: None,
    }
}

/// A database of its own for one test, dropped afterwards.
pub fn postgres(test: &str) -> Result<TestLedger, String> {
    let admin = admin_url();
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).unwrap();
    let db = format!(
        "t_{}_{}",
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect::<String>(),
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    rt().block_on(async {
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(&format!("CREATE DATABASE \"{db}\""))
            .execute(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    })?;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    Ok(TestLedger {
        arg: format!("{base}/{db}"),
        backend: "postgres",
        dir: tempfile::tempdir().unwrap(),
        postgres: Some((admin, db)),
    })
}

impl Drop for TestLedger {
    fn drop(&mut self) {
        if let Some((admin, db)) = &self.postgres {
            let _ = rt().block_on(async {
                let mut c = sqlx::PgConnection::connect(admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                    .execute(&mut c)
                    .await
            });
        }
    }
}

/// What the ledger holds, to see that a refused command changed nothing:
/// every row of every table, as text. None: no ledger at all.
#[derive(Debug, PartialEq)]
pub struct Dump(Vec<String>);

const DUMP: &[&str] = &[
    "SELECT CAST(version AS TEXT) || ' ' || applied_by FROM ledger_schema ORDER BY version",
    "SELECT id || ' ' || category || ' ' || COALESCE(ticket, '-') FROM incidents ORDER BY id",
    "SELECT id || ' ' || incident_id || ' ' || CAST(effort_seconds AS TEXT) || ' ' || outcome FROM records ORDER BY id",
];

impl TestLedger {
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.backend == "sqlite").then(|| PathBuf::from(&self.arg))
    }

    pub fn dump(&self) -> Option<Dump> {
        if let Some(p) = self.sqlite_path()
            && !p.exists()
        {
            return None;
        }
        let mut rows = Vec::new();
        rt().block_on(async {
            for q in DUMP {
                let found = match self.backend {
                    "sqlite" => {
                        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                            .filename(&self.arg)
                            .read_only(true)
                            .connect()
                            .await
                            .unwrap();
                        let r = sqlx::query(q).fetch_all(&mut c).await;
                        r.map(|rs| rs.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>())
                    }
                    _ => {
                        let mut c = sqlx::PgConnection::connect(&self.arg).await.unwrap();
                        let r = sqlx::query(q).fetch_all(&mut c).await;
                        r.map(|rs| rs.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>())
                    }
                };
                rows.extend(found.unwrap_or_else(|e| vec![format!("({e})")]));
            }
        });
        Some(Dump(rows))
    }

    /// Runs one statement on the ledger, behind sg-debug's back.
    pub fn exec(&self, sql: &str) {
        rt().block_on(async {
            match self.backend {
                "sqlite" => {
                    let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(&self.arg)
                        .connect()
                        .await
                        .unwrap();
                    sqlx::query(sql).execute(&mut c).await.unwrap();
                }
                _ => {
                    let mut c = sqlx::PgConnection::connect(&self.arg).await.unwrap();
                    sqlx::query(sql).execute(&mut c).await.unwrap();
                }
            }
        });
    }
}

/// A bundle that verifies: one log entry listed with its true hash.
pub fn bundle(
    path: &Path,
    category: &str,
    created_at: &str,
    deployment: serde_json::Value,
    ticket: Option<&str>,
) {
    let log: &[u8] = b"2026-11-01T10:00:00Z frontend: something went wrong\n";
    let files = [("logs/frontend.log", log)];
    let mut m = crate::support::manifest(category, created_at, &files);
    m["deployment"] = deployment;
    if let Some(t) = ticket {
        m["incident"]["ticket"] = t.into();
    }
    crate::support::write_bundle(path, "top", &m, &files);
}

/// sg-debug with `--ledger` pointing at this ledger.
pub fn at(l: &TestLedger, args: &[&str], cwd: &Path) -> Run {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--ledger", &l.arg]);
    sg(&a, cwd)
}

pub fn ok(r: Run) -> Run {
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    r
}

pub fn json_of(r: Run) -> serde_json::Value {
    serde_json::from_str(&ok(r).stdout).unwrap()
}

/// A verifying search bundle on Kubernetes, collected 2026-11-01.
pub fn plain_bundle(path: &Path) {
    bundle(
        path,
        "search",
        "2026-11-01T00:00:00Z",
        serde_json::json!({"type": "kubernetes"}),
        None,
    );
}

/// One hour's `workaround` on `bundle`.
pub fn record_hour(l: &TestLedger, bundle: &str, cwd: &Path) -> Run {
    at(
        l,
        &[
            "triage",
            "record",
            bundle,
            "--effort",
            "1h",
            "--outcome",
            "workaround",
        ],
        cwd,
    )
}

/// A bundle that does not verify: its entry no longer matches its hash.
pub fn tampered_bundle(path: &Path) {
    let m = crate::support::manifest(
        "search",
        "2026-11-02T00:00:00Z",
        &[("logs/a.log", b"original")],
    );
    crate::support::write_bundle(path, "top", &m, &[("logs/a.log", b"tampered")]);
}

/// `r` was refused with one message saying `why`, and the ledger is as
/// it was (`before`).
pub fn assert_refused(l: &TestLedger, r: &Run, why: &str, before: &Option<Dump>, what: &str) {
    assert_ne!(r.code, 0, "{what} succeeded: {}", r.stdout);
    assert!(r.stderr.contains(why), "{what}: {}", r.stderr);
    assert_eq!(
        r.stderr.matches("error:").count(),
        1,
        "{what}: {}",
        r.stderr
    );
    assert_eq!(
        &l.dump(),
        before,
        "{}: {what} changed the ledger",
        l.backend
    );
}
