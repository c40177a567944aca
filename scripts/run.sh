#!/usr/bin/env bash
# The main job: the team server on its embedded SQLite storage (data in ./wv-data), listening
# on 127.0.0.1:8080, with Utrecht's buurt boundaries for the review pages' maps.
#
# It asks whether to add a demo team (default yes; WV_DEMO=0 or 1 answers without asking):
# three simulated phones — the real core, each with its own encrypted store — record an
# evening walk in Overvecht and sync over HTTP, and the demo lead's sign-in is printed (user
# name, password, TOTP key). A production `serve` never creates demo data.
#
# Administer the server with the same binary, e.g.
#   target/release/wijkverkenner-server team-create "Wijkteam Overvecht"
#   target/release/wijkverkenner-server member-add --team <id> --name "Sanne" --role field_worker
#   target/release/wijkverkenner-server enrol-code --member <id>
#   target/release/wijkverkenner-server web-setup --member <id> --login sanne
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo build --release -p wijkverkenner-server
listen="${WV_LISTEN:-127.0.0.1:8080}"
demo="${WV_DEMO:-}"
if [ -z "$demo" ]; then
    if [ -t 0 ]; then
        read -r -p "Add a demo team (three phones record an evening walk in Overvecht)? [Y/n] " answer
        case "$answer" in [nN]*) demo=0 ;; *) demo=1 ;; esac
    else
        demo=1
    fi
fi
args=(--data "${WV_DATA:-wv-data}" serve --listen "$listen"
      --buurten data/utrecht/buurt.geojson --wijken data/utrecht/wijk.geojson)
# Plain HTTP on this machine only: session cookies cannot be `Secure` there. Anywhere else the
# server belongs behind HTTPS (a reverse proxy), with secure cookies.
case "$listen" in 127.*|localhost:*|\[::1\]:*) args+=(--insecure-cookies) ;; esac
[ "$demo" = 1 ] && args+=(--demo)
exec target/release/wijkverkenner-server "${args[@]}"
