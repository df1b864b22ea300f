#!/usr/bin/env python3
"""boot.py — host wall time from launch to the guest's init ready line, and to the end of the
process after `poweroff`, for vessel and QEMU TCG on the same kernel and initramfs, in one run.
Reports the median of N runs of each and the ratio vessel / QEMU.

Usage: bench/boot.py [--runs 5] [--vessel build/vessel] [--timeout 900]
"""
import argparse, os, select, statistics, subprocess, sys, time

READY = b"vessel-guest: ready"


def boot_once(cmd, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf, t_ready = b"", None
    try:
        while True:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise TimeoutError("no ready line")
            r, _, _ = select.select([p.stdout], [], [], left)
            chunk = os.read(p.stdout.fileno(), 65536) if r else b""
            if not chunk:
                raise RuntimeError("exited before ready: " + buf[-500:].decode(errors="replace"))
            buf += chunk
            if t_ready is None and READY in buf:
                t_ready = time.monotonic() - t0
                # let the shell start before asking it to power off
                time.sleep(0.5)
                p.stdin.write(b"\npoweroff\n")
                p.stdin.flush()
                break
        while os.read(p.stdout.fileno(), 65536):
            pass
        p.wait(timeout=max(1, timeout - (time.monotonic() - t0)))
        return t_ready, time.monotonic() - t0, p.returncode
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    cache = os.environ.get("VESSEL_CACHE", os.path.expanduser("~/.cache/vessel"))
    kernel, initrd = f"{cache}/guest/vmlinuz", f"{cache}/guest/initrd.img"
    append = "console=ttyS0 panic=-1"
    cmds = {
        "vessel": [a.vessel, "run", "--kernel", kernel, "--initrd", initrd, "--append", append,
                   "--memory", "256M"],
        "qemu-tcg": ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nographic",
                     "-no-reboot", "-kernel", kernel, "-initrd", initrd, "-append", append],
    }
    res = {k: [] for k in cmds}
    for i in range(a.runs):
        for name, cmd in cmds.items():  # interleaved, so both see the same machine load
            try:
                ready, total, rc = boot_once(cmd, a.timeout)
                res[name].append((ready, total))
                print(f"run {i+1} {name}: ready {ready:.2f}s, poweroff {total:.2f}s, rc {rc}",
                      flush=True)
            except Exception as e:  # a failed run is reported, not hidden
                print(f"run {i+1} {name}: FAILED: {e}", flush=True)
    med = {}
    for name, runs in res.items():
        if runs:
            med[name] = (statistics.median(r[0] for r in runs),
                         statistics.median(r[1] for r in runs))
    print("\n| metric | vessel | QEMU TCG | ratio vessel/QEMU |")
    print("|---|---|---|---|")
    for idx, metric in enumerate(["launch → ready line (s)", "launch → exit after poweroff (s)"]):
        v = med.get("vessel", (None, None))[idx]
        q = med.get("qemu-tcg", (None, None))[idx]
        fmt = lambda x: f"{x:.2f}" if x is not None else "failed"
        ratio = f"{v / q:.2f}" if v and q else "n/a"
        print(f"| {metric} | {fmt(v)} | {fmt(q)} | {ratio} |")
    return 0 if len(med) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
