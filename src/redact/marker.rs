//! `[REDACTED:<rule-id>:<8 hex>]`: the hex is an HMAC-SHA256 of the secret
//! under a key drawn at random for each run and never stored. One secret
//! gets one marker throughout a bundle (so an engineer can see that two
//! services share a password) but markers mean nothing across bundles,
//! cannot be reversed, and do not reveal the secret's length.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const PREFIX: &[u8] = b"[REDACTED:";

#[derive(Clone)]
pub struct Marker {
    key: [u8; 32],
}

impl Marker {
    pub fn random() -> Marker {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random number generator failed");
        Marker { key }
    }

    #[cfg(test)]
    pub fn with_key(key: [u8; 32]) -> Marker {
        Marker { key }
    }

    pub fn make(&self, rule: &str, secret: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(secret);
        let tag = mac.finalize().into_bytes();
        format!(
            "[REDACTED:{rule}:{:02x}{:02x}{:02x}{:02x}]",
            tag[0], tag[1], tag[2], tag[3]
        )
    }
}

/// The length of the complete marker at the start of `s`, if there is one:
/// `[REDACTED:<rule id>:<8 hex>]`. Only a complete marker counts: text
/// that merely starts like one (`[REDACTED:` typed into a log, say) must
/// not shield what follows it from the pass.
pub fn marker_len(s: &[u8]) -> Option<usize> {
    let rest = s.strip_prefix(PREFIX)?;
    let colon = rest.iter().position(|b| *b == b':')?;
    let rule = &rest[..colon];
    let rule_ok = !rule.is_empty()
        && rule.len() <= 64
        && rule
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let hex = rest.get(colon + 1..colon + 9)?;
    (rule_ok && hex.iter().all(u8::is_ascii_hexdigit) && rest.get(colon + 9) == Some(&b']'))
        .then_some(PREFIX.len() + colon + 10)
}

/// True when `s` is a value already redacted: a complete marker, followed
/// by nothing that could be more of a secret (quotes, spaces, or the
/// ` (N bytes)` a Kubernetes Secret's marker carries).
pub fn is_marker(s: &[u8]) -> bool {
    let Some(n) = marker_len(s) else {
        return false;
    };
    let mut rest = &s[n..];
    if let Some(r) = rest.strip_prefix(b" (") {
        let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && r[digits..].starts_with(b" bytes)") {
            rest = &r[digits + b" bytes)".len()..];
        }
    }
    !rest.iter().any(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_markers_count() {
        let m = Marker::with_key([1; 32]).make("url-password", b"pw");
        assert_eq!(marker_len(m.as_bytes()), Some(m.len()));
        assert!(is_marker(m.as_bytes()));
        assert!(is_marker(format!("{m} (12 bytes)").as_bytes()));
        assert!(is_marker(format!("{m}\"").as_bytes()));
        assert!(!is_marker(b"[REDACTED:"));
        assert!(!is_marker(b"[REDACTED: password=hunter2"));
        assert!(!is_marker(b"[REDACTED:x:1234567]"));
        assert!(!is_marker(format!("{m}hunter2").as_bytes()));
    }
}
