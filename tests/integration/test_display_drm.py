"""test_display_drm.py — the PCI display (--display-device bochs) under a kernel with DRM.

The guest is Debian's generic kernel (DRM, bochs.ko) with the default guest's userland, built by
scripts/build-guest-drm.sh into $VESSEL_CACHE/guest-drm on demand; the test skips, saying why,
only when that kernel cannot be obtained. It boots with the bochs-display and a VNC front end:
efifb first takes the framebuffer at BAR0 (the board set the mode as firmware would), then
bochs-drm binds (card0, EDID read, fbcon on bochsdrmfb). Through the control API's screenshot:
the console drawn by fbcon is there (not blank); a random pattern written to /dev/fb0 comes back
pixel for pixel; a DRM client in the guest (kms_pattern.c, built static on the host) sets
800x600 with a buffer of its own and the screenshot is exactly that buffer at 800x600 (a VNC
client gets the new size too), and when it exits the console's mode comes back. Under Xvfb
the window front end follows the same mode changes (xwd of the window).
VESSEL_BOOT_TIMEOUT bounds the wait for the ready line."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import Tap, cache_dir, free_port, start_guest, vessel_path
from test_display import read_png, read_ppm, read_xwd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
W, H = 1024, 768
MW, MH, SEED = 800, 600, 0x5EED


def guest_drm():
    """(kernel, initrd) of the DRM guest, building it if needed; or (None, reason)."""
    out = os.path.join(cache_dir(), "guest-drm")
    try:
        r = subprocess.run([os.path.join(ROOT, "scripts", "build-guest-drm.sh")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1200)
        code, log = r.returncode, r.stdout.decode(errors="replace").strip()[-300:]
    except (OSError, subprocess.TimeoutExpired) as e:
        code, log = -1, str(e)
    k, i = os.path.join(out, "vmlinuz"), os.path.join(out, "initrd.img")
    if code != 0 or not (os.path.isfile(k) and os.path.isfile(i)):
        return None, "cannot build the DRM guest (Debian's linux-image-amd64): " + log
    return (k, i), None


def pattern_fb():
    """A random XRGB8888 frame for /dev/fb0 (bytes B, G, R, 0) and its RGB bytes."""
    import random
    rnd = random.Random(2121)
    bgrx = bytearray(rnd.randbytes(W * H * 4))
    bgrx[3::4] = bytes(W * H)
    rgb = bytearray(W * H * 3)
    rgb[0::3], rgb[1::3], rgb[2::3] = bgrx[2::4], bgrx[1::4], bgrx[0::4]
    return bytes(bgrx), bytes(rgb)


def kms_pixel(x, y, seed):
    """kms_pattern.c's pixel."""
    m = 0xFFFFFFFF
    v = ((x * 0x9E3779B1) & m) ^ ((y * 0x85EBCA77) & m) ^ seed
    v ^= v >> 15
    v = (v * 0x2C1B3C6D) & m
    v ^= v >> 12
    return v & 0xFFFFFF


def kms_rgb(w, h, seed):
    out = bytearray(w * h * 3)
    o = 0
    for y in range(h):
        for x in range(w):
            p = kms_pixel(x, y, seed)
            out[o], out[o + 1], out[o + 2] = p >> 16, (p >> 8) & 255, p & 255
            o += 3
    return bytes(out)


def diff(a, b, w):
    bad = [i // 3 for i in range(0, min(len(a), len(b)), 3) if a[i:i + 3] != b[i:i + 3]]
    where = [(p % w, p // w, a[3 * p:3 * p + 3].hex(), b[3 * p:3 * p + 3].hex()) for p in bad[:6]]
    return len(bad) + abs(len(a) - len(b)) // 3, where


def screenshot(vessel, sock, path):
    """(w, h, rgb) of the display now, through the API; None if it failed."""
    r = subprocess.run([vessel, "screenshot", sock, path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0 or not os.path.isfile(path):
        return None
    return read_png(path)


def settle(vessel, sock, path, want, tries=20):
    """Screenshots until one has the size `want` and stops changing (the guest's damage
    worker copies fbdev writes within a few ticks)."""
    last = None
    for _ in range(tries):
        s = screenshot(vessel, sock, path)
        if s and (s[0], s[1]) == want and last and s[2] == last[2]:
            return s
        last = s
        time.sleep(0.5)
    return last


def start_kms(g, size):
    """Copy kms_pattern from the disk (after the /dev/fb0 pattern) and start it in the
    background; its output once it has set the mode (or given up)."""
    blocks = (size + 4095) // 4096
    out, _ = g.run(f"dd if=/dev/vda of=/tmp/kms bs=4096 skip={W * H * 4 // 4096} "
                   f"count={blocks} 2>/dev/null; head -c {size} /tmp/kms > "
                   "/tmp/kms_pattern; chmod +x /tmp/kms_pattern; "
                   f"(/tmp/kms_pattern {MW} {MH} {SEED} > /tmp/kms.out 2>&1 &); "
                   "for i in 1 2 3 4 5 6 7 8 9 10; do grep -q 'kms:' /tmp/kms.out && break; "
                   "sleep 1; done; cat /tmp/kms.out")
    return out


def window_test(vessel, t, timeout, tmp, files, disk, kms_size):
    """The window front end (SDL2 under Xvfb) follows the guest's mode: the client's 800x600
    buffer in a window of that size, then the console's size again."""
    if not shutil.which("Xvfb") or not shutil.which("xwd"):
        t.skip("window: mode changes under Xvfb", "Xvfb or xwd missing (scripts/setup.sh)")
        return
    if not kms_size:
        t.skip("window: mode changes under Xvfb", "cannot build a static binary with cc")
        return
    kernel, initrd = files
    disp = f":{90 + (os.getpid() + 7) % 100}"
    xvfb = subprocess.Popen(["Xvfb", disp, "-screen", "0", f"{W + 160}x{H + 120}x24",
                             "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    time.sleep(2)
    os.environ["DISPLAY"] = disp
    log = os.path.join(tempfile.gettempdir(), f"vessel-display-drm-window-{os.getpid()}.log")
    g = None
    try:
        g = start_guest(vessel, t, "window", [
            "--kernel", kernel, "--initrd", initrd, "--memory", "512M", "--display", "window",
            "--display-device", "bochs", "--resolution", f"{W}x{H}", "--disk",
            f"{disk},readonly"], timeout, log, quiet_kernel=False)
        if not g:
            return
        out = start_kms(g, kms_size)
        t.ok(out is not None and f"kms: on {MW}x{MH}" in out,
             f"window: the DRM client sets {MW}x{MH}", out)
        want = kms_rgb(MW, MH, SEED)

        def capture(name, size, rgb):
            res = None
            for _ in range(10):  # the window thread resizes, then redraws
                time.sleep(1)
                dump = os.path.join(tmp, name)
                r = subprocess.run(["xwd", "-display", disp, "-name", "vessel", "-out", dump],
                                   capture_output=True, timeout=60)
                if r.returncode != 0:
                    continue
                res = read_xwd(dump)
                if (res[0], res[1]) == size and (rgb is None or res[2] == rgb):
                    break
            return res

        res = capture("mode.xwd", (MW, MH), want)
        bad, where = diff(res[2], want, MW) if res else (-1, None)
        t.ok(res is not None and (res[0], res[1]) == (MW, MH) and bad == 0,
             f"window: the window is {MW}x{MH} and shows the client's buffer pixel for pixel",
             None if res is None else f"{res[0]}x{res[1]}, {bad} pixels differ, first {where}")
        g.run("kill $(pidof kms_pattern)")
        res = capture("back.xwd", (W, H), None)
        t.ok(res is not None and (res[0], res[1]) == (W, H),
             f"window: back to {W}x{H} when the client exits",
             None if res is None else f"{res[0]}x{res[1]}")
    finally:
        if g:
            g.send("poweroff -f\n")
            if g.wait_exit(60) is None:
                g.kill()
            g.kill()
        os.environ.pop("DISPLAY", None)
        xvfb.terminate()
        xvfb.wait(10)


def run(vessel, client, t, timeout, tmp, files):
    kernel, initrd = files
    cc = os.environ.get("CC", "cc")
    kms = os.path.join(tmp, "kms_pattern")
    r = subprocess.run([cc, "-static", "-O2", "-o", kms, os.path.join(HERE, "kms_pattern.c")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    have_kms = r.returncode == 0
    bgrx, want_fb = pattern_fb()
    disk = os.path.join(tmp, "disk.img")
    kms_bytes = open(kms, "rb").read() if have_kms else b""
    with open(disk, "wb") as f:
        f.write(bgrx)  # 768 blocks of 4 KiB: the /dev/fb0 pattern
        f.write(kms_bytes)
        f.write(bytes(-f.tell() % 4096))
    sock = os.path.join(tmp, "api.sock")
    port = free_port()
    log = os.path.join(tempfile.gettempdir(), f"vessel-display-drm-{os.getpid()}.log")
    g = start_guest(vessel, t, "bochs", [
        "--kernel", kernel, "--initrd", initrd, "--memory", "512M",
        "--display", f"vnc=127.0.0.1:{port}", "--display-device", "bochs",
        "--resolution", f"{W}x{H}", "--disk", f"{disk},readonly", "--api-sock", sock],
        timeout, log, quiet_kernel=False)
    if not g:
        return disk, len(kms_bytes)
    try:
        out, _ = g.run("ls /sys/class/drm; cat /sys/class/graphics/fb0/name "
                       "/sys/class/graphics/fb0/virtual_size; lspci 2>/dev/null | grep 1234; "
                       "dmesg | grep -E 'efifb: framebuffer|bochs|EDID|fbcon'")
        t.ok(out is not None and "card0" in out.split(), "bochs: /sys/class/drm/card0 exists", out)
        t.ok(out is not None and "Initialized bochs-drm" in out and "Found EDID" in out,
             "bochs: bochs-drm bound the device and read its EDID (dmesg)", out)
        t.ok(out is not None and "efifb: framebuffer at 0xc0000000" in out,
             "bochs: before the driver, efifb ran on BAR0 as the board set it up", out)
        t.ok(out is not None and "bochs-drmdrmfb" in out and f"{W},{H}" in out,
             f"bochs: fb0 is bochs-drm's, at the EDID's preferred {W}x{H}", out)
        out, _ = g.run("dmesg | grep -E 'fb0|frame buffer device'")
        t.ok(out is not None and "bochs-drmdrmfb" in out and "frame buffer device" in out,
             "bochs: fbcon runs on bochs-drm's framebuffer", out)

        # fbcon's text on the screen: a line of its own, then the frame is not blank.
        g.run("echo 'vessel bochs-display console line' > /dev/tty1; sleep 1")
        s = settle(vessel, sock, os.path.join(tmp, "console.png"), (W, H))
        lit = sum(1 for i in range(0, len(s[2]), 3) if s[2][i:i + 3] != b"\0\0\0") if s else 0
        t.ok(s is not None and (s[0], s[1]) == (W, H) and lit > 2000,
             f"bochs: the screenshot shows fbcon's text ({lit} lit pixels of {W * H})",
             None if s is None else f"{s[0]}x{s[1]}")

        # A known pattern through /dev/fb0 (fbcon unbound so its cursor stays away). Two rows a
        # write: Linux 6.1's fbdev emulation computes an empty damage rectangle for a write of
        # exactly one whole row (drm_fb_helper_memory_range_to_clip), which would then never
        # reach the screen on any bochs-display (QEMU's too).
        out, st = g.run("for c in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' "
                        "$c/name && echo 0 > $c/bind; done; "
                        f"dd if=/dev/vda of=/dev/fb0 bs={W * 8} count={H // 2} 2>&1")
        t.ok(st == 0, "bochs: the guest copies the pattern into /dev/fb0", out)
        s = settle(vessel, sock, os.path.join(tmp, "fb.png"), (W, H))
        bad, where = diff(s[2], want_fb, W) if s else (-1, None)
        t.ok(s is not None and (s[0], s[1]) == (W, H) and bad == 0,
             "bochs: the screenshot equals the /dev/fb0 pattern pixel for pixel",
             f"{bad} pixels differ, first {where}")

        if not have_kms:
            t.skip("bochs: mode set by a DRM client", "cannot build a static binary with cc")
            return disk, 0
        out = start_kms(g, len(kms_bytes))
        t.ok(out is not None and f"kms: on {MW}x{MH}" in out,
             f"bochs: a DRM client in the guest sets {MW}x{MH} with its own buffer", out)
        s = settle(vessel, sock, os.path.join(tmp, "mode.png"), (MW, MH))
        want = kms_rgb(MW, MH, SEED)
        bad, where = diff(s[2], want, MW) if s else (-1, None)
        t.ok(s is not None and (s[0], s[1]) == (MW, MH) and bad == 0,
             f"bochs: after the mode set the screenshot is the client's {MW}x{MH} buffer, "
             "pixel for pixel",
             None if s is None else f"{s[0]}x{s[1]}, {bad} pixels differ, first {where}")
        if client:
            ppm = os.path.join(tmp, "vnc.ppm")
            r = subprocess.run([client, f"127.0.0.1:{port}", "--capture", ppm],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            ok = r.returncode == 0 and os.path.isfile(ppm)
            w, h, px = read_ppm(ppm) if ok else (0, 0, b"")
            bad, where = diff(px, want, MW) if ok else (-1, None)
            t.ok(ok and (w, h) == (MW, MH) and bad == 0,
                 f"bochs: a VNC client's frame is the {MW}x{MH} buffer too",
                 f"{w}x{h}, {bad} pixels differ, first {where}; {r.stdout.decode()[-300:]}")
        g.run("kill $(pidof kms_pattern); sleep 1")
        s = settle(vessel, sock, os.path.join(tmp, "back.png"), (W, H))
        t.ok(s is not None and (s[0], s[1]) == (W, H),
             f"bochs: when the client exits the console's {W}x{H} mode comes back",
             None if s is None else f"{s[0]}x{s[1]}")
    finally:
        g.send("poweroff -f\n")
        if g.wait_exit(60) is None:
            g.kill()
        g.kill()
    return disk, len(kms_bytes)


def main():
    vessel = vessel_path()
    client = sys.argv[2] if len(sys.argv) > 2 else None
    t = Tap()
    files, why = guest_drm()
    if not files:
        t.skip("display-drm", why)
        return t.done()
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory() as tmp:
        disk, kms_size = run(os.path.abspath(vessel), client, t, timeout, tmp, files)
        window_test(os.path.abspath(vessel), t, timeout, tmp, files, disk, kms_size)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
