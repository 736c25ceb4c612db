//! The `size` readers (YAML, JSON, watch events, Lists) on any text; every object read is
//! measured by the reference encoders and by the fast path, which must agree. Nothing may
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slicesim::input::{self, Item};
use slicesim::wire::{fast, reference};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(items) = input::read_str("fuzz.yaml", text) else {
        return;
    };
    for item in items {
        if let Item::Object { object, .. } = item
            && let Ok(sizes) = reference::sizes(&object)
        {
            assert_eq!(
                fast::sizes(&object),
                sizes,
                "fast path != reference: {object:?}"
            );
        }
    }
});
