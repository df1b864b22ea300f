"""test_netpolicy.py — the user network's policy (docs/SANDBOX.md, "Network policy"), from a
real guest against real servers on the host:
- two servers on the host's loopback: the guest reaches the one whose port was opened with
  loopback=PORT through the gateway (10.0.2.2) and not the other (the default), which never
  sees a connection;
- egress rules by address, prefix and port (allow=HOST/32:PORT before deny=HOST/24): of two
  servers on the host's own non-loopback address the allowed one answers, the denied one never
  sees a connection;
- each denied flow is counted once in GET /metrics (net_policy) and logged with the guest's
  address and port; a host->guest forward (hostfwd) still works."""

import os
import shutil
import socket
import sys
import tempfile
import threading

import apiclient
from harness import (READY_LINE, Guest, Tap, free_port, guest_files, guest_present, http_get,
                     serve_http, vessel_path)

TIMEOUT = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "300"))


class Greeter:
    """A TCP server that greets each connection with a word and counts them."""

    def __init__(self, addr, word):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((addr, 0))
        self.s.listen(4)
        self.port = self.s.getsockname()[1]
        self.word = word
        self.accepted = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            self.accepted += 1
            with c:
                c.sendall(self.word.encode() + b"\n")


def host_address():
    """The host's own address on its default route, or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("203.0.113.1", 9))
            a = s.getsockname()[0]
        return None if a.startswith("127.") else a
    except OSError:
        return None


def main():
    t = Tap()
    vessel = vessel_path()
    if not guest_present():
        t.skip("network policy", "guest not built (scripts/build-guest.sh)")
        return t.done()
    tmp = tempfile.mkdtemp(prefix="vessel-netpol-")
    g = None
    try:
        opened, closed = Greeter("127.0.0.1", "hello-opened"), Greeter("127.0.0.1", "hello-closed")
        host = host_address()
        net = f"user,loopback={opened.port}"
        if host:
            allowed, denied = Greeter(host, "hello-allowed"), Greeter(host, "hello-denied")
            prefix = ".".join(host.split(".")[:3]) + ".0/24"
            net += f",allow={host}/32:{allowed.port},deny={prefix}"
        fwd = free_port()
        net += f",hostfwd=tcp:127.0.0.1:{fwd}-:8080"
        sock = os.path.join(tmp, "api.sock")
        g = Guest(vessel, ["--kernel", guest_files()["vmlinuz"], "--initrd",
                           guest_files()["initrd.img"], "--net", net, "--api-sock", sock])
        if g.wait_for(READY_LINE, TIMEOUT) is None:
            t.ok(False, "guest boots", g.tail())
            return t.done()
        t.comment(f"--net {net}")
        out, st = g.run("udhcpc -i eth0 -q -n -t 5 -T 3 >/dev/null 2>&1; "
                        "ifconfig eth0 | grep -o 'inet addr:[0-9.]*'", 120)
        t.ok(out == "inet addr:10.0.2.15", "DHCP lease 10.0.2.15 (DHCP passes the policy)", out)

        out, st = g.run(f"nc -w 5 10.0.2.2 {opened.port}", 60)
        t.ok(out is not None and "hello-opened" in out,
             f"the guest reaches the host's loopback port {opened.port} opened with loopback=",
             out)
        out, st = g.run(f"nc -w 3 10.0.2.2 {closed.port}; echo rc=$?", 60)
        t.ok(out is not None and "hello-closed" not in out and closed.accepted == 0,
             f"... but not the loopback port {closed.port} it was not given "
             f"(server saw {closed.accepted} connections)", out)

        if host:
            out, st = g.run(f"nc -w 5 {host} {allowed.port}", 60)
            t.ok(out is not None and "hello-allowed" in out,
                 f"egress allow={host}/32:{allowed.port} reaches that server", out)
            out, st = g.run(f"nc -w 3 {host} {denied.port}; echo rc=$?", 60)
            t.ok(out is not None and "hello-denied" not in out and denied.accepted == 0,
                 f"egress deny={prefix} stops {host}:{denied.port} (server saw "
                 f"{denied.accepted} connections)", out)
        else:
            t.skip("egress rules", "the host has no non-loopback address to serve on")

        st, m = apiclient.call(sock, "GET", "/metrics")
        np = (m or {}).get("net_policy", {}) if isinstance(m, dict) else {}
        t.comment(f"net_policy: {np}")
        t.ok(st == 200 and np.get("denied_loopback") == 1,
             "GET /metrics counts the denied loopback flow once (SYN retries included)", m)
        if host:
            t.ok(np.get("denied_egress") == 1, "... and the denied egress flow once", m)
        t.ok(np.get("allowed", 0) >= (2 if host else 1), "... and the allowed flows", m)

        err = bytes(g.err).decode(errors="replace")
        t.comment([l for l in err.splitlines() if "net policy" in l])
        t.ok(f"denied tcp from guest 10.0.2.15:" in err and f"to 10.0.2.2:{closed.port}" in err,
             "the denied loopback flow is logged with the guest's address and port", err[-2000:])
        if host:
            t.ok(f"to {host}:{denied.port}" in err, "... and so is the denied egress flow",
                 err[-2000:])

        serve_http(g, 8080, "hello-from-guest")
        body = http_get(fwd)
        t.ok(body == "hello-from-guest", "hostfwd: the host reaches the guest's httpd", body)
        st, m2 = apiclient.call(sock, "GET", "/metrics")
        np2 = (m2 or {}).get("net_policy", {}) if isinstance(m2, dict) else {}
        t.ok(np2.get("denied_loopback") == 1 and np2.get("denied_egress", 0) == np.get(
             "denied_egress", 0), "... and its replies through the gateway are not denied", m2)
    finally:
        if g:
            g.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
