//! `--obfuscate-network`: IP addresses, the customer's hostnames and email
//! addresses become consistent pseudonyms (`ip-3`, `host-2.invalid`,
//! `user-1@email.invalid`). Off by default: engineers usually need them.
//! The mapping back to the originals is written to a file next to the
//! bundle and never into it, so only the admin can translate findings.
//!
//! Runs after secret redaction, on its output, line by line.

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::path::Path;
use std::sync::{Arc, Mutex};

use regex::Regex;
use serde::Serialize;

use super::RedactionCounts;
use crate::fsutil::{Partial, with_suffix};

mod reader;
#[cfg(test)]
mod tests;

pub use reader::NetworkReader;

/// Top-level domains a customer's hosts end in. A closed list, because an
/// open pattern takes file names (`config.yaml`, `main.go`) for hosts;
/// TLDs that are common file extensions (`.md`, `.py`, `.rs`, `.sh`,
/// `.pl`, `.so`) are left out on purpose.
const TLDS: &str = "com|net|org|io|dev|app|ai|co|cloud|tech|biz|info|xyz|site|online|\
internal|local|localdomain|lan|corp|intra|intranet|home|private|\
us|uk|de|fr|nl|eu|ca|au|jp|ch|se|no|dk|fi|be|at|es|it|br|cn|kr|sg|nz|ie|il|mx|za|ru";

/// Public services whose names help debugging and say nothing about the
/// customer: kept, with their subdomains.
const PUBLIC: &[&str] = &[
    "github.com",
    "githubusercontent.com",
    "gitlab.com",
    "bitbucket.org",
    "sourcegraph.com",
    "docker.io",
    "docker.com",
    "ghcr.io",
    "gcr.io",
    "pkg.dev",
    "quay.io",
    "k8s.io",
    "kubernetes.io",
    "golang.org",
    "go.dev",
    "googleapis.com",
    "google.com",
    "microsoft.com",
    "visualstudio.com",
    "openai.com",
    "anthropic.com",
    "npmjs.org",
    "npmjs.com",
    "pypi.org",
    "slack.com",
    "example.com",
    "example.org",
    "example.net",
];

#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Ip,
    Host,
    Email,
}

impl Kind {
    /// The pseudonym for number (or hash) `n`.
    fn name(self, n: &str) -> String {
        match self {
            Kind::Ip => format!("ip-{n}"),
            Kind::Host => format!("host-{n}.invalid"),
            Kind::Email => format!("user-{n}@email.invalid"),
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Kind::Ip => "network-ip",
            Kind::Host => "network-host",
            Kind::Email => "network-email",
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct Mapping {
    pub kind: Kind,
    pub original: String,
    pub pseudonym: String,
}

/// Distinct values given numbered pseudonyms and kept in memory. Past
/// this, pseudonyms are derived from a keyed hash (consistent within the
/// run, so nothing needs remembering) and the originals are spilled to an
/// unnamed private file for the map: memory stays bounded however many
/// addresses a log holds (16.7 million took 8.5 GB before this bound).
pub const MAX_NUMBERED: usize = 200_000;
/// Recently spilled values, so a value repeated nearby is spilled once.
const RECENT: usize = 1 << 16;

#[derive(Default)]
struct State {
    /// Index into `order`.
    by_original: HashMap<(Kind, String), usize>,
    next: HashMap<Kind, u64>,
    order: Vec<Mapping>,
    overflow: Option<Overflow>,
}

struct Overflow {
    key: [u8; 32],
    /// None when no spill file could be made: the values are still hidden,
    /// and the map says how many it lacks.
    spill: Option<std::io::BufWriter<std::fs::File>>,
    recent: std::collections::HashSet<(Kind, String)>,
    unmapped: u64,
}

impl Overflow {
    fn new() -> Overflow {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random number generator failed");
        Overflow {
            key,
            spill: tempfile::tempfile().ok().map(std::io::BufWriter::new),
            recent: Default::default(),
            unmapped: 0,
        }
    }

    fn pseudonym(&mut self, kind: Kind, lower: String, original: &str) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        use std::io::Write;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(&[kind as u8]);
        mac.update(lower.as_bytes());
        let tag = mac.finalize().into_bytes();
        let hex: String = tag[..8].iter().map(|b| format!("{b:02x}")).collect();
        let p = kind.name(&format!("x{hex}"));
        if self.recent.len() >= RECENT {
            self.recent.clear();
        }
        if self.recent.insert((kind, lower)) {
            // Tab-separated: the pattern admits no tabs or newlines.
            let written = match self.spill.as_mut() {
                Some(f) => writeln!(f, "{}\t{original}\t{p}", kind.rule()).is_ok(),
                None => false,
            };
            if !written {
                self.unmapped += 1;
            }
        }
        p
    }
}

/// One per run, shared by every file, so one address has one pseudonym
/// throughout the bundle.
#[derive(Clone)]
pub struct NetworkObfuscator {
    pattern: Arc<Regex>,
    state: Arc<Mutex<State>>,
}

impl Default for NetworkObfuscator {
    fn default() -> Self {
        Self::new()
    }
}

impl NetworkObfuscator {
    pub fn new() -> NetworkObfuscator {
        let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
        let h = "[0-9A-Fa-f]{1,4}";
        let pattern = format!(
            r"(?P<email>[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{{2,}})|(?P<ipv4>{octet}(?:\.{octet}){{3}})|(?P<ipv6>(?:{h}:){{7}}{h}|(?:{h}:){{1,7}}:(?:{h}(?::{h}){{0,6}})?|::{h}(?::{h}){{0,6}})|(?P<host>(?i:(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{TLDS})))"
        );
        NetworkObfuscator {
            pattern: Arc::new(Regex::new(&pattern).expect("the network pattern is valid")),
            state: Arc::default(),
        }
    }

    fn pseudonym(&self, kind: Kind, original: &str) -> String {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let key = (kind, original.to_ascii_lowercase());
        if let Some(&i) = s.by_original.get(&key) {
            return s.order[i].pseudonym.clone();
        }
        if s.order.len() >= MAX_NUMBERED {
            return s
                .overflow
                .get_or_insert_with(Overflow::new)
                .pseudonym(kind, key.1, original);
        }
        let n = {
            let n = s.next.entry(kind).or_insert(0);
            *n += 1;
            *n
        };
        let p = kind.name(&n.to_string());
        let i = s.order.len();
        s.by_original.insert(key, i);
        s.order.push(Mapping {
            kind,
            original: original.to_string(),
            pseudonym: p.clone(),
        });
        p
    }

    /// Rewrites one line (or any text); counts go to `counts` by rule.
    pub fn obfuscate(&self, text: &str, counts: &RedactionCounts) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for caps in self.pattern.captures_iter(text) {
            let m = caps.get(0).expect("group 0");
            let (s, e) = (m.start(), m.end());
            let before = s.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(e).copied();
            let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            if caps.name("email").is_some() {
                let (local, domain) = m.as_str().split_once('@').expect("an @");
                let lower = m.as_str().to_ascii_lowercase();
                let replacement = if local == "git" {
                    // An SSH remote (git@host:org/repo): the host is the
                    // customer's, the user is not anyone's.
                    (!keep_host(domain)).then(|| {
                        (
                            Kind::Host,
                            format!("git@{}", self.pseudonym(Kind::Host, domain)),
                        )
                    })
                } else if lower.ends_with("@email.invalid") {
                    None
                } else {
                    Some((Kind::Email, self.pseudonym(Kind::Email, m.as_str())))
                };
                if let Some((kind, p)) = replacement {
                    out.push_str(&text[last..s]);
                    out.push_str(&p);
                    counts.add(kind.rule(), 1);
                    last = e;
                }
                continue;
            }
            let kind = if caps.name("ipv4").is_some() {
                // Part of a longer dotted number (a version) is not an address.
                let dotted = |b: Option<u8>, next: Option<u8>| {
                    b == Some(b'.') && next.is_some_and(|n| n.is_ascii_digit())
                };
                let longer = word(before)
                    || word(after)
                    || dotted(after, bytes.get(e + 1).copied())
                    || (before == Some(b'.') && s >= 2 && bytes[s - 2].is_ascii_digit());
                (!longer && !keep_ip(m.as_str())).then_some(Kind::Ip)
            } else if caps.name("ipv6").is_some() {
                let edge = |b: Option<u8>| {
                    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'.')
                };
                (!edge(before) && !edge(after) && !keep_ip(m.as_str())).then_some(Kind::Ip)
            } else {
                let host = m.as_str();
                let glued = word(before)
                    || before == Some(b'.')
                    || before == Some(b'-')
                    || after.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                (!glued && !keep_host(host)).then_some(Kind::Host)
            };
            let Some(kind) = kind else { continue };
            out.push_str(&text[last..s]);
            out.push_str(&self.pseudonym(kind, m.as_str()));
            counts.add(kind.rule(), 1);
            last = e;
        }
        if last == 0 {
            return text.to_string();
        }
        out.push_str(&text[last..]);
        out
    }

    /// Every pseudonym handed out so far, in order.
    pub fn mappings(&self) -> Vec<Mapping> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .order
            .clone()
    }

    /// Writes the mapping (mode 0600) to `<target>.network-map.json`,
    /// beside the bundle or output, never inside it. Streamed: the spilled
    /// part of a very large map is never read into memory.
    pub fn write_map(&self, target: &Path) -> anyhow::Result<std::path::PathBuf> {
        use std::io::{Seek, Write};
        let path = with_suffix(target, ".network-map.json");
        let (partial, f) = Partial::file(with_suffix(&path, ".partial"))?;
        let mut w = std::io::BufWriter::new(f);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let string = |s: &str| serde_json::to_string(s).expect("a string serializes");
        writeln!(w, "{{")?;
        writeln!(
            w,
            "  \"about\": {},",
            string(
                "Pseudonyms sg-debug --obfuscate-network put in place of IP addresses, hostnames and email addresses. Keep this file: do not send it with the bundle."
            )
        )?;
        writeln!(
            w,
            "  \"for_output\": {},",
            string(&target.display().to_string())
        )?;
        write!(w, "  \"mappings\": [")?;
        let mut first = true;
        let mut item = |w: &mut std::io::BufWriter<std::fs::File>, m: &Mapping| -> io::Result<()> {
            write!(w, "{}\n    ", if first { "" } else { "," })?;
            first = false;
            serde_json::to_writer(&mut *w, m).map_err(io::Error::other)
        };
        for m in &st.order {
            item(&mut w, m)?;
        }
        let mut unmapped = 0;
        if let Some(o) = st.overflow.as_mut()
            && let Some(spill) = o.spill.as_mut()
        {
            unmapped = o.unmapped;
            spill.flush()?;
            // A second handle on the same open file shares its offset:
            // read from the start, then leave it at the end for more.
            let mut reader = spill.get_ref().try_clone()?;
            reader.rewind()?;
            for line in std::io::BufReader::new(reader).lines() {
                let line = line?;
                let mut parts = line.splitn(3, '\t');
                let (Some(rule), Some(original), Some(pseudonym)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let kind = [Kind::Ip, Kind::Host, Kind::Email]
                    .into_iter()
                    .find(|k| k.rule() == rule)
                    .unwrap_or(Kind::Ip);
                let m = Mapping {
                    kind,
                    original: original.to_string(),
                    pseudonym: pseudonym.to_string(),
                };
                item(&mut w, &m)?;
            }
            spill.seek(io::SeekFrom::End(0))?;
        } else if let Some(o) = st.overflow.as_ref() {
            unmapped = o.unmapped;
        }
        write!(w, "\n  ]")?;
        if unmapped > 0 {
            write!(
                w,
                ",\n  \"unmapped\": {unmapped},\n  \"unmapped_note\": {}",
                string(
                    "values hidden by keyed-hash pseudonyms that could not be recorded here (no room for the spill file)"
                )
            )?;
        }
        writeln!(w)?;
        writeln!(w, "}}")?;
        drop(st);
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        partial.commit(&path)?;
        Ok(path)
    }
}

/// Addresses that identify no one: loopback, unspecified, broadcast.
fn keep_ip(ip: &str) -> bool {
    match ip.parse::<std::net::IpAddr>() {
        Ok(a) => {
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || a == std::net::IpAddr::from([255, 255, 255, 255])
        }
        // Not an address after all (`fe::` in some identifier).
        Err(_) => true,
    }
}

fn keep_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h.ends_with(".invalid")
        || PUBLIC.iter().any(|p| {
            h.strip_suffix(p)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        })
}
