"""test_api.py — the control API on the real Debian guest. A vessel started with only
--api-sock is configured (machine-config, boot-source, drives) and started (InstanceStart)
through the API and boots to its shell. Then (e): every endpoint is sent bad input — malformed
JSON, wrong types, unknown fields, missing fields, wrong state, unknown paths and methods,
broken HTTP, an oversized body, a client that stalls half-way — and each answer is a 400 with a
fault_message while the guest keeps running and answering. `vessel api` is the people's client:
exit 0 on success, 1 with the fault on stderr. Skips when the guest isn't built."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import apiclient
from harness import READY_LINE, Guest, Tap, guest_files, guest_present, vessel_path


def main():
    t = Tap()
    vessel = vessel_path()
    if not guest_present():
        t.skip("api tests", "default guest not built (scripts/build-guest.sh)")
        return t.done()
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    tmp = tempfile.mkdtemp(prefix="vessel-api-")
    g = None
    try:
        sock = os.path.join(tmp, "api.sock")
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        g = Guest(vessel, ["--api-sock", sock], log_path=os.path.join(tmp, "api.log"))
        t.ok(apiclient.wait_socket(sock), "the API socket appears", g.tail())
        st, info = apiclient.call(sock, "GET", "/")
        t.ok(st == 200 and info["state"] == "Not started" and info["app_name"] == "vessel",
             "GET / before start: Not started", info)

        # wrong state and bad input before start
        bad_pre = [
            ("PATCH", "/vm", {"state": "Paused"}, "not started"),
            ("PUT", "/snapshot/create", {"snapshot_path": "/tmp/x", "mem_file_path": "/tmp/y"},
             "paused"),
            ("PUT", "/actions", {"action_type": "InstanceStart"}, "boot source"),
            ("PUT", "/boot-source", {"kernel_image_path": "/nonexistent/vmlinuz"}, "vmlinuz"),
            ("PUT", "/machine-config", {"vcpu_count": 33, "mem_size_mib": 256}, "vcpu_count"),
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 16}, "mem_size_mib"),
            ("PUT", "/drives/d1", {"drive_id": "d1", "path_on_host": "/nonexistent",
                                   "is_root_device": False, "is_read_only": False}, "path_on_host"),
            ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "backend": "bogus"}, "net"),
            ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "backend": "user",
                                                 "guest_mac": "zz"}, "guest_mac"),
            ("PUT", "/snapshot/load", {"snapshot_path": "/nonexistent"}, "nonexistent"),
        ]
        for method, path, body, needle in bad_pre:
            st, b = apiclient.call(sock, method, path, body)
            msg = (b or {}).get("fault_message", "") if isinstance(b, dict) else ""
            t.ok(st == 400 and needle in msg, f"before start: {method} {path} {json.dumps(body)}"
                 f" -> 400 ({msg})", f"{st} {b}")

        files = guest_files()
        steps = [
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}),
            ("PUT", "/boot-source", {"kernel_image_path": files["vmlinuz"],
                                     "initrd_path": files["initrd.img"]}),
            ("PUT", "/drives/scratch", {"drive_id": "scratch", "path_on_host": disk,
                                        "is_root_device": False, "is_read_only": False}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]
        for method, path, body in steps:
            st, b = apiclient.call(sock, method, path, body)
            t.ok(st == 204, f"configure: {method} {path} -> 204", f"{st} {b}")
        ready = g.wait_for(READY_LINE, timeout)
        if not t.ok(ready is not None, "the API-configured guest boots to the ready line",
                    g.tail()):
            return t.done()
        g.wait_for(b"# ", 60, ready)
        g.run("stty -echo 2>/dev/null; dmesg -n 1; true", 60)
        out, st = g.run("cat /sys/block/vda/serial; echo; cat /sys/block/vda/size")
        t.ok(st == 0 and out.split() == ["scratch", str(8 << 20 >> 9)],
             "the API's drive is /dev/vda with its id as serial", out)
        st, info = apiclient.call(sock, "GET", "/")
        t.ok(st == 200 and info["state"] == "Running", "GET / after start: Running", info)
        st, mc = apiclient.call(sock, "GET", "/machine-config")
        t.ok(st == 200 and mc["mem_size_mib"] == 256 and mc["vcpu_count"] == 1,
             "GET /machine-config", mc)

        # (e) bad input on every endpoint while the guest runs
        bad = [
            ("GET", "/nope", None, "Invalid request"),
            ("DELETE", "/", None, "Invalid request method"),
            ("PUT", "/machine-config", "{\"vcpu_count\": 1,", "malformed JSON"),
            ("PUT", "/machine-config", {"vcpu_count": "one", "mem_size_mib": 256}, "integer"),
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}, "already"),
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256, "x": 1},
             "unknown field"),
            ("PUT", "/boot-source", {"kernel_image_path": files["vmlinuz"]}, "already"),
            ("PUT", "/boot-source", {"kernel_image_path": 7}, "string"),
            ("PUT", "/boot-source", [], "object"),
            ("PUT", "/drives/scratch", {"drive_id": "other", "path_on_host": disk,
                                        "is_root_device": False, "is_read_only": True},
             "differs"),
            ("PUT", "/drives/scratch", {"drive_id": "scratch", "path_on_host": disk,
                                        "is_root_device": False, "is_read_only": True},
             "already"),
            ("PUT", "/drives/scratch", {"drive_id": "scratch"}, "missing field"),
            ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "backend": "user"},
             "already"),
            ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "mtu": 1500},
             "unknown field"),
            ("PUT", "/actions", {"action_type": "InstanceStart"}, "already"),
            ("PUT", "/actions", {"action_type": "Explode"}, "unknown action_type"),
            ("PUT", "/actions", {}, "missing field"),
            ("PATCH", "/vm", {"state": "Frozen"}, "Paused or Resumed"),
            ("PATCH", "/vm", {"state": True}, "string"),
            ("PATCH", "/vm", "", "needs a JSON body"),
            ("PUT", "/snapshot/create", {"snapshot_path": os.path.join(tmp, "s"),
                                         "mem_file_path": os.path.join(tmp, "m")}, "paused"),
            ("PUT", "/snapshot/create", {"snapshot_path": "/s"}, "missing field"),
            ("PUT", "/snapshot/create", {"snapshot_path": "/s", "mem_file_path": "/m",
                                         "snapshot_type": "Partial"}, "Full or Diff"),
            ("PUT", "/snapshot/load", {"snapshot_path": "/s", "mem_file_path": "/m"}, "already"),
            ("PUT", "/snapshot/load", {"snapshot_path": 1}, "string"),
            ("GET", "/metrics/extra", None, "Invalid request"),
        ]
        for method, path, body, needle in bad:
            st, b = apiclient.call(sock, method, path, body)
            msg = b.get("fault_message", "") if isinstance(b, dict) else ""
            t.ok(st == 400 and needle in msg, f"running: {method} {path} -> 400 ({msg})",
                 f"{st} {b}")

        # broken HTTP, oversized, stalled
        out = apiclient.raw(sock, b"NOT HTTP AT ALL\r\n\r\n", 10)
        t.ok(out.startswith(b"HTTP/1.1 400") and b"fault_message" in out,
             "a malformed request line -> 400", out)
        out = apiclient.raw(sock, b"PUT /vm HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", 10)
        t.ok(out.startswith(b"HTTP/1.1 400") and b"longer than" in out,
             "an oversized body is refused before it is read", out)
        out = apiclient.raw(sock, b"PUT /vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 10)
        t.ok(out.startswith(b"HTTP/1.1 400"), "a chunked body -> 400", out)
        stall = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stall.connect(sock)
        stall.sendall(b"PATCH /vm HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"sta")
        t0 = time.monotonic()
        st, info = apiclient.call(sock, "GET", "/")
        t.ok(st == 200 and time.monotonic() - t0 < 5,
             "a client stalled mid-request does not hold up others", info)
        stall.settimeout(30)
        try:
            dropped = stall.recv(100) == b""
        except OSError:
            dropped = True
        t.ok(dropped, "the stalled client is dropped after its deadline")
        stall.close()
        out, st = g.run("echo still-$((40 + 2))", 60)
        t.ok(st == 0 and "still-42" in out, "the guest kept running through all of it", g.tail())

        # pause / resume through the vessel api command
        p = subprocess.run([vessel, "api", sock, "PATCH", "/vm", '{"state": "Paused"}'],
                           capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 0, "vessel api PATCH /vm Paused exits 0", p.stderr)
        p = subprocess.run([vessel, "api", sock, "GET", "/"], capture_output=True, text=True,
                           timeout=30)
        t.ok(p.returncode == 0 and json.loads(p.stdout)["state"] == "Paused",
             "vessel api GET / prints the instance info", p.stdout + p.stderr)
        p = subprocess.run([vessel, "api", sock, "PATCH", "/vm", '{"state": "Sleeping"}'],
                           capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 1 and "fault_message" in p.stderr,
             "vessel api with bad input exits 1 with the fault on stderr", p.stderr)
        p = subprocess.run([vessel, "api", sock, "PATCH", "/vm", '{"state": "Resumed"}'],
                           capture_output=True, text=True, timeout=30)
        out, st = g.run("echo resumed-ok", 60)
        t.ok(p.returncode == 0 and st == 0 and "resumed-ok" in out,
             "after resume the guest answers again", g.tail())
        st, m = apiclient.call(sock, "GET", "/metrics")
        t.ok(st == 200 and m["vmm"]["pauses"] == 1 and m["vcpu"]["instructions"] > 0,
             "GET /metrics counts the pause and the guest's instructions", m)
        # SIGTERM ends the VM and removes the socket
        g.proc.terminate()
        code = g.wait_exit(60)
        t.ok(code == 0 and not os.path.exists(sock), "SIGTERM: exit 0, socket removed",
             f"{code} {g.tail()}")
        g.kill()

        # SendCtrlAltDel: Ctrl+Alt+Del on the i8042 keyboard; busybox init's ctrlaltdel action
        # reboots, which ends the VM (--reboot exit) with status 0. The API runs alongside a
        # VM started from the command line here.
        sock2 = os.path.join(tmp, "api2.sock")
        g = Guest(vessel, ["--kernel", files["vmlinuz"], "--initrd", files["initrd.img"],
                           "--api-sock", sock2], log_path=os.path.join(tmp, "cad.log"))
        ready = g.wait_for(READY_LINE, timeout)
        if t.ok(ready is not None, "a CLI-started guest with the API alongside boots", g.tail()):
            g.wait_for(b"# ", 60, ready)
            st, b = apiclient.call(sock2, "PUT", "/actions", {"action_type": "SendCtrlAltDel"})
            code = g.wait_exit(120)
            t.ok(st == 204 and code == 0,
                 "SendCtrlAltDel: the guest's init reboots and the VM exits 0",
                 f"{st} {b} exit {code}\n{g.tail()}")
    finally:
        if g:
            g.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
