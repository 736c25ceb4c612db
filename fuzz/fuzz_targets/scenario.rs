//! The scenario reader, validation and the resource guard on any text; small scenarios that
//! pass the guard are also simulated end to end. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slicesim::scenario::{Scenario, check_memory};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sc) = Scenario::parse("fuzz.yaml", "fuzz", text) else {
        return;
    };
    // Small enough to simulate in a few milliseconds.
    let Ok(estimate) = check_memory(&sc, 64 << 20) else {
        return;
    };
    if estimate.pod_events < 3_000.0 && estimate.buckets < 10_000.0 {
        let _ = slicesim::run::simulate(&sc);
    } else {
        let _ = slicesim::run::history_check(&sc);
    }
});
