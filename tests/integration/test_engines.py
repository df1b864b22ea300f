"""test_engines.py — the same Linux guest and workload under `--engine interp` and
`--engine jit` must produce the same output: the boot console (with printk timestamps and the
few lines that report measured time removed) and a set of deterministic commands (hashes of
generated data, compression, sorting, floating point, the CPU flags). Skips when the guest
isn't built. VESSEL_BOOT_TIMEOUT (seconds, default 600) bounds each wait for the ready line."""

import os
import re
import tempfile

from harness import READY_LINE, Guest, Tap, guest_present, vessel_path

WORKLOAD = [
    "yes 'vessel 0123456789abcdef' | head -c 4194304 | sha256sum",
    "head -c 1048576 /bin/busybox | gzip -c | md5sum",
    "seq 1 20000 | sort -r | md5sum",
    "seq 1 3000 | awk '{ s += $1 * $1 / 7.0; printf \"%.9g\\n\", s }' | tail -n 3",
    "i=0; n=0; while [ $i -lt 2000 ]; do n=$(( (n * 31 + i) % 1000003 )); i=$((i+1)); done; "
    "echo $n",
    "grep -m1 '^flags' /proc/cpuinfo",
    "ls /bin | md5sum",
]
# Boot lines that report measured time or wall-clock dates: they differ between any two runs.
VOLATILE = re.compile(r"sched offset|initialised in|audit\(|setting system clock|"
                      r"sched_clock: Marking stable|BogoMIPS|bogomips|Calibrat|calibration|"
                      r"tsc: |clocksource|Freeing|took \d|in \d+ ?[mu]?s|\d+ms|lpj=|"
                      r"random: crng")
STAMP = re.compile(r"^\[ *\d+\.\d+\] ")


def normalize(console):
    out = []
    for line in console.replace("\r", "").splitlines():
        line = STAMP.sub("", line).replace("\x1b[6n", "")
        if not VOLATILE.search(line):
            out.append(line)
    return sorted(out)  # asynchronous initcalls may print in either order


def run_engine(vessel, engine, t, timeout):
    log = os.path.join(tempfile.gettempdir(), f"vessel-engines-{engine}-{os.getpid()}.log")
    g = Guest(vessel, args=["--engine", engine], log_path=log)
    try:
        ready = g.wait_for(READY_LINE, timeout)
        if not t.ok(ready is not None, f"{engine}: guest reaches the ready line",
                    f"exit={g.proc.poll()} (console log {log})\n" + g.tail()):
            return None, None
        boot = bytes(g.out[:ready]).decode(errors="replace")
        g.wait_for(b"# ", 60, ready)
        g.run("stty -echo 2>/dev/null; true", 60)
        results = []
        for cmd in WORKLOAD:
            out, st = g.run(cmd, 900)
            results.append((out, st))
        g.send("poweroff\n")
        t.ok(g.wait_exit(120) == 0, f"{engine}: poweroff exits 0")
        return normalize(boot), results
    finally:
        g.kill()


def main():
    vessel = vessel_path()
    t = Tap()
    if not guest_present():
        print("1..0 # SKIP default guest not built (scripts/build-guest.sh)")
        return 0
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    boot_i, res_i = run_engine(vessel, "interp", t, timeout)
    boot_j, res_j = run_engine(vessel, "jit", t, timeout)
    if res_i is None or res_j is None:
        t.ok(False, "both engines ran the workload")
        return t.done()
    only_i = sorted(set(boot_i) - set(boot_j))
    only_j = sorted(set(boot_j) - set(boot_i))
    t.ok(not only_i and not only_j, "boot console is the same under both engines",
         "only interp:\n" + "\n".join(only_i[:20]) + "\nonly jit:\n" + "\n".join(only_j[:20]))
    for cmd, (oi, si), (oj, sj) in zip(WORKLOAD, res_i, res_j):
        t.ok(oi is not None and si == 0 and (oi, si) == (oj, sj), f"same output: {cmd[:60]}",
             f"interp ({si}): {oi!r}\njit ({sj}): {oj!r}")
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
