//! Objects, listed page by page (`limit` and `continue`) and streamed as
//! they arrive: each kind into a spool file of JSON Lines that the
//! redactor turns into the bundle's `List` (less `managedFields`), so a
//! namespace of 5,000 pods and 50,000 events is never held whole. What
//! later steps need is all that is kept in memory (`Held`): typed pods,
//! the workloads and claims, the ConfigMaps that mark a flavour, Helm's
//! newest release Secrets, Secret shapes and node facts.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader};

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::client::{Access, ErrorKind, Kube, KubeError, list_path};
use super::objects::{self, KindSpec};
use super::spool::{Place, Spool};
use crate::collect::parts::tail::SpoolDir;

/// Items asked for per request, as kubectl does: a namespace of 50,000
/// events is a hundred answers of bounded size, not one huge one.
pub const PAGE: usize = 500;

/// The newest events kept: a busy namespace holds tens of thousands, and
/// the newest say what is happening now. Documented in bundle-format.md.
pub const MAX_EVENTS: usize = 10_000;

/// What a paged list does with each page.
pub trait Pages {
    fn page(&mut self, items: Vec<Value>) -> io::Result<()>;
    /// The continue token expired and the list starts over: forget what
    /// the pages so far gave.
    fn restart(&mut self) -> io::Result<()>;
}

/// Why a list stopped.
#[derive(Debug)]
pub enum ListError {
    Api(KubeError),
    /// Writing the spool file failed (a full disk).
    Spool(io::Error),
}

impl ListError {
    /// What went wrong, for the manifest's errors.
    pub fn message(&self) -> String {
        match self {
            ListError::Api(e) => e.message.clone(),
            ListError::Spool(e) => format!(
                "writing the list to the spool beside the bundle: {e}; free some space there or write the bundle elsewhere with -o"
            ),
        }
    }
}

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListError::Api(e) => write!(f, "{e}"),
            ListError::Spool(_) => f.write_str(&self.message()),
        }
    }
}

/// Pages gathered whole, for lists that are small or must be whole.
impl Pages for Vec<Value> {
    fn page(&mut self, items: Vec<Value>) -> io::Result<()> {
        self.extend(items);
        Ok(())
    }

    fn restart(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
}

/// Pods read into the k8s-openapi type a page at a time, so that their
/// JSON is never held whole.
#[derive(Default)]
pub struct PodPages {
    pub pods: Vec<Pod>,
    pub unreadable: Vec<Unreadable>,
}

impl PodPages {
    fn push(&mut self, item: Value) {
        let name = item["metadata"]["name"].as_str().unwrap_or("?").to_string();
        match serde_json::from_value::<Pod>(item) {
            Ok(p) => self.pods.push(p),
            Err(e) => self.unreadable.push((name, e.to_string())),
        }
    }

    /// Every pod seen, readable or not.
    pub fn len(&self) -> usize {
        self.pods.len() + self.unreadable.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names of every pod seen.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        let readable = self.pods.iter().filter_map(|p| p.metadata.name.clone());
        readable.chain(self.unreadable.iter().map(|(n, _)| n.clone()))
    }
}

impl Pages for PodPages {
    fn page(&mut self, items: Vec<Value>) -> io::Result<()> {
        for item in items {
            self.push(item);
        }
        Ok(())
    }

    fn restart(&mut self) -> io::Result<()> {
        *self = PodPages::default();
        Ok(())
    }
}

/// Every page of a list, with `limit` and `continue`, handed to `pages`.
/// A continue token that expired (410 Gone: the list changed faster than
/// it was read) restarts the list once; a second expiry keeps what was
/// read and returns false: incomplete, and the caller says so.
pub async fn page_through(
    kube: &Kube,
    access: Access<'_>,
    base: &str,
    pages: &mut impl Pages,
) -> Result<bool, ListError> {
    let mut token: Option<String> = None;
    let mut restarted = false;
    loop {
        let sep = if base.contains('?') { '&' } else { '?' };
        let path = match &token {
            None => format!("{base}{sep}limit={PAGE}"),
            // Tokens are base64: `+`, `/` and `=` need escaping.
            Some(t) => format!(
                "{base}{sep}limit={PAGE}&continue={}",
                form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            ),
        };
        let mut page = match kube.get(access, &path).await {
            Ok(p) => p,
            Err(e) if e.kind == ErrorKind::Status(410) && !restarted => {
                restarted = true;
                token = None;
                pages.restart().map_err(ListError::Spool)?;
                continue;
            }
            Err(e) if e.kind == ErrorKind::Status(410) => return Ok(false),
            Err(e) => return Err(ListError::Api(e)),
        };
        if let Some(Value::Array(items)) = page.get_mut("items").map(Value::take) {
            pages.page(items).map_err(ListError::Spool)?;
        }
        token = page["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(true);
        }
    }
}

/// Lists every object of `spec` into `list`.
pub async fn list_kind(
    kube: Kube,
    spec: &'static KindSpec,
    ns: Option<String>,
    mut list: KindList,
) -> Result<KindList, ListError> {
    let access = Access {
        verb: "list",
        resource: spec.plural,
        group: spec.group,
        namespace: ns.as_deref(),
    };
    let base = list_path(spec.group, spec.version, spec.plural, ns.as_deref());
    if !page_through(&kube, access, &base, &mut list).await? {
        list.partial = Some(format!(
            "incomplete: the API server expired the list's continue token twice (the {} changed faster than they could be read); {} item(s) kept",
            spec.plural, list.count
        ));
    }
    list.finish().map_err(ListError::Spool)
}

/// What is kept in memory of a kind while its items stream to the spool.
pub enum Held {
    /// Written to the spool, nothing kept.
    Nothing,
    /// Workloads and claims: few, and sizes and flavour read them whole.
    Values(Vec<Value>),
    /// Only the ConfigMaps whose names mark a flavour.
    FlavourConfigMaps(Vec<Value>),
    Pods(PodPages),
    /// Time, arrival and place in the spool of each event kept so far;
    /// `scheduling` is filled from the kept ones at the end.
    Events {
        index: Vec<EventAt>,
        scheduling: objects::Scheduling,
    },
    /// Never spooled: only shapes leave the collector, and the newest
    /// release Secret of each Helm release (its values are decoded and
    /// redacted like any config).
    Secrets {
        shapes: Vec<Value>,
        any_helm: bool,
        releases: BTreeMap<String, (u64, Value)>,
    },
    /// Never spooled: a node's facts are what the bundle holds.
    Nodes(Vec<Value>),
}

/// A pod's name, and why the k8s-openapi types do not read it.
pub type Unreadable = (String, String);

#[derive(Clone, Copy)]
pub struct EventAt {
    time: i64,
    seq: u64,
    at: Place,
}

/// One kind being listed: its spool and what is held of it.
pub struct KindList {
    pub spec: &'static KindSpec,
    spool: Option<Spool>,
    /// The namespace, for the persistent volumes behind its claims.
    ns: String,
    /// Items taken (for events, before the bound).
    pub count: usize,
    /// Older events left out past `MAX_EVENTS`.
    pub dropped: usize,
    /// Why the list is incomplete, if it is: said, never silently short.
    pub partial: Option<String>,
    pub held: Held,
    seq: u64,
}

impl KindList {
    /// A kind to list; with `spool`, its items are written for the bundle,
    /// without (`check`), only what is held is kept.
    pub fn new(spec: &'static KindSpec, ns: &str, spool: Option<&SpoolDir>) -> io::Result<Self> {
        let held = match spec.plural {
            "deployments" | "statefulsets" | "daemonsets" | "persistentvolumeclaims" => {
                Held::Values(Vec::new())
            }
            "configmaps" => Held::FlavourConfigMaps(Vec::new()),
            "pods" => Held::Pods(PodPages::default()),
            "events" => Held::Events {
                index: Vec::new(),
                scheduling: objects::Scheduling::default(),
            },
            "secrets" => Held::Secrets {
                shapes: Vec::new(),
                any_helm: false,
                releases: BTreeMap::new(),
            },
            "nodes" => Held::Nodes(Vec::new()),
            _ => Held::Nothing,
        };
        let spooled = !matches!(held, Held::Secrets { .. } | Held::Nodes(_));
        let spool = match spool {
            Some(dir) if spooled => Some(Spool::new(dir)?),
            _ => None,
        };
        Ok(KindList {
            spec,
            spool,
            ns: ns.to_string(),
            count: 0,
            dropped: 0,
            partial: None,
            held,
            seq: 0,
        })
    }

    fn take(&mut self, mut item: Value) -> io::Result<()> {
        with_kind(&mut item, self.spec);
        match &mut self.held {
            Held::Secrets {
                shapes,
                any_helm,
                releases,
            } => {
                shapes.push(objects::secret_shape(&item));
                *any_helm |= item["type"].as_str() == Some(objects::HELM_RELEASE_TYPE);
                if let Some((release, rev)) = item["metadata"]["name"]
                    .as_str()
                    .and_then(objects::helm_secret_name)
                    && releases.get(&release).is_none_or(|(r, _)| rev > *r)
                {
                    releases.insert(release, (rev, item));
                }
                return Ok(());
            }
            Held::Nodes(facts) => {
                facts.push(objects::node_facts(&item));
                return Ok(());
            }
            _ => {}
        }
        // Only the volumes behind this namespace's claims.
        if self.spec.plural == "persistentvolumes"
            && item["spec"]["claimRef"]["namespace"].as_str() != Some(&self.ns)
        {
            return Ok(());
        }
        objects::clean(&mut item);
        let at = match &mut self.spool {
            Some(s) => Some(s.push(&item)?),
            None => None,
        };
        match &mut self.held {
            Held::Values(v) => v.push(item),
            Held::FlavourConfigMaps(v) if objects::marks_flavour(&item) => v.push(item),
            Held::Pods(pods) => pods.push(item),
            Held::Events { index, .. } => {
                if let Some(at) = at {
                    index.push(EventAt {
                        time: objects::event_time(&item),
                        seq: self.seq,
                        at,
                    });
                    self.seq += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Past twice the bound, the oldest events go from the spool too, so
    /// that neither memory nor disk grows with the namespace's events.
    fn bound_events(&mut self, max: usize) -> io::Result<()> {
        let (Held::Events { index, .. }, Some(spool)) = (&mut self.held, &mut self.spool) else {
            return Ok(());
        };
        if index.len() <= max {
            return Ok(());
        }
        let n = index.len() - max;
        index.select_nth_unstable_by_key(n, |e| (e.time, e.seq));
        index.drain(..n);
        // The spool keeps its order; rewritten, the offsets move.
        index.sort_by_key(|e| e.at.offset);
        spool.keep(index.iter_mut().map(|e| &mut e.at), |_| {})?;
        self.dropped += n;
        Ok(())
    }

    /// The events sorted oldest first (the story reads downwards and ends
    /// with the newest) and the newest `FailedScheduling` of each pod.
    fn finish(mut self) -> io::Result<KindList> {
        if matches!(self.held, Held::Events { .. }) {
            self.bound_events(MAX_EVENTS)?;
            if let (Held::Events { index, scheduling }, Some(spool)) =
                (&mut self.held, &mut self.spool)
            {
                index.sort_by_key(|e| (e.time, e.seq));
                spool.keep(index.iter_mut().map(|e| &mut e.at), |line| {
                    if let Ok(e) = serde_json::from_slice::<Value>(line) {
                        scheduling.see(&e);
                    }
                })?;
                index.clear();
                index.shrink_to_fit();
            }
        }
        Ok(self)
    }

    /// The spooled items, for `Body::JsonList`; None for kinds never
    /// spooled (Secrets, nodes) or when listed without a spool.
    pub fn items(&mut self) -> io::Result<Option<BufReader<File>>> {
        self.spool.take().map(Spool::into_reader).transpose()
    }
}

impl Pages for KindList {
    fn page(&mut self, items: Vec<Value>) -> io::Result<()> {
        for item in items {
            self.count += 1;
            self.take(item)?;
        }
        self.bound_events(2 * MAX_EVENTS)
    }

    fn restart(&mut self) -> io::Result<()> {
        let fresh = KindList::new(self.spec, &self.ns, None)?;
        self.held = fresh.held;
        self.count = 0;
        self.dropped = 0;
        self.seq = 0;
        if let Some(s) = &mut self.spool {
            s.clear()?;
        }
        Ok(())
    }
}

/// Items of a list carry no kind; a file of them should.
fn with_kind(item: &mut Value, spec: &KindSpec) {
    if let Some(o) = item.as_object_mut() {
        let api_version = if spec.group.is_empty() {
            spec.version.to_string()
        } else {
            format!("{}/{}", spec.group, spec.version)
        };
        o.entry("apiVersion").or_insert(api_version.into());
        o.entry("kind").or_insert(spec.kind.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::BufRead;

    /// Events arriving in any order keep the newest `MAX_EVENTS` by time
    /// (of equal times, the later arrived), oldest first, across the
    /// cuts made while listing; the scheduling message is the newest kept.
    #[test]
    fn events_keep_the_newest_in_time_order_whatever_the_arrival() {
        let dir = tempfile::tempdir().unwrap();
        let spool = SpoolDir::create(dir.path()).unwrap();
        let spec = objects::NAMESPACED
            .iter()
            .find(|k| k.plural == "events")
            .unwrap();
        let mut list = KindList::new(spec, "ns", Some(&spool)).unwrap();
        let total = 2 * MAX_EVENTS + 5_000;
        // Times in a scrambled order, every fifth one repeated.
        let time = |i: usize| ((i * 7919) % total / 5) as i64;
        let event = |i: usize| {
            let t = chrono::DateTime::from_timestamp(1_700_000_000 + time(i), 0)
                .unwrap()
                .to_rfc3339();
            json!({"metadata": {"name": format!("e{i}")}, "lastTimestamp": t,
                   "reason": "FailedScheduling", "message": format!("m{i}"),
                   "involvedObject": {"kind": "Pod", "name": "p"}})
        };
        for page in (0..total).collect::<Vec<_>>().chunks(PAGE) {
            list.page(page.iter().map(|&i| event(i)).collect()).unwrap();
        }
        let mut list = list.finish().unwrap();
        let mut expected: Vec<usize> = (0..total).collect();
        expected.sort_by_key(|&i| (time(i), i));
        let expected = &expected[total - MAX_EVENTS..];
        let got: Vec<String> = list
            .items()
            .unwrap()
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(&l.unwrap()).unwrap();
                v["metadata"]["name"].as_str().unwrap().to_string()
            })
            .collect();
        let want: Vec<String> = expected.iter().map(|i| format!("e{i}")).collect();
        assert_eq!(got, want);
        assert_eq!((list.count, list.dropped), (total, total - MAX_EVENTS));
        let Held::Events { scheduling, .. } = &list.held else {
            panic!("not events")
        };
        let newest = expected.last().unwrap();
        assert_eq!(scheduling.messages()["p"], format!("m{newest}"));
    }
}
