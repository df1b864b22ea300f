#!/bin/bash
# run-tests.sh — the whole test suite: a normal build runs every tier; an AddressSanitizer +
# UndefinedBehaviorSanitizer build runs every tier but the real-kernel boots (which are the same
# code paths, only longer). Ends with one line "N passed, N failed, N skipped" over both builds.
# Usage: scripts/run-tests.sh [meson test args...]
set -uo pipefail
cd "$(dirname "$0")/.."

export VESSEL_CACHE="${VESSEL_CACHE:-$HOME/.cache/vessel}"
export VESSEL_KERNEL="${VESSEL_KERNEL:-$VESSEL_CACHE/guest/vmlinuz}"
export VESSEL_INITRD="${VESSEL_INITRD:-$VESSEL_CACHE/guest/initrd.img}"
export VESSEL_VMLINUX="${VESSEL_VMLINUX:-$VESSEL_CACHE/guest/vmlinux}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"

BUILD="${BUILD:-build}"
ASAN_BUILD="${ASAN_BUILD:-build-asan}"
jobs="$(nproc)"

configure() { # dir [meson options]
    local dir="$1"; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >/dev/null || { echo "run-tests: meson setup $dir failed" >&2; exit 1; }
    fi
    ninja -C "$dir" >/dev/null || { ninja -C "$dir"; echo "run-tests: build $dir failed" >&2; exit 1; }
}

configure "$BUILD"
configure "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false

status=0
meson test -C "$BUILD" --num-processes "$jobs" --print-errorlogs "$@" || status=1
meson test -C "$ASAN_BUILD" --num-processes "$jobs" --print-errorlogs --no-suite integration \
    --no-suite bench "$@" || status=1

python3 - "$BUILD" "$ASAN_BUILD" <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
