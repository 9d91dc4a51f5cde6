//! Finding the namespace Sourcegraph runs in: the one asked for, else the
//! context's, else the one namespace with `deploy=sourcegraph` pods.

use std::collections::BTreeMap;

use anyhow::anyhow;

use super::client::{self, Access, ConnectError, ErrorKind, Kube, list_path};
use super::lists::{ListError, PodPages, page_through};
use super::{SELECTOR, Target};
use crate::UsageError;
use crate::collect::Options;

/// The Sourcegraph pods (labelled `SELECTOR`) in `ns` or everywhere, a
/// page at a time like every list. Short only if the API server expired
/// the list twice; collect then adds the pods its own listing finds.
async fn sourcegraph_pods(kube: &Kube, ns: Option<&str>) -> Result<PodPages, ListError> {
    let base = format!(
        "{}?labelSelector={}",
        list_path("", "v1", "pods", ns),
        form_urlencoded::byte_serialize(SELECTOR.as_bytes()).collect::<String>()
    );
    let access = Access {
        verb: "list",
        resource: "pods",
        group: "",
        namespace: ns,
    };
    let mut pods = PodPages::default();
    page_through(kube, access, &base, &mut pods).await?;
    Ok(pods)
}

/// Connects and finds the namespace Sourcegraph runs in, or explains why
/// not. `NotConfigured` means there was no Kubernetes configuration at all.
pub async fn detect(opts: &Options) -> Result<Target, ConnectError> {
    detect_with(client::connect(opts).await?, opts).await
}

/// `detect` on a client already made.
pub async fn detect_with(kube: Kube, opts: &Options) -> Result<Target, ConnectError> {
    let explicit = opts.namespace.is_some();
    let ns = opts
        .namespace
        .clone()
        .unwrap_or_else(|| kube.default_namespace.clone());
    let where_ = format!("context {} ({})", kube.context, kube.server);
    let pods = sourcegraph_pods(&kube, Some(&ns))
        .await
        .map_err(|e| anyhow!("listing pods in namespace {ns} of {where_}: {e}"))?;
    if !pods.is_empty() {
        return Ok(Target {
            kube,
            namespace: ns,
            pods,
        });
    }
    let how = if explicit {
        format!("-n {ns}")
    } else {
        format!("the context's namespace {ns}")
    };
    let elsewhere = match sourcegraph_pods(&kube, None).await {
        Ok(all) => {
            // Pods the types cannot read have no namespace to count in.
            let mut by_ns: BTreeMap<String, PodPages> = BTreeMap::new();
            for p in all.pods {
                let n = p.metadata.namespace.clone().unwrap_or_default();
                by_ns.entry(n).or_default().pods.push(p);
            }
            by_ns
        }
        Err(ListError::Api(e)) if e.kind == ErrorKind::Forbidden => {
            return Err(anyhow!(
                "no pods labelled {SELECTOR} in {how} of {where_}, and listing pods in other namespaces is forbidden to these credentials; pass -n NAMESPACE with the namespace Sourcegraph runs in"
            )
            .into());
        }
        Err(e) => {
            return Err(anyhow!(
                "no pods labelled {SELECTOR} in {how} of {where_}; looking in other namespaces failed: {e}"
            )
            .into());
        }
    };
    let listing = by_ns_text(&elsewhere);
    match elsewhere.len() {
        0 => Err(anyhow!(
            "no pods labelled {SELECTOR} in {how}, nor in any other namespace of {where_}: is Sourcegraph deployed in this cluster? Choose another cluster with --context or --kubeconfig"
        )
        .into()),
        _ if explicit => Err(ConnectError::Failed(
            UsageError(format!(
                "-n {ns}: no pods labelled {SELECTOR} there in {where_}; Sourcegraph runs in:{listing}"
            ))
            .into(),
        )),
        1 => {
            let (ns, pods) = elsewhere.into_iter().next().expect("one entry");
            Ok(Target {
                kube,
                namespace: ns,
                pods,
            })
        }
        _ => Err(ConnectError::Failed(
            UsageError(format!(
                "no pods labelled {SELECTOR} in {how}, and several other namespaces of {where_} have some; choose one with -n:{listing}"
            ))
            .into(),
        )),
    }
}

fn by_ns_text(m: &BTreeMap<String, PodPages>) -> String {
    m.iter()
        .map(|(ns, p)| format!("\n  -n {ns}  ({} pods)", p.pods.len()))
        .collect()
}
