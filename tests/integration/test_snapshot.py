"""test_snapshot.py — the VM as data on the real Debian guest. A guest counts in a loop, writing
each number to a file on a virtio-blk ext4 disk and printing it with its uptime:
 (a) it is paused and snapshotted through the API, the monitor is killed (SIGKILL), and
     `vessel run --restore` continues the count with no number lost or repeated, guest time
     going on from the snapshot; the disk's last number matches and e2fsck -fn passes;
 (b) the restored guest is paused and resumed: no output while paused, the count continues,
     guest time never goes backwards (paused time is visible: it jumps forward);
 (c) three clones restored from the same snapshot (each with its own copy of the disk) run
     independently; their RSS is reported;
 and a state file of another format version, or a configuration that does not fit, is refused
 with exit status 2. Skips when the guest isn't built."""

import os
import re
import shutil
import socket
import subprocess
import time

import apiclient
import harness
from harness import Guest, free_port, guest_files, guest_present, run_test, vessel_path

COUNT_RE = re.compile(rb"CNT (\d+) (\d+\.\d+)\r?\n")
PAUSE_S = 2
LOOP = ("(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo $i > /mnt/count; sync; "
        "echo \"CNT $i $(cut -d' ' -f1 /proc/uptime)\"; sleep 0.2; done; echo CNT''DONE; "
        "exec sleep 100000) </dev/null &\n")
# The loop never exits: busybox ash, reading its next command line, takes the SIGCHLD of a
# finished background job for end of input and exits (the console would get a new shell).


def counts(data):
    return [(int(m.group(1)), float(m.group(2))) for m in COUNT_RE.finditer(data)]


def consecutive(seq):
    return all(b == a + 1 for a, b in zip(seq, seq[1:]))


def wait_count(g, n, timeout, start=0):
    """Wait until stdout (from `start`) holds a CNT line >= n; return the counts seen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with g.cond:
            c = counts(bytes(g.out[start:]))
        if c and c[-1][0] >= n:
            return c
        if g.proc.poll() is not None:
            break
        time.sleep(0.2)
    with g.cond:
        return counts(bytes(g.out[start:]))


def make_ext4(path, size_mb):
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0", path], check=True)


def fsck_ok(t, path, name):
    r = subprocess.run(["e2fsck", "-fn", path], capture_output=True, text=True)
    t.ok(r.returncode == 0, f"{name}: e2fsck -fn passes", r.stdout + r.stderr)


def rss_kib(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def same_ram(a, b):
    """Whether two memory files hold the same RAM (their trailers carry different ids)."""
    size = os.path.getsize(a)
    if size != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        left = size - 4096
        while left > 0:
            n = min(left, 1 << 22)
            if fa.read(n) != fb.read(n):
                return False
            left -= n
    return True


def stop_counter(t, g, name):
    """Stop the loop, check the disk's last number, unmount. Returns the output offset."""
    mark = len(g.out)
    g.send("touch /tmp/stop\n")
    done = g.wait_for(b"CNTDONE", 60, mark)
    t.ok(done is not None, f"{name}: the counting loop stops", g.tail())
    with g.cond:
        seen = counts(bytes(g.out))
    out, st = g.run("cat /mnt/count; umount /mnt && echo unmounted", 120)
    last = seen[-1][0] if seen else None
    t.ok(out is not None and out.split()[:1] == [str(last)] and "unmounted" in out,
         f"{name}: the disk's count ({(out or '').split()[:1]}) is the last printed ({last})",
         g.tail())


def start_guest(vessel, t, args, tag, tmp, timeout):
    return harness.start_guest(vessel, t, tag, args, timeout, os.path.join(tmp, f"{tag}.log"))


def body(t, tmp, procs):
    vessel = vessel_path()
    if not guest_present():
        t.skip("snapshot tests", "default guest not built (scripts/build-guest.sh)")
        return
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    disk = os.path.join(tmp, "disk.img")
    make_ext4(disk, 32)
    sock = os.path.join(tmp, "api.sock")
    state, mem = os.path.join(tmp, "vm.state"), os.path.join(tmp, "vm.mem")
    files = guest_files()  # with --api-sock the kernel is not defaulted: name it
    port = free_port()  # traffic that arrives while the VM is paused
    g = start_guest(vessel, t, ["--kernel", files["vmlinuz"], "--initrd", files["initrd.img"],
                                "--disk", disk, "--api-sock", sock,
                                "--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:7777"],
                    "source", tmp, timeout)
    if not g:
        return
    procs.append(g)
    out, st = g.run("mount /dev/vda /mnt && echo mounted", 60)
    t.ok(st == 0 and "mounted" in (out or ""), "source: the ext4 disk mounts", g.tail())
    g.send(LOOP)
    seen = wait_count(g, 15, 120)
    t.ok(len(seen) >= 15 and consecutive([c for c, _ in seen]), "source: the guest counts",
         g.tail())

    # (a) pause, snapshot, kill, restore
    st_, body = apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
    t.ok(st_ == 204, "pause through PATCH /vm", body)
    t0 = time.monotonic()
    st_, body = apiclient.call(sock, "PUT", "/snapshot/create",
                               {"snapshot_path": state, "mem_file_path": mem,
                                "snapshot_type": "Full"})
    t.ok(st_ == 204 and os.path.isfile(state) and os.path.isfile(mem),
         "PUT /snapshot/create writes the state and memory files", body)
    t.comment(f"snapshot of {256} MiB guest: {time.monotonic() - t0:.3f} s, memory file "
              f"{os.stat(mem).st_blocks * 512 >> 20} MiB on disk, state "
              f"{os.path.getsize(state)} bytes")
    t.ok(not any(n.endswith(".tmp") for n in os.listdir(tmp)),
         "no temporary files are left behind")
    # A paused VM is still: a connection through the port forward while paused (slirp
    # answers the host at once and sends the guest its SYN) must not reach guest memory.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"while you were paused\n")
            time.sleep(1.5)
    except OSError:
        pass
    mem2 = os.path.join(tmp, "vm2.mem")
    st_, body = apiclient.call(sock, "PUT", "/snapshot/create",
                               {"snapshot_path": os.path.join(tmp, "vm2.state"),
                                "mem_file_path": mem2, "snapshot_type": "Full"})
    t.ok(st_ == 204 and same_ram(mem, mem2),
         "paused: guest RAM is unchanged by network traffic arriving meanwhile", body)
    os.unlink(mem2)
    time.sleep(0.3)
    g.proc.kill()
    g.wait_exit(30)
    with g.cond:
        before = bytes(g.out)
    clones = []
    for k in range(3):
        c = os.path.join(tmp, f"clone{k}.img")
        shutil.copyfile(disk, c)
        clones.append(c)

    sock2 = os.path.join(tmp, "api2.sock")
    # (--net user: the restored machines need no port forward, and clones cannot share one)
    r = Guest(vessel, ["--restore", state, "--api-sock", sock2, "--net", "user"],
              log_path=os.path.join(tmp, "restored.log"))
    procs.append(r)
    after = wait_count(r, counts(before)[-1][0] + 15, 120)
    whole = counts(before + bytes(r.out))
    nums = [c for c, _ in whole]
    times = [u for _, u in whole]
    t.ok(len(after) >= 10 and consecutive(nums),
         f"(a) restored after SIGKILL: the count goes on with nothing lost or repeated "
         f"({nums[0] if nums else '-'}..{nums[-1] if nums else '-'})",
         r.tail() + f"\n{nums}")
    t.ok(all(b >= a for a, b in zip(times, times[1:])),
         "(a) guest uptime never goes backwards across the restore", str(times))
    restore_line = re.search(rb"restored .* in ([0-9.]+) ms", bytes(r.err))
    t.comment(f"restore-to-running: {restore_line.group(1).decode() if restore_line else '?'}"
              " ms")

    # (b) pause and resume the restored guest
    apiclient.wait_socket(sock2)
    st_, _ = apiclient.call(sock2, "PATCH", "/vm", {"state": "Paused"})
    time.sleep(0.5)
    mark = len(r.out)
    st2, info = apiclient.call(sock2, "GET", "/")
    time.sleep(PAUSE_S)
    quiet = len(r.out) == mark
    t.ok(st_ == 204 and st2 == 200 and info.get("state") == "Paused" and quiet,
         f"(b) paused: state Paused and no guest output for {PAUSE_S} s",
         f"{info} {r.tail()}")
    st_, _ = apiclient.call(sock2, "PATCH", "/vm", {"state": "Resumed"})
    last = counts(bytes(r.out))[-1][0]
    wait_count(r, last + 10, 120)
    whole = counts(before + bytes(r.out))
    nums = [c for c, _ in whole]
    times = [u for _, u in whole]
    t.ok(st_ == 204 and consecutive(nums) and nums[-1] >= last + 10,
         "(b) resumed: the count goes on with nothing lost or repeated", r.tail())
    gaps = [b - a for a, b in zip(times, times[1:])]
    t.ok(min(gaps) >= 0 and max(gaps) >= 1.5,
         f"(b) guest time continues through the pause, forward only (largest step "
         f"{max(gaps):.2f} s)", str(times))
    stop_counter(t, r, "(a,b) restored")
    r.kill()
    fsck_ok(t, disk, "(a,b) restored disk")

    # (c) three clones of one snapshot
    cl = []
    for k, d in enumerate(clones):
        c = Guest(vessel, ["--restore", state, "--disk", d, "--net", "user"],
                  log_path=os.path.join(tmp, f"clone{k}.log"))
        procs.append(c)
        cl.append(c)
    first = counts(before)[-1][0] + 1
    for k, c in enumerate(cl):
        seen = wait_count(c, first + 5, 120)
        t.ok(seen and seen[0][0] == first and consecutive([n for n, _ in seen]),
             f"(c) clone {k} continues the count from {first}", c.tail())
    for k, c in enumerate(cl):
        out, st = c.run(f"echo clone-{k}-$(( {k} * 1111 + 7 ))", 60)
        t.ok(out is not None and f"clone-{k}-{k * 1111 + 7}" in out,
             f"(c) clone {k} answers its own command", c.tail())
    for k, c in enumerate(cl):
        t.comment(f"clone {k} RSS: {rss_kib(c.proc.pid)} (KiB)")
    for k, c in enumerate(cl):
        stop_counter(t, c, f"(c) clone {k}")
        c.kill()
        fsck_ok(t, clones[k], f"(c) clone {k} disk")

    # refusals: another format version, a configuration that does not fit
    bad = os.path.join(tmp, "bad.state")
    with open(state, "rb") as f:
        data = bytearray(f.read())
    data[8] = 99
    with open(bad, "wb") as f:
        f.write(data)
    p = subprocess.run([vessel, "run", "--restore", bad], capture_output=True, timeout=60)
    t.ok(p.returncode == 2 and b"format version 99" in p.stderr,
         "a state file of another format version exits 2 with a clear message", p.stderr)
    p = subprocess.run([vessel, "run", "--restore", state, "--disk", disk, "--disk", disk],
                       capture_output=True, timeout=60)
    t.ok(p.returncode == 2 and b"disk" in p.stderr,
         "a restore with another number of disks exits 2", p.stderr)
    p = subprocess.run([vessel, "run", "--restore", state, "--restore-mem", disk],
                       capture_output=True, timeout=60)
    t.ok(p.returncode == 2 and b"memory file" in p.stderr,
         "a memory file that is not the snapshot's exits 2", p.stderr)


if __name__ == "__main__":
    raise SystemExit(run_test(body, "vessel-snap-"))
