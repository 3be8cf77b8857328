//! The strict body reader never panics, and what it accepts has no number beyond I-JSON and no
//! NUL, so that it canonicalises to bytes the ledger's check accepts.
#![no_main]
use disclosure_ledger::body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = body::value(data, "") {
        let bytes = disclosure_ledger::ledger::entry::canonicalize(&v).expect("accepted JSON canonicalises");
        assert!(disclosure_ledger::ledger::canonical_check::is_canonical(&bytes));
        assert!(!bytes.contains(&0));
    }
});
