#!/usr/bin/env python3
"""sandbox.py — what the confined monitor costs (docs/SANDBOX.md): the same vessel with
`--sandbox on` (the default: every thread under its seccomp allow-list) and `--sandbox off`,
interleaved on the same machine load, N runs each, medians. Boot: launch to the ready line and
to the end after poweroff (bench/boot.py's measurement). I/O: virtio-blk O_DIRECT read and
write of 256 MiB and 64 MiB guest -> host TCP over slirp (bench/virtio.py's measurement).

Usage: bench/sandbox.py [--runs 5] [--vessel build/vessel] [--timeout 900]
"""
import argparse, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import virtio  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    cache = os.environ.get("VESSEL_CACHE", os.path.expanduser("~/.cache/vessel"))
    kernel, initrd = f"{cache}/guest/vmlinuz", f"{cache}/guest/initrd.img"
    image = f"{cache}/bench/virtio-disk.img"
    virtio.make_image(image)
    append = "console=ttyS0 panic=-1"
    base = [a.vessel, "run", "--kernel", kernel, "--initrd", initrd, "--append", append]
    res = {mode: {"ready": [], "exit": [], "read": [], "write": [], "net": []}
           for mode in ("on", "off")}
    for i in range(a.runs):
        for mode in ("on", "off"):
            log = lambda s: print(f"run {i + 1} sandbox {mode}: {s}", flush=True)
            ready, total, rc = boot.boot_once(base + ["--memory", "256M", "--sandbox", mode],
                                              a.timeout)
            log(f"boot ready {ready:.2f}s exit {total:.2f}s rc {rc}")
            if rc == 0:
                res[mode]["ready"].append(ready)
                res[mode]["exit"].append(total)
            g = virtio.Guest(base + ["--memory", "512M", "--rng", "off", "--disk", image,
                                     "--net", "user,loopback=%d" % virtio.SINK_PORT,
                                     "--sandbox", mode], a.timeout)
            try:
                for m, v in virtio.measure(g, log).items():
                    if v is not None:
                        res[mode][m].append(v)
            finally:
                g.close()
    labels = {"ready": "boot: launch → ready line (s, lower is better)",
              "exit": "boot: launch → exit after poweroff (s, lower is better)",
              "read": "virtio-blk sequential read, O_DIRECT, 256 MiB (MiB/s)",
              "write": "virtio-blk sequential write, O_DIRECT, 256 MiB (MiB/s)",
              "net": "virtio-net TCP guest → host over slirp, 64 MiB (MiB/s)"}
    print(f"\n| metric ({a.runs} runs, median) | sandbox on | sandbox off | on/off |")
    print("|---|---|---|---|")
    for m, label in labels.items():
        on = statistics.median(res["on"][m]) if res["on"][m] else None
        off = statistics.median(res["off"][m]) if res["off"][m] else None
        fmt = (lambda v: f"{v:.2f}") if m in ("ready", "exit") else (lambda v: f"{v:.1f}")
        ratio = f"{on / off:.3f}" if on and off else "-"
        print(f"| {label} | {fmt(on) if on else '-'} | {fmt(off) if off else '-'} | {ratio} |")


if __name__ == "__main__":
    main()
