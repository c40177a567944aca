#!/usr/bin/env bash
# The Android app: its resources linked with aapt2 (with osmdroid's), every app file compiled
# against the framework jar (android-all), and its screens run on the JVM with Robolectric
# against the real Rust library (JNA) and a real team server process.
# Needs the Kotlin library compiled by scripts/kotlin-test.sh (it runs that first when not).
# Fetches Robolectric, osmdroid and the instrumented framework from Maven Central (mvn), aapt2
# and the framework resources from Debian; fails loudly.
# Sourced by test.sh; on its own: `bash scripts/android-test.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -n "${WV_SETUP_DONE:-}" ] || . scripts/setup.sh

tools="${WV_TOOLS:-$HOME/.cache/wijkverkenner}"
kotlin="$tools/kotlin/node_modules/kotlin-compiler"
lib_out=target/kotlin
if [ ! -d "$lib_out/main/nl/wijkverkenner/android" ] || [ ! -x "$kotlin/bin/kotlinc" ]; then
    echo "android: the Kotlin library is not compiled yet; running scripts/kotlin-test.sh" >&2
    WV_SETUP_DONE=1 bash scripts/kotlin-test.sh
fi
need=()
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v aapt2 >/dev/null 2>&1 || need+=(aapt)
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v zip >/dev/null 2>&1 || need+=(zip)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

robo="$tools/robolectric"
# The tests run on Android 14 (SDK 34), one on Android 8 (SDK 26, the app's minimum);
# Robolectric reads the app's resources with the newest framework it knows (SDK 35).
sdks=(14-robolectric-10818077-i7 8.0.0_r4-robolectric-r1-i7 15-robolectric-12650502-i7)
have_sdks=1
for v in "${sdks[@]}"; do [ -f "$robo/sdk/android-all-instrumented-$v.jar" ] || have_sdks=0; done
if [ ! -f "$robo/jars/.complete" ] || [ "$have_sdks" = 0 ]; then
    echo "android: fetching Robolectric 4.14.1, osmdroid 6.1.20 and the Android 8, 14 and 15 frameworks from Maven Central" >&2
    rm -rf "$robo" && mkdir -p "$robo/jars" "$robo/sdk"
    mvn -q -B -Dstyle.color=never -f android/robolectric/pom.xml dependency:copy-dependencies -DoutputDirectory="$robo/jars"
    for v in "${sdks[@]}"; do
        mvn -q -B -Dstyle.color=never -f android/robolectric/pom.xml dependency:copy \
            -Dartifact="org.robolectric:android-all-instrumented:$v" -DoutputDirectory="$robo/sdk"
    done
    mvn -q -B -Dstyle.color=never -f android/robolectric/pom.xml dependency:copy \
        -Dartifact=org.robolectric:android-all:14-robolectric-10818077 -DoutputDirectory="$robo/jars-compile"
    # An aar is a zip: its classes, and (osmdroid) resources the app links with.
    for aar in "$robo"/jars/*.aar; do
        name=$(basename "$aar" .aar)
        mkdir -p "$robo/aar/$name"
        unzip -q -o "$aar" -d "$robo/aar/$name"
        mv "$robo/aar/$name/classes.jar" "$robo/jars/$name.jar"
        rm "$aar"
    done
    touch "$robo/jars/.complete"
fi
for v in "${sdks[@]}"; do
    [ -f "$robo/sdk/android-all-instrumented-$v.jar" ] || { echo "android: the instrumented framework $v is missing" >&2; exit 1; }
done
android_all=$(ls "$robo"/jars-compile/android-all-*.jar)
osm_res=$(ls -d "$robo"/aar/osmdroid-android-*/res)

out=target/android
rm -rf "$out" && mkdir -p "$out/res" "$out/r" "$out/r-classes" "$out/app" "$out/test" "$out/config/com/android/tools" "$out/assets"

echo "== android: resources (aapt2, with osmdroid's), the app compiled against android-all 14"
# The manifest as the Gradle build would merge it: minSdk and targetSdk from build.gradle.kts.
sed 's|<application|<uses-sdk android:minSdkVersion="26" android:targetSdkVersion="35" />\n    <application|' \
    android/app/src/main/AndroidManifest.xml > "$out/AndroidManifest.xml"
# The framework's resources to link against: Android 14's, from the android-all jar (Debian's
# framework-res.apk is too old to know attributes such as android:dataExtractionRules).
mkdir -p "$out/framework"
unzip -q -o "$android_all" AndroidManifest.xml resources.arsc -d "$out/framework"
(cd "$out/framework" && zip -q -0 framework-res.apk AndroidManifest.xml resources.arsc)
aapt2 compile --dir android/app/src/main/res -o "$out/res/app.zip"
aapt2 compile --dir "$osm_res" -o "$out/res/osmdroid.zip"
aapt2 link -o "$out/app.ap_" -I "$out/framework/framework-res.apk" \
    --manifest "$out/AndroidManifest.xml" --java "$out/r" --extra-packages org.osmdroid.library \
    --auto-add-overlay -R "$out/res/osmdroid.zip" -R "$out/res/app.zip"
[ -f "$out/r/nl/wijkverkenner/app/R.java" ] || { echo "android: aapt2 made no R class" >&2; exit 1; }
javac -nowarn -d "$out/r-classes" $(find "$out/r" -name R.java)

jars=$(find "$robo/jars" -name '*.jar' | sort | tr '\n' ':')
cp_lib="$lib_out/main:$lib_out/ffi:$tools/jars/jna-5.14.0.jar:$kotlin/lib/kotlinx-coroutines-core-jvm.jar"
"$kotlin/bin/kotlinc" -Werror -jvm-target 17 -cp "$android_all:$out/r-classes:$cp_lib:$jars" -d "$out/app" \
    $(find android/app/src/main/kotlin -name '*.kt')
[ -f "$out/app/nl/wijkverkenner/app/MainActivity.class" ] || { echo "android: the app did not compile" >&2; exit 1; }
echo "android: $(find android/app/src/main/kotlin -name '*.kt' | wc -l) app files compile against android-all 14"

echo "== android: the screens with Robolectric, against the real library and a real team server"
"$kotlin/bin/kotlinc" -Werror -jvm-target 17 -cp "$out/app:$android_all:$out/r-classes:$cp_lib:$jars" -d "$out/test" \
    $(find android/app/src/test/kotlin -name '*.kt')
cat > "$out/config/com/android/tools/test_config.properties" <<PROPS
android_merged_manifest=$PWD/$out/AndroidManifest.xml
android_merged_assets=$PWD/$out/assets
android_resource_apk=$PWD/$out/app.ap_
android_custom_package=nl.wijkverkenner.app
PROPS
echo "sdk=34" > "$out/config/robolectric.properties"
# The library as a phone gets it (scripts/phone-lib.sh) when test.sh built it; else this build's.
jna_dir="${WV_PHONE_LIB_DIR:-$PWD/target/release}"
echo "== Robolectric against $jna_dir/libwijkverkenner.so"
tests=$(cd "$out/test" && find . -name '*Test.class' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
log=$(mktemp)
set +e
# --add-opens: android-all's libcore closes a ParcelFileDescriptor (a content provider's file)
# through FileDescriptor's private field, as the platform may and a JDK module does not.
java -Xmx2g --add-opens java.base/java.io=ALL-UNNAMED -Drobolectric.offline=true -Drobolectric.dependency.dir="$robo/sdk" \
    -Djna.library.path="$jna_dir" -Dwv.server="$PWD/target/release/wijkverkenner-server" \
    -cp "$out/test:$out/app:$out/r-classes:$out/config:$cp_lib:$kotlin/lib/kotlin-stdlib.jar:$jars:$android_all" \
    org.junit.runner.JUnitCore $tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -q "^OK (" "$log"; then
    android_passed=$(sed -n 's/^OK (\([0-9]*\) tests*)/\1/p' "$log"); android_failed=0
else
    run=$(sed -n 's/^Tests run: \([0-9]*\),.*/\1/p' "$log"); android_failed=$(sed -n 's/.*Failures: \([0-9]*\).*/\1/p' "$log")
    android_passed=$(( ${run:-0} - ${android_failed:-0} ))
fi
rm -f "$log"
echo "android: ${android_passed:-0} passed, ${android_failed:-1} failed"
[ "$status" -eq 0 ] || { echo "android: Robolectric tests failed" >&2; exit 1; }
