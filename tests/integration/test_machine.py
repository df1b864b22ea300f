"""test_machine.py — the board and the main loop end to end, with a 146-byte guest instead of
Linux so the checks do not depend on how far the kernel boots. The guest (a 64-bit ELF, source
in the comment below) prints "tiny: ready" on COM1 and then acts on each byte it receives:
echo it, or p = pvpanic event, o = ACPI S5 power-off, r = ACPI reset register, t = triple
fault, h = halt with interrupts off, i = idle in sti;hlt forever.

    _start: lea msg(%rip),%rsi; call puts
    wait:   mov $0x3fd,%dx; 1: pause; in (%dx),%al; test $1,%al; jz 1b
            mov $0x3f8,%dx; in (%dx),%al; cmp/je p,o,r,t,h,i; call putc; jmp wait
    panic:  out 1 -> 0x505      off: out 0x34 -> 0x600      reset: out 0x0f -> 0x602
    triple: lidt zero_idt(%rip); int3      dead: cli; hlt      idle: sti; hlt; jmp idle
    putc:   out %al -> 0x3f8     puts: lodsb loop     msg: "tiny: ready\\n"
"""

import os
import signal
import struct
import tempfile
import time

from harness import Guest, Tap, vessel_path

TINY_CODE = bytes.fromhex(
    "488d3574000000e86200000066bafd03f390eca80174f966baf803ec3c70741b3c6f74203c7274253c74742a"
    "3c68742e3c69742ee82d000000ebd166ba0505b001eeebc866ba0006b034eeebbf66ba0206b00feeebb60f01"
    "1d2b000000ccfaf4ebfcfbf4ebfc5266baf803ee5ac3ac84c07407e8eeffffffebf4c374696e793a2072656164"
    "790a0000000000000000000000")
LOAD_ADDR = 0x100000
READY = b"tiny: ready"


def tiny_elf(path):
    """A minimal x86-64 ELF: one PT_LOAD of the whole file at 1 MiB, entry at the code."""
    ehsize, phsize = 64, 56
    code_off = ehsize + phsize
    total = code_off + len(TINY_CODE)
    eh = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 2, 0x3E, 1,
                     LOAD_ADDR + code_off, ehsize, 0, 0, ehsize, phsize, 1, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, LOAD_ADDR, LOAD_ADDR, total, total, 0x1000)
    with open(path, "wb") as f:
        f.write(eh + ph + TINY_CODE)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(vessel, kernel, *extra):
    g = Guest(vessel, ["--kernel", kernel, "--memory", "64M", *extra])
    return g, g.wait_for(READY, 60) is not None


def main():
    vessel = vessel_path()
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="vessel-machine-")
    kernel = os.path.join(tmp, "tiny.elf")
    tiny_elf(kernel)

    # Console round trip, including Ctrl-A Ctrl-A as a literal Ctrl-A, then pvpanic.
    g, ok = start(vessel, kernel)
    t.ok(ok, "tiny guest boots and prints on COM1", g.tail())
    g.send("vessel-42\x01\x01!")  # none of the command letters
    t.ok(g.wait_for(b"vessel-42\x01!", 30) is not None, "input reaches the guest and is echoed",
         g.tail())
    g.send("p")
    code = g.wait_exit(30)
    err = bytes(g.err).decode(errors="replace")
    t.ok(code == 3 and "panic" in err, "pvpanic event: exit 3 with a message",
         f"exit {code}\n{err}")
    g.kill()

    cases = [
        ("o", [], 0, "", "ACPI power-off: exit 0"),
        ("r", [], 0, "", "ACPI reset with --reboot=exit: exit 0"),
        ("t", [], 4, "triple fault", "triple fault: exit 4 with a register dump"),
        ("h", [], 4, "interrupts disabled", "cli;hlt: exit 4 instead of hanging"),
    ]
    for key, extra, want, needle, name in cases:
        g, ok = start(vessel, kernel, *extra)
        if ok:
            g.send(key)
        code = g.wait_exit(30)
        err = bytes(g.err).decode(errors="replace")
        good = ok and code == want and needle in err
        if want == 4:
            good = good and "rip=" in err
        t.ok(good, name, f"ready={ok} exit {code}\n{err}")
        g.kill()

    # Virtio devices on the PCI bus (a disk, user networking, rng) don't disturb the board.
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    g, ok = start(vessel, kernel, "--disk", disk, "--disk", disk + ",ro", "--net", "user",
                  "--rng", "on")
    if ok:
        g.send("o")
    code = g.wait_exit(30)
    t.ok(ok and code == 0, "board with virtio-blk x2, virtio-net (slirp), virtio-rng",
         f"exit {code}\n" + g.tail())
    g.kill()
    g = Guest(vessel, ["--kernel", kernel, "--net", "carrier-pigeon"])
    code = g.wait_exit(30)
    err = bytes(g.err).decode(errors="replace")
    t.ok(code == 2 and "--net" in err and len(err.strip().splitlines()) == 1,
         "unknown --net back-end: exit 2, one line", f"exit {code}\n{err}")
    g.kill()

    # --reboot=restart: the reset boots the guest again, which then powers off.
    g, ok = start(vessel, kernel, "--reboot=restart")
    if ok:
        first = g.wait_for(READY, 1)
        g.send("r")
        again = g.wait_for(READY, 30, first)
        if again:
            g.send("o")
    code = g.wait_exit(30)
    t.ok(ok and again is not None and code == 0, "reset with --reboot=restart boots again",
         f"exit {code}\n" + g.tail())
    g.kill()

    # An idle guest (sti; hlt, nothing pending) costs the host next to nothing; Ctrl-A x quits.
    g, ok = start(vessel, kernel)
    if ok:
        g.send("i")
        time.sleep(0.5)
        c0 = cpu_seconds(g.proc.pid)
        time.sleep(2)
        used = cpu_seconds(g.proc.pid) - c0
        t.ok(used < 0.2, "idle guest uses < 10% of a host core", f"{used:.2f}s CPU in 2s")
        g.send("\x01x")
        code = g.wait_exit(30)
        t.ok(code == 0, "Ctrl-A x quits with status 0", f"exit {code}\n" + g.tail())
    else:
        t.ok(False, "idle guest uses < 10% of a host core", g.tail())
        t.ok(False, "Ctrl-A x quits with status 0", "no boot")
    g.kill()

    # --console file:PATH: output goes to the file; a signal still ends vessel.
    out = os.path.join(tmp, "console.txt")
    g = Guest(vessel, ["--kernel", kernel, "--memory", "64M", "--console", "file:" + out])
    deadline = time.monotonic() + 60
    seen = False
    while time.monotonic() < deadline and not seen and g.proc.poll() is None:
        time.sleep(0.2)
        with open(out, "rb") if os.path.exists(out) else open(os.devnull, "rb") as f:
            seen = READY in f.read()
    t.ok(seen and not g.out, "--console file:PATH gets the guest output, stdout stays empty",
         f"seen={seen} stdout={bytes(g.out)[:200]!r}")
    g.proc.send_signal(signal.SIGTERM)
    code = g.wait_exit(30)
    t.ok(code == -signal.SIGTERM, "SIGTERM ends vessel", f"exit {code}")
    g.kill()
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
