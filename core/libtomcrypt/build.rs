//! Compiles the subset of LibTomCrypt that SQLCipher's provider uses.
//!
//! The source is the released LibTomCrypt 1.18.2, fetched and checked against its SHA-256 by
//! `scripts/phone-lib.sh`, which passes its directory in `WV_LIBTOMCRYPT_SRC`. Only the listed
//! directories are compiled: nothing of the public-key, DER or stream-cipher code (where the
//! library's published CVEs are) is built into the phone library.
use std::env;
use std::path::{Path, PathBuf};

/// What SQLCipher's provider (`sqlcipher_ltc_*`) reaches, and what that reaches.
const SOURCES: &[&str] = &[
    "ciphers/aes",
    "hashes/sha1.c",
    "hashes/sha2",
    "hashes/helper/hash_memory.c",
    "mac/hmac",
    "misc/crypt",
    "misc/pkcs5",
    "misc/burn_stack.c",
    "misc/compare_testvector.c",
    "misc/error_to_string.c",
    "misc/mem_neq.c",
    "misc/zeromem.c",
    "modes/cbc",
    "prngs/fortuna.c",
    "prngs/rng_get_bytes.c",
    "prngs/rng_make_prng.c",
];

fn main() {
    println!("cargo:rerun-if-env-changed=WV_LIBTOMCRYPT_SRC");
    if env::var_os("CARGO_FEATURE_LINK").is_none() {
        return; // a workspace build, not the phone configuration
    }
    let Some(root) = env::var_os("WV_LIBTOMCRYPT_SRC").map(PathBuf::from) else {
        panic!(
            "WV_LIBTOMCRYPT_SRC is not set: the phone configuration builds LibTomCrypt from its \
             source; run scripts/phone-lib.sh (it fetches and checks the source and sets it)"
        );
    };
    let src = root.join("src");
    let headers = src.join("headers");
    assert!(headers.join("tomcrypt.h").is_file(), "no LibTomCrypt source at {}", root.display());

    println!("cargo:rerun-if-changed={}", headers.display());
    let mut build = cc::Build::new();
    build.include(&headers).define("LTC_SOURCE", None).define("LTC_NO_ROLC", None).warnings(false);
    // Speed over size for the ciphers: every page written and read goes through them.
    build.opt_level(3);
    for entry in SOURCES {
        add(&mut build, &src.join(entry));
    }
    build.compile("tomcrypt");
    println!("cargo:include={}", headers.display());
}

fn add(build: &mut cc::Build, path: &Path) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for entry in entries {
            add(build, &entry);
        }
    } else if path.extension().is_some_and(|e| e == "c") {
        // aes_tab.c is #included by aes.c; tests are not part of the library.
        let name = path.file_name().unwrap().to_string_lossy();
        if name != "aes_tab.c" && !name.ends_with("_test.c") {
            println!("cargo:rerun-if-changed={}", path.display());
            build.file(path);
        }
    }
}
