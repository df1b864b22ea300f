#!/bin/bash
# setup.sh — install the Debian packages vessel's build, tests and default guest need.
# Idempotent: installs only what is missing; works as root on a fresh Debian 12 (or via sudo).
# Usage: scripts/setup.sh [--bench]   (--bench adds QEMU, the side-by-side reference)
set -euo pipefail

PKGS=(
    # build
    gcc make meson ninja-build pkg-config clang-format
    libglib2.0-dev libslirp-dev libjansson-dev liblz4-dev zlib1g-dev liblzma-dev libzstd-dev
    libbz2-dev libseccomp-dev # libseccomp: the per-thread system-call allow-lists (src/sandbox)
    libssl-dev libarchive-dev # appliances: SHA-256 (libcrypto), OCI tarballs
    # display: VNC server (and the tests' VNC client), window, PNG screenshots
    libvncserver-dev libsdl2-dev libpng-dev
    # tests: decoder cross-check, fuzzing and sanitizers, integration drivers
    libzydis-dev clang libclang-rt-14-dev python3 busybox-static e2fsprogs acpica-tools
    qemu-utils # qemu-img and qemu-io: the reference for the qcow2 back-end
    libc6-dev # static libc for the memory workload test_memory.py runs in the guest
    gcc-multilib # gcc -m32 -static: the 32-bit program test_compat32.py runs in the guest
    linux-source-6.1 xz-utils # the kernel's x86 selftests test_selftests.py builds and runs in the guest
    xvfb x11-apps # the window front end's test: a virtual X server, xwd screenshots
    seabios dosfstools mtools syslinux # --bios's default firmware; test_bios.py's boot disk
    # default guest image builder
    apt-utils dpkg cpio gzip lz4 kmod binutils
)
# The integrity test builds a kernel module for the guest's kernel with Debian's headers for
# it: those of the built guest (its manifest), else the cloud kernel build-guest.sh will pick.
KVER="$(sed -n 's/^kernel_version=//p' "${VESSEL_CACHE:-$HOME/.cache/vessel}/guest/manifest" \
        2>/dev/null || true)"
if [ -n "$KVER" ] && apt-cache show "linux-headers-$KVER" >/dev/null 2>&1; then
    PKGS+=("linux-headers-$KVER")
else
    PKGS+=(linux-headers-cloud-amd64)
fi
if [ "${1:-}" = "--bench" ]; then
    PKGS+=(qemu-system-x86 hyperfine valgrind)
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PKGS[@]} packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
