"""test_cli.py — every bad command line or bad input file gives exit status 2, one line on
stderr naming the problem, and leaves nothing running."""

import os
import subprocess
import tempfile

from harness import Tap, vessel_path


def run(vessel, args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([vessel, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60, env=e)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    vessel = vessel_path()
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="vessel-cli-")
    notkernel = os.path.join(tmp, "notkernel")
    with open(notkernel, "wb") as f:
        f.write(b"this is not a kernel\n" * 100)
    initrd = os.path.join(tmp, "initrd")
    with open(initrd, "wb") as f:
        f.write(b"\0" * 4096)
    big = os.path.join(tmp, "big-initrd")
    with open(big, "wb") as f:
        f.truncate(80 << 20)  # sparse: larger than a 64M guest
    real_kernel = os.path.join(os.environ.get("VESSEL_CACHE") or
                               os.path.expanduser("~/.cache/vessel"), "guest", "vmlinuz")

    cases = [
        ("no command", [], "command"),
        ("unknown command", ["frobnicate"], "frobnicate"),
        ("unknown top-level option", ["--frob"], "--frob"),
        ("unknown run option", ["run", "--frob"], "--frob"),
        ("missing value", ["run", "--kernel"], "--kernel"),
        ("bad size suffix", ["run", "--memory", "12Q"], "12Q"),
        ("zero memory", ["run", "--memory", "0"], "--memory"),
        ("too little memory", ["run", "--memory", "1K"], "1K"),
        ("too much memory", ["run", "--memory", "1T"], "1T"),
        ("overflowing size", ["run", "--memory", "99999999999999999999G"], "--memory"),
        ("no cpu", ["run", "--cpus", "0"], "--cpus"),
        ("more cpus than the board has", ["run", "--cpus", "33"], "--cpus"),
        ("bad console", ["run", "--console", "tcp:1"], "tcp:1"),
        ("bad reboot action", ["run", "--reboot=sometimes"], "sometimes"),
        ("missing kernel", ["run", "--kernel", os.path.join(tmp, "nope")], "nope"),
        ("kernel is a directory", ["run", "--kernel", tmp], tmp),
        ("missing initrd", ["run", "--kernel", notkernel, "--initrd", os.path.join(tmp, "x")],
         "initrd"),
        ("not a kernel", ["run", "--kernel", notkernel], "kernel"),
        ("missing disk", ["run", "--kernel", notkernel, "--disk", os.path.join(tmp, "d")],
         "disk"),
        ("bad rng switch", ["run", "--rng", "sometimes"], "--rng"),
    ]
    for name, args, needle in cases:
        code, out, err = run(vessel, args)
        lines = err.strip().splitlines()
        t.ok(code == 2 and len(lines) == 1 and needle in err, f"{name}: exit 2, one line",
             f"exit {code}, stderr {err!r}")

    code, out, err = run(vessel, ["run"], env={"VESSEL_CACHE": os.path.join(tmp, "empty")})
    t.ok(code == 2 and "build-guest" in err and len(err.strip().splitlines()) == 1,
         "missing default guest: exit 2 with directions", f"exit {code}, stderr {err!r}")

    if os.path.isfile(real_kernel):
        code, out, err = run(vessel, ["run", "--kernel", real_kernel, "--initrd", big,
                                      "--memory", "64M"])
        t.ok(code == 2 and len(err.strip().splitlines()) == 1, "initrd larger than RAM: exit 2",
             f"exit {code}, stderr {err!r}")
    else:
        t.skip("initrd larger than RAM: exit 2", "guest kernel not built")

    for args, needle in ((["--help"], "usage: vessel"), (["run", "--help"], "--memory"),
                         (["--version"], "vessel ")):
        code, out, err = run(vessel, args)
        t.ok(code == 0 and needle in out and not err, f"{' '.join(args)}: exit 0",
             f"exit {code}, out {out[:200]!r}, err {err!r}")
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
