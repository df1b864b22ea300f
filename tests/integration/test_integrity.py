"""test_integrity.py — the integrity watch on the real Debian guest (docs/INTEGRITY.md).

A kernel module (integrity_hook.c) is built here, with the host's gcc and the kbuild of
Debian's linux-headers package for the guest's kernel (scripts/setup.sh installs it), and given
to the guest as a raw read-only disk. It overwrites a system call table entry the way rootkits
do (CR0.WP cleared around the store).

- report: after boot the watch is armed on sys_call_table, the IDT and the kernel text; a
  normal workload (files, processes, a pipe, a static key flipped through sysctl, which makes
  the kernel patch its own text through text_poke) reports nothing, and the kernel's patching
  is seen and accepted; then the module's write is reported — in the log and through
  `vessel inspect SOCKET integrity` — with its RIP inside the module (its address and size
  from /proc/modules, and the same from `vessel inspect modules`), the table entry's address
  (equal to /proc/kallsyms's sys_call_table + 8 * nr), the old bytes (the entry before) and
  the new (the module's function); the entry reads back changed.
- block: the same write is reported as blocked; the module itself reads the entry back
  unchanged, inspect finds no modified byte in any watched range, and the guest goes on
  running commands.
VESSEL_BOOT_TIMEOUT bounds the wait for the ready line."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import Tap, guest_files, guest_present, manifest, start_guest, vessel_path

HERE = os.path.dirname(os.path.abspath(__file__))
NR = 39  # getpid's entry: the module's function calls the original, so nothing breaks
WORKLOAD = ("ls -R /sys/kernel > /dev/null 2>&1; find / -xdev > /dev/null 2>&1; "
            "dd if=/dev/zero of=/tmp/z bs=64k count=64 2>/dev/null; sync; "
            "seq 20000 | sort -r | md5sum; for i in 1 2 3 4 5; do sh -c 'echo $$'; done; "
            "echo 1 > /proc/sys/kernel/sched_schedstats; sleep 1; "
            "echo 0 > /proc/sys/kernel/sched_schedstats; rm /tmp/z; echo workload-done")


def headers_dir(kver):
    for d in (f"/usr/src/linux-headers-{kver}", f"/lib/modules/{kver}/build"):
        if os.path.isfile(os.path.join(d, "Makefile")):
            return d
    return None


def build_module(tmp, kver):
    """The module built against the guest kernel's headers: (path, None) or (None, why)."""
    hdr = headers_dir(kver)
    if not hdr:
        return None, (f"no headers for the guest kernel {kver}: install linux-headers-{kver} "
                      "(scripts/setup.sh installs linux-headers-cloud-amd64)")
    src = os.path.join(tmp, "mod")
    os.makedirs(src)
    shutil.copy(os.path.join(HERE, "integrity_hook.c"), src)
    with open(os.path.join(src, "Kbuild"), "w") as f:
        f.write("obj-m := integrity_hook.o\n")
    r = subprocess.run(["make", "-C", hdr, f"M={src}", "modules"], capture_output=True,
                       text=True, timeout=600)
    ko = os.path.join(src, "integrity_hook.ko")
    if r.returncode != 0 or not os.path.isfile(ko):
        return None, f"module build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return ko, None


def disk_of(ko, tmp):
    img = os.path.join(tmp, "hook.img")
    shutil.copy(ko, img)
    with open(img, "r+b") as f:
        f.truncate((os.path.getsize(ko) + 4095) // 4096 * 4096)
    return img


def inspect(vessel, sock, what):
    r = subprocess.run([vessel, "inspect", sock, what, "--json"], capture_output=True,
                       timeout=60)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace")
    return json.loads(r.stdout), ""


def wait_armed(vessel, sock, timeout=120):
    end = time.monotonic() + timeout
    rep = None
    while time.monotonic() < end:
        rep, _ = inspect(vessel, sock, "integrity")
        if rep and rep.get("armed"):
            return rep
        time.sleep(0.5)
    return rep


def le64(hexstr):
    return int.from_bytes(bytes.fromhex(hexstr), "little")


def boot(vessel, t, tag, policy, img, tmp, timeout):
    f = guest_files()
    sock = os.path.join(tmp, f"{tag}.sock")
    g = start_guest(vessel, t, tag,
                    ["--kernel", f["vmlinuz"], "--initrd", f["initrd.img"], "--memory", "256M",
                     "--disk", img + ",readonly", "--api-sock", sock,
                     "--integrity-watch", policy],
                    timeout, os.path.join(tmp, f"{tag}.log"))
    if not g:
        return None, None, None
    rep = wait_armed(vessel, sock)
    names = [r["name"] for r in (rep or {}).get("ranges", [])]
    t.ok(rep and rep.get("poking_mm_pgd"),
         f"{tag}: the kernel's text_poke address space (poking_mm) is found: "
         f"{(rep or {}).get('poking_mm_pgd')}", f"{rep}")
    t.ok(rep and rep.get("armed") and rep.get("policy") == policy and
         {"sys_call_table", "idt", "kernel_text"} <= set(names),
         f"{tag}: the watch is armed after boot on sys_call_table, the IDT and the kernel text",
         f"{rep}")
    if rep and rep.get("armed"):
        t.comment(f"{tag}: armed in {rep['arm_us']} us (the guest stopped meanwhile): " +
                  ", ".join(f"{r['name']} {r['size']} bytes" for r in rep["ranges"]))
    return g, sock, rep


def table_address(g):
    out, _ = g.run("grep -w sys_call_table /proc/kallsyms", 60)
    m = re.match(r"([0-9a-f]{16}) \S sys_call_table$", (out or "").strip())
    return int(m.group(1), 16) if m else None


def load_hook(g, ko_size, table):
    g.run(f"head -c {ko_size} /dev/vda > /tmp/hook.ko", 60)
    out, st = g.run(f"insmod /tmp/hook.ko table={table:#x} nr={NR} && dmesg | "
                    "grep integrity_hook: | tail -n 1", 120)
    m = re.search(r"was ([0-9a-f]+), wrote ([0-9a-f]+), reads ([0-9a-f]+)", out or "")
    mods, _ = g.run("grep -w integrity_hook /proc/modules", 60)
    p = (mods or "").split()  # name size refs deps state address [taint flags]
    mod = (int(p[1]), int(p[5], 16)) if len(p) >= 6 and p[5].startswith("0x") else None
    vals = tuple(int(x, 16) for x in m.groups()) if m else None
    return st, out, vals, mod


def check_event(t, tag, vessel, sock, g, table, mod, vals, blocked):
    rep, err = inspect(vessel, sock, "integrity")
    evs = [e for e in (rep or {}).get("events", []) if e.get("range") == "sys_call_table"]
    t.ok(rep is not None and len(evs) == 1 and rep["writes"] == 1,
         f"{tag}: exactly one write is reported, to sys_call_table", f"{err} {rep}")
    if not evs:
        return rep
    e = evs[0]
    rip = int(e.get("rip", "0"), 16)
    t.ok(mod is not None and mod[1] <= rip < mod[1] + mod[0],
         f"{tag}: the write's RIP {rip:#x} is inside the module "
         f"({mod[1]:#x} + {mod[0]} from /proc/modules)" if mod else f"{tag}: module listed",
         f"{e} {mod}")
    mods, _ = inspect(vessel, sock, "modules")
    mine = [m for m in (mods or {}).get("modules", []) if m["name"] == "integrity_hook"]
    t.ok(mine and int(mine[0]["address"], 16) <= rip < int(mine[0]["address"], 16) +
         mine[0]["size"], f"{tag}: inspect modules places the RIP in integrity_hook too",
         f"{mine}")
    want = table + 8 * NR
    t.ok(int(e["address"], 16) == want and e["offset"] == 8 * NR and e["size"] == 8 and
         e["cpu"] and e["cpl"] == 0,
         f"{tag}: the event names the entry's address ({want:#x} = sys_call_table + 8 * {NR}), "
         "8 bytes, CPL 0", f"{e}")
    t.ok(vals is not None and le64(e["old"]) == vals[0] and le64(e["new"]) == vals[1] and
         e["blocked"] == blocked,
         f"{tag}: old bytes = the entry before, new = the module's function, "
         f"{'blocked' if blocked else 'reported'}", f"{e} {vals}")
    with g.cond:
        err_text = bytes(g.err).decode(errors="replace")
    line = [l for l in err_text.splitlines() if f"integrity: write to sys_call_table+{8 * NR:#x}"
            in l]
    t.ok(line and f"rip {rip:#x}" in line[0] and ("blocked" if blocked else "reported")
         in line[0], f"{tag}: vessel's log reports it with the RIP", err_text[-2000:])
    return rep


def main():
    t = Tap()
    vessel = vessel_path()
    if not guest_present():
        t.skip("integrity", "default guest not built (scripts/build-guest.sh)")
        return t.done()
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    tmp = tempfile.mkdtemp(prefix="vessel-integrity-")
    try:
        return run(t, vessel, timeout, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(t, vessel, timeout, tmp):
    kver = manifest().get("kernel_version", "")
    ko, why = build_module(tmp, kver)
    if not t.ok(ko is not None, f"the rootkit module builds against Debian's headers for {kver}",
                why):
        return t.done()
    img = disk_of(ko, tmp)
    size = os.path.getsize(ko)

    # report: a normal workload reports nothing, the module's write is reported
    g, sock, rep = boot(vessel, t, "report", "report", img, tmp, timeout)
    if g:
        try:
            out, st = g.run(WORKLOAD, 600)
            rep, err = inspect(vessel, sock, "integrity")
            t.ok(st == 0 and "workload-done" in (out or "") and rep and rep["writes"] == 0 and
                 not rep["events"] and all(r["modified"] == 0 for r in rep["ranges"]),
                 "report: boot and a normal workload report nothing (no false positive)",
                 f"{out}\n{rep}")
            if rep:
                t.comment(f"report: after boot and the workload: {rep['kernel_patches']} kernel "
                          f"patches accepted, {rep['page_writes']} writes beside the watched "
                          "bytes on watched pages")
            t.ok(rep and rep["kernel_patches"] > 0,
                 "report: the kernel's own text patching (a static key through text_poke) is "
                 f"seen and accepted ({rep and rep['kernel_patches']} writes)", f"{rep}")
            table = table_address(g)
            ranges = {r["name"]: r for r in (rep or {}).get("ranges", [])}
            t.ok(table is not None and "sys_call_table" in ranges and
                 int(ranges["sys_call_table"]["address"], 16) == table,
                 f"report: the watched sys_call_table is where /proc/kallsyms says "
                 f"({table and hex(table)})", f"{ranges.get('sys_call_table')}")
            if table:
                st, out, vals, mod = load_hook(g, size, table)
                t.ok(st == 0 and vals and vals[2] == vals[1] != vals[0],
                     "report: the module overwrote the entry (it reads back changed)", out)
                rep = check_event(t, "report", vessel, sock, g, table, mod, vals, False)
                mod_bytes = {r["name"]: r["modified"] for r in (rep or {}).get("ranges", [])}
                t.ok(0 < mod_bytes.get("sys_call_table", 0) <= 8,
                     "report: inspect finds the entry's bytes modified", f"{mod_bytes}")
                out, st = g.run("echo alive-$((6*7))", 60)
                t.ok(out == "alive-42", "report: the guest goes on", out)
        finally:
            g.kill()

    # block: the write is undone, the guest goes on
    g, sock, rep = boot(vessel, t, "block", "block", img, tmp, timeout)
    if g:
        try:
            table = table_address(g)
            st, out, vals, mod = load_hook(g, size, table or 0)
            t.ok(st == 0 and vals and vals[2] == vals[0] != vals[1],
                 "block: the module reads the entry back unchanged", out)
            rep = check_event(t, "block", vessel, sock, g, table or 0, mod, vals, True)
            t.ok(rep and rep["ranges"] and all(r["modified"] == 0 for r in rep["ranges"]),
                 "block: inspect finds every watched range intact",
                 f"{rep and rep['ranges']}")
            out, st = g.run("ls /proc/self/ > /dev/null && cat /proc/version | cut -c1-13 && "
                            "echo still-running", 60)
            t.ok(st == 0 and (out or "").endswith("still-running"),
                 "block: the guest keeps running commands", out)
        finally:
            g.kill()
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
