#!/bin/sh
# smp_run.sh VESSEL SMP.ELF N — boot the bare-metal SMP test (smp.S) on the whole board with N
# vCPUs (one host thread each) and check that it reported "smp: ok N" on COM1 and powered off.
# The engine comes from VESSEL_ENGINE, as for every guest test.
set -u
out=$("$1" run --kernel "$2" --cpus "$3" --append "ncpu=$3" --memory 64M 2>&1)
rc=$?
printf '%s\n' "$out"
if [ $rc -ne 0 ]; then
    echo "smp_run: vessel exited with status $rc" >&2
    exit 1
fi
if ! printf '%s\n' "$out" | grep -qx "smp: ok $3"; then
    echo "smp_run: no 'smp: ok $3' line" >&2
    exit 1
fi
