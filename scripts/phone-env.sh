#!/usr/bin/env bash
# The phone configuration's build environment (docs/adr/0010), sourced by phone-lib.sh and
# bench.sh: fetches LibTomCrypt's released source (checksum-pinned) once, and exports what
# libsqlite3-sys and core/libtomcrypt read, and the configuration's own target directory.
# Build with `--target "$triple"` (so RUSTFLAGS stay off build scripts) and the core's
# `libtomcrypt` feature (the bindings' `phone`).
tools="${WV_TOOLS:-$HOME/.cache/wijkverkenner}"
ltc_version=1.18.2
ltc_sha256=96ad4c3b8336050993c5bc2cf6c057484f2b0f9f763448151567fbab5e767b84
ltc="$tools/libtomcrypt-$ltc_version"
# The released tarball, as Debian's archive carries it (its original, unpatched): fetched once,
# its checksum checked on every run, and the tree compiled from it unpacked afresh each time
# (a second, with the archive's file times, so nothing rebuilds when nothing changed).
mkdir -p "$tools"
tarball="$tools/libtomcrypt_$ltc_version.orig.tar.xz"
if [ ! -f "$tarball" ]; then
    curl -fsSL "http://deb.debian.org/debian/pool/main/libt/libtomcrypt/libtomcrypt_$ltc_version.orig.tar.xz" -o "$tarball.part"
    mv "$tarball.part" "$tarball"
fi
[ "$(sha256sum "$tarball" | cut -c1-64)" = "$ltc_sha256" ] || { rm -f "$tarball"; echo "phone-env: LibTomCrypt checksum mismatch (the tarball was removed)" >&2; exit 1; }
rm -rf "$ltc" && mkdir -p "$ltc" && tar -xJf "$tarball" -C "$ltc" --strip-components=1

triple=x86_64-unknown-linux-gnu
triple_env=${triple//-/_}
export WV_LIBTOMCRYPT_SRC="$ltc"
# SQLCipher's LibTomCrypt provider finds the headers through the C compiler's flags.
export "CFLAGS_$triple_env=-I$ltc/src/headers"
# SQLCipher on LibTomCrypt; the SQLite extensions libsqlite3-sys enables that the core does not
# use (full-text search, R*Tree, dbstat, soundex, extension loading) left out.
export LIBSQLITE3_FLAGS="-DSQLCIPHER_CRYPTO_LIBTOMCRYPT -USQLITE_ENABLE_FTS3 -USQLITE_ENABLE_FTS3_PARENTHESIS \
-USQLITE_ENABLE_FTS5 -USQLITE_ENABLE_RTREE -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_SOUNDEX \
-USQLITE_ENABLE_LOAD_EXTENSION -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_SHARED_CACHE"
# Its own target directory: these variables change how libsqlite3-sys is built, and the
# workspace's build (system OpenSSL, every extension) should not be rebuilt each time.
export CARGO_TARGET_DIR="$PWD/target/phone"
