//! The personal-data detector takes any text without panicking; its findings lie within the
//! text, in order, and nothing structured is left after redaction.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wijkverkenner_core::personal_data::fuzz_find(data);
});
