"""test_sandbox.py — the confined monitor (docs/SANDBOX.md), proved from outside on a running
guest with a disk, a NIC and the control API:
- every thread of the monitor reports "Seccomp: 2" (a filter) and no effective capabilities
  in /proc/PID/task/*/status, and with --sandbox off none does;
- the test hook (VESSEL_TEST_SANDBOX_PROBE + SIGRTMIN+4) makes the running vCPU thread attempt
  execve, the disk I/O thread open a host file, the API thread create a file and execve: each
  time the monitor logs the thread kind and the call and is killed by SIGSYS; with --sandbox
  off the same open succeeds (so the hook really makes the call);
- --jail DIR: the monitor runs in its own PID/mount/UTS/IPC namespaces as uid 65534 with DIR
  as its root (the guest boots from files inside DIR, the API socket appears in DIR), and the
  hook's open of a host file on the vCPU thread, which may open files, is refused (ENOENT: the
  host's /etc is not in the jail). Started as an unprivileged user, the jail uses a user
  namespace; where the host forbids those that case is skipped with the reason."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from harness import READY_LINE, Guest, Tap, guest_files, guest_present, vessel_path

PROBE_SIGNAL = signal.SIGRTMIN + 4
TIMEOUT = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "300"))


def threads(pid):
    """[(tid, comm, seccomp, capeff)] of every thread of pid."""
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except FileNotFoundError:
            continue
        out.append((int(tid), st["Name"], st.get("Seccomp"), st.get("CapEff")))
    return out


def start(vessel, args, env=None, preexec=None):
    """A harness Guest on `vessel run ARGS` with extra environment and a pre-exec hook."""
    g = Guest.__new__(Guest)
    full = dict(os.environ)
    full.update(env or {})
    g.proc = subprocess.Popen([vessel, "run", *args], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full,
                              preexec_fn=preexec)
    g.out, g.err = bytearray(), bytearray()
    g.cond = threading.Condition()
    g.log, g.seq, g.stamps = None, 0, []
    g.pumps = [threading.Thread(target=g._pump, args=(g.proc.stdout, g.out, True), daemon=True),
               threading.Thread(target=g._pump, args=(g.proc.stderr, g.err, False), daemon=True)]
    for p in g.pumps:
        p.start()
    return g


def boot(t, vessel, args, env=None, name="guest", preexec=None):
    g = start(vessel, args, env, preexec)
    if g.wait_for(READY_LINE, TIMEOUT) is None:
        t.ok(False, f"{name} boots", g.tail())
        g.kill()
        return None
    return g


def wait_gone(pid, timeout=10):
    """True once pid has exited (gone, or a zombie waiting for its reaper)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def wait_dead(g, timeout=30):
    code = g.wait_exit(timeout)
    return code, bytes(g.err).decode(errors="replace")


def main():
    t = Tap()
    vessel = vessel_path()
    if not guest_present():
        t.skip("sandbox", "guest not built (scripts/build-guest.sh)")
        return t.done()
    tmp = tempfile.mkdtemp(prefix="vessel-sandbox-")
    try:
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(16 << 20)
        sock = os.path.join(tmp, "api.sock")
        common = ["--disk", disk, "--net", "user", "--api-sock", sock,
                  "--kernel", guest_files()["vmlinuz"], "--initrd", guest_files()["initrd.img"]]

        # 1. Every thread confined, no capabilities; the guest works.
        g = boot(t, vessel, common)
        if g:
            out, st = g.run("dd if=/dev/vda of=/dev/null bs=64k count=64 2>&1; wget -q -O - "
                            "-T 5 http://10.0.2.3/ 2>&1 | head -1; echo net-tried")
            t.ok(st == 0 and "net-tried" in (out or ""), "the confined guest reads its disk",
                 g.tail())
            th = threads(g.proc.pid)
            t.comment("\n".join(f"tid {tid} {n}: Seccomp {s} CapEff {c}" for tid, n, s, c in th))
            t.ok(len(th) >= 4, f"the monitor runs {len(th)} threads (main, I/O, net, API)")
            t.ok(all(s == "2" for _, _, s, _ in th), "every thread: Seccomp: 2 (filter)")
            t.ok(all(int(c, 16) == 0 for _, _, _, c in th), "every thread: no capabilities")
            g.kill()

        # 2. --sandbox off: nothing confined, and the hook's open succeeds there.
        g = boot(t, vessel, common + ["--sandbox", "off"],
                 {"VESSEL_TEST_SANDBOX_PROBE": "io:open:/etc/passwd"}, "unconfined guest")
        if g:
            th = threads(g.proc.pid)
            t.ok(all(s == "0" for _, _, s, _ in th), "--sandbox off: no thread has a filter")
            os.kill(g.proc.pid, PROBE_SIGNAL)
            time.sleep(2)
            err = bytes(g.err).decode(errors="replace")
            t.ok("open succeeded" in err and g.proc.poll() is None,
                 "--sandbox off: the hook's open of /etc/passwd on the I/O thread succeeds",
                 g.tail())
            g.kill()

        # 3. Forbidden calls from the running monitor: killed by SIGSYS, logged.
        for kind, call, path, what in (("vcpu", "execve", "/bin/sh", "execve"),
                                       ("io", "open", "/etc/passwd", "openat"),
                                       ("api", "create", os.path.join(tmp, "planted"), "openat"),
                                       ("api", "execve", "/bin/sh", "execve")):
            g = boot(t, vessel, common, {"VESSEL_TEST_SANDBOX_PROBE": f"{kind}:{call}:{path}"},
                     f"guest for the {kind} probe")
            if not g:
                continue
            os.kill(g.proc.pid, PROBE_SIGNAL)
            code, err = wait_dead(g)
            t.comment(err.strip().splitlines()[-3:])
            t.ok(code == -signal.SIGSYS,
                 f"{call} {path} on the running {kind} thread: the monitor is killed by SIGSYS "
                 f"(status {code})", g.tail())
            t.ok(f"sandbox: the {kind} thread" in err and f"forbidden system call: {what}" in err,
                 f"... and it is logged with the thread kind and the call", err[-2000:])
            if call == "create":
                t.ok(not os.path.exists(path), f"... and {path} was not created")
            g.kill()

        # 4. The jail, as root (namespaces, pivot_root, uid 65534) and unprivileged (a user
        # namespace).
        jail_test(t, vessel, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


def make_jail(tmp, name, uid):
    jail = os.path.join(tmp, name)
    os.mkdir(jail)
    shutil.copy(guest_files()["vmlinuz"], os.path.join(jail, "vmlinuz"))
    shutil.copy(guest_files()["initrd.img"], os.path.join(jail, "initrd.img"))
    with open(os.path.join(jail, "disk.img"), "wb") as f:
        f.truncate(8 << 20)
    for p in [jail] + [os.path.join(jail, n) for n in os.listdir(jail)]:
        os.chown(p, uid, uid)
    os.chmod(jail, 0o755)
    return jail


def jail_test(t, vessel, tmp):
    if os.geteuid() != 0:
        t.skip("jail as root", "the test runs unprivileged")
    else:
        os.chmod(tmp, 0o755)
        jail = make_jail(tmp, "jail", 65534)
        args = ["--jail", jail, "--kernel", "/vmlinuz", "--initrd", "/initrd.img",
                "--disk", "/disk.img", "--api-sock", "/api.sock", "--net", "user"]
        g = boot(t, vessel, args, {"VESSEL_TEST_SANDBOX_PROBE": "vcpu:open:/etc/passwd"},
                 "jailed guest")
        if g:
            # The parent outside waits; the monitor is its child, PID 1 of its namespace.
            kids = open(f"/proc/{g.proc.pid}/task/{g.proc.pid}/children").read().split()
            mon = int(kids[0]) if kids else None
            t.ok(mon is not None, "the jailed monitor runs as the jailer's child")
            if mon:
                st = open(f"/proc/{mon}/status").read()
                uid = [l for l in st.splitlines() if l.startswith("Uid:")][0].split()[1]
                nspid = [l for l in st.splitlines() if l.startswith("NSpid:")][0].split()
                t.ok(uid == "65534", f"... as uid 65534 (Uid: {uid})")
                t.ok(nspid[-1] == "1", f"... as PID 1 of its own PID namespace (NSpid: {nspid})")
                for ns in ("mnt", "pid", "ipc", "uts"):
                    t.ok(os.readlink(f"/proc/{mon}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"),
                         f"... in a {ns} namespace of its own")
                t.ok(os.readlink(f"/proc/{mon}/root") == "/" and
                     os.path.realpath(f"/proc/{mon}/root/vmlinuz") != "" and
                     sorted(os.listdir(f"/proc/{mon}/root")) ==
                     ["api.sock", "disk.img", "initrd.img", "vmlinuz"],
                     f"... with only the VM's files as its root: "
                     f"{sorted(os.listdir(f'/proc/{mon}/root'))}")
                th = threads(mon)
                t.ok(all(s == "2" for _, _, s, _ in th), "... every thread confined")
                t.ok(os.path.exists(os.path.join(jail, "api.sock")),
                     "the API socket appears inside the jail directory")
                out, st = g.run("cat /proc/partitions | grep -c vda")
                t.ok(st == 0 and out.strip() == "1", "the jailed guest sees its disk", g.tail())
                os.kill(mon, PROBE_SIGNAL)
                time.sleep(2)
                err = bytes(g.err).decode(errors="replace")
                t.ok("open refused: No such file or directory" in err and g.proc.poll() is None,
                     "the vCPU thread's open of the host's /etc/passwd is refused in the jail",
                     err[-2000:])
            g.kill()
            if mon:
                t.ok(wait_gone(mon), "the jailed monitor dies with its jailer (SIGKILL)")
    unprivileged_jail(t, vessel, tmp)
    if os.geteuid() == 0:
        cgroup_test(t, vessel, tmp)


def cgroup2_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if " - cgroup2 " in line:
                return line.split()[4]
    return None


def cgroup_test(t, vessel, tmp):
    """--jail-cgroup: the limits are applied, or refused with the reason; never ignored."""
    root = cgroup2_root()
    if not root:
        t.skip("jail cgroup limits", "no cgroup v2 hierarchy is mounted")
        return
    ctrls = open(os.path.join(root, "cgroup.subtree_control")).read().split()
    jail = make_jail(tmp, "cgjail", 65534)
    args = ["--jail", jail, "--jail-cgroup", "cpu=50000/100000,memory=256M", "--kernel",
            "/vmlinuz", "--initrd", "/initrd.img"]
    if "cpu" not in ctrls or "memory" not in ctrls:
        g = start(vessel, args)
        code = g.wait_exit(60)
        err = bytes(g.err).decode(errors="replace")
        t.ok(code == 1 and "--jail: cannot set" in err and "controller" in err,
             "--jail-cgroup where the host's cgroup v2 root lacks cpu/memory controllers: "
             "refused with the reason", err[-1000:])
        g.kill()
        t.skip("jail cgroup limits applied", f"{root}/cgroup.subtree_control enables {ctrls}, "
               "not cpu and memory")
        return
    g = boot(t, vessel, args, name="jail with cgroup limits")
    if g:
        kids = open(f"/proc/{g.proc.pid}/task/{g.proc.pid}/children").read().split()
        cg = os.path.join(root, f"vessel-{kids[0]}") if kids else ""
        t.ok(open(os.path.join(cg, "cpu.max")).read().split() == ["50000", "100000"] and
             open(os.path.join(cg, "memory.max")).read().strip() == str(256 << 20),
             f"the jailed monitor runs in {cg} with cpu.max and memory.max set")
        g.kill()
        if kids:
            wait_gone(int(kids[0]))


def unprivileged_jail(t, vessel, tmp):
    """As uid 65534: the jail needs an unprivileged user namespace."""
    name = "unprivileged jail"
    if os.geteuid() != 0:
        uid, run_as = os.geteuid(), None
    else:
        uid, run_as = 65534, 65534
    probe = subprocess.run(["unshare", "-U", "-m", "-p", "-f", "true"], capture_output=True,
                           preexec_fn=(lambda: (os.setgid(run_as), os.setuid(run_as)))
                           if run_as else None)
    if probe.returncode != 0:
        t.skip(name, "the host forbids unprivileged user namespaces (unshare -U: "
               f"{probe.stderr.decode().strip()})")
        return
    jail = make_jail(tmp, "ujail", uid)

    def drop():
        if run_as:
            os.setgid(run_as)
            os.setuid(run_as)
    g = boot(t, vessel, ["--jail", jail, "--kernel", "/vmlinuz", "--initrd", "/initrd.img",
                         "--disk", "/disk.img"], name=f"{name}: guest", preexec=drop)
    if g:
        kids = open(f"/proc/{g.proc.pid}/task/{g.proc.pid}/children").read().split()
        mon = int(kids[0]) if kids else None
        userns = mon and os.readlink(f"/proc/{mon}/ns/user") != os.readlink("/proc/self/ns/user")
        t.ok(bool(userns), f"{name}: the monitor runs in a user namespace of its own")
        th = threads(mon) if mon else []
        t.ok(bool(th) and all(s == "2" for _, _, s, _ in th), f"{name}: every thread confined")
        out, st = g.run("echo jailed-ok")
        t.ok(st == 0 and "jailed-ok" in (out or ""), f"{name}: the guest runs", g.tail())
        g.kill()
        if mon:
            t.ok(wait_gone(mon), f"{name}: the jailed monitor dies with its jailer")


if __name__ == "__main__":
    sys.exit(main())
