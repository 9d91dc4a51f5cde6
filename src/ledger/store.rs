//! The ledger's storage: one schema, written once in SQL both SQLite and
//! PostgreSQL run, on sqlx. Every statement is written once and run
//! through `dispatch!`, which expands it for each backend's connection
//! type, so the two cannot drift apart. Aggregation happens in Rust
//! (`report`), so both backends give the same figures.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row};

use super::Location;
use super::schema;

pub(super) enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// The same code for both connection types: `$c` is a
/// `&mut SqliteConnection` in one arm and a `&mut PgConnection` in the
/// other, and `$begin` the statement that opens a write transaction
/// (SQLite takes the write lock at once, so two writers queue on the busy
/// timeout instead of failing when one upgrades a read lock).
macro_rules! dispatch {
    ($conn:expr, |$c:ident, $begin:ident| $body:expr) => {
        match $conn {
            crate::ledger::store::Conn::Sqlite($c) => {
                let $begin = crate::ledger::store::Begin::Sqlite;
                $body
            }
            crate::ledger::store::Conn::Postgres($c) => {
                let $begin = crate::ledger::store::Begin::Postgres;
                $body
            }
        }
    };
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Begin {
    Sqlite,
    Postgres,
}

impl Begin {
    pub(super) fn statement(self) -> Cow<'static, str> {
        match self {
            Begin::Sqlite => "BEGIN IMMEDIATE".into(),
            Begin::Postgres => "BEGIN".into(),
        }
    }
}

/// How long a writer waits for another to finish (SQLite's busy timeout),
/// and how long connecting to a server may take.
const WAIT: Duration = Duration::from_secs(30);

/// What a bundle's manifest says about its incident. The id is the
/// bundle's identity (`Bundle::id`), so a renamed copy is the same incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: String,
    /// The category the bundle was tagged with when collected.
    pub category: String,
    pub ticket: Option<String>,
    pub deployment_type: String,
    pub flavour: Option<String>,
    pub sourcegraph_version: Option<String>,
    pub collected_at: DateTime<Utc>,
}

/// One debugging session on an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub id: String,
    pub incident_id: String,
    /// Kept to the microsecond: the order of records is what decides an
    /// incident's latest outcome and category.
    pub recorded_at: DateTime<Utc>,
    pub effort_seconds: u64,
    pub outcome: String,
    pub root_cause: Option<String>,
    pub doc_url: Option<String>,
    /// Set when triage found the bundle's category wrong.
    pub category: Option<String>,
    pub ticket: Option<String>,
    pub note: Option<String>,
}

pub(super) async fn connect(loc: &Location) -> Result<Conn> {
    match loc {
        Location::Sqlite(path) => {
            prepare_file(path)?;
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .busy_timeout(WAIT)
                // WAL: readers never block the writer; FULL: a committed
                // record survives a power cut, not only a crash.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true);
            let c = opts.connect().await.map_err(|e| {
                anyhow!(
                    "cannot open the ledger {loc}: {e}; is it an sg-debug ledger? Pass another file with --ledger PATH"
                )
            })?;
            Ok(Conn::Sqlite(c))
        }
        Location::Postgres(url) => {
            let opts: PgConnectOptions = url.parse().map_err(|e| {
                anyhow!("the ledger URL {loc} is not a PostgreSQL URL sg-debug can use: {e}")
            })?;
            let opts = opts.application_name("sg-debug");
            let c = tokio::time::timeout(WAIT, opts.connect())
                .await
                .map_err(|_| anyhow!("cannot reach the ledger at {loc}: no answer within {}s; check the host and port in --ledger or SG_DEBUG_LEDGER", WAIT.as_secs()))?
                .map_err(|e| {
                    anyhow!(
                        "cannot reach the ledger at {loc}: {e}; check the URL in --ledger or SG_DEBUG_LEDGER, and that the server is up"
                    )
                })?;
            Ok(Conn::Postgres(c))
        }
    }
}

/// The ledger holds customer text (tickets, root causes): its directory is
/// made owner-only when sg-debug creates it, and the file is created 0600
/// (SQLite gives its -wal and -shm files the database file's mode).
fn prepare_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the ledger's directory {}", dir.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => bail!(
            "the ledger {} is not a regular file; pass a file path (or a postgres:// URL) with --ledger",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
                .with_context(|| format!("creating the ledger {}", path.display()))?;
            Ok(())
        }
        Err(e) => Err(anyhow!("cannot read the ledger {}: {e}", path.display())),
    }
}

const INSERT_INCIDENT: &str = "INSERT INTO incidents \
     (id, category, ticket, deployment_type, flavour, sourcegraph_version, collected_at, indexed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING";
const INSERT_RECORD: &str = "INSERT INTO records \
     (id, incident_id, recorded_at_us, effort_seconds, outcome, root_cause, doc_url, category, ticket, note) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const INCIDENT_COLUMNS: &str =
    "id, category, ticket, deployment_type, flavour, sourcegraph_version, collected_at";
const RECORD_COLUMNS: &str = "r.id, r.incident_id, r.recorded_at_us, r.effort_seconds, r.outcome, \
     r.root_cause, r.doc_url, r.category, r.ticket, r.note";

/// Adds the incidents not there yet and every record, in one transaction:
/// all of it lands or none. Returns how many incidents were new.
pub(super) async fn write(
    conn: &mut Conn,
    incidents: &[Incident],
    records: &[Record],
) -> Result<u64> {
    let now = Utc::now().timestamp();
    dispatch!(conn, |c, begin| {
        let mut tx = c.begin_with(begin.statement()).await?;
        let mut added = 0;
        for i in incidents {
            added += sqlx::query(INSERT_INCIDENT)
                .bind(&i.id)
                .bind(&i.category)
                .bind(i.ticket.as_deref())
                .bind(&i.deployment_type)
                .bind(i.flavour.as_deref())
                .bind(i.sourcegraph_version.as_deref())
                .bind(i.collected_at.timestamp())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        for r in records {
            sqlx::query(INSERT_RECORD)
                .bind(&r.id)
                .bind(&r.incident_id)
                .bind(r.recorded_at.timestamp_micros())
                .bind(i64::try_from(r.effort_seconds)?)
                .bind(&r.outcome)
                .bind(r.root_cause.as_deref())
                .bind(r.doc_url.as_deref())
                .bind(r.category.as_deref())
                .bind(r.ticket.as_deref())
                .bind(r.note.as_deref())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(added)
    })
}

/// An incident and what its records add up to, summed by the database:
/// the report reads one row per incident, not one per record.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub incident: Incident,
    pub effort_seconds: u64,
    pub records: u64,
    /// The latest record's outcome.
    pub outcome: Option<String>,
    /// The latest `--category` any record gave.
    pub category: Option<String>,
}

/// What the report's lists need of a record that has a root cause, a
/// documentation link or the `documentation-gap` outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    pub incident_id: String,
    pub effort_seconds: u64,
    pub outcome: String,
    pub root_cause: Option<String>,
    pub doc_url: Option<String>,
}

/// Incidents collected in `[from, to)` (unix seconds) with their totals,
/// and the lessons of their records, oldest first.
pub(super) async fn load(
    conn: &mut Conn,
    from: i64,
    to: i64,
) -> Result<(Vec<Totals>, Vec<Lesson>)> {
    let latest = "FROM records r WHERE r.incident_id = i.id";
    let order = "ORDER BY r.recorded_at_us DESC, r.id DESC LIMIT 1";
    let q_totals = format!(
        "SELECT i.id, i.category, i.ticket, i.deployment_type, i.flavour, i.sourcegraph_version, i.collected_at, \
         CAST(COALESCE(s.seconds, 0) AS BIGINT) AS seconds, COALESCE(s.n, 0) AS n, \
         (SELECT r.outcome {latest} {order}) AS outcome_now, \
         (SELECT r.category {latest} AND r.category IS NOT NULL {order}) AS category_now \
         FROM incidents i LEFT JOIN (SELECT incident_id, SUM(effort_seconds) AS seconds, COUNT(*) AS n \
         FROM records GROUP BY incident_id) s ON s.incident_id = i.id \
         WHERE i.collected_at >= $1 AND i.collected_at < $2"
    );
    let q_lessons = "SELECT r.incident_id, r.effort_seconds, r.outcome, r.root_cause, r.doc_url \
         FROM records r JOIN incidents i ON i.id = r.incident_id \
         WHERE i.collected_at >= $1 AND i.collected_at < $2 \
         AND (r.root_cause IS NOT NULL OR r.doc_url IS NOT NULL OR r.outcome = 'documentation-gap') \
         ORDER BY r.recorded_at_us, r.id";
    dispatch!(conn, |c, _begin| {
        let rows = sqlx::query(&q_totals)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *c)
            .await?;
        let mut totals = Vec::with_capacity(rows.len());
        for r in &rows {
            totals.push(Totals {
                incident: incident(r)?,
                effort_seconds: u64::try_from(r.try_get::<i64, _>("seconds")?)?,
                records: u64::try_from(r.try_get::<i64, _>("n")?)?,
                outcome: r.try_get("outcome_now")?,
                category: r.try_get("category_now")?,
            });
        }
        let rows = sqlx::query(q_lessons)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *c)
            .await?;
        let mut lessons = Vec::with_capacity(rows.len());
        for r in &rows {
            lessons.push(Lesson {
                incident_id: r.try_get(0)?,
                effort_seconds: u64::try_from(r.try_get::<i64, _>(1)?)?,
                outcome: r.try_get(2)?,
                root_cause: r.try_get(3)?,
                doc_url: r.try_get(4)?,
            });
        }
        Ok((totals, lessons))
    })
}

/// The incidents with this id, or whose ticket is `ticket` (in the
/// bundle or in a record), with all their records.
pub(super) async fn find(
    conn: &mut Conn,
    id: Option<&str>,
    ticket: Option<&str>,
) -> Result<(Vec<Incident>, Vec<Record>)> {
    let q_incidents = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1 OR ticket = $2 \
         OR id IN (SELECT incident_id FROM records WHERE ticket = $2) ORDER BY collected_at, id"
    );
    let q_records = format!(
        "SELECT {RECORD_COLUMNS} FROM records r WHERE r.incident_id = $1 ORDER BY r.recorded_at_us, r.id"
    );
    dispatch!(conn, |c, _begin| {
        let rows = sqlx::query(&q_incidents)
            .bind(id)
            .bind(ticket)
            .fetch_all(&mut *c)
            .await?;
        let incidents = rows.iter().map(incident).collect::<Result<Vec<_>>>()?;
        let mut records = Vec::new();
        for i in &incidents {
            let rows = sqlx::query(&q_records)
                .bind(&i.id)
                .fetch_all(&mut *c)
                .await?;
            for r in &rows {
                records.push(record(r)?);
            }
        }
        Ok((incidents, records))
    })
}

fn incident<R: Row>(r: &R) -> Result<Incident>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Incident {
        id: r.try_get("id")?,
        category: r.try_get("category")?,
        ticket: r.try_get("ticket")?,
        deployment_type: r.try_get("deployment_type")?,
        flavour: r.try_get("flavour")?,
        sourcegraph_version: r.try_get("sourcegraph_version")?,
        collected_at: time(r.try_get("collected_at")?)?,
    })
}

fn record<R: Row>(r: &R) -> Result<Record>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Record {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        recorded_at: DateTime::from_timestamp_micros(r.try_get("recorded_at_us")?)
            .ok_or_else(|| anyhow!("a record's time in the ledger is out of range"))?,
        effort_seconds: u64::try_from(r.try_get::<i64, _>("effort_seconds")?)?,
        outcome: r.try_get("outcome")?,
        root_cause: r.try_get("root_cause")?,
        doc_url: r.try_get("doc_url")?,
        category: r.try_get("category")?,
        ticket: r.try_get("ticket")?,
        note: r.try_get("note")?,
    })
}

fn time(secs: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| anyhow!("a time in the ledger is out of range: {secs}"))
}

/// The schema version the ledger is at (0: none yet), read without
/// writing anything.
pub(super) async fn version(conn: &mut Conn) -> Result<i64> {
    let tables = match conn {
        Conn::Sqlite(c) => {
            let all: i64 =
                sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
                    .fetch_one(&mut *c)
                    .await?;
            let ours: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_schema'",
            )
            .fetch_one(&mut *c)
            .await?;
            if ours == 0 && all > 0 {
                bail!(
                    "it is a SQLite database but not an sg-debug ledger (it has other tables); pass another file with --ledger PATH"
                );
            }
            ours
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'ledger_schema'",
            )
            .fetch_one(&mut *c)
            .await?
        }
    };
    if tables == 0 {
        return Ok(0);
    }
    dispatch!(conn, |c, _begin| {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM ledger_schema")
            .fetch_one(&mut *c)
            .await?;
        Ok(v.unwrap_or(0))
    })
}

/// Brings the schema to `schema::LATEST` in one transaction, taken so that
/// two first uses at once apply each migration once.
pub(super) async fn migrate(conn: &mut Conn) -> Result<()> {
    dispatch!(conn, |c, begin| {
        let mut tx = c.begin_with(begin.statement()).await?;
        if begin == Begin::Postgres {
            // Serializes concurrent first uses; released at commit.
            sqlx::query("SELECT pg_advisory_xact_lock(7305531941)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(schema::VERSION_TABLE).execute(&mut *tx).await?;
        let at: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM ledger_schema")
            .fetch_one(&mut *tx)
            .await?;
        let at = at.unwrap_or(0);
        schema::check_not_newer(at)?;
        for (i, steps) in schema::MIGRATIONS.iter().enumerate() {
            let v = i64::try_from(i + 1)?;
            if v <= at {
                continue;
            }
            for sql in *steps {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO ledger_schema (version, applied_at, applied_by) VALUES ($1, $2, $3)",
            )
            .bind(v)
            .bind(Utc::now().timestamp())
            .bind(concat!("sg-debug ", env!("CARGO_PKG_VERSION")))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    })
}
