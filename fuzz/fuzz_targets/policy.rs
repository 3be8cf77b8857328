//! The policy parser never panics, and a policy it accepts has every number within bounds.
#![no_main]
use disclosure_ledger::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = Policy::parse(text) {
        assert!((1..=8_784).contains(&p.deadlines.normal_hours));
        assert!((1..=8_784).contains(&p.deadlines.emergency_hours));
        assert!((0..=8_784).contains(&p.deadlines.emergency_validation_hours));
        assert!((1..=36_600).contains(&p.retention.days));
    }
});
