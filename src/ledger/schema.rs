//! The ledger's schema and its migrations. One list for both backends:
//! every statement is SQL that SQLite and PostgreSQL both run (TEXT,
//! BIGINT, no autoincrement: ids are made by sg-debug). Migration N is
//! `MIGRATIONS[N - 1]`; `ledger_schema` holds one row per applied version.
//! Never edit a released migration: add the next one. docs/ledger.md
//! describes the tables.

use anyhow::{Result, bail};

pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS ledger_schema (\
     version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL, applied_by TEXT NOT NULL)";

pub const MIGRATIONS: &[&[&str]] = &[
    // 1: incidents (one per bundle, from its manifest) and the records
    // of the debugging sessions on them.
    &[
        "CREATE TABLE incidents (\
            id TEXT PRIMARY KEY,\
            category TEXT NOT NULL,\
            ticket TEXT,\
            deployment_type TEXT NOT NULL,\
            flavour TEXT,\
            sourcegraph_version TEXT,\
            collected_at BIGINT NOT NULL,\
            indexed_at BIGINT NOT NULL)",
        "CREATE INDEX incidents_collected_at ON incidents (collected_at)",
        "CREATE INDEX incidents_ticket ON incidents (ticket)",
        "CREATE TABLE records (\
            id TEXT PRIMARY KEY,\
            incident_id TEXT NOT NULL REFERENCES incidents (id),\
            recorded_at_us BIGINT NOT NULL,\
            effort_seconds BIGINT NOT NULL CHECK (effort_seconds > 0 AND effort_seconds <= 3600000),\
            outcome TEXT NOT NULL,\
            root_cause TEXT,\
            doc_url TEXT,\
            category TEXT,\
            ticket TEXT,\
            note TEXT)",
        // Covering: the report's per-incident totals and latest outcome
        // and category are read from the index alone.
        "CREATE INDEX records_incident ON records \
            (incident_id, recorded_at_us, id, effort_seconds, outcome, category)",
        "CREATE INDEX records_ticket ON records (ticket)",
    ],
];

/// The schema version this sg-debug writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// A ledger from a newer sg-debug may hold what this one would misread or
/// lose: refused, and left as it is.
pub fn check_not_newer(version: i64) -> Result<()> {
    if version > LATEST {
        bail!(
            "it has schema version {version}, written by a newer sg-debug; this one ({}) knows versions up to {LATEST}: upgrade sg-debug to use this ledger (it was not changed)",
            env!("CARGO_PKG_VERSION")
        );
    }
    Ok(())
}
