//! The JPEG cleaner takes any bytes without panicking; what it accepts comes out clean: taken
//! again unchanged, with nothing left to remove, no larger than the input plus its header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wijkverkenner_core::photo::fuzz_clean(data);
});
