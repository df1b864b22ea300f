"""test_bios.py — firmware boot (`vessel run --bios`, issue 16): Debian's SeaBIOS from the reset
vector, then a disk's own bootloader, then the Debian kernel.

1. SeaBIOS on an empty disk: it starts (its banner on the serial console through
   etc/sercon-port), finds the virtio-blk disk over PCI (its debug log, --firmware-log) and
   reports that nothing on it boots.
2. A disk built here without root from Debian packages: a FAT file system (mkfs.fat) with
   SYSLINUX installed through mtools (`syslinux --install`), holding the default guest's vmlinuz
   and initrd.img and a syslinux.cfg with a marker on the kernel command line. SeaBIOS boots it,
   SYSLINUX loads the kernel, the guest reaches its ready line with the marker in /proc/cmdline,
   `reboot` (no reboot= workaround on the command line; --reboot restart) goes through the
   firmware again — SeaBIOS's banner, SYSLINUX, a second ready line — and `poweroff` then ends
   vessel with status 0. The times from launch to the bootloader's banner,
   the kernel's first line and the ready line are reported as TAP comments.
Skips when the guest isn't built, Debian's SeaBIOS image or the disk tools are missing
(scripts/setup.sh installs seabios, dosfstools, mtools and syslinux).
VESSEL_BOOT_TIMEOUT (seconds, default 600) bounds each wait."""

import os
import shutil
import subprocess
import tempfile
import time

from harness import READY_LINE, Guest, Tap, guest_files, guest_present, vessel_path

SEABIOS = "/usr/share/seabios/bios-256k.bin"
MARKER = "vessel_bios_boot=1"
SYSLINUX_CFG = f"""SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=ttyS0 panic=-1 {MARKER}
"""


def make_boot_disk(tmp):
    """A 64 MiB FAT image with SYSLINUX, the guest's kernel and initramfs; its path."""
    img = os.path.join(tmp, "boot.img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    cfg = os.path.join(tmp, "syslinux.cfg")
    with open(cfg, "w") as f:
        f.write(SYSLINUX_CFG)
    files = guest_files()
    for cmd in (["mkfs.fat", "-n", "VESSEL", img], ["syslinux", "--install", img],
                ["mcopy", "-i", img, cfg, files["vmlinuz"], files["initrd.img"], "::"]):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return img


def test_empty_disk(vessel, t, tmp, timeout):
    disk = os.path.join(tmp, "empty.img")
    with open(disk, "wb") as f:
        f.truncate(8 << 20)
    log = os.path.join(tmp, "firmware.log")
    g = Guest(vessel, ["--bios", "--memory", "256M", "--disk", disk, "--firmware-log", log])
    try:
        banner = g.wait_for(b"SeaBIOS (version", timeout)
        t.ok(banner is not None, "empty disk: SeaBIOS's banner on the serial console", g.tail())
        none = g.wait_for(b"No bootable device", timeout)
        t.ok(none is not None, "empty disk: SeaBIOS reports no bootable device", g.tail())
    finally:
        g.kill()
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    t.ok("found virtio-blk at" in text and "using modern (1.0) virtio mode" in text,
         "empty disk: SeaBIOS's log shows the virtio-blk disk (modern virtio)", text[-3000:])
    t.ok("Boot failed: not a bootable disk" in text,
         "empty disk: SeaBIOS read the disk's first sector", text[-3000:])


def test_syslinux_boot(vessel, t, tmp, timeout):
    names = ["bootable disk built without root", "SYSLINUX starts from the disk",
             "the kernel starts", "guest reaches the ready line",
             "the kernel command line is SYSLINUX's",
             "reboot goes through the firmware and the bootloader to a second ready line",
             "poweroff exits 0"]
    try:
        disk = make_boot_disk(tmp)
    except (subprocess.CalledProcessError, OSError) as e:
        t.ok(False, names[0], str(getattr(e, "stderr", b"") or e))
        for n in names[1:]:
            t.skip(n, "no disk")
        return
    t.ok(True, names[0])
    t0 = time.monotonic()
    g = Guest(vessel, ["--bios", "--memory", "512M", "--disk", disk, "--reboot", "restart"],
              log_path=os.path.join(tmp, "console.log"))
    try:
        marks = {}
        for key, pat in (("bootloader", b"SYSLINUX 6"), ("kernel", b"Linux version"),
                         ("ready", READY_LINE)):
            off = g.wait_for(pat, timeout)
            marks[key] = None if off is None else g.arrival(off - 1)
        t.ok(marks["bootloader"] is not None, names[1], g.tail())
        t.ok(marks["kernel"] is not None, names[2], g.tail())
        if not t.ok(marks["ready"] is not None, names[3], g.tail()):
            for n in names[4:]:
                t.skip(n, "no shell")
            return
        t.comment("launch to " + ", ".join(
            f"{k} {marks[k] - t0:.2f}s" for k in ("bootloader", "kernel", "ready")))
        g.wait_for(b"# ", 60)
        g.run("stty -echo 2>/dev/null; dmesg -n 1; true", 60)
        out, status = g.run("cat /proc/cmdline", 60)
        t.ok(status == 0 and out is not None and MARKER in out, names[4], repr(out))
        before = len(g.out)
        g.send("reboot\n")
        banner = g.wait_for(b"SeaBIOS (version", timeout, before)
        boot2 = g.wait_for(b"SYSLINUX 6", timeout, before) if banner is not None else None
        ready2 = g.wait_for(READY_LINE, timeout, before) if boot2 is not None else None
        t.ok(ready2 is not None, names[5], g.tail())
        if ready2 is not None:
            g.wait_for(b"# ", 60, ready2)
        g.send("poweroff\n")
        code = g.wait_exit(120)
        t.ok(code == 0, names[6], f"exit {code}\n" + g.tail())
    finally:
        g.kill()


def main():
    t = Tap()
    vessel = vessel_path()
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    tools = [x for x in ("mkfs.fat", "syslinux", "mcopy") if not shutil.which(x)]
    if not os.path.isfile(SEABIOS):
        t.skip("firmware boot", f"no {SEABIOS} (apt-get install seabios)")
        return t.done()
    tmp = tempfile.mkdtemp(prefix="vessel-bios-")
    try:
        test_empty_disk(vessel, t, tmp, timeout)
        if not guest_present():
            t.skip("boot through SYSLINUX", "guest not built (scripts/build-guest.sh)")
        elif tools:
            t.skip("boot through SYSLINUX", f"missing {' '.join(tools)} (scripts/setup.sh)")
        else:
            test_syslinux_boot(vessel, t, tmp, timeout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
