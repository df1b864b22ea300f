#!/bin/sh
# mkbin.sh CC SOURCE.S OUTPUT.bin INCLUDE-DIR — assemble a guest test program (which includes
# lib.inc first, so _start is its first byte), link it at 0x10000 as one contiguous image and
# strip it to a flat binary for runner.c.
set -e
"$1" -nostdlib -static -no-pie -ffreestanding -Wl,-N -Wl,-Ttext=0x10000 -Wl,-e,_start \
    -Wl,--build-id=none -Wl,--no-warn-rwx-segments -I"$4" -o "$3.elf" "$2"
objcopy -O binary "$3.elf" "$3"
