#!/usr/bin/env bash
# The main job. Until the team server exists: record one walk in a fresh encrypted store with
# the core and print its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
exec cargo run --release -p wijkverkenner-core --example demo "$@"
