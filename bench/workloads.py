#!/usr/bin/env python3
"""workloads.py — guest user-space workloads and boot on vessel (jit and/or interpreter) beside
QEMU TCG and the same busybox commands run natively on the host: launch -> init ready line,
sha256sum of 64 MiB, gzip -1.. of 32 MiB, 2000 fork+exec of /bin/busybox true, 512 MiB through
a pipe, launch -> exit after poweroff, and the peak RSS of a guest booted to init and powered off.

Each monitor is booted once per run and runs every row in that boot; monitors are interleaved
within a run so all of them see the same (shared, noisy) machine load; medians and min-max of N
runs are reported. Workload times are host wall time between the arrival of a start and an end
marker on the console (the guest's clock is not trusted across monitors). Input data is made in
the guest, untimed, by deterministic generators into the initramfs root (memory), and every
workload prints a digest that must be equal on all monitors and natively.

With --cpu x86-64-v2,x86-64-v3 vessel runs once per CPU model (docs/CPU-MODEL.md), a column
each (vessel-jit-x86-64-v3 ...); --no-qemu leaves QEMU out (the ratios to it are then n/a).

Usage: bench/workloads.py [--runs 5] [--vessel build/vessel] [--engine jit|interp|both]
                          [--qemu qemu-system-x86_64] [--memory 512] [--only ROWS]
                          [--cpu MODEL,...] [--no-qemu]
"""
import argparse, os, shlex, statistics, subprocess, sys, threading, time

READY = b"vessel-guest: ready"
MIB = 1 << 20

# name -> (untimed setup, timed command). Commands run in busybox sh, in the guest and natively
# ({bb} is the busybox binary, {d} a directory in memory).
ROWS = {
    # sha256 costs the same on any content: zeros are the quickest to make
    "sha256": ("dd if=/dev/zero of={d}/h bs=%d count=64 2>/dev/null" % MIB,
               "sha256sum {d}/h | cut -d' ' -f1"),
    # 36 copies of 0.9 MB of `seq` text: repeats lie beyond gzip's 32 KiB window, so the work
    # is that of 32 MiB of distinct text, and making it is quick under emulation
    "gzip": ("seq 1 150000 > {d}/s; for i in $(seq 36); do cat {d}/s; done | head -c %d > {d}/g"
             % (32 * MIB),
             "gzip -c {d}/g | sha256sum | cut -d' ' -f1"),
    "forkexec": ("true",
                 "i=0; while [ $i -lt 2000 ]; do {bb} true; i=$((i+1)); done; echo $i"),
    "pipe": ("true",
             "dd if=/dev/zero bs=65536 count=8192 2>/dev/null | cat | wc -c"),
}
LABELS = {
    "ready": "launch → init ready line",
    "sha256": "sha256sum of 64 MiB (file in memory)",
    "gzip": "gzip of 32 MiB (`seq` text, default level)",
    "forkexec": "2000 × fork+exec `/bin/busybox true`",
    "pipe": "512 MiB through a pipe (`dd | cat | wc -c`)",
    "exit": "launch → exit after poweroff (ready + 0.5 s + poweroff → exit)",
}
BOOT_ROWS = ("ready", "exit")


class Console:
    """A monitor process whose stdout bytes are timestamped on arrival by a reader thread."""

    def __init__(self, cmd):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out, self.stamps = bytearray(), []
        self.cond = threading.Condition()
        self.rusage = None
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            now = time.monotonic()
            with self.cond:
                if not chunk:
                    self.eof = now
                    self.cond.notify_all()
                    return
                self.stamps.append((len(self.out), now))
                self.out += chunk
                self.cond.notify_all()

    def wait_for(self, pat, timeout, start=0):
        """(offset just after pat, host arrival time of pat's last byte) or raises."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                i = self.out.find(pat, start)
                if i >= 0:
                    last = i + len(pat) - 1
                    t = max(ts for off, ts in self.stamps if off <= last)
                    return i + len(pat), t
                left = end - time.monotonic()
                if left <= 0 or getattr(self, "eof", None):
                    raise RuntimeError("no %r; tail: %s" %
                                       (pat, bytes(self.out[-300:]).decode(errors="replace")))
                self.cond.wait(min(left, 0.5))

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, seq, cmd, timeout):
        """Runs cmd in the guest shell: (host seconds between the markers, output, status)."""
        with self.cond:
            start = len(self.out)
        tag = f"WL{seq}"
        # The quotes keep the shell's echo of the command line from matching the markers.
        self.send(f"echo '{tag}''S'; {cmd}; echo \"{tag}E $?\"\n")
        b, tb = self.wait_for(f"{tag}S".encode(), timeout, start)
        e, te = self.wait_for(f"{tag}E ".encode(), timeout, b)
        nl, _ = self.wait_for(b"\n", 30, e)
        status = int(self.out[e:nl].strip() or b"-1")
        body = bytes(self.out[b:e - len(tag) - 2]).replace(b"\r", b"").strip().decode()
        return te - tb, body, status

    def _wait4(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                return pid, status, ru
            time.sleep(0.01)
        raise RuntimeError("did not exit after poweroff")

    def kill(self):
        if self.proc.returncode is None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def boot(cmd, rows, timeout):
    """One boot: {row: seconds}, {row: output}, peak RSS in MiB."""
    c = Console(cmd)
    times, outs = {}, {}
    try:
        _, t_ready = c.wait_for(READY, timeout)
        times["ready"] = t_ready - c.t0
        time.sleep(0.5)  # let the shell start (boot.py does the same)
        for i, r in enumerate(rows):
            setup, timed = ROWS[r]
            fmt = dict(bb="/bin/busybox", d="/tmp")
            _, out, st = c.run(f"{i}s", "mkdir -p /tmp; " + setup.format(**fmt), timeout)
            if st != 0:
                raise RuntimeError(f"{r} setup failed ({st}): {out}")
            t, out, st = c.run(f"{i}t", timed.format(**fmt), timeout)
            if st != 0:
                raise RuntimeError(f"{r} failed ({st}): {out}")
            times[r], outs[r] = t, out
            c.run(f"{i}c", "rm -f /tmp/h /tmp/g /tmp/s", timeout)
        t_off = time.monotonic()
        c.send("poweroff\n")
        _, status, ru = c._wait4(timeout)
        c.proc.returncode = status
        times["exit"] = times["ready"] + 0.5 + (time.monotonic() - t_off)
        return times, outs, ru.ru_maxrss / 1024
    finally:
        c.kill()


def native(rows, busybox):
    """The same commands run by the host's busybox sh in /dev/shm: {row: seconds}, outputs."""
    d = f"/dev/shm/vessel-bench-{os.getpid()}"
    os.makedirs(d, exist_ok=True)
    times, outs = {}, {}
    # the guest's busybox applets, not the host's coreutils: a directory of links on PATH
    bindir = f"{d}/bin"
    os.makedirs(bindir, exist_ok=True)
    for app in ("sh", "yes", "head", "sha256sum", "cut", "seq", "gzip", "true", "dd", "cat",
                "wc", "rm"):
        if not os.path.exists(f"{bindir}/{app}"):
            os.symlink(busybox, f"{bindir}/{app}")
    env = dict(os.environ, PATH=bindir)
    try:
        for r in rows:
            setup, timed = ROWS[r]
            fmt = dict(bb=busybox, d=d)
            subprocess.run([busybox, "sh", "-c", setup.format(**fmt)], check=True, env=env)
            t0 = time.monotonic()
            p = subprocess.run([busybox, "sh", "-c", timed.format(**fmt)], check=True, env=env,
                               stdout=subprocess.PIPE)
            times[r] = time.monotonic() - t0
            outs[r] = p.stdout.decode().strip()
            subprocess.run(["rm", "-f", f"{d}/h", f"{d}/g", f"{d}/s"])
    finally:
        subprocess.run(["rm", "-rf", d])
    return times, outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--engine", choices=["jit", "interp", "both"], default="jit")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--memory", type=int, default=512, help="guest memory in MiB")
    ap.add_argument("--only", default="", help="comma-separated workload rows (default all: "
                    + ",".join(ROWS) + "); boot rows are always measured")
    ap.add_argument("--busybox", default="/bin/busybox", help="host busybox for native rows")
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--cpu", default="", help="comma-separated vessel CPU models, a column each "
                    "(default: vessel's default model, no --cpu)")
    ap.add_argument("--no-qemu", action="store_true", help="leave QEMU TCG out")
    a = ap.parse_args()
    rows = [r for r in (a.only.split(",") if a.only else ROWS) if r]
    for r in rows:
        if r not in ROWS:
            ap.error(f"unknown row {r}; rows: {','.join(ROWS)}")
    cache = os.environ.get("VESSEL_CACHE", os.path.expanduser("~/.cache/vessel"))
    kernel, initrd = f"{cache}/guest/vmlinuz", f"{cache}/guest/initrd.img"
    append = "console=ttyS0 panic=-1"
    cmds = {}
    models = [m for m in a.cpu.split(",") if m] or [None]
    for eng in (["jit", "interp"] if a.engine == "both" else [a.engine]):
        for model in models:
            cmds[f"vessel-{eng}" + (f"-{model}" if model else "")] = (
                [a.vessel, "run", "--engine", eng] + (["--cpu", model] if model else []) +
                ["--kernel", kernel, "--initrd", initrd, "--append", append,
                 "--memory", f"{a.memory}M"])
    if not a.no_qemu:
        cmds["qemu-tcg"] = [a.qemu, "-accel", "tcg", "-cpu", "qemu64", "-M", "pc", "-smp", "1",
                            "-m", str(a.memory), "-nographic", "-no-reboot", "-kernel", kernel,
                            "-initrd", initrd, "-append", append]
    names = list(cmds) + ["native"]
    res = {n: {} for n in names}  # name -> row -> [seconds]
    rss = {n: [] for n in cmds}
    rss_init = {n: [] for n in cmds}
    outs = {}
    for i in range(a.runs):
        for name in names:  # interleaved, so all see the same machine load
            try:
                if name == "native":
                    t, o = native(rows, a.busybox)
                    peak = None
                else:
                    # peak RSS of a boot to init and poweroff alone, then the boot with the rows
                    rss_init[name].append(boot(cmds[name], [], a.timeout)[2])
                    t, o, peak = boot(cmds[name], rows, a.timeout)
                    rss[name].append(peak)
            except Exception as e:  # a failed run is reported, not hidden
                print(f"run {i+1} {name}: FAILED: {e}", flush=True)
                continue
            for r, v in t.items():
                res[name].setdefault(r, []).append(v)
            for r, v in o.items():
                outs.setdefault(r, {}).setdefault(v, set()).add(name)
            print(f"run {i+1} {name}: " + ", ".join(f"{r} {v:.2f}s" for r, v in t.items())
                  + (f", peak RSS {rss_init[name][-1]:.0f} MiB (init + poweroff), "
                     f"{peak:.0f} MiB (with rows)" if peak else ""), flush=True)
    ok = True
    for r, vals in outs.items():
        if len(vals) != 1:
            ok = False
            print(f"OUTPUT MISMATCH on {r}: {vals}")
    if ok:
        print("outputs equal on every monitor and natively: " +
              ", ".join(f"{r}={next(iter(v))[:16]}" for r, v in outs.items()))

    def cell(vals):
        if not vals:
            return "failed"
        m = statistics.median(vals)
        return f"{m:.2f} ({min(vals):.2f}–{max(vals):.2f})"

    vnames = [n for n in cmds if n.startswith("vessel")]
    head = ["row"] + [f"{n} s" for n in names] + [f"{v}/QEMU" for v in vnames] + \
           [f"{v}/native" for v in vnames]
    print()
    print(f"Medians of {a.runs} interleaved runs, host wall seconds (min–max in brackets).")
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    q = res.get("qemu-tcg", {})
    for r in ["ready"] + rows + ["exit"]:
        line = [LABELS[r]]
        for n in names:
            line.append("—" if (n == "native" and r in BOOT_ROWS) else cell(res[n].get(r)))
        for v in vnames:
            vv, qq = res[v].get(r), q.get(r)
            line.append(f"{statistics.median(vv) / statistics.median(qq):.2f}"
                        if vv and qq else "n/a")
        for v in vnames:
            vv, nn = res[v].get(r), res["native"].get(r)
            line.append(f"{statistics.median(vv) / statistics.median(nn):.1f}"
                        if vv and nn else "—")
        print("| " + " | ".join(line) + " |")
    for what, d in ((f"peak RSS MiB, {a.memory} MiB guest, boot to init + poweroff", rss_init),
                    ("peak RSS MiB, the boot that ran the rows above", rss)):
        line = [what]
        for n in names:
            line.append(cell(d[n]) if n in d else "—")
        for v in vnames:
            line.append(f"{statistics.median(d[v]) / statistics.median(d['qemu-tcg']):.2f}"
                        if d[v] and d.get("qemu-tcg") else "n/a")
        line += ["—"] * len(vnames)
        print("| " + " | ".join(line) + " |")
    print()
    print("Commands:")
    for n, c in cmds.items():
        print(f"- {n}: `{shlex.join(c)}`")
    print(f"- native: `{a.busybox} sh -c '…'` with the guest's commands, files in /dev/shm")
    print("- rows (guest shell; untimed setup, then timed command):")
    for r in rows:
        s, t = ROWS[r]
        print(f"  - {r}: setup `{s.format(bb='/bin/busybox', d='/tmp')}`; "
              f"timed `{t.format(bb='/bin/busybox', d='/tmp')}`")
    return 0 if ok and all(res[n] for n in names) else 1


if __name__ == "__main__":
    sys.exit(main())
