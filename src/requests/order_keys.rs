//! Authorities' order-signing keys as last read, for the signature check a submission makes
//! before the head lock (issue 12): a court that signs many orders with one key costs one read
//! of it, not one per submission.
//!
//! Nothing here decides rule V3. Under the head lock the key is read again, and the early
//! verification counts only if that key has the very JWK it was made with; a key revoked,
//! expired or replaced since it was kept is judged there as if nothing had been kept
//! (`validate::Facts::order_verified_with`). So a stale entry costs at most one more
//! verification, never a wrong answer. Only keys that exist are kept, so what a caller names
//! cannot fill the map with misses.

use std::collections::HashMap;
use std::sync::Mutex;

use super::validate::OrderKey;

/// Most keys kept; when full, the map starts over.
pub const MAX_ORDER_KEYS: usize = 10_000;

/// (issuing authority, `kid`) → the key as read.
#[derive(Debug, Default)]
pub struct OrderKeys {
    inner: Mutex<HashMap<(String, String), OrderKey>>,
}

impl OrderKeys {
    pub fn get(&self, issuer: &str, kid: &str) -> Option<OrderKey> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(issuer.to_string(), kid.to_string())).cloned()
    }

    pub fn put(&self, issuer: &str, kid: &str, key: OrderKey) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ORDER_KEYS {
            map.clear();
        }
        map.insert((issuer.to_string(), kid.to_string()), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorities::key::KeyAlg;

    fn key(x: &str) -> OrderKey {
        OrderKey {
            alg: KeyAlg::EdDSA,
            jwk: serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x }),
            not_before: "2026-01-01T00:00:00.000Z".into(),
            not_after: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_kept_key_is_found_by_its_authority_and_kid_only() {
        let keys = OrderKeys::default();
        keys.put("court-a", "k1", key("AAAA"));
        assert_eq!(
            keys.get("court-a", "k1").map(|k| k.jwk["x"].clone()),
            Some("AAAA".into())
        );
        assert!(keys.get("court-b", "k1").is_none());
        assert!(keys.get("court-a", "k2").is_none());
    }

    #[test]
    fn a_full_map_starts_over_instead_of_growing() {
        let keys = OrderKeys::default();
        for i in 0..MAX_ORDER_KEYS + 5 {
            keys.put("court", &format!("k{i}"), key("AAAA"));
        }
        let len = keys.inner.lock().unwrap().len();
        assert!(len <= MAX_ORDER_KEYS, "{len} keys kept");
        assert!(keys.get("court", &format!("k{}", MAX_ORDER_KEYS + 4)).is_some());
    }
}
