//! The Sourcegraph version a set of images carries, and the images of an
//! object (references are parsed by `crate::image`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::image::{ImageRef, is_sourcegraph_image};

/// `7.2.1943`, `6.12.5040`: a release tag, not `insiders` or a commit.
pub fn is_version(tag: &str) -> bool {
    let parts: Vec<&str> = tag.trim_start_matches('v').split('.').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The version most Sourcegraph images carry.
pub fn version<'a>(images: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for i in images
        .filter(|i| is_sourcegraph_image(i))
        .map(ImageRef::parse)
    {
        if let Some(t) = i.tag.filter(|t| is_version(t)) {
            *count.entry(t).or_default() += 1;
        }
    }
    count
        .into_iter()
        .max_by_key(|(t, n)| (*n, std::cmp::Reverse(*t)))
        .map(|(t, _)| t.trim_start_matches('v').to_string())
}

/// The images of every container of an object (pod templates and pods).
pub fn of_object(o: &Value) -> Vec<String> {
    let spec = match o["kind"].as_str() {
        Some("Pod") => &o["spec"],
        Some("CronJob") => &o["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &o["spec"]["template"]["spec"],
    };
    ["containers", "initContainers"]
        .iter()
        .flat_map(|l| spec[l].as_array().into_iter().flatten())
        .filter_map(|c| c["image"].as_str().map(String::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_digests_and_registry_ports() {
        let i = ImageRef::parse("index.docker.io/sourcegraph/frontend:7.2.1943@sha256:abc");
        assert_eq!(
            (i.repository, i.tag, i.digest),
            (
                "index.docker.io/sourcegraph/frontend",
                Some("7.2.1943"),
                Some("sha256:abc")
            )
        );
        assert_eq!(i.name(), "frontend");
        let j = ImageRef::parse("registry:5000/sourcegraph/gitserver");
        assert_eq!(
            (j.repository, j.tag),
            ("registry:5000/sourcegraph/gitserver", None)
        );
        assert_eq!(
            version(
                [
                    "sourcegraph/a:7.2.1943",
                    "sourcegraph/b:7.2.1943",
                    "sourcegraph/c:6.12.5040",
                    "redis:7.0.0"
                ]
                .into_iter()
            ),
            Some("7.2.1943".into())
        );
        assert!(!is_version("insiders"));
    }
}
