#!/bin/bash
# build-guest-drm.sh — a second guest for the PCI display (bochs-display, docs/DEVICES.md):
# Debian's generic linux-image-amd64 kernel, which unlike the cloud kernel ships DRM and its
# bochs driver (drm/tiny/bochs.ko) as modules, with the default guest's busybox userland
# (scripts/guest/*) and an initramfs holding bochs plus its dependencies (drm, drm_kms_helper,
# drm_vram_helper, drm_ttm_helper, ttm, ...) and the virtio drivers. Built on demand by the
# display test; the default guest (build-guest.sh, $VESSEL_CACHE/guest) and its cache key are
# untouched. Needs only apt-get download (the kernel package is never installed on the host).
#
# Output (in ${VESSEL_CACHE:-$HOME/.cache/vessel}/guest-drm, reused when present):
#   vmlinuz, initrd.img, manifest
# Usage: scripts/build-guest-drm.sh [--force]
set -euo pipefail

CACHE="${VESSEL_CACHE:-$HOME/.cache/vessel}"
OUT="$CACHE/guest-drm"
HERE="$(cd "$(dirname "$0")" && pwd)"
MODULES="bochs virtio_pci virtio_blk virtio_net virtio_console virtio-rng virtio_input evdev pvpanic-mmio"

SCRIPTS_SHA="$(cat "$0" "$HERE"/guest/* | sha256sum | cut -c1-16)"
if [ "${1:-}" != "--force" ] && [ -s "$OUT/manifest" ] && [ -s "$OUT/vmlinuz" ] &&
   [ -s "$OUT/initrd.img" ] && grep -qx "scripts_sha=$SCRIPTS_SHA" "$OUT/manifest"; then
    echo "build-guest-drm: reusing $OUT ($(grep '^kernel_version=' "$OUT/manifest"))"
    exit 0
fi

for tool in apt-get dpkg-deb cpio gzip depmod; do
    command -v "$tool" >/dev/null || { echo "build-guest-drm: missing $tool (run scripts/setup.sh)" >&2; exit 1; }
done

kpkg_of() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
KPKG="$(kpkg_of)"
if [ -z "$KPKG" ]; then
    apt-get update -qq
    KPKG="$(kpkg_of)"
fi
[ -n "$KPKG" ] || { echo "build-guest-drm: cannot resolve linux-image-amd64" >&2; exit 1; }

mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/.build-guest-drm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
apt-get download -q "$KPKG" busybox-static 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
ls ./*.deb >/dev/null
dpkg-deb -x "$KPKG"_*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
KVER="$(ls kernel/lib/modules)"
KDEB="$(dpkg-deb -f "$KPKG"_*.deb Version)"
BBDEB="$(dpkg-deb -f busybox-static_*.deb Version)"

mkdir stage
cp "kernel/boot/vmlinuz-$KVER" stage/vmlinuz

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
chmod 755 $R/etc/udhcpc/default.script $R/etc/init.d/rcS
echo "root:x:0:0:root:/root:/bin/sh" > $R/etc/passwd
echo "root:x:0:" > $R/etc/group

# The wanted modules and their dependencies, from the package's own modules.dep. The generic
# kernel compresses its modules (.ko.xz); busybox modprobe loads them as they are.
depmod -b kernel "$KVER"
dep="kernel/lib/modules/$KVER/modules.dep"
present=""
declare -A want=()
add_module() {
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
case " $present " in *" bochs "*) ;; *) echo "build-guest-drm: $KPKG has no bochs module" >&2; exit 1;; esac

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
echo "build-guest-drm: $OUT: kernel $KVER ($KDEB), busybox $BBDEB, modules:$present"
