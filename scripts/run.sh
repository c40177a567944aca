#!/usr/bin/env bash
# The main job: the team server on its embedded SQLite storage (data in ./wv-data), listening
# on 127.0.0.1:8080. Administer it with the same binary, e.g.
#   target/release/wijkverkenner-server team-create "Wijkteam Overvecht"
#   target/release/wijkverkenner-server member-add --team <id> --name "Sanne" --role field_worker
#   target/release/wijkverkenner-server enrol-code --member <id>
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo build --release -p wijkverkenner-server
exec target/release/wijkverkenner-server --data "${WV_DATA:-wv-data}" serve --listen "${WV_LISTEN:-127.0.0.1:8080}"
