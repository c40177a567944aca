#!/usr/bin/env bash
# Builds the bindings, generates Kotlin and Swift from the built library, compiles the Kotlin
# library (android/wijkverkenner) with the generated code using a real Kotlin 2 compiler, and
# runs its JUnit tests on the JVM against the real Rust library (JNA) and a real team server.
# Fetches the compiler (npm) and the JVM jars (Maven Central) itself; fails loudly.
# Sourced by test.sh; on its own: `bash scripts/kotlin-test.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -n "${WV_SETUP_DONE:-}" ] || . scripts/setup.sh

tools="${WV_TOOLS:-$HOME/.cache/wijkverkenner}"
mkdir -p "$tools/jars"
command -v java >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jdk-headless; }
command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
kotlin="$tools/kotlin/node_modules/kotlin-compiler"
if [ ! -x "$kotlin/bin/kotlinc" ]; then
    echo "kotlin: installing kotlin-compiler 2.4.20 from npm" >&2
    npm install --prefix "$tools/kotlin" kotlin-compiler@2.4.20 --no-audit --no-fund --silent
fi
fetch() {  # group artifact version
    local path="${1//.//}/$2/$3/$2-$3.jar" jar="$tools/jars/$2-$3.jar"
    if [ ! -s "$jar" ]; then
        curl -fsSL "https://repo1.maven.org/maven2/$path" -o "$jar.part"
        local want; want=$(curl -fsSL "https://repo1.maven.org/maven2/$path.sha1" | cut -c1-40)
        [ "$(sha1sum "$jar.part" | cut -c1-40)" = "$want" ] || { echo "kotlin: checksum mismatch for $2" >&2; exit 1; }
        mv "$jar.part" "$jar"
    fi
    echo "$jar"
}
jna=$(fetch net.java.dev.jna jna 5.14.0)
junit=$(fetch junit junit 4.13.2)
hamcrest=$(fetch org.hamcrest hamcrest-core 1.3)
coroutines="$kotlin/lib/kotlinx-coroutines-core-jvm.jar"
[ -f "$coroutines" ] || { echo "kotlin: kotlinx-coroutines missing from the compiler package" >&2; exit 1; }

echo "== bindings: build the library and the server, generate Kotlin and Swift"
# The same targets as `cargo test --workspace` (libraries, binaries, tests, examples), so cargo
# resolves the same features and reuses what the test step compiled instead of building the
# dependencies a second time with another feature set.
cargo build --release --workspace --lib --bins --tests --examples
lib=target/release/libwijkverkenner.so
gen=target/bindings
rm -rf "$gen"
target/release/uniffi-bindgen generate --library "$lib" -l kotlin -l swift -o "$gen" -n >/dev/null
[ -f "$gen/nl/wijkverkenner/ffi/wijkverkenner.kt" ] || { echo "kotlin: no Kotlin bindings generated" >&2; exit 1; }
[ -f "$gen/Wijkverkenner.swift" ] || { echo "swift: no Swift bindings generated" >&2; exit 1; }

echo "== kotlinc: the Kotlin library with the generated bindings, then its tests"
out=target/kotlin
rm -rf "$out" && mkdir -p "$out/ffi" "$out/main" "$out/test"
cp_main="$jna:$coroutines"
# The generated code as it comes (its warnings are uniffi's), then ours with -Werror.
"$kotlin/bin/kotlinc" -nowarn -jvm-target 17 -cp "$cp_main" -d "$out/ffi" "$gen/nl/wijkverkenner/ffi/wijkverkenner.kt"
[ -d "$out/ffi/nl/wijkverkenner/ffi" ] || { echo "kotlin: the generated bindings did not compile" >&2; exit 1; }
cp_main="$out/ffi:$cp_main"
"$kotlin/bin/kotlinc" -Werror -jvm-target 17 -cp "$cp_main" -d "$out/main" $(find android/wijkverkenner/src/main/kotlin -name '*.kt')
[ -d "$out/main/nl/wijkverkenner/android" ] || { echo "kotlin: the library did not compile" >&2; exit 1; }
"$kotlin/bin/kotlinc" -Werror -jvm-target 17 -cp "$out/main:$cp_main:$junit" -d "$out/test" \
    $(find android/wijkverkenner/src/test/kotlin -name '*.kt')
[ -d "$out/test/nl/wijkverkenner/android" ] || { echo "kotlin: the tests did not compile" >&2; exit 1; }

# The Android app itself (resources, compile against the framework, Robolectric) is
# scripts/android-test.sh, which builds on what this script compiled.

# The library as a phone gets it (scripts/phone-lib.sh) when test.sh built it; else this build's.
jna_dir="${WV_PHONE_LIB_DIR:-$PWD/target/release}"
echo "== JUnit on the JVM against the real library ($jna_dir/libwijkverkenner.so)"
tests=$(cd "$out/test" && find . -name '*Test.class' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
log=$(mktemp)
set +e
java -Djna.library.path="$jna_dir" -Dwv.server="$PWD/target/release/wijkverkenner-server" \
    -cp "$out/test:$out/main:$cp_main:$kotlin/lib/kotlin-stdlib.jar:$junit:$hamcrest" \
    org.junit.runner.JUnitCore $tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -q "^OK (" "$log"; then
    kotlin_passed=$(sed -n 's/^OK (\([0-9]*\) tests*)/\1/p' "$log"); kotlin_failed=0
else
    run=$(sed -n 's/^Tests run: \([0-9]*\),.*/\1/p' "$log"); kotlin_failed=$(sed -n 's/.*Failures: \([0-9]*\).*/\1/p' "$log")
    kotlin_passed=$(( ${run:-0} - ${kotlin_failed:-0} ))
fi
rm -f "$log"
if [ -n "${WV_KOTLIN_BENCH:-}" ]; then
    echo "== benchmark through the Kotlin bindings"
    mkdir -p "$out/bench"
    "$kotlin/bin/kotlinc" -Werror -jvm-target 17 -cp "$out/main:$cp_main" -d "$out/bench" \
        $(find android/wijkverkenner/src/bench/kotlin -name '*.kt')
    java -Djna.library.path="$jna_dir" -cp "$out/bench:$out/main:$cp_main:$kotlin/lib/kotlin-stdlib.jar" \
        nl.wijkverkenner.android.BindingsBenchKt "$PWD/target/release/wijkverkenner-server"
fi
echo "kotlin: ${kotlin_passed:-0} passed, ${kotlin_failed:-1} failed"
export kotlin_passed kotlin_failed
[ "$status" -eq 0 ] || { echo "kotlin: JUnit failed" >&2; exit 1; }
