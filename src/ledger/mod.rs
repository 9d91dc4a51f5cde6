//! Stage 4, the triage ledger: what each debugging session cost and how it
//! ended, per incident (one incident per bundle), so that `report` can say
//! where the effort goes. Bundles are read through `bundle::reader` only
//! (manifests; a record also verifies the bundle); storage is SQLite or
//! PostgreSQL (`store`), with one schema (`schema`). docs/ledger.md says
//! what is stored and how the figures are computed.

pub mod effort;
pub mod html;
mod location;
pub mod outcome;
pub mod report;
mod schema;
mod store;
pub mod text;

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use tokio::runtime::Runtime;

pub use self::location::Location;
pub use self::report::{LedgerReport, Window};
pub use self::store::{Incident, Lesson, Record, Totals};
use crate::bundle::{Bundle, Manifest};
use crate::category;

/// An open ledger, migrated to this sg-debug's schema.
pub struct Ledger {
    rt: Runtime,
    conn: store::Conn,
    location: Location,
}

impl Ledger {
    /// Opens (creating a SQLite file if needed) and brings the schema up
    /// to date. A ledger from a newer sg-debug is refused untouched.
    pub fn open(location: &Location) -> Result<Ledger> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime for the ledger")?;
        let mut conn = rt.block_on(store::connect(location))?;
        let at = rt
            .block_on(store::version(&mut conn))
            .and_then(|v| schema::check_not_newer(v).map(|_| v))
            .map_err(|e| anyhow!("the ledger {location}: {e:#}"))?;
        if at < schema::LATEST {
            rt.block_on(store::migrate(&mut conn))
                .map_err(|e| anyhow!("setting up the ledger {location}: {e:#}"))?;
        }
        Ok(Ledger {
            rt,
            conn,
            location: location.clone(),
        })
    }

    /// Opens a ledger that must exist already (for `report` and `show`):
    /// reading never creates an empty SQLite file by a typo in a path.
    pub fn open_existing(location: &Location) -> Result<Ledger> {
        if let Location::Sqlite(p) = location
            && !p.exists()
        {
            bail!(
                "there is no ledger at {location} yet: record a session (`sg-debug triage record`) or index bundles (`sg-debug triage import`) first, or pass --ledger"
            );
        }
        Ledger::open(location)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Adds incidents (those already there are kept as they are) and
    /// records, all in one transaction. Returns how many incidents were new.
    pub fn write(&mut self, incidents: &[Incident], records: &[Record]) -> Result<u64> {
        self.rt
            .block_on(store::write(&mut self.conn, incidents, records))
            .map_err(|e| {
                anyhow!(
                    "writing to the ledger {}: {e:#}; nothing was written",
                    self.location
                )
            })
    }

    /// Incidents collected within `window` with their totals, and the
    /// lessons (root causes, documentation gaps) of their records.
    pub fn load(&mut self, window: &Window) -> Result<(Vec<Totals>, Vec<Lesson>)> {
        let (from, to) = window.bounds();
        self.rt
            .block_on(store::load(&mut self.conn, from, to))
            .map_err(|e| anyhow!("reading the ledger {}: {e:#}", self.location))
    }

    /// The incident with this id, or those with this ticket, and their records.
    pub fn find(
        &mut self,
        id: Option<&str>,
        ticket: Option<&str>,
    ) -> Result<(Vec<Incident>, Vec<Record>)> {
        self.rt
            .block_on(store::find(&mut self.conn, id, ticket))
            .map_err(|e| anyhow!("reading the ledger {}: {e:#}", self.location))
    }
}

/// The incident a bundle stands for, from its manifest alone. A category
/// outside the taxonomy cannot be counted: refused, like `report` does.
pub fn incident_of(bundle: &Bundle) -> Result<Incident> {
    let m: &Manifest = bundle.manifest();
    if category::find(&m.incident.category).is_none() {
        bail!(
            "{}: its category {:?} is not one of sg-debug's (see `sg-debug categories`)",
            bundle.path(),
            m.incident.category
        );
    }
    Ok(facts(bundle))
}

/// The manifest's facts, whatever its category says.
fn facts(bundle: &Bundle) -> Incident {
    let m = bundle.manifest();
    Incident {
        id: bundle.id().to_string(),
        category: m.incident.category.clone(),
        ticket: m.incident.ticket.clone(),
        deployment_type: m.deployment.kind.as_str().to_string(),
        flavour: m.deployment.flavour.clone(),
        sourcegraph_version: m.deployment.sourcegraph_version.clone(),
        collected_at: m.created_at,
    }
}

/// The category that counts for an incident: the latest record's
/// `--category`, else the bundle's own tag.
pub fn current_category<'a>(
    incident: &'a Incident,
    records_oldest_first: impl DoubleEndedIterator<Item = &'a Record>,
) -> &'a str {
    records_oldest_first
        .rev()
        .find_map(|r| r.category.as_deref())
        .unwrap_or(&incident.category)
}

/// One session as the engineer typed it, checked.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub effort_seconds: u64,
    pub outcome: String,
    pub root_cause: Option<String>,
    pub doc_url: Option<String>,
    pub category: Option<String>,
    pub ticket: Option<String>,
    pub note: Option<String>,
}

/// Limits on what one record's text may hold: generous for people,
/// small enough that a pasted log is refused rather than stored.
const MAX_SHORT: usize = 500;
const MAX_NOTE: usize = 4000;

/// The incident and the record for one session on `bundle`, after the
/// bundle verified against its manifest: effort is only ever counted
/// against a bundle that is what it says it is.
pub fn prepare_record(bundle: &mut Bundle, session: Session) -> Result<(Incident, Record)> {
    let path = bundle.path().to_string();
    let v = bundle.verify();
    if !v.problems.is_empty() {
        bail!(
            "{path} does not verify ({} problem(s), first: {}); run `sg-debug inspect {path} --verify`, and ask for the bundle again if it was damaged; nothing was recorded",
            v.problems.len(),
            v.problems[0]
        );
    }
    // A bundle whose tag is unknown can still be triaged when the
    // engineer says what it really was; its tag stays as it is.
    let incident = match &session.category {
        Some(_) => facts(bundle),
        None => incident_of(bundle)
            .map_err(|e| e.context("pass --category with the right one to record it"))?,
    };
    let record = Record {
        id: new_id()?,
        incident_id: incident.id.clone(),
        recorded_at: Utc::now(),
        effort_seconds: session.effort_seconds,
        outcome: session.outcome,
        root_cause: text("--root-cause", session.root_cause, MAX_SHORT)?,
        doc_url: doc_url(session.doc_url)?,
        category: session.category,
        ticket: text("--ticket", session.ticket, MAX_SHORT)?,
        note: text("--note", session.note, MAX_NOTE)?,
    };
    Ok((incident, record))
}

fn text(flag: &str, v: Option<String>, max: usize) -> Result<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    let t = v.trim();
    if t.is_empty() {
        bail!("{flag} is empty; leave it out or say something");
    }
    if t.chars().count() > max {
        bail!(
            "{flag} is {} characters, over the {max} a record keeps; summarise it (the bundle holds the logs)",
            t.chars().count()
        );
    }
    Ok(Some(t.to_string()))
}

/// Documentation links are shown as links in the HTML report: only
/// http(s), with nothing that could break out of an attribute.
fn doc_url(v: Option<String>) -> Result<Option<String>> {
    let Some(u) = text("--doc", v, MAX_SHORT)? else {
        return Ok(None);
    };
    let scheme_ok = u.starts_with("https://") || u.starts_with("http://");
    if !scheme_ok || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(
            "--doc {u:?} is not an http(s) URL; give the page that was missing or wrong, like https://sourcegraph.com/docs/..."
        );
    }
    Ok(Some(u))
}

/// 128 random bits: records made at once in two processes never collide.
fn new_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| anyhow!("no randomness for a record id: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The incidents of these bundles, from their manifests alone (no entry
/// is read). All or nothing: one unreadable bundle fails the lot, naming it.
pub fn read_incidents(files: &[PathBuf]) -> Result<Vec<Incident>> {
    let mut out = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    for f in files {
        match Bundle::open(f)
            .map_err(anyhow::Error::from)
            .and_then(|b| incident_of(&b))
        {
            Ok(i) => out.push(i),
            Err(e) => bad.push(format!("{e:#}")),
        }
    }
    if let Some(first) = bad.first() {
        bail!(
            "{} of {} bundle(s) cannot be indexed (first: {first}); move them aside or fix them and run again; nothing was imported",
            bad.len(),
            files.len()
        );
    }
    Ok(out)
}
