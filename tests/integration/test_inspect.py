"""test_inspect.py — `vessel inspect` on the real Debian guest (docs/INSPECT.md): the monitor
lists the guest's processes and kernel modules from guest memory, with nothing running in the
guest, and the lists equal what the guest itself reports.

Processes: a known set (three `sleep`s with distinct arguments and one under another uid via
busybox su) is started; `ps -o pid,ppid,user,comm,stat` runs in the guest before and after the
inspection, and every row the two agree on (so not a kernel worker that came or went between
them) is in the inspected list with the same pid, ppid, uid, command and state letter, which
lists nothing ps did not. The same holds with a busy loop running in the guest, whose process
shows as R; with 200 more processes every listing stays complete. Modules: the list equals
/proc/modules (name, size, address, in order). The time per listing is reported.
VESSEL_BOOT_TIMEOUT bounds the wait for the ready line."""

import json
import os
import statistics
import subprocess
import tempfile
import time

from harness import Tap, guest_files, guest_present, start_guest, vessel_path, cache_dir

TESTER_UID = 1234
PS = "ps -o pid,ppid,user,comm,stat"
RUNS = int(os.environ.get("VESSEL_INSPECT_RUNS", "10"))  # timed listings of each kind


def vmlinux_path():
    return os.environ.get("VESSEL_VMLINUX") or os.path.join(cache_dir(), "guest", "vmlinux")


def inspect(vessel, sock, what, as_json=True):
    t0 = time.monotonic()
    r = subprocess.run([vessel, "inspect", sock, what] + (["--json"] if as_json else []),
                       capture_output=True, timeout=60)
    dt = time.monotonic() - t0
    out = r.stdout.decode(errors="replace")
    return r.returncode, (json.loads(out) if as_json and r.returncode == 0 else out), \
        r.stderr.decode(errors="replace"), dt


def parse_ps(text, users):
    """{pid: (ppid, uid, comm, state letter)} from busybox ps -o pid,ppid,user,comm,stat."""
    rows = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 5 or not f[0].isdigit():
            continue
        # comm may hold blanks in principle; the guest's do not, but take the middle anyway
        pid, ppid, user, state = int(f[0]), int(f[1]), f[2], f[-1][0]
        comm = " ".join(f[3:-1])
        uid = int(user) if user.isdigit() else users.get(user, -1)
        rows[pid] = (ppid, uid, comm, state)
    return rows


def comm_matches(ps_comm, insp_comm):
    # /proc shows a kernel worker's comm with its workqueue appended, cut to 15 characters
    if ps_comm == insp_comm:
        return True
    return insp_comm.startswith("kworker/") and ps_comm.startswith(insp_comm[:15])


def compare(t, name, g, vessel, sock, users, known, busy=None):
    """ps, inspect, ps; returns the inspect wall time."""
    a, _ = g.run(PS, 120)
    rc, rep, err, dt = inspect(vessel, sock, "ps")
    b, _ = g.run(PS, 120)
    if not t.ok(rc == 0 and a is not None and b is not None and rep.get("complete"),
                f"{name}: inspect ps answers a complete list", f"rc {rc} {err} {rep}"):
        return None
    pa, pb = parse_ps(a, users), parse_ps(b, users)
    got = {p["pid"]: (p["ppid"], p["uid"], p["comm"], p["state"]) for p in rep["processes"]}
    stable = {pid: row for pid, row in pa.items()
              if pb.get(pid) == row and row[2] != "ps"}
    bad = []
    for pid, row in stable.items():
        mine = got.get(pid)
        if busy is not None and pid == busy:
            continue  # checked below: its ps rows see it between time slices too
        if not mine or mine[:2] != row[:2] or not comm_matches(row[2], mine[2]) or \
                mine[3] != row[3]:
            bad.append(f"pid {pid}: ps {row}, inspect {mine}")
    extra = [pid for pid in got if pid not in pa and pid not in pb]
    t.ok(not bad and not extra and len(stable) > 20,
         f"{name}: the inspected list equals ps's ({len(stable)} stable rows, "
         f"{len(got)} listed)",
         "\n".join(bad + [f"not in ps: {got[p]} pid {p}" for p in extra]))
    want = {pid: (ppid, uid, "sleep", "S") for pid, (ppid, uid) in known.items()}
    t.ok(all(got.get(pid) == w for pid, w in want.items()),
         f"{name}: the known sleeps (pid, ppid, uid 0 and {TESTER_UID}, comm, S) are listed",
         f"want {want}\ngot {[(p, got.get(p)) for p in want]}")
    if busy is not None:
        t.ok(got.get(busy, (0, 0, "", ""))[3] == "R",
             f"{name}: the busy loop's process is running (R)", f"{got.get(busy)}")
    return dt, rep.get("read_us", 0)


def main():
    t = Tap()
    vessel = vessel_path()
    if not guest_present() or not os.path.isfile(vmlinux_path()):
        t.skip("inspect", "default guest (with its vmlinux) not built (scripts/build-guest.sh)")
        return t.done()
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    tmp = tempfile.mkdtemp(prefix="vessel-inspect-")
    sock = os.path.join(tmp, "api.sock")
    f = guest_files()
    g = start_guest(vessel, t, "inspect",
                    ["--kernel", f["vmlinuz"], "--initrd", f["initrd.img"], "--memory", "256M",
                     "--api-sock", sock], timeout, os.path.join(tmp, "console.log"))
    if not g:
        return t.done()
    try:
        g.run(f"echo 'tester:x:{TESTER_UID}:{TESTER_UID}:t:/:/bin/sh' >> /etc/passwd", 60)
        pw, _ = g.run("cat /etc/passwd", 60)
        users = {}
        for line in (pw or "").splitlines():
            p = line.split(":")
            if len(p) > 3 and p[2].isdigit():
                users[p[0]] = int(p[2])
        shell, _ = g.run("echo $$", 60)
        shell = int(shell)
        known = {}
        for arg in (1001, 1002, 1003):
            out, _ = g.run(f"sleep {arg} & echo $!", 60)
            known[int(out)] = (shell, 0)
        out, _ = g.run(f"su tester -s /bin/sh -c 'exec sleep 1004' & echo $!", 60)
        known[int(out)] = (shell, TESTER_UID)
        g.run("sleep 1", 60)  # su has exec'd its sleep

        times = []
        r = compare(t, "idle", g, vessel, sock, users, known)
        if r:
            t.comment("first listing (parses the vmlinux): CLI wall %.1f ms, monitor %d us" % (
                r[0] * 1000, r[1]))
        idle = []
        for _ in range(RUNS):
            rc, rep, err, dt = inspect(vessel, sock, "ps")
            if rc == 0 and rep.get("complete"):
                idle.append((dt, rep["read_us"], len(rep["processes"])))
                slide = rep["kaslr_slide"]

        mods_text, _ = g.run("cat /proc/modules", 60)
        want = []
        for line in (mods_text or "").splitlines():
            p = line.split()
            if len(p) >= 6:
                want.append((p[0], int(p[1]), int(p[-1], 16)))
        rc, rep, err, dt = inspect(vessel, sock, "modules")
        got = [(m["name"], m["size"], int(m["address"], 16))
               for m in rep["modules"]] if rc == 0 else None
        t.ok(rc == 0 and rep.get("complete") and got == want and len(want) > 5,
             f"modules: the inspected list equals /proc/modules ({len(want)} modules)",
             f"rc {rc} {err}\nwant {want}\ngot  {got}")
        mt = []
        for _ in range(RUNS):
            rc, rep, err, dt = inspect(vessel, sock, "modules")
            if rc == 0:
                mt.append((dt, rep["read_us"]))

        busy, _ = g.run("while :; do :; done & echo $!", 60)
        busy = int(busy)
        for i in range(3):
            r = compare(t, f"under load {i + 1}", g, vessel, sock, users, known, busy)
            if r:
                times.append(r)
        for _ in range(RUNS):
            rc, rep, err, dt = inspect(vessel, sock, "ps")
            if rc == 0 and rep.get("complete"):
                times.append((dt, rep["read_us"]))

        # scale: 200 more processes
        g.run("for i in $(seq 200); do sleep 2000 & done", 120)
        many = []
        for _ in range(RUNS):
            rc, rep, err, dt = inspect(vessel, sock, "ps")
            if rc == 0 and rep.get("complete"):
                many.append((dt, rep["read_us"], len(rep["processes"])))
        t.ok(len(many) == RUNS and all(m[2] >= 250 for m in many),
             "with 200 more processes every listing is complete and holds them all",
             f"{[m[2] for m in many]}")

        rc, table, err, _ = inspect(vessel, sock, "ps", as_json=False)
        lines = table.splitlines() if rc == 0 else []
        t.ok(rc == 0 and lines and lines[0].split() == ["PID", "PPID", "UID", "STATE", "COMM"]
             and any(l.split()[:1] == [str(busy)] for l in lines),
             "the CLI prints a table with the busy loop's pid", f"rc {rc} {err}\n{table}")
        rc, _, err, _ = inspect(vessel, sock, "threads", as_json=False)
        t.ok(rc == 2, "an unknown list is a usage error (exit 2)", err)
        g.run(f"kill {busy}", 60)

        if idle:
            t.comment("inspect ps, idle guest (%d processes, KASLR slide %s): CLI wall ms "
                      "median %.1f, monitor read us median %d (n=%d)" % (
                          idle[0][2], slide, statistics.median(x[0] for x in idle) * 1000,
                          statistics.median(x[1] for x in idle), len(idle)))
        if times:
            t.comment("inspect ps, busy guest: CLI wall ms median %.1f, monitor read us median "
                      "%d (n=%d)" % (statistics.median(x[0] for x in times) * 1000,
                                     statistics.median(x[1] for x in times), len(times)))
        if many:
            t.comment("inspect ps, busy guest, %d processes: CLI wall ms median %.1f, monitor "
                      "read us median %d (n=%d)" % (
                          many[0][2], statistics.median(x[0] for x in many) * 1000,
                          statistics.median(x[1] for x in many), len(many)))
        if mt:
            t.comment("inspect modules: CLI wall ms median %.1f, monitor read us median %d "
                      "(n=%d)" % (statistics.median(x[0] for x in mt) * 1000,
                                  statistics.median(x[1] for x in mt), len(mt)))
    finally:
        g.kill()
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
