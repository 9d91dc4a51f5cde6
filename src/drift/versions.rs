//! Versions: image drift that a different release explains, and image
//! tag and digest skew between a deployment's own services.

use std::collections::BTreeMap;

use super::{Outcome, image};
use crate::bundle::drift::Change;

/// An image change from the upstream version's tag to the live version's
/// is what a different release looks like, not drift.
pub fn mark_expected(changes: &mut [Change], up: &str, live: &str) {
    for c in changes.iter_mut().filter(|c| c.category == "image") {
        let tag = |s: &Option<String>| {
            s.as_deref().and_then(|i| {
                crate::image::ImageRef::parse(i)
                    .tag
                    .map(|t| t.trim_start_matches('v').to_string())
            })
        };
        if tag(&c.old).as_deref() == Some(up) && tag(&c.new).as_deref() == Some(live) {
            c.expected = true;
        }
    }
}

/// Version and digest skew among `(object, image)` pairs.
pub fn skew(images: &[(String, String)], out: &mut Outcome) {
    let Some(version) = image::version(images.iter().map(|(_, i)| i.as_str())) else {
        return;
    };
    let mut digests: BTreeMap<(String, String), Vec<(&str, &str)>> = BTreeMap::new();
    let unique: std::collections::BTreeSet<&(String, String)> = images.iter().collect();
    for (object, i) in unique {
        let img = crate::image::ImageRef::parse(i);
        if !crate::image::is_sourcegraph_image(i) {
            continue;
        }
        if let Some(t) = img.tag.filter(|t| image::is_version(t))
            && t.trim_start_matches('v') != version
        {
            out.changes.push(Change {
                source: "image-skew".into(),
                object: object.clone(),
                category: "image".into(),
                change: "changed".into(),
                field: img.name().to_string(),
                old: Some(version.clone()),
                new: Some(t.to_string()),
                expected: false,
            });
        }
        if let (Some(t), Some(d)) = (img.tag, img.digest) {
            digests
                .entry((img.name().to_string(), t.to_string()))
                .or_default()
                .push((object, d));
        }
    }
    for ((name, tag), uses) in digests {
        let first = uses[0].1;
        for (object, d) in uses.iter().filter(|(_, d)| *d != first) {
            out.changes.push(Change {
                source: "image-skew".into(),
                object: object.to_string(),
                category: "image".into(),
                change: "changed".into(),
                field: format!("{name}:{tag} digest"),
                old: Some(first.to_string()),
                new: Some(d.to_string()),
                expected: false,
            });
        }
    }
}
