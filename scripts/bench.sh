#!/usr/bin/env bash
# Runs the benchmarks (several minutes); each prints its baseline from the same run.
# Copy the table into docs/benchmarks.md with the machine and date.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo bench -p wijkverkenner-core --bench store
