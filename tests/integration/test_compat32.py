"""test_compat32.py — 32-bit user space in the 64-bit Debian guest: compatibility mode.

compat32.c is built on the host with `gcc -m32 -static` (scripts/setup.sh installs
gcc-multilib) and reaches the guest as a raw read-only disk; the guest kernel runs it through its
IA-32 emulation, so the engine executes it in compatibility mode: 32-bit decoding, the 64-bit
IDT for its page faults and interrupts, the vDSO's system-call entry (SYSENTER for vessel's
Intel CPU model, checked by the program from the bytes of __kernel_vsyscall), INT 0x80, IRET
and SYSRET back to a 32-bit code segment, %gs from the TLS descriptor set_thread_area installs.
The expected output is the same source built -m64 and run on the host (the host kernel need not
run 32-bit programs): every line must match, except `bits=` (32 in the guest) and `entry=`
(sysenter). The program checks integer, 64-bit, floating-point and string work, a signal
handler for a raised signal and for a page fault, the vDSO clock and a fork/exec loop of
itself. VESSEL_BOOT_TIMEOUT bounds the wait for the ready line."""

import os
import shutil
import subprocess

from harness import guest_present, run_test, start_guest, vessel_path

HERE = os.path.dirname(os.path.abspath(__file__))


def build(tmp, bits):
    """The program built with -m32 or -m64: (path, None) or (None, why)."""
    exe = os.path.join(tmp, f"compat{bits}")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, f"-m{bits}", "-static", "-O2", "-o", exe,
                        os.path.join(HERE, "compat32.c"), "-lm"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"{cc} -m{bits} -static failed (install gcc-multilib):\n{r.stderr[-2000:]}"
    return exe, None


def disk_of(exe, tmp):
    img = os.path.join(tmp, "compat32.img")
    shutil.copy(exe, img)
    with open(img, "r+b") as f:
        f.truncate((os.path.getsize(exe) + 4095) // 4096 * 4096)
    return img


def body(t, tmp, procs):
    vessel = vessel_path()
    if not guest_present():
        t.skip("compat32", "guest image missing")
        return
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    exe32, why = build(tmp, 32)
    if not t.ok(exe32 is not None, "the 32-bit program builds (gcc -m32 -static)", why):
        return
    exe64, why = build(tmp, 64)
    if not t.ok(exe64 is not None, "the reference program builds (-m64)", why):
        return
    ref = subprocess.run([exe64, exe64], capture_output=True, text=True, timeout=120)
    want = ref.stdout.splitlines()
    t.ok(ref.returncode == 0 and want and want[-1] == "done", "the reference runs on the host",
         ref.stdout + ref.stderr)
    want = ["bits=32" if w.startswith("bits=") else
            "entry=sysenter" if w.startswith("entry=") else w for w in want]
    img = disk_of(exe32, tmp)
    g = start_guest(vessel, t, "compat32", ["--disk", img + ",readonly"], timeout,
                    os.path.join(tmp, "guest.log"))
    if g is None:
        return
    procs.append(g)
    size = os.path.getsize(exe32)
    out, st = g.run(f"head -c {size} /dev/vda > /tmp/c32 && chmod +x /tmp/c32 && echo copied", 120)
    t.ok(st == 0 and out == "copied", "the program reaches the guest", out)
    out, st = g.run("/tmp/c32 /tmp/c32", 600)
    got = (out or "").splitlines()
    t.ok(st == 0, "the 32-bit program exits with status 0", f"status {st}\n{out}")
    t.ok(got[:1] == ["bits=32"], "it runs as a 32-bit program", out)
    for w in want:
        t.ok(w in got, f"output: {w}", f"--- full output:\n{out}")
    t.ok(got == want, "the whole output matches the 64-bit reference line for line",
         "\n".join(["--- want:"] + want + ["--- got:"] + got))
    out, st = g.run("echo alive", 60)
    t.ok(out == "alive", "the guest still runs commands afterwards", f"{out}\n{g.tail()}")


if __name__ == "__main__":
    raise SystemExit(run_test(body, "vessel-compat32-"))
