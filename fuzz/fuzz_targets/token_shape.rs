//! The token shape check that runs before any key is chosen never panics on any string.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = disclosure_ledger::auth::check_shape(text);
    }
});
