//! Stage 4, collection: find the deployment, run its collector (and any
//! other collector configured beside it), and hand every artifact through
//! the redaction pass to the packager. Collectors are async and never
//! write files: they send artifacts into a `Sink` (see `pipeline`). The
//! packager runs on its own thread.
//!
//! A collector is a small part behind the `Collector` trait: `docker` and
//! `kubernetes` are deployment collectors (exactly one runs); `instance`
//! (the Sourcegraph GraphQL API) runs beside it; pieces they share live in
//! `parts`.

mod detect;
pub mod docker;
pub mod instance;
pub mod kubernetes;
pub mod options;
pub mod parts;
pub mod pipeline;
pub mod preflight;
pub mod progress;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{SubsecRound, Utc};
use futures_util::future::BoxFuture;

use std::collections::BTreeMap;

use crate::artifact::{Artifact, ArtifactMeta, Body, BundlePath, FileKind};
use crate::bundle::BundleWriter;
use crate::bundle::format::{
    CollectorStatus, FORMAT_VERSION, Incident, Manifest, Tool, UpstreamRecord, bundle_stem,
};
use crate::category::Category;
use crate::redact::{Outcome, Redactor};
pub use options::{AccessToken, DeploymentChoice, Options};
use parts::tail::SpoolDir;
pub use pipeline::{CollectorHandle, Ctx, Recorder, Sink};
pub use progress::Progress;

/// One source of artifacts with its own record in the manifest.
pub trait Collector: Send {
    /// The collector's name in the manifest; unique within a run.
    fn name(&self) -> &'static str;
    /// One line for progress output: what is being collected, where.
    fn describe(&self) -> String;
    /// Sends artifacts into `ctx.sink` and records problems in `ctx.rec`.
    /// An `Err` means the collector could not do its job at all.
    fn collect(self: Box<Self>, ctx: Ctx) -> BoxFuture<'static, Result<()>>;
    /// A Kubernetes deployment collector's way to the frontend, for the
    /// instance collector when no URL is given.
    fn kube_frontend(&self) -> Option<kubernetes::KubeFrontend> {
        None
    }
}

/// Everything `run` needs, already checked by the command.
pub struct Plan {
    pub category: &'static Category,
    pub ticket: Option<String>,
    pub note: Option<String>,
    /// None: `./sg-debug-<category>-<time>.zip`.
    pub output: Option<PathBuf>,
    pub force: bool,
    pub options: Options,
    pub redactor: Redactor,
    pub progress: Progress,
    /// A reader of what was collected, run once the collectors end.
    pub after: Option<AfterCollection>,
}

/// A reader run after the collectors and before the bundle is finished
/// (the upstream diff): it sees the entries it asked for exactly as
/// written, redacted, and the entries it returns go through the redaction
/// pass to the packager like any artifact. Data still flows one way:
/// nothing it returns changes what was collected.
pub struct AfterCollection {
    /// Its record in the manifest's `collectors[]`.
    pub name: &'static str,
    /// Which entries it reads.
    pub wanted: fn(&str) -> bool,
    #[allow(clippy::type_complexity)]
    pub run: Box<dyn FnOnce(&BTreeMap<String, Vec<u8>>) -> Result<Added> + Send>,
}

/// What an `AfterCollection` adds to the bundle.
pub struct Added {
    pub files: Vec<(String, FileKind, Vec<u8>)>,
    pub upstream: Option<UpstreamRecord>,
}

/// What was written.
pub struct Collected {
    pub path: PathBuf,
    /// The manifest as written (sealed).
    pub manifest: Manifest,
    /// `BUNDLE.network-map.json`, with `--obfuscate-network`.
    pub network_map: Option<PathBuf>,
}

pub fn run(plan: Plan) -> Result<Collected> {
    let prepared = prepare(&plan)?;
    // A wrong host or an ambiguous choice is the user's to fix, not a
    // bundle's to record: no bundle is written then.
    let deployment = prepared.runtime.block_on(detect::detect(&plan.options))?;
    let instance = instance::plan(&plan.options, deployment.kube_frontend());
    run_collectors(plan, prepared, vec![deployment, Box::new(instance)])
}

/// What exists before any collector runs.
struct Prepared {
    runtime: tokio::runtime::Runtime,
    writer: BundleWriter,
    spool: Arc<SpoolDir>,
    created_at: chrono::DateTime<Utc>,
}

/// The runtime, the bundle writer and the spool: an unusable output path
/// is found here, before any work is done; the writer removes its partial
/// files if we stop later.
fn prepare(plan: &Plan) -> Result<Prepared> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let created_at = Utc::now().trunc_subsecs(0);
    let stem = bundle_stem(&plan.category.id, created_at);
    let dest = plan
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{stem}.zip")));
    let mut writer = BundleWriter::create(
        &dest,
        &stem,
        created_at,
        plan.force,
        plan.redactor.clone(),
        true,
    )?;
    if let Some(after) = &plan.after {
        writer.keep(after.wanted);
    }
    let near = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let spool = Arc::new(SpoolDir::create(&near).with_context(|| {
        format!(
            "creating a private spool directory in {} for log tails",
            near.display()
        )
    })?);
    // A closed terminal or `kill` ends the run at once, without leaving
    // the partial bundle or the spool behind.
    runtime.spawn(remove_partials_on_termination());
    Ok(Prepared {
        runtime,
        writer,
        spool,
        created_at,
    })
}

/// Runs `collectors` side by side, each with its own record in the
/// manifest, and writes the bundle.
fn run_collectors(
    plan: Plan,
    prepared: Prepared,
    collectors: Vec<Box<dyn Collector>>,
) -> Result<Collected> {
    let Plan {
        category,
        ticket,
        note,
        options: opts,
        redactor,
        progress,
        after,
        ..
    } = plan;
    let Prepared {
        runtime,
        writer,
        spool,
        created_at,
    } = prepared;
    let (tx, rx) = tokio::sync::mpsc::channel::<Artifact>(16);
    let packager = pipeline::spawn_packager(writer, redactor.clone(), rx, progress.clone());
    let recorder = Recorder::default();
    let spool_slots = Arc::new(tokio::sync::Semaphore::new(pipeline::spool_slots(
        opts.concurrency,
    )));
    let opts = Arc::new(opts);
    let mut runs = Vec::new();
    for c in collectors {
        progress.phase(&format!("collecting {}", c.describe()));
        let ctx = Ctx {
            sink: Sink::new(tx.clone(), c.name()),
            rec: recorder.start(c.name()),
            opts: opts.clone(),
            progress: progress.clone(),
            spool: spool.clone(),
            spool_slots: spool_slots.clone(),
        };
        runs.push((ctx.rec.clone(), c.collect(ctx)));
    }
    drop(tx);
    let complete = runtime.block_on(run_all(runs, &opts));
    // Dropping the collectors' tasks (and their senders) ends the
    // packager's input; a second Ctrl-C while finishing aborts outright,
    // removing what was half-written.
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::fsutil::cleanup::exit(130, "aborted: no bundle written");
        }
    });
    let packaged = packager
        .join()
        .map_err(|_| anyhow::anyhow!("the packager thread panicked"))?;

    let mut writer = packaged.writer;
    let upstream = after.and_then(|a| {
        progress.phase("comparing the deployment with its upstream");
        run_after(a, &mut writer, &redactor, &recorder)
    });
    // After every collector ran, so that neither waits for the other:
    // the instance whose API answered should be the deployment collected.
    let deployed = recorder.deployment().sourcegraph_version;
    let warnings: Vec<String> =
        instance::same_instance(deployed.as_deref(), recorder.instance_version().as_deref())
            .into_iter()
            .collect();
    let unchecked = deployed.is_none() && recorder.instance_version().is_some();
    let mut collectors = recorder.finish();
    if unchecked && let Some(c) = collectors.iter_mut().find(|c| c.name == instance::NAME) {
        c.notes.push(
            "not checked that the instance whose API answered is the deployment collected: the deployment's version is unknown".into(),
        );
    }
    for (collector, err) in packaged.errors {
        if let Some(c) = collectors.iter_mut().find(|c| c.name == collector) {
            c.errors.push(err);
            if c.status == CollectorStatus::Ok {
                c.status = CollectorStatus::Partial;
            }
        }
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool: Tool::this(),
        created_at,
        complete,
        incident: Incident {
            category: category.id.to_string(),
            ticket,
            note,
        },
        deployment: recorder.deployment(),
        options: opts.record(),
        collectors,
        files: Vec::new(),
        omitted: packaged.omitted,
        warnings,
        leak_scan: None,
        upstream,
    };
    progress.phase("writing the bundle");
    let (path, manifest) = writer.finish(manifest)?;
    drop(spool);
    runtime.shutdown_background();
    progress.finish();
    let network_map = match redactor.network() {
        Some(net) => Some(net.write_map(&path)?),
        None => None,
    };
    Ok(Collected {
        path,
        manifest,
        network_map,
    })
}

/// Runs the post-collection reader on the kept entries and packs what it
/// returns; a failure is its record's, not the bundle's.
fn run_after(
    after: AfterCollection,
    writer: &mut BundleWriter,
    redactor: &Redactor,
    recorder: &Recorder,
) -> Option<UpstreamRecord> {
    let rec = recorder.start(after.name);
    let added = match (after.run)(writer.kept()) {
        Ok(a) => a,
        Err(e) => {
            rec.fail(format!("{e:#}"));
            rec.done();
            return None;
        }
    };
    for (path, kind, data) in added.files {
        let meta = match BundlePath::new(&path) {
            Ok(p) => ArtifactMeta {
                path: p,
                kind,
                collector: after.name.to_string(),
            },
            Err(e) => {
                rec.error(&path, format!("bad entry name: {e}"));
                continue;
            }
        };
        let artifact = Artifact {
            meta,
            body: Body::Bytes(data),
        };
        match redactor.redact(artifact) {
            Outcome::Kept(k) => {
                if let Err(e) = writer.add(k) {
                    rec.error(&path, format!("{e:#}"));
                }
            }
            Outcome::Omitted { reason, .. } => rec.error(&path, reason),
        }
    }
    rec.done();
    added.upstream
}

async fn remove_partials_on_termination() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let code = tokio::select! {
        _ = term.recv() => 128 + libc::SIGTERM,
        _ = hup.recv() => 128 + libc::SIGHUP,
    };
    crate::fsutil::cleanup::exit(code, "terminated: no bundle written");
}

/// Runs every collector to its end, the overall deadline or Ctrl-C;
/// returns whether collection completed.
async fn run_all(
    runs: Vec<(CollectorHandle, BoxFuture<'static, Result<()>>)>,
    opts: &Options,
) -> bool {
    let handles: Vec<CollectorHandle> = runs.iter().map(|(h, _)| h.clone()).collect();
    let work = futures_util::future::join_all(runs.into_iter().map(|(rec, fut)| async move {
        if let Err(e) = fut.await {
            rec.fail(format!("{e:#}"));
        }
        rec.done();
    }));
    let stopped = |why: String| {
        for h in handles.iter().filter(|h| !h.is_done()) {
            h.error("collection", why.clone());
        }
        false
    };
    tokio::select! {
        r = tokio::time::timeout(opts.deadline, work) => match r {
            Ok(_) => true,
            Err(_) => stopped(format!(
                "the overall deadline of {}s passed; raise it with --deadline",
                opts.deadline.as_secs()
            )),
        },
        _ = tokio::signal::ctrl_c() => {
            // Not eprintln: a closed terminal would panic this task.
            let _ = writeln!(std::io::stderr(), "\ninterrupted: finishing the bundle with what was collected so far (Ctrl-C again to abort)");
            stopped("interrupted by the user (Ctrl-C) before it finished".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Bundle;
    use crate::bundle::format::{Deployment, DeploymentType};
    use futures_util::FutureExt;

    /// A collector that writes one file, says what the deployment is if
    /// asked to, and fails after that if asked to.
    struct Fake {
        name: &'static str,
        deployment: bool,
        fail: bool,
    }

    impl Collector for Fake {
        fn name(&self) -> &'static str {
            self.name
        }
        fn describe(&self) -> String {
            format!("fake {}", self.name)
        }
        fn collect(self: Box<Self>, ctx: Ctx) -> BoxFuture<'static, Result<()>> {
            async move {
                let path = format!("{}/facts.json", self.name);
                ctx.sink
                    .bytes(
                        &path,
                        FileKind::Metadata,
                        b"{\"password\": \"hunter2hunter2\"}\n".to_vec(),
                    )
                    .await?;
                if self.deployment {
                    ctx.rec.set_deployment(Deployment {
                        kind: DeploymentType::PureDocker,
                        ..Deployment::unknown()
                    });
                }
                ctx.rec
                    .error("some/item", "token=abc123abc123abc123 refused".into());
                if self.fail {
                    anyhow::bail!("the instance did not answer");
                }
                Ok(())
            }
            .boxed()
        }
    }

    #[test]
    fn several_collectors_each_with_its_own_record() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            category: crate::category::find("search").unwrap(),
            ticket: None,
            note: None,
            output: Some(dir.path().join("b.zip")),
            force: false,
            options: Options::for_tests(),
            redactor: Redactor::new(crate::redact::rules::RuleSet::load(&[], &[]).unwrap()),
            progress: Progress::silent(),
            after: None,
        };
        let prepared = prepare(&plan).unwrap();
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(Fake {
                name: "deployment",
                deployment: true,
                fail: false,
            }),
            Box::new(Fake {
                name: "instance",
                deployment: false,
                fail: true,
            }),
        ];
        let done = run_collectors(plan, prepared, collectors).unwrap();
        let m = &done.manifest;
        assert_eq!(m.deployment.kind, DeploymentType::PureDocker);
        let by_name = |n: &str| m.collectors.iter().find(|c| c.name == n).unwrap();
        assert_eq!(by_name("deployment").status, CollectorStatus::Partial);
        assert_eq!(by_name("instance").status, CollectorStatus::Failed);
        assert_eq!(by_name("instance").errors.len(), 2);
        let files: Vec<(&str, &str)> = m
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.collector.as_str()))
            .collect();
        assert_eq!(
            files,
            [
                ("deployment/facts.json", "deployment"),
                ("instance/facts.json", "instance")
            ]
        );
        // Errors were redacted with the manifest; files with the pass.
        let json = serde_json::to_string(m).unwrap();
        assert!(!json.contains("abc123abc123abc123"), "{json}");
        let mut b = Bundle::open(&done.path).unwrap();
        let body = String::from_utf8(b.read_entry("instance/facts.json").unwrap()).unwrap();
        assert!(!body.contains("hunter2"), "{body}");
        // Nothing else is left beside the bundle: no spool, no partials.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["b.zip"]);
    }
}
