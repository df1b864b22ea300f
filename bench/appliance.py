#!/usr/bin/env python3
"""appliance.py — instant start of an appliance (docs/APPLIANCE.md), beside a cold boot of the
same appliance and QEMU TCG's -loadvm of an equivalent image, then N copies started at once.

The appliance is tests/integration/test_appliance.py's HTTP service: an ext4 base, the
appliance's disk = base + one page (qcow2 over the base), an initrd that starts busybox httpd,
256 MiB, a snapshot taken once httpd is up. QEMU gets the same kernel, initrd, command line and
RAM, the same disk as a qcow2 overlay over the same base (qemu-img convert -B), a virtio NIC
with the same port forward, and an internal snapshot (savevm) taken at the same point.

Per start (medians of --runs), host time from launch to:
  - the restore's end: the machine is built, memory mapped and devices loaded, and the vCPU
    loop starts right after it (launch to first guest instruction). vessel measures it on its
    own clock against the launch time this script hands over in VESSEL_LAUNCH_NS: the time its
    appliance preparation ended plus the restore's own figure;
  - the guest's answer to a command typed at once on its console;
  - the first HTTP answer through the port forward.
Then --copies copies started at once: time until every one served a page, sum of RSS and PSS
(smaps_rollup), bytes each wrote to storage (/proc/PID/io write_bytes) and its overlay's size.
Usage: bench/appliance.py [--vessel build/vessel] [--runs 5] [--copies 20] [--no-qemu]"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from snapshot import Proc, hmp, med  # noqa: E402
import test_appliance as ta  # noqa: E402
from harness import guest_files  # noqa: E402


def http_ok(port, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/app.html", timeout=5) as r:
                if r.read() == ta.APP_PAGE:
                    return True
        except Exception:
            time.sleep(0.005)
    return False


def start(argv, port, restored=False):
    """Launch, retype a probe until answered; (proc, s to 'restored', s to answer, s to HTTP)."""
    t0 = time.monotonic()
    os.environ["VESSEL_LAUNCH_NS"] = str(time.monotonic_ns())
    g = Proc(argv)
    t_rest = None
    if restored:
        # vessel's own clock against the launch time handed over (this script's threads
        # would add their latency): preparation done, plus the restore itself
        end = t0 + 60
        while time.monotonic() < end and b"restored" not in bytes(g.err):
            time.sleep(0.001)
        err = bytes(g.err)
        pm = re.search(rb"prepared at \+([0-9.]+) ms", err)
        rm = re.search(rb"restored .* in ([0-9.]+) ms", err)
        if pm and rm:
            t_rest = (float(pm.group(1)) + float(rm.group(1))) / 1000
    ans = None
    while ans is None and time.monotonic() - t0 < 300 and g.proc.poll() is None:
        g.send("echo ans$((40+2))\n")
        if g.wait_for(b"ans42", 0.02) is not None:
            ans = time.monotonic() - t0
    t_http = time.monotonic() - t0 if http_ok(port) else None
    return g, t_rest, ans, t_http


def build(a, tmp):
    www = os.path.join(tmp, "tree", "www")
    os.makedirs(www)
    with open(os.path.join(www, "index.html"), "wb") as f:
        f.write(ta.BASE_PAGE)
    base = os.path.join(tmp, "base.ext4")
    ta.make_ext4(base, 64, os.path.join(tmp, "tree"))
    disk = os.path.join(tmp, "app.ext4")
    shutil.copyfile(base, disk)
    ta.debugfs_write(disk, ta.APP_PAGE, "/www", "app.html")
    initrd = os.path.join(tmp, "app-initrd.img")
    ta.make_initrd(tmp, initrd)
    app = os.path.join(tmp, "web.vessel")
    t0 = time.monotonic()
    p = subprocess.run([a.vessel, "pack", "-o", app, "--initrd", initrd, "--kernel",
                        guest_files()["vmlinuz"], "--disk", f"{disk},base={base}", "--net",
                        "user,hostfwd=tcp:127.0.0.1:18080-:80", "--snapshot-after", ta.HTTPD_UP],
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(p.stderr)
    return app, base, disk, initrd, time.monotonic() - t0


def port():
    return ta.free_port()


def bench_vessel(a, app):
    res = {"instant": [], "cold": [], "verify_full": []}
    for i in range(a.runs):
        for kind, extra in (("instant", []), ("cold", ["--cold"]),
                            ("verify_full", ["--verify", "full"])):
            if kind == "verify_full" and i:
                continue
            p = port()
            g, t_rest, ans, t_http = start([a.vessel, "run", app, *extra, "--net",
                                            f"user,hostfwd=tcp:127.0.0.1:{p}-:80"], p,
                                           restored=kind != "cold")
            m = re.search(rb"restored .* in ([0-9.]+) ms", bytes(g.err))
            res[kind].append({"restored_s": t_rest, "answer_s": ans, "http_s": t_http,
                              "restore_ms": float(m.group(1)) if m else None})
            g.send("poweroff -f\n")
            g.wait_exit(30)
            g.kill()
    return res


def copies(a, app, n):
    cache = os.path.join(os.environ["VESSEL_CACHE"], "appliance")
    ports = [port() for _ in range(n)]
    t0 = time.monotonic()
    gs = [Proc([a.vessel, "run", app, "--keep-overlays", "--net",
                f"user,hostfwd=tcp:127.0.0.1:{p}-:80"]) for p in ports]
    ok = [http_ok(p, 600) for p in ports]
    all_s = time.monotonic() - t0
    time.sleep(1)
    rss = pss = wbytes = 0
    for g in gs:
        with open(f"/proc/{g.proc.pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k == "Rss":
                    rss += int(v.split()[0]) * 1024
                if k == "Pss":
                    pss += int(v.split()[0]) * 1024
        with open(f"/proc/{g.proc.pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    wbytes += int(line.split()[1])
    for g in gs:
        g.send("poweroff -f\n")
    for g in gs:
        g.wait_exit(60)
        g.kill()
    ovl = 0
    kept = []
    for g in gs:
        for line in bytes(g.err).decode(errors="replace").splitlines():
            if "kept overlay " in line:
                kept.append(line.split("kept overlay ", 1)[1])
    for k in kept:
        ovl += os.stat(k).st_blocks * 512
        os.unlink(k)
    shared = sum(os.stat(os.path.join(d, f)).st_blocks * 512
                 for d, _, fs in os.walk(cache) for f in fs
                 if f.endswith(".qcow2") and not f.startswith("run-"))
    return {"n": n, "served": sum(ok), "all_serving_s": all_s, "rss": rss, "pss": pss,
            "write_bytes": wbytes, "overlays_bytes": ovl, "cached_disk_bytes": shared}


def bench_qemu(a, tmp, base, disk, initrd):
    q = os.path.join(tmp, "q.qcow2")
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", "-B", base, "-F", "raw", disk, q],
                   check=True)
    mon = os.path.join(tmp, "q.mon")
    p0 = port()

    def argv(p, extra):
        return [a.qemu, "-accel", "tcg", "-cpu", "qemu64", "-M", "pc", "-smp", "1", "-m", "256",
                "-nographic", "-no-reboot", "-kernel", guest_files()["vmlinuz"], "-initrd", initrd,
                "-append", "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 reboot=acpi",
                "-drive", f"file={q},if=virtio,format=qcow2", "-nic", "none",
                "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{p}-:80",
                "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci", *extra]
    g = Proc(argv(p0, ["-monitor", f"unix:{mon},server,nowait"]))
    if g.wait_for(ta.HTTPD_UP.encode(), 600) is None:
        raise SystemExit("qemu did not start the service:\n" + g.tail())
    time.sleep(1)
    hmp(mon, "savevm app")
    g.kill()
    res = []
    for _ in range(a.runs):
        p = port()
        r, _, ans, t_http = start(argv(p, ["-loadvm", "app", "-monitor",
                                           f"unix:{mon}2,server,nowait"]), p)
        res.append({"answer_s": ans, "http_s": t_http})
        r.kill()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vessel", default="build/vessel")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--no-qemu", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vessel-bench-appliance-")
    cache = os.path.join(tmp, "cache")
    os.makedirs(os.path.join(cache, "guest"))
    for k, p in guest_files().items():
        os.symlink(p, os.path.join(cache, "guest", k))
    os.environ["VESSEL_CACHE"] = cache
    try:
        app, base, disk, initrd, pack_s = build(a, tmp)
        st = os.stat(app)
        out = {"pack_s": pack_s, "appliance_bytes": st.st_size,
               "appliance_on_disk": st.st_blocks * 512}
        out["vessel"] = bench_vessel(a, app)
        out["copies"] = copies(a, app, a.copies)
        if not a.no_qemu and shutil.which(a.qemu):
            out["qemu"] = bench_qemu(a, tmp, base, disk, initrd)
        print(json.dumps(out, indent=1))
        v = out["vessel"]

        def m(rows, k, scale=1000):
            return med([r[k] * scale if r[k] is not None else None for r in rows])
        print("\n| start | launch → vCPU runs (ms) | launch → console answer (ms) | "
              "launch → HTTP answer (ms) |")
        print("|---|---|---|---|")
        for name, rows in (("vessel, embedded snapshot", v["instant"]),
                           ("vessel, first run with --verify full", v["verify_full"]),
                           ("vessel --cold (boot)", v["cold"])):
            vcpu = "—" if rows is v["cold"] else f"{m(rows, 'restored_s'):.1f}"
            print(f"| {name} | {vcpu} | {m(rows, 'answer_s'):.0f} | {m(rows, 'http_s'):.0f} |")
        if "qemu" in out:
            q = out["qemu"]
            print(f"| QEMU TCG -loadvm | — | {m(q, 'answer_s'):.0f} | {m(q, 'http_s'):.0f} |")
        c = out["copies"]
        print(f"\n{c['n']} copies: {c['served']} served in {c['all_serving_s']:.2f} s; "
              f"RSS {c['rss'] / 2**20:.0f} MiB, PSS {c['pss'] / 2**20:.0f} MiB; "
              f"write_bytes {c['write_bytes'] / 2**20:.2f} MiB, overlays "
              f"{c['overlays_bytes'] / 2**20:.2f} MiB, cached disk "
              f"{c['cached_disk_bytes'] / 2**20:.2f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
