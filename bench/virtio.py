#!/usr/bin/env python3
"""virtio.py — paravirtual I/O throughput seen by the guest, vessel vs QEMU TCG on the same
kernel, initramfs, disk image and devices (virtio-blk on a raw 256 MiB image, virtio-net on
libslirp user networking), in one run with interleaved boots.

Each boot of each monitor measures, through the serial console of the default guest
(scripts/build-guest.sh):
  - sequential read:  dd if=/dev/vda of=/dev/null bs=1M count=256 iflag=direct
  - sequential write: dd if=/dev/zero of=/dev/vda bs=1M count=256 oflag=direct
    (busybox dd supports iflag=direct/oflag=direct: the guest page cache is bypassed, so
    every byte crosses the virtqueue)
  - TCP guest -> host: dd if=/dev/zero bs=1M count=64 | nc 10.0.2.2 PORT, into a Python
    sink on the host's loopback (libslirp maps 10.0.2.2 to it) that counts bytes from
    accept to the last byte.
Disk times are host wall time from sending the command to the guest's completion marker
(independent of the guest's clock; this busybox dd prints no rate, only record counts, which
are checked). Results: median of
N runs, ratio vessel / QEMU (above 1 means vessel is faster: these are throughputs).

Host side is not identical: QEMU opens the image with cache=none (O_DIRECT), vessel's raw
back-end goes through the host page cache. A failed boot or measurement is reported as such;
after a failed vessel boot the remaining vessel runs are skipped and QEMU's numbers still
printed.

--disk-format qcow2 converts the image to qcow2 once (qemu-img convert; writes then land in
allocated clusters), --disk-format overlay gives every boot a fresh qcow2 overlay over the raw
image (reads come through from the base, every write allocates a cluster).

Usage: bench/virtio.py [--runs 3] [--vessel build/vessel] [--timeout 600]
                       [--only vessel|qemu-tcg] [--disk-format raw|qcow2|overlay]
"""
import argparse, os, re, select, socket, statistics, subprocess, sys, threading, time

READY = b"vessel-guest: ready"
DISK_MIB = 256
NET_MIB = 64
MiB = 1 << 20


class Guest:
    """A booted monitor whose serial console is our stdin/stdout pipe."""

    def __init__(self, cmd, timeout):
        self.timeout = timeout
        self.buf = b""
        self.seq = 0
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        try:
            self._wait_for(READY, t0 + timeout)
        except Exception:
            self.close()
            raise
        self.boot_s = time.monotonic() - t0
        time.sleep(0.5)  # let the shell start

    def _wait_for(self, marker, deadline):
        """Read console output until `marker` appears; returns the output before it."""
        while True:
            at = self.buf.find(marker)
            if at >= 0:
                out = self.buf[:at]
                self.buf = self.buf[at + len(marker):]
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r in time; last output line: %s" % (
                    marker.decode(), self.last_line()))
            r, _, _ = select.select([self.p.stdout], [], [], left)
            chunk = os.read(self.p.stdout.fileno(), 65536) if r else b""
            if r and not chunk:
                raise RuntimeError("monitor exited (rc %s); last output line: %s" % (
                    self.p.poll(), self.last_line()))
            self.buf += chunk

    def last_line(self):
        lines = [l.strip() for l in self.buf.decode(errors="replace").splitlines() if l.strip()]
        return lines[-1][:160] if lines else "(none)"

    def run(self, command, timeout=None):
        """Run a shell command; returns (host seconds, output, exit status)."""
        self.seq += 1
        # the echoed command line reads DONE""_n, only the real output reads DONE_n
        marker = b"DONE_%d:" % self.seq
        line = '%s; echo DONE""_%d:$?:\n' % (command, self.seq)
        self.buf = b""
        t0 = time.monotonic()
        self.p.stdin.write(line.encode())
        self.p.stdin.flush()
        out = self._wait_for(marker, t0 + (timeout or self.timeout))
        elapsed = time.monotonic() - t0
        status = self._wait_for(b":", t0 + (timeout or self.timeout))
        return elapsed, out.decode(errors="replace"), int(status.strip() or b"-1")

    def close(self):
        try:
            if self.p.poll() is None:
                self.p.stdin.write(b"\npoweroff -f\n")
                self.p.stdin.flush()
                self.p.wait(timeout=30)
        except Exception:
            pass
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The sink's port, chosen before the boot: vessel's user network opens the host's loopback to
# the guest only on the ports given with loopback= (docs/SANDBOX.md).
SINK_PORT = free_port()


class Sink:
    """A TCP server on 127.0.0.1 that swallows `expect` bytes from one connection."""

    def __init__(self, expect, port=0):
        self.expect = expect
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(1)
        self.port = self.s.getsockname()[1]
        self.got, self.seconds = 0, None
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        c, _ = self.s.accept()
        t0 = time.monotonic()
        with c:
            while self.got < self.expect:
                d = c.recv(1 << 20)
                if not d:
                    break
                self.got += len(d)
            self.seconds = time.monotonic() - t0
        self.s.close()


def dd_complete(out, blocks):
    """busybox dd prints only its record counts: check the whole transfer happened."""
    return ("%d+0 records out" % blocks) in out


def measure(g, log):
    """All three measurements in one booted guest; MiB/s per metric (None if it failed)."""
    res = {}
    t, out, rc = g.run("dd if=/dev/vda of=/dev/null bs=1M count=%d iflag=direct" % DISK_MIB)
    ok = rc == 0 and dd_complete(out, DISK_MIB)
    res["read"] = DISK_MIB / t if ok else None
    log("read  %.2fs rc %d%s" % (t, rc, "" if ok else " FAILED: " + out.strip()[-300:]))
    t, out, rc = g.run("dd if=/dev/zero of=/dev/vda bs=1M count=%d oflag=direct" % DISK_MIB)
    ok = rc == 0 and dd_complete(out, DISK_MIB)
    res["write"] = DISK_MIB / t if ok else None
    log("write %.2fs rc %d%s" % (t, rc, "" if ok else " FAILED: " + out.strip()[-300:]))
    t, out, rc = g.run("udhcpc -i eth0 -q -n -t 5 >/dev/null 2>&1", timeout=120)
    if rc != 0:
        log("net: udhcpc failed (rc %d): %s" % (rc, out.strip()[-200:]))
        res["net"] = None
        return res
    sink = Sink(NET_MIB * MiB, SINK_PORT)
    t, out, rc = g.run("dd if=/dev/zero bs=1M count=%d 2>/dev/null | nc 10.0.2.2 %d" %
                       (NET_MIB, sink.port))
    sink.t.join(timeout=10)
    ok = sink.got == NET_MIB * MiB and sink.seconds
    res["net"] = sink.got / MiB / sink.seconds if ok else None
    log("net   %d bytes in %s s at the sink (guest command %.2fs rc %d)" %
        (sink.got, "%.2f" % sink.seconds if sink.seconds else "-", t, rc))
    return res


def make_image(path):
    """A 256 MiB raw image with non-zero contents (so reads are real reads), made once."""
    if os.path.exists(path) and os.path.getsize(path) == DISK_MIB * MiB:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    block = (bytes(range(256)) * 4096)  # 1 MiB
    with open(tmp, "wb") as f:
        for _ in range(DISK_MIB):
            f.write(block)
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds allowed for a boot, and for each measurement")
    ap.add_argument("--only", choices=["vessel", "qemu-tcg"])
    ap.add_argument("--disk-format", choices=["raw", "qcow2", "overlay"], default="raw")
    a = ap.parse_args()
    cache = os.environ.get("VESSEL_CACHE", os.path.expanduser("~/.cache/vessel"))
    kernel, initrd = f"{cache}/guest/vmlinuz", f"{cache}/guest/initrd.img"
    image = f"{cache}/bench/virtio-disk.img"  # on disk, not tmpfs: cache=none needs O_DIRECT
    make_image(image)
    raw_image, disk_fmt = image, "raw"
    if a.disk_format == "qcow2":
        image, disk_fmt = image[:-4] + ".qcow2", "qcow2"
        if not os.path.exists(image):
            subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw_image, image + ".tmp"],
                           check=True)
            os.rename(image + ".tmp", image)
    elif a.disk_format == "overlay":
        image, disk_fmt = image[:-4] + "-overlay.qcow2", "qcow2"
    append = "console=ttyS0 panic=-1"
    cmds = {
        "vessel": [a.vessel, "run", "--kernel", kernel, "--initrd", initrd, "--append", append,
                   "--memory", "512M", "--rng", "off", "--disk", image,
                   "--net", "user,loopback=%d" % SINK_PORT],
        "qemu-tcg": ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nographic",
                     "-no-reboot", "-kernel", kernel, "-initrd", initrd, "-append", append,
                     "-drive", f"file={image},if=none,id=d0,format={disk_fmt},cache=none",
                     "-device", "virtio-blk-pci,drive=d0",
                     "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"],
    }
    if a.only:
        cmds = {a.only: cmds[a.only]}
    metrics = ["read", "write", "net"]
    res = {k: {m: [] for m in metrics} for k in cmds}
    broken = {}
    for i in range(a.runs):
        for name, cmd in cmds.items():  # interleaved, so both see the same machine load
            if name in broken:
                continue
            log = lambda s: print(f"run {i+1} {name}: {s}", flush=True)
            if a.disk_format == "overlay":  # a fresh overlay each boot
                subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b",
                                os.path.basename(raw_image), "-F", "raw", image], check=True)
            try:
                g = Guest(cmd, a.timeout)
            except Exception as e:  # a failed boot is reported, not hidden
                log(f"FAILED to boot: {e}")
                broken[name] = str(e)
                continue
            try:
                log(f"booted in {g.boot_s:.1f}s")
                for m, v in measure(g, log).items():
                    if v is not None:
                        res[name][m].append(v)
            except Exception as e:
                log(f"FAILED: {e}")
            finally:
                g.close()
    labels = {"read": f"virtio-blk sequential read, O_DIRECT, {DISK_MIB} MiB, {a.disk_format} "
                      "(MiB/s)",
              "write": f"virtio-blk sequential write, O_DIRECT, {DISK_MIB} MiB, {a.disk_format} "
                       "(MiB/s)",
              "net": f"virtio-net TCP guest → host over slirp, {NET_MIB} MiB (MiB/s)"}
    med = {k: {m: statistics.median(v) if v else None for m, v in r.items()}
           for k, r in res.items()}
    print("\n| metric | vessel | QEMU TCG | ratio vessel/QEMU |")
    print("|---|---|---|---|")
    fmt = lambda x: f"{x:.1f}" if x is not None else "failed"
    for m in metrics:
        v = med.get("vessel", {}).get(m)
        q = med.get("qemu-tcg", {}).get(m)
        ratio = f"{v / q:.2f}" if v and q else "n/a"
        vs = "not run" if "vessel" not in med else fmt(v)
        qs = "not run" if "qemu-tcg" not in med else fmt(q)
        print(f"| {labels[m]} | {vs} | {qs} | {ratio} |")
    for name, why in broken.items():
        print(f"\n{name}: boot failed ({why})")
    ok = all(v is not None for r in med.values() for v in r.values()) and not broken
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
