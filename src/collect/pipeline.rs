//! The plumbing between collectors and the packager: collectors send
//! artifacts into a `Sink` and record problems through a `CollectorHandle`;
//! the packager thread redacts each artifact and streams it into the
//! bundle, one at a time.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::Options;
use super::parts::tail::{SpoolDir, TailSpool};
use super::progress::Progress;
use crate::artifact::{self, Artifact, ArtifactMeta, Body, BundlePath, ChannelWriter, FileKind};
use crate::bundle::BundleWriter;
use crate::bundle::format::{
    CollectorError, CollectorRecord, CollectorStatus, Deployment, OmittedRecord,
};
use crate::bundle::sizes::{DISK_USAGE_NAME, DiskUsage};
use crate::bundle::summary::Summary;
use crate::redact::{Outcome, Redactor};

/// What a collector gets: where to send artifacts, where to record
/// errors, the options, progress output and the log spool.
#[derive(Clone)]
pub struct Ctx {
    pub sink: Sink,
    pub rec: CollectorHandle,
    pub opts: Arc<Options>,
    pub progress: Progress,
    pub spool: Arc<SpoolDir>,
    /// Spooled logs not yet read by the packager; see `log_tail`.
    pub spool_slots: Arc<tokio::sync::Semaphore>,
}

/// Logs spooled but not yet packed, at most: enough to keep every request
/// slot busy while the packager works through the queue, few enough that
/// the spool needs at most this many times `--max-log-bytes` of disk.
pub fn spool_slots(concurrency: usize) -> usize {
    2 * concurrency + 16
}

impl Ctx {
    /// A spool keeping the newest `--max-log-bytes` of a log.
    pub async fn log_tail(&self) -> Result<TailSpool> {
        self.tail(self.opts.max_log_bytes).await
    }

    /// A spool keeping the newest `cap` bytes; waits while too many
    /// spooled logs are still waiting for the packager.
    pub async fn tail(&self, cap: u64) -> Result<TailSpool> {
        let slot = self
            .spool_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| anyhow::anyhow!("collection is ending"))?;
        let spool = TailSpool::new(&self.spool, cap).map_err(|e| {
            anyhow::anyhow!(
                "creating a spool file in {}: {e}; free some space there or write the bundle elsewhere with -o",
                self.spool.path().display()
            )
        })?;
        Ok(spool.holding(slot))
    }
}

/// Artifacts go to the packager from here. Never hold an open stream
/// while sending another artifact: the packager reads one at a time.
#[derive(Clone)]
pub struct Sink {
    tx: tokio::sync::mpsc::Sender<Artifact>,
    collector: &'static str,
}

impl Sink {
    pub(super) fn new(tx: tokio::sync::mpsc::Sender<Artifact>, collector: &'static str) -> Sink {
        Sink { tx, collector }
    }

    fn meta(&self, path: &str, kind: FileKind) -> Result<ArtifactMeta> {
        Ok(ArtifactMeta {
            path: BundlePath::new(path).map_err(|e| anyhow::anyhow!("bad artifact name: {e}"))?,
            kind,
            collector: self.collector.to_string(),
        })
    }

    async fn send(&self, meta: ArtifactMeta, body: Body) -> Result<()> {
        self.tx
            .send(Artifact { meta, body })
            .await
            .map_err(|_| anyhow::anyhow!("the packager stopped"))
    }

    pub async fn bytes(&self, path: &str, kind: FileKind, data: Vec<u8>) -> Result<()> {
        let meta = self.meta(path, kind)?;
        self.send(meta, Body::Bytes(data)).await
    }

    pub async fn json<T: Serialize>(&self, path: &str, kind: FileKind, value: &T) -> Result<()> {
        let mut data = serde_json::to_vec_pretty(value)?;
        data.push(b'\n');
        self.bytes(path, kind, data).await
    }

    /// A finished log tail: read from its spool file by the packager.
    pub async fn tail(&self, path: &str, kind: FileKind, tail: TailSpool) -> Result<()> {
        let meta = self.meta(path, kind)?;
        let reader = tail.finish()?;
        self.send(meta, Body::Stream(Box::new(reader))).await
    }

    /// A Kubernetes `List` from its items as JSON Lines (a spool file):
    /// the redactor writes the document, one item in memory at a time.
    pub async fn json_list(
        &self,
        path: &str,
        kind: FileKind,
        items: impl std::io::BufRead + Send + 'static,
    ) -> Result<()> {
        let meta = self.meta(path, kind)?;
        self.send(meta, Body::JsonList(Box::new(items))).await
    }

    /// The at-a-glance `summary.json` and `summary.txt` every deployment
    /// collector writes (contract: `bundle::summary`).
    pub async fn summary(&self, summary: &Summary) -> Result<()> {
        self.json("summary.json", FileKind::Metadata, summary)
            .await?;
        let text = summary.to_text().into_bytes();
        self.bytes("summary.txt", FileKind::Metadata, text).await
    }

    /// `disk-usage.json` (contract: `bundle::sizes`).
    pub async fn disk_usage(&self, usage: &DiskUsage) -> Result<()> {
        self.json(DISK_USAGE_NAME, FileKind::Metadata, usage).await
    }

    /// Opens a streamed artifact; write it to the end before sending more.
    pub async fn stream(&self, path: &str, kind: FileKind) -> Result<ChannelWriter> {
        let meta = self.meta(path, kind)?;
        let (w, r) = artifact::channel(8);
        self.send(meta, Body::Stream(Box::new(r))).await?;
        Ok(w)
    }
}

#[derive(Default)]
struct RecState {
    records: Vec<(CollectorRecord, Instant, bool)>,
    deployment: Option<Deployment>,
    instance_version: Option<String>,
}

/// Collector records live outside the collectors so that what an
/// interrupted collector had recorded is kept.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<RecState>>);

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn start(&self, name: &str) -> CollectorHandle {
        let mut s = self.lock();
        s.records.push((
            CollectorRecord {
                name: name.to_string(),
                status: CollectorStatus::Ok,
                duration_ms: 0,
                errors: Vec::new(),
                notes: Vec::new(),
            },
            Instant::now(),
            false,
        ));
        CollectorHandle {
            rec: self.clone(),
            index: s.records.len() - 1,
        }
    }

    pub fn deployment(&self) -> Deployment {
        self.lock()
            .deployment
            .clone()
            .unwrap_or_else(Deployment::unknown)
    }

    /// The version the Sourcegraph instance's API reported, if it answered.
    pub fn instance_version(&self) -> Option<String> {
        self.lock().instance_version.clone()
    }

    /// The records, with durations and statuses settled.
    pub fn finish(&self) -> Vec<CollectorRecord> {
        let mut s = self.lock();
        s.records
            .iter_mut()
            .map(|(r, started, failed)| {
                if r.duration_ms == 0 {
                    r.duration_ms = started.elapsed().as_millis() as u64;
                }
                if *failed {
                    r.status = CollectorStatus::Failed;
                } else if r.status == CollectorStatus::Skipped {
                    // Said so on purpose; its notes say why.
                } else if !r.errors.is_empty() {
                    r.status = CollectorStatus::Partial;
                }
                r.clone()
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct CollectorHandle {
    rec: Recorder,
    index: usize,
}

impl CollectorHandle {
    /// One item failed; the collector goes on (status `partial`).
    pub fn error(&self, target: &str, message: String) {
        self.rec.lock().records[self.index]
            .0
            .errors
            .push(CollectorError {
                target: target.to_string(),
                message,
            });
    }

    /// The collector could not do its job at all (status `failed`).
    pub fn fail(&self, message: String) {
        let mut s = self.rec.lock();
        let r = &mut s.records[self.index];
        r.2 = true;
        r.0.errors.push(CollectorError {
            target: "collector".into(),
            message,
        });
    }

    /// Something to know that is not an error (how the source was reached).
    pub fn note(&self, message: String) {
        self.rec.lock().records[self.index].0.notes.push(message);
    }

    /// The collector had nothing to do (status `skipped`); `why` says how
    /// to enable it.
    pub fn skip(&self, why: String) {
        let mut s = self.rec.lock();
        let r = &mut s.records[self.index].0;
        r.status = CollectorStatus::Skipped;
        r.notes.push(why);
    }

    /// Only the instance collector says which version answered its API.
    pub fn set_instance_version(&self, v: String) {
        self.rec.lock().instance_version = Some(v);
    }

    /// The collector ended: its duration stops here, not when the bundle
    /// is written.
    pub fn done(&self) {
        let mut s = self.rec.lock();
        let (r, started, _) = &mut s.records[self.index];
        r.duration_ms = (started.elapsed().as_millis() as u64).max(1);
    }

    pub fn is_done(&self) -> bool {
        self.rec.lock().records[self.index].0.duration_ms > 0
    }

    /// Only a deployment collector says what the deployment is.
    pub fn set_deployment(&self, d: Deployment) {
        self.rec.lock().deployment = Some(d);
    }
}

pub struct Packaged {
    pub writer: BundleWriter,
    /// Artifacts that failed on their way into the bundle, by collector.
    pub errors: Vec<(String, CollectorError)>,
    pub omitted: Vec<OmittedRecord>,
}

/// Redaction and writing happen here, one artifact at a time, so a log
/// streams from its spool through the redactor into the zip.
pub fn spawn_packager(
    mut writer: BundleWriter,
    redactor: Redactor,
    mut rx: tokio::sync::mpsc::Receiver<Artifact>,
    progress: Progress,
) -> std::thread::JoinHandle<Packaged> {
    std::thread::spawn(move || {
        let mut errors = Vec::new();
        let mut omitted = Vec::new();
        while let Some(a) = rx.blocking_recv() {
            let collector = a.meta.collector.clone();
            let path = a.meta.path.to_string();
            match redactor.redact(a) {
                Outcome::Kept(k) => match writer.add(k) {
                    Ok(rec) => {
                        progress.bytes_written(rec.bytes);
                        progress.detail(&format!("wrote {} ({} bytes)", rec.path, rec.bytes))
                    }
                    Err(e) => errors.push((
                        collector,
                        CollectorError {
                            target: path,
                            message: format!("{e:#}"),
                        },
                    )),
                },
                Outcome::Omitted { meta, reason } => omitted.push(OmittedRecord {
                    path: meta.path.to_string(),
                    collector: meta.collector,
                    reason,
                }),
            }
        }
        Packaged {
            writer,
            errors,
            omitted,
        }
    })
}
