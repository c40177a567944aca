#!/usr/bin/env bash
# Fuzzes the GeoJSON boundaries loader with libFuzzer for SECONDS (default 300).
# Needs a nightly Rust toolchain; installs cargo-fuzz from crates.io if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
seconds="${1:-300}"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cd core
mkdir -p fuzz/corpus/boundaries
cargo +nightly fuzz run boundaries fuzz/corpus/boundaries fuzz/seeds/boundaries -- -max_total_time="$seconds" -max_len=65536
