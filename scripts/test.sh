#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, integration, property, crash,
# migration and encryption tests, the fuzz targets over their seeds, the team server's tests
# (conformance on SQLite and on a throwaway PostgreSQL, end to end, convergence, faults, bad input),
# the bindings: Kotlin and Swift generated, the Kotlin library compiled and tested on the JVM;
# and the review pages in Chromium (playwright-core, axe-core).
# Long fuzz and benchmark runs have their own commands (scripts/fuzz.sh, scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== PostgreSQL for the storage conformance tests"
. scripts/postgres.sh
echo "== cargo test"
# Release mode: the crash test and property tests exercise optimised code, and run faster. At
# opt-level 1, not 3: compiling every dependency at full optimisation was half of the suite's
# time on a 2-core machine (14.5 of 27 minutes, cold). The benchmarks (scripts/bench.sh) and the
# builds that ship keep the release profile as it is.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
log=$(mktemp)
cargo test --workspace --release 2>&1 | tee "$log"
echo "== the phone library: size budget, no OpenSSL, the core's tests on LibTomCrypt (scripts/phone-lib.sh)"
WV_SETUP_DONE=1 bash scripts/phone-lib.sh 2>&1 | tee -a "$log"
# The JVM and Robolectric tests load the library a phone gets, not the workspace's build.
export WV_PHONE_LIB_DIR="$PWD/target/phone/phone-lib"
echo "== Kotlin library and bindings on the JVM (scripts/kotlin-test.sh)"
WV_SETUP_DONE=1 bash scripts/kotlin-test.sh 2>&1 | tee -a "$log"
echo "== the Android app with Robolectric (scripts/android-test.sh)"
WV_SETUP_DONE=1 bash scripts/android-test.sh 2>&1 | tee -a "$log"
echo "== review pages in a browser (scripts/browser-test.sh)"
WV_SETUP_DONE=1 bash scripts/browser-test.sh 2>&1 | tee -a "$log"
# One closing line over every test binary, the JUnit run and the browser tests (cargo's last
# line is the doc tests' alone).
awk '/^test result:/ { p += $4; f += $6 } /^(kotlin|android|browser): [0-9]+ passed/ { p += $2; f += $4 }
     END { printf "%d passed, %d failed\n", p, f; if (p == 0 || f > 0) exit 1 }' "$log"
rm -f "$log"
