"""test_qcow2.py — qcow2 disks on the real Debian guest, with qemu-img as the referee.
Two overlays share ext4 bases: vda over a raw base beside it, vdb over a qcow2 base in another
directory allowed with backing-dir=. The guest reads the base's file, writes its own, trims
(discard) and powers off; a third, plain disk guessed to be raw refuses a qcow2 header in
sector 0 and takes other data there; on the host the bases are unchanged byte for byte, `qemu-img check`
finds no errors and no leaks, and `qemu-img convert -O raw` of each overlay holds the guest's
file (read with debugfs). Then a guest writing in a loop is killed with SIGKILL: `qemu-img
check` finds no corruption (leaked clusters are allowed), the overlay boots again and its file
system mounts, and that run's open repaired the refcounts (qemu-img check clean). Also the --disk errors that need no boot: a missing disk, an unknown format,
a backing file outside the allowed directories. Skips when the guest, e2fsprogs or qemu-utils
are missing. VESSEL_BOOT_TIMEOUT bounds the wait for the ready line."""

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import Tap, guest_present, start_guest, vessel_path

BASE_TEXT = b"from the shared base image\n"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_ext4(path, size_mb, files):
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0", path], check=True)
    for name, data in files.items():
        src = path + ".src"
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run(["debugfs", "-w", "-R", f"write {src} {name}", path], check=True,
                       capture_output=True)
        os.unlink(src)


def qemu_img(*args):
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True)


def debugfs_cat(image, name):
    return subprocess.run(["debugfs", "-R", f"cat {name}", image], capture_output=True).stdout


def start(vessel, t, tag, args, timeout):
    log = os.path.join(tempfile.gettempdir(), f"vessel-qcow2-{tag}-{os.getpid()}.log")
    return start_guest(vessel, t, tag, args, timeout, log)


def cli_errors(vessel, t, tmp):
    def run(args):
        p = subprocess.run([vessel, "run", *args], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr.strip()

    code, err = run(["--disk", "/nonexistent"])
    t.ok(code == 2 and "--disk /nonexistent" in err and "default guest" not in err
         and len(err.splitlines()) == 1,
         "a missing --disk names the option and path, not the default guest", err)
    code, err = run(["--disk", "/nonexistent,format=vmdk"])
    t.ok(code == 2 and "--disk" in err and "vmdk" in err, "an unknown format= is refused", err)
    os.makedirs(os.path.join(tmp, "elsewhere"))
    os.makedirs(os.path.join(tmp, "vm"))
    outside = os.path.join(tmp, "elsewhere", "b.raw")
    with open(outside, "wb") as f:
        f.truncate(1 << 20)
    ov = os.path.join(tmp, "vm", "escape.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", outside, "-F", "raw", ov)
    code, err = run(["--memory", "64M", "--disk", ov])
    t.ok(code == 2 and "--disk" in err and ov in err and "outside the allowed" in err,
         "a backing file outside the image's directory is refused, naming both", err)


def overlay_test(vessel, t, timeout, tmp):
    bases, vm = os.path.join(tmp, "bases"), os.path.join(tmp, "vm")
    os.makedirs(bases, exist_ok=True)
    os.makedirs(vm, exist_ok=True)
    raw = os.path.join(vm, "base.raw")
    make_ext4(raw, 64, {"base.txt": BASE_TEXT})
    qbase = os.path.join(bases, "base.qcow2")
    r = qemu_img("convert", "-O", "qcow2", raw, qbase)
    t.ok(r.returncode == 0, "qemu-img converts the raw base to qcow2", r.stderr)
    ov1, ov2 = os.path.join(vm, "ov1.qcow2"), os.path.join(vm, "ov2.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", ov1)
    qemu_img("create", "-f", "qcow2", "-b", qbase, "-F", "qcow2", ov2)
    digests = {p: sha256_file(p) for p in (raw, qbase)}
    plain = os.path.join(vm, "plain.img")  # probed raw: sector 0 must stay raw
    with open(plain, "wb") as f:
        f.write(b"\x55" * 512)
        f.truncate(1 << 20)

    g = start(vessel, t, "overlays", ["--memory", "256M", "--disk", ov1,
                                      "--disk", f"{ov2},backing-dir={bases}", "--disk", plain],
              timeout)
    if g is None:
        return
    guest = {}
    try:
        for dev, mnt in (("vda", "/a"), ("vdb", "/b")):
            out, st = g.run(f"mkdir -p {mnt} && mount -o discard /dev/{dev} {mnt} && "
                            f"cat {mnt}/base.txt")
            t.ok(st == 0 and out == BASE_TEXT.decode().strip(),
                 f"{dev}: the base's file shows through the overlay", out)
            out, st = g.run(f"dd if=/dev/urandom of={mnt}/guest.bin bs=1M count=24 2>/dev/null"
                            f" && dd if=/dev/urandom of={mnt}/gone.bin bs=1M count=8 2>/dev/null"
                            f" && sync && rm {mnt}/gone.bin && sync && "
                            f"sha256sum {mnt}/guest.bin && umount {mnt}", 600)
            lines = [l for l in (out or "").splitlines() if l.endswith("/guest.bin")]
            guest[dev] = lines[0].split()[0] if st == 0 and lines else None
            t.ok(guest[dev] is not None, f"{dev}: guest writes 24 MiB, deletes 8 MiB (discard)",
                 out)
        out, st = g.run("printf 'QFI\\373\\0\\0\\0\\3' > /tmp/s0 && "
                        "dd if=/tmp/s0 of=/dev/vdc bs=512 count=1 conv=sync,fsync 2>&1")
        t.ok(st not in (0, None), "vdc (guessed raw): a qcow2 header written to sector 0 fails",
             out)
        out, st = g.run("echo mbr > /tmp/s1 && "
                        "dd if=/tmp/s1 of=/dev/vdc bs=512 count=1 conv=sync,fsync 2>&1")
        t.ok(st == 0, "vdc: other data in sector 0 is written", out)
        g.send("poweroff\n")
        rc = g.wait_exit(60)
        t.ok(rc == 0, "poweroff exits 0", f"rc={rc}\n" + g.tail())
    finally:
        g.kill()

    with open(plain, "rb") as f:
        head = f.read(4)
    t.ok(head == b"mbr\n", "vdc: the image never held the qcow2 magic", repr(head))
    t.ok(all(sha256_file(p) == d for p, d in digests.items()),
         "both bases are unchanged byte for byte")
    for dev, ov in (("vda", ov1), ("vdb", ov2)):
        r = qemu_img("check", ov)
        t.ok(r.returncode == 0 and "No errors were found" in r.stdout,
             f"{dev}: qemu-img check: no errors, no leaks", r.stdout + r.stderr)
        flat = ov + ".raw"
        r = qemu_img("convert", "-O", "raw", ov, flat)
        data = debugfs_cat(flat, "/guest.bin") if r.returncode == 0 else b""
        t.ok(hashlib.sha256(data).hexdigest() == guest[dev] and len(data) == 24 << 20,
             f"{dev}: qemu-img convert of the overlay holds the guest's file (debugfs)",
             f"{len(data)} bytes, {r.stderr}")
        t.ok(debugfs_cat(flat, "/base.txt") == BASE_TEXT, f"{dev}: and the base's file")
        os.unlink(flat)
    size = os.path.getsize(ov1)
    t.ok(size < 48 << 20, "the overlay holds only what the guest wrote", f"{size} bytes")


def crash_test(vessel, t, timeout, tmp):
    vm = os.path.join(tmp, "vm")
    ov = os.path.join(vm, "crash.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", ov)
    g = start(vessel, t, "crash", ["--memory", "256M", "--disk", ov], timeout)
    if g is None:
        return
    try:
        out, st = g.run("mkdir -p /a && mount /dev/vda /a && echo mounted")
        t.ok(st == 0 and out == "mounted", "crash: overlay mounted", out)
        g.send("i=0; while true; do dd if=/dev/urandom of=/a/f$((i % 4)) bs=64k count=64 "
               "2>/dev/null; sync; i=$((i+1)); echo round $i; done\n")
        ok = g.wait_for(b"round 3", 300) is not None
        time.sleep(0.5)
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait()
        t.ok(ok, "crash: guest writes in a loop, then vessel is killed with SIGKILL", g.tail())
    finally:
        g.kill()
    r = qemu_img("check", ov)
    t.ok(r.returncode in (0, 3) and "ERROR" not in r.stdout + r.stderr,
         "crash: qemu-img check finds no corruption (leaks allowed)", r.stdout + r.stderr)
    g = start(vessel, t, "after-crash", ["--memory", "256M", "--disk", ov], timeout)
    if g is None:
        return
    try:
        out, st = g.run("mkdir -p /a && mount /dev/vda /a && cat /a/base.txt && umount /a", 120)
        t.ok(st == 0 and out == BASE_TEXT.decode().strip(),
             "crash: the overlay boots again, its file system mounts", out)
        g.send("poweroff\n")
        t.ok(g.wait_exit(60) == 0, "crash: poweroff exits 0", g.tail())
    finally:
        g.kill()
    r = qemu_img("check", ov)
    t.ok(r.returncode == 0 and "No errors were found" in r.stdout,
         "crash: the second run repaired the refcounts: qemu-img check clean, no leaks",
         r.stdout + r.stderr)


def main():
    vessel = vessel_path()
    t = Tap()
    missing = [p for p in ("mkfs.ext4", "debugfs", "qemu-img") if not shutil.which(p)]
    if not guest_present() or missing:
        t.skip("qcow2 disks", f"guest image or tools missing {missing}")
        return t.done()
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory() as tmp:
        cli_errors(vessel, t, os.path.join(tmp, "cli"))
        overlay_test(vessel, t, timeout, tmp)
        crash_test(vessel, t, timeout, tmp)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
