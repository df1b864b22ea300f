#!/usr/bin/env python3
"""share.py — what content-based page sharing (--share, docs/MEMORY.md) saves and costs, for
N identical guests booted to the shell side by side, beside the host's KSM where it can be
turned on.

For each N: the N guests without sharing, then with it (a fresh sharing directory on
/dev/shm), then (--ksm) without vessel's sharing but with KSM on, each guest's process opted
in with prctl(PR_SET_MEMORY_MERGE) before exec. Measured once the scanners have settled:
- guest RAM in host memory: without sharing the sum of what each holds resident; with it what
  each holds alone plus the whole pool; with KSM the resident sum less the pages KSM merged
  plus the copies it keeps (pages_shared);
- the whole processes: the sum of Pss (vessel's pool counted whole), read once it has stopped
  moving (at least 12 s after the shells: an idle guest's engine caches are trimmed a few
  seconds after it goes quiet, docs/MEMORY.md "Engine caches");
- the scanner: resident pages compared per CPU second, its CPU time to settle, and its CPU
  share once settled (an idle guest, over 10 s); for KSM, ksmd's CPU time.
KSM is turned on only for the KSM runs and back off after (`run` is restored; merged pages
are unmerged with run=2).

--breakdown boots one guest and prints where its process's memory goes (/proc/PID/smaps by
mapping kind, guest RAM from vessel's report), at the shell and once settled.

Usage: bench/share.py [--vessel build/vessel] [--n 1,2,4] [--memory 256M] [--ksm]
       bench/share.py [--vessel build/vessel] --breakdown
"""
import argparse, os, shutil, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Guest, memory_report, pss  # noqa: E402

MiB = 1 << 20
KSM = "/sys/kernel/mm/ksm/"






def ksm_read(name):
    with open(KSM + name) as f:
        return int(f.read())


def ksm_write(name, value):
    with open(KSM + name, "w") as f:
        f.write(str(value))


def ksmd_cpu_ms():
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        if "(ksmd)" in st:
            fields = st.rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")
    return 0


def settled_pss(gs, pool=None, least=12, most=60):
    """Sum of Pss once three readings 3 s apart stay within 1 MiB (after `least` seconds)."""
    start, seen = time.monotonic(), []
    while True:
        time.sleep(3)
        seen = (seen + [sum(pss(g.proc.pid, pool) for g in gs)])[-3:]
        if (time.monotonic() - start >= least and len(seen) == 3 and
                max(seen) - min(seen) < MiB):
            return seen[-1]
        if time.monotonic() - start >= most:
            return seen[-1]


def smaps_kinds(pid, guest_ram):
    """{kind: [Rss, Pss] in bytes} for one process. Anonymous mappings next to one another
    merge in smaps (guest RAM, the block arena and table), so guest RAM is taken from vessel's
    report and the rest of the anonymous memory is the engine's and malloc's."""
    kinds, name, vals = {}, None, {}

    def done():
        if name is None:
            return
        if name.startswith("/dev/zero") or "vessel-jit" in name:
            k = "translator's code cache"
        elif name == "[heap]":
            k = "malloc heap"
        elif name.startswith("[stack"):
            k = "main stack"
        elif name.endswith("/pool"):
            k = "sharing pool"
        elif name.startswith("/"):
            k = "vessel binary" if name.endswith("/vessel") else "shared libraries"
        elif name.startswith("["):
            k = "kernel ([vdso] ...)"
        else:
            k = "anonymous"
        r = kinds.setdefault(k, [0, 0])
        r[0] += vals.get("Rss", 0) * 1024
        r[1] += vals.get("Pss", 0) * 1024

    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and "-" in parts[0] and ":" not in parts[0]:
                done()
                name, vals = (parts[5] if len(parts) > 5 else ""), {}
            elif len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                vals[parts[0][:-1]] = int(parts[1])
    done()
    anon = kinds.pop("anonymous", [0, 0])
    kinds["guest RAM (resident)"] = [guest_ram, guest_ram]
    kinds["other anonymous (block arena and table, malloc arenas, stacks)"] = [
        anon[0] - guest_ram, anon[1] - guest_ram]
    return kinds


def breakdown(vessel, mem):
    g = Guest(vessel, ["--memory", mem])
    try:
        if g.to_shell(600) is None:
            sys.exit("the guest did not reach its shell:\n" + g.tail())
        for when, wait in (("at the shell (+3 s)", 3), ("settled", None)):
            if wait:
                time.sleep(wait)
            else:
                settled_pss([g])
            kinds = smaps_kinds(g.proc.pid, memory_report(g).get("resident", 0))
            print(f"{when}:")
            for k, (r, p) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
                print(f"  {k:66} Rss {r / MiB:6.1f} MiB  Pss {p / MiB:6.1f} MiB")
            print(f"  {'total':66} Rss {sum(v[0] for v in kinds.values()) / MiB:6.1f} MiB  "
                  f"Pss {sum(v[1] for v in kinds.values()) / MiB:6.1f} MiB", flush=True)
    finally:
        g.kill()


def boot(vessel, n, mem, extra):
    gs = [Guest(vessel, ["--memory", mem, *extra]) for _ in range(n)]
    for g in gs:
        if g.to_shell(600) is None:
            sys.exit("a guest did not reach its shell:\n" + g.tail())
    return gs


def settle(gs, key, timeout=60):
    last, end = -1, time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(2)
        v = sum(memory_report(g).get(key, 0) for g in gs)
        if v and abs(v - last) < 2 * MiB:
            return
        last = v


def run(vessel, n, mem, mode, wrapper):
    d = tempfile.mkdtemp(prefix="vessel-share-bench-", dir="/dev/shm")
    pool = os.path.join(d, "pool")
    extra = ["--share", d] if mode == "share" else []
    t0 = time.monotonic()
    ksm0 = ksmd_cpu_ms() if mode == "ksm" else 0
    gs = boot(wrapper if mode == "ksm" else vessel, n, mem, extra)
    try:
        if mode == "share":
            settle(gs, "saved")
        elif mode == "ksm":
            settle_end = time.monotonic() + 120
            last = -1
            while time.monotonic() < settle_end:
                time.sleep(3)
                v = ksm_read("pages_sharing")
                if v and v == last:
                    break
                last = v
        settled = settled_pss(gs, pool if mode == "share" else None)
        reps = [memory_report(g) for g in gs]
        out = {"n": n, "mode": mode, "settle_s": time.monotonic() - t0}
        if mode == "share":
            pool_bytes = os.stat(pool).st_blocks * 512
            out["ram"] = sum(r.get("private", 0) for r in reps) + pool_bytes
            out["pss"] = settled + pool_bytes
            out["shared_pages"] = [r.get("shared", 0) // 4096 for r in reps]
            out["zero_pages"] = [r.get("zero", 0) // 4096 for r in reps]
            scanned = sum(r.get("share_scanned", 0) for r in reps)
            cpu = sum(r.get("share_cpu_ms", 0) for r in reps)
            out["cpu_ms"] = cpu / n
            out["pages_per_cpu_s"] = scanned * 1000 / max(cpu, 1)
            time.sleep(10)
            cpu2 = sum(memory_report(g).get("share_cpu_ms", 0) for g in gs)
            out["idle_cpu_pct"] = (cpu2 - cpu) / n / 100  # ms per 10 s -> % of a core
        elif mode == "ksm":
            merged = 0
            for g in gs:
                with open(f"/proc/{g.proc.pid}/ksm_merging_pages") as f:
                    merged += int(f.read())
            out["ram"] = sum(r.get("resident", 0) for r in reps) - (
                merged - ksm_read("pages_shared")) * 4096
            out["pss"] = settled
            out["merged_pages"] = merged
            out["cpu_ms"] = ksmd_cpu_ms() - ksm0
        else:
            out["ram"] = sum(r.get("resident", 0) for r in reps)
            out["pss"] = settled
        return out
    finally:
        for g in gs:
            g.kill()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--n", default="1,2,4")
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--ksm", action="store_true")
    ap.add_argument("--breakdown", action="store_true")
    a = ap.parse_args()
    vessel = os.path.abspath(a.vessel)
    if a.breakdown:
        return breakdown(vessel, a.memory)
    wrapper = None
    ksm_saved = None
    if a.ksm:
        wrapper = os.path.join(tempfile.mkdtemp(), "vessel-ksm")
        with open(wrapper, "w") as f:
            f.write(f"#!/usr/bin/env python3\nimport ctypes, os, sys\n"
                    f"if ctypes.CDLL(None, use_errno=True).prctl(67, 1, 0, 0, 0) != 0:\n"
                    f"    sys.exit('prctl(PR_SET_MEMORY_MERGE) failed')\n"
                    f"os.execv({vessel!r}, [{vessel!r}] + sys.argv[1:])\n")
        os.chmod(wrapper, 0o755)
        ksm_saved = ksm_read("run")
    try:
        for n in (int(x) for x in a.n.split(",")):
            modes = ["off", "share"] + (["ksm"] if a.ksm else [])
            res = {}
            for mode in modes:
                if mode == "ksm":
                    ksm_write("run", 1)
                res[mode] = run(vessel, n, a.memory, mode, wrapper)
                if mode == "ksm":
                    ksm_write("run", 2)
                    ksm_write("run", ksm_saved)
                print(res[mode], flush=True)
            off = res["off"]
            for mode in modes[1:]:
                r = res[mode]
                print(f"N={n} {mode}: guest RAM {off['ram'] // MiB} -> {r['ram'] // MiB} MiB "
                      f"({100 * r['ram'] / off['ram']:.0f}%), processes (Pss) "
                      f"{off['pss'] // MiB} -> {r['pss'] // MiB} MiB "
                      f"({100 * r['pss'] / off['pss']:.0f}%)", flush=True)
    finally:
        if ksm_saved is not None:
            ksm_write("run", ksm_saved)


if __name__ == "__main__":
    main()
