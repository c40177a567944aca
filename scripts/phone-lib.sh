#!/usr/bin/env bash
# Builds the phone library the way a phone gets it and checks its size budget; then runs the
# core's tests (encryption, wrong key, migrations, crash, properties) in the same configuration.
#
# The phone configuration: the bindings without the built-in HTTP client (the shells use the
# platform's), SQLCipher on LibTomCrypt compiled from its released source (no OpenSSL), the
# SQLite extensions the core does not use left out, only the time zones in .cargo/config.toml,
# one crate type, the `dist` profile (LTO, opt-level s, stripped), packed relative relocations.
# x86-64 Linux stands in for an Android ABI (no NDK can be fetched here); `cargo ndk` builds
# the same with these variables (android/README.md).
#
# WV_PHONE_LIB_MAX (bytes, default 4000000) is the budget; the build fails above it.
# --no-undefined as in the NDK: a symbol missing from the library fails the link, not the phone.
# Run by test.sh (it then runs the JVM tests against this library); on its own:
# `bash scripts/phone-lib.sh` (--no-tests skips the core's tests; `-- FILTER` passes a filter;
# --variants builds it with each lever undone, for docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -n "${WV_SETUP_DONE:-}" ] || . scripts/setup.sh

. scripts/phone-env.sh

phone_flags="-C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,--no-undefined"
if [ "${1:-}" = "--variants" ]; then
    # What each lever is worth: the phone library with one of them undone at a time, each in
    # its own target directory (a benchmark: several minutes; docs/benchmarks.md).
    variant() {  # name, then env assignments and extra cargo arguments
        local name=$1; shift
        local envs=() args=()
        for a in "$@"; do if [[ $a == *=* && $a != -* ]]; then envs+=("$a"); else args+=("$a"); fi; done
        env CARGO_TARGET_DIR="$PWD/target/phone-variants/$name" RUSTFLAGS="$phone_flags" "${envs[@]}" \
            cargo rustc --quiet -p wijkverkenner-bindings --features phone --profile dist --target "$triple" --crate-type cdylib "${args[@]}"
        printf "%-52s %10d bytes\n" "$name" "$(stat -c %s "$PWD/target/phone-variants/$name/$triple/dist/libwijkverkenner.so")"
    }
    variant "phone library (as shipped)"
    variant "+ the built-in HTTP client (ureq, rustls, ring)" --features wijkverkenner-core/http
    variant "+ every IANA time zone" CHRONO_TZ_TIMEZONE_FILTER=.
    variant "+ SQLite's unused extensions" LIBSQLITE3_FLAGS=-DSQLCIPHER_CRYPTO_LIBTOMCRYPT
    exit 0
fi

echo "== phone library: cargo rustc --profile dist --features phone --crate-type cdylib ($triple)"
# Unstripped first, to attribute its bytes; the budget is checked on the stripped file.
CARGO_PROFILE_DIST_STRIP=false RUSTFLAGS="$phone_flags" \
    cargo rustc --quiet -p wijkverkenner-bindings --features phone --profile dist --target "$triple" --crate-type cdylib
built="$CARGO_TARGET_DIR/$triple/dist/libwijkverkenner.so"
export WV_PHONE_LIB_DIR="$CARGO_TARGET_DIR/phone-lib"
mkdir -p "$WV_PHONE_LIB_DIR"
lib="$WV_PHONE_LIB_DIR/libwijkverkenner.so"
strip --strip-all -o "$lib" "$built"

# Nothing of OpenSSL, linked or loaded: no libcrypto/libssl needed, and in the unstripped
# library's whole symbol table (static code too) SQLCipher's LibTomCrypt provider and none of
# its OpenSSL one. The tools' output is captured first, so a failing tool fails the script.
dynamic=$(readelf -d "$lib")
symbols=$(nm "$built")
if grep -E 'NEEDED.*(libcrypto|libssl)' <<<"$dynamic"; then
    echo "phone-lib: the phone library needs OpenSSL" >&2; exit 1
fi
if ! grep -q ' sqlcipher_ltc_activate$' <<<"$symbols"; then
    echo "phone-lib: SQLCipher's LibTomCrypt provider is not in the phone library" >&2; exit 1
fi
if grep -E ' (sqlcipher_openssl_[a-z_]+|EVP_[A-Za-z_]+|OPENSSL_[a-z_]+)$' <<<"$symbols" | head -3 | grep .; then
    echo "phone-lib: OpenSSL code in the phone library" >&2; exit 1
fi

size=$(stat -c %s "$lib")
max=${WV_PHONE_LIB_MAX:-4000000}
[[ $max =~ ^[0-9]+$ ]] || { echo "phone-lib: WV_PHONE_LIB_MAX must be a number of bytes, not '$max'" >&2; exit 1; }
echo "phone library: $size bytes (budget $max), $(readelf -d "$lib" | grep -c NEEDED) shared libraries needed: $(readelf -d "$lib" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
# Where the bytes are: the unstripped library's symbol sizes, by the C library that defines
# them (its static archive's symbols) or the Rust crate in the symbol's path. Tables, the
# dynamic symbol table and relocations are not symbols: they are the "not attributed" line.
table=$(mktemp)
for a in sqlcipher:"SQLite + SQLCipher (C)" tomcrypt:"LibTomCrypt (C)" zstd:"zstd (C)" mimalloc:"mimalloc (C)"; do
    f=$(ls -t "$CARGO_TARGET_DIR/$triple/dist/build/"*/out/lib"${a%%:*}".a 2>/dev/null | head -1 || true)
    [ -n "$f" ] || { echo "phone-lib: no lib${a%%:*}.a in the build" >&2; exit 1; }
    nm --defined-only "$f" 2>/dev/null | awk -v owner="${a#*:}" 'NF == 3 { print owner "\t" $3 }'
done > "$table"
nm -S --size-sort --radix=d -C "$built" | awk -v total="$size" '
    FILENAME == ARGV[1] { split($0, p, "\t"); c[p[2]] = p[1]; next }
    NF >= 4 {
        sz = $2 + 0; name = $4; for (i = 5; i <= NF; i++) name = name " " $i
        if (name in c) o = c[name]
        else {
            d = name; sub(/^<+/, "", d); sub(/^(impl |dyn |&mut |&)/, "", d)
            if (d ~ /^[a-z_][a-z0-9_]*::/) { o = d; sub(/::.*/, "", o) } else o = "other"
        }
        by[o] += sz; sum += sz
    }
    END {
        for (k in by) if (by[k] >= 20000) printf "%d\t%s\n", by[k], k; else small += by[k]
        printf "%d\t%s\n", small, "(crates under 20 kB together)"
        printf "%d\t%s\n", total - sum, "not attributed (tables, relocations, headers)"
    }' "$table" - | sort -rn | awk -F'\t' 'BEGIN { printf "%-46s %10s\n", "component", "bytes" } { printf "%-46s %10d\n", $2, $1 }'
rm -f "$table"
if [ "$size" -gt "$max" ]; then
    echo "phone-lib: the phone library is $size bytes, over its budget of $max" >&2
    exit 1
fi
echo "phone library within budget"

if [ "${1:-}" != "--no-tests" ]; then
    echo "== the core's tests in the phone configuration (LibTomCrypt, no HTTP client)"
    [ "${1:-}" != "--" ] || shift
    cargo test --release -p wijkverkenner-core --no-default-features --features libtomcrypt -- "$@"
fi
