"""test_fwcfg.py — --fw-cfg items reach the real Debian guest through QEMU's fw_cfg device, read
by the kernel's own qemu_fw_cfg driver (bound through the ACPI device QEMU0002): a string item
with a comma and a 200 KiB file item appear under /sys/firmware/qemu_fw_cfg/by_name with the
exact bytes (checksums), and the interface revision says DMA. The machine snapshots and
restores with the device (its vm-config carries the items; the restored guest reads them
again). Bad --fw-cfg input (no name, no file=/string=, a missing file, a name given twice)
exits 2 with a message. Skips the guest part when the guest isn't built or has no
qemu_fw_cfg module."""

import hashlib
import os
import subprocess

import apiclient
from harness import (Guest, guest_files, guest_present, manifest, run_test, start_guest,
                     vessel_path)

BY_NAME = "/sys/firmware/qemu_fw_cfg/by_name"


def body(t, tmp, procs):
    vessel = vessel_path()
    blob = os.path.join(tmp, "blob.bin")
    with open(blob, "wb") as f:
        f.write(os.urandom(200 * 1024))
    want_md5 = hashlib.md5(open(blob, "rb").read()).hexdigest()
    files = guest_files() if guest_present() else {"vmlinuz": "/nonexistent",
                                                   "initrd.img": "/nonexistent"}
    base = [vessel, "run", "--kernel", files["vmlinuz"], "--initrd", files["initrd.img"]]
    bad = [
        ("opt/x,string=y", "must start with name="),
        ("name=opt/x", "give file=PATH or string=TEXT"),
        ("name=opt/x,file=" + os.path.join(tmp, "missing"), "No such file"),
    ]
    for spec, msg in bad:
        p = subprocess.run(base + ["--fw-cfg", spec], capture_output=True, text=True,
                           timeout=60)
        t.ok(p.returncode == 2 and msg in p.stderr,
             f"--fw-cfg {spec.split(',')[0]}...: exit 2 saying '{msg}'", p.stderr[-400:])
    p = subprocess.run(base + ["--fw-cfg", "name=opt/x,string=a", "--fw-cfg",
                               "name=opt/x,string=b"], capture_output=True, text=True,
                       timeout=60)
    t.ok(p.returncode == 2 and "given twice" in p.stderr,
         "--fw-cfg with a name given twice: exit 2", p.stderr[-400:])

    if not guest_present():
        t.skip("fw_cfg in the guest", "default guest not built (scripts/build-guest.sh)")
        return
    if "qemu_fw_cfg" not in manifest().get("modules", ""):
        t.skip("fw_cfg in the guest", "the guest has no qemu_fw_cfg module (rebuild it)")
        return
    timeout = int(os.environ.get("VESSEL_BOOT_TIMEOUT", "600"))
    sock = os.path.join(tmp, "vm.sock")
    g = start_guest(vessel, t, "fw_cfg", ["--kernel", files["vmlinuz"], "--initrd",
                                          files["initrd.img"], "--memory", "256M",
                                          "--api-sock", sock, "--fw-cfg",
                                          "name=opt/vessel/greeting,string=hello, fw_cfg",
                                          "--fw-cfg", f"name=opt/vessel/blob,file={blob}"],
                    timeout, os.path.join(tmp, "guest.log"))
    if not g:
        return
    procs.append(g)
    out, st = g.run(f"cat {BY_NAME}/opt/vessel/greeting/raw; echo; "
                    f"md5sum {BY_NAME}/opt/vessel/blob/raw; "
                    "cat /sys/firmware/qemu_fw_cfg/rev", 60)
    lines = (out or "").splitlines()
    t.ok(st == 0 and "hello, fw_cfg" in lines,
         "the string item reads back in the guest, comma included", out)
    t.ok(st == 0 and any(line.startswith(want_md5) for line in lines),
         "the 200 KiB file item has the same md5 in the guest", f"{out}\nwant {want_md5}")
    t.ok(st == 0 and lines and lines[-1].strip() == "3",
         "the interface revision offers DMA (rev 3)", out)

    state, mem = os.path.join(tmp, "s.state"), os.path.join(tmp, "s.mem")
    st1, b1 = apiclient.call(sock, "PATCH", "/vm", {"state": "Paused"})
    st2, b2 = apiclient.call(sock, "PUT", "/snapshot/create",
                             {"snapshot_path": state, "mem_file_path": mem,
                              "snapshot_type": "Full"})
    t.ok(st1 == 204 and st2 == 204 and os.path.isfile(state),
         "the machine with the device pauses and snapshots", f"{b1} {b2}")
    g.kill()
    r = Guest(vessel, ["--restore", state], log_path=os.path.join(tmp, "restored.log"))
    procs.append(r)
    out, st = r.run(f"md5sum {BY_NAME}/opt/vessel/blob/raw; "
                    f"cat {BY_NAME}/opt/vessel/greeting/raw; echo", 120)
    t.ok(st == 0 and want_md5 in (out or "") and "hello, fw_cfg" in (out or ""),
         "restored: the guest reads both items again", f"{out}\n{r.tail()}")


if __name__ == "__main__":
    raise SystemExit(run_test(body, "vessel-fwcfg-"))
