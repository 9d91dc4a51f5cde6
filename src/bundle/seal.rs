//! The manifest is written only once sealed: every field filled, then every
//! field that can hold customer text passed through the redaction pass.
//!
//! `SealedManifest` can be made only here, and the writer serializes
//! nothing else. Each manifest type is destructured below without `..`,
//! so a new field does not compile until someone decides, here, whether
//! it is free text (redacted) or a value sg-debug itself chose (kept).

use super::format::{
    CollectorError, CollectorRecord, Deployment, FileRecord, Incident, LeakScan, Manifest,
    OmittedRecord, Tool, UpstreamRecord,
};
use crate::redact::Redactor;

/// A manifest whose free text went through the redaction pass after the
/// last field was filled.
#[derive(Debug, Clone)]
pub struct SealedManifest(Manifest);

impl SealedManifest {
    /// The last step before writing: `manifest` must be complete.
    pub(super) fn seal(mut manifest: Manifest, redactor: &Redactor) -> SealedManifest {
        text_fields(&mut manifest, &mut |s| *s = redactor.redact_text(s));
        SealedManifest(manifest)
    }

    /// The leak scan's result holds rule ids, entry names and line numbers,
    /// never text, so it may be added after sealing.
    pub(super) fn set_leak_scan(&mut self, scan: LeakScan) {
        self.0.leak_scan = Some(scan);
    }

    pub fn get(&self) -> &Manifest {
        &self.0
    }

    pub fn into_inner(self) -> Manifest {
        self.0
    }
}

/// Calls `f` on every string of `m` that can carry customer text.
pub fn text_fields(m: &mut Manifest, f: &mut dyn FnMut(&mut String)) {
    let Manifest {
        format_version: _,
        tool,
        created_at: _,
        complete: _,
        incident,
        deployment,
        options,
        collectors,
        files,
        omitted,
        warnings,
        leak_scan,
        upstream,
    } = m;
    // sg-debug's own name and version.
    let Tool {
        name: _,
        version: _,
    } = tool;
    let Incident {
        // Checked against the fixed taxonomy before collection.
        category: _,
        ticket,
        note,
    } = incident;
    ticket.iter_mut().for_each(&mut *f);
    note.iter_mut().for_each(&mut *f);
    let Deployment {
        kind: _,
        // helm, kustomize or legacy: chosen by the collector.
        flavour: _,
        // An image tag: the customer's text.
        sourcegraph_version,
        location,
    } = deployment;
    sourcegraph_version.iter_mut().for_each(&mut *f);
    // Keys are sg-debug's (`namespace`, `docker_host`); values are not.
    location.values_mut().for_each(&mut *f);
    // Keys are option names; string values are what the user typed.
    for v in options.values_mut() {
        if let serde_json::Value::String(s) = v {
            f(s);
        }
    }
    for c in collectors {
        let CollectorRecord {
            name: _,
            status: _,
            duration_ms: _,
            errors,
            notes,
        } = c;
        // Notes quote versions, URLs and server messages.
        notes.iter_mut().for_each(&mut *f);
        for e in errors {
            let CollectorError { target, message } = e;
            f(target);
            f(message);
        }
    }
    for file in files {
        let FileRecord {
            // Entry names: already in the zip's directory, built by the
            // collectors from object names; redacting them here would
            // break the link between manifest and entry.
            path: _,
            bytes: _,
            sha256: _,
            kind: _,
            collector: _,
            // Keys are rule ids.
            redactions: _,
            notes,
        } = file;
        notes.iter_mut().for_each(&mut *f);
    }
    for o in omitted {
        let OmittedRecord {
            path: _,
            collector: _,
            reason,
        } = o;
        f(reason);
    }
    // They quote versions and image tags.
    warnings.iter_mut().for_each(&mut *f);
    if let Some(u) = upstream {
        let UpstreamRecord {
            // `path`, `helm-release` or `none`, and a count: sg-debug's.
            source: _,
            documents: _,
            // Reasons and counts: sg-debug's.
            skipped: _,
            name,
            version,
        } = u;
        // A directory or release name and an image tag: the customer's.
        name.iter_mut().for_each(&mut *f);
        version.iter_mut().for_each(&mut *f);
    }
    // Entry names, rule ids and line numbers: see `set_leak_scan`.
    let _: &mut Option<LeakScan> = leak_scan;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::format::*;

    /// Every string the manifest can hold, set to `s`: the test below then
    /// checks which ones the visitor reaches.
    fn filled(s: &str) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            tool: Tool::this(),
            created_at: chrono::Utc::now(),
            complete: true,
            incident: Incident {
                category: "search".into(),
                ticket: Some(s.into()),
                note: Some(s.into()),
            },
            deployment: Deployment {
                kind: DeploymentType::Kubernetes,
                flavour: Some("helm".into()),
                sourcegraph_version: Some(s.into()),
                location: [("namespace".to_string(), s.to_string())].into(),
            },
            options: [("context".to_string(), serde_json::json!(s))].into(),
            collectors: vec![CollectorRecord {
                name: "kubernetes".into(),
                status: CollectorStatus::Partial,
                duration_ms: 1,
                errors: vec![CollectorError {
                    target: s.into(),
                    message: s.into(),
                }],
                notes: vec![s.into()],
            }],
            files: vec![FileRecord {
                path: "a.log".into(),
                bytes: 1,
                sha256: "00".into(),
                kind: FileKind::Log,
                collector: "kubernetes".into(),
                redactions: Default::default(),
                notes: vec![s.into()],
            }],
            omitted: vec![OmittedRecord {
                path: "b.bin".into(),
                collector: "kubernetes".into(),
                reason: s.into(),
            }],
            warnings: vec![s.into()],
            leak_scan: None,
            upstream: None,
        }
    }

    #[test]
    fn every_free_text_field_is_visited() {
        let mut m = filled("SECRET");
        let mut n = 0;
        text_fields(&mut m, &mut |s| {
            n += 1;
            *s = "x".into()
        });
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("SECRET"), "{json}");
        assert_eq!(n, 11);
    }

    #[test]
    fn sealing_redacts_secrets_in_every_field() {
        let secret = "password=hunter2hunter2";
        let r = Redactor::new(crate::redact::rules::RuleSet::load(&[], &[]).unwrap());
        let sealed = SealedManifest::seal(filled(secret), &r);
        let json = serde_json::to_string(sealed.get()).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("[REDACTED:"), "{json}");
    }
}
