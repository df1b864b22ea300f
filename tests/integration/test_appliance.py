"""test_appliance.py — appliance files (docs/APPLIANCE.md) on the real Debian guest.

1. An HTTP appliance: an ext4 base with a page, the appliance's disk is the base plus one more
   page (packed as qcow2 holding only the difference), an initrd that starts busybox httpd
   from the disk, a port forward, and a snapshot taken once httpd is up. `vessel run APP`
   resumes from the snapshot (no boot) and both pages are served through a port forward given
   on the command line; `--cold` boots the same appliance and serves them too. The appliance
   is much smaller than the disk, and the manifest names every part with its SHA-256.
2. Damaged files exit with status 2 and a clear message, before anything starts: a flipped
   byte in a part, in the manifest, a truncated file, bytes appended, a base that is not the
   one packed against, a missing base.
3. A container image: an OCI image layout and a `docker save` tarball built here with Python's
   tarfile (two layers, the second whiting out a file of the first and adding the entrypoint
   script), packed with `vessel pack --oci`: the entrypoint prints a known line with the
   image's env, cmd and working directory, sees the whiteout applied, and the VM powers off.

Skips when the default guest or e2fsprogs are missing. VESSEL_BOOT_TIMEOUT bounds waits."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request

from harness import (READY_LINE, Guest, Tap, free_port, guest_files, guest_present,
                     vessel_path)

TIMEOUT = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "300"))
BASE_PAGE = b"served from the shared base\n"
APP_PAGE = b"served from the appliance's own disk, v1\n"
HTTPD_UP = "appliance: httpd up"

APP_INIT = """#!/bin/sh
# the appliance's service: its disk holds the pages
mkdir -p /srv
mount -t ext4 -o ro /dev/vda /srv || echo "appliance: no disk"
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
httpd -p 80 -h /srv/www
echo "appliance: httpd"" up"
"""
INITTAB = """::sysinit:/etc/init.d/rcS
::sysinit:/etc/init.d/app
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r
"""


def fetch(port, path, timeout):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                return r.read()
        except Exception as e:  # connection refused until the forward is up
            last = e
            time.sleep(0.5)
    return f"no answer: {last}".encode()


def make_ext4(path, size_mb, tree):
    if os.path.exists(path):
        os.unlink(path)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0", "-d", tree, path,
                    f"{size_mb}M"], check=True, capture_output=True)  # stdout is TAP


def debugfs_write(image, data, directory, name):
    src = image + ".src"
    with open(src, "wb") as f:
        f.write(data)
    subprocess.run(["debugfs", "-w", "-f", "-", image],
                   input=f"cd {directory}\nwrite {src} {name}\n", text=True, check=True,
                   capture_output=True)
    os.unlink(src)


def make_initrd(tmp, out):
    """The default initrd plus a second cpio archive: an inittab that also runs the service."""
    tree = os.path.join(tmp, "initrd-extra")
    os.makedirs(os.path.join(tree, "etc", "init.d"))
    with open(os.path.join(tree, "etc", "inittab"), "w") as f:
        f.write(INITTAB)
    app = os.path.join(tree, "etc", "init.d", "app")
    with open(app, "w") as f:
        f.write(APP_INIT)
    os.chmod(app, 0o755)
    cpio = subprocess.run("find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet", shell=True,
                          cwd=tree, check=True, capture_output=True).stdout
    with open(guest_files()["initrd.img"], "rb") as f:
        data = f.read()
    with open(out, "wb") as f:
        f.write(data + b"\0" * (-len(data) % 4) + cpio)


def pack(vessel, args, timeout=TIMEOUT + 120):
    p = subprocess.run([vessel, "pack", *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def run_status(vessel, args, timeout=60):
    p = subprocess.run([vessel, "run", *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr.strip()


def http_appliance(vessel, t, tmp):
    www = os.path.join(tmp, "tree", "www")
    os.makedirs(www)
    with open(os.path.join(www, "index.html"), "wb") as f:
        f.write(BASE_PAGE)
    base = os.path.join(tmp, "base.ext4")
    make_ext4(base, 64, os.path.join(tmp, "tree"))
    disk = os.path.join(tmp, "app.ext4")
    shutil.copyfile(base, disk)
    debugfs_write(disk, APP_PAGE, "/www", "app.html")
    initrd = os.path.join(tmp, "app-initrd.img")
    make_initrd(tmp, initrd)
    app = os.path.join(tmp, "web.vessel")
    pack_port = free_port()  # the snapshot's boot forwards it while packing
    t0 = time.monotonic()
    code, err = pack(vessel, ["-o", app, "--name", "web", "--version", "1.0",
                              "--initrd", initrd, "--kernel", guest_files()["vmlinuz"],
                              "--disk", f"{disk},base={base},id=webdata",
                              "--net", f"user,hostfwd=tcp:127.0.0.1:{pack_port}-:80",
                              "--snapshot-after", HTTPD_UP])
    if not t.ok(code == 0 and os.path.isfile(app), "vessel pack with a base and a snapshot",
                err):
        return None
    t.comment(f"packed in {time.monotonic() - t0:.1f} s: {err.strip().splitlines()[-1]}")

    p = subprocess.run([vessel, "inspect-appliance", app], capture_output=True, text=True)
    try:
        m = json.loads(p.stdout)
    except ValueError:
        m = {}
    parts = {x.get("name"): x for x in m.get("parts", [])}
    t.ok(p.returncode == 0 and m.get("name") == "web" and m.get("version") == "1.0"
         and m.get("format_version") == 1
         and set(parts) == {"kernel", "initrd", "disk0", "snapshot-state", "snapshot-memory"}
         and all(len(x.get("sha256", "")) == 64 for x in parts.values()),
         "inspect-appliance prints the manifest: name, version, every part with its SHA-256",
         p.stdout[:2000] + p.stderr)
    d0 = parts.get("disk0", {})
    with open(base, "rb") as f:
        base_sha = hashlib.sha256(f.read()).hexdigest()
    t.ok(d0.get("format") == "qcow2" and d0.get("base", {}).get("name") == "base.ext4"
         and d0.get("base", {}).get("sha256") == base_sha and d0.get("id") == "webdata",
         "the disk is qcow2 over the named base (its name and SHA-256 recorded)", json.dumps(d0))
    t.ok(d0.get("size", 1 << 40) < 4 << 20,
         f"the disk part holds only what differs from the base ({d0.get('size')} bytes for a "
         f"64 MiB disk)")
    if shutil.which("qemu-img") and d0:
        part = os.path.join(tmp, "disk0.qcow2")
        with open(app, "rb") as f, open(part, "wb") as o:
            f.seek(d0["offset"])
            o.write(f.read(d0["size"]))
        c = subprocess.run(["qemu-img", "check", part], capture_output=True, text=True)
        conv = os.path.join(tmp, "disk0.raw")
        subprocess.run(["qemu-img", "convert", "-O", "raw", part, conv], check=False)
        with open(conv, "rb") as a, open(disk, "rb") as b:
            same = a.read() == b.read()
        t.ok(c.returncode == 0 and same,
             "the packed disk passes qemu-img check and reads (through its base) as the disk "
             "given", c.stdout + c.stderr)
        for f in (part, conv):
            os.unlink(f)
    mach = m.get("machine", {})
    t.ok(f"hostfwd=tcp:127.0.0.1:{pack_port}-:80" in (mach.get("net") or "")
         and mach.get("memory") == 256 << 20,
         "the machine configuration (memory, network with its port forward) is recorded",
         json.dumps(mach))

    msha = [l.split()[-1] for l in p.stderr.splitlines() if "manifest SHA-256" in l]
    t.ok(len(msha) == 1 and len(msha[0]) == 64, "inspect-appliance names the manifest's SHA-256",
         p.stderr)

    # Resume from the embedded snapshot, with the port forward given on the command line.
    port = free_port()
    g = Guest(vessel, [app, "--expect-sha256", (msha or ["0" * 64])[0], "--net",
                       f"user,hostfwd=tcp:127.0.0.1:{port}-:80"])
    page = fetch(port, "/app.html", 60)
    t.ok(page == APP_PAGE, "the resumed appliance serves its own page through the port forward",
         f"{page!r}\n{g.tail()}")
    t.ok(fetch(port, "/index.html", 20) == BASE_PAGE,
         "and the base's page (the disk reads through to the base)")
    err = bytes(g.err).decode(errors="replace")
    t.ok("restored" in err and READY_LINE not in bytes(g.out),
         "it resumed from the snapshot instead of booting", err + g.tail())
    g.send("poweroff -f\n")
    t.ok(g.wait_exit(60) == 0, "the resumed appliance powers off with status 0", g.tail())

    # A killed run's overlay (its pid gone) is swept by the next run.
    cache = os.path.join(os.environ["VESSEL_CACHE"], "appliance")
    dirs = [d for d in os.listdir(cache) if not d.startswith("verified-")]
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = os.path.join(cache, dirs[0], f"run-{dead.pid}-disk0.qcow2") if dirs else None
    if stale:
        open(stale, "wb").close()

    # A cold boot of the same appliance.
    port = free_port()
    g = Guest(vessel, [app, "--cold", "--keep-overlays", "--net",
                       f"user,hostfwd=tcp:127.0.0.1:{port}-:80"])
    up = g.wait_for(HTTPD_UP.encode(), TIMEOUT)
    t.ok(up is not None and fetch(port, "/app.html", 60) == APP_PAGE,
         "--cold boots the appliance and it serves its page", g.tail())
    g.send("poweroff -f\n")
    g.wait_exit(60)
    g.kill()
    kept = [l.split("kept overlay ", 1)[1] for l in bytes(g.err).decode().splitlines()
            if "kept overlay " in l]
    if shutil.which("qemu-img"):
        c = subprocess.run(["qemu-img", "check", *kept[:1]], capture_output=True, text=True)
        t.ok(len(kept) == 1 and c.returncode == 0,
             "the run's overlay (kept with --keep-overlays) passes qemu-img check",
             c.stdout + c.stderr + g.tail())
    for k in kept:
        os.unlink(k)
    t.ok(stale and not os.path.exists(stale), "a killed run's overlay is removed by the next run")
    left = [f for _, _, fs in os.walk(cache) for f in fs if f.startswith("run-")]
    t.ok(not left, "each run's disk overlay is removed when it ends", str(left))
    return app, base


def damaged(vessel, t, tmp, app, base):
    size = os.path.getsize(app)
    with open(app, "rb") as f:
        data = bytearray(f.read())
    m = json.loads(subprocess.run([vessel, "inspect-appliance", app], capture_output=True,
                                  text=True).stdout)
    parts = {x["name"]: x for x in m["parts"]}

    def variant(name, mutate):
        path = os.path.join(tmp, name + ".vessel")
        d = bytearray(data)
        d = mutate(d)
        with open(path, "wb") as f:
            f.write(d)
        return path

    def flip(off):
        def f(d):
            d[off] ^= 0x40
            return d
        return f

    cases = [
        ("kernel byte", flip(parts["kernel"]["offset"] + 1000), "part 'kernel' does not match"),
        ("disk byte", flip(parts["disk0"]["offset"] + parts["disk0"]["size"] // 2),
         "part 'disk0' does not match"),
        ("memory byte", flip(parts["snapshot-memory"]["offset"] + 4096 * 10 + 7),
         "part 'snapshot-memory' does not match"),
        ("manifest byte", flip(size - 20), "manifest does not match its SHA-256"),
        ("truncated", lambda d: d[:size // 2], "truncated"),
        ("appended", lambda d: d + b"x" * 100, "after the manifest"),
        ("header magic", lambda d: b"NOTAPPL!" + d[8:], "not a vessel appliance"),
    ]
    for name, mutate, want in cases:
        path = variant(name.replace(" ", "-"), mutate)
        code, err = run_status(vessel, [path])
        t.ok(code == 2 and want in err and len(err.splitlines()) == 1,
             f"tampered ({name}): exit 2 with a clear message", f"{code}: {err}")
        os.unlink(path)
    code, err = run_status(vessel, [app, "--expect-sha256", "ab" * 32])
    t.ok(code == 2 and "not the one expected" in err,
         "--expect-sha256 refuses an appliance whose manifest has another hash", err)

    # Forged manifests (hash recomputed, as anyone can): hostile names are still refused.
    def forge(edit):
        hdr = data[:4096]
        moff = int.from_bytes(hdr[16:24], "little")
        man = json.loads(bytes(data[moff:]))
        edit(man)
        text = json.dumps(man).encode()
        h = bytearray(hdr)
        h[24:32] = len(text).to_bytes(8, "little")
        h[32:64] = hashlib.sha256(text).digest()
        path = os.path.join(tmp, "forged.vessel")
        with open(path, "wb") as f:
            f.write(bytes(h) + bytes(data[4096:moff]) + text)
        return path

    def evil_name(m):
        m["parts"][2]["name"] = "../../evil"

    def evil_id(m):
        m["parts"][2]["id"] = "x,backing-dir=/"

    for what, edit, want in (("a part name with a path", evil_name, "bad name"),
                             ("a disk id adding a --disk option", evil_id, "malformed")):
        code, err = run_status(vessel, [forge(edit)])
        t.ok(code == 2 and want in err, f"forged manifest, {what}: exit 2", f"{code}: {err}")

    # The base: another file under its name, then none at all.
    other = os.path.join(tmp, "other")
    os.makedirs(other)
    shutil.copyfile(app, os.path.join(other, "web.vessel"))
    with open(os.path.join(other, "base.ext4"), "wb") as f:
        with open(base, "rb") as b:
            bd = bytearray(b.read())
        bd[len(bd) // 2] ^= 1
        f.write(bd)
    code, err = run_status(vessel, [os.path.join(other, "web.vessel")])
    t.ok(code == 2 and "does not match the SHA-256" in err and "base" in err,
         "a base that is not the one packed against: exit 2", f"{code}: {err}")
    os.unlink(os.path.join(other, "base.ext4"))
    code, err = run_status(vessel, [os.path.join(other, "web.vessel")])
    t.ok(code == 2 and "--base-dir" in err, "a missing base: exit 2 naming --base-dir",
         f"{code}: {err}")
    code, err = run_status(vessel, [os.path.join(other, "web.vessel"), "--base-dir",
                                    os.path.dirname(base), "--kernel", "/x"])
    t.ok(code == 2 and "--kernel" in err, "an appliance refuses --kernel", err)


# ---- container images ----

RUN_SH = b"""#!/bin/sh
echo "$GREETING $1 in $(pwd)"
if [ -e old.txt ]; then echo "whiteout NOT applied"; else echo "whiteout applied"; fi
cat /etc/layer-one
"""


def tar_bytes(entries):
    """A tar archive (bytes) of (name, data or None for a directory, mode, symlink target)."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, mode, link in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            ti.mtime = 1700000000
            if link is not None:
                ti.type = tarfile.SYMTYPE
                ti.linkname = link
                tf.addfile(ti)
            elif data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def image_layers():
    with open(shutil.which("busybox") or "/bin/busybox", "rb") as f:
        bb = f.read()
    one = [("bin", None, 0o755, None), ("bin/busybox", bb, 0o755, None),
           ("bin/sh", None, 0o777, "busybox"), ("bin/cat", None, 0o777, "busybox"),
           ("bin/ls", None, 0o777, "busybox"), ("bin/pwd", None, 0o777, "busybox"),
           ("etc", None, 0o755, None), ("etc/layer-one", b"layer one is below\n", 0o644, None),
           ("app", None, 0o755, None), ("app/data", None, 0o755, None),
           ("app/data/old.txt", b"deleted by the upper layer\n", 0o644, None)]
    two = [("app", None, 0o755, None), ("app/data", None, 0o755, None),
           ("app/data/.wh.old.txt", b"", 0o644, None), ("app/run.sh", RUN_SH, 0o755, None)]
    return tar_bytes(one), gzip.compress(tar_bytes(two), mtime=0)


IMAGE_CONFIG = {
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/bin/sh", "/app/run.sh"], "Cmd": ["from-cmd"],
               "Env": ["PATH=/bin", "GREETING=hello from an OCI image"],
               "WorkingDir": "/app/data"},
    "rootfs": {"type": "layers", "diff_ids": []},
}


def oci_layout(path):
    l1, l2 = image_layers()
    blobs = {}

    def blob(data):
        d = hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return {"digest": f"sha256:{d}", "size": len(data)}

    cfg = dict(IMAGE_CONFIG)
    cfg["rootfs"] = {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(l1).hexdigest(),
        "sha256:" + hashlib.sha256(gzip.decompress(l2)).hexdigest()]}
    c = blob(json.dumps(cfg).encode())
    c["mediaType"] = "application/vnd.oci.image.config.v1+json"
    layers = [dict(blob(l1), mediaType="application/vnd.oci.image.layer.v1.tar"),
              dict(blob(l2), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": c, "layers": layers}
    mdesc = blob(json.dumps(man).encode())
    mdesc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    index = {"schemaVersion": 2, "manifests": [mdesc]}
    entries = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), 0o644, None),
               ("index.json", json.dumps(index).encode(), 0o644, None),
               ("blobs", None, 0o755, None), ("blobs/sha256", None, 0o755, None)]
    entries += [(f"blobs/sha256/{d}", data, 0o644, None) for d, data in blobs.items()]
    with open(path, "wb") as f:
        f.write(tar_bytes(entries))


def docker_save(path):
    l1, l2 = image_layers()
    l2 = gzip.decompress(l2)  # docker save holds plain tar layers
    ids = [hashlib.sha256(x).hexdigest() for x in (l1, l2)]
    cfg = dict(IMAGE_CONFIG)
    cfg["rootfs"] = {"type": "layers", "diff_ids": [f"sha256:{i}" for i in ids]}
    cfgb = json.dumps(cfg).encode()
    cname = hashlib.sha256(cfgb).hexdigest() + ".json"
    man = [{"Config": cname, "RepoTags": ["vessel-test:latest"],
            "Layers": [f"{i}/layer.tar" for i in ids]}]
    entries = [(cname, cfgb, 0o644, None), ("manifest.json", json.dumps(man).encode(), 0o644, None)]
    for i, data in zip(ids, (l1, l2)):
        entries += [(i, None, 0o755, None), (f"{i}/layer.tar", data, 0o644, None)]
    with open(path, "wb") as f:
        f.write(tar_bytes(entries))


def oci_images(vessel, t, tmp):
    for kind, make in (("OCI image layout", oci_layout), ("docker save tarball", docker_save)):
        tarball = os.path.join(tmp, kind.split()[0] + ".tar")
        make(tarball)
        app = os.path.join(tmp, kind.split()[0] + ".vessel")
        code, err = pack(vessel, ["--oci", tarball, "-o", app, "--name", "hello-oci"])
        if not t.ok(code == 0, f"vessel pack --oci of an {kind}", err):
            continue
        g = Guest(vessel, [app])
        done = g.wait_for(b"vessel-oci: exit 0", TIMEOUT)
        out = bytes(g.out).replace(b"\r", b"")
        t.ok(done is not None and b"hello from an OCI image from-cmd in /app/data\n" in out,
             f"{kind}: the entrypoint prints the known line with its env, cmd and workdir",
             g.tail())
        t.ok(b"whiteout applied\n" in out and b"layer one is below\n" in out,
             f"{kind}: the upper layer's whiteout removed the lower layer's file", g.tail())
        code = g.wait_exit(60)
        t.ok(code == 0, f"{kind}: the VM powers off when the entrypoint ends", g.tail())
        g.kill()
    bad = os.path.join(tmp, "bad.tar")
    with open(bad, "wb") as f:
        f.write(tar_bytes([("hello.txt", b"hi", 0o644, None)]))
    code, err = pack(vessel, ["--oci", bad, "-o", os.path.join(tmp, "bad.vessel")], 60)
    t.ok(code == 2 and "neither an OCI image layout" in err, "a tarball that is no image: exit 2",
         err)


def main():
    vessel = vessel_path()
    t = Tap()
    if not guest_present():
        t.skip("appliance tests", "default guest not built (scripts/build-guest.sh)")
        return t.done()
    if not shutil.which("mkfs.ext4") or not shutil.which("debugfs"):
        t.skip("appliance tests", "e2fsprogs missing")
        return t.done()
    tmp = tempfile.mkdtemp(prefix="vessel-appliance-")
    cache = os.path.join(tmp, "cache")
    os.makedirs(os.path.join(cache, "guest"))
    for k, p in guest_files().items():
        os.symlink(p, os.path.join(cache, "guest", k))
    os.environ["VESSEL_CACHE"] = cache  # the test's own appliance cache
    try:
        r = http_appliance(vessel, t, tmp)
        if r:
            damaged(vessel, t, tmp, *r)
        oci_images(vessel, t, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
