#!/usr/bin/env python3
"""integrity.py — what the integrity watch costs (docs/INTEGRITY.md): the same vessel with
`--integrity-watch off` (the default), `report` and `block`, interleaved on the same machine
load, N runs each, medians. Boot: launch to the ready line and to the end after poweroff
(bench/boot.py's measurement; the watch arms during it). Workload: one guest command timed from
the host — files, processes, a pipe, 8 MiB through dd, and a static key flipped both ways, which
makes the kernel patch its text through text_poke (the path the watch checks and accepts).

Usage: bench/integrity.py [--runs 5] [--vessel build/vessel] [--timeout 900]
"""
import argparse, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import virtio  # noqa: E402

WORKLOAD = ("find / -xdev > /dev/null 2>&1; ls -R /sys/kernel > /dev/null 2>&1; "
            "dd if=/dev/zero of=/tmp/z bs=64k count=128 2>/dev/null; rm /tmp/z; "
            "seq 50000 | sort -r | md5sum > /dev/null; "
            "for i in $(seq 50); do sh -c true; done; "
            "echo 1 > /proc/sys/kernel/sched_schedstats; echo 0 > /proc/sys/kernel/sched_schedstats")
MODES = ("off", "report", "block")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    cache = os.environ.get("VESSEL_CACHE", os.path.expanduser("~/.cache/vessel"))
    kernel, initrd = f"{cache}/guest/vmlinuz", f"{cache}/guest/initrd.img"
    base = [a.vessel, "run", "--kernel", kernel, "--initrd", initrd, "--append",
            "console=ttyS0 panic=-1", "--memory", "256M"]
    res = {m: {"ready": [], "exit": [], "work": []} for m in MODES}
    for i in range(a.runs):
        for mode in MODES:
            log = lambda s: print(f"run {i + 1} watch {mode}: {s}", flush=True)
            ready, total, rc = boot.boot_once(base + ["--integrity-watch", mode], a.timeout)
            log(f"boot ready {ready:.2f}s exit {total:.2f}s rc {rc}")
            if rc == 0:
                res[mode]["ready"].append(ready)
                res[mode]["exit"].append(total)
            g = virtio.Guest(base + ["--integrity-watch", mode], a.timeout)
            try:
                g.run("true")
                dt, out, st = g.run(WORKLOAD)
                log(f"workload {dt:.2f}s status {st}")
                if st == 0:
                    res[mode]["work"].append(dt)
            finally:
                g.close()
    labels = {"ready": "boot: launch → ready line (s)",
              "exit": "boot: launch → exit after poweroff (s)",
              "work": "workload in the guest (s)"}
    print(f"\n| metric ({a.runs} runs, median, lower is better) | off | report | block "
          "| report/off | block/off |")
    print("|---|---|---|---|---|---|")
    for m, label in labels.items():
        med = {k: statistics.median(res[k][m]) if res[k][m] else None for k in MODES}
        cells = [f"{med[k]:.2f}" if med[k] else "-" for k in MODES]
        ratios = [f"{med[k] / med['off']:.3f}" if med[k] and med["off"] else "-"
                  for k in ("report", "block")]
        print(f"| {label} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
