/* boot_params.c — direct Linux boot (boot_params.h): kernel, initrd and command line into RAM,
 * the zero page, and the 64-bit entry state. Field offsets are those of struct boot_params in
 * arch/x86/include/uapi/asm/bootparam.h; the setup header part comes from the bzImage itself
 * (boot.rst: "the 64-bit boot protocol ... copy the setup header"), or is synthesised for a plain
 * vmlinux the way Firecracker does it. */
#include "machine/boot_params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "machine/bzimage.h"
#include "machine/e820.h"
#include "machine/elf.h"
#include "vessel/bus.h"

/* struct boot_params offsets outside the setup header. */
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_E820_TABLE        0x2d0
#define BP_SIZE              0x1000

/* struct screen_info (the zero page's first 0x40 bytes), include/uapi/linux/screen_info.h. */
#define SI_ORIG_VIDEO_ISVGA         0x0f
#define SI_LFB_WIDTH                0x12
#define SI_LFB_HEIGHT               0x14
#define SI_LFB_DEPTH                0x16
#define SI_LFB_BASE                 0x18
#define SI_LFB_SIZE                 0x1c
#define SI_LFB_LINELENGTH           0x24
#define SI_RED_SIZE                 0x26 /* then red_pos, green size/pos, blue size/pos, rsvd size/pos */
#define SI_PAGES                    0x32
#define SI_CAPABILITIES             0x36
#define SI_EXT_LFB_BASE             0x3a
#define VIDEO_TYPE_EFI              0x70 /* sysfb then registers "efi-framebuffer", which efifb drives */
#define VIDEO_CAPABILITY_64BIT_BASE 0x2

#define BOOT_PAGE_MASK        0xFFFull
#define BOOT_MAX_KERNEL_FILE  (256ull << 20)
#define BOOT_VMLINUX_ADDR_MAX 0x7FFFFFFFu /* initrd_addr_max we assume for a plain vmlinux */

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

void boot_params_set_e820(uint8_t *zp, const struct e820_map *m)
{
    unsigned n = m->n < E820_MAX_ENTRIES ? m->n : E820_MAX_ENTRIES;
    zp[BP_E820_ENTRIES] = (uint8_t)n;
    memcpy(zp + BP_E820_TABLE, m->e, n * sizeof(struct e820_entry));
}

void boot_params_set_screen(uint8_t *zp, const struct boot_screen *s)
{
    zp[SI_ORIG_VIDEO_ISVGA] = VIDEO_TYPE_EFI;
    wr16(zp + SI_LFB_WIDTH, (uint16_t)s->width);
    wr16(zp + SI_LFB_HEIGHT, (uint16_t)s->height);
    wr16(zp + SI_LFB_DEPTH, 32);
    uint64_t addr = s->addr ? s->addr : s->base;
    wr32(zp + SI_LFB_BASE, (uint32_t)addr);
    if (addr >> 32) {
        wr32(zp + SI_EXT_LFB_BASE, (uint32_t)(addr >> 32));
        wr32(zp + SI_CAPABILITIES, VIDEO_CAPABILITY_64BIT_BASE);
    }
    wr32(zp + SI_LFB_SIZE, (uint32_t)s->size); /* bytes for EFI (64 KiB units only for VESA) */
    wr16(zp + SI_LFB_LINELENGTH, (uint16_t)s->stride);
    static const uint8_t masks[8] = {8, 16, 8, 8, 8, 0, 8, 24}; /* XRGB8888 */
    memcpy(zp + SI_RED_SIZE, masks, sizeof(masks));
    wr16(zp + SI_PAGES, 1);
}

static struct vcpu_segment seg(uint16_t sel, uint32_t limit, uint16_t attr)
{
    return (struct vcpu_segment){.selector = sel, .base = 0, .limit = limit, .attr = attr};
}

int boot_setup_entry(struct bus *bus, uint64_t entry, uint64_t zero_page,
                     struct linux_boot_state *out)
{
    uint8_t *gdt = bus_ram_ptr(bus, BOOT_GDT_ADDR, 4 * 8);
    uint8_t *pt = bus_ram_ptr(bus, BOOT_PML4_ADDR, BOOT_PGTABLE_END - BOOT_PML4_ADDR);
    if (!gdt || !pt) return -1;

    /* GDT: null, null, flat 64-bit code (0x10), flat data (0x18) — Linux's own boot GDT shape. */
    static const uint64_t gdt_entries[4] = {0, 0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull};
    for (int k = 0; k < 4; k++)
        wr64(gdt + 8 * k, gdt_entries[k]);
    bus_note_write(bus, BOOT_GDT_ADDR, sizeof(gdt_entries));

    /* Identity map of 0-4 GiB with 2 MiB pages: PML4 -> one PDPT -> four page directories. */
    memset(pt, 0, BOOT_PGTABLE_END - BOOT_PML4_ADDR);
    uint64_t pdpt = BOOT_PML4_ADDR + 0x1000, pd = BOOT_PML4_ADDR + 0x2000;
    wr64(pt, pdpt | 0x3); /* present, writable */
    for (uint64_t i = 0; i < 4; i++) {
        wr64(pt + 0x1000 + 8 * i, (pd + 0x1000 * i) | 0x3);
        for (uint64_t j = 0; j < 512; j++)
            wr64(pt + 0x2000 + 0x1000 * i + 8 * j, ((i << 30) | (j << 21)) | 0x83); /* PS */
    }
    bus_note_write(bus, BOOT_PML4_ADDR, BOOT_PGTABLE_END - BOOT_PML4_ADDR);

    memset(&out->regs, 0, sizeof(out->regs));
    memset(&out->sregs, 0, sizeof(out->sregs));
    out->regs.rip = entry;
    out->regs.rflags = 0x2; /* interrupts off */
    out->regs.gpr[4] = BOOT_STACK_TOP;
    out->regs.gpr[6] = zero_page; /* RSI */

    struct vcpu_sregs *s = &out->sregs;
    s->seg[VSEG_CS] = seg(BOOT_SEL_CODE64, 0xFFFFFFFF, 0xAF9B);
    struct vcpu_segment data = seg(BOOT_SEL_DATA, 0xFFFFFFFF, 0xCF93);
    s->seg[VSEG_DS] = s->seg[VSEG_ES] = s->seg[VSEG_SS] = data;
    s->seg[VSEG_FS] = s->seg[VSEG_GS] = data;
    s->seg[VSEG_TR] = seg(0, 0x67, 0x008B);     /* busy 64-bit TSS, as after reset */
    s->seg[VSEG_LDTR] = seg(0, 0xFFFF, 0x0082); /* LDT, present */
    s->gdt_base = BOOT_GDT_ADDR;
    s->gdt_limit = sizeof(gdt_entries) - 1;
    s->idt_base = 0;
    s->idt_limit = 0;
    s->cr0 = 0x80000031; /* PG | NE | ET | PE */
    s->cr3 = BOOT_PML4_ADDR;
    s->cr4 = 0x20;   /* PAE */
    s->efer = 0x500; /* LMA | LME */
    return 0;
}

/* The zero page's setup header: the image's own, or a minimal one for a bare vmlinux. */
static uint32_t setup_header(uint8_t *zp, const struct bzimage_info *bz)
{
    if (bz) {
        memcpy(zp + BZ_HDR_START, bz->hdr, bz->hdr_len);
        return bz->initrd_addr_max ? bz->initrd_addr_max : 0x37FFFFFF;
    }
    wr16(zp + BZ_BOOT_FLAG, BZ_BOOT_FLAG_VAL);
    wr32(zp + BZ_HEADER, BZ_HDRS_MAGIC);
    wr16(zp + BZ_VERSION, 0x020F);
    wr32(zp + BZ_KERNEL_ALIGNMENT, 0x01000000);
    wr32(zp + BZ_INITRD_ADDR_MAX, BOOT_VMLINUX_ADDR_MAX);
    wr32(zp + BZ_CMDLINE_SIZE, BOOT_CMDLINE_MAX - 1);
    return BOOT_VMLINUX_ADDR_MAX;
}

int linux_boot_load_images(struct bus *bus, const struct linux_boot_images *img,
                           struct linux_boot_state *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    struct e820_map *map = malloc(sizeof(*map));
    if (!map) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint8_t *zp = bus_ram_ptr(bus, BOOT_ZERO_PAGE_ADDR, BP_SIZE);
    uint8_t *cl = bus_ram_ptr(bus, BOOT_CMDLINE_ADDR, BOOT_CMDLINE_MAX);
    if (e820_build_pc(map, bus) != 0 || !zp || !cl ||
        (img->screen && e820_reserve(map, img->screen->base, img->screen->size) != 0)) {
        snprintf(err, errlen, "guest RAM is too small to boot Linux");
        free(map);
        return -1;
    }

    /* Kernel: a bzImage is decompressed here; a vmlinux ELF is loaded as is. */
    struct bzimage_info bz;
    struct elf_load_info elf;
    int is_bz = bzimage_is_bzimage(img->kernel, img->kernel_len);
    int rc;
    if (is_bz) {
        uint8_t *vmlinux;
        size_t vlen;
        if (bzimage_parse(img->kernel, img->kernel_len, &bz, err, errlen) != 0 ||
            bzimage_decompress(bz.payload, bz.payload_len, &vmlinux, &vlen, err, errlen) != 0) {
            free(map);
            return -1;
        }
        rc = elf_load(bus, vmlinux, vlen, BOOT_KERNEL_MIN, &elf, err, errlen);
        free(vmlinux);
    } else if (elf_is_elf(img->kernel, img->kernel_len)) {
        rc = elf_load(bus, img->kernel, img->kernel_len, BOOT_KERNEL_MIN, &elf, err, errlen);
    } else {
        snprintf(err, errlen, "kernel: neither a bzImage nor an ELF vmlinux");
        rc = -1;
    }
    if (rc != 0) {
        free(map);
        return -1;
    }
    out->kernel_lo = elf.lo;
    out->kernel_hi = elf.hi;

    memset(zp, 0, BP_SIZE);
    uint32_t initrd_addr_max = setup_header(zp, is_bz ? &bz : NULL);
    zp[BZ_TYPE_OF_LOADER] = 0xFF;
    zp[BZ_LOADFLAGS] |= BZ_LOADED_HIGH;

    /* Command line, bounded by what the kernel says it accepts. */
    const char *cmdline = img->cmdline ? img->cmdline : "";
    size_t cmax = is_bz && bz.cmdline_size ? bz.cmdline_size : BOOT_CMDLINE_MAX - 1;
    if (cmax > BOOT_CMDLINE_MAX - 1) cmax = BOOT_CMDLINE_MAX - 1;
    size_t clen = strlen(cmdline);
    if (clen > cmax) {
        snprintf(err, errlen, "kernel command line is %zu bytes; this kernel accepts at most %zu",
                 clen, cmax);
        free(map);
        return -1;
    }
    memcpy(cl, cmdline, clen + 1);
    bus_note_write(bus, BOOT_CMDLINE_ADDR, clen + 1);
    wr32(zp + BZ_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_ADDR);
    wr32(zp + BP_EXT_CMD_LINE_PTR, 0);

    /* Initrd: as high as allowed, page aligned, above the kernel and its working area. */
    if (img->initrd && img->initrd_len) {
        uint64_t top = (uint64_t)initrd_addr_max + 1;
        if (top > bus->low_ram_end) top = bus->low_ram_end;
        if (img->screen && top > img->screen->base) top = img->screen->base;
        uint64_t floor = (elf.hi + BOOT_PAGE_MASK) & ~BOOT_PAGE_MASK;
        if (is_bz && bz.pref_address + bz.init_size > floor &&
            bz.pref_address + bz.init_size <= top)
            floor = (bz.pref_address + bz.init_size + BOOT_PAGE_MASK) & ~BOOT_PAGE_MASK;
        uint64_t addr = img->initrd_len <= top ? (top - img->initrd_len) & ~BOOT_PAGE_MASK : 0;
        if (img->initrd_len > top || addr < floor) {
            snprintf(err, errlen,
                     "initrd of %zu bytes does not fit in guest RAM between %#llx and %#llx "
                     "(give the guest more memory)",
                     img->initrd_len, (unsigned long long)floor, (unsigned long long)top);
            free(map);
            return -1;
        }
        uint8_t *dst = bus_ram_ptr(bus, addr, img->initrd_len);
        memcpy(dst, img->initrd, img->initrd_len);
        bus_note_write(bus, addr, img->initrd_len);
        wr32(zp + BZ_RAMDISK_IMAGE, (uint32_t)addr);
        wr32(zp + BZ_RAMDISK_SIZE, (uint32_t)img->initrd_len);
        wr32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(addr >> 32));
        wr32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)img->initrd_len >> 32));
        out->initrd_addr = addr;
        out->initrd_size = img->initrd_len;
    }

    wr64(zp + BP_ACPI_RSDP_ADDR, img->rsdp_addr);
    if (img->screen) boot_params_set_screen(zp, img->screen);
    boot_params_set_e820(zp, map);
    free(map);
    bus_note_write(bus, BOOT_ZERO_PAGE_ADDR, BP_SIZE);

    if (boot_setup_entry(bus, elf.entry, BOOT_ZERO_PAGE_ADDR, out) != 0) {
        snprintf(err, errlen, "guest RAM is too small for the boot page tables");
        return -1;
    }
    return 0;
}

/* Whole file into a malloc'd buffer, at most `max` bytes. */
static int read_all(const char *what, const char *path, uint64_t max, uint8_t **data, size_t *len,
                    char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s %s: %s", what, path,
                 !S_ISREG(st.st_mode) ? "not a regular file"
                 : st.st_size <= 0    ? "empty file"
                                      : "too large for guest memory");
        fclose(f);
        return -1;
    }
    *len = (size_t)st.st_size;
    *data = malloc(*len);
    if (!*data || fread(*data, 1, *len, f) != *len) {
        snprintf(err, errlen, "%s %s: cannot read", what, path);
        free(*data);
        *data = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

int linux_boot_load(struct bus *bus, const struct linux_boot_config *cfg,
                    struct linux_boot_state *out, char *err, size_t errlen)
{
    struct linux_boot_images img = {
        .cmdline = cfg->cmdline, .rsdp_addr = cfg->rsdp_addr, .screen = cfg->screen};
    uint8_t *kernel = NULL, *initrd = NULL;
    if (!cfg->kernel_path) {
        snprintf(err, errlen, "no kernel given");
        return -1;
    }
    if (read_all("kernel", cfg->kernel_path, BOOT_MAX_KERNEL_FILE, &kernel, &img.kernel_len, err,
                 errlen) != 0)
        return -1;
    if (cfg->initrd_path && read_all("initrd", cfg->initrd_path, bus->low_ram_end, &initrd,
                                     &img.initrd_len, err, errlen) != 0) {
        free(kernel);
        return -1;
    }
    img.kernel = kernel;
    img.initrd = initrd;
    int rc = linux_boot_load_images(bus, &img, out, err, errlen);
    free(kernel);
    free(initrd);
    return rc;
}
