#!/usr/bin/env python3
"""balloon.py — how fast the guest's stock virtio_balloon driver hands memory to the host
through vessel's balloon, and takes it back.

One boot of the default guest (scripts/build-guest.sh) with --balloon control=FILE; the guest
first touches most of its RAM (dd into tmpfs, then rm) so that inflation really returns
resident pages. Each cycle writes a balloon size into the control file, sends SIGUSR2 and polls
vessel's memory report (SIGUSR2 again, every 50 ms) until the guest's `actual` reaches it:
inflate to SIZE, then deflate to 0. Reported: MiB/s (median of N cycles) and vessel's RSS
before and after inflating. The rate includes the report polling (at most 50 ms + the guest's
answer to the statistics request per sample).

Usage: bench/balloon.py [--vessel build/vessel] [--memory 1G] [--size 512M] [--cycles 3]
"""
import argparse, os, re, signal, statistics, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import READY_LINE, Guest  # noqa: E402

MiB = 1 << 20


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KMG]?)", s)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def report(g):
    start = len(g.err)
    g.proc.send_signal(signal.SIGUSR2)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        m = re.search(rb"vessel: memory:(.*)\n", bytes(g.err[start:]))
        if m:
            return dict(kv.split("=", 1) for kv in m.group(1).decode().split())
        time.sleep(0.005)
    return {}


def rss(g):
    with open(f"/proc/{g.proc.pid}/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))


def resize(g, control, size):
    with open(control, "w") as f:
        f.write(f"{size}\n")
    t0 = time.monotonic()
    while report(g).get("balloon_actual") != str(size):
        if time.monotonic() - t0 > 300:
            raise SystemExit("balloon did not reach its target")
        time.sleep(0.05)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--size", default="512M")
    ap.add_argument("--cycles", type=int, default=3)
    a = ap.parse_args()
    size, mem = parse_size(a.size), parse_size(a.memory)
    control = os.path.join(tempfile.mkdtemp(), "balloon")
    with open(control, "w") as f:
        f.write("0\n")
    g = Guest(a.vessel, ["--memory", a.memory, "--balloon", f"reporting=off,control={control}"])
    try:
        if g.wait_for(READY_LINE, 600) is None:
            raise SystemExit("guest did not boot")
        g.wait_for(b"# ", 60)
        g.run("stty -echo; dmesg -n 1; mount -o remount,size=90% /tmp; true", 60)
        touch = (mem - 128 * MiB) // MiB
        inflate, deflate = [], []
        for c in range(a.cycles):
            g.run(f"dd if=/dev/zero of=/tmp/fill bs=1M count={touch} 2>/dev/null; rm /tmp/fill",
                  600)
            before = rss(g)
            ti = resize(g, control, size)
            after = rss(g)
            td = resize(g, control, 0)
            inflate.append(size / MiB / ti)
            deflate.append(size / MiB / td)
            print(f"cycle {c + 1}: inflate {size // MiB} MiB in {ti:.2f} s "
                  f"({inflate[-1]:.0f} MiB/s), RSS {before // MiB} -> {after // MiB} MiB; "
                  f"deflate in {td:.2f} s ({deflate[-1]:.0f} MiB/s)", flush=True)
        print(f"median: inflate {statistics.median(inflate):.0f} MiB/s, "
              f"deflate {statistics.median(deflate):.0f} MiB/s")
    finally:
        g.kill()


if __name__ == "__main__":
    main()
