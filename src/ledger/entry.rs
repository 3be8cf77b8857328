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

/// One ledger entry. The fields are declared in canonical order (RFC 8785 §3.2.3: members
/// sorted by name), so that serde_json writes them as JCS does: see [`jcs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub index: u64,
    pub kind: String,
    pub prev: String,
    pub public: Map<String, Value>,
    pub sealed: Option<String>,
    pub subject: Option<String>,
    pub time: String,
    pub v: u8,
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
        serde_jcs(self)
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
    jcs(value)
}

/// RFC 8785 canonical bytes of any JSON value. serde_json writes most values exactly as JCS
/// does: its maps keep their members sorted by the bytes of their names, integers are digits,
/// and its string escapes are `JSON.stringify`'s (§3.2.2.2). Where it does not (a name whose
/// UTF-8 order is not its UTF-16 order, an integer beyond 2^53 − 1, any floating-point
/// number), the single-pass check refuses its bytes and `serde_json_canonicalizer` writes them
/// instead. A value has one canonical form, so bytes the check accepts are the library's
/// bytes; serde_json's are the cheap way to them: the writer canonicalises every entry and
/// every sealed detail under the head lock, and the library takes seven times as long
/// (14.4 µs against 2.1 µs for a submission's 929-byte sealed details: it buffers each member
/// and re-encodes its name to sort).
pub fn jcs(value: &Value) -> Result<Vec<u8>, LedgerError> {
    serde_jcs(value)
}

/// [`jcs`] of `Value` or `Entry` only: of types whose maps have string keys and that hold no
/// raw JSON. For a map keyed by integers serde_json's bytes would pass the check with a key
/// the library writes otherwise (it formats an integer key as a float: 2^53 + 1 becomes 2^53).
fn serde_jcs<T: Serialize>(value: &T) -> Result<Vec<u8>, LedgerError> {
    let bytes = serde_json::to_vec(value).map_err(|e| LedgerError::MalformedJson(e.to_string()))?;
    if super::canonical_check::is_canonical(&bytes) {
        return Ok(bytes);
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

/// Formats an instant the way entries carry it: `YYYY-MM-DDTHH:MM:SS.mmmZ` (24 bytes).
pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // Digit by digit: chrono's `format` interprets its pattern on every call, and the writer
    // formats several instants per operation under the head lock. Years outside four digits
    // and leap seconds (which the clock never reads) take chrono's way.
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 3, nanos / 1_000_000);
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn library(v: &impl Serialize) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(v).unwrap()
    }

    #[test]
    fn times_are_formatted_as_chrono_formats_them() {
        use chrono::TimeZone;
        let chrono_way = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut t = chrono::Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap();
        // Steps of a prime number of milliseconds reach every field's every digit.
        for _ in 0..20_000 {
            assert_eq!(format_time(t), chrono_way(t));
            t += chrono::Duration::milliseconds(7_919_999_993);
        }
        for t in [
            chrono::Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap() + chrono::Duration::milliseconds(999),
            chrono::Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(2026, 12, 1, 4, 5, 6).unwrap() + chrono::Duration::microseconds(789_999),
        ] {
            assert_eq!(format_time(t), chrono_way(t));
        }
    }

    #[test]
    fn canonical_bytes_are_the_libraries_for_every_kind_of_value() {
        let values = [
            json!({}),
            json!([]),
            json!(null),
            json!({ "b": [true, false, null], "a": { "z": 1, "y": -1, "": 0 } }),
            json!({ "controls": "\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}", "quote": "\"\\/" }),
            json!({ "text": "é ü 日本 😀 \u{2028}\u{2029}", "ключ": "значение" }),
            // UTF-8 sorts U+E000 after U+1F600, UTF-16 before: the library must decide.
            json!({ "\u{e000}": 1, "😀": 2, "a": 3 }),
            json!({ "max": 9007199254740991_u64, "min": -9007199254740991_i64 }),
            // Beyond I-JSON's integers: the library rounds them as a float would.
            json!({ "big": 9007199254740993_u64, "neg": -9007199254740993_i64, "u": u64::MAX }),
            json!({ "deep": [[[{ "x": [1, [2, [3]]] }]]] }),
            // Names the check reads through their escapes, and prefixes of one another.
            json!({ "\"": 1, "!": 2, "#": 3, "\n": 4, "a\u{0}": 5, "ab": 6, "a": 7 }),
            json!({ "\u{ffff}": 1, "\u{10000}": 2, "é": 3, "z": 4 }),
            json!({ "n": -9007199254740992_i64, "p": 9007199254740992_u64 }),
            json!([-9007199254740991_i64, 0, -1]),
            json!({ "s": "a/b\u{7f}\u{1}\u{1f}" }),
        ];
        for v in &values {
            assert_eq!(canonicalize(v).unwrap(), library(v), "{v}");
        }
        // Outside entries (an order's scope, an import's record) floats take the library's way.
        let floats = json!({ "f": 1.5, "g": 1.0, "h": 1e21, "i": -0.0, "j": [0.1, 2e-7] });
        assert_eq!(jcs(&floats).unwrap(), library(&floats));
    }

    fn entry() -> Entry {
        Entry {
            index: 42,
            kind: "request.received".into(),
            prev: "ab".repeat(32),
            public: json!({ "country": "DE", "identifiers": 2, "data_categories": ["ip_address"] })
                .as_object()
                .cloned()
                .unwrap(),
            sealed: Some("cd".repeat(32)),
            subject: Some("0193a5b2-7c1d-7000-8000-000000000000".into()),
            time: "2026-12-01T04:00:00.000Z".into(),
            v: 1,
        }
    }

    #[test]
    fn an_entry_is_canonicalised_by_serde_json_without_the_librarys_help() {
        let e = entry();
        let plain = serde_json::to_vec(&e).unwrap();
        // The cheap path is taken: the fields are declared in canonical order and the maps
        // are sorted (serde_json without `preserve_order`).
        assert!(crate::ledger::canonical_check::is_canonical(&plain));
        assert_eq!(e.canonical_bytes().unwrap(), library(&e));
        let mut odd = entry();
        odd.subject = None;
        odd.sealed = None;
        odd.public = json!({ "\u{e000}": "x", "😀": "y" }).as_object().cloned().unwrap();
        assert_eq!(odd.canonical_bytes().unwrap(), library(&odd));
    }
}
