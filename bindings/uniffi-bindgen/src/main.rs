//! `cargo run -p uniffi-bindgen -- generate --library target/debug/libwijkverkenner.so -l kotlin -l swift -o out -n`
fn main() {
    uniffi::uniffi_bindgen_main()
}
