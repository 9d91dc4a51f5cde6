//! Reading an upstream: a checkout of a deploy repository (every manifest
//! document under it), a multi-document YAML (`kubectl kustomize`, `helm
//! template`), or docker-compose files (the base and its overrides, in
//! order). Nothing here is trusted: sizes are bounded and errors name the
//! file and what to do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::image;
use super::yaml;
use crate::bundle::drift::UpstreamInfo;

/// A file larger than this is not a manifest anyone wrote by hand.
const MAX_FILE_BYTES: u64 = 32 << 20;
/// Files visited under a directory, at most.
const MAX_FILES: usize = 20_000;

pub enum Objects {
    /// Kubernetes objects, `List`s expanded.
    Kube(Vec<Value>),
    /// Compose services by name, overrides applied.
    Compose(BTreeMap<String, Value>),
}

pub struct Upstream {
    pub info: UpstreamInfo,
    pub objects: Objects,
}

/// Loads the upstream at `paths`: Compose files when the first is one
/// (the others are its overrides), otherwise Kubernetes manifests from
/// every path.
pub fn load(paths: &[PathBuf]) -> Result<Upstream> {
    let Some(first) = paths.first() else {
        bail!("no upstream path given");
    };
    let mut skipped = BTreeMap::new();
    let name = first
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| Some(first.display().to_string()));
    if first.is_file() && is_compose(&read_docs(first)?) {
        let mut services = BTreeMap::new();
        for p in paths {
            let docs = read_docs(p)?;
            let Some(doc) = docs
                .into_iter()
                .next()
                .filter(|d| d["services"].is_object())
            else {
                bail!(
                    "{}: not a docker-compose file (no `services:`); give the base compose file first, then its overrides",
                    p.display()
                );
            };
            super::compose::merge_file(&mut services, doc);
        }
        let images: Vec<String> = services
            .values()
            .filter_map(|s| s["image"].as_str().map(String::from))
            .collect();
        let info = info(name, &images, services.len(), skipped);
        return Ok(Upstream {
            info,
            objects: Objects::Compose(services),
        });
    }
    let mut objects = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files)?;
            for f in files {
                manifest_file(&f, &mut objects, &mut skipped)?;
            }
        } else if p.is_file() {
            let docs = read_docs(p)?;
            push_manifests(docs, &mut objects, &mut skipped);
        } else {
            bail!(
                "upstream {} is neither a file nor a directory; give a deploy repository checkout, a YAML file of manifests, or a docker-compose file",
                p.display()
            );
        }
    }
    if objects.is_empty() {
        bail!(
            "no Kubernetes manifest found in {}; give a checkout of deploy-sourcegraph-k8s at a tag (or its `base/`), `kubectl kustomize` or `helm template` output",
            first.display()
        );
    }
    let images = objects
        .iter()
        .flat_map(image::of_object)
        .collect::<Vec<_>>();
    Ok(Upstream {
        info: info(name, &images, objects.len(), skipped),
        objects: Objects::Kube(objects),
    })
}

/// The record of a path upstream: its version is its images' tag.
fn info(
    name: Option<String>,
    images: &[String],
    documents: usize,
    skipped: BTreeMap<String, u64>,
) -> UpstreamInfo {
    UpstreamInfo {
        source: "path".into(),
        name,
        version: image::version(images.iter().map(String::as_str)),
        documents: documents as u64,
        skipped,
    }
}

fn is_compose(docs: &[Value]) -> bool {
    docs.len() == 1 && docs[0]["services"].is_object() && docs[0].get("kind").is_none()
}

fn read_docs(p: &Path) -> Result<Vec<Value>> {
    let text = read_text(p)?;
    yaml::documents(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; fix the file or leave it out of the upstream",
            p.display()
        )
    })
}

fn read_text(p: &Path) -> Result<String> {
    let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        bail!(
            "{}: {} bytes, more than the {MAX_FILE_BYTES} an upstream file may have",
            p.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", p.display()))
}

/// Regular files under `dir`, sorted; hidden directories (`.git`) and
/// symbolic links are passed over.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type()?;
        let hidden = e.file_name().to_string_lossy().starts_with('.');
        if ft.is_dir() && !hidden {
            walk(&e.path(), out)?;
        } else if ft.is_file() {
            if out.len() >= MAX_FILES {
                bail!(
                    "more than {MAX_FILES} files under {}; give the deploy repository's `base/` or a rendered YAML instead",
                    dir.display()
                );
            }
            out.push(e.path());
        }
    }
    Ok(())
}

fn manifest_file(
    f: &Path,
    objects: &mut Vec<Value>,
    skipped: &mut BTreeMap<String, u64>,
) -> Result<()> {
    let name = f
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut skip = |why: &str| *skipped.entry(why.to_string()).or_default() += 1;
    if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
        skip("not-a-manifest");
        return Ok(());
    }
    match name.as_str() {
        "kustomization.yaml" | "kustomization.yml" | "Kustomization" => {
            skip("kustomization");
            return Ok(());
        }
        "Chart.yaml" => {
            skip("chart");
            return Ok(());
        }
        _ => {}
    }
    let text = read_text(f)?;
    if text.contains("{{") {
        skip("template");
        return Ok(());
    }
    match yaml::documents(&text) {
        Ok(docs) => push_manifests(docs, objects, skipped),
        Err(_) => skip("not-parseable"),
    }
    Ok(())
}

fn push_manifests(docs: Vec<Value>, objects: &mut Vec<Value>, skipped: &mut BTreeMap<String, u64>) {
    let before = objects.len();
    let expand = |d: Value, objects: &mut Vec<Value>| {
        if d["kind"].is_string() && d["apiVersion"].is_string() && d["metadata"]["name"].is_string()
        {
            objects.push(d);
        }
    };
    let mut any_doc = false;
    for d in docs.into_iter().filter(|d| !d.is_null()) {
        any_doc = true;
        if d["kind"] == "List" {
            for i in d["items"].as_array().cloned().unwrap_or_default() {
                expand(i, objects);
            }
        } else {
            expand(d, objects);
        }
    }
    if any_doc && objects.len() == before {
        *skipped.entry("not-a-manifest".into()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_skips_and_counts_what_is_not_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, t).unwrap();
        };
        w("base/kustomization.yaml", "resources: [a.yaml]\n");
        w(
            "base/a.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec:\n  template:\n    spec:\n      containers: [{name: b, image: 'index.docker.io/sourcegraph/b:7.2.1943@sha256:00'}]\n",
        );
        w("charts/Chart.yaml", "name: x\n");
        w("charts/templates/t.yaml", "kind: {{ .Values.kind }}\n");
        w("README.md", "# hi\n");
        w("values.yaml", "frontend:\n  replicas: 1\n");
        w(
            ".git/x.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: hidden}\n",
        );
        let u = load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(u.info.documents, 2);
        assert_eq!(u.info.version.as_deref(), Some("7.2.1943"));
        let skipped: Vec<(&str, u64)> = u
            .info
            .skipped
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            skipped,
            [
                ("chart", 1),
                ("kustomization", 1),
                ("not-a-manifest", 2),
                ("template", 1)
            ]
        );
    }

    #[test]
    fn a_path_that_is_nothing_is_refused_with_what_to_give() {
        let e = load(&[PathBuf::from("/nonexistent/upstream")])
            .err()
            .unwrap();
        assert!(e.to_string().contains("deploy repository checkout"), "{e}");
    }
}
