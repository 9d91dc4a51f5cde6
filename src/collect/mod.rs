//! `sg-debug collect`: resolve the incident, find the deployment, run its
//! collector, and hand every artifact through the redaction pass to the
//! packager. Collectors are async and never write files: they send
//! artifacts into a `Sink`. The packager runs on its own thread.

mod detect;
pub mod docker;
pub mod kubernetes;
pub mod options;
pub mod summary;

use std::collections::BTreeMap;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{SubsecRound, Utc};
use serde::Serialize;

use crate::UsageError;
use crate::artifact::{self, Artifact, ArtifactMeta, Body, ChannelWriter};
use crate::bundle::BundleWriter;
use crate::bundle::format::{
    BundlePath, CollectorError, CollectorRecord, CollectorStatus, Deployment, FORMAT_VERSION,
    FileKind, Incident, Manifest, OmittedRecord, Tool, bundle_stem,
};
use crate::category::{self, CATEGORIES, Category};
use crate::cli::CollectArgs;
use crate::redact::{Outcome, Redactor};
pub use options::Options;

pub fn run(args: CollectArgs) -> Result<ExitCode> {
    let category = resolve_category(args.category.as_deref())?;
    let opts = Options::from_args(&args)?;
    let mut redactor = Redactor::from_args(&args.rules)?;
    if args.obfuscate_network {
        redactor = redactor.obfuscating_network();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let created_at = Utc::now().trunc_subsecs(0);
    let stem = bundle_stem(category.id, created_at);
    let dest = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{stem}.zip")));
    // An unusable output path is found before any work is done; the
    // writer removes its partial files if we stop below.
    let writer = BundleWriter::create(&dest, &stem, created_at, args.force)?;

    // A wrong host or an ambiguous choice is the user's to fix, not a
    // bundle's to record: no bundle is written then.
    let target = runtime.block_on(detect::detect(&opts))?;
    let collector = target.name();
    let progress = Progress::new(opts.verbose);

    let (tx, rx) = tokio::sync::mpsc::channel::<Artifact>(16);
    let packager = spawn_packager(writer, redactor.clone(), rx, progress.clone());
    let recorder = Recorder::default();
    let ctx = Ctx {
        sink: Sink {
            tx,
            collector: collector.to_string(),
        },
        rec: recorder.start(collector),
        opts: Arc::new(opts.clone()),
        progress: progress.clone(),
    };
    progress.phase(&format!("collecting {}", target.describe()));
    let complete = runtime.block_on(async {
        let rec = ctx.rec.clone();
        let work = target.collect(ctx);
        tokio::select! {
            r = tokio::time::timeout(opts.deadline, work) => match r {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    rec.fail(format!("{e:#}"));
                    true
                }
                Err(_) => {
                    rec.error("collection", format!("the overall deadline of {}s passed; raise it with --deadline", opts.deadline.as_secs()));
                    false
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\ninterrupted: finishing the bundle with what was collected so far (Ctrl-C again to abort)");
                rec.error("collection", "interrupted by the user (Ctrl-C) before it finished".into());
                false
            }
        }
    });
    // Dropping the collector's task (and its senders) ends the packager's
    // input; a second Ctrl-C while finishing aborts outright.
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("aborted: no bundle written");
            std::process::exit(130);
        }
    });
    let packaged = packager
        .join()
        .map_err(|_| anyhow::anyhow!("the packager thread panicked"))?;

    let mut collectors = recorder.finish();
    for (collector, err) in packaged.errors {
        if let Some(c) = collectors.iter_mut().find(|c| c.name == collector) {
            c.errors.push(err);
            if c.status == CollectorStatus::Ok {
                c.status = CollectorStatus::Partial;
            }
        }
    }
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool: Tool::this(),
        created_at,
        complete,
        incident: Incident {
            category: category.id.to_string(),
            ticket: non_empty(args.ticket),
            note: non_empty(args.note),
        },
        deployment: recorder.deployment(),
        options: opts.record(),
        collectors,
        files: Vec::new(),
        omitted: packaged.omitted,
        leak_scan: None,
    };
    redactor.manifest_fields(&mut manifest);
    progress.phase("writing the bundle");
    let mut scanner = redactor.line_redactor();
    let (path, manifest) = packaged.writer.finish(manifest, Some(&mut scanner))?;
    runtime.shutdown_background();
    report(&manifest);
    if let Some(net) = redactor.network() {
        let map = net.write_map(&path)?;
        eprintln!(
            "network pseudonyms: {} (keep it; do not send it with the bundle)",
            map.display()
        );
    }
    println!("{}", path.display());
    let all_failed = manifest
        .collectors
        .iter()
        .all(|c| c.status == CollectorStatus::Failed);
    Ok(if all_failed || !complete {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What the user sees on stderr after collection: problems first.
fn report(m: &Manifest) {
    for c in &m.collectors {
        for e in &c.errors {
            eprintln!("{}: {}: {}", c.name, e.target, e.message);
        }
    }
    for o in &m.omitted {
        eprintln!("left out: {}: {}", o.path, o.reason);
    }
    if let Some(scan) = &m.leak_scan {
        for h in &scan.hits {
            eprintln!("LEAK {}:{}: matches rule {}", h.path, h.line, h.rule);
        }
        if !scan.hits.is_empty() {
            eprintln!(
                "warning: the leak scan found {} possible secret(s) the redaction pass missed; they are recorded in the manifest. Review before sharing.",
                scan.hits.len()
            );
        }
    }
    let redactions: u64 = m.files.iter().flat_map(|f| f.redactions.values()).sum();
    let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
    eprintln!(
        "{} files, {} bytes, {redactions} redactions{}",
        m.files.len(),
        bytes,
        if m.complete {
            ""
        } else {
            "; INCOMPLETE (manifest says complete: false)"
        }
    );
}

struct Packaged {
    writer: BundleWriter,
    errors: Vec<(String, CollectorError)>,
    omitted: Vec<OmittedRecord>,
}

/// Redaction and writing happen here, one artifact at a time, so a log
/// streams from the collector through the redactor into the zip.
fn spawn_packager(
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

/// What a collector gets: where to send artifacts, where to record
/// errors, the options, and progress output.
#[derive(Clone)]
pub struct Ctx {
    pub sink: Sink,
    pub rec: CollectorHandle,
    pub opts: Arc<Options>,
    pub progress: Progress,
}

/// Artifacts go to the packager from here. Never hold an open stream
/// while sending another artifact: the packager reads one at a time.
#[derive(Clone)]
pub struct Sink {
    tx: tokio::sync::mpsc::Sender<Artifact>,
    collector: String,
}

impl Sink {
    fn meta(&self, path: &str, kind: FileKind) -> Result<ArtifactMeta> {
        Ok(ArtifactMeta {
            path: BundlePath::new(path).map_err(|e| anyhow::anyhow!("bad artifact name: {e}"))?,
            kind,
            collector: self.collector.clone(),
        })
    }

    pub async fn bytes(&self, path: &str, kind: FileKind, data: Vec<u8>) -> Result<()> {
        let meta = self.meta(path, kind)?;
        self.tx
            .send(Artifact {
                meta,
                body: Body::Bytes(data),
            })
            .await
            .map_err(|_| anyhow::anyhow!("the packager stopped"))
    }

    pub async fn json<T: Serialize>(&self, path: &str, kind: FileKind, value: &T) -> Result<()> {
        let mut data = serde_json::to_vec_pretty(value)?;
        data.push(b'\n');
        self.bytes(path, kind, data).await
    }

    /// The at-a-glance `summary.json` and `summary.txt` every collector writes.
    pub async fn summary(&self, summary: &summary::Summary) -> Result<()> {
        self.json("summary.json", FileKind::Metadata, summary)
            .await?;
        let text = summary.to_text().into_bytes();
        self.bytes("summary.txt", FileKind::Metadata, text).await
    }

    /// Opens a streamed artifact; write it to the end before sending more.
    pub async fn stream(&self, path: &str, kind: FileKind) -> Result<ChannelWriter> {
        let meta = self.meta(path, kind)?;
        let (w, r) = artifact::channel(8);
        self.tx
            .send(Artifact {
                meta,
                body: Body::Stream(Box::new(r)),
            })
            .await
            .map_err(|_| anyhow::anyhow!("the packager stopped"))?;
        Ok(w)
    }
}

#[derive(Default)]
struct RecState {
    records: Vec<(CollectorRecord, Instant, bool)>,
    deployment: Option<Deployment>,
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
            },
            Instant::now(),
            false,
        ));
        CollectorHandle {
            rec: self.clone(),
            index: s.records.len() - 1,
        }
    }

    fn deployment(&self) -> Deployment {
        self.lock()
            .deployment
            .clone()
            .unwrap_or_else(Deployment::unknown)
    }

    fn finish(&self) -> Vec<CollectorRecord> {
        let mut s = self.lock();
        s.records
            .iter_mut()
            .map(|(r, started, failed)| {
                r.duration_ms = started.elapsed().as_millis() as u64;
                if *failed {
                    r.status = CollectorStatus::Failed;
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

    pub fn set_deployment(&self, d: Deployment) {
        self.rec.lock().deployment = Some(d);
    }
}

/// Phases on stderr when it is a terminal (or with -v); details with -v.
#[derive(Clone)]
pub struct Progress {
    show: bool,
    verbose: bool,
}

impl Progress {
    pub fn new(verbose: bool) -> Progress {
        Progress {
            show: verbose || io::stderr().is_terminal(),
            verbose,
        }
    }

    pub fn phase(&self, text: &str) {
        if self.show {
            eprintln!("sg-debug: {text}");
        }
    }

    pub fn detail(&self, text: &str) {
        if self.verbose {
            eprintln!("sg-debug:   {text}");
        }
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn resolve_category(arg: Option<&str>) -> Result<&'static Category> {
    if let Some(s) = arg {
        return category::parse(s).map_err(|m| UsageError(m).into());
    }
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        return prompt_category(&mut io::stdin().lock(), &mut io::stderr());
    }
    Err(UsageError(format!(
        "--category is required: tag the bundle with one of {}\n(run `sg-debug categories` for descriptions)",
        category::ids().join(", ")
    ))
    .into())
}

/// Asks on the terminal; accepts a number from the list or a category id.
fn prompt_category(input: &mut dyn BufRead, out: &mut dyn Write) -> Result<&'static Category> {
    writeln!(out, "Which kind of incident is this bundle for?")?;
    for (i, c) in CATEGORIES.iter().enumerate() {
        writeln!(out, "  {:>2}. {:<22} {}", i + 1, c.id, c.description)?;
    }
    for _ in 0..3 {
        write!(out, "category [1-{}]: ", CATEGORIES.len())?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line).context("reading the category")? == 0 {
            break;
        }
        let answer = line.trim();
        if let Ok(n) = answer.parse::<usize>()
            && (1..=CATEGORIES.len()).contains(&n)
        {
            return Ok(&CATEGORIES[n - 1]);
        }
        match category::parse(answer) {
            Ok(c) => return Ok(c),
            Err(msg) => writeln!(out, "{}", msg.lines().next().unwrap_or_default())?,
        }
    }
    Err(UsageError("no incident category chosen; pass --category".into()).into())
}

/// Keeps the newest `cap` bytes of a stream, cut at a line start, and
/// counts what was dropped: logs are bounded by size, newest kept.
pub struct TailBuffer {
    cap: usize,
    chunks: std::collections::VecDeque<Vec<u8>>,
    len: usize,
    dropped: u64,
}

impl TailBuffer {
    pub fn new(cap: usize) -> TailBuffer {
        TailBuffer {
            cap,
            chunks: Default::default(),
            len: 0,
            dropped: 0,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.len += data.len();
        self.chunks.push_back(data.to_vec());
        while self.len > self.cap {
            let over = self.len - self.cap;
            let front = self.chunks.front_mut().expect("len > 0");
            if front.len() <= over {
                self.len -= front.len();
                self.dropped += front.len() as u64;
                self.chunks.pop_front();
            } else {
                front.drain(..over);
                self.len -= over;
                self.dropped += over as u64;
            }
        }
    }

    /// The kept bytes, starting at a whole line when anything was dropped,
    /// behind a notice saying how much is missing.
    pub fn finish(self) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::with_capacity(self.len + 128);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        if self.dropped == 0 {
            return out;
        }
        // Start at a whole line, unless that would leave nothing.
        let cut = match memchr::memchr(b'\n', &out) {
            Some(i) if i + 1 < out.len() => i + 1,
            _ => 0,
        };
        let dropped = self.dropped + cut as u64;
        let mut res = format!(
            "[sg-debug: log truncated: the oldest {dropped} bytes were dropped to keep the newest {} (--max-log-bytes)]\n",
            self.cap
        )
        .into_bytes();
        res.extend_from_slice(&out[cut..]);
        res
    }
}

/// Names (containers, pods, files) become path segments: keep them boring.
pub fn path_segment(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => "_".into(),
        _ => s,
    }
}

/// `BTreeMap` of option name to value, for the manifest.
pub type OptionRecord = BTreeMap<String, serde_json::Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_accepts_number_or_name_and_retries() {
        let mut out = Vec::new();
        let c = prompt_category(&mut "3\n".as_bytes(), &mut out).unwrap();
        assert_eq!(c.id, CATEGORIES[2].id);
        let c = prompt_category(&mut "serach\ndatabase\n".as_bytes(), &mut out).unwrap();
        assert_eq!(c.id, "database");
        let shown = String::from_utf8(out).unwrap();
        assert!(shown.contains("did you mean 'search'?"), "{shown}");
    }

    #[test]
    fn prompt_gives_up_on_eof() {
        let err = prompt_category(&mut "".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
    }

    #[test]
    fn tail_buffer_keeps_the_newest_whole_lines() {
        let mut t = TailBuffer::new(12);
        t.push(b"line one\n");
        t.push(b"line two\nline three\n");
        let out = String::from_utf8(t.finish()).unwrap();
        assert!(out.ends_with("]\nline three\n"), "{out}");
        assert!(
            out.starts_with("[sg-debug: log truncated: the oldest 18 bytes"),
            "{out}"
        );
        let mut t = TailBuffer::new(100);
        t.push(b"short\n");
        assert_eq!(t.finish(), b"short\n");
        // One line longer than the cap: its tail is better than nothing.
        let mut t = TailBuffer::new(4);
        t.push(b"abcdefgh\n");
        assert!(t.finish().ends_with(b"]\nfgh\n"));
    }
}
