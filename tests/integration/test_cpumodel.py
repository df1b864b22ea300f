"""test_cpumodel.py — CPU models on the real Debian guest (docs/CPU-MODEL.md, issue #17 item 4).

 (a) the command line: an unknown model exits 2; a model this host cannot provide exits 1
     naming the missing extension (VESSEL_HOST_HIDE makes any host lack AVX2, so this runs
     everywhere); PUT /machine-config refuses the same and accepts host, which GET then shows;
 (b) the default model (x86-64-v2): /proc/cpuinfo shows its fixed flags (the engine's own
     extensions, none of the host-backed AVX class, AES-NI, PCLMULQDQ or SHA) whatever the host;
     GET /machine-config names it; a snapshot of it restores on a host that lacks every optional
     extension;
 (c) --cpu x86-64-v3: /proc/cpuinfo adds exactly avx avx2 fma f16c; the snapshot records the
     model: it is refused where the host lacks AVX2 (a clear message naming it), and restored
     where it has it, with the model adopted (GET /machine-config);
 (d) --cpu host: the guest's host-backed flags are exactly those of this host.
A host without the AVX class runs (c) as the start-up refusal instead (printed).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import apiclient
import harness
from harness import Guest, Tap, guest_files, guest_present, vessel_path

HOST_BACKED = ["aes", "pclmulqdq", "sha_ni", "avx", "avx2", "fma", "f16c"]
V3_ADDS = ["avx", "avx2", "fma", "f16c"]
# the engine computes these itself: every model offers them, on every host (pni is SSE3)
SOFTWARE = ["pni", "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "movbe", "bmi1", "bmi2",
            "adx", "abm", "xsave", "fsgsbase", "rdpid", "erms", "rdrand", "rdseed", "smep", "smap",
            "umip", "pcid", "invpcid"]
HIDE_ALL = "AES,PCLMUL,SHA,AVX"


def host_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def guest_cpuinfo(g):
    out, st = g.run("cat /proc/cpuinfo", 60)
    if st != 0 or not out:
        return None, {}
    flags = set()
    info = {}
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            info[k.strip()] = v.strip()
            if k.strip() == "flags":
                flags = set(v.split())
    return flags, info


def machine_model(sock):
    apiclient.wait_socket(sock)
    st, body = apiclient.call(sock, "GET", "/machine-config")
    return body.get("cpu_model") if st == 200 and isinstance(body, dict) else None


def snapshot(t, sock, tmp, tag):
    name = tag.split()[-1]
    state, mem = os.path.join(tmp, f"{name}.state"), os.path.join(tmp, f"{name}.mem")
    st, body = apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
    st2, body2 = apiclient.call(sock, "PUT", "/snapshot/create",
                                {"snapshot_path": state, "mem_file_path": mem,
                                 "snapshot_type": "Full"})
    ok = st == 204 and st2 == 204 and os.path.isfile(state)
    t.ok(ok, f"{tag}: paused and snapshotted", f"{body} {body2}")
    return state if ok else None


def restore(vessel, tmp, tag, state, hide=None):
    """Restore `state` in a new process (with VESSEL_HOST_HIDE=hide); returns (Guest, its API
    socket)."""
    sock = os.path.join(tmp, f"{tag}.sock")
    # Guest has no env parameter: start it with the environment set for this process only
    old = os.environ.get("VESSEL_HOST_HIDE")
    try:
        if hide:
            os.environ["VESSEL_HOST_HIDE"] = hide
        else:
            os.environ.pop("VESSEL_HOST_HIDE", None)
        r = Guest(vessel, ["--restore", state, "--api-sock", sock],
                  log_path=os.path.join(tmp, f"{tag}.log"))
    finally:
        if old is None:
            os.environ.pop("VESSEL_HOST_HIDE", None)
        else:
            os.environ["VESSEL_HOST_HIDE"] = old
    return r, sock


def alive(r):
    out, st = r.run("echo al''ive", 120)
    return st == 0 and out is not None and "alive" in out


def main():
    t = Tap()
    vessel = vessel_path()
    hflags = host_flags()
    t.comment("host: " + " ".join(f for f in HOST_BACKED if f in hflags) +
              " (of " + " ".join(HOST_BACKED) + ")")

    # (a) the command line, on any host
    p = subprocess.run([vessel, "run", "--cpu", "pentium"], capture_output=True, text=True,
                       timeout=30)
    t.ok(p.returncode == 2 and "pentium" in p.stderr, "(a) --cpu pentium exits 2 naming it",
         p.stderr)
    env = dict(os.environ, VESSEL_HOST_HIDE="AVX2")
    p = subprocess.run([vessel, "run", "--cpu", "x86-64-v3"], capture_output=True, text=True,
                       timeout=30, env=env, stdin=subprocess.DEVNULL)
    t.ok(p.returncode == 1 and "x86-64-v3" in p.stderr and "AVX2" in p.stderr and
         "lacks" in p.stderr,
         "(a) --cpu x86-64-v3 on a host without AVX2 exits 1 naming AVX2", p.stderr)

    # (a) the API before InstanceStart, on any host (no guest needed)
    tmp0 = tempfile.mkdtemp(prefix="vessel-cpumodel-api-")
    sock = os.path.join(tmp0, "api.sock")
    api = subprocess.Popen([vessel, "run", "--api-sock", sock], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, VESSEL_HOST_HIDE="AVX2"))
    try:
        apiclient.wait_socket(sock)
        mc = {"vcpu_count": 1, "mem_size_mib": 256}
        st1, b1 = apiclient.call(sock, "PUT", "/machine-config", dict(mc, cpu_model="pentium"))
        st2, b2 = apiclient.call(sock, "PUT", "/machine-config", dict(mc, cpu_model="x86-64-v3"))
        t.ok(st1 == 400 and "pentium" in str(b1) and st2 == 400 and "AVX2" in str(b2),
             "(a) PUT /machine-config refuses an unknown model and one the host lacks (AVX2)",
             f"{st1} {b1} {st2} {b2}")
        st3, b3 = apiclient.call(sock, "PUT", "/machine-config", dict(mc, cpu_model="host"))
        t.ok(st3 == 204 and machine_model(sock) == "host",
             "(a) PUT /machine-config cpu_model host, then GET shows it", f"{st3} {b3}")
    finally:
        api.kill()
        api.wait()
        shutil.rmtree(tmp0, ignore_errors=True)

    if not guest_present():
        t.skip("cpu model guest tests", "default guest not built (scripts/build-guest.sh)")
        return t.done()
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    tmp = tempfile.mkdtemp(prefix="vessel-cpumodel-")
    files = guest_files()
    boot = ["--kernel", files["vmlinuz"], "--initrd", files["initrd.img"]]
    procs = []
    try:
        # (b) the default model
        sock = os.path.join(tmp, "v2.sock")
        g = harness.start_guest(vessel, t, "(b) default", boot + ["--api-sock", sock], timeout,
                                os.path.join(tmp, "v2.log"))
        if not g:
            return t.done()
        procs.append(g)
        flags, info = guest_cpuinfo(g)
        t.ok(info.get("vendor_id") == "GenuineIntel" and
             info.get("model name") == "vessel virtual CPU",
             "(b) default: GenuineIntel 'vessel virtual CPU'", str(info))
        missing = [f for f in SOFTWARE if f not in flags]
        extra = [f for f in HOST_BACKED if f in flags]
        t.ok(flags and not missing and not extra,
             "(b) default: /proc/cpuinfo shows the engine's own extensions and no host-backed one",
             f"missing {missing}, present {extra}: {sorted(flags)}")
        t.ok(machine_model(sock) == "x86-64-v2", "(b) GET /machine-config: cpu_model x86-64-v2")
        state = snapshot(t, sock, tmp, "(b) v2")
        g.kill()
        if state:
            r, sock2 = restore(vessel, tmp, "v2-restored", state, hide=HIDE_ALL)
            procs.append(r)
            t.ok(alive(r),
                 "(b) the default model's snapshot runs on where the host has no optional "
                 "extension (VESSEL_HOST_HIDE=" + HIDE_ALL + ")", r.tail())
            t.ok(machine_model(sock2) == "x86-64-v2", "(b) restored: cpu_model x86-64-v2")
            r.kill()

        # (c) x86-64-v3
        v3_host = all(f in hflags for f in V3_ADDS)
        sock = os.path.join(tmp, "v3.sock")
        if not v3_host:
            t.comment("this host lacks part of the AVX class: x86-64-v3 must be refused")
            p = subprocess.run([vessel, "run", "--cpu", "x86-64-v3"] + boot,
                               capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            t.ok(p.returncode == 1 and "lacks" in p.stderr,
                 "(c) --cpu x86-64-v3 is refused on this host with a clear message", p.stderr)
        else:
            g = harness.start_guest(vessel, t, "(c) x86-64-v3",
                                    boot + ["--cpu", "x86-64-v3", "--api-sock", sock], timeout,
                                    os.path.join(tmp, "v3.log"))
            if not g:
                return t.done()
            procs.append(g)
            flags, _ = guest_cpuinfo(g)
            missing = [f for f in SOFTWARE + V3_ADDS if f not in flags]
            extra = [f for f in HOST_BACKED if f in flags and f not in V3_ADDS]
            t.ok(flags and not missing and not extra,
                 "(c) x86-64-v3: /proc/cpuinfo adds avx avx2 fma f16c, nothing else host-backed",
                 f"missing {missing}, present {extra}: {sorted(flags)}")
            t.ok(machine_model(sock) == "x86-64-v3", "(c) GET /machine-config: cpu_model x86-64-v3")
            state = snapshot(t, sock, tmp, "(c) v3")
            g.kill()
            if state:
                r, _ = restore(vessel, tmp, "v3-refused", state, hide="AVX2")
                code = r.wait_exit(60)
                err = bytes(r.err).decode(errors="replace")
                t.ok(code not in (None, 0) and "x86-64-v3" in err and "AVX2" in err and
                     "lacks" in err,
                     "(c) the x86-64-v3 snapshot is refused where the host lacks AVX2, naming it",
                     f"exit {code}: {err}")
                r.kill()
                r, sock2 = restore(vessel, tmp, "v3-restored", state)
                procs.append(r)
                t.ok(alive(r), "(c) and restored where the host has it", r.tail())
                t.ok(machine_model(sock2) == "x86-64-v3",
                     "(c) restored: the model is adopted from the snapshot (cpu_model x86-64-v3)")
                r.kill()

        # (d) host
        g = harness.start_guest(vessel, t, "(d) host", boot + ["--cpu", "host"], timeout,
                                os.path.join(tmp, "host.log"))
        if not g:
            return t.done()
        procs.append(g)
        flags, _ = guest_cpuinfo(g)
        want = {f for f in HOST_BACKED if f in hflags}
        got = {f for f in HOST_BACKED if f in flags}
        t.ok(flags and want == got and all(f in flags for f in SOFTWARE),
             f"(d) host: the guest's host-backed flags are the host's ({' '.join(sorted(got))})",
             f"host {sorted(want)}, guest {sorted(got)}")
        g.kill()
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
