/* acpi_loader.c — the linker/loader files of acpi_loader.h. The script is derived from the
 * built tables by walking them (RSDP -> RSDT/XSDT -> each table, the FADT's DSDT and FACS
 * pointers), so it follows whatever acpi.c builds. */
#include "machine/acpi_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/fw_cfg.h"
#include "machine/acpi.h"

#define LOADER_ENTRY      128
#define LOADER_ALLOCATE   1
#define LOADER_ADD_PTR    2
#define LOADER_ADD_CHKSUM 3
#define ZONE_HIGH         1
#define ZONE_FSEG         2
#define FILE_LEN          56
#define TABLES_MAX        0x10000

struct script {
    uint8_t *p;
    size_t cap, len;
    bool ok;
};

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static uint8_t *entry(struct script *s, uint32_t command)
{
    if (s->len + LOADER_ENTRY > s->cap) {
        s->ok = false;
        return NULL;
    }
    uint8_t *e = s->p + s->len;
    memset(e, 0, LOADER_ENTRY);
    put_le(e, command, 4);
    s->len += LOADER_ENTRY;
    return e;
}

static void allocate(struct script *s, const char *file, uint32_t align, uint8_t zone)
{
    uint8_t *e = entry(s, LOADER_ALLOCATE);
    if (!e) return;
    memcpy(e + 4, file, strlen(file));
    put_le(e + 4 + FILE_LEN, align, 4);
    e[4 + FILE_LEN + 4] = zone;
}

static void add_pointer(struct script *s, const char *dest, uint32_t offset, uint8_t size)
{
    uint8_t *e = entry(s, LOADER_ADD_PTR);
    if (!e) return;
    memcpy(e + 4, dest, strlen(dest));
    memcpy(e + 4 + FILE_LEN, ACPI_TABLES_FILE, strlen(ACPI_TABLES_FILE));
    put_le(e + 4 + 2 * FILE_LEN, offset, 4);
    e[4 + 2 * FILE_LEN + 4] = size;
}

static void add_checksum(struct script *s, const char *file, uint32_t offset, uint32_t start,
                         uint32_t length)
{
    uint8_t *e = entry(s, LOADER_ADD_CHKSUM);
    if (!e) return;
    memcpy(e + 4, file, strlen(file));
    put_le(e + 4 + FILE_LEN, offset, 4);
    put_le(e + 4 + FILE_LEN + 4, start, 4);
    put_le(e + 4 + FILE_LEN + 8, length, 4);
}

/* The table at offset `t`, if it lies within the blob: its length, else 0. */
static uint32_t table_len(const uint8_t *tables, size_t len, uint64_t t)
{
    if (t + 36 > len) return 0;
    uint32_t n = (uint32_t)get_le(tables + t + 4, 4);
    return n >= 36 && t + n <= len ? n : 0;
}

/* A pointer field at `at` (size bytes) of the tables blob to the table it names: linked, and
 * that table checksummed once (`seen`). */
static void link_table(struct script *s, const uint8_t *tables, size_t len, uint64_t at,
                       uint8_t size, uint8_t *seen);

static void checksum_table(struct script *s, const uint8_t *tables, size_t len, uint64_t t,
                           uint8_t *seen)
{
    uint32_t n = table_len(tables, len, t);
    if (!n) {
        s->ok = false;
        return;
    }
    if (seen[t / 4]) return;
    seen[t / 4] = 1;
    const uint8_t *h = tables + t;
    if (!memcmp(h, "RSDT", 4) || !memcmp(h, "XSDT", 4)) {
        unsigned w = h[0] == 'R' ? 4 : 8;
        for (uint32_t k = 36; k + w <= n; k += w)
            link_table(s, tables, len, t + k, (uint8_t)w, seen);
    } else if (!memcmp(h, "FACP", 4)) {
        /* FIRMWARE_CTRL, DSDT (32-bit) and X_FIRMWARE_CTRL, X_DSDT (64-bit), where set */
        static const struct {
            uint32_t off;
            uint8_t size;
        } ptrs[] = {{36, 4}, {40, 4}, {132, 8}, {140, 8}};
        for (unsigned k = 0; k < sizeof(ptrs) / sizeof(ptrs[0]); k++)
            if (ptrs[k].off + ptrs[k].size <= n && get_le(h + ptrs[k].off, ptrs[k].size))
                link_table(s, tables, len, t + ptrs[k].off, ptrs[k].size, seen);
    }
    add_checksum(s, ACPI_TABLES_FILE, (uint32_t)t + 9, (uint32_t)t, n);
}

static void link_table(struct script *s, const uint8_t *tables, size_t len, uint64_t at,
                       uint8_t size, uint8_t *seen)
{
    add_pointer(s, ACPI_TABLES_FILE, (uint32_t)at, size);
    uint64_t t = get_le(tables + at, size);
    if (t % 4)
        s->ok = false;
    else
        checksum_table(s, tables, len, t, seen);
}

size_t acpi_loader_script(const uint8_t *tables, size_t len, uint64_t rsdp_off, uint8_t *script,
                          size_t cap)
{
    if (len > TABLES_MAX || rsdp_off + 36 > len) return 0;
    uint8_t *seen = calloc(TABLES_MAX / 4, 1);
    if (!seen) return 0;
    struct script s = {script, cap, 0, true};
    allocate(&s, ACPI_RSDP_FILE, 16, ZONE_FSEG);
    allocate(&s, ACPI_TABLES_FILE, 64, ZONE_HIGH);
    const uint8_t *r = tables + rsdp_off;
    uint64_t rsdt = get_le(r + 16, 4), xsdt = get_le(r + 24, 8);
    add_pointer(&s, ACPI_RSDP_FILE, 16, 4);
    add_pointer(&s, ACPI_RSDP_FILE, 24, 8);
    if (rsdt % 4 || xsdt % 4) s.ok = false;
    if (s.ok) checksum_table(&s, tables, len, rsdt, seen);
    if (s.ok) checksum_table(&s, tables, len, xsdt, seen);
    add_checksum(&s, ACPI_RSDP_FILE, 8, 0, 20);
    add_checksum(&s, ACPI_RSDP_FILE, 32, 0, 36);
    free(seen);
    return s.ok ? s.len : 0;
}

int acpi_loader_add(struct fw_cfg *f, const struct acpi_config *cfg, char *err, size_t errlen)
{
    uint8_t *tables = calloc(1, TABLES_MAX), *script = calloc(1, 64 * LOADER_ENTRY);
    uint64_t rsdp = 0;
    size_t used = tables ? acpi_build_tables(tables, TABLES_MAX, 0, cfg, &rsdp) : 0;
    size_t slen = used ? acpi_loader_script(tables, used, rsdp, script, 64 * LOADER_ENTRY) : 0;
    int rc = -1;
    if (!slen)
        snprintf(err, errlen, "acpi: cannot build the tables for the firmware");
    else if (fw_cfg_add_file(f, ACPI_RSDP_FILE, tables + rsdp, 36, err, errlen) == 0 &&
             fw_cfg_add_file(f, ACPI_TABLES_FILE, tables, used, err, errlen) == 0 &&
             fw_cfg_add_file(f, ACPI_LOADER_FILE, script, slen, err, errlen) == 0)
        rc = 0;
    free(tables);
    free(script);
    return rc;
}
