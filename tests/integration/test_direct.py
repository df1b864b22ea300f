"""test_direct.py — direct execution (docs/DIRECT.md): the Debian guest booted with
`--engine direct` runs its user programs natively in vessel's stub processes and must print the
same as under `--engine jit`: hashes of generated data, compression, sorting, floating point,
pipelines (fork, exec, pipes), and direct_probe.c, a static program built here and handed to the
guest on a read-only disk: fork and copy-on-write, mprotect and munmap then access (SIGSEGV in
the guest), threads, signals interrupting FPU work, a call into the stub's system-call
instruction (a fault in the guest, nothing on the host) and an unknown system call. The stub
statistics (VESSEL_DIRECT_STATS) must show guest code really ran natively. Skips when the guest
isn't built or the host cannot run direct execution."""

import os
import re
import shutil
import subprocess
import tempfile

from harness import READY_LINE, Guest, Tap, guest_present, vessel_path

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = [
    "yes 'vessel 0123456789abcdef' | head -c 4194304 | sha256sum",
    "head -c 1048576 /bin/busybox | gzip -c | md5sum",
    "seq 1 20000 | sort -r | md5sum",
    "seq 1 3000 | awk '{ s += $1 * $1 / 7.0; printf \"%.9g\\n\", s }' | tail -n 3",
    "i=0; n=0; while [ $i -lt 2000 ]; do n=$(( (n * 31 + i) % 1000003 )); i=$((i+1)); done; "
    "echo $n",
    "ls /bin | md5sum",
    "for k in 1 2 3 4 5 6 7 8; do sh -c 'echo $$' >/dev/null; done; echo forks-ok",
]


def build_probe(tmp):
    exe = os.path.join(tmp, "direct_probe")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-static", "-O2", "-pthread", "-o", exe,
                        os.path.join(HERE, "direct_probe.c")], capture_output=True)
    if r.returncode != 0:
        return None, None
    img = os.path.join(tmp, "probe.img")
    shutil.copy(exe, img)
    with open(img, "r+b") as f:
        f.truncate((os.path.getsize(exe) + 4095) // 4096 * 4096)
    return exe, img


def run(vessel, engine, t, timeout, probe, img):
    log = os.path.join(tempfile.gettempdir(), f"vessel-direct-{engine}-{os.getpid()}.log")
    args = ["--engine", engine, "--cpu", "host"]
    if img:
        args += ["--disk", img + ",readonly"]
    g = Guest(vessel, args=args, log_path=log)
    try:
        ready = g.wait_for(READY_LINE, timeout)
        if not t.ok(ready is not None, f"{engine}: guest reaches the ready line",
                    f"exit={g.proc.poll()} (console log {log})\n" + g.tail()):
            return None, ""
        g.wait_for(b"# ", 60, ready)
        g.run("stty -echo 2>/dev/null; true", 60)
        results = []
        for cmd in WORKLOAD:
            results.append(g.run(cmd, 900))
        if probe:
            size = os.path.getsize(probe)
            g.run(f"head -c {size} /dev/vda > /tmp/probe && chmod +x /tmp/probe")
            results.append(g.run("/tmp/probe", 600))
        g.send("poweroff\n")
        t.ok(g.wait_exit(120) == 0, f"{engine}: poweroff exits 0")
        return results, bytes(g.err).decode(errors="replace")
    finally:
        g.kill()


def main():
    vessel = vessel_path()
    t = Tap()
    if not guest_present():
        print("1..0 # SKIP default guest not built (scripts/build-guest.sh)")
        return 0
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    os.environ["VESSEL_DIRECT_STATS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        probe, img = build_probe(tmp)
        res_j, _ = run(vessel, "jit", t, timeout, probe, img)
        res_d, err_d = run(vessel, "direct", t, timeout, probe, img)
    if res_j is None or res_d is None:
        t.ok(False, "both engines ran the workload")
        return t.done()
    m = re.search(r"direct: (\d+) entries, exits: (\d+) syscall (\d+) fault", err_d)
    if "user code stays translated" in err_d and not m:
        print("# this host cannot run direct execution:", err_d.strip()[-300:])
    t.ok(m is not None and int(m.group(1)) > 1000 and int(m.group(2)) > 100,
         "guest user code ran natively (stub entries and trapped system calls)", err_d[-800:])
    t.ok("the stub failed" not in err_d, "no stub failed", err_d[-800:])
    for cmd, (oj, sj), (od, sd) in zip(WORKLOAD + ["/tmp/probe"], res_j, res_d):
        t.ok(oj is not None and sj == 0 and (oj, sj) == (od, sd), f"same output: {cmd[:60]}",
             f"jit ({sj}): {oj!r}\ndirect ({sd}): {od!r}")
    if probe:
        out = res_d[-1][0] or ""
        t.ok("fork-cow: parent sees 'parent', child exit 0" in out, "fork and copy-on-write", out)
        t.ok("mprotect-ro write: signal 11" in out and "munmap read: signal 11" in out and
             "mprotect-none read: signal 11" in out,
             "mprotect and munmap then access: SIGSEGV in the guest", out)
        t.ok("stub call: signal 11" in out,
             "a jump to the stub's system-call instruction faults in the guest", out)
        t.ok("syscall 1000: -1" in out, "an unknown system call fails in the guest", out)
        t.ok(re.search(r"threads: [0-9a-f]+ 1", out) is not None, "threads agree", out)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
