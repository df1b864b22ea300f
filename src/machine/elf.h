/* elf.h — loading a 64-bit x86 vmlinux ELF into guest RAM: every PT_LOAD segment goes to its
 * physical address (p_paddr), file bytes copied and the rest (bss) zeroed. Segments must lie in
 * low RAM, above `min_addr` (the loader's own structures live below 1 MiB). */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct bus;

struct elf_load_info {
    uint64_t entry;     /* e_entry: Linux links it as the physical address of startup_64 */
    uint64_t lo, hi;    /* lowest and highest+1 physical address loaded */
    unsigned nsegments; /* PT_LOAD segments loaded */
};

/* True if the image starts with the ELF magic. */
int elf_is_elf(const uint8_t *img, size_t len);
/* 0, or -1 with a message. Nothing is written to RAM unless every header checks out. */
int elf_load(struct bus *bus, const uint8_t *img, size_t len, uint64_t min_addr,
             struct elf_load_info *out, char *err, size_t errlen);
