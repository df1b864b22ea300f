/* e820.c — the guest memory map (e820.h). One table, built once by the board from the bus's RAM
 * layout and copied into boot_params; kept sorted so the kernel and our own checks read it the
 * same way. */
#include "machine/e820.h"

#include <string.h>

#include "vessel/bus.h"

void e820_init(struct e820_map *m)
{
    memset(m, 0, sizeof(*m));
}

int e820_add(struct e820_map *m, uint64_t addr, uint64_t size, uint32_t type)
{
    if (size == 0 || addr + size < addr || m->n >= E820_MAX_ENTRIES) return -1;
    if (m->n) {
        const struct e820_entry *last = &m->e[m->n - 1];
        if (addr < last->addr + last->size) return -1;
    }
    m->e[m->n++] = (struct e820_entry){addr, size, type};
    return 0;
}

int e820_build_pc(struct e820_map *m, const struct bus *b)
{
    e820_init(m);
    /* Linux needs the first MiB and something above it; smaller guests are not PCs. */
    if (b->low_ram_end < 2 * E820_BIOS_END) return -1;
    if (e820_add(m, 0, E820_EBDA_START, E820_RAM) ||
        e820_add(m, E820_EBDA_START, 0xA0000 - E820_EBDA_START, E820_RESERVED) ||
        e820_add(m, E820_BIOS_START, E820_BIOS_END - E820_BIOS_START, E820_RESERVED) ||
        e820_add(m, E820_BIOS_END, b->low_ram_end - E820_BIOS_END, E820_RAM))
        return -1;
    if (b->ram_size > b->low_ram_end &&
        e820_add(m, BUS_HIGH_RAM, b->ram_size - b->low_ram_end, E820_RAM))
        return -1;
    return 0;
}

int e820_reserve(struct e820_map *m, uint64_t addr, uint64_t size)
{
    for (unsigned k = 0; k < m->n; k++) {
        struct e820_entry e = m->e[k];
        if (e.type != E820_RAM || addr < e.addr || size == 0 || addr - e.addr > e.size ||
            size > e.size - (addr - e.addr))
            continue;
        struct e820_entry parts[3];
        unsigned np = 0;
        if (addr > e.addr) parts[np++] = (struct e820_entry){e.addr, addr - e.addr, E820_RAM};
        parts[np++] = (struct e820_entry){addr, size, E820_RESERVED};
        if (addr + size < e.addr + e.size)
            parts[np++] = (struct e820_entry){addr + size, e.addr + e.size - addr - size, E820_RAM};
        if (m->n + np - 1 > E820_MAX_ENTRIES) return -1;
        memmove(&m->e[k + np], &m->e[k + 1], (m->n - k - 1) * sizeof(m->e[0]));
        memcpy(&m->e[k], parts, np * sizeof(parts[0]));
        m->n += np - 1;
        return 0;
    }
    return -1;
}

uint32_t e820_type_of(const struct e820_map *m, uint64_t addr, uint64_t len)
{
    for (unsigned k = 0; k < m->n; k++) {
        const struct e820_entry *e = &m->e[k];
        if (addr >= e->addr && addr - e->addr <= e->size && len <= e->size - (addr - e->addr))
            return e->type;
    }
    return 0;
}
