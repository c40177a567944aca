#!/usr/bin/env bash
# Fuzzes with libFuzzer: `bash scripts/fuzz.sh [boundaries|personal_data|jpeg|payload|all] [seconds]`
# (defaults: all, 300 s each). boundaries = the core's GeoJSON loader; personal_data = the
# core's personal-data detector and redaction; jpeg = the core's photo cleaner; payload = the server's
# sync payload decoder and validator. Needs a nightly Rust toolchain; installs cargo-fuzz from
# crates.io if it is missing. Crashes land in <crate>/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
target="${1:-all}"
seconds="${2:-300}"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
run() {  # crate-dir target
    (cd "$1" && mkdir -p "fuzz/corpus/$2" &&
        cargo +nightly fuzz run "$2" "fuzz/corpus/$2" "fuzz/seeds/$2" -- -max_total_time="$seconds" -max_len=65536)
}
case "$target" in
    boundaries) run core boundaries ;;
    personal_data) run core personal_data ;;
    jpeg) run core jpeg ;;
    payload) run server payload ;;
    all) run core boundaries && run core personal_data && run core jpeg && run server payload ;;
    *) echo "fuzz: unknown target $target (boundaries, personal_data, jpeg, payload, all)" >&2; exit 2 ;;
esac
