//! The sync payload decoder and validator take any bytes (plain or as zstd) without
//! panicking: a request, or a 4xx error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wijkverkenner_server::api::fuzz_payload(data);
});
