#!/bin/bash
# run-all.sh — every benchmark, side by side with QEMU TCG where the workload allows.
# Results go to stdout as markdown tables for docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
echo "## CPU engine loops ($BUILD/cpu_loops)"
"$BUILD/bench/cpu_loops"
echo
echo "## Boot (bench/boot.py --runs 5)"
bench/boot.py --runs 5 --vessel "$BUILD/vessel" || echo "(boot.py: some runs failed, see above)"
echo
echo "## Guest workloads vs QEMU TCG and native (bench/workloads.py --runs 5)"
bench/workloads.py --runs 5 --vessel "$BUILD/vessel" --engine jit ||
    echo "(workloads.py: some runs failed or outputs differed, see above)"
echo
echo "## CPU models: x86-64-v2 (the default) beside x86-64-v3 (bench/workloads.py --runs 5 --only sha256,gzip --cpu x86-64-v2,x86-64-v3 --no-qemu)"
bench/workloads.py --runs 5 --vessel "$BUILD/vessel" --engine jit --only sha256,gzip \
    --cpu x86-64-v2,x86-64-v3 --no-qemu ||
    echo "(workloads.py --cpu: some runs failed (x86-64-v3 needs AVX2, FMA and F16C on the host), see above)"
echo
echo "## virtio I/O throughput (bench/virtio.py --runs 3)"
bench/virtio.py --runs 3 --vessel "$BUILD/vessel" || echo "(virtio.py: some runs failed, see above)"
echo
echo "## Balloon inflate/deflate (bench/balloon.py --cycles 3)"
bench/balloon.py --vessel "$BUILD/vessel" --cycles 3 || echo "(balloon.py failed, see above)"
echo
echo "## Page sharing (bench/share.py --n 1,2,4)"
bench/share.py --vessel "$BUILD/vessel" --n 1,2,4 || echo "(share.py failed, see above)"
echo
echo "## Snapshot, restore, clones, migration (bench/snapshot.py, JSON)"
bench/snapshot.py --vessel "$BUILD/vessel" --memory 512 --runs 3 --clones 10 ||
    echo "(snapshot.py failed, see above)"
echo
echo "## The sandbox's cost: --sandbox on vs off (bench/sandbox.py --runs 5)"
bench/sandbox.py --runs 5 --vessel "$BUILD/vessel" || echo "(sandbox.py failed, see above)"
