//! An import record goes through the strict reader, its schema and its checks without a panic;
//! one that passes all three becomes an entry that the ledger's own check accepts.
#![no_main]
use disclosure_ledger::body;
use disclosure_ledger::imports::ImportRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = body::value(data, "records[0]") else { return };
    let Ok(record) = body::typed::<ImportRecord>(v, "records[0]") else { return };
    if record.check(0).is_empty() {
        let entry = record.entry();
        let value = serde_json::Value::Object(entry.public.clone());
        let bytes = disclosure_ledger::ledger::entry::canonicalize(&value).expect("an accepted record canonicalises");
        assert!(disclosure_ledger::ledger::canonical_check::is_canonical(&bytes), "an accepted record is I-JSON");
    }
});
