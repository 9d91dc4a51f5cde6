//! `sg-debug redact INPUT -o OUTPUT`: the redaction pass on its own, for
//! logs and configs that reach support by other means. OUTPUT mirrors
//! INPUT's shape (file, directory, bundle); INPUT is only ever read.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use clap::Args;

mod paths;

use crate::artifact::{self, Artifact, ArtifactMeta, Body};
use crate::bundle::format::{BundlePath, FileKind, OmittedRecord};
use crate::bundle::{Bundle, BundleWriter};
use crate::display::terminal_safe;
use crate::fsutil::{Partial, cleanup, create_private, with_suffix};
use crate::redact::rules::RuleSet;
use crate::redact::{self as redaction, Outcome, Redactor};
use paths::Input;

#[derive(Debug, Args)]
pub struct RedactArgs {
    /// File, directory or bundle (.zip) to redact; never modified
    #[arg(value_name = "INPUT", required_unless_present = "list_rules")]
    pub input: Option<PathBuf>,
    /// Where to write the result; mirrors INPUT's shape
    #[arg(
        long,
        short = 'o',
        value_name = "OUTPUT",
        required_unless_present = "list_rules"
    )]
    pub output: Option<PathBuf>,
    /// Replace OUTPUT if it exists
    #[arg(long)]
    pub force: bool,
    /// Print the rules in force and exit
    #[arg(long)]
    pub list_rules: bool,
    /// With --list-rules: print JSON
    #[arg(long, requires = "list_rules")]
    pub json: bool,
    /// Replace IP addresses, hostnames and email addresses with consistent
    /// pseudonyms; the mapping goes to OUTPUT.network-map.json, beside the
    /// output and never inside it
    #[arg(long)]
    pub obfuscate_network: bool,
    #[command(flatten)]
    pub rules: super::RuleArgs,
}

#[derive(Default)]
struct Summary {
    files: u64,
    counts: BTreeMap<String, u64>,
    omitted: Vec<(String, String)>,
    notes: Vec<(String, String)>,
}

pub fn run(args: RedactArgs) -> Result<ExitCode> {
    if args.list_rules {
        let rules = args.rules.rule_set()?;
        print_rules(&rules, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (input, output) = match (args.input, args.output) {
        (Some(i), Some(o)) => (i, o),
        _ => unreachable!("clap requires both without --list-rules"),
    };
    let mut redactor = args.rules.redactor()?;
    if args.obfuscate_network {
        redactor = redactor.obfuscating_network();
    }
    let kind = paths::classify(&input)?;
    paths::check_output(&input, &output, args.force, args.obfuscate_network)?;
    // Ctrl-C, kill or a closed terminal: remove what is half-written.
    cleanup::exit_on_signals("interrupted: nothing written");
    let summary = match kind {
        Input::Dir => redact_dir(&redactor, &input, &output, args.force)?,
        Input::Bundle => redact_bundle(&redactor, &input, &output, args.force)?,
        Input::Stream(file) => redact_file(&redactor, &input, file, &output, args.force)?,
    };
    let map = match redactor.network() {
        Some(net) => Some(net.write_map(&output)?),
        None => None,
    };
    print_summary(&summary, &output, &redactor)?;
    if let Some(map) = map {
        writeln!(
            io::stdout(),
            "network pseudonyms: {} (keep it; do not send it with the output)",
            map.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A file given to `redact`, streamed; its kind (and so its pass) follows
/// its name, as in a bundle.
fn file_artifact(path: BundlePath, file: File) -> Artifact {
    Artifact {
        meta: ArtifactMeta {
            kind: guess_kind(path.as_str()),
            path,
            collector: "redact".into(),
        },
        body: Body::Stream(Box::new(file)),
    }
}

fn guess_kind(name: &str) -> FileKind {
    match redaction::structured_format(name) {
        Some(_) => FileKind::Config,
        None => FileKind::Log,
    }
}

/// One stream (a file, a pipe): read once, through the pass, into
/// OUTPUT. The format is chosen by INPUT's name, as in a bundle.
fn redact_file(
    redactor: &Redactor,
    input: &Path,
    file: File,
    output: &Path,
    force: bool,
) -> Result<Summary> {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    let path = BundlePath::new(&name).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let mut summary = Summary::default();
    let kept = match redactor.redact(file_artifact(path, file)) {
        Outcome::Kept(k) => k,
        Outcome::Omitted { reason, .. } => {
            bail!("{}: {reason}; nothing written", input.display())
        }
    };
    let (partial, mut out) = Partial::file(with_suffix(output, ".partial"))?;
    let (_, mut body, counts) = kept.into_parts();
    io::copy(&mut body, &mut out).with_context(|| format!("redacting {}", input.display()))?;
    out.sync_all()?;
    drop(out);
    paths::make_room(output, force)?;
    partial.commit_new(output)?;
    summary.files = 1;
    summary.counts = counts.snapshot();
    for n in counts.notes() {
        summary.notes.push((name.clone(), n));
    }
    Ok(summary)
}

/// Every regular file below `input`, mirrored under `output`.
fn redact_dir(redactor: &Redactor, input: &Path, output: &Path, force: bool) -> Result<Summary> {
    let mut files = Vec::new();
    walk(input, input, &mut files)?;
    // Refused, never removed, when it exists: it may be someone's.
    let partial = Partial::dir(with_suffix(output, ".partial"))?;
    let mut summary = Summary::default();
    for (rel, entry) in files {
        let Some(abs) = entry else {
            summary
                .omitted
                .push((rel, "symbolic link or special file: not followed".into()));
            continue;
        };
        let path = match BundlePath::new(&rel) {
            Ok(p) => p,
            Err(e) => {
                summary.omitted.push((rel, format!("unusable name: {e}")));
                continue;
            }
        };
        let file = File::open(&abs).with_context(|| format!("cannot read {}", abs.display()))?;
        match redactor.redact(file_artifact(path, file)) {
            Outcome::Omitted { reason, .. } => summary.omitted.push((rel, reason)),
            Outcome::Kept(k) => {
                let target = partial.path().join(&rel);
                if let Some(p) = target.parent() {
                    private_dirs(partial.path(), p)?;
                }
                let mut out = create_private(&target)?;
                let (_, mut body, counts) = k.into_parts();
                io::copy(&mut body, &mut out)
                    .with_context(|| format!("redacting {}", abs.display()))?;
                summary.files += 1;
                for (rule, n) in counts.snapshot() {
                    *summary.counts.entry(rule).or_default() += n;
                }
                for n in counts.notes() {
                    summary.notes.push((rel.clone(), n));
                }
            }
        }
    }
    paths::make_room(output, force)?;
    partial.commit_new(output)?;
    Ok(summary)
}

/// The directories between `root` (ours, 0700) and `dir`, each 0700.
fn private_dirs(root: &Path, dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir == root || dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// (relative path, Some(absolute path) for regular files), sorted.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Option<PathBuf>)>) -> Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let rel = p
            .strip_prefix(root)
            .expect("below root")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let ft = fs::symlink_metadata(&p)?.file_type();
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_file() {
            out.push((rel, Some(p)));
        } else {
            out.push((rel, None));
        }
    }
    Ok(())
}

/// A bundle in, a bundle out: same layout, every entry through the pass
/// again, the manifest kept with new hashes and added counts.
fn redact_bundle(redactor: &Redactor, input: &Path, output: &Path, force: bool) -> Result<Summary> {
    let mut bundle = Bundle::open(input)?;
    // A bundle that does not match its manifest is not re-sealed: the new
    // one would verify clean and hide the tampering or damage.
    let v = bundle.verify();
    if !v.problems.is_empty() {
        bail!(
            "{} does not match its manifest ({} problem(s), first: {}); refusing to write a bundle that would verify clean. Run `sg-debug inspect {} --verify` to see them, and ask for the bundle again",
            input.display(),
            v.problems.len(),
            v.problems[0],
            input.display()
        );
    }
    let mut manifest = bundle.manifest().clone();
    let stem = bundle.top().to_string();
    let mut writer = BundleWriter::create(
        output,
        &stem,
        manifest.created_at,
        force,
        redactor.clone(),
        true,
    )?;
    let records = std::mem::take(&mut manifest.files);
    let mut summary = Summary::default();

    // A reader thread streams each entry out of the input zip while this
    // thread redacts it into the output: no entry is held whole.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, artifact::ChannelReader)>(0);
    let names: Vec<String> = records.iter().map(|r| r.path.clone()).collect();
    let reader = std::thread::spawn(move || {
        let mut bundle = bundle;
        for (i, name) in names.iter().enumerate() {
            let (mut w, r) = artifact::channel(8);
            if tx.send((i, r)).is_err() {
                return;
            }
            match bundle.copy_entry(name, &mut w) {
                Ok(_) => w.finish(),
                Err(e) => w.fail(io::Error::other(e.to_string())),
            }
        }
    });
    for (i, body) in rx {
        let rec = &records[i];
        let path = match BundlePath::new(&rec.path) {
            Ok(p) => p,
            Err(e) => {
                summary
                    .omitted
                    .push((rec.path.clone(), format!("unusable name: {e}")));
                continue;
            }
        };
        let artifact = Artifact {
            meta: ArtifactMeta {
                path,
                kind: rec.kind,
                collector: rec.collector.clone(),
            },
            body: Body::Stream(Box::new(body)),
        };
        match redactor.redact(artifact) {
            Outcome::Omitted { meta, reason } => {
                summary.omitted.push((rec.path.clone(), reason.clone()));
                manifest.omitted.push(OmittedRecord {
                    path: meta.path.to_string(),
                    collector: meta.collector,
                    reason,
                });
            }
            Outcome::Kept(k) => {
                k.carry_prior_counts(&rec.redactions);
                let added = writer
                    .add(k)
                    .with_context(|| format!("redacting {} from {}", rec.path, input.display()))?;
                summary.files += 1;
                for (rule, n) in &added.redactions {
                    let before = rec.redactions.get(rule).copied().unwrap_or(0);
                    if *n > before {
                        *summary.counts.entry(rule.clone()).or_default() += n - before;
                    }
                }
                for n in &added.notes {
                    summary.notes.push((rec.path.clone(), n.clone()));
                }
            }
        }
    }
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the bundle reader thread panicked"))?;
    let (_, written) = writer.finish(manifest)?;
    if let Some(scan) = &written.leak_scan {
        for h in &scan.hits {
            summary.notes.push((
                h.path.clone(),
                format!("leak scan: rule {} still matches line {}", h.rule, h.line),
            ));
        }
    }
    Ok(summary)
}

/// What was done: counts on stdout; what was left out and how files were
/// redacted on stderr. Notes never quote a file, and go through the pass
/// anyway, as they do in a manifest.
fn print_summary(s: &Summary, output: &Path, redactor: &Redactor) -> Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "redacted {} file(s) into {}{}",
        s.files,
        output.display(),
        if s.omitted.is_empty() {
            String::new()
        } else {
            format!("; {} left out", s.omitted.len())
        }
    )?;
    let total: u64 = s.counts.values().sum();
    writeln!(out, "{total} replacement(s)")?;
    for (rule, n) in &s.counts {
        writeln!(out, "  {rule:<32} {n:>8}")?;
    }
    for (path, reason) in &s.omitted {
        eprintln!(
            "left out: {}: {}",
            terminal_safe(path),
            redactor.redact_text(reason)
        );
    }
    for (path, note) in &s.notes {
        eprintln!(
            "note: {}: {}",
            terminal_safe(path),
            redactor.redact_text(note)
        );
    }
    Ok(())
}

fn print_rules(rules: &RuleSet, json: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rules.loaded)?)?;
        return Ok(());
    }
    for r in &rules.loaded {
        let kind = if r.spec.regex.is_some() {
            "regex"
        } else if r.spec.key.is_some() {
            "key"
        } else {
            "binary-safe"
        };
        writeln!(out, "{:<30} {:<11} {}", r.spec.id, kind, r.spec.description)?;
        writeln!(out, "{:<30} {:<11} from {}", "", "", r.source)?;
    }
    Ok(())
}
