#!/usr/bin/env python3
"""direct.py — direct execution (docs/DIRECT.md) beside vessel's translator, QEMU TCG and the
same busybox commands run natively, in one run: the rows of bench/workloads.py (sha256sum of
64 MiB, gzip of 32 MiB, 2000 fork+exec, 512 MiB through a pipe), each monitor booted once per
run and interleaved with the others; medians of N runs. vessel-direct runs with
VESSEL_DIRECT_STATS=1, and its statistics give the costs of the mechanism in microseconds: a
hand-off (guest exit -> vessel -> guest resumed, split into the wake-up of vessel and of the
stub), the stub's mapping work per shadow page, the guest's mean native run between exits, and
counts of trapped system calls, shadow fills and governor moves.

Usage: bench/direct.py [--runs 3] [--vessel build/vessel] [--qemu qemu-system-x86_64]
                       [--only sha256,gzip,...] [--no-qemu]
"""
import argparse, os, re, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402  (Console, ROWS, native)

STATS = re.compile(rb"direct: (\d+) entries, exits: (\d+) syscall (\d+) fault (\d+) kick (\d+) "
                   rb"other; (\d+) shadow fills \((\d+) pages\).*?governor: (\d+) moves")
COSTS = re.compile(rb"per entry \(us\): wake ([\d.]+), stub mapping ([\d.]+), guest ([\d.]+), "
                   rb"exit ([\d.]+); per shadow page mapped ([\d.]+) us")


def boot(cmd, rows, timeout, env=None):
    """One boot running every row: {row: s}, {row: output}, the console bytes (with stderr)."""
    old = dict(os.environ)
    if env:
        os.environ.update(env)
    try:
        c = workloads.Console(cmd)
    finally:
        os.environ.clear()
        os.environ.update(old)
    times, outs = {}, {}
    try:
        c.wait_for(workloads.READY, timeout)
        time.sleep(0.5)
        for i, r in enumerate(rows):
            setup, timed = workloads.ROWS[r]
            fmt = dict(bb="/bin/busybox", d="/tmp")
            _, out, st = c.run(f"{i}s", "mkdir -p /tmp; " + setup.format(**fmt), timeout)
            if st != 0:
                raise RuntimeError(f"{r} setup failed ({st}): {out}")
            t, out, st = c.run(f"{i}t", timed.format(**fmt), timeout)
            if st != 0:
                raise RuntimeError(f"{r} failed ({st}): {out}")
            times[r], outs[r] = t, out
            c.run(f"{i}c", "rm -f /tmp/h /tmp/g /tmp/s", timeout)
        c.send("poweroff\n")
        c._wait4(timeout)
        time.sleep(0.2)
        return times, outs, bytes(c.out)
    except Exception:
        log = f"/tmp/vessel-bench-direct-{os.getpid()}.log"
        with open(log, "wb") as f:
            f.write(bytes(c.out))
        print(f"console of the failed boot: {log}", flush=True)
        raise
    finally:
        c.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--memory", type=int, default=512)
    ap.add_argument("--only", default="sha256,gzip,forkexec,pipe")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--no-qemu", action="store_true")
    a = ap.parse_args()
    rows = [r for r in a.only.split(",") if r]
    cache = os.environ.get("VESSEL_CACHE", os.path.expanduser("~/.cache/vessel"))
    kernel, initrd = f"{cache}/guest/vmlinuz", f"{cache}/guest/initrd.img"
    append = "console=ttyS0 panic=-1"
    base = ["run", "--kernel", kernel, "--initrd", initrd, "--append", append,
            "--memory", f"{a.memory}M"]
    cmds = {"vessel-jit": [a.vessel] + base + ["--engine", "jit", "--cpu", "host"],
            "vessel-direct": [a.vessel] + base + ["--engine", "direct", "--cpu", "host"]}
    if not a.no_qemu:
        cmds["qemu-tcg"] = [a.qemu, "-accel", "tcg", "-cpu", "qemu64", "-M", "pc", "-smp", "1",
                            "-m", str(a.memory), "-nographic", "-no-reboot", "-kernel", kernel,
                            "-initrd", initrd, "-append", append]
    names = list(cmds) + ["native"]
    res = {n: {} for n in names}
    outs, stats = {}, []
    for i in range(a.runs):
        for name in names:
            try:
                if name == "native":
                    t, o = workloads.native(rows, a.busybox)
                else:
                    env = {"VESSEL_DIRECT_STATS": "1"} if name == "vessel-direct" else None
                    t, o, con = boot(cmds[name], rows, a.timeout, env)
                    if name == "vessel-direct":
                        m, k = STATS.search(con), COSTS.search(con)
                        if m and k:
                            stats.append([int(x) for x in m.groups()] +
                                         [float(x) for x in k.groups()])
            except Exception as e:
                print(f"run {i+1} {name}: FAILED: {e}", flush=True)
                continue
            for r, v in t.items():
                res[name].setdefault(r, []).append(v)
            for r, v in o.items():
                outs.setdefault(r, {}).setdefault(v, set()).add(name)
            print(f"run {i+1} {name}: " + ", ".join(f"{r} {v:.2f}s" for r, v in t.items()),
                  flush=True)
    for r, vals in outs.items():
        if len(vals) != 1:
            print(f"OUTPUT MISMATCH on {r}: {vals}")
    print()
    print("| row | " + " | ".join(names) + " | direct/native | direct/jit | direct/qemu |")
    print("|---|" + "---|" * (len(names) + 3))
    for r in rows:
        med = {n: statistics.median(res[n][r]) if res[n].get(r) else None for n in names}
        line = [workloads.LABELS.get(r, r)]
        line += [f"{med[n]:.2f} s" if med[n] is not None else "n/a" for n in names]
        dv = med.get("vessel-direct")
        for other in ("native", "vessel-jit", "qemu-tcg"):
            o = med.get(other)
            line.append(f"{dv / o:.2f}x" if dv and o else "n/a")
        print("| " + " | ".join(line) + " |")
    if stats:
        m = [statistics.median(col) for col in zip(*stats)]
        print()
        print(f"direct, medians per boot: {m[0]:.0f} entries, {m[1]:.0f} trapped system calls, "
              f"{m[2]:.0f} faults, {m[3]:.0f} kicks, {m[5]:.0f} shadow fills ({m[6]:.0f} pages), "
              f"{m[7]:.0f} governor moves")
        print(f"hand-off {m[8] + m[11]:.1f} us (vessel woken {m[11]:.1f} us after the exit, "
              f"the stub {m[8]:.1f} us after vessel's go), stub mapping {m[12]:.2f} us per "
              f"shadow page, mean native run between exits {m[10]:.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
