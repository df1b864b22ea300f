"""test_virtio.py — the guest's paravirtual devices against real host back-ends:
virtio-blk on ext4 images made with mkfs.ext4 (a 64 MiB file written in the guest is read back
on the host with debugfs; a read-only disk refuses writes and stays byte-identical),
virtio-net through libslirp (DHCP lease, a 16 MiB download from an HTTP server on the host's
loopback, a host->guest forwarded port), virtio-rng (/dev/hwrng) and virtio-console (a shell on
hvc0). Skips when the guest isn't built. VESSEL_BOOT_TIMEOUT bounds the wait for the ready line."""

import hashlib
import http.server
import os
import shutil
import subprocess
import tempfile
import threading

from harness import (Tap, free_port, guest_present, http_get, serve_http, start_guest,
                     vessel_path)

BLOB_SIZE = 16 << 20


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_ext4(path, size_mb, files=None):
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0", path], check=True)
    for name, data in (files or {}).items():
        src = path + ".src"
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run(["debugfs", "-w", "-R", f"write {src} {name}", path], check=True,
                       capture_output=True)
        os.unlink(src)


def serve(directory):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=directory, **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def start(vessel, t, tag, args, timeout):
    log = os.path.join(tempfile.gettempdir(), f"vessel-virtio-{tag}-{os.getpid()}.log")
    return start_guest(vessel, t, tag, args, timeout, log)


def devices_test(vessel, t, timeout, tmp):
    disk, ro = os.path.join(tmp, "disk.img"), os.path.join(tmp, "ro.img")
    make_ext4(disk, 192)
    make_ext4(ro, 16, {"hello.txt": b"read-only disk\n"})
    ro_digest = sha256_file(ro)
    blob = bytes((i * 2654435761 >> 13) & 0xff for i in range(1 << 16)) * (BLOB_SIZE >> 16)
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    with open(os.path.join(www, "blob"), "wb") as f:
        f.write(blob)
    blob_digest = hashlib.sha256(blob).hexdigest()
    httpd = serve(www)
    port = httpd.server_address[1]
    fwd = free_port()

    g = start(vessel, t, "devices", ["--memory", "512M", "--disk", disk,
                                     "--disk", ro + ",readonly,id=rodisk",
                                     # the HTTP server is on the host's loopback: open
                                     # its port to the guest (docs/SANDBOX.md)
                                     "--net", f"user,hostfwd=tcp:127.0.0.1:{fwd}-:8080,"
                                              f"loopback={port}"],
              timeout)
    if g is None:
        httpd.shutdown()
        return
    try:
        out, _ = g.run("ls /sys/block | tr '\\n' ' '")
        t.ok(out is not None and "vda" in out and "vdb" in out, "both disks appear", out)

        out, st = g.run("mount /dev/vda /mnt && dd if=/dev/urandom of=/mnt/big bs=1M count=64 "
                        "2>/dev/null && sha256sum /mnt/big && sync && umount /mnt", 600)
        lines = [l for l in (out or "").splitlines() if l.endswith("/mnt/big")]
        guest_digest = lines[0].split()[0] if st == 0 and lines else None
        t.ok(guest_digest is not None, "guest writes 64 MiB to ext4 on virtio-blk", out)

        out, st = g.run("dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>&1")
        t.ok(st not in (0, None), "read-only disk rejects a guest write", out)
        out, st = g.run("mkdir -p /ro && mount -o ro /dev/vdb /ro && cat /ro/hello.txt")
        t.ok(st == 0 and out == "read-only disk", "read-only disk reads back", out)
        out, st = g.run("cat /sys/block/vdb/serial")
        t.ok(out == "rodisk", "disk id reaches the guest as its serial", out)

        out, st = g.run("udhcpc -i eth0 -q -n -t 5 -T 3 >/dev/null 2>&1; "
                        "ifconfig eth0 | grep -o 'inet addr:[0-9.]*'", 120)
        t.ok(out == "inet addr:10.0.2.15", "DHCP lease 10.0.2.15 from slirp", out)
        out, st = g.run(f"wget -q -O - http://10.0.2.2:{port}/blob | sha256sum", 600)
        t.ok(out is not None and out.split()[0] == blob_digest,
             "16 MiB download from the host matches", out)

        serve_http(g, 8080, "hello-from-guest")
        body = http_get(fwd)
        t.ok(body == "hello-from-guest", "host->guest forwarded port reaches the guest's httpd",
             body)

        out, st = g.run("head -c 4096 /dev/hwrng | wc -c; cat "
                        "/sys/class/misc/hw_random/rng_current")
        t.ok(out is not None and out.split() == ["4096", "virtio_rng.0"],
             "/dev/hwrng yields data from virtio-rng", out)

        g.send("poweroff\n")
        rc = g.wait_exit(60)
        t.ok(rc == 0, "poweroff exits 0", f"rc={rc}\n" + g.tail())
    finally:
        g.kill()
        httpd.shutdown()

    r = subprocess.run(["debugfs", "-R", "cat /big", disk], capture_output=True)
    host_digest = hashlib.sha256(r.stdout).hexdigest()
    t.ok(guest_digest is not None and host_digest == guest_digest and len(r.stdout) == 64 << 20,
         "host reads the guest's file out of the image with debugfs: digest matches",
         f"guest {guest_digest} host {host_digest} ({len(r.stdout)} bytes)")
    t.ok(sha256_file(ro) == ro_digest, "read-only image unchanged byte for byte")


def hvc_test(vessel, t, timeout):
    g = start(vessel, t, "hvc0", ["--console-device", "virtio", "--append",
                                  "console=hvc0 panic=-1"], timeout)
    if g is None:
        return
    try:
        out, st = g.run("tty; echo $((6 * 7))")
        t.ok(out is not None and out.split() == ["/dev/hvc0", "42"], "a shell on hvc0 answers",
             out)
        g.send("poweroff\n")
        t.ok(g.wait_exit(60) == 0, "poweroff from hvc0 exits 0", g.tail())
    finally:
        g.kill()


def main():
    vessel = vessel_path()
    t = Tap()
    if not guest_present() or not shutil.which("mkfs.ext4"):
        t.skip("virtio devices", "guest image or e2fsprogs missing")
        return t.done()
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory() as tmp:
        devices_test(vessel, t, timeout, tmp)
    hvc_test(vessel, t, timeout)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
