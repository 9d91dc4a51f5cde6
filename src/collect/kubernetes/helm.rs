//! The values each Helm release was installed with, from its newest
//! revision's Secret; through redaction like any other config.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use super::objects;
use crate::artifact::FileKind;
use crate::collect::Ctx;
use crate::collect::parts::path_segment;

/// `releases`: release name -> (newest revision, its Secret).
pub async fn values(ctx: &Ctx, releases: BTreeMap<String, (u64, Value)>) -> Result<()> {
    for (release, (rev, secret)) in releases {
        let target = format!("helm/{release}");
        match objects::decode_helm_release(&secret) {
            Ok(r) => {
                let base = format!("kubernetes/helm/{}", path_segment(&release));
                let values = r.get("config").cloned().unwrap_or(json!({}));
                ctx.sink
                    .json(&format!("{base}/values.json"), FileKind::Config, &values)
                    .await?;
                // The chart's defaults and what Helm rendered: the upstream
                // diff compares values and live objects with them.
                let defaults = r["chart"]["values"].clone();
                ctx.sink
                    .json(
                        &format!("{base}/chart-values.json"),
                        FileKind::Config,
                        &defaults,
                    )
                    .await?;
                match objects::helm_manifest(&r) {
                    Ok(m) => {
                        ctx.sink
                            .json(&format!("{base}/manifest.json"), FileKind::Manifest, &m)
                            .await?
                    }
                    Err(e) => ctx.rec.error(&target, format!("revision {rev}: {e:#}")),
                }
                ctx.sink
                    .json(
                        &format!("{base}/release.json"),
                        FileKind::Metadata,
                        &objects::helm_release_facts(&r),
                    )
                    .await?;
            }
            Err(e) => ctx.rec.error(
                &target,
                format!("revision {rev}: cannot decode the release Secret: {e:#}"),
            ),
        }
    }
    Ok(())
}
