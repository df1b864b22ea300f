#!/bin/bash
# run-tests.sh — the whole test suite: a normal build runs every tier; an AddressSanitizer +
# UndefinedBehaviorSanitizer build runs every tier but the real-kernel boots (which are the same
# code paths, only longer); a clang build runs the libFuzzer harnesses for FUZZ_SECONDS each
# under ASan/UBSan. Ends with one line "N passed, N failed, N skipped" over all three.
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
FUZZ_BUILD="${FUZZ_BUILD:-build-fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
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
# libFuzzer needs clang; warnings are gcc's business in the two builds above.
if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
    CC=clang meson setup "$FUZZ_BUILD" -Dfuzzing=true -Dfuzz_seconds="$FUZZ_SECONDS" \
        -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link \
        -Dwerror=false >/dev/null || { echo "run-tests: meson setup $FUZZ_BUILD failed" >&2; exit 1; }
fi
fuzz_targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's|^|tests/fuzz/|; s|\.c$||')
ninja -C "$FUZZ_BUILD" $fuzz_targets >/dev/null || { ninja -C "$FUZZ_BUILD" $fuzz_targets; exit 1; }

status=0
meson test -C "$BUILD" --num-processes "$jobs" --print-errorlogs "$@" || status=1
meson test -C "$ASAN_BUILD" --num-processes "$jobs" --print-errorlogs --no-suite integration \
    --no-suite bench "$@" || status=1
meson test -C "$FUZZ_BUILD" --no-rebuild --num-processes "$jobs" --print-errorlogs --suite fuzz \
    || status=1

# The summary repeats each failure's name and the end of its output last, because a CI log is
# often read from its tail only.
python3 - "$BUILD" "$ASAN_BUILD" "$FUZZ_BUILD" <<'PY'
import json, sys
passed = failed = skipped = 0
failures = []
for d in sys.argv[1:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        continue
    for line in lines:
        t = json.loads(line)
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append((d, t))
for d, t in failures:
    tail = (t.get("stdout") or "").rstrip().splitlines()[-6:]
    print(f"FAILED {d}: {t.get('name')} ({t.get('result')}, {t.get('duration', 0):.0f} s)")
    for l in tail:
        print(f"    {l[:200]}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
