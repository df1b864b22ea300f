/* e820.h — the BIOS memory map handed to Linux in boot_params (and the board's single record of
 * which guest-physical ranges are RAM, reserved, or firmware tables).
 *
 * The PC layout built by e820_build_pc: RAM below 640 KiB minus a 1 KiB EBDA, the legacy BIOS
 * area 0xE0000-0xFFFFF reserved (the ACPI tables live in it), RAM from 1 MiB to low_ram_end,
 * and the rest of RAM above 4 GiB. */
#pragma once
#include <stdint.h>

struct bus;

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3
#define E820_NVS      4

#define E820_MAX_ENTRIES 128 /* what fits in boot_params.e820_table */

#define E820_EBDA_START 0x9FC00ull
#define E820_BIOS_START 0xE0000ull
#define E820_BIOS_END   0x100000ull

/* Same layout as struct boot_e820_entry in the zero page (20 bytes, packed). */
struct e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));

struct e820_map {
    struct e820_entry e[E820_MAX_ENTRIES];
    unsigned n;
};

void e820_init(struct e820_map *m);
/* Append a range; ranges must be added in ascending, non-overlapping order. 0 or -1. */
int e820_add(struct e820_map *m, uint64_t addr, uint64_t size, uint32_t type);
/* The standard PC map for this bus's RAM. 0 or -1 (RAM too small for the layout). */
int e820_build_pc(struct e820_map *m, const struct bus *b);
/* Turn [addr, addr+size) inside one RAM entry into a reserved entry (the framebuffer), splitting
 * that entry. 0 or -1 (not wholly inside one RAM entry, or the table is full). */
int e820_reserve(struct e820_map *m, uint64_t addr, uint64_t size);
/* Type of the entry containing [addr, addr+len) entirely, or 0 if no single entry does. */
uint32_t e820_type_of(const struct e820_map *m, uint64_t addr, uint64_t len);
