"""test_boot.py — boot the default Debian guest with `vessel run` and check it from inside:
kernel version, CPU model, interrupts through the IOAPIC, a clean dmesg, bulk data integrity
(sha256 of 16 MiB), floating point (busybox awk against the host's busybox), wall clock, timer
accuracy, power-off (exit 0), a forced panic (non-zero) and a reboot (exit 0). Skips when the guest isn't built.
VESSEL_BOOT_TIMEOUT (seconds, default 600) bounds the wait for the ready line."""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import READY_LINE, Guest, Tap, guest_present, manifest, vessel_path

BAD_DMESG = re.compile(r"BUG:|WARNING:|Oops|Kernel panic|unchecked MSR|ACPI Error|"
                       r"clocksource .* unstable")
# Debian's busybox awk has no libm functions (sqrt, exp, ...): arithmetic and formatting only.
AWK_SCRIPT = ('BEGIN { for (i = 1; i <= 25; i++) { x = i / 7; y = x * x * 3.14159 - i / 3; '
              'printf "%.12g %.6e %d %.3f %g\\n", x, y, int(y * 1000), 1 / (i + 0.5), '
              'y * 1e300 * 1e-310 } }')
BULK_LINE = b"vessel 0123456789abcdef\n"
BULK_SIZE = 16 << 20


def boot(vessel, t, tag, timeout):
    log = os.path.join(tempfile.gettempdir(), f"vessel-boot-{tag}-{os.getpid()}.log")
    g = Guest(vessel, log_path=log)
    t0 = time.monotonic()
    ready = g.wait_for(READY_LINE, timeout)
    ok = t.ok(ready is not None, f"{tag}: guest reaches '{READY_LINE.decode()}'",
              f"after {time.monotonic() - t0:.0f}s, exit={g.proc.poll()} (console log {log})\n"
              + g.tail())
    if ok:
        t.comment(f"{tag}: ready after {time.monotonic() - t0:.1f}s")
        # Wait for the shell prompt, then make the terminal quiet and predictable: no echo, and
        # kernel messages only in the log (the "dmesg is clean" check reads them there), never
        # in the middle of a command's output.
        g.wait_for(b"# ", 60, ready)
        g.run("stty -echo 2>/dev/null; dmesg -n 1; true", 60)
    return g, ok


def interrupts(text):
    """{name: (count, line)} from /proc/interrupts (single CPU)."""
    out = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            name = parts[0].rstrip(":")
            out[name] = (int(parts[1]), line)
            # Numbered IRQ lines end in the device name ("... IO-APIC 4-edge ttyS0").
            if name.isdigit():
                out[parts[-1]] = (int(parts[1]), line)
    return out


def main_tests(vessel, t, timeout):
    names = ["uname -r is the kernel package's version", "cpuinfo shows the vessel CPU",
             "timer (LOC) and ttyS0 (IO-APIC) interrupt counts rising",
             "dmesg is clean", "sha256 of 16 MiB matches the host",
             "busybox awk floating point matches the host", "guest clock within 2 s of host",
             "sleep 2 takes 2 s of host time (1.9 to 3 s)", "poweroff exits 0"]
    g, ok = boot(vessel, t, "boot", timeout)
    if not ok:
        for n in names:
            t.ok(False, n, "no boot")
        g.kill()
        return
    try:
        want = manifest().get("kernel_version", "?")
        out, st = g.run("uname -r")
        t.ok(out == want, names[0], f"guest {out!r}, manifest {want!r}")

        out, st = g.run("grep -m1 'model name' /proc/cpuinfo")
        t.ok(out is not None and "vessel virtual CPU" in out, names[1], f"got {out!r}")

        a, _ = g.run("cat /proc/interrupts")
        g.run("sleep 1")
        b, _ = g.run("cat /proc/interrupts")
        ia, ib = interrupts(a or ""), interrupts(b or "")
        good = True
        diag = f"before:\n{a}\nafter:\n{b}"
        # ttyS0 is wired to IOAPIC pin 4. On the hardware-reduced ACPI platform Linux ticks on
        # the LAPIC timer (LOC) and has no IRQ0 "timer" line; if one exists it must be IO-APIC.
        if "ttyS0" not in ib or "IO-APIC" not in ib["ttyS0"][1]:
            good = False
        if "timer" in ib and "IO-APIC" not in ib["timer"][1]:
            good = False
        for name in ("LOC", "ttyS0"):
            if name not in ia or name not in ib or ib[name][0] <= ia[name][0]:
                good = False
        t.ok(good, names[2], diag)

        out, st = g.run("dmesg", 120)
        bad = [line for line in (out or "").splitlines() if BAD_DMESG.search(line)]
        t.ok(out is not None and not bad, names[3], "\n".join(bad[:20]) or "no dmesg output")

        reps = BULK_SIZE // len(BULK_LINE) + 1
        host = hashlib.sha256((BULK_LINE * reps)[:BULK_SIZE]).hexdigest()
        out, st = g.run(f"yes '{BULK_LINE.decode().strip()}' | head -c {BULK_SIZE} | sha256sum",
                        900)
        t.ok(out is not None and out.split()[:1] == [host], names[4],
             f"guest {out!r}, host {host}")

        bb = shutil.which("busybox")
        if bb:
            host_awk = subprocess.run([bb, "awk", AWK_SCRIPT], capture_output=True,
                                      text=True).stdout.strip()
            out, st = g.run(f"awk '{AWK_SCRIPT}'", 300)
            t.ok(bool(host_awk) and out == host_awk, names[5],
                 f"guest:\n{out}\nhost:\n{host_awk}")
        else:
            t.skip(names[5], "busybox not installed on the host")

        # The guest's clock is read somewhere between sending the command and reading its
        # answer: compare with that host interval, so a loaded host that delays the answer cannot
        # make a correct clock look wrong. Slack: the guest set its clock from the RTC's whole
        # seconds at boot and `date +%s` truncates too, so it may read up to 2 s behind.
        before = time.time()
        out, st = g.run("date +%s")
        after = time.time()
        try:
            ok = before - 2 <= int(out) <= after + 1
        except (TypeError, ValueError):
            ok = False
        t.ok(ok, names[6], f"guest {out!r}, host between {before:.1f} and {after:.1f}")

        g.seq += 1
        tag = f"VSL{g.seq}"
        start = len(g.out)
        g.send(f"echo '{tag}''S'; sleep 2; echo '{tag}''E'\n")
        s = g.wait_for(f"{tag}S".encode(), 120, start)
        e = g.wait_for(f"{tag}E".encode(), 120, s or start)
        took = None
        if s is not None and e is not None:
            took = g.arrival(e - 1) - g.arrival(s - 1)
        # A sleep never ends early; on a busy host the wake-up and the echo may come late, so the
        # upper bound is loose (a clock running at half or double speed still fails).
        t.ok(took is not None and 1.9 <= took <= 3.0, names[7], f"took {took}")

        g.send("poweroff\n")
        t0 = time.monotonic()
        code = g.wait_exit(60)
        took = time.monotonic() - t0
        # How long poweroff takes is the benchmarks' business (bench/boot.py), not a test's.
        t.comment(f"poweroff took {took:.1f}s")
        t.ok(code == 0, names[8], f"exit {code} after {took:.1f}s\n" + g.tail())
    finally:
        g.kill()


def panic_test(vessel, t, timeout):
    name = "forced panic (sysrq c) exits non-zero"
    g, ok = boot(vessel, t, "panic", timeout)
    if not ok:
        t.ok(False, name, "no boot")
        g.kill()
        return
    try:
        g.send("echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger\n")
        code = g.wait_exit(120)
        err = bytes(g.err).decode(errors="replace")
        t.ok(code not in (None, 0) and "panic" in err, name, f"exit {code}\n" + g.tail())
    finally:
        g.kill()


def reboot_test(vessel, t, timeout):
    name = "reboot (sysrq b, the kernel's emergency restart) exits 0"
    g, ok = boot(vessel, t, "reboot", timeout)
    if not ok:
        t.ok(False, name, "no boot")
        g.kill()
        return
    try:
        g.send("echo 1 > /proc/sys/kernel/sysrq; echo b > /proc/sysrq-trigger\n")
        code = g.wait_exit(60)
        t.ok(code == 0, name, f"exit {code}\n" + g.tail())
    finally:
        g.kill()


def main():
    vessel = vessel_path()
    t = Tap()
    if not guest_present():
        print("1..0 # SKIP default guest not built (scripts/build-guest.sh)")
        return 0
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    main_tests(vessel, t, timeout)
    panic_test(vessel, t, timeout)
    reboot_test(vessel, t, timeout)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
