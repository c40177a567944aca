//! LibTomCrypt for SQLCipher in the phone library (docs/adr/0010).
//!
//! No Rust API: the crate exists to compile the parts of LibTomCrypt that SQLCipher's
//! `libtomcrypt` provider calls (AES, CBC, SHA-1/256/512, HMAC, PBKDF2, Fortuna) from the
//! release's source and to link them. The core names it (`use … as _`) in the phone
//! configuration so that the linker keeps it.
#![no_std]
