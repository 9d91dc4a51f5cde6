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

/// True when `s` is (or starts with) a marker: already redacted, leave it.
pub fn is_marker(s: &[u8]) -> bool {
    s.starts_with(PREFIX)
}
