//! The single-pass canonical check against its reference: bytes it calls canonical parse, and
//! canonicalise back to exactly themselves; it never panics.
#![no_main]
use disclosure_ledger::ledger::{canonical_check, entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = canonical_check::check_entry(data);
    if canonical_check::is_canonical(data) {
        let v: serde_json::Value = serde_json::from_slice(data).expect("canonical bytes are JSON");
        let again = entry::canonicalize(&v).expect("canonical JSON canonicalises");
        assert_eq!(again, data, "the check and the reference disagree");
    }
});
