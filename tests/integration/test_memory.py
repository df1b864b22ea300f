"""test_memory.py — memory virtualization with the real Debian guest and its stock
virtio_balloon driver, measured from the host:

- balloon: in a 512 MiB guest that has touched most of its memory, inflating the balloon by
  200 MiB drops vessel's resident set by at least 150 MiB and the guest keeps working;
  deflating gives the memory back (the guest fills it again); the statistics the guest sends
  are plausible (its MemFree within 10% of /proc/meminfo read in the guest);
- free page reporting: memory the guest frees goes back to the host by itself;
- deflate on OOM: a guest whose balloon holds most of its RAM still runs a workload that needs
  more than is left, and the balloon shrinks;
- --memory-file: a 4 GiB guest whose RAM is a file, under a 1 GiB memory cgroup limit, runs a
  3 GiB memory-touching workload to the right checksum (the host pages the file out). Where no
  memory cgroup can be made (neither cgroup v2 nor v1's memory controller is writable), a 1 GiB
  guest runs a 768 MiB workload without a limit instead, and says so.

The workload (memtouch.c) is compiled static on the host, run on the host for the expected
checksum, and reaches the guest as a raw read-only disk. The balloon is driven as an operator
drives it: a control file and SIGUSR2, reading the one-line report vessel prints on stderr.
Skips when the guest is not built or lacks virtio_balloon (rebuild with scripts/build-guest.sh)."""

import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import (Tap, guest_present, manifest, memory_report, start_guest,
                     vessel_path)

MIB = 1 << 20
HERE = os.path.dirname(os.path.abspath(__file__))


def rss(g):
    with open(f"/proc/{g.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0




def set_balloon(g, control, size, timeout=180):
    """Write the balloon size to the control file, signal, wait until the guest holds it."""
    with open(control, "w") as f:
        f.write(f"{size}\n")
    end = time.monotonic() + timeout
    r = None
    while time.monotonic() < end:
        r = memory_report(g)
        if r and r.get("balloon_actual") == size:
            return r
        time.sleep(1)
    return r


def start(vessel, t, tag, args, timeout):
    log = os.path.join(tempfile.gettempdir(), f"vessel-memory-{tag}-{os.getpid()}.log")
    return start_guest(vessel, t, tag, args, timeout, log)


def meminfo(g, key):
    out, _ = g.run(f"grep '^{key}:' /proc/meminfo")
    m = re.search(r"(\d+) kB", out or "")
    return int(m.group(1)) * 1024 if m else None


def balloon_test(vessel, t, timeout, tmp):
    control = os.path.join(tmp, "balloon")
    with open(control, "w") as f:
        f.write("0\n")
    # reporting off: here the host gets memory back only through the balloon
    g = start(vessel, t, "balloon", ["--memory", "512M", "--balloon",
                                     f"stats=1,reporting=off,control={control}"], timeout)
    if g is None:
        return
    try:
        # touch most of the guest's memory, then free it (free in the guest, resident on the host)
        out, st = g.run("dd if=/dev/zero of=/tmp/fill bs=1M count=220 2>&1; rm /tmp/fill")
        t.ok(st == 0, "guest touches 220 MiB", out)
        free_before = meminfo(g, "MemFree")
        rss0 = rss(g)
        t.comment(f"before: vessel RSS {rss0 // MIB} MiB, guest MemFree {free_before // MIB} MiB")

        t0 = time.monotonic()
        r = set_balloon(g, control, 200 * MIB)
        took = time.monotonic() - t0
        t.ok(r is not None and r.get("balloon_actual") == 200 * MIB,
             "the guest inflates the balloon to 200 MiB", r)
        time.sleep(1)
        rss1 = rss(g)
        t.comment(f"inflated in {took:.1f} s (1 s report polling); vessel RSS {rss1 // MIB} MiB")
        t.ok(rss0 - rss1 >= 150 * MIB,
             f"vessel's RSS drops by at least 150 MiB ({(rss0 - rss1) // MIB} MiB)")
        out, st = g.run("echo $((6 * 7)); ls / | wc -l")
        t.ok(st == 0 and out is not None and out.splitlines()[0] == "42",
             "the guest keeps working with the balloon inflated", out)

        # statistics: the guest's own MemFree against what the balloon reported just after
        free_guest = meminfo(g, "MemFree")
        r = memory_report(g)
        ok = (r is not None and isinstance(r.get("guest_free"), int) and free_guest and
              abs(r["guest_free"] - free_guest) <= 0.1 * free_guest)
        t.ok(ok, "balloon statistics: guest MemFree within 10% of /proc/meminfo",
             f"report {r}, /proc/meminfo MemFree {free_guest}")
        total = meminfo(g, "MemTotal")
        t.ok(r is not None and r.get("guest_total") == total and
             isinstance(r.get("minor_faults"), int) and r.get("stats_age_ms", 9999) < 5000,
             "balloon statistics: MemTotal, fault counts, fresh", r)
        t.ok(r is not None and r.get("returned", 0) >= 200 * MIB and
             r.get("balloon_target") == 200 * MIB, "the report counts what went back to the host",
             r)

        r = set_balloon(g, control, 0)
        t.ok(r is not None and r.get("balloon_actual") == 0, "the guest deflates the balloon", r)
        free_after = meminfo(g, "MemFree")
        t.ok(free_after is not None and free_after >= 0.9 * free_before,
             f"the guest has its memory back (MemFree {free_after // MIB} MiB, "
             f"was {free_before // MIB} MiB)")
        out, st = g.run("dd if=/dev/zero of=/tmp/fill bs=1M count=220 2>&1 | tail -1; "
                        "rm /tmp/fill")
        rss2 = rss(g)
        t.ok(st == 0 and rss2 - rss1 >= 150 * MIB,
             f"the guest uses it again (vessel RSS back to {rss2 // MIB} MiB)", out)
    finally:
        g.kill()


def reporting_test(vessel, t, timeout):
    g = start(vessel, t, "reporting", ["--memory", "512M", "--balloon", "on"], timeout)
    if g is None:
        return
    try:
        out, st = g.run("dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1")
        peak = rss(g)
        g.run("rm /tmp/fill")
        low = peak
        end = time.monotonic() + 60
        while time.monotonic() < end and peak - low < 150 * MIB:
            time.sleep(1)
            low = rss(g)
        t.ok(peak - low >= 150 * MIB,
             f"free page reporting: freed guest memory goes back by itself "
             f"(RSS {peak // MIB} -> {low // MIB} MiB)")
        r = memory_report(g)
        t.ok(r is not None and r.get("reported", 0) >= 150 * MIB, "reported pages counted", r)
    finally:
        g.kill()


def build_memtouch(tmp):
    exe = os.path.join(tmp, "memtouch")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-static", "-O2", "-o", exe, os.path.join(HERE, "memtouch.c")],
                       capture_output=True)
    if r.returncode != 0:
        return None, None
    img = os.path.join(tmp, "memtouch.img")
    shutil.copy(exe, img)
    with open(img, "r+b") as f:
        f.truncate((os.path.getsize(exe) + 4095) // 4096 * 4096)
    return exe, img


def expected_checksum(exe, mib, seed):
    out = subprocess.run([exe, str(mib), str(seed)], capture_output=True, text=True).stdout
    m = re.search(r"checksum=([0-9a-f]+)", out)
    return m.group(1) if m else None


def run_memtouch(g, exe, mib, seed, timeout=1800):
    size = os.path.getsize(exe)
    g.run(f"head -c {size} /dev/vda > /tmp/memtouch && chmod +x /tmp/memtouch")
    out, st = g.run(f"/tmp/memtouch {mib} {seed}", timeout)
    m = re.search(r"bad=(\d+) checksum=([0-9a-f]+)", out or "")
    return (m.group(2) if m and m.group(1) == "0" else None), out


def oom_test(vessel, t, timeout, exe, img):
    g = start(vessel, t, "deflate-on-oom",
              ["--memory", "512M", "--balloon", "size=380M,stats=1,reporting=off",
               "--disk", img + ",readonly"], timeout)
    if g is None:
        return
    try:
        end = time.monotonic() + 180
        r = None
        while time.monotonic() < end:
            r = memory_report(g)
            if r and r.get("balloon_actual") == 380 * MIB:
                break
            time.sleep(1)
        t.ok(r is not None and r.get("balloon_actual") == 380 * MIB,
             "the balloon holds 380 MiB of 512 MiB from the start", r)
        want = expected_checksum(exe, 160, 3)
        got, out = run_memtouch(g, exe, 160, 3)
        t.ok(got is not None and got == want,
             "deflate on OOM: a 160 MiB workload completes with the right checksum", out)
        r = memory_report(g)
        t.ok(r is not None and r.get("balloon_actual", 1 << 62) < 380 * MIB,
             "and the balloon shrank to make room", r)
    finally:
        g.kill()


def own_memory_cgroup():
    """A fresh memory cgroup (path, version) under this process's own, or (None, why)."""
    name = f"vessel-test-{os.getpid()}"
    try:
        with open("/proc/self/cgroup") as f:
            lines = [l.rstrip("\n").split(":", 2) for l in f]
    except OSError as e:
        return None, str(e)
    for hid, ctrls, path in lines:
        if hid == "0" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            base = "/sys/fs/cgroup" + path
            try:
                with open(os.path.join(base, "cgroup.controllers")) as f:
                    if "memory" not in f.read().split():
                        continue
                cg = os.path.join(base, name)
                os.mkdir(cg)
                with open(os.path.join(cg, "memory.max"), "w") as f:
                    f.write(str(1 << 30))
                return cg, 2
            except OSError:
                continue
    for hid, ctrls, path in lines:
        if "memory" in ctrls.split(","):
            base = "/sys/fs/cgroup/memory" + path
            try:
                cg = os.path.join(base, name)
                os.mkdir(cg)
                with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
                    f.write(str(1 << 30))
                return cg, 1
            except OSError:
                continue
    return None, "no writable memory cgroup (v2 or v1)"


def limit_hits(cg, version):
    try:
        if version == 1:
            with open(os.path.join(cg, "memory.failcnt")) as f:
                return int(f.read())
        with open(os.path.join(cg, "memory.events")) as f:
            return sum(int(l.split()[1]) for l in f if l.split()[0] in ("max", "high"))
    except (OSError, ValueError, IndexError):
        return 0


def peak_usage(cg, version):
    name = "memory.max_usage_in_bytes" if version == 1 else "memory.peak"
    try:
        with open(os.path.join(cg, name)) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def memory_file_test(vessel, t, timeout, exe, img, tmp):
    ramdir = tempfile.mkdtemp(prefix="vessel-ram-", dir=os.environ.get("VESSEL_RAM_DIR", tmp))
    fstype = subprocess.run(["stat", "-f", "-c", "%T", ramdir], capture_output=True,
                            text=True).stdout.strip()
    cg, version = own_memory_cgroup()
    limited = cg is not None and fstype != "tmpfs"
    if limited:
        mem, mib = "4G", 3072
        wrapper = os.path.join(tmp, "in-cgroup.sh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\necho $$ > {cg}/cgroup.procs && exec {vessel} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        cmd = wrapper
        t.comment(f"memory file in {ramdir} ({fstype}); cgroup v{version} limit 1 GiB: {cg}")
    else:
        mem, mib, cmd = "1G", 768, vessel
        why = version if not cg else f"{ramdir} is on tmpfs (set VESSEL_RAM_DIR)"
        t.comment(f"smaller variant: 1 GiB guest, 768 MiB workload, no memory limit ({why})")
    try:
        g = start(cmd, t, "memory-file",
                  ["--memory", mem, "--memory-file", ramdir, "--disk", img + ",readonly"],
                  timeout)
        if g is None:
            return
        try:
            r = memory_report(g)
            t.ok(r is not None and r.get("backing") == "file" and r.get("ram") == int(mem[0]) << 30,
                 f"{mem} guest RAM is backed by a file", r)
            want = expected_checksum(exe, mib, 11)
            t0 = time.monotonic()
            got, out = run_memtouch(g, exe, mib, 11)
            t.ok(got is not None and got == want,
                 f"a {mib} MiB memory-touching workload in a {mem} guest has the right checksum "
                 f"({time.monotonic() - t0:.0f} s)", f"{out} (want {want})")
            if limited:
                hits, peak = limit_hits(cg, version), peak_usage(cg, version)
                t.comment(f"cgroup: limit reached {hits} times, peak {peak}")
                t.ok(hits > 0 and (peak is None or peak <= (1 << 30)),
                     "vessel ran against the 1 GiB limit and stayed within it")
            out, st = g.run("echo alive")
            t.ok(out == "alive", "the guest still works afterwards", out)
        finally:
            g.kill()
        t.ok(os.listdir(ramdir) == [], "nothing is left in the memory file's directory",
             os.listdir(ramdir))
    finally:
        if cg:
            for _ in range(50):
                try:
                    os.rmdir(cg)
                    break
                except OSError:
                    time.sleep(0.1)
        shutil.rmtree(ramdir, ignore_errors=True)


def main():
    vessel = vessel_path()
    t = Tap()
    if not guest_present():
        t.skip("memory", "guest image missing")
        return t.done()
    if "virtio_balloon" not in manifest().get("modules", "").split():
        t.skip("memory", "the guest has no virtio_balloon module (rebuild: scripts/build-guest.sh)")
        return t.done()
    timeout = float(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory() as tmp:
        balloon_test(vessel, t, timeout, tmp)
        reporting_test(vessel, t, timeout)
        exe, img = build_memtouch(tmp)
        if exe is None:
            t.skip("memtouch workloads", "cannot build a static binary with $CC or cc")
        else:
            oom_test(vessel, t, timeout, exe, img)
            memory_file_test(vessel, t, timeout, exe, img, tmp)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
