#!/usr/bin/env bash
# Runs the benchmarks (several minutes); each prints its baseline, peer or limit from the same
# run. Installs the PouchDB peer from npm and starts a throwaway PostgreSQL for the load test.
# Copy the tables into docs/benchmarks.md with the machine and date.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
command -v node >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
(cd server/benches/pouchdb && npm install --no-audit --no-fund --silent)
export WV_POUCHDB_DIR="$PWD/server/benches/pouchdb"
. scripts/postgres.sh
command -v strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace; }
# The store and the phones' side of sync as they ship: the phone configuration (SQLCipher on
# LibTomCrypt, docs/adr/0010); the store benchmark also in the phone's profile (dist: LTO,
# opt-level s). In subshells: the configuration has its own target directory.
(. scripts/phone-env.sh && cargo bench -p wijkverkenner-core --no-default-features --features libtomcrypt \
    --profile dist --target "$triple" --bench store)
(. scripts/phone-env.sh && cargo bench -p wijkverkenner-server --features wijkverkenner-core/libtomcrypt \
    --target "$triple" --bench sync)
# Photos: the phone's cost per photo in the phone configuration, upload against raw HTTP.
(. scripts/phone-env.sh && cargo bench -p wijkverkenner-server --features wijkverkenner-core/libtomcrypt \
    --target "$triple" --bench photos)
cargo bench -p wijkverkenner-server --bench dashboard
# The release server alone on one core against pouchdb-server under the same burst (taskset).
cargo bench -p wijkverkenner-server --bench load
WV_KOTLIN_BENCH=1 WV_SETUP_DONE=1 bash scripts/kotlin-test.sh
echo "the phone library's size, and what each lever is worth:"
WV_SETUP_DONE=1 bash scripts/phone-lib.sh --no-tests
WV_SETUP_DONE=1 bash scripts/phone-lib.sh --variants
