/* test_boot_params.c — direct Linux boot end to end on a bus: a fake LZ4 bzImage (and a bare
 * vmlinux) with an initrd and a command line; checks the zero page fields the kernel reads
 * (setup header copy, type_of_loader, cmdline, ramdisk placement, RSDP, e820), the 64-bit entry
 * state (registers, segments, control registers) and, by walking them, the identity page tables
 * and the GDT in guest RAM. Errors: initrd too large, command line too long, RAM too small,
 * unreadable files, not a kernel. With a real kernel ($VESSEL_KERNEL) the whole load is run. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "kernel_fixture.h"
#include "machine/boot_params.h"
#include "machine/e820.h"
#include "vessel/bus.h"

static char err[256];

static uint64_t rd(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* Translate a virtual address through the page tables in guest RAM (4-level, 2M/1G pages). */
static uint64_t walk(struct bus *b, uint64_t cr3, uint64_t va)
{
    uint64_t table = cr3 & ~0xFFFull;
    for (int level = 3; level >= 0; level--) {
        const uint8_t *t = bus_ram_ptr(b, table, 4096);
        if (!t) return ~0ull;
        uint64_t e = rd(t + 8 * ((va >> (12 + 9 * level)) & 511), 8);
        if (!(e & 1)) return ~0ull;
        uint64_t frame = e & 0x000FFFFFFFFFF000ull;
        if (level > 0 && level < 3 && (e & 0x80)) {
            uint64_t size = 1ull << (12 + 9 * level);
            return (frame & ~(size - 1)) | (va & (size - 1));
        }
        if (level == 0) return frame | (va & 0xFFF);
        table = frame;
    }
    return ~0ull;
}

static void check_entry_state(struct bus *b, const struct linux_boot_state *st, uint64_t entry)
{
    CHECK_EQ(st->regs.rip, entry);
    CHECK_EQ(st->regs.gpr[6], BOOT_ZERO_PAGE_ADDR); /* RSI */
    CHECK_EQ(st->regs.rflags & 0x200, 0);           /* IF off */
    CHECK(st->regs.rflags & 2);
    const struct vcpu_sregs *s = &st->sregs;
    CHECK_EQ(s->cr0 & 0x80000031, 0x80000031);
    CHECK_EQ(s->cr4 & 0x20, 0x20);
    CHECK_EQ(s->efer & 0x500, 0x500);
    CHECK_EQ(s->seg[VSEG_CS].selector, 0x10);
    CHECK(s->seg[VSEG_CS].attr & (1 << 13));     /* L */
    CHECK(!(s->seg[VSEG_CS].attr & (1 << 14)));  /* D must be 0 with L */
    CHECK_EQ(s->seg[VSEG_CS].attr & 0x9F, 0x9B); /* present code */
    CHECK_EQ(s->seg[VSEG_DS].selector, 0x18);
    CHECK_EQ(s->seg[VSEG_SS].selector, 0x18);
    CHECK_EQ(s->seg[VSEG_DS].attr & 0x9F, 0x93);
    /* The GDT in RAM has the same descriptors the cached segments describe. */
    CHECK_EQ(s->gdt_base, BOOT_GDT_ADDR);
    CHECK(s->gdt_limit >= 0x1F);
    const uint8_t *g = bus_ram_ptr(b, s->gdt_base, s->gdt_limit + 1);
    CHECK(g != NULL);
    if (g) {
        CHECK_EQ((rd(g + 0x10, 8) >> 40) & 0xF0FF, s->seg[VSEG_CS].attr & 0xF0FF);
        CHECK_EQ((rd(g + 0x18, 8) >> 40) & 0xF0FF, s->seg[VSEG_DS].attr & 0xF0FF);
    }
    /* Identity mapping of the first 4 GiB. */
    const uint64_t probes[] = {0,          0x7000,     entry,      0x3FFFFFFF,
                               0x40000000, 0xC0001234, 0xFEE00000, 0xFFFFFFFF};
    for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++)
        CHECK_EQ(walk(b, s->cr3, probes[k]), probes[k]);
    /* Page tables and GDT live where the e820 map and the kernel don't put anything else. */
    CHECK(s->cr3 < 0x100000 && s->cr3 >= 0x1000);
}

static void test_bzimage_boot(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 64 << 20), 0);
    struct fk_buf k = fk_bzimage_lz4();
    static uint8_t initrd[3 * 4096 + 17];
    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i * 31);
    const char *cmdline = "console=ttyS0 earlyprintk=serial panic=-1";
    struct linux_boot_images img = {k.p, k.len, initrd, sizeof(initrd), cmdline, 0xE0000, NULL};
    struct linux_boot_state st;
    int rc = linux_boot_load_images(&b, &img, &st, err, sizeof(err));
    if (rc) fprintf(stderr, "# %s\n", err);
    CHECK_EQ(rc, 0);
    CHECK_EQ(st.kernel_lo, FK_SEG0);
    CHECK_EQ(st.kernel_hi, FK_HI);
    CHECK_EQ(b.ram[FK_ENTRY], fk_byte(FK_ENTRY));

    const uint8_t *zp = b.ram + BOOT_ZERO_PAGE_ADDR;
    CHECK(memcmp(zp + 0x202, "HdrS", 4) == 0);
    CHECK_EQ(rd(zp + 0x1fe, 2), 0xAA55);
    CHECK_EQ(rd(zp + 0x206, 2), 0x020F);
    CHECK_EQ(zp[0x1f1], FK_SETUP_SECTS);
    CHECK_EQ(rd(zp + 0x248, 4), FK_PAYLOAD_OFF); /* header copied as is */
    CHECK_EQ(zp[0x210], 0xFF);                   /* type_of_loader */
    CHECK(zp[0x211] & 0x01);                     /* LOADED_HIGH */
    CHECK_EQ(rd(zp + 0x070, 8), 0xE0000);        /* acpi_rsdp_addr */
    CHECK_EQ(rd(zp + 0x228, 4), BOOT_CMDLINE_ADDR);
    CHECK(strcmp((const char *)b.ram + BOOT_CMDLINE_ADDR, cmdline) == 0);
    CHECK_EQ(zp[0x26c], 0); /* nothing past the header end was copied */

    uint64_t ramdisk = rd(zp + 0x218, 4) | rd(zp + 0xc0, 4) << 32;
    CHECK_EQ(ramdisk, st.initrd_addr);
    CHECK_EQ(rd(zp + 0x21c, 4), sizeof(initrd));
    CHECK_EQ(ramdisk & 0xFFF, 0);
    CHECK(ramdisk >= FK_HI);
    CHECK(ramdisk + sizeof(initrd) <= b.low_ram_end);
    CHECK(ramdisk + sizeof(initrd) >
          b.low_ram_end - 4096 - sizeof(initrd)); /* as high as allowed */
    CHECK(memcmp(b.ram + ramdisk, initrd, sizeof(initrd)) == 0);

    /* e820: RAM below the EBDA, reserved BIOS area, RAM from 1 MiB to the end of RAM. */
    unsigned n = zp[0x1e8];
    CHECK_EQ(n, 4);
    const uint8_t *e = zp + 0x2d0;
    CHECK_EQ(rd(e + 0, 8), 0);
    CHECK_EQ(rd(e + 8, 8), 0x9FC00);
    CHECK_EQ(rd(e + 16, 4), E820_RAM);
    CHECK_EQ(rd(e + 40, 8), 0xE0000); /* entry 2 */
    CHECK_EQ(rd(e + 56, 4), E820_RESERVED);
    CHECK_EQ(rd(e + 60, 8), 0x100000);
    CHECK_EQ(rd(e + 68, 8), (64 << 20) - 0x100000);
    CHECK_EQ(rd(e + 76, 4), E820_RAM);

    check_entry_state(&b, &st, FK_ENTRY);
    free(k.p);
    bus_destroy(&b);
}

static void test_vmlinux_boot(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 32 << 20), 0);
    struct fk_buf v = fk_vmlinux();
    struct linux_boot_images img = {v.p, v.len, NULL, 0, NULL, 0, NULL};
    struct linux_boot_state st;
    CHECK_EQ(linux_boot_load_images(&b, &img, &st, err, sizeof(err)), 0);
    const uint8_t *zp = b.ram + BOOT_ZERO_PAGE_ADDR;
    CHECK(memcmp(zp + 0x202, "HdrS", 4) == 0);
    CHECK_EQ(rd(zp + 0x1fe, 2), 0xAA55);
    CHECK_EQ(zp[0x210], 0xFF);
    CHECK_EQ(rd(zp + 0x218, 4), 0); /* no initrd */
    CHECK_EQ(rd(zp + 0x21c, 4), 0);
    CHECK_EQ(b.ram[BOOT_CMDLINE_ADDR], 0);
    CHECK_EQ(st.initrd_size, 0);
    check_entry_state(&b, &st, FK_ENTRY);
    free(v.p);
    bus_destroy(&b);
}

static void test_high_ram_e820(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, (3ull << 30) + (512ull << 20)), 0);
    struct e820_map m;
    CHECK_EQ(e820_build_pc(&m, &b), 0);
    CHECK_EQ(m.n, 5);
    CHECK_EQ(m.e[3].addr + m.e[3].size, 0xC0000000);
    CHECK_EQ(m.e[4].addr, 0x100000000ull);
    CHECK_EQ(m.e[4].size, 512ull << 20);
    CHECK_EQ(m.e[4].type, E820_RAM);
    CHECK_EQ(e820_type_of(&m, 0xE0000, 0x10000), E820_RESERVED);
    CHECK_EQ(e820_type_of(&m, 0x100000, 4096), E820_RAM);
    CHECK_EQ(e820_type_of(&m, 0xA0000, 1), 0); /* the VGA hole is nothing */
    CHECK_EQ(e820_type_of(&m, 0xBFFFF000, 0x2000), 0);
    CHECK(e820_add(&m, 0x1000, 1, E820_RAM) != 0); /* out of order */
    CHECK(e820_add(&m, 0x200000000ull, 0, E820_RAM) != 0);
    bus_destroy(&b);
}

static void test_errors(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 32 << 20), 0);
    struct fk_buf k = fk_bzimage_lz4();
    struct linux_boot_state st;

    /* An initrd larger than the RAM above the kernel. */
    size_t big = 31 << 20;
    uint8_t *initrd = calloc(1, big);
    struct linux_boot_images img = {k.p, k.len, initrd, big, "", 0, NULL};
    CHECK(linux_boot_load_images(&b, &img, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "initrd") != NULL);
    free(initrd);

    /* A command line longer than the header's cmdline_size (2047). */
    char *cl = malloc(3000);
    memset(cl, 'x', 2999);
    cl[2999] = 0;
    img = (struct linux_boot_images){k.p, k.len, NULL, 0, cl, 0, NULL};
    CHECK(linux_boot_load_images(&b, &img, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "command line") != NULL);
    cl[2047] = 0; /* exactly the limit is fine */
    CHECK_EQ(linux_boot_load_images(&b, &img, &st, err, sizeof(err)), 0);
    free(cl);

    /* Not a kernel at all. */
    static const uint8_t junk[4096] = {1, 2, 3};
    img = (struct linux_boot_images){junk, sizeof(junk), NULL, 0, NULL, 0, NULL};
    CHECK(linux_boot_load_images(&b, &img, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "neither a bzImage nor an ELF") != NULL);

    /* RAM too small: the kernel at 16 MiB does not fit in 8 MiB. */
    struct bus small;
    CHECK_EQ(bus_init(&small, 8 << 20), 0);
    img = (struct linux_boot_images){k.p, k.len, NULL, 0, NULL, 0, NULL};
    CHECK(linux_boot_load_images(&small, &img, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "not in guest RAM") != NULL);
    bus_destroy(&small);
    CHECK_EQ(bus_init(&small, 1 << 20), 0);
    CHECK(linux_boot_load_images(&small, &img, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "too small") != NULL);
    bus_destroy(&small);

    /* File errors name the file. */
    struct linux_boot_config cfg = {"/nonexistent/vmlinuz", NULL, NULL, 0, NULL};
    CHECK(linux_boot_load(&b, &cfg, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "/nonexistent/vmlinuz") != NULL);
    cfg.kernel_path = "/";
    CHECK(linux_boot_load(&b, &cfg, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "not a regular file") != NULL);

    /* The file path works the same as the in-memory one. */
    char path[] = "/tmp/vessel-bzimage-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, k.p, k.len), (ssize_t)k.len);
    close(fd);
    cfg = (struct linux_boot_config){path, "/nonexistent/initrd", "quiet", 0, NULL};
    CHECK(linux_boot_load(&b, &cfg, &st, err, sizeof(err)) != 0);
    CHECK(strstr(err, "/nonexistent/initrd") != NULL);
    cfg.initrd_path = path; /* any file will do as an initrd */
    CHECK_EQ(linux_boot_load(&b, &cfg, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.initrd_size, k.len);
    CHECK_EQ(st.regs.rip, FK_ENTRY);
    unlink(path);
    free(k.p);
    bus_destroy(&b);
}

static void test_real_kernel(void)
{
    char buf[512];
    struct bus b;
    CHECK_EQ(bus_init(&b, 256 << 20), 0);
    struct linux_boot_config cfg = {fk_real_kernel(buf, sizeof(buf)), NULL, "console=ttyS0",
                                    0xE0000, NULL};
    cfg.initrd_path = cfg.kernel_path; /* a big stand-in initrd */
    struct linux_boot_state st;
    int rc = linux_boot_load(&b, &cfg, &st, err, sizeof(err));
    if (rc) fprintf(stderr, "# %s\n", err);
    CHECK_EQ(rc, 0);
    CHECK_EQ(st.regs.rip, 0x1000000);
    CHECK_EQ(st.kernel_lo, 0x1000000);
    const uint8_t *zp = b.ram + BOOT_ZERO_PAGE_ADDR;
    CHECK(rd(zp + 0x206, 2) >= 0x020C);
    CHECK_EQ(rd(zp + 0x22c, 4), 0x7FFFFFFF);
    CHECK(st.initrd_addr >= rd(zp + 0x258, 8) + rd(zp + 0x260, 4)); /* above init_size */
    CHECK(st.initrd_addr + st.initrd_size <= b.low_ram_end);
    check_entry_state(&b, &st, 0x1000000);
    bus_destroy(&b);
}

int main(void)
{
    RUN(test_bzimage_boot);
    RUN(test_vmlinux_boot);
    RUN(test_high_ram_e820);
    RUN(test_errors);
    char buf[512];
    if (fk_real_kernel(buf, sizeof(buf)))
        RUN(test_real_kernel);
    else
        fk_skip("test_real_kernel", "no kernel (set VESSEL_KERNEL)");
    return check_done();
}
