#!/usr/bin/env python3
"""smp.py — parallel throughput with several vCPUs (docs/SMP.md, issue #12): N busybox
sha256sum processes over one 64 MiB file in memory, at once, in the Debian guest on vessel
--cpus 1 and --cpus N (the translator) beside QEMU TCG -smp 1 and -smp N (MTTCG, qemu's default
for TCG with several CPUs on an x86-64 host). The same kernel, initramfs and command line.

Reported per monitor: the online CPU count the guest saw (/proc/cpuinfo), the median wall time
of the N processes (host time between console markers, as bench/workloads.py), and the speed-up
of N vCPUs over 1 vCPU of the same monitor. Every run's digests must all equal one reference.
While Linux cannot start vessel's APs (docs/SMP.md: the 32-bit trampoline) the vessel --cpus N
guest runs on one CPU and the speed-up is about 1; the row says how many CPUs were online.

Usage: bench/smp.py [--runs 3] [--cpus 2] [--vessel build/vessel] [--qemu qemu-system-x86_64]
                    [--memory 512] [--no-qemu]
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import READY, Console  # noqa: E402

SETUP = "mkdir -p /tmp && dd if=/dev/zero of=/tmp/h bs=1048576 count=64 2>/dev/null"
REF = "sha256sum /tmp/h | cut -d' ' -f1"


def one(cmd, n, timeout):
    """One boot: (online CPUs, seconds for n parallel sha256sum, ok)."""
    c = Console(cmd)
    try:
        c.wait_for(READY, timeout)
        _, out, st = c.run("c", "grep -c ^processor /proc/cpuinfo", timeout)
        online = int(out.split()[-1]) if st == 0 and out else 0
        _, out, st = c.run("s", SETUP, timeout)
        _, ref, st2 = c.run("r", REF, timeout)
        par = (f"for k in $(seq {n}); do sha256sum /tmp/h > /tmp/s.$k & done; wait; "
               "cut -d' ' -f1 /tmp/s.* | sort | uniq -c")
        t, out, st3 = c.run("p", par, timeout)
        ok = st == 0 and st2 == 0 and st3 == 0 and out.split() == [str(n), ref.strip()]
        c.send("poweroff\n")
        return online, t, ok
    finally:
        c.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--memory", type=int, default=512)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--no-qemu", action="store_true")
    a = ap.parse_args()
    cache = os.environ.get("VESSEL_CACHE", os.path.expanduser("~/.cache/vessel"))
    kernel, initrd = f"{cache}/guest/vmlinuz", f"{cache}/guest/initrd.img"
    append = "console=ttyS0 panic=-1"
    n = a.cpus
    cmds = {}
    for k in (1, n):
        cmds[f"vessel --cpus {k}"] = [a.vessel, "run", "--memory", f"{a.memory}M", "--cpus",
                                      str(k), "--kernel", kernel, "--initrd", initrd,
                                      "--append", append]
        if not a.no_qemu:
            cmds[f"qemu-tcg -smp {k}"] = [a.qemu, "-accel", "tcg", "-cpu", "qemu64", "-M", "pc",
                                          "-smp", str(k), "-m", str(a.memory), "-nographic",
                                          "-no-reboot", "-kernel", kernel, "-initrd", initrd,
                                          "-append", append]
    res = {name: [] for name in cmds}
    online = {}
    for run in range(a.runs):
        for name, cmd in cmds.items():  # interleaved: every monitor sees the same load
            on, t, ok = one(cmd, n, a.timeout)
            if not ok:
                sys.exit(f"{name}: the digests differ or a command failed")
            online[name] = on
            res[name].append(t)
            print(f"run {run + 1} {name}: {on} CPU(s) online, {n} x sha256sum {t:.2f} s",
                  file=sys.stderr)
    print(f"| monitor | CPUs online | {n} × sha256sum of 64 MiB (median s, min-max) | "
          f"speed-up over 1 vCPU |")
    print("|---|---|---|---|")
    for name in cmds:
        base = name.rsplit(" ", 1)[0] + " 1"
        med = statistics.median(res[name])
        sp = statistics.median(res[base]) / med if base in res else float("nan")
        print(f"| {name} | {online[name]} | {med:.2f} ({min(res[name]):.2f}-{max(res[name]):.2f})"
              f" | {sp:.2f} |")


if __name__ == "__main__":
    main()
