"""harness.py — shared pieces of vessel's integration tests: a TAP reporter and a driver that
runs `vessel run` with pipes, waits for the guest's ready line and runs shell commands in the
guest, separating each command's output with markers the shell's own echo can't fake."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

READY_LINE = b"vessel-guest: ready"


class Tap:
    """Minimal TAP producer: ok/not ok lines, diagnostics as '#' comments, plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {name}", flush=True)
        if not cond:
            self.failed += 1
            if diag:
                self.comment(diag)
        return cond

    def skip(self, name, reason):
        self.n += 1
        print(f"ok {self.n} - {name} # SKIP {reason}", flush=True)

    def comment(self, text):
        for line in str(text).splitlines() or [""]:
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0


def run_test(body, prefix):
    """Run body(t, tmp, procs) with a TAP reporter `t`, a temporary directory `tmp` and a list
    `procs` of processes (Guest or Popen) the test started: however the body ends, they are
    killed and the directory removed. Returns the exit status (for SystemExit)."""
    t = Tap()
    tmp = tempfile.mkdtemp(prefix=prefix)
    procs = []
    try:
        body(t, tmp, procs)
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


def cache_dir():
    c = os.environ.get("VESSEL_CACHE")
    return c if c else os.path.join(os.path.expanduser("~"), ".cache", "vessel")


def guest_files():
    g = os.path.join(cache_dir(), "guest")
    return {k: os.path.join(g, k) for k in ("vmlinuz", "initrd.img", "manifest")}


def guest_present():
    return all(os.path.isfile(p) for p in guest_files().values())


def manifest():
    out = {}
    with open(guest_files()["manifest"]) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


class Guest:
    """A running `vessel run` on the default guest, driven through its serial console."""

    def __init__(self, vessel, args=(), log_path=None):
        self.proc = subprocess.Popen([vessel, "run", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        self.cond = threading.Condition()
        self.log = open(log_path, "wb") if log_path else None
        self.seq = 0
        # Host arrival time of each chunk, to time guest events (sleep test).
        self.stamps = []
        self.pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, True),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, False),
                             daemon=True)]
        for p in self.pumps:
            p.start()

    def _pump(self, f, buf, stamp):
        while True:
            chunk = os.read(f.fileno(), 65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                if stamp:
                    self.stamps.append((len(buf), time.monotonic()))
                buf += chunk
                if self.log and stamp:
                    self.log.write(chunk)
                    self.log.flush()
                self.cond.notify_all()

    def wait_for(self, pattern, timeout, start=0):
        """Offset just after `pattern` in stdout (searching from `start`), or None on timeout
        or exit."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                i = self.out.find(pattern, start)
                if i >= 0:
                    return i + len(pattern)
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    i = self.out.find(pattern, start)
                    return i + len(pattern) if i >= 0 else None
                self.cond.wait(min(left, 0.5))

    def arrival(self, offset):
        """Host time at which the byte at `offset` of stdout arrived."""
        with self.cond:
            t = None
            for off, ts in self.stamps:
                if off > offset:
                    break
                t = ts
            return t

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def run(self, cmd, timeout=120):
        """Run a shell command in the guest; returns (output, exit status) or (None, None)."""
        self.seq += 1
        tag = f"VSL{self.seq}"
        # Where the answer can start: taken before sending, since a fast guest may answer
        # before this thread looks again (the marker would then be missed until the timeout).
        with self.cond:
            start_len = len(self.out)
        # The quotes keep the echoed command line from matching the markers.
        self.send(f"echo '{tag}''B'; {cmd}; echo \"{tag}E $?\"\n")
        b = self.wait_for(f"{tag}B".encode(), timeout, start_len)
        if b is None:
            return None, None
        e = self.wait_for(f"{tag}E ".encode(), timeout, b)
        if e is None:
            return None, None
        nl = self.wait_for(b"\n", 10, e)
        status = int(self.out[e:nl].strip() or b"-1") if nl else -1
        body = bytes(self.out[b:e - len(f"{tag}E ")])
        return body.replace(b"\r\n", b"\n").strip(b"\n").decode(errors="replace"), status

    def to_shell(self, timeout, quiet_kernel=True):
        """Wait for the ready line and the prompt, then make the terminal quiet and predictable:
        no echo, and (with quiet_kernel) kernel messages only in the log, never in the middle of
        a command's output. Returns the offset just after the ready line, or None."""
        ready = self.wait_for(READY_LINE, timeout)
        if ready is None:
            return None
        self.wait_for(b"# ", 60, ready)
        self.run("stty -echo 2>/dev/null; " + ("dmesg -n 1; " if quiet_kernel else "") + "true",
                 60)
        return ready

    def wait_exit(self, timeout):
        """Exit status, once the process has exited and everything it wrote has been read (the
        pumps reach end of file after the exit: reading err before that races with them)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for p in self.pumps:
            p.join(10)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def tail(self, n=30):
        with self.cond:
            lines = bytes(self.out).replace(b"\r", b"").decode(errors="replace").splitlines()
            err = bytes(self.err).decode(errors="replace")
        return "\n".join(["--- last console lines:"] + lines[-n:] + ["--- stderr:", err[-4000:]])


def start_guest(vessel, t, tag, args, timeout, log_path, quiet_kernel=True):
    """A guest booted to a quiet shell (Guest.to_shell), or None after a failed check named
    after `tag` (the guest is then killed)."""
    g = Guest(vessel, args, log_path=log_path)
    if not t.ok(g.to_shell(timeout, quiet_kernel) is not None,
                f"{tag}: guest reaches the ready line", g.tail()):
        g.kill()
        return None
    return g


def free_port():
    """A TCP port on the loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_http(g, port, text, root="/www"):
    """Start busybox httpd in the guest on `port`, serving `text` as root/index.html."""
    return g.run(f"mkdir -p {root} && echo {text} > {root}/index.html && "
                 f"httpd -p {port} -h {root}", 60)


def http_get(port, within=30, path="/index.html"):
    """The body (stripped) of http://127.0.0.1:PORT/PATH, tried until `within` seconds have
    passed (a forward may take a moment to reach a fresh server); None if it never answered."""
    end = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                return r.read().decode(errors="replace").strip()
        except OSError:
            if time.monotonic() >= end:
                return None
            time.sleep(0.5)


def memory_report(g, timeout=10):
    """Send SIGUSR2 to a running vessel and parse the memory report line it prints
    ("vessel: memory: key=value ..."): a dict, numbers as ints; {} if none came in time."""
    start = len(g.err)
    g.proc.send_signal(signal.SIGUSR2)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = re.search(rb"vessel: memory:(.*)\n", bytes(g.err[start:]))
        if m:
            return {k: int(v) if v.isdigit() else v
                    for k, v in (kv.split("=", 1) for kv in m.group(1).decode().split())}
        time.sleep(0.1)
    return {}


def pss(pid, pool=None):
    """Pss of a process in bytes, leaving out mappings of the file `pool` (counted apart)."""
    total, skip = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                skip = pool is not None and line.rstrip().endswith(pool)
            elif line.startswith("Pss:") and not skip:
                total += int(line.split()[1]) * 1024
    return total


def vessel_path():
    if len(sys.argv) < 2:
        sys.exit("usage: test.py PATH-TO-VESSEL")
    return sys.argv[1]
