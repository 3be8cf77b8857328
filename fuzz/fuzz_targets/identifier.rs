//! Identifier normalisation never panics, is idempotent (a normal form normalises to itself),
//! and never echoes the value in its error.
#![no_main]
use disclosure_ledger::ledger::identifier;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in [identifier::PHONE_NUMBER, identifier::IP_ADDRESS, identifier::USERNAME, identifier::USER_ID] {
        for country in [None, Some("FRA"), Some("USA"), Some("XXX")] {
            match identifier::normalize_in(kind, text, country) {
                Ok(n) => assert_eq!(identifier::normalize(kind, &n).as_deref(), Ok(n.as_str()), "{kind}"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(text.len() < 4 || !msg.contains(text.trim()), "error echoes the value");
                }
            }
        }
    }
});
