"""test_netd.py — the network outside the VM process: `vessel netd` serves libslirp user
networking on a Unix socket and the guest reaches it with `--net stream,path=SOCKET`. The guest
gets its address by DHCP and echoes a TCP connection opened from the host through the daemon's
port forward; the VM then live-migrates to another vessel process on this host, and the same
TCP connection, open across the move, still echoes at the destination (the daemon kept the
host side of it, the guest's kernel its own). Bad daemon input (no options, an unknown
back-end, a socket another daemon serves) exits 2 with a message. Skips when the guest isn't
built."""

import json
import os
import socket
import subprocess
import time

from harness import (Guest, free_port, guest_files, guest_present, run_test, start_guest,
                     vessel_path)


def echo(conn, text, within=60):
    """Send a line on `conn` and return what comes back until the newline (b"" if nothing)."""
    conn.sendall(text)
    got = b""
    end = time.monotonic() + within
    while not got.endswith(b"\n") and time.monotonic() < end:
        conn.settimeout(max(0.1, end - time.monotonic()))
        try:
            part = conn.recv(4096)
        except socket.timeout:
            break
        if not part:
            break
        got += part
    return got


def wait_path(path, within=10):
    end = time.monotonic() + within
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.05)
    return os.path.exists(path)


def body(t, tmp, procs):
    vessel = vessel_path()
    p = subprocess.run([vessel, "netd"], capture_output=True, text=True, timeout=30)
    t.ok(p.returncode == 2 and "usage" in p.stderr, "netd without options exits 2 with usage",
         p.stderr)
    p = subprocess.run([vessel, "netd", "--socket", os.path.join(tmp, "x.sock"), "--net",
                        "bogus"], capture_output=True, text=True, timeout=30)
    t.ok(p.returncode == 2 and "unknown network back-end" in p.stderr,
         "netd with an unknown back-end exits 2 and says why", p.stderr)
    if not guest_present():
        t.skip("netd with a guest", "default guest not built (scripts/build-guest.sh)")
        return
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    files = guest_files()
    nsock = os.path.join(tmp, "net.sock")
    port = free_port()
    netd_log = open(os.path.join(tmp, "netd.log"), "wb")
    netd = subprocess.Popen([vessel, "netd", "--socket", nsock, "--net",
                             f"user,hostfwd=tcp:127.0.0.1:{port}-:7777"],
                            stdout=netd_log, stderr=subprocess.STDOUT)
    procs.append(netd)
    t.ok(wait_path(nsock), "netd listens on its socket")
    p = subprocess.run([vessel, "netd", "--socket", nsock, "--net", "user"],
                       capture_output=True, text=True, timeout=30)
    t.ok(p.returncode == 2 and "served by a running daemon" in p.stderr and netd.poll() is None,
         "a second daemon on the same socket exits 2 and leaves the first serving", p.stderr)

    api = os.path.join(tmp, "src.sock")
    src = start_guest(vessel, t, "source", ["--kernel", files["vmlinuz"], "--initrd",
                                            files["initrd.img"], "--memory", "256M",
                                            "--api-sock", api, "--net", f"stream,path={nsock}"],
                      timeout, os.path.join(tmp, "src.log"))
    if not src:
        return
    procs.append(src)
    out, st = src.run("udhcpc -i eth0 -q -n -t 5 -T 3 2>&1; ip -4 addr show eth0", 90)
    t.ok(st == 0 and "10.0.2.15" in (out or ""),
         "the guest gets 10.0.2.15 by DHCP from the daemon's user network", out)
    src.send("(nc -l -p 7777 -e cat; echo ECHO-END) </dev/null >/dev/null 2>&1 &\n")
    time.sleep(1)
    conn = None
    end = time.monotonic() + 30
    while conn is None and time.monotonic() < end:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            if echo(c, b"before-the-move\n", 10) == b"before-the-move\n":
                conn = c
            else:
                c.close()
                time.sleep(0.5)
        except OSError:
            time.sleep(0.5)
    if not t.ok(conn is not None,
                f"a TCP connection through the daemon's forward (port {port}) echoes",
                src.tail()):
        return

    addr = "unix:" + os.path.join(tmp, "mig.sock")
    dst = Guest(vessel, ["--incoming", addr], log_path=os.path.join(tmp, "dst.log"))
    procs.append(dst)
    time.sleep(0.5)
    p = subprocess.run([vessel, "migrate", api, addr], capture_output=True, text=True,
                       timeout=600)
    stats = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else {}
    t.ok(p.returncode == 0, f"vessel migrate succeeds ({stats})", p.stderr)
    t.ok(src.wait_exit(60) == 0, "the source exits 0 after the destination confirmed",
         src.tail())
    got = echo(conn, b"after-the-move\n", 60)
    t.ok(got == b"after-the-move\n",
         "the TCP connection opened before the move still echoes at the destination",
         f"{got!r}\n{dst.tail()}")
    conn.close()
    out, st = dst.run("echo moved-$((6 * 7))", 60)
    t.ok(st == 0 and "moved-42" in out, "the destination's shell answers", dst.tail())
    netd_log.flush()
    log = open(os.path.join(tmp, "netd.log"), "rb").read().decode(errors="replace")
    t.ok("client 2" in log and netd.poll() is None,
         "the daemon served the destination as its second client and is still running", log)
    netd.terminate()
    t.ok(netd.wait(30) == 0 and not os.path.exists(nsock),
         "netd exits 0 on SIGTERM and removes its socket")


if __name__ == "__main__":
    raise SystemExit(run_test(body, "vessel-netd-"))
