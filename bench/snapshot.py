#!/usr/bin/env python3
"""snapshot.py — snapshot, restore, clones and live migration, vessel beside QEMU TCG, on the
default guest with the same RAM size and the same workload (64 MiB of random data written into
the guest's tmpfs, so RAM has real content). Reports:
  - snapshot time and size: vessel PUT /snapshot/create (Full, then Diff after 8 MiB more);
    QEMU `stop` + `migrate "exec:cat > FILE"` (its savevm needs a qcow2 disk; a migration to a
    file is the same state)
  - restore-to-running: vessel's own measure (state file read, machine built, memory mapped,
    devices loaded), and for both: host time from launch to the guest's answer to a command
    typed at once (time to first guest output after restore)
  - RSS/PSS of N clones restored from one vessel snapshot
  - live migration over a Unix socket: total time and downtime, vessel `vessel migrate` vs
    QEMU `migrate unix:` (downtime from `info migrate`)
Medians of --runs (default 3). Usage: bench/snapshot.py [--vessel build/vessel] [--memory 512] [--runs 5]
[--clones 10] [--no-qemu]"""
import argparse, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import apiclient  # noqa: E402
from harness import READY_LINE, Guest, guest_files  # noqa: E402

WORKLOAD = "dd if=/dev/urandom of=/tmp/fill bs=1M count=64 2>/dev/null; echo filled"


class Proc(Guest):
    """A Guest for any command line (QEMU too)."""

    def __init__(self, argv):  # noqa: D401 - same pumps as Guest
        import threading
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out, self.err = bytearray(), bytearray()
        self.cond = threading.Condition()
        self.log = None
        self.seq = 0
        self.stamps = []
        self.pumps = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, True),
                                       daemon=True),
                      threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, False),
                                       daemon=True)]
        for p in self.pumps:
            p.start()


def ready(g, timeout=900):
    r = g.wait_for(READY_LINE, timeout)
    if r is None:
        raise SystemExit("guest did not boot:\n" + g.tail())
    g.wait_for(b"# ", 60, r)
    g.run("stty -echo 2>/dev/null; dmesg -n 1; true", 60)


def first_answer(argv, env=None):
    """Launch argv, type a command at once; host seconds until its answer appears."""
    t0 = time.monotonic()
    g = Proc(argv)
    ok = None
    while ok is None and time.monotonic() - t0 < 120 and g.proc.poll() is None:
        # typed again until answered: input that arrives before the guest runs may be lost
        g.send("echo ans$((40+2))\n")
        ok = g.wait_for(b"ans42", 0.1)
    dt = time.monotonic() - t0
    return g, (dt if ok else None)


def hmp(path, cmd, timeout=600):
    """One HMP command on QEMU's monitor socket; returns its output."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    buf = b""
    while b"(qemu)" not in buf:
        buf += s.recv(4096)
    s.sendall(cmd.encode() + b"\n")
    buf = b""
    while buf.count(b"(qemu)") < 1:
        buf += s.recv(65536)
    s.close()
    return buf.decode(errors="replace")


def disk_mib(path):
    st = os.stat(path)
    return st.st_size / 2**20, st.st_blocks * 512 / 2**20


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def bench_vessel(a, tmp, files):
    res = {}
    sock = os.path.join(tmp, "v.sock")
    g = Proc([a.vessel, "run", "--kernel", files["vmlinuz"], "--initrd", files["initrd.img"],
              "--memory", f"{a.memory}M", "--api-sock", sock])
    ready(g)
    g.run(WORKLOAD, 600)
    state, mem = os.path.join(tmp, "v.state"), os.path.join(tmp, "v.mem")
    apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
    t0 = time.monotonic()
    st, body = apiclient.call(sock, "PUT", "/snapshot/create",
                              {"snapshot_path": state, "mem_file_path": mem})
    res["full_s"] = time.monotonic() - t0
    res["full_size"] = disk_mib(mem)
    apiclient.call(sock, "PATCH", "/vm", {"state": "Resumed"})
    g.run("dd if=/dev/urandom of=/tmp/more bs=1M count=8 2>/dev/null", 600)
    apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
    dstate, dmem = os.path.join(tmp, "d.state"), os.path.join(tmp, "d.mem")
    t0 = time.monotonic()
    apiclient.call(sock, "PUT", "/snapshot/create",
                   {"snapshot_path": dstate, "mem_file_path": dmem, "snapshot_type": "Diff"})
    res["diff_s"] = time.monotonic() - t0
    res["diff_size"] = disk_mib(dmem)
    g.kill()
    inproc, answer = [], []
    for _ in range(a.runs):
        r, dt = first_answer([a.vessel, "run", "--restore", state])
        answer.append(dt)
        m = re.search(rb"restored .* in ([0-9.]+) ms", bytes(r.err))
        inproc.append(float(m.group(1)) if m else None)
        r.kill()
    res["restore_ms"] = med(inproc)
    res["restore_runs"] = inproc
    res["answer_s"] = med(answer)
    clones = []
    for _ in range(a.clones):
        c = Proc([a.vessel, "run", "--restore", state])
        clones.append(c)
    for c in clones:
        c.send("echo clone-up\n")
        c.wait_for(b"clone-up", 120)
    time.sleep(1)
    rss = pss = 0
    for c in clones:
        with open(f"/proc/{c.proc.pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k == "Rss":
                    rss += int(v.split()[0])
                if k == "Pss":
                    pss += int(v.split()[0])
    for c in clones:
        c.kill()
    res["clones_rss_mib"], res["clones_pss_mib"] = rss / 1024, pss / 1024
    # live migration
    sock2 = os.path.join(tmp, "v2.sock")
    src = Proc([a.vessel, "run", "--kernel", files["vmlinuz"], "--initrd", files["initrd.img"],
                "--memory", f"{a.memory}M", "--api-sock", sock2])
    ready(src)
    src.run(WORKLOAD, 600)
    addr = "unix:" + os.path.join(tmp, "mig.sock")
    dst = Proc([a.vessel, "run", "--incoming", addr])
    time.sleep(0.5)
    t0 = time.monotonic()
    p = subprocess.run([a.vessel, "migrate", sock2, addr], capture_output=True, text=True)
    res["mig_wall_s"] = time.monotonic() - t0
    res["mig"] = json.loads(p.stdout) if p.returncode == 0 else p.stderr
    src.kill()
    dst.kill()
    return res


def bench_qemu(a, tmp, files):
    res = {}
    mon = os.path.join(tmp, "q.mon")
    base = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(a.memory), "-nographic",
            "-no-reboot", "-kernel", files["vmlinuz"], "-initrd", files["initrd.img"],
            "-append", "console=ttyS0 panic=-1"]
    g = Proc(base + ["-monitor", f"unix:{mon},server,nowait"])
    ready(g)
    g.run(WORKLOAD, 600)
    f = os.path.join(tmp, "q.mig")
    hmp(mon, "migrate_set_parameter max-bandwidth 100G")
    t0 = time.monotonic()
    # A running source, so the saved run state says running and a restore starts at once
    # (QEMU's savevm would need a qcow2 disk; this is the same state in a file).
    hmp(mon, f'migrate "exec:cat > {f}"')
    while "completed" not in hmp(mon, "info migrate"):
        time.sleep(0.02)
    res["full_s"] = time.monotonic() - t0
    res["full_size"] = disk_mib(f)
    g.kill()
    answer = []
    for _ in range(a.runs):
        r, dt = first_answer(base + ["-incoming", f"exec:cat {f}", "-monitor",
                                     f"unix:{mon}2,server,nowait"])
        answer.append(dt)
        r.kill()
    res["answer_s"] = med(answer)
    src = Proc(base + ["-monitor", f"unix:{mon},server,nowait"])
    ready(src)
    src.run(WORKLOAD, 600)
    sockp = os.path.join(tmp, "qmig.sock")
    dst = Proc(base + ["-incoming", f"unix:{sockp}"])
    time.sleep(1)
    hmp(mon, "migrate_set_parameter max-bandwidth 100G")
    t0 = time.monotonic()
    hmp(mon, f"migrate unix:{sockp}")
    info = ""
    while "completed" not in info:
        time.sleep(0.05)
        info = hmp(mon, "info migrate")
    res["mig_wall_s"] = time.monotonic() - t0
    m = re.search(r"downtime: (\d+) ms", info)
    t = re.search(r"total time: (\d+) ms", info)
    res["mig"] = {"downtime_ms": int(m.group(1)) if m else None,
                  "total_ms": int(t.group(1)) if t else None}
    src.kill()
    dst.kill()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--memory", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clones", type=int, default=10)
    ap.add_argument("--no-qemu", action="store_true")
    a = ap.parse_args()
    files = guest_files()
    tmp = tempfile.mkdtemp(prefix="vessel-bench-snap-")
    try:
        out = {"vessel": bench_vessel(a, tmp, files)}
        if not a.no_qemu and shutil.which("qemu-system-x86_64"):
            out["qemu"] = bench_qemu(a, tmp, files)
        print(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
