//! `sg-debug redact INPUT -o OUTPUT`: the redaction pass on its own, for
//! logs and configs that reach support by other means. OUTPUT mirrors
//! INPUT's shape (file, directory, bundle); INPUT is only ever read.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use clap::Args;

use crate::UsageError;
use crate::artifact::{self, Artifact, ArtifactMeta, Body};
use crate::bundle::format::{BundlePath, FileKind, OmittedRecord};
use crate::bundle::{Bundle, BundleWriter};
use crate::fsutil::{Partial, create_private, with_suffix};
use crate::redact::rules::RuleSet;
use crate::redact::{self as redaction, Outcome, Redactor};

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
    let meta = fs::metadata(&input)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", input.display()))?;
    check_output(&input, &output, args.force)?;
    let summary = if meta.is_dir() {
        redact_dir(&redactor, &input, &output, args.force)?
    } else if is_zip(&input)? {
        redact_bundle(&redactor, &input, &output, args.force)?
    } else {
        redact_file(&redactor, &input, &output)?
    };
    print_summary(&summary, &output);
    if let Some(net) = redactor.network() {
        let map = net.write_map(&output)?;
        println!(
            "network pseudonyms: {} (keep it; do not send it with the output)",
            map.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn check_output(input: &Path, output: &Path, force: bool) -> Result<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(input, output) {
        return Err(UsageError(format!(
            "OUTPUT {} is INPUT itself; sg-debug never modifies its input: choose another -o",
            output.display()
        ))
        .into());
    }
    if let (Ok(i), Some(parent)) = (input.canonicalize(), output.parent()) {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if i.is_dir() && parent.canonicalize().is_ok_and(|p| p.starts_with(&i)) {
            return Err(UsageError(format!(
                "OUTPUT {} is inside INPUT {}; choose a place outside it",
                output.display(),
                input.display()
            ))
            .into());
        }
    }
    if output.exists() && !force {
        bail!(
            "{} already exists; pass --force to replace it, or choose another name with -o",
            output.display()
        );
    }
    Ok(())
}

fn is_zip(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 4];
    let mut f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let n = f.read(&mut magic)?;
    Ok(n == 4 && &magic == b"PK\x03\x04")
}

fn guess_kind(name: &str) -> FileKind {
    match redaction::structured_format(name) {
        Some(_) => FileKind::Config,
        None => FileKind::Log,
    }
}

/// One plain file: the format is chosen by its name, as in a bundle.
fn redact_file(redactor: &Redactor, input: &Path, output: &Path) -> Result<Summary> {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    let path = BundlePath::new(&name).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let file = File::open(input).with_context(|| format!("cannot read {}", input.display()))?;
    let mut summary = Summary::default();
    let artifact = Artifact {
        meta: ArtifactMeta {
            kind: guess_kind(&name),
            path,
            collector: "redact".into(),
        },
        body: Body::Stream(Box::new(file)),
    };
    let kept = match redactor.redact(artifact) {
        Outcome::Kept(k) => k,
        Outcome::Omitted { reason, .. } => {
            bail!("{}: {reason}; nothing written", input.display())
        }
    };
    let partial = Partial::new(with_suffix(output, ".partial"));
    let mut out = create_private(partial.path())?;
    let (_, mut body, counts) = kept.into_parts();
    io::copy(&mut body, &mut out).with_context(|| format!("redacting {}", input.display()))?;
    out.sync_all()?;
    drop(out);
    replace_existing(output)?;
    partial.commit(output)?;
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
    let partial = Partial::new(with_suffix(output, ".partial"));
    if partial.path().exists() {
        if !force {
            bail!(
                "{} exists (left by an earlier run?); remove it or pass --force",
                partial.path().display()
            );
        }
        fs::remove_dir_all(partial.path())?;
    }
    fs::create_dir_all(partial.path())
        .with_context(|| format!("creating {}", partial.path().display()))?;
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
        let artifact = Artifact {
            meta: ArtifactMeta {
                kind: guess_kind(&rel),
                path,
                collector: "redact".into(),
            },
            body: Body::Stream(Box::new(file)),
        };
        match redactor.redact(artifact) {
            Outcome::Omitted { reason, .. } => summary.omitted.push((rel, reason)),
            Outcome::Kept(k) => {
                let target = partial.path().join(&rel);
                if let Some(p) = target.parent() {
                    fs::create_dir_all(p)?;
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
    replace_existing(output)?;
    partial.commit(output)?;
    Ok(summary)
}

fn replace_existing(output: &Path) -> Result<()> {
    // Only reached with --force (checked earlier).
    match fs::symlink_metadata(output) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(output).with_context(|| format!("replacing {}", output.display()))
        }
        Ok(_) => Ok(()),
        Err(_) => Ok(()),
    }
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
    let bundle = Bundle::open(input)?;
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

fn print_summary(s: &Summary, output: &Path) {
    println!(
        "redacted {} file(s) into {}{}",
        s.files,
        output.display(),
        if s.omitted.is_empty() {
            String::new()
        } else {
            format!("; {} left out", s.omitted.len())
        }
    );
    let total: u64 = s.counts.values().sum();
    println!("{total} replacement(s)");
    for (rule, n) in &s.counts {
        println!("  {rule:<32} {n:>8}");
    }
    for (path, reason) in &s.omitted {
        eprintln!("left out: {path}: {reason}");
    }
    for (path, note) in &s.notes {
        eprintln!("note: {path}: {note}");
    }
}

fn print_rules(rules: &RuleSet, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&rules.loaded)?);
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
        println!("{:<30} {:<11} {}", r.spec.id, kind, r.spec.description);
        println!("{:<30} {:<11} from {}", "", "", r.source);
    }
    Ok(())
}
