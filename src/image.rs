//! Container image references, as Docker and Kubernetes both write them:
//! `[registry[:port]/]path/name[:tag][@digest]`. Stage 0: the collectors
//! read them from live containers, the upstream diff from both sides.

/// A parsed reference. Only the split is checked, not the grammar: a
/// reference the engine accepted is reported as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Everything before the tag and digest, registry included.
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    pub fn parse(image: &'a str) -> ImageRef<'a> {
        let (name, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d).filter(|d| !d.is_empty())),
            None => (image, None),
        };
        // A colon after the last slash is a tag; before it, a registry port.
        match name.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => ImageRef {
                repository: repo,
                tag: Some(tag).filter(|t| !t.is_empty()),
                digest,
            },
            _ => ImageRef {
                repository: name,
                tag: None,
                digest,
            },
        }
    }

    /// Whether the repository's last two segments are `sourcegraph/<name>`.
    pub fn is_sourcegraph(&self, name: &str) -> bool {
        self.repository
            .strip_suffix(name)
            .and_then(|r| r.strip_suffix("sourcegraph/"))
            .is_some_and(|r| r.is_empty() || r.ends_with('/'))
    }

    /// The last segment of the repository: `frontend` in
    /// `registry:5000/mirror/frontend`. Mirrors rename the path, rarely this.
    pub fn name(&self) -> &'a str {
        self.repository
            .rsplit_once('/')
            .map_or(self.repository, |(_, n)| n)
    }
}

/// Any image published by Sourcegraph (`sourcegraph/*`, any registry).
pub fn is_sourcegraph_image(image: &str) -> bool {
    image.contains("sourcegraph/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = ImageRef::parse("index.docker.io/sourcegraph/frontend:6.12.5040@sha256:abc");
        assert_eq!(r.repository, "index.docker.io/sourcegraph/frontend");
        assert_eq!(r.tag, Some("6.12.5040"));
        assert_eq!(r.digest, Some("sha256:abc"));
        assert!(r.is_sourcegraph("frontend"));
        assert!(!r.is_sourcegraph("server"));
        let r = ImageRef::parse("localhost:5000/sourcegraph/server");
        assert_eq!(r.tag, None);
        assert_eq!(r.repository, "localhost:5000/sourcegraph/server");
        assert!(
            ImageRef::parse("registry.acme.com:5000/sourcegraph/server:6.1")
                .is_sourcegraph("server")
        );
        assert!(!ImageRef::parse("acme/notsourcegraph/server:6.1").is_sourcegraph("server"));
        let r = ImageRef::parse("sourcegraph/frontend@sha256:abc");
        assert_eq!((r.tag, r.digest), (None, Some("sha256:abc")));
        assert_eq!(ImageRef::parse("busybox:").tag, None);
        assert_eq!(
            ImageRef::parse("registry:5000/mirror/frontend:6.1").name(),
            "frontend"
        );
        assert_eq!(ImageRef::parse("frontend").name(), "frontend");
    }
}
