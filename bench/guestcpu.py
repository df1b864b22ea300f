#!/usr/bin/env python3
"""guestcpu.py — host CPU time vessel spends on kernel-heavy guest workloads, per build and
kernel command line: what a CPU feature the guest kernel turns on (SMAP, PCID) costs, measured
by switching it off with the kernel's own switch (nosmap, nopcid) or against another build.

Each configuration NAME=VESSEL[:KERNEL-ARGS] boots the default guest once per workload and run
(configurations interleaved within a run, so all see the same machine load); the figure is the
vessel process's user + system CPU time (/proc/PID/stat) over the timed command, which moves
less than wall time on a shared machine. Workloads: 1000 fork+exec of /bin/busybox true, and
256 MiB through a pipe (dd | cat | wc -c), each a context switch and user-copy mill.

Usage: bench/guestcpu.py [--runs 3] NAME=VESSEL[:ARGS] ...
  e.g. bench/guestcpu.py base=/tmp/base/vessel cur=build/vessel nosmap=build/vessel:nosmap
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Guest, guest_files, guest_present  # noqa: E402

WORK = {
    "forkexec": "i=0; while [ $i -lt 1000 ]; do /bin/busybox true; i=$((i+1)); done; echo $i",
    "pipe": "dd if=/dev/zero bs=65536 count=4096 2>/dev/null | cat | wc -c",
}


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(vessel, args, work, timeout):
    f = guest_files()
    extra = ["--append", "console=ttyS0 panic=-1 " + args] if args else []
    g = Guest(vessel, ["--engine", "jit", "--kernel", f["vmlinuz"], "--initrd", f["initrd.img"],
                       "--memory", "512M"] + extra)
    try:
        if g.to_shell(timeout) is None:
            sys.exit(f"guestcpu: {vessel} {args}: no ready line\n{g.tail()}")
        c0, t0 = cpu_seconds(g.proc.pid), time.monotonic()
        out, st = g.run(WORK[work], timeout)
        c1, t1 = cpu_seconds(g.proc.pid), time.monotonic()
        if st != 0:
            sys.exit(f"guestcpu: {work} failed under {vessel} {args}: {out}")
        return c1 - c0, t1 - t0, (out or "").strip().splitlines()[-1]
    finally:
        g.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("configs", nargs="+", help="NAME=VESSEL[:KERNEL-ARGS]")
    a = ap.parse_args()
    if not guest_present():
        sys.exit("guestcpu: the default guest is not built (scripts/build-guest.sh)")
    configs = []
    for spec in a.configs:
        name, rest = spec.split("=", 1)
        vessel, _, args = rest.partition(":")
        configs.append((name, vessel, args))
    cpu, outs = {}, {}
    for r in range(a.runs):
        for name, vessel, args in configs:
            for w in WORK:
                c, t, out = one(vessel, args, w, a.timeout)
                cpu.setdefault((name, w), []).append(c)
                outs.setdefault(w, set()).add(out)
                print(f"run {r + 1} {name} {w}: cpu {c:.2f} s, wall {t:.2f} s", flush=True)
    print(f"\nMedian vessel CPU seconds (user + system) of {a.runs} interleaved runs (min-max):\n")
    print("| workload | " + " | ".join(n for n, _, _ in configs) + " |")
    print("|---|" + "---|" * len(configs))
    for w in WORK:
        cells = []
        for name, _, _ in configs:
            v = cpu[(name, w)]
            cells.append(f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})")
        print(f"| {w} | " + " | ".join(cells) + " |")
    same = all(len(v) == 1 for v in outs.values())
    print("\noutputs " + ("equal" if same else "DIFFER") + ": " +
          ", ".join(f"{w}={sorted(v)}" for w, v in outs.items()))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
