"""test_display.py — the display card on the real Debian guest, seen through real clients.

VNC (--display vnc): efifb binds to the framebuffer and fbcon puts the console on it, the i8042
driver finds the AUX (mouse) port on IRQ 12; a command
typed through a VNC client (tests/integration/vnc_client.c, libvncclient) into the shell on tty1
creates a file the serial console then sees; the guest copies a random pattern from a disk into
/dev/fb0 and the VNC client's frame equals it pixel for pixel; the CPU time of an idle guest
with the display on is measured with the cursor blinking (reported), then still, without and
with a viewer (each < 1% of a host core).
Window (--display window) under Xvfb: the same pattern, captured from the X server with xwd,
equals it pixel for pixel. Skips what its tools (guest, Xvfb, xwd) are missing for.
VESSEL_BOOT_TIMEOUT bounds the wait for the ready line."""

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import apiclient
from harness import (Guest, Tap, free_port, guest_files, guest_present, start_guest,
                     vessel_path)

W, H = 640, 480
IDLE_SECONDS = 10


def make_pattern(path):
    """A random XRGB8888 frame (what the guest writes to /dev/fb0); returns its RGB bytes."""
    rnd = random.Random(21)
    bgrx = bytearray(rnd.randbytes(W * H * 4))
    bgrx[3::4] = bytes(W * H)
    with open(path, "wb") as f:
        f.write(bgrx)
    rgb = bytearray(W * H * 3)
    rgb[0::3], rgb[1::3], rgb[2::3] = bgrx[2::4], bgrx[1::4], bgrx[0::4]
    return bytes(rgb)


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, dims, maxval, pixels = data.split(b"\n", 3)
    w, h = map(int, dims.split())
    return w, h, pixels


def read_xwd(path):
    """(width, height, RGB bytes) of a ZPixmap xwd dump with 32 bits per pixel."""
    with open(path, "rb") as f:
        data = f.read()
    hdr = struct.unpack(">25I", data[:100])
    header_size, fmt, depth, w, h = hdr[0], hdr[2], hdr[3], hdr[4], hdr[5]
    byte_order, bpp, bpl, ncolors = hdr[7], hdr[11], hdr[12], hdr[19]
    rmask, gmask, bmask = hdr[14], hdr[15], hdr[16]
    if fmt != 2 or bpp != 32:
        raise ValueError(f"xwd format {fmt}, {bpp} bits per pixel")
    off = header_size + 12 * ncolors
    rgb = bytearray(w * h * 3)

    def shift(m):
        return (m & -m).bit_length() - 1

    rs, gs, bs = shift(rmask), shift(gmask), shift(bmask)
    endian = "<" if byte_order == 0 else ">"
    for y in range(h):
        row = struct.unpack_from(f"{endian}{w}I", data, off + y * bpl)
        o = y * w * 3
        rgb[o + 0:o + 3 * w:3] = bytes((p >> rs) & 255 for p in row)
        rgb[o + 1:o + 3 * w:3] = bytes((p >> gs) & 255 for p in row)
        rgb[o + 2:o + 3 * w:3] = bytes((p >> bs) & 255 for p in row)
    return w, h, bytes(rgb)


def read_png(path):
    """(width, height, RGB bytes) of an 8-bit RGB, non-interlaced PNG (what vessel writes)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, color, interlace) != (8, 2, 0):
                raise ValueError(f"PNG depth {depth} color type {color} interlace {interlace}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, bpp = zlib.decompress(idat), w * 3, 3
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        row = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        ftype, line = row[0], bytearray(row[1:])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        out += line
        prev = line
    return w, h, bytes(out)


def diff_pixels(a, b):
    """How many pixels differ, and where the first few are (x, y, got, want)."""
    bad = [i // 3 for i in range(0, min(len(a), len(b)), 3) if a[i:i + 3] != b[i:i + 3]]
    where = [(p % W, p // W, a[3 * p:3 * p + 3].hex(), b[3 * p:3 * p + 3].hex()) for p in bad[:8]]
    return len(bad) + abs(len(a) - len(b)) // 3, where


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boot(vessel, t, tag, args, timeout, env=None):
    log = os.path.join(tempfile.gettempdir(), f"vessel-display-{tag}-{os.getpid()}.log")
    if env:
        os.environ.update(env)
    # kernel messages stay on: the framebuffer checks read fbcon's own lines
    return start_guest(vessel, t, tag, args, timeout, log, quiet_kernel=False)


def fb_setup_checks(g, t, tag):
    out, _ = g.run("cat /sys/class/graphics/fb0/name /sys/class/graphics/fb0/virtual_size "
                   "/sys/class/graphics/fb0/bits_per_pixel")
    t.ok(out is not None and "EFI VGA" in out and f"{W},{H}" in out and "32" in out,
         f"{tag}: efifb drives the framebuffer at {W}x{H}x32", out)
    out, _ = g.run("dmesg | grep -c 'switching to colour frame buffer device'")
    t.ok(out is not None and out.strip() not in ("", "0"),
         f"{tag}: fbcon took the console", out)
    out, _ = g.run("dmesg | grep 'i8042'; grep i8042 /proc/interrupts")
    t.ok(out is not None and "AUX port" in out and "12-edge" in out,
         f"{tag}: Linux finds the PS/2 mouse port (AUX, IOAPIC pin 12)", out)


ABS_MAX = 32767  # the tablet's axis range (src/virtio/virtio_input.h)
BTN_LEFT = 0x110


def write_pattern(g):
    # fbcon would draw its cursor over the pattern: unbind it from the VT layer first.
    out, st = g.run("for c in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' $c/name "
                    "&& echo 0 > $c/bind; done; "
                    f"dd if=/dev/vda of=/dev/fb0 bs=4096 count={W * H * 4 // 4096} 2>&1")
    return out, st


def tablet_test(g, client, addr, t):
    """The pointer through VNC reaches the guest's evdev device of vessel's virtio tablet as
    absolute coordinates scaled to the axis range, with the button press and release."""
    out, _ = g.run("for d in /sys/class/input/event*; do "
                   "grep -qx 'vessel tablet' $d/device/name 2>/dev/null && echo ${d##*/}; done")
    if not t.ok(out is not None and out.strip().startswith("event"),
                "tablet: the guest's virtio_input driver made an event device for the tablet",
                out):
        return
    dev = "/dev/input/" + out.strip().splitlines()[0]
    x, y = 100, 50
    want = [(3, 0, x * ABS_MAX // (W - 1)), (3, 1, y * ABS_MAX // (H - 1)), (1, BTN_LEFT, 1),
            (1, BTN_LEFT, 0)]
    g.run(f"rm -f /tmp/ev; (dd if={dev} of=/tmp/ev bs=24 count=7 2>/dev/null &) ; sleep 1")
    r = subprocess.run([client, addr, "--point", f"{x},{y},0;{x},{y},1;{x},{y},0"],
                       capture_output=True, timeout=120)
    t.ok(r.returncode == 0, "tablet: the VNC client moves and clicks", r.stderr.decode())
    events = []
    for _ in range(20):
        out, _ = g.run("od -An -v -tx1 /tmp/ev 2>/dev/null")
        raw = bytes.fromhex("".join((out or "").split()))
        events = [struct.unpack_from("<HHi", raw, k + 16) for k in range(0, len(raw) - 23, 24)]
        if len(events) >= 7:
            break
        time.sleep(1)
    got = [e for e in events if e[0] != 0]
    t.ok(got == want and len(events) == 7 and events[2][0] == 0 and events[-1][0] == 0,
         "tablet: the guest reads the position (absolute, scaled) and the click, each report "
         "ended by SYN_REPORT", f"want {want}, got {events}")


def restore_test(vessel, t, tmp, sock, rgb):
    """A VM with a display, snapshotted and restored: the card and its memory come back with
    the machine, shown by the restoring process's own front end."""
    state, mem = os.path.join(tmp, "vm.state"), os.path.join(tmp, "vm.mem")
    st, body = apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
    st2, body2 = apiclient.call(sock, "PUT", "/snapshot/create",
                                {"snapshot_path": state, "mem_file_path": mem,
                                 "snapshot_type": "Full"})
    apiclient.call(sock, "PATCH", "/vm", {"state": "Resumed"})
    if not t.ok(st == 204 and st2 == 204, "vnc: a VM with a display is snapshotted",
                f"{body} {body2}"):
        return
    sock2 = os.path.join(tmp, "restored.sock")
    r = Guest(vessel, ["--restore", state, "--api-sock", sock2,
                       "--display", f"vnc=127.0.0.1:{free_port()}"],
              log_path=os.path.join(tmp, "restored.log"))
    try:
        png = os.path.join(tmp, "restored.png")
        end = time.monotonic() + 60
        while True:
            p = subprocess.run([vessel, "screenshot", sock2, png], capture_output=True,
                               timeout=60)
            if p.returncode == 0 or time.monotonic() > end or r.proc.poll() is not None:
                break
            time.sleep(0.5)
        if t.ok(p.returncode == 0, "vnc: the restored VM answers a screenshot",
                p.stderr.decode() + r.tail()):
            w, h, got = read_png(png)
            bad, where = diff_pixels(got, rgb)
            t.ok((w, h) == (W, H) and bad == 0,
                 "vnc: the restored VM's display shows the pattern the original drew",
                 f"{w}x{h}, {bad} pixels differ, first (x, y, got, want): {where}")
    finally:
        r.kill()
        for f in (state, mem):
            if os.path.exists(f):
                os.unlink(f)


def vnc_test(vessel, client, t, timeout, tmp):
    pattern_disk = os.path.join(tmp, "pattern.raw")
    rgb = make_pattern(pattern_disk)
    port = free_port()
    addr = f"127.0.0.1:{port}"
    shot = os.path.join(tmp, "exit.png")
    sock = os.path.join(tmp, "api.sock")
    # with --api-sock and no --kernel vessel would wait for the API to configure it
    files = guest_files()
    g = boot(vessel, t, "vnc", ["--kernel", files["vmlinuz"], "--initrd", files["initrd.img"],
                                "--display", f"vnc={addr}", "--resolution", f"{W}x{H}",
                                "--disk", f"{pattern_disk},readonly", "--memory", "256M",
                                "--screenshot-on-exit", shot, "--api-sock", sock], timeout)
    if not g:
        return
    try:
        fb_setup_checks(g, t, "vnc")

        # Idle cost. fbcon's blinking cursor is the guest's own work (a timer redrawing 8x16
        # pixels 5 times a second, about 0.5% of a core interpreted): measured and reported,
        # then turned off so that the display's own cost is what is asserted.
        time.sleep(2)

        def measure():
            c0, t0 = cpu_seconds(g.proc.pid), time.monotonic()
            time.sleep(IDLE_SECONDS)
            return (cpu_seconds(g.proc.pid) - c0) / (time.monotonic() - t0)

        t.comment(f"idle guest, display on, cursor blinking, no viewer: "
                  f"{measure() * 100:.2f}% of a host core")
        g.run("echo 0 > /sys/class/graphics/fbcon/cursor_blink")
        idle = measure()
        t.ok(idle < 0.01, f"vnc: idle guest with the display on, no viewer, uses "
             f"{idle * 100:.2f}% of a host core (< 1%)")
        hold = subprocess.Popen([client, addr, "--hold", str(IDLE_SECONDS + 4)],
                                stderr=subprocess.PIPE)
        time.sleep(2)
        viewed = measure()
        hold.wait(30)
        t.ok(viewed < 0.01, f"vnc: with a viewer connected the idle guest uses "
             f"{viewed * 100:.2f}% of a host core (< 1%)")
        g.run("echo 1 > /sys/class/graphics/fbcon/cursor_blink")

        # Keys: the guest keeps a shell on tty1 (the VT the keyboard feeds) when it has a
        # framebuffer; a command typed through VNC runs there.
        # (the shell reading tty1, its name and its controlling tty: 4:1 is 1025 in stat)
        out, _ = g.run("for p in /proc/[0-9]*; do [ \"$(readlink $p/fd/0)\" = /dev/tty1 ] && "
                       "echo $(cat $p/comm) $(cut -d' ' -f7 $p/stat); done")
        t.ok(out is not None and "sh 1025" in out.splitlines(),
             "vnc: the guest runs a shell on the framebuffer's console, tty1 its terminal", out)
        typed = subprocess.run([client, addr, "--type", "echo typed-over-vnc > /tmp/vnc-keys\n",
                                "--capture", os.path.join(tmp, "typed.ppm")],
                               capture_output=True, timeout=120)
        t.ok(typed.returncode == 0, "vnc: the client connects and types", typed.stderr.decode())
        out = None
        for _ in range(30):
            out, _ = g.run("cat /tmp/vnc-keys 2>/dev/null")
            if out and "typed-over-vnc" in out:
                break
            time.sleep(1)
        t.ok(out is not None and "typed-over-vnc" in out,
             "vnc: a command typed through VNC runs in the guest shell", out)

        tablet_test(g, client, addr, t)

        out, st = write_pattern(g)
        t.ok(st == 0, "vnc: the guest copies the pattern into /dev/fb0", out)
        cap = os.path.join(tmp, "pattern.ppm")
        r = subprocess.run([client, addr, "--capture", cap], capture_output=True, timeout=120)
        if t.ok(r.returncode == 0, "vnc: the client captures a frame", r.stderr.decode()):
            w, h, got = read_ppm(cap)
            bad, where = diff_pixels(got, rgb)
            t.ok((w, h) == (W, H) and bad == 0,
                 "vnc: the captured frame equals the guest's pattern pixel for pixel",
                 f"{w}x{h}, {bad} pixels differ, first (x, y, got, want): {where}")
        # The same frame through the control API, to a path relative to the client's cwd.
        r = subprocess.run([os.path.abspath(vessel), "screenshot", sock, "api.png"], cwd=tmp,
                           capture_output=True, timeout=60)
        api_png = os.path.join(tmp, "api.png")
        if t.ok(r.returncode == 0 and os.path.isfile(api_png),
                "vnc: `vessel screenshot SOCK api.png` writes the frame through the API",
                r.stderr.decode()):
            w, h, got = read_png(api_png)
            bad, where = diff_pixels(got, rgb)
            t.ok((w, h) == (W, H) and bad == 0, "vnc: the API screenshot equals the pattern",
                 f"{w}x{h}, {bad} pixels differ, first (x, y, got, want): {where}")
        r = subprocess.run([vessel, "screenshot", sock, "/nonexistent-dir/x.png"],
                           capture_output=True, timeout=60)
        t.ok(r.returncode == 1 and b"nonexistent-dir" in r.stderr,
             "vnc: an unwritable screenshot path is a 400 naming it, exit 1", r.stderr.decode())
        restore_test(vessel, t, tmp, sock, rgb)
    finally:
        g.send("poweroff -f\n")
        if g.wait_exit(60) is None:
            g.kill()
    if t.ok(os.path.isfile(shot), "vnc: --screenshot-on-exit wrote a PNG at power-off"):
        w, h, got = read_png(shot)
        bad, where = diff_pixels(got, rgb)
        t.ok((w, h) == (W, H) and bad == 0, "vnc: the PNG equals the guest's pattern",
             f"{w}x{h}, {bad} pixels differ, first (x, y, got, want): {where}")


def window_test(vessel, t, timeout, tmp):
    if not shutil.which("Xvfb") or not shutil.which("xwd"):
        t.skip("window: frame under Xvfb", "Xvfb or xwd missing (scripts/setup.sh installs them)")
        return
    pattern_disk = os.path.join(tmp, "pattern.raw")
    rgb = make_pattern(pattern_disk)
    disp = f":{90 + os.getpid() % 100}"
    xvfb = subprocess.Popen(["Xvfb", disp, "-screen", "0", f"{W + 160}x{H + 120}x24", "-nolisten",
                             "tcp"], stderr=subprocess.DEVNULL)
    time.sleep(2)
    env = {"DISPLAY": disp}
    try:
        g = boot(vessel, t, "window", ["--display", "window", "--resolution", f"{W}x{H}",
                                       "--disk", f"{pattern_disk},readonly"], timeout, env)
        if not g:
            return
        try:
            fb_setup_checks(g, t, "window")
            out, st = write_pattern(g)
            t.ok(st == 0, "window: the guest copies the pattern into /dev/fb0", out)
            time.sleep(2)  # a scan period and the window thread's redraw
            dump = os.path.join(tmp, "window.xwd")
            r = subprocess.run(["xwd", "-display", disp, "-name", "vessel", "-out", dump],
                               capture_output=True, timeout=60)
            if t.ok(r.returncode == 0, "window: xwd captures the vessel window",
                    r.stderr.decode()):
                w, h, got = read_xwd(dump)
                bad, where = diff_pixels(got, rgb)
                t.ok((w, h) == (W, H) and bad == 0,
                     "window: the window shows the guest's pattern pixel for pixel",
                     f"{w}x{h}, {bad} pixels differ, first (x, y, got, want): {where}")
        finally:
            g.send("poweroff -f\n")
            if g.wait_exit(60) is None:
                g.kill()
    finally:
        os.environ.pop("DISPLAY", None)
        xvfb.terminate()
        xvfb.wait(10)


def main():
    vessel = vessel_path()
    client = sys.argv[2] if len(sys.argv) > 2 else None
    t = Tap()
    if not guest_present():
        t.skip("display", "default guest not built (scripts/build-guest.sh)")
        return t.done()
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory() as tmp:
        vnc_test(vessel, client, t, timeout, tmp)
        window_test(vessel, t, timeout, tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
