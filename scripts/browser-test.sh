#!/usr/bin/env bash
# Browser end-to-end tests of the review pages (tests/browser/run.mjs): Debian's Chromium
# driven by playwright-core, axe-core on every page, GDAL's ogrinfo on the export, a real
# phone (the core, server/examples/phone.rs) answering a lead's question. Installs Chromium and
# gdal-bin (Debian) and the npm packages (pinned in tests/browser/package-lock.json); fails
# loudly when anything is missing. Sourced by test.sh; on its own: `bash scripts/browser-test.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -n "${WV_SETUP_DONE:-}" ] || . scripts/setup.sh

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if ((${#need[@]})); then
    echo "browser: installing ${need[*]} (Debian)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
for tool in chromium ogrinfo node; do
    command -v "$tool" >/dev/null 2>&1 || { echo "browser: $tool is missing" >&2; exit 1; }
done
(cd tests/browser && npm ci --no-audit --no-fund --silent)

echo "== the bundled map library is the pinned npm package"
for f in leaflet.js leaflet.css; do
    cmp -s "tests/browser/node_modules/leaflet/dist/$f" "server/assets/leaflet/$f" \
        || { echo "browser: server/assets/leaflet/$f differs from leaflet in tests/browser/package-lock.json" >&2; exit 1; }
done
cmp -s tests/browser/node_modules/leaflet/LICENSE server/assets/leaflet/LICENSE \
    || { echo "browser: Leaflet's licence is not kept beside it" >&2; exit 1; }

echo "== the server and a phone (release), then the browser"
# The test step's targets (see kotlin-test.sh): nothing is compiled again.
cargo build --release --workspace --lib --bins --tests --examples
WV_CHROMIUM="$(command -v chromium)" node tests/browser/run.mjs
