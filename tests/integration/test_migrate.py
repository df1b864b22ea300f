"""test_migrate.py — (d) live migration between two vessel processes on this host while the
guest dirties memory: a 32 MiB file in the guest's RAM (tmpfs) is checksummed, a background
loop keeps rewriting another 8 MiB and printing a count, `vessel migrate` moves the guest to a
`vessel run --incoming unix:...`, and on the destination the checksum is the same, the count
goes on with nothing lost or repeated, and the shell answers. The source exits 0 only after the
destination confirmed; the reported downtime is within the limit plus slack. A migration to an
address nobody listens on fails with 400 and leaves the source running. The guest serves HTTP
through a host port forward (slirp hostfwd): the destination on this same host takes the port
over once the source has let it go, and the same host port reaches the guest's server after the
move. libslirp's state of established TCP connections does not migrate (docs/API.md), so a
connection open across the move is not expected to survive. Skips when the guest isn't built."""

import json
import os
import re
import subprocess
import time

import apiclient
from harness import (READY_LINE, Guest, free_port, guest_files, guest_present, http_get,
                     run_test, serve_http, vessel_path)

COUNT_RE = re.compile(rb"MIG (\d+)\r?\n")


def counts(data):
    return [int(m.group(1)) for m in COUNT_RE.finditer(data)]


def body(t, tmp, procs):
    vessel = vessel_path()
    if not guest_present():
        t.skip("migration tests", "default guest not built (scripts/build-guest.sh)")
        return
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    files = guest_files()
    sock = os.path.join(tmp, "src.sock")
    port = free_port()
    src = Guest(vessel, ["--kernel", files["vmlinuz"], "--initrd", files["initrd.img"],
                         "--memory", "256M", "--api-sock", sock,
                         "--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:80"],
                log_path=os.path.join(tmp, "src.log"))
    procs.append(src)
    ready = src.wait_for(READY_LINE, timeout)
    if not t.ok(ready is not None, "source: guest reaches the ready line", src.tail()):
        return
    src.wait_for(b"# ", 60, ready)
    src.run("stty -echo 2>/dev/null; dmesg -n 1; true", 60)
    out, st = src.run("dd if=/dev/urandom of=/tmp/keep bs=1M count=32 2>/dev/null; "
                      "md5sum /tmp/keep", 300)
    before = re.findall(r"^([0-9a-f]{32})  /tmp/keep", out or "", re.M)
    t.ok(st == 0 and before, "source: 32 MiB checksummed in guest RAM", out)
    src.run("udhcpc -i eth0 -q -n -t 5 -T 3 >/dev/null 2>&1", 60)
    serve_http(src, 80, "served-by-source")
    body = http_get(port)
    t.ok(body == "served-by-source",
         f"source: the guest's web server answers on host port {port} (hostfwd)", str(body))
    src.send("(i=0; while :; do i=$((i+1)); dd if=/dev/urandom of=/tmp/churn bs=1M count=8 "
             "2>/dev/null; echo \"MIG $i\"; done) </dev/null &\n")
    src.wait_for(b"MIG 3\r\n", 120)  # the console ends lines in CR LF

    # a destination nobody listens on: 400, the source goes on
    st_, body = apiclient.call(sock, "PUT", "/migrate",
                               {"destination": "unix:" + os.path.join(tmp, "nobody.sock")})
    n0 = len(counts(bytes(src.out)))
    src.wait_for(f"MIG {n0 + 2}\r\n".encode(), 60)
    t.ok(st_ == 400 and "migrate:" in body.get("fault_message", "") and
         src.proc.poll() is None and len(counts(bytes(src.out))) > n0,
         "migrating to nowhere fails with 400 and the source keeps running", body)

    addr = "unix:" + os.path.join(tmp, "mig.sock")
    dst = Guest(vessel, ["--incoming", addr], log_path=os.path.join(tmp, "dst.log"))
    procs.append(dst)
    time.sleep(0.5)
    p = subprocess.run([vessel, "migrate", sock, addr], capture_output=True, text=True,
                       timeout=600)
    stats = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else {}
    t.ok(p.returncode == 0 and stats.get("bytes", 0) > 32 << 20,
         f"vessel migrate succeeds ({stats})", p.stderr)
    t.comment(f"migration: total {stats.get('total_ms')} ms, downtime "
              f"{stats.get('downtime_ms')} ms, {stats.get('iterations')} rounds, "
              f"{stats.get('bytes', 0) >> 20} MiB")
    t.ok(stats.get("downtime_ms", 1 << 30) < 300 + 1000,
         "the reported downtime is near the 300 ms limit or under it", stats)
    code = src.wait_exit(60)
    t.ok(code == 0, "the source exits 0 after the destination confirmed", src.tail())
    last_src = counts(bytes(src.out))
    dst.wait_for(f"MIG {last_src[-1] + 3}\r\n".encode() if last_src else b"MIG", 120)
    whole = counts(bytes(src.out) + bytes(dst.out))
    t.ok(len(whole) > len(last_src) and all(b == a + 1 for a, b in zip(whole, whole[1:])),
         "the guest's count goes on at the destination with nothing lost or repeated",
         dst.tail() + f"\n{whole}")
    out, st = dst.run("md5sum /tmp/keep", 300)
    after = re.findall(r"^([0-9a-f]{32})  /tmp/keep", out or "", re.M)
    t.ok(st == 0 and after == before,
         "the checksum of the 32 MiB in guest RAM is the same after migration",
         f"{out} vs {before}\n{dst.tail()}")
    out, st = dst.run("echo moved-$((6 * 7))", 60)
    t.ok(st == 0 and "moved-42" in out, "the destination's shell answers", dst.tail())
    dst.run("echo served-after-the-move > /www/index.html", 60)
    body = http_get(port)
    t.ok(body == "served-after-the-move",
         f"the port forward moved with the guest: host port {port} reaches the same server "
         f"at the destination", f"{body}\n{dst.tail()}")


if __name__ == "__main__":
    raise SystemExit(run_test(body, "vessel-mig-"))
