//! The GeoJSON boundaries loader takes any bytes without panicking: a clear error or a
//! loaded set of buurten whose lookups never panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wijkverkenner_core::neighbourhood::fuzz_boundaries(data);
});
