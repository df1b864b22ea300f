/* test_acpi_loader.c — the firmware's view of acpi_loader: the three fw_cfg files are read back
 * through the device's ports, the "etc/table-loader" script is executed as SeaBIOS's
 * romfile_loader does (allocate each file at an address of its zone, add the tables' address to
 * each pointer, recompute each checksum), and the result is walked as an operating system walks
 * it: a valid RSDP whose RSDT and XSDT hold the FADT and MADT, a FADT pointing at a DSDT, every
 * checksum zero, every pointer inside the relocated tables. A script cut short or tables whose
 * pointers lead outside are refused. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hw/fw_cfg.h"
#include "machine/acpi.h"
#include "machine/acpi_loader.h"
#include "vessel/bus.h"

static struct bus bus;

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* A file's bytes from the device: directory lookup, then data-port reads. */
static uint8_t *fetch(const char *name, size_t *len)
{
    bus_pio_write(&bus, FW_CFG_PORT, FW_CFG_FILE_DIR, 2);
    uint8_t n[4];
    for (unsigned k = 0; k < 4; k++)
        n[k] = (uint8_t)bus_pio_read(&bus, FW_CFG_PORT + 1, 1);
    uint32_t count = (uint32_t)n[0] << 24 | n[1] << 16 | n[2] << 8 | n[3];
    for (uint32_t i = 0; i < count; i++) {
        uint8_t e[64];
        for (unsigned k = 0; k < 64; k++)
            e[k] = (uint8_t)bus_pio_read(&bus, FW_CFG_PORT + 1, 1);
        if (strcmp((char *)e + 8, name)) continue;
        *len = (size_t)e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3];
        uint16_t key = (uint16_t)(e[4] << 8 | e[5]);
        uint8_t *d = malloc(*len);
        bus_pio_write(&bus, FW_CFG_PORT, key, 2);
        for (size_t k = 0; k < *len; k++)
            d[k] = (uint8_t)bus_pio_read(&bus, FW_CFG_PORT + 1, 1);
        return d;
    }
    return NULL;
}

/* "Guest memory" for the walk: the RSDP at 0xF0000, the tables at 0x7000000. */
#define RSDP_AT   0xf0000u
#define TABLES_AT 0x7000000u
static uint8_t *mem;
static size_t tables_len;

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* Run the script; false if it names unknown files or goes outside them. */
static bool run_script(const uint8_t *script, size_t slen, uint8_t *rsdp, uint8_t *tables)
{
    for (size_t off = 0; off + 128 <= slen; off += 128) {
        const uint8_t *e = script + off;
        uint32_t cmd = (uint32_t)le(e, 4);
        const char *f1 = (const char *)e + 4;
        uint8_t *file = !strcmp(f1, ACPI_RSDP_FILE) ? rsdp : tables;
        size_t flen = file == rsdp ? 36 : tables_len;
        if (cmd == 1) {
            CHECK(!strcmp(f1, ACPI_RSDP_FILE) ? e[64] == 2 : e[64] == 1); /* FSEG / HIGH */
        } else if (cmd == 2) {
            uint32_t at = (uint32_t)le(e + 116, 4);
            uint8_t size = e[120];
            if (strcmp((const char *)e + 60, ACPI_TABLES_FILE) || at + size > flen) return false;
            uint64_t v = le(file + at, size) + TABLES_AT;
            for (unsigned k = 0; k < size; k++)
                file[at + k] = (uint8_t)(v >> (8 * k));
        } else if (cmd == 3) {
            uint32_t at = (uint32_t)le(e + 60, 4), start = (uint32_t)le(e + 64, 4),
                     n = (uint32_t)le(e + 68, 4);
            if (at >= flen || start + n > flen) return false;
            file[at] = (uint8_t)(file[at] - sum(file + start, n));
        } else {
            return false;
        }
    }
    return true;
}

static uint8_t *at(uint64_t gpa)
{
    CHECK(gpa >= TABLES_AT && gpa - TABLES_AT < tables_len);
    return mem + (gpa - TABLES_AT);
}

static void test_walk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct fw_cfg *f = fw_cfg_create(&bus, FW_CFG_PORT, 1 << 20, 1);
    struct acpi_config cfg;
    acpi_config_default(&cfg);
    cfg.fw_cfg = true;
    char err[256];
    CHECK_EQ(acpi_loader_add(f, &cfg, err, sizeof(err)), 0);
    size_t rlen = 0, slen = 0;
    uint8_t *rsdp = fetch(ACPI_RSDP_FILE, &rlen), *script = fetch(ACPI_LOADER_FILE, &slen);
    mem = fetch(ACPI_TABLES_FILE, &tables_len);
    CHECK(rsdp && script && mem && rlen == 36 && slen % 128 == 0 && tables_len > 200);
    CHECK(run_script(script, slen, rsdp, mem));
    CHECK(!memcmp(rsdp, "RSD PTR ", 8));
    CHECK_EQ(sum(rsdp, 20), 0);
    CHECK_EQ(sum(rsdp, 36), 0);
    const uint8_t *rsdt = at(le(rsdp + 16, 4)), *xsdt = at(le(rsdp + 24, 8));
    CHECK(!memcmp(rsdt, "RSDT", 4) && !memcmp(xsdt, "XSDT", 4));
    CHECK_EQ(sum(rsdt, le(rsdt + 4, 4)), 0);
    CHECK_EQ(sum(xsdt, le(xsdt + 4, 4)), 0);
    unsigned found = 0;
    for (uint32_t k = 36; k < le(xsdt + 4, 4); k += 8) {
        const uint8_t *t = at(le(xsdt + k, 8));
        CHECK(le(rsdt + 36 + (k - 36) / 2, 4) == le(xsdt + k, 8)); /* RSDT agrees */
        CHECK_EQ(sum(t, le(t + 4, 4)), 0);
        if (!memcmp(t, "FACP", 4)) {
            const uint8_t *dsdt = at(le(t + 140, 8));
            CHECK(le(t + 40, 4) == le(t + 140, 8));
            CHECK(!memcmp(dsdt, "DSDT", 4));
            CHECK_EQ(sum(dsdt, le(dsdt + 4, 4)), 0);
            /* the fw_cfg device is described */
            const char *hid = "QEMU0002";
            bool has = false;
            for (size_t b = 0; b + 8 <= le(dsdt + 4, 4); b++)
                has |= !memcmp(dsdt + b, hid, 8);
            CHECK(has);
            found |= 1;
        }
        if (!memcmp(t, "APIC", 4)) found |= 2;
    }
    CHECK_EQ(found, 3);

    /* refused: a script that does not fit, tables whose RSDP points outside */
    uint8_t small[256];
    uint8_t *tables = calloc(1, 0x10000);
    uint64_t rsdp_off = 0;
    size_t used = acpi_build_tables(tables, 0x10000, 0, &cfg, &rsdp_off);
    CHECK(used > 0);
    CHECK_EQ(acpi_loader_script(tables, used, rsdp_off, small, sizeof(small)), 0);
    static uint8_t big[64 * 128];
    CHECK(acpi_loader_script(tables, used, rsdp_off, big, sizeof(big)) > 0);
    tables[rsdp_off + 16] = 0xfc; /* RSDT at 0xfc.. beyond nothing sensible */
    tables[rsdp_off + 17] = 0xff;
    CHECK_EQ(acpi_loader_script(tables, used, rsdp_off, big, sizeof(big)), 0);
    free(tables);
    free(rsdp);
    free(script);
    free(mem);
    fw_cfg_destroy(f);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_walk);
    return check_done();
}
