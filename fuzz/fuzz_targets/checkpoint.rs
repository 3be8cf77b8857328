//! The checkpoint (C2SP signed note) parser and verifier never panic on any text, and accept
//! nothing but what the pinned key signed.
#![no_main]
use std::sync::OnceLock;

use disclosure_ledger::ledger::{LogSigner, LogVerifier};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static LogVerifier {
    static V: OnceLock<LogVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let signer = LogSigner::new(
            "disclosure-ledger.localhost/log",
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        )
        .unwrap();
        LogVerifier::new(&signer.verifier_key()).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = verifier().verify(text);
    let _ = LogVerifier::new(text);
});
