"""test_smp.py — several vCPUs under the real Debian guest (docs/SMP.md, issue #12).

 (a) --cpus 2 and 4: the guest reaches its shell; the kernel found N CPUs in the MADT
     ("Allowing N CPUs"); dmesg has no BUG, WARNING, soft lockup or RCU stall;
 (b) every CPU comes up (Linux 6.1 wakes its APs through the ACPI mailbox into its 32-bit
     trampoline): /proc/cpuinfo shows N processors, and N busybox sha256sum processes run in
     parallel all give the single run's digest;
 (c) a 2-CPU machine pauses, snapshots (sections for each CPU) and restores in a new process,
     and runs on.
"""
import os
import re
import shutil
import tempfile

import apiclient
import harness
from harness import Tap, guest_files, guest_present, vessel_path

BAD = re.compile(r"BUG:|WARNING:|soft lockup|rcu_.*stall|RCU stall|Call Trace")


def online_cpus(g):
    out, st = g.run("grep -c ^processor /proc/cpuinfo", 60)
    try:
        return int(out.strip().splitlines()[-1]) if st == 0 and out else 0
    except ValueError:
        return 0


def parallel_sha(t, g, tag, n):
    """n sha256sum processes over the same 8 MiB at once: every digest equals one run's."""
    out, st = g.run("dd if=/dev/urandom of=/tmp/blob bs=1M count=8 2>/dev/null && "
                    "sha256sum /tmp/blob | cut -d' ' -f1", 120)
    ref = out.strip().splitlines()[-1] if st == 0 and out else ""
    cmd = (f"for k in $(seq {n}); do sha256sum /tmp/blob > /tmp/sum.$k & done; wait; "
           "cut -d' ' -f1 /tmp/sum.* | sort | uniq -c")
    out, st = g.run(cmd, 600)
    t.ok(st == 0 and len(ref) == 64 and out is not None and
         out.strip() == f"{n} {ref}",
         f"{tag}: {n} parallel sha256sum processes all give the single run's digest",
         f"ref {ref}: {out}")


def main():
    t = Tap()
    vessel = vessel_path()
    if not guest_present():
        t.skip("smp guest tests", "default guest not built (scripts/build-guest.sh)")
        return t.done()
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    tmp = tempfile.mkdtemp(prefix="vessel-smp-")
    files = guest_files()
    boot = ["--kernel", files["vmlinuz"], "--initrd", files["initrd.img"]]
    procs = []
    try:
        for n in (2, 4):
            tag = f"(a) --cpus {n}"
            sock = os.path.join(tmp, f"smp{n}.sock")
            g = harness.start_guest(vessel, t, tag, boot + ["--cpus", str(n), "--api-sock", sock],
                                    timeout, os.path.join(tmp, f"smp{n}.log"))
            if not g:
                continue
            procs.append(g)
            dmesg, st = g.run("dmesg", 60)
            dmesg = dmesg or ""
            t.ok(f"Allowing {n} CPUs" in dmesg, f"{tag}: the kernel finds {n} CPUs in the MADT",
                 "\n".join(l for l in dmesg.splitlines() if "CPU" in l)[:2000])
            bad = [l for l in dmesg.splitlines() if BAD.search(l)]
            t.ok(not bad, f"{tag}: dmesg has no BUG, WARNING, lockup or stall", "\n".join(bad))
            on = online_cpus(g)
            t.ok(on == n, f"(b) --cpus {n}: /proc/cpuinfo shows {n} processors",
                 "\n".join(l for l in dmesg.splitlines() if "CPU" in l or "smp" in l)[:2000])
            parallel_sha(t, g, f"(b) --cpus {n}", n)
            if n == 2:
                # (c) snapshot and restore of the 2-CPU machine
                state, mem = os.path.join(tmp, "smp2.state"), os.path.join(tmp, "smp2.mem")
                st1, b1 = apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
                st2, b2 = apiclient.call(sock, "PUT", "/snapshot/create",
                                         {"snapshot_path": state, "mem_file_path": mem,
                                          "snapshot_type": "Full"})
                ok = st1 == 204 and st2 == 204 and os.path.isfile(state)
                t.ok(ok, "(c) --cpus 2: paused and snapshotted", f"{b1} {b2}")
                if ok:
                    with open(state, "rb") as f:
                        data = f.read()
                    t.ok(b"cpu.1" in data and b"lapic.1" in data and b"kvmclock.1" in data,
                         "(c) the state has CPU 1's own sections (cpu.1, lapic.1, kvmclock.1)")
                g.kill()
                if ok:
                    r = harness.Guest(vessel, ["--restore", state],
                                      log_path=os.path.join(tmp, "smp2-restored.log"))
                    procs.append(r)
                    out, st = r.run("echo al''ive; grep -c ^processor /proc/cpuinfo", 120)
                    t.ok(st == 0 and out is not None and "alive" in out,
                         "(c) the restored 2-CPU machine runs on", r.tail())
                    r.kill()
            else:
                g.kill()
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
