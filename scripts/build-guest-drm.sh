#!/bin/bash
# build-guest-drm.sh — the PCI display's guest (Debian's generic kernel with bochs-drm) in
# $VESSEL_CACHE/guest-drm: build-guest.sh --drm, which says what goes into it.
# Usage: scripts/build-guest-drm.sh [--force]
exec "$(dirname "$0")/build-guest.sh" --drm "$@"
