//! Image references as far as drift needs them: the repository's last
//! name, the tag, the digest, and the Sourcegraph version a set of images
//! carries.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, PartialEq)]
pub struct Image<'a> {
    /// Everything before the tag and digest.
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl<'a> Image<'a> {
    pub fn parse(r: &'a str) -> Image<'a> {
        let (rest, digest) = match r.split_once('@') {
            Some((a, d)) => (a, Some(d)),
            None => (r, None),
        };
        // A colon after the last slash is a tag; before it, a registry port.
        let last = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last..].rfind(':') {
            Some(i) => (&rest[..last + i], Some(&rest[last + i + 1..])),
            None => (rest, None),
        };
        Image {
            repository,
            tag,
            digest,
        }
    }

    /// `sourcegraph/frontend` -> `frontend`.
    pub fn name(&self) -> &'a str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(self.repository)
    }

    pub fn is_sourcegraph(&self) -> bool {
        self.repository.contains("sourcegraph/")
    }
}

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
    for i in images.map(Image::parse).filter(Image::is_sourcegraph) {
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
        let i = Image::parse("index.docker.io/sourcegraph/frontend:7.2.1943@sha256:abc");
        assert_eq!(
            (i.repository, i.tag, i.digest),
            (
                "index.docker.io/sourcegraph/frontend",
                Some("7.2.1943"),
                Some("sha256:abc")
            )
        );
        assert_eq!(i.name(), "frontend");
        let j = Image::parse("registry:5000/sourcegraph/gitserver");
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
