//! `check` on Kubernetes: connect and detect as `collect` does, then ask
//! the API server, one SelfSubjectAccessReview per resource, whether each
//! grant of `rbac::rules` is held, and who we are (SelfSubjectReview).

use serde_json::{Value, json};

use super::client::{self, Access, ConnectError, Kube};
use super::detect::detect_with;
use super::{Target, lists, objects, rbac};
use crate::collect::Options;
use crate::collect::preflight::{self, Found, KubePreflight, Permission, Preflight};

pub async fn preflight(opts: &Options) -> Result<Preflight, ConnectError> {
    let kube = client::connect(opts).await?;
    let mut k = KubePreflight {
        server: kube.server.clone(),
        context: kube.context.clone(),
        user: whoami(&kube).await,
        namespace: opts.namespace.clone(),
        permissions: Vec::new(),
    };
    let detected = detect_with(kube.clone(), opts).await;
    // The namespace collect would use: found, else the one asked for or
    // the context's, so a refusal to list pods still gets its reviews.
    let namespace = match &detected {
        Ok(t) => t.namespace.clone(),
        Err(_) => opts
            .namespace
            .clone()
            .unwrap_or_else(|| kube.default_namespace.clone()),
    };
    k.namespace = Some(namespace.clone());
    k.permissions = permissions(&kube, opts, &namespace).await;
    let target = match detected {
        Ok(t) => t,
        Err(ConnectError::Failed(e)) if e.downcast_ref::<crate::UsageError>().is_none() => {
            let problems = vec![format!("{e:#}")];
            return Ok(preflight::found(
                "kubernetes",
                Some(k),
                None,
                None,
                problems,
            ));
        }
        Err(e) => return Err(e),
    };
    let deployment = found(&kube, &k, target).await;
    Ok(preflight::found(
        "kubernetes",
        Some(k),
        None,
        Some(deployment),
        Vec::new(),
    ))
}

/// Every grant of `rbac::rules` (as collect's flags scope them), reviewed.
async fn permissions(kube: &Kube, opts: &Options, namespace: &str) -> Vec<Permission> {
    // The service proxy is only used to reach the instance's API.
    let proxy_used = opts.access_token.is_some() && opts.sourcegraph_url.is_none();
    let scope = rbac::Scope {
        cluster: true,
        no_exec: opts.no_exec,
        no_secrets: opts.no_secrets,
    };
    let mut out = Vec::new();
    for r in rbac::rules(scope) {
        for res in &r.resources {
            let ns = (!r.cluster).then(|| namespace.to_string());
            let (allowed, detail) = review(kube, r.verb, r.group, res, ns.as_deref()).await;
            let needed = *res != "services/proxy" || proxy_used;
            out.push(Permission {
                verb: r.verb.into(),
                group: r.group.into(),
                resource: (*res).into(),
                namespace: ns,
                allowed,
                needed,
                detail: if needed {
                    detail
                } else {
                    Some("not used: no SRC_ACCESS_TOKEN, or --sourcegraph-url given".into())
                },
                why: r.why.clone(),
            });
        }
    }
    out
}

/// The deployment as collect would record it: flavour from the workloads,
/// ConfigMaps and Helm's Secrets (those of them the grants allow listing),
/// version from the frontend's image.
async fn found(kube: &Kube, k: &KubePreflight, t: Target) -> Found {
    let granted = |plural: &str| {
        k.permissions
            .iter()
            .any(|p| p.resource == plural && p.verb == "list" && p.allowed == Some(true))
    };
    // Listed as collect lists them, without the spool: only what tells
    // the flavour is kept (the workloads, two ConfigMaps, whether a Helm
    // release Secret is there).
    let mut workloads: Vec<Value> = Vec::new();
    let mut configmaps: Vec<Value> = Vec::new();
    let mut any_helm = false;
    for spec in objects::NAMESPACED {
        let wanted = [
            "deployments",
            "statefulsets",
            "daemonsets",
            "configmaps",
            "secrets",
        ];
        if !wanted.contains(&spec.plural) || !granted(spec.plural) {
            continue;
        }
        let Ok(list) = lists::KindList::new(spec, &t.namespace, None) else {
            continue;
        };
        match lists::list_kind(kube.clone(), spec, Some(t.namespace.clone()), list).await {
            Ok(l) => match l.held {
                lists::Held::Values(v) => workloads.extend(v),
                lists::Held::FlavourConfigMaps(v) => configmaps = v,
                lists::Held::Secrets { any_helm: h, .. } => any_helm = h,
                _ => {}
            },
            Err(_) => continue,
        }
    }
    let workloads: Vec<&Value> = workloads.iter().collect();
    Found {
        kind: "kubernetes".into(),
        flavour: objects::flavour(&workloads, &configmaps, any_helm).map(Into::into),
        version: objects::version(&workloads, &t.pods.pods),
        description: format!(
            "Kubernetes namespace {} in context {} ({} Sourcegraph pods)",
            t.namespace,
            k.context,
            t.pods.len()
        ),
        members: t.pods.names().collect(),
    }
}

/// The API server's answer to "may I VERB RESOURCE (in NS)?": allowed or
/// not, with its reason; None when the review itself failed.
async fn review(
    kube: &Kube,
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
) -> (Option<bool>, Option<String>) {
    let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let mut attrs = json!({"verb": verb, "group": group, "resource": res});
    if !sub.is_empty() {
        attrs["subresource"] = sub.into();
    }
    if let Some(ns) = ns {
        attrs["namespace"] = ns.into();
    }
    let body = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    });
    let a = Access {
        verb: "create",
        resource: "selfsubjectaccessreviews",
        group: "authorization.k8s.io",
        namespace: None,
    };
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    match kube.post(a, path, &body).await {
        Ok(v) => {
            let st = &v["status"];
            let detail = [&st["reason"], &st["evaluationError"]]
                .iter()
                .filter_map(|s| s.as_str().filter(|s| !s.is_empty()))
                .collect::<Vec<_>>()
                .join("; ");
            (
                Some(st["allowed"].as_bool() == Some(true)),
                (!detail.is_empty()).then_some(detail),
            )
        }
        Err(e) => (None, Some(e.message)),
    }
}

/// The user the API server sees (SelfSubjectReview, Kubernetes 1.28+).
async fn whoami(kube: &Kube) -> Option<String> {
    let a = Access {
        verb: "create",
        resource: "selfsubjectreviews",
        group: "authentication.k8s.io",
        namespace: None,
    };
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let v = kube
        .post(
            a,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &body,
        )
        .await
        .ok()?;
    v["status"]["userInfo"]["username"]
        .as_str()
        .map(String::from)
}
