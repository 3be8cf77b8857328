//! Verified tokens, kept until they expire (issue 12): a client that reuses its token pays one
//! signature verification and one strict parse, not one per call.
//!
//! Only what cannot change while a token lives is cached: its bytes were checked, its
//! signature verified with a given key, its claims read. What can change — the key revoked,
//! the authority suspended — is still read from the database on every call, so revocation and
//! suspension take effect at once, also when another process on the same database made them.
//! Entries are keyed by the SHA-256 of the token, never the token itself.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{Claims, LEEWAY_SECS};

/// Most tokens kept; when full, expired ones are dropped, then all if that was not enough.
pub const MAX_VERIFIED_TOKENS: usize = 10_000;

/// A token whose signature and claims were verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Claims,
    /// For a token an authority signed: the key id and the JWK its signature verified with.
    /// A hit is honoured only while that key is still the authority's active key `kid`.
    pub key: Option<(String, serde_json::Value)>,
}

/// The cache: SHA-256 of the token → what its verification established.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    inner: Mutex<HashMap<[u8; 32], Verified>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// The verification of `token`, unless absent or expired at `now` (Unix seconds, with the
    /// leeway the verification itself allows).
    pub fn get(&self, token: &str, now: u64) -> Option<Verified> {
        let key = digest(token);
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&key) {
            Some(v) if v.claims.exp + LEEWAY_SECS >= now => Some(v.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Keeps a verification until the token expires.
    pub fn put(&self, token: &str, verified: Verified, now: u64) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_VERIFIED_TOKENS {
            map.retain(|_, v| v.claims.exp + LEEWAY_SECS >= now);
            if map.len() >= MAX_VERIFIED_TOKENS {
                map.clear();
            }
        }
        map.insert(digest(token), verified);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Audience, Role};

    fn verified(exp: u64) -> Verified {
        Verified {
            claims: Claims {
                iss: "i".into(),
                sub: "s".into(),
                aud: Audience::One("a".into()),
                exp,
                iat: 0,
                nbf: None,
                role: Role::Auditor,
                authority: None,
            },
            key: None,
        }
    }

    #[test]
    fn a_token_is_kept_until_it_expires_and_the_cache_stays_bounded() {
        let cache = VerifiedTokens::default();
        cache.put("t", verified(100), 50);
        assert!(cache.get("t", 100 + LEEWAY_SECS).is_some());
        assert!(cache.get("t", 101 + LEEWAY_SECS).is_none());
        assert!(cache.get("other", 50).is_none());
        for i in 0..MAX_VERIFIED_TOKENS + 10 {
            cache.put(&i.to_string(), verified(1_000), 50);
        }
        assert!(cache.inner.lock().unwrap().len() <= MAX_VERIFIED_TOKENS);
    }
}
