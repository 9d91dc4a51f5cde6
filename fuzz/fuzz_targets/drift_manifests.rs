//! Fuzz target `drift_manifests`: the checks live in tests/support/invariants.rs,
//! shared with the stable replay test (tests/fuzz_regressions.rs).
#![no_main]

#[path = "../../tests/support/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    invariants::run("drift_manifests", data);
});
