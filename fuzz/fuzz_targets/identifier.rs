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
                    // A value long enough to be somebody's, with a digit (so not one of the
                    // message's own words), never appears in the message.
                    let t = text.trim();
                    if t.len() >= 6 && t.chars().any(|c| c.is_ascii_digit()) {
                        assert!(!e.to_string().contains(t), "error echoes the value");
                    }
                }
            }
        }
    }
});
