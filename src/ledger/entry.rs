//! The ledger entry (DESIGN §4.1): exactly eight members, serialised with RFC 8785 (JCS);
//! its leaf hash is `SHA-256(0x00 ‖ canonical bytes)` (RFC 9162 §2.1.1).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::is_lower_hex64;
use super::{merkle::Hash, LedgerError};

/// The `prev` of entry 0: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Entry kinds of DESIGN §2. Kept as strings in the entry so that a verifier built before a new
/// kind was added can still check the chain; this list is what this build writes.
pub struct EntryKind;

impl EntryKind {
    pub const POLICY_ADOPTED: &'static str = "policy.adopted";
    pub const ALL: &'static [&'static str] = &[
        "policy.adopted",
        "authority.registered",
        "authority.key_added",
        "authority.key_revoked",
        "authority.suspended",
        "authority.reinstated",
        "request.received",
        "request.validated",
        "request.rejected",
        "request.clarification_requested",
        "request.amended",
        "request.approved",
        "request.disclosed",
        "request.no_data",
        "request.withdrawn",
        "request.expired",
        "request.emergency_validated",
        "request.emergency_validation_failed",
        "notification.delayed",
        "notification.sent",
        "notification.waived",
        "vault.opened",
        "request.imported",
        "aggregate.imported",
        "retention.shredded",
        "request.legal_hold_placed",
        "request.legal_hold_lifted",
    ];

    pub fn is_known(kind: &str) -> bool {
        Self::ALL.contains(&kind)
    }
}

/// One ledger entry. Field order here is irrelevant: the canonical bytes sort members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub v: u8,
    pub index: u64,
    pub prev: String,
    pub time: String,
    pub kind: String,
    pub subject: Option<String>,
    pub public: Map<String, Value>,
    pub sealed: Option<String>,
}

impl Entry {
    /// RFC 8785 canonical bytes. Refuses floating-point numbers (DESIGN §4.1), which JCS
    /// would otherwise serialise in a form other implementations might not reproduce.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, LedgerError> {
        // `public` is the only member that can hold a number other than `v` and `index`.
        // Serialised from the struct, not from a copy of it as a `Value`: the append path
        // canonicalises every entry under the head lock.
        if self.public.values().any(has_float) {
            return Err(LedgerError::FloatInEntry);
        }
        serde_json_canonicalizer::to_vec(self).map_err(|e| LedgerError::MalformedJson(e.to_string()))
    }

    /// Parses stored canonical bytes and checks that they *are* canonical: re-serialising the
    /// parsed entry must give the same bytes back, so that a row edited into a different but
    /// equivalent JSON spelling is caught as well as one whose content changed.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, LedgerError> {
        let entry: Entry = serde_json::from_slice(bytes).map_err(|e| LedgerError::MalformedJson(e.to_string()))?;
        entry.check_form()?;
        if entry.canonical_bytes()? != bytes {
            return Err(LedgerError::NotCanonical);
        }
        Ok(entry)
    }

    /// The structural rules of DESIGN §4.1 that serde's types do not already enforce.
    pub fn check_form(&self) -> Result<(), LedgerError> {
        let bad = |m: &str| Err(LedgerError::MalformedEntry(m.to_string()));
        if self.v != 1 {
            return bad("v must be 1");
        }
        if !is_lower_hex64(&self.prev) {
            return bad("prev must be 64 lowercase hex digits");
        }
        if let Some(s) = &self.sealed {
            if !is_lower_hex64(s) {
                return bad("sealed must be 64 lowercase hex digits or null");
            }
        }
        if !is_rfc3339_millis_utc(&self.time) {
            return bad("time must be RFC 3339 UTC with milliseconds");
        }
        if self.kind.is_empty() {
            return bad("kind must not be empty");
        }
        Ok(())
    }

    /// `SHA-256(0x00 ‖ canonical bytes)`.
    pub fn leaf_hash(&self) -> Result<Hash, LedgerError> {
        Ok(leaf_hash(&self.canonical_bytes()?))
    }
}

/// RFC 9162 §2.1.1 leaf hash of arbitrary bytes.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    tlog_tiles::record_hash(bytes)
}

/// RFC 8785 serialisation of any JSON value that holds no floating-point number.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, LedgerError> {
    if has_float(value) {
        return Err(LedgerError::FloatInEntry);
    }
    serde_json_canonicalizer::to_vec(value).map_err(|e| LedgerError::MalformedJson(e.to_string()))
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the one spelling DESIGN §4.1 allows, and a real instant.
pub(super) fn is_rfc3339_millis_utc(s: &str) -> bool {
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && parse_instant(s).is_some()
}

/// An RFC 3339 date-time from untrusted input, as an instant. chrono reads a seconds field of
/// `60` as a leap second whatever the date; UTC has had none since 2016 and the ledger's clock
/// never reads one, so such a time is refused rather than taken for the next second.
pub fn parse_instant(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Timelike;
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    (t.nanosecond() < 1_000_000_000).then(|| t.with_timezone(&chrono::Utc))
}

/// Formats an instant the way entries carry it.
pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
