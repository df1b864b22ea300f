#!/bin/bash
# build-guest.sh — build vessel's guests from Debian packages: a kernel (downloaded with
# apt-get download, unpacked with dpkg-deb -x, never installed on the host) and busybox-static,
# packed into a gzip'd newc initramfs with the modules the guest needs.
#
# The default guest: Debian's linux-image-cloud-amd64, in ${VESSEL_CACHE:-$HOME/.cache/vessel}/guest
#   vmlinuz      the kernel package's bzImage
#   vmlinux      its decompressed ELF (for decoder cross-checks and tools)
#   initrd.img   busybox userland + the virtio/pvpanic modules and their modules.dep
#   manifest     package names and versions
# --drm: the PCI display's guest (bochs-display, docs/DEVICES.md) in .../guest-drm: Debian's
#   generic linux-image-amd64, which unlike the cloud kernel ships DRM and its bochs driver as
#   modules (bochs plus drm, drm_kms_helper, drm_vram_helper, drm_ttm_helper, ttm, ... go into
#   the initramfs); vmlinuz, initrd.img, manifest. Built on demand by the display test
#   (scripts/build-guest-drm.sh).
# Both are reused when present and built by the same scripts.
# Usage: scripts/build-guest.sh [--drm] [--force]
set -euo pipefail

CACHE="${VESSEL_CACHE:-$HOME/.cache/vessel}"
HERE="$(cd "$(dirname "$0")" && pwd)"
FLAVOUR=default FORCE=
for a in "$@"; do
    case "$a" in
    --drm) FLAVOUR=drm ;;
    --force) FORCE=1 ;;
    *) echo "usage: scripts/build-guest.sh [--drm] [--force]" >&2; exit 2 ;;
    esac
done
if [ "$FLAVOUR" = drm ]; then
    NAME=build-guest-drm OUT="$CACHE/guest-drm" META=linux-image-amd64
    MODULES="bochs virtio_pci virtio_blk virtio_net virtio_console virtio-rng virtio_input evdev pvpanic-mmio"
    NEED_VMLINUX=
else
    NAME=build-guest OUT="$CACHE/guest" META=linux-image-cloud-amd64
    MODULES="virtio_pci virtio_blk virtio_net virtio_console virtio-rng virtio_balloon virtio_input evdev pvpanic-mmio qemu_fw_cfg"
    NEED_VMLINUX=1
fi

# The initramfs depends on these files too: a change to them rebuilds the guest.
SCRIPTS_SHA="$(cat "$0" "$HERE"/guest/* | sha256sum | cut -c1-16)"
if [ -z "$FORCE" ] && [ -s "$OUT/manifest" ] && [ -s "$OUT/vmlinuz" ] &&
   [ -s "$OUT/initrd.img" ] && { [ -z "$NEED_VMLINUX" ] || [ -s "$OUT/vmlinux" ]; } &&
   grep -qx "scripts_sha=$SCRIPTS_SHA" "$OUT/manifest"; then
    echo "$NAME: reusing $OUT ($(grep '^kernel_version=' "$OUT/manifest"))"
    exit 0
fi

for tool in apt-get dpkg-deb cpio gzip lz4 depmod objcopy; do
    command -v "$tool" >/dev/null || { echo "$NAME: missing $tool (run scripts/setup.sh)" >&2; exit 1; }
done

kpkg_of() { apt-cache depends "$META" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
KPKG="$(kpkg_of)"
if [ -z "$KPKG" ]; then
    apt-get update -qq
    KPKG="$(kpkg_of)"
fi
[ -n "$KPKG" ] || { echo "$NAME: cannot resolve $META" >&2; exit 1; }

mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/.$NAME.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
# apt-get download as root warns that _apt cannot write here; the download itself is fine.
apt-get download -q "$KPKG" busybox-static 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
ls ./*.deb >/dev/null
dpkg-deb -x "$KPKG"_*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
KVER="$(ls kernel/lib/modules)"
KDEB="$(dpkg-deb -f "$KPKG"_*.deb Version)"
BBDEB="$(dpkg-deb -f busybox-static_*.deb Version)"

mkdir stage
cp "kernel/boot/vmlinuz-$KVER" stage/vmlinuz

# The payload is an LZ4 legacy frame (magic 02 21 4c 18) after the setup code; lz4 stops at
# the frame's end and complains about the trailing bytes, which is expected.
if [ -n "$NEED_VMLINUX" ]; then
    off="$(grep -obUaP '\x02\x21\x4c\x18' stage/vmlinuz | head -n1 | cut -d: -f1)"
    [ -n "$off" ] || { echo "$NAME: no LZ4 payload in the kernel" >&2; exit 1; }
    tail -c +"$((off + 1))" stage/vmlinuz | lz4 -dc > stage/vmlinux 2>/dev/null || true
    [ "$(head -c 4 stage/vmlinux | od -An -tx1 | tr -d ' ')" = "7f454c46" ] ||
        { echo "$NAME: payload did not decompress to an ELF" >&2; exit 1; }
fi

# initramfs tree
R=root
mkdir -p $R/bin $R/sbin $R/etc/init.d $R/proc $R/sys $R/dev $R/tmp $R/run $R/root $R/mnt \
         $R/usr/bin $R/usr/sbin "$R/lib/modules/$KVER"
cp busybox/bin/busybox $R/bin/busybox
for applet in $("$R/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$R/bin/$applet"
done
ln -sf bin/busybox $R/init
cp "$HERE/guest/inittab" $R/etc/inittab
cp "$HERE/guest/rcS" $R/etc/init.d/rcS
cp "$HERE/guest/profile" $R/etc/profile
mkdir -p $R/etc/udhcpc
cp "$HERE/guest/udhcpc.script" $R/etc/udhcpc/default.script
chmod 755 $R/etc/udhcpc/default.script
chmod 755 $R/etc/init.d/rcS
echo "root:x:0:0:root:/root:/bin/sh" > $R/etc/passwd
echo "root:x:0:" > $R/etc/group

# Modules: the wanted ones plus their dependencies, from the package's own modules.dep. The
# generic kernel compresses its modules (.ko.xz); busybox modprobe loads them as they are.
depmod -b kernel "$KVER"
dep="kernel/lib/modules/$KVER/modules.dep"
present=""
declare -A want=()
add_module() { # $1 = path relative to the modules dir
    [ -n "${want[$1]:-}" ] && return
    want[$1]=1
    local d
    for d in $(grep "^$1:" "$dep" | cut -d: -f2); do add_module "$d"; done
}
for m in $MODULES; do
    f="$(grep -E "/${m//-/[-_]}\.ko(\.[a-z]+)?:" "$dep" | head -n1 | cut -d: -f1 || true)"
    if [ -n "$f" ]; then add_module "$f"; present="$present $m"; fi
done
for f in "${!want[@]}"; do
    mkdir -p "$R/lib/modules/$KVER/$(dirname "$f")"
    cp "kernel/lib/modules/$KVER/$f" "$R/lib/modules/$KVER/$f"
done
cp "kernel/lib/modules/$KVER/modules.order" "kernel/lib/modules/$KVER/modules.builtin" "kernel/lib/modules/$KVER/modules.builtin.modinfo" "$R/lib/modules/$KVER/" 2>/dev/null || true
depmod -b "$R" "$KVER"
echo "$present" | tr ' ' '\n' | sed '/^$/d' > $R/etc/guest-modules
if [ "$FLAVOUR" = drm ]; then
    case " $present " in *" bochs "*) ;; *) echo "$NAME: $KPKG has no bochs module" >&2; exit 1;; esac
fi

(cd $R && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n > stage/initrd.img

cat > stage/manifest <<EOM
kernel_package=$KPKG
kernel_package_version=$KDEB
kernel_version=$KVER
busybox_package=busybox-static
busybox_version=$BBDEB
modules=$(echo $present)
scripts_sha=$SCRIPTS_SHA
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOM

rm -rf "$OUT.old"
[ -d "$OUT" ] && mv "$OUT" "$OUT.old"
mv stage "$OUT"
rm -rf "$OUT.old"
echo "$NAME: $OUT: kernel $KVER ($KDEB), busybox $BBDEB, modules:$present"
