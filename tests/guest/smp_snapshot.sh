#!/bin/sh
# smp_snapshot.sh VESSEL SMP.ELF N — snapshot an N-vCPU machine while every CPU runs the atomic
# workload of smp.S, then restore it in a new process: the run must finish there with exact
# totals and its IPIs ("smp: ok N"). Checks that pause stops all vCPUs at instruction boundaries
# and that every CPU's state (registers, LAPIC, kvmclock) goes through a snapshot.
set -u
d=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$d"
}
trap cleanup EXIT
fail() {
    echo "smp_snapshot: $*" >&2
    for f in "$d"/out1 "$d"/err1 "$d"/out2 "$d"/err2; do
        [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }
    done
    exit 1
}
"$1" run --kernel "$2" --cpus "$3" --append "ncpu=$3 iter=4000000" --memory 64M \
    --api-sock "$d/api" --console "file:$d/out1" </dev/null >"$d/err1" 2>&1 &
pid=$!
i=0
until grep -q "all CPUs up" "$d/out1" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 1200 ] && fail "the APs never came up"
    sleep 0.1
done
sleep 1
"$1" api "$d/api" PATCH /vm '{"state": "Paused"}' || fail "pause"
"$1" api "$d/api" PUT /snapshot/create \
    "{\"snapshot_path\": \"$d/state\", \"mem_file_path\": \"$d/mem\", \"snapshot_type\": \"Full\"}" ||
    fail "snapshot"
kill "$pid"
wait "$pid" 2>/dev/null
pid=
grep -q "smp: atomics" "$d/out1" && fail "the workload ended before the snapshot (raise iter=)"
"$1" run --restore "$d/state" --console "file:$d/out2" </dev/null >"$d/err2" 2>&1 ||
    fail "the restored machine exited with an error"
cat "$d/out2"
grep -qx "smp: ok $3" "$d/out2" || fail "no 'smp: ok $3' after the restore"
