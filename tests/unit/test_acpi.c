/* test_acpi.c — parse the generated ACPI tables back as Linux would: RSDP checksums and XSDT
 * pointers, every table's length and checksum, the hardware-reduced FADT (flags, reset and sleep
 * registers as GAS), the MADT entries, and the DSDT — decompiled with `iasl -d` when acpica-tools
 * is installed (SKIP otherwise), which must succeed and show the devices we described. Also the
 * acpi_pm registers: poweroff on SLP_TYP(S5)|SLP_EN, reset on the reset value, save/load. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hw/acpi_pm.h"
#include "machine/acpi.h"
#include "machine/aml.h"
#include "vessel/bus.h"
#include "vessel/state.h"

#define BASE 0xE0000u
static uint8_t mem[ACPI_TABLES_SIZE];

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* The table at guest address gpa, checked for signature, bounds and checksum; NULL if bad. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
    if (gpa < BASE || gpa + 36 > BASE + sizeof(mem)) return NULL;
    const uint8_t *t = mem + (gpa - BASE);
    uint32_t len = (uint32_t)le(t + 4, 4);
    if (memcmp(t, sig, 4) != 0 || len < 36 || gpa + len > BASE + sizeof(mem)) return NULL;
    if (acpi_checksum(t, len) != 0 || memcmp(t + 10, "VESSEL", 6) != 0) return NULL;
    return t;
}

static uint64_t rsdp;
static struct acpi_config cfg;

static void build(void)
{
    memset(mem, 0xAA, sizeof(mem));
    acpi_config_default(&cfg);
    cfg.ncpus = 2;
    CHECK(acpi_build_tables(mem, sizeof(mem), BASE, &cfg, &rsdp) > 0);
}

static const uint8_t *xsdt_entry(const char *sig)
{
    const uint8_t *r = mem + (rsdp - BASE);
    const uint8_t *x = table(le(r + 24, 8), "XSDT");
    if (!x) return NULL;
    uint32_t n = ((uint32_t)le(x + 4, 4) - 36) / 8;
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *t = table(le(x + 36 + 8 * k, 8), sig);
        if (t) return t;
    }
    return NULL;
}

static void test_rsdp(void)
{
    build();
    CHECK_EQ(rsdp & 15, 0);
    CHECK(rsdp >= 0xE0000 && rsdp < 0x100000); /* inside the kernel's scan area */
    const uint8_t *r = mem + (rsdp - BASE);
    CHECK(memcmp(r, "RSD PTR ", 8) == 0);
    CHECK_EQ(acpi_checksum(r, 20), 0);
    CHECK_EQ(r[15], 2);
    CHECK_EQ(le(r + 20, 4), 36);
    CHECK_EQ(acpi_checksum(r, 36), 0);
    CHECK(table(le(r + 24, 8), "XSDT") != NULL);
    const uint8_t *rsdt = table(le(r + 16, 4), "RSDT");
    CHECK(rsdt != NULL);
    if (rsdt) {
        CHECK_EQ(le(rsdt + 4, 4), 36 + 8);
        CHECK(table(le(rsdt + 36, 4), "FACP") != NULL);
        CHECK(table(le(rsdt + 40, 4), "APIC") != NULL);
    }
    CHECK(xsdt_entry("FACP") != NULL);
    CHECK(xsdt_entry("APIC") != NULL);
}

static void check_gas_io8(const uint8_t *g, uint64_t port)
{
    CHECK_EQ(g[0], 1); /* SystemIO */
    CHECK_EQ(g[1], 8);
    CHECK_EQ(g[2], 0);
    CHECK_EQ(g[3], 1);
    CHECK_EQ(le(g + 4, 8), port);
}

static void test_fadt(void)
{
    build();
    const uint8_t *f = xsdt_entry("FACP");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ(le(f + 4, 4), 276);
    CHECK_EQ(f[8], 6);
    uint32_t flags = (uint32_t)le(f + 112, 4);
    CHECK(flags & (1u << 20));           /* HW_REDUCED_ACPI */
    CHECK(flags & (1u << 10));           /* RESET_REG_SUP */
    CHECK_EQ(le(f + 46, 2), 0);          /* no SCI */
    CHECK_EQ(le(f + 56, 4), 0);          /* no PM1a event block */
    CHECK_EQ(le(f + 36, 4), 0);          /* no FACS */
    CHECK_EQ(le(f + 109, 2) & 0x3, 0x2); /* no legacy devices; an 8042 */
    check_gas_io8(f + 116, ACPI_PM_PORT_BASE + ACPI_PM_RESET);
    CHECK_EQ(f[128], ACPI_PM_RESET_VALUE);
    check_gas_io8(f + 244, ACPI_PM_PORT_BASE + ACPI_PM_SLEEP_CTL);
    check_gas_io8(f + 256, ACPI_PM_PORT_BASE + ACPI_PM_SLEEP_STS);
    uint64_t dsdt = le(f + 140, 8);
    CHECK_EQ(le(f + 40, 4), dsdt);
    const uint8_t *d = table(dsdt, "DSDT");
    CHECK(d != NULL);
    if (d) CHECK_EQ(d[8], 2);
}

/* The AUX port's mouse is announced only when the board has one (a display). */
static void test_i8042_aux(void)
{
    for (int aux = 0; aux < 2; aux++) {
        acpi_config_default(&cfg);
        cfg.i8042_aux = aux;
        CHECK(acpi_build_tables(mem, sizeof(mem), BASE, &cfg, &rsdp) > 0);
        const uint8_t *f = xsdt_entry("FACP");
        const uint8_t *d = f ? table(le(f + 140, 8), "DSDT") : NULL;
        CHECK(d != NULL);
        if (!d) return;
        size_t len = le(d + 4, 4);
        bool mou = memmem(d, len, "\x0C\x41\xD0\x0F\x13", 5) != NULL; /* PNP0F13 */
        bool irq12 = memmem(d, len, "\x22\x00\x10", 3) != NULL;       /* IRQNoFlags {12} */
        CHECK_EQ(mou, aux);
        CHECK_EQ(irq12, aux);
    }
}

static void test_no_i8042(void)
{
    acpi_config_default(&cfg);
    cfg.i8042 = false;
    CHECK(acpi_build_tables(mem, sizeof(mem), BASE, &cfg, &rsdp) > 0);
    const uint8_t *f = xsdt_entry("FACP");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ(le(f + 109, 2) & 0x2, 0); /* Linux then skips the i8042 probe */
    const uint8_t *d = table(le(f + 140, 8), "DSDT");
    CHECK(d != NULL);
    if (d) {
        CHECK(memmem(d, le(d + 4, 4), "\x0C\x41\xD0\x03\x03", 5) == NULL);
        CHECK(memmem(d, le(d + 4, 4), "\x0C\x41\xD0\x05\x01", 5) != NULL); /* PNP0501 */
    }
}

static void test_madt(void)
{
    build();
    const uint8_t *m = xsdt_entry("APIC");
    CHECK(m != NULL);
    if (!m) return;
    CHECK_EQ(le(m + 36, 4), 0xFEE00000);
    CHECK_EQ(le(m + 40, 4), 0); /* no PCAT_COMPAT */
    uint32_t len = (uint32_t)le(m + 4, 4);
    unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
    for (uint32_t off = 44; off < len;) {
        const uint8_t *e = m + off;
        CHECK(e[1] >= 2 && off + e[1] <= len);
        if (e[1] < 2 || off + e[1] > len) break;
        switch (e[0]) {
        case 0:
            CHECK_EQ(e[1], 8);
            CHECK_EQ(e[3], lapics); /* APIC ids 0.. */
            CHECK_EQ(le(e + 4, 4), 1);
            lapics++;
            break;
        case 1:
            CHECK_EQ(e[1], 12);
            CHECK_EQ(e[2], 1);
            CHECK_EQ(le(e + 4, 4), 0xFEC00000);
            CHECK_EQ(le(e + 8, 4), 0);
            ioapics++;
            break;
        case 2:
            CHECK_EQ(e[1], 10);
            CHECK_EQ(e[2], 0);
            CHECK_EQ(e[3], 0);
            CHECK_EQ(le(e + 4, 4), 2);
            isos++;
            break;
        case 4:
            CHECK_EQ(e[1], 6);
            CHECK_EQ(e[5], 1);
            nmis++;
            break;
        default: CHECK(0);
        }
        off += e[1];
    }
    CHECK_EQ(lapics, 2);
    CHECK_EQ(ioapics, 1);
    CHECK_EQ(isos, 1);
    CHECK_EQ(nmis, 1);
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static void write_table(const char *dir, const char *name, const uint8_t *t)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL && t != NULL);
    if (fp && t) CHECK_EQ(fwrite(t, 1, le(t + 4, 4), fp), le(t + 4, 4));
    if (fp) fclose(fp);
}

static void test_dsdt_iasl(void)
{
    build();
    const uint8_t *f = xsdt_entry("FACP");
    const uint8_t *d = f ? table(le(f + 140, 8), "DSDT") : NULL;
    CHECK(d != NULL);
    if (!d) return;
    /* The _S5 package and _PRT entries are in the AML where we expect them. */
    uint32_t len = (uint32_t)le(d + 4, 4);
    CHECK(memmem(d, len, "\x08\\_S5_\x12\x07\x04\x0A\x05\x00\x00\x00", 12) != NULL);
    /* Slot 1 INTB -> line (1+1)&3 = 2 -> GSI 18: {0x0001FFFF, One, Zero, 0x12}. */
    CHECK(memmem(d, len, "\x12\x0B\x04\x0C\xFF\xFF\x01\x00\x01\x00\x0A\x12", 12) != NULL);

    if (access("/usr/bin/iasl", X_OK) != 0) {
        printf("# iasl (acpica-tools) not installed: DSDT decompile check skipped\n");
        return;
    }
    char dir[] = "/tmp/vessel-acpi-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], cmd[512];
    snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    fwrite(d, 1, len, fp);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.dat > log.txt 2>&1", dir);
    CHECK_EQ(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
    static char dsl[65536];
    size_t n = 0;
    fp = fopen(path, "r");
    CHECK(fp != NULL);
    if (fp) {
        n = fread(dsl, 1, sizeof(dsl) - 1, fp);
        fclose(fp);
    }
    dsl[n] = 0;
    CHECK(contains(dsl, "EisaId (\"PNP0A03\")"));
    CHECK(contains(dsl, "EisaId (\"PNP0501\")"));
    CHECK(contains(dsl, "EisaId (\"PNP0B00\")"));
    CHECK(contains(dsl, "\"QEMU0001\""));
    CHECK(contains(dsl, "EisaId (\"PNP0303\")"));
    CHECK(contains(dsl, "Name (\\_S5, Package (0x04)"));
    CHECK(contains(dsl, "IRQNoFlags ()") && contains(dsl, "{4}") && contains(dsl, "{8}"));
    CHECK(contains(dsl, "0xFEBFFFFF"));
    CHECK(!contains(dsl, "Error"));
    /* Recompile the disassembly: iasl must accept it without errors. */
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -p re dsdt.dsl > log2.txt 2>&1", dir);
    CHECK_EQ(system(cmd), 0);

    /* ACPICA itself (as in the kernel) loads the tables and evaluates the objects Linux uses. */
    if (access("/usr/bin/acpiexec", X_OK) == 0) {
        write_table(dir, "facp.dat", f);
        write_table(dir, "apic.dat", xsdt_entry("APIC"));
        snprintf(cmd, sizeof(cmd),
                 "cd %s && timeout 60 acpiexec -b 'evaluate \\_S5; evaluate \\_SB.PCI0._CRS; "
                 "evaluate \\_SB.PCI0._PRT; evaluate \\_SB.COM1._CRS; evaluate "
                 "\\_SB.PEVT._STA' dsdt.dat facp.dat apic.dat > exec.txt 2>&1",
                 dir);
        CHECK_EQ(system(cmd), 0);
        snprintf(path, sizeof(path), "%s/exec.txt", dir);
        n = 0;
        fp = fopen(path, "r");
        CHECK(fp != NULL);
        if (fp) {
            n = fread(dsl, 1, sizeof(dsl) - 1, fp);
            fclose(fp);
        }
        dsl[n] = 0;
        CHECK(contains(dsl, "Evaluation of \\_S5 returned object"));
        CHECK(contains(dsl, "Evaluation of \\_SB.PCI0._PRT returned object"));
        CHECK(contains(dsl, "Evaluation of \\_SB.PEVT._STA returned object"));
        CHECK(contains(dsl, "5 Devices"));
        CHECK(!contains(dsl, "Error") && !contains(dsl, "Warning") && !contains(dsl, "AE_"));
    }
    if (check_failed_now) return; /* keep the files for a look */
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

static void test_bad_config(void)
{
    uint64_t r;
    acpi_config_default(&cfg);
    CHECK(acpi_build_tables(mem, 64, BASE, &cfg, &r) == 0); /* too small */
    cfg.ncpus = 0;
    CHECK(acpi_build_tables(mem, sizeof(mem), BASE, &cfg, &r) == 0);
    cfg.ncpus = ACPI_MAX_CPUS + 1;
    CHECK(acpi_build_tables(mem, sizeof(mem), BASE, &cfg, &r) == 0);
    acpi_config_default(&cfg);
    cfg.ncpus = ACPI_MAX_CPUS;
    CHECK(acpi_build_tables(mem, sizeof(mem), BASE, &cfg, &r) > 0);

    struct bus b;
    CHECK_EQ(bus_init(&b, 16 << 20), 0);
    acpi_config_default(&cfg);
    CHECK_EQ(acpi_build(&b, &cfg, &r), 0);
    CHECK(memcmp(b.ram + r, "RSD PTR ", 8) == 0);
    CHECK(b.page_flags[0xE0] & BUS_PAGE_DIRTY);
    bus_destroy(&b);
}

static int poweroffs, resets;
static void on_poweroff(void *o)
{
    poweroffs++;
}
static void on_reset(void *o)
{
    resets++;
}

static void test_acpi_pm(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 1 << 20), 0);
    struct acpi_pm pm;
    acpi_pm_init(&pm, on_poweroff, on_reset, NULL);
    CHECK_EQ(acpi_pm_attach(&pm, &b, ACPI_PM_PORT_BASE), 0);
    uint16_t ctl = ACPI_PM_PORT_BASE + ACPI_PM_SLEEP_CTL;
    bus_pio_write(&b, ctl, 3 << 2 | ACPI_PM_SLP_EN, 1); /* S3: not supported */
    CHECK_EQ(poweroffs, 0);
    bus_pio_write(&b, ctl, 5 << 2, 1); /* type without SLP_EN: nothing yet */
    CHECK_EQ(poweroffs, 0);
    CHECK_EQ(bus_pio_read(&b, ctl, 1), 5 << 2);
    bus_pio_write(&b, ctl, 5 << 2 | ACPI_PM_SLP_EN, 1); /* what Linux writes for S5 */
    CHECK_EQ(poweroffs, 1);
    CHECK_EQ(bus_pio_read(&b, ctl, 1) & ACPI_PM_SLP_EN, 0);
    bus_pio_write(&b, ACPI_PM_PORT_BASE + ACPI_PM_RESET, 0x01, 1);
    CHECK_EQ(resets, 0);
    bus_pio_write(&b, ACPI_PM_PORT_BASE + ACPI_PM_RESET, ACPI_PM_RESET_VALUE, 1);
    CHECK_EQ(resets, 1);
    pm.sleep_sts = ACPI_PM_WAK_STS;
    bus_pio_write(&b, ACPI_PM_PORT_BASE + ACPI_PM_SLEEP_STS, ACPI_PM_WAK_STS, 1);
    CHECK_EQ(pm.sleep_sts, 0);
    /* Wide and out-of-range accesses stay inside the four registers. */
    CHECK_EQ(bus_pio_read(&b, ACPI_PM_PORT_BASE, 4), 5 << 2);
    bus_pio_write(&b, ACPI_PM_PORT_BASE + 2, 0xFFFF, 2);
    CHECK_EQ(resets, 1);

    struct state_writer w;
    state_writer_init(&w);
    acpi_pm_save(&pm, &w);
    struct acpi_pm pm2;
    acpi_pm_init(&pm2, NULL, NULL, NULL);
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(acpi_pm_load(&pm2, &r), 0);
    CHECK_EQ(pm2.sleep_ctl, 5 << 2);
    struct state_reader r2;
    CHECK(state_reader_init(&r2, w.data, w.len - 1)); /* truncated */
    CHECK(acpi_pm_load(&pm2, &r2) != 0);
    state_writer_free(&w);
    bus_destroy(&b);
}

int main(void)
{
    RUN(test_rsdp);
    RUN(test_fadt);
    RUN(test_no_i8042);
    RUN(test_i8042_aux);
    RUN(test_madt);
    RUN(test_dsdt_iasl);
    RUN(test_bad_config);
    RUN(test_acpi_pm);
    return check_done();
}
