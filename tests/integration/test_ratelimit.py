"""test_ratelimit.py — Firecracker-style rate limits on virtio-blk and virtio-net, measured in
the guest (docs/SANDBOX.md, "Rate limits"):
- a disk's bandwidth limit set on the command line and changed twice through
  PATCH /drives/{id}: `dd iflag=direct` in the guest reads at the configured rate, within 10%,
  for three limits; an operations limit the same way (4 KiB reads per second);
- an unlimited disk beside the throttled one reads as fast as it does alone (at least half
  its solo rate, and ten times the neighbour's limit), while the neighbour's dd runs;
- the NIC's transmit limit from the command line and its receive limit set through
  PATCH /network-interfaces/{id}: `nc` to and from a server on the host's loopback moves TCP
  payload at the configured frame rate within 10% (payload is ~96% of a full frame);
- PATCH on a drive that does not exist is a 400.
The configured rate of a bucket is size / refill_time; refill_time is 100 ms here so the initial
full bucket adds only 0.1 s worth of tokens to a 4 s transfer."""

import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time

import apiclient
from harness import READY_LINE, Guest, Tap, guest_files, guest_present, vessel_path

TIMEOUT = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "300"))
SECONDS = 4  # each measured transfer lasts about this long
REFILL = 100  # ms


def guest_seconds(out):
    """busybox time's 'real\t0m 4.16s' -> 4.16"""
    m = re.search(r"real\s+(\d+)m\s*([\d.]+)s", out or "")
    return int(m.group(1)) * 60 + float(m.group(2)) if m else None


def within(measured, limit, tol=0.10):
    return abs(measured - limit) <= tol * limit


def bucket(rate_per_s):
    """A TokenBucket giving rate_per_s: size per REFILL ms."""
    return {"size": int(rate_per_s * REFILL / 1000), "refill_time": REFILL}


def dd_rate(g, dev, bs, count, skip):
    out, st = g.run(f"time dd if={dev} of=/dev/null bs={bs} count={count} skip={skip} "
                    f"iflag=direct 2>&1", 300)
    s = guest_seconds(out)
    return (bs * count / s if s else None), out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One TCP connection on the host's loopback: receive until EOF (timestamps of each chunk)
    or send n bytes."""

    def __init__(self, port, send_bytes=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.marks = []
        self.send_bytes = send_bytes
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(120)
        c, _ = self.sock.accept()
        with c:
            if self.send_bytes:
                buf, sent = b"v" * 65536, 0
                while sent < self.send_bytes:
                    c.sendall(buf)
                    sent += len(buf)
                return
            got = 0
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += len(d)
                self.marks.append((time.monotonic(), got))
        self.sock.close()

    def steady_rate(self):
        """Bytes per second after the first second (the initial full bucket spent)."""
        if len(self.marks) < 2:
            return None
        t0 = self.marks[0][0]
        later = [m for m in self.marks if m[0] >= t0 + 1.0]
        if not later or self.marks[-1][0] <= later[0][0]:
            return None
        return (self.marks[-1][1] - later[0][1]) / (self.marks[-1][0] - later[0][0])


def main():
    t = Tap()
    vessel = vessel_path()
    if not guest_present():
        t.skip("rate limits", "guest not built (scripts/build-guest.sh)")
        return t.done()
    tmp = tempfile.mkdtemp(prefix="vessel-rl-")
    g = None
    try:
        lim, free = os.path.join(tmp, "lim.img"), os.path.join(tmp, "free.img")
        for p in (lim, free):
            with open(p, "wb") as f:
                f.truncate(128 << 20)
        sock = os.path.join(tmp, "api.sock")
        blk1 = 2000 * 1024  # bytes/s, from the command line
        tx = 1000 * 1024
        # The guest reaches the host's loopback through the gateway (10.0.2.2) only on the
        # ports opened for it (docs/SANDBOX.md, "Network policy"): the servers' ports.
        ports = [free_port() for _ in range(3)]
        net = "user," + ",".join(f"loopback={p}" for p in ports)
        args = ["--kernel", guest_files()["vmlinuz"], "--initrd", guest_files()["initrd.img"],
                "--disk", f"{lim},id=lim", "--disk", f"{free},id=free", "--net", net,
                "--api-sock", sock,
                "--rate-limit", f"drive:lim,bw={blk1 * REFILL // 1000},refill={REFILL}",
                "--rate-limit", f"net-tx,bw={tx * REFILL // 1000},refill={REFILL}"]
        g = Guest(vessel, args)
        if g.wait_for(READY_LINE, TIMEOUT) is None:
            t.ok(False, "guest boots", g.tail())
            return t.done()

        # Three bandwidth limits on vda: the command line's, then two set while running.
        skip_mb = 0
        for rate, how in ((blk1, "--rate-limit"), (4000 * 1024, "PATCH"),
                          (8000 * 1024, "PATCH")):
            if how == "PATCH":
                st, body = apiclient.call(sock, "PATCH", "/drives/lim",
                                          {"drive_id": "lim",
                                           "rate_limiter": {"bandwidth": bucket(rate)}})
                t.ok(st == 204, f"PATCH /drives/lim bandwidth {rate // 1024} KiB/s -> 204", body)
            count = rate * SECONDS // 65536
            got, out = dd_rate(g, "/dev/vda", 65536, count, skip_mb * 16)
            skip_mb += count // 16 + 1
            t.ok(got is not None and within(got, rate),
                 f"vda limited to {rate // 1024} KiB/s ({how}): dd reads at "
                 f"{(got or 0) / 1024:.0f} KiB/s", out)

        # An operations limit alone: 200 requests a second, 4 KiB each.
        ops = 200
        st, body = apiclient.call(sock, "PATCH", "/drives/lim",
                                  {"drive_id": "lim",
                                   "rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0},
                                                    "ops": bucket(ops)}})
        t.ok(st == 204, "PATCH /drives/lim: no bandwidth limit, 200 ops/s -> 204", body)
        got, out = dd_rate(g, "/dev/vda", 4096, ops * SECONDS, skip_mb * 256)
        iops = got / 4096 if got else None
        t.ok(iops is not None and within(iops, ops),
             f"vda limited to {ops} ops/s: dd does {iops or 0:.0f} 4 KiB reads/s", out)

        # The unlimited vdb alone, then beside vda's throttled dd.
        st, body = apiclient.call(sock, "PATCH", "/drives/lim",
                                  {"drive_id": "lim",
                                   "rate_limiter": {"bandwidth": bucket(blk1),
                                                    "ops": {"size": 0, "refill_time": 0}}})
        solo, out = dd_rate(g, "/dev/vdb", 65536, 1024, 0)
        t.comment(f"vdb alone: {(solo or 0) / 1048576:.1f} MiB/s")
        g.send("dd if=/dev/vda of=/dev/null bs=64k count=200 iflag=direct 2>/dev/null &\n")
        time.sleep(0.5)
        beside, out = dd_rate(g, "/dev/vdb", 65536, 1024, 1024)
        g.run("wait", 120)
        t.comment(f"vdb beside vda's throttled dd: {(beside or 0) / 1048576:.1f} MiB/s")
        t.ok(solo and beside and beside >= 0.5 * solo and beside >= 10 * blk1,
             f"unlimited vdb beside throttled vda: {(beside or 0) / 1048576:.1f} MiB/s "
             f"(alone {(solo or 0) / 1048576:.1f} MiB/s, vda limited to "
             f"{blk1 / 1048576:.1f} MiB/s)", out)

        st, body = apiclient.call(sock, "PATCH", "/drives/nosuch",
                                  {"drive_id": "nosuch",
                                   "rate_limiter": {"bandwidth": bucket(blk1)}})
        t.ok(st == 400, f"PATCH of a drive that does not exist -> 400 ({body})")

        # The NIC: transmit limited from the command line; receive set through the API.
        out, st = g.run("udhcpc -q -n -i eth0 >/dev/null 2>&1; ip -4 addr show eth0 | "
                        "grep -c inet", 60)
        srv = Server(ports[0])
        n = tx * SECONDS
        out, st = g.run(f"dd if=/dev/zero bs=1024 count={n // 1024} 2>/dev/null | "
                        f"nc 10.0.2.2 {srv.port}", 120)
        srv.thread.join(30)
        rate = srv.steady_rate()
        t.ok(rate is not None and within(rate, tx),
             f"NIC transmit limited to {tx // 1024} KiB/s of frames: nc payload at "
             f"{(rate or 0) / 1024:.0f} KiB/s", out)
        rx = 2000 * 1024
        st, body = apiclient.call(sock, "PATCH", "/network-interfaces/eth0",
                                  {"iface_id": "eth0", "rx_rate_limiter": {"bandwidth":
                                                                           bucket(rx)}})
        t.ok(st == 204, f"PATCH /network-interfaces/eth0 rx {rx // 1024} KiB/s -> 204", body)
        n = rx * SECONDS
        srv = Server(ports[1], send_bytes=n)
        out, st = g.run(f"time sh -c 'nc 10.0.2.2 {srv.port} | wc -c' 2>&1", 120)
        s = guest_seconds(out)
        got = int(out.split()[0]) / s if s and out and out.split()[0].isdigit() else None
        t.ok(got is not None and within(got, rx),
             f"NIC receive limited to {rx // 1024} KiB/s of frames: nc payload at "
             f"{(got or 0) / 1024:.0f} KiB/s", out)
        pst, body = apiclient.call(sock, "PATCH", "/network-interfaces/eth0",
                                   {"iface_id": "eth0", "tx_rate_limiter": {
                                       "bandwidth": {"size": 0, "refill_time": 0}}})
        srv = Server(ports[2])
        out, st = g.run(f"dd if=/dev/zero bs=64k count=256 2>/dev/null | nc 10.0.2.2 {srv.port}",
                        120)
        srv.thread.join(30)
        rate = srv.steady_rate()
        t.ok(pst == 204 and rate is not None and rate > 1.5 * tx,
             f"transmit limit lifted through the API: nc payload at {(rate or 0) / 1024:.0f} "
             f"KiB/s", body)
    finally:
        if g:
            g.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
