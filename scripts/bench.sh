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
cargo bench -p wijkverkenner-core --bench store
cargo bench -p wijkverkenner-server --bench sync
cargo bench -p wijkverkenner-server --bench dashboard
WV_KOTLIN_BENCH=1 WV_SETUP_DONE=1 bash scripts/kotlin-test.sh
echo "library size per profile:"
cargo build -q --release -p wijkverkenner-bindings && cargo build -q --profile dist -p wijkverkenner-bindings
ls -l target/release/libwijkverkenner.so target/dist/libwijkverkenner.so target/release/libwijkverkenner.a target/dist/libwijkverkenner.a
