"""test_share.py — content-based page sharing (--share, docs/MEMORY.md) with four identical
real Debian guests on one host:

- memory: the four booted to the shell without sharing, then with it (one sharing directory on
  tmpfs), each side measured once it has settled (the engines' caches given back by their idle
  trim, the scanners done). The issue's bound: the whole processes together (sum of Pss — each
  page once, a page several processes map divided among them — with the pool counted whole
  instead of its mapped share) use at most half as much memory with sharing as without. Guest
  RAM alone (resident without sharing; private pages plus the whole pool with it) must be at
  most half as well; both totals, the sums of Rss and the shared-page counts are reported;
- copy on write: a file every guest has (same contents, so its page cache pages are shared) is
  overwritten in place in one guest; that guest reads its data, the others still read the
  original; then every guest writes its own data over it and into a fresh tmpfs file, and each
  reads exactly its own (checksums computed in each guest, expected ones on the host);
- the memory report through the control API (GET /metrics), and a snapshot of a sharing guest
  restored (with sharing) reading exactly its own data.
Skips when the guest is not built."""

import hashlib
import os
import shutil
import tempfile
import time

import apiclient
from harness import (Guest, Tap, guest_files, guest_present, memory_report, pss,
                     vessel_path)

MIB = 1 << 20
N = 4






def rss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    return 0


def settled_pss(gs, pool=None, least=12, most=60):
    """Sum of the processes' Pss once it stops moving: after at least `least` seconds (an idle
    guest's engine caches are trimmed a few seconds after it goes quiet, src/cpu/exec/block.c),
    when three readings 3 s apart stay within 1 MiB, or after `most` seconds."""
    start, seen = time.monotonic(), []
    while True:
        time.sleep(3)
        seen = (seen + [sum(pss(g.proc.pid, pool) for g in gs)])[-3:]
        if (time.monotonic() - start >= least and len(seen) == 3 and
                max(seen) - min(seen) < MIB):
            return seen[-1]
        if time.monotonic() - start >= most:
            return seen[-1]


def boot(vessel, t, tag, extra, first=()):
    """N guests booted side by side (as one host would run them), each to its shell; the first
    gets `first` as well."""
    gs = [Guest(vessel, ["--memory", "256M", *extra, *(first if i == 0 else ())],
                log_path=os.path.join(tempfile.gettempdir(),
                                      f"vessel-share-{tag}{i}-{os.getpid()}.log"))
          for i in range(N)]
    ok = True
    for i, g in enumerate(gs):
        ok = t.ok(ok and g.to_shell(300) is not None, f"{tag} guest {i}: reaches the shell",
                  g.tail()) and ok
    if not ok:
        for g in gs:
            g.kill()
        return []
    return gs


def main():
    t = Tap()
    if not guest_present():
        t.skip("share", "guest not built (scripts/build-guest.sh)")
        return t.done()
    vessel = vessel_path()

    # Without sharing.
    gs = boot(vessel, t, "off", [])
    if len(gs) < N:
        return t.done()
    off_pss = settled_pss(gs)
    off_ram = sum(memory_report(g).get("resident", 0) for g in gs)
    off_rss = sum(rss(g.proc.pid) for g in gs)
    for g in gs:
        g.kill()

    # With sharing.
    d = tempfile.mkdtemp(prefix="vessel-share-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                         else None)
    pool = os.path.join(d, "pool")
    sock = os.path.join(d, "api.sock")
    files = guest_files()
    # With --api-sock a VM waits to be configured unless it is given its kernel.
    gs = boot(vessel, t, "on", ["--share", d + ",rate=256M"],
              ["--api-sock", sock, "--kernel", files["vmlinuz"], "--initrd", files["initrd.img"]])
    try:
        if len(gs) < N:
            return t.done()
        # Until the scanners have been round a few times and nothing more is found.
        last, reps = -1, []
        end = time.monotonic() + 40
        while time.monotonic() < end:
            time.sleep(2)
            reps = [memory_report(g) for g in gs]
            saved = sum(r.get("saved", 0) for r in reps)
            if saved and abs(saved - last) < 2 * MIB:
                break
            last = saved
        on_pss = settled_pss(gs, pool, least=6)
        reps = [memory_report(g) for g in gs]
        pool_bytes = os.stat(pool).st_blocks * 512
        on_ram = sum(r.get("private", 0) for r in reps) + pool_bytes
        on_pss += pool_bytes
        on_rss = sum(rss(g.proc.pid) for g in gs)
        shared = [r.get("shared", 0) // 4096 for r in reps]
        zero = [r.get("zero", 0) // 4096 for r in reps]
        t.comment(f"guest RAM in host memory: off {off_ram // MIB} MiB, on {on_ram // MIB} MiB "
                  f"({100 * on_ram / max(off_ram, 1):.0f}%; private "
                  f"{sum(r.get('private', 0) for r in reps) // MIB} MiB + pool "
                  f"{pool_bytes // MIB} MiB)")
        t.comment(f"whole processes, sum of Pss (pool counted whole): off {off_pss // MIB} MiB, "
                  f"on {on_pss // MIB} MiB ({100 * on_pss / max(off_pss, 1):.0f}%); sum of Rss "
                  f"(shared pages counted in every process): off {off_rss // MIB} MiB, on "
                  f"{on_rss // MIB} MiB")
        t.comment(f"pages mapped from the pool per guest {shared}, zero pages {zero}, "
                  f"scanner CPU per guest {[r.get('share_cpu_ms', 0) for r in reps]} ms")
        t.ok(all(s > 1000 for s in shared), "every guest maps pages from the pool", str(reps))
        t.ok(on_ram * 2 <= off_ram, "guest RAM with sharing is at most half of it without",
             f"off {off_ram} on {on_ram}")
        t.ok(on_pss * 2 <= off_pss,
             "the processes together use at most half the memory with sharing (sum of Pss)",
             f"off {off_pss // MIB} MiB, on {on_pss // MIB} MiB")
        st, m = apiclient.call(sock, "GET", "/metrics")
        mem = m.get("memory", {}) if st == 200 else {}
        t.ok(mem.get("ram_size") == 256 * MIB and mem.get("shared", 0) > 1000 * 4096 and
             mem.get("saved", 0) >= mem.get("shared", 0) and 0 < mem.get("private", 0) <
             mem.get("resident", 0) and mem.get("balloon_target") == 0,
             "GET /metrics reports RAM, resident, shared, saved and the balloon", m)

        # Copy on write. A file all guests have, so its pages are shared.
        out, st = gs[0].run("ls -S $(find /lib /usr /bin -xdev -type f -size +64k "
                            "2>/dev/null) 2>/dev/null | grep -v busybox | head -1")
        target = (out or "").strip()
        t.ok(st == 0 and target, "a large file the guests share", out)
        if not target:
            return t.done()
        sums = [g.run(f"md5sum {target}")[0].split()[0] for g in gs]
        t.ok(len(set(sums)) == 1, "the file is the same in every guest", str(sums))
        pat = [(f"vessel-share-guest-{i}-" * 400)[:8192].encode() for i in range(N)]
        want = [hashlib.md5(p).hexdigest() for p in pat]

        def overwrite(g, i):
            g.run(f"yes vessel-share-guest-{i}- | tr -d '\\n' | head -c 8192 > /tmp/pat; "
                  f"dd if=/tmp/pat of={target} conv=notrunc bs=8192 count=1 2>/dev/null; "
                  f"sync")

        overwrite(gs[0], 0)
        mine = gs[0].run(f"head -c 8192 {target} | md5sum")[0].split()[0]
        t.ok(mine == want[0], "the writer reads its own data", f"{mine} != {want[0]}")
        others = [g.run(f"md5sum {target}")[0].split()[0] for g in gs[1:]]
        t.ok(all(s == sums[0] for s in others), "the other guests still read the original",
             str(others))
        for i, g in enumerate(gs[1:], 1):
            overwrite(g, i)
        for i, g in enumerate(gs):
            g.run(f"yes vessel-share-tmpfs-{i} | head -c 4194304 > /tmp/big")
        ok = True
        diag = []
        for i, g in enumerate(gs):
            head = g.run(f"head -c 8192 {target} | md5sum")[0].split()[0]
            big = g.run("md5sum /tmp/big")[0].split()[0]
            exp = hashlib.md5((f"vessel-share-tmpfs-{i}\n" * (4 * MIB)).encode()[:4 * MIB])
            diag.append(f"guest {i}: file {head} want {want[i]}, tmpfs {big} want "
                        f"{exp.hexdigest()}")
            ok = ok and head == want[i] and big == exp.hexdigest()
        t.ok(ok, "every guest reads exactly its own data", "\n".join(diag))
        reps = [memory_report(g) for g in gs]
        t.ok(all(r.get("shared", 0) > 0 for r in reps), "pages stay shared after the writes",
             str(reps))

        # A snapshot of a sharing guest holds its own contents; restored, it reads them.
        snap = tempfile.mkdtemp(prefix="vessel-share-snap-")
        state, mem = os.path.join(snap, "vm.state"), os.path.join(snap, "vm.mem")
        st1, _ = apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
        st2, body = apiclient.call(sock, "PUT", "/snapshot/create",
                                   {"snapshot_path": state, "mem_file_path": mem,
                                    "snapshot_type": "Full"})
        t.ok(st1 == 204 and st2 == 204, "a sharing guest is snapshotted", body)
        gs[0].kill()
        r = Guest(vessel, ["--restore", state, "--share", d],
                  log_path=os.path.join(snap, "restored.log"))
        gs[0] = r
        head = (r.run(f"head -c 8192 {target} | md5sum", 120)[0] or "-").split()[0]
        big = (r.run("md5sum /tmp/big", 120)[0] or "-").split()[0]
        exp = hashlib.md5((f"vessel-share-tmpfs-0\n" * (4 * MIB)).encode()[:4 * MIB])
        t.ok(head == want[0] and big == exp.hexdigest(),
             "restored, it reads exactly its own data", f"{head} {big}\n{r.tail()}")
        shutil.rmtree(snap, ignore_errors=True)
    finally:
        for g in gs:
            g.kill()
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
