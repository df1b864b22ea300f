/* pc_bios.c — booting through firmware (`--bios [PATH]`, issue 16): the board without vessel's
 * own Linux loader. The firmware image (SeaBIOS's bios-256k.bin from Debian by default) is
 * placed the way a PC's flash and QEMU show it: the whole image just below 4 GiB, where the CPU
 * fetches its first instruction (0xFFFFFFF0), and its top 256 KiB (at most) at the end of the
 * first megabyte. The high copy is RAM the board reserves past the guest's (the bus's alias
 * window shows it below 4 GiB); the low copy is ordinary RAM, already writable, which is what
 * SeaBIOS's shadowing through i440FX/Q35 PAM registers would give it — vessel has neither
 * chipset, so SeaBIOS says "Unable to unlock ram - bridge not found" and carries on in RAM that
 * needs no unlocking. Writes to the high copy are not refused (flash would ignore them).
 *
 * What the firmware asks the board, it gets through fw_cfg: the RAM map ("etc/e820"), the
 * serial console for its text output ("etc/sercon-port": COM1), and vessel's ACPI tables
 * through the linker/loader (acpi_loader.c) rather than written into the BIOS area. The vCPU
 * starts from its architectural reset state (real mode, CS:IP F000:FFF0). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw/debugcon.h"
#include "hw/fw_cfg.h"
#include "machine/pc_internal.h"
#include "vessel/bus.h"
#include "vessel/cpu.h"

#define BIOS_MIN     (64u << 10)
#define BIOS_MAX     (16u << 20)
#define BIOS_LOW_MAX (256u << 10) /* what fits between 0xC0000 and 1 MiB */
#define BIOS_LOW_END 0x100000ull
#define BIOS_TOP     0x100000000ull
#define E820_RAM     1
#define SERCON_COM1  0x3f8
#define ECAM_BASE    0xb0000000ull /* where SeaBIOS puts a Q35 host bridge's PCIEXBAR */
#define ECAM_LEN     (1u << 20)    /* bus 0: 32 slots x 8 functions x 4 KiB */
#define PCI_CF8      0xcf8

uint64_t pc_bios_rom_size(const struct pc_config *cfg)
{
    struct stat st;
    if (!cfg->bios || stat(cfg->bios, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    if (st.st_size < BIOS_MIN || st.st_size > BIOS_MAX || (st.st_size & (BUS_PAGE_SIZE - 1)))
        return 0;
    return (uint64_t)st.st_size;
}

static uint8_t *bios_read(const char *path, uint64_t size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    uint8_t *img = f ? malloc(size) : NULL;
    if (!img || fread(img, 1, size, f) != size) {
        snprintf(err, errlen, "--bios %s: %s", path, !f ? strerror(errno) : "cannot read it");
        free(img);
        img = NULL;
    }
    if (f) fclose(f);
    return img;
}

/* The RAM map as QEMU gives it: u64 address, u64 length, u32 type, packed. */
static int bios_add_e820(struct pc *pc, uint64_t ram_size, char *err, size_t errlen)
{
    uint8_t map[2][20];
    uint64_t low = ram_size < BUS_MAX_LOW_RAM ? ram_size : BUS_MAX_LOW_RAM;
    const uint64_t ent[2][2] = {{0, low}, {BUS_HIGH_RAM, ram_size - low}};
    unsigned n = ram_size > low ? 2 : 1;
    for (unsigned k = 0; k < n; k++) {
        for (unsigned b = 0; b < 8; b++) {
            map[k][b] = (uint8_t)(ent[k][0] >> (8 * b));
            map[k][8 + b] = (uint8_t)(ent[k][1] >> (8 * b));
        }
        map[k][16] = E820_RAM;
        map[k][17] = map[k][18] = map[k][19] = 0;
    }
    return fw_cfg_add_file(pc->fw_cfg, "etc/e820", map, n * 20u, err, errlen);
}

/* Enhanced configuration access (ECAM, "mmconfig"). vessel's host bridge says it is a Q35 MCH,
 * so SeaBIOS programs its PCIEXBAR for 0xB0000000 and from then on reaches configuration space
 * only through memory there; without a window every BAR would size as all-ones. Bus 0 is all
 * there is, and its first 256 bytes per function are configuration mechanism #1's: each access
 * goes through 0xCF8/0xCFC, with the guest's address latch put back. The extended space
 * (0x100 up) of these conventional functions reads as zeroes (no extended capabilities). */
static uint64_t bios_ecam_access(struct bus *b, uint64_t off, uint64_t value, unsigned size,
                                 bool write)
{
    uint64_t ones = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    unsigned reg = off & 0xfff;
    if (size > 4 || (reg & 3) + size > 4) return write ? 0 : ones;
    if (reg >= 0x100) return 0;
    uint32_t latch = (uint32_t)bus_pio_read(b, PCI_CF8, 4);
    bus_pio_write(b, PCI_CF8, 0x80000000u | (uint32_t)(off >> 12) << 8 | (reg & 0xfc), 4);
    uint16_t port = (uint16_t)(PCI_CF8 + 4 + (reg & 3));
    if (write)
        bus_pio_write(b, port, value, size);
    else
        value = bus_pio_read(b, port, size);
    bus_pio_write(b, PCI_CF8, latch, 4);
    return value;
}

static uint64_t bios_ecam_read(void *opaque, uint64_t off, unsigned size)
{
    return bios_ecam_access(opaque, off, 0, size, false);
}

static void bios_ecam_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    bios_ecam_access(opaque, off, value, size, true);
}

static const struct io_ops bios_ecam_ops = {bios_ecam_read, bios_ecam_write};

struct bios_log {
    struct debugcon *port;
    FILE *file;
};

static void bios_log_destroy(void *o)
{
    struct bios_log *l = o;
    debugcon_destroy(l->port);
    fclose(l->file);
    free(l);
}
/* No state: a restored machine appends to its own log. */
static const struct pc_device_ops bios_log_ops = {bios_log_destroy, NULL, NULL, NULL, NULL};

/* The firmware's debug port (0x402) into `path` (--firmware-log), appended. */
static int bios_log_open(struct pc *pc, const char *path, char *err, size_t errlen, int *usage)
{
    struct bios_log *l = calloc(1, sizeof(*l));
    if (l) l->file = fopen(path, "a");
    if (!l || !l->file) {
        *usage = 1;
        snprintf(err, errlen, "--firmware-log %s: %s", path, strerror(errno));
        free(l);
        return -1;
    }
    l->port = debugcon_create(&pc->bus, DEBUGCON_PORT, l->file);
    if (!l->port) {
        fclose(l->file);
        free(l);
        return snprintf(err, errlen, "--firmware-log: port %#x is taken", DEBUGCON_PORT), -1;
    }
    return pc_add(pc, "firmware-log", l, &bios_log_ops, err, errlen);
}

int pc_bios_setup(struct pc *pc, const struct pc_config *cfg, uint64_t rom_off, char *err,
                  size_t errlen, int *usage)
{
    uint64_t size = pc_bios_rom_size(cfg);
    if (!size) {
        *usage = 1;
        snprintf(err, errlen,
                 "--bios %s: not a firmware image (a readable file of 64 KiB to 16 MiB, a "
                 "multiple of 4 KiB)",
                 cfg->bios);
        return -1;
    }
    uint8_t *img = bios_read(cfg->bios, size, err, errlen);
    if (!img) {
        *usage = 1;
        return -1;
    }
    uint64_t low = size < BIOS_LOW_MAX ? size : BIOS_LOW_MAX;
    uint8_t *high_copy = bus_ram_ptr(&pc->bus, 0, 0) ? pc->bus.ram + rom_off : NULL;
    uint8_t *low_copy = bus_ram_ptr(&pc->bus, BIOS_LOW_END - low, low);
    if (!high_copy || !low_copy ||
        bus_set_ram_alias(&pc->bus, BIOS_TOP - size, size, rom_off) < 0) {
        free(img);
        snprintf(err, errlen, "--bios: cannot map the firmware below 4 GiB");
        return -1;
    }
    memcpy(high_copy, img, size);
    memcpy(low_copy, img + size - low, low);
    free(img);
    bus_note_write(&pc->bus, BIOS_LOW_END - low, low);
    bus_note_write(&pc->bus, BIOS_TOP - size, size);

    if (pc->bus.low_ram_end > ECAM_BASE ||
        bus_add_mmio(&pc->bus, ECAM_BASE, ECAM_LEN, &bios_ecam_ops, &pc->bus, "pci-ecam") < 0) {
        *usage = 1;
        snprintf(err, errlen,
                 "--bios: RAM below 4 GiB reaches the PCI configuration window at %#llx: give "
                 "at most 2816 MiB",
                 ECAM_BASE);
        return -1;
    }
    if (cfg->firmware_log && bios_log_open(pc, cfg->firmware_log, err, errlen, usage) < 0)
        return -1;
    uint8_t sercon[2] = {SERCON_COM1 & 0xff, SERCON_COM1 >> 8};
    if (bios_add_e820(pc, cfg->ram_size, err, errlen) < 0 ||
        (!cfg->hvc && fw_cfg_add_file(pc->fw_cfg, "etc/sercon-port", sercon, 2, err, errlen) < 0))
        return -1;

    /* The architectural reset state (Intel SDM vol. 3, 9.1.1). */
    struct vcpu_sregs s;
    vcpu_get_sregs(pc->vcpu, &s);
    for (unsigned k = 0; k < 6; k++)
        s.seg[k] = (struct vcpu_segment){.selector = 0, .base = 0, .limit = 0xffff, .attr = 0x93};
    s.seg[VSEG_CS] = (struct vcpu_segment){
        .selector = 0xf000, .base = 0xffff0000, .limit = 0xffff, .attr = 0x9b};
    s.seg[VSEG_LDTR] = (struct vcpu_segment){.limit = 0xffff, .attr = 0x82};
    s.seg[VSEG_TR] = (struct vcpu_segment){.limit = 0xffff, .attr = 0x8b};
    s.gdt_base = s.idt_base = 0;
    s.gdt_limit = s.idt_limit = 0xffff;
    s.cr0 = 0x60000010;
    s.cr2 = s.cr3 = s.cr4 = s.efer = 0;
    vcpu_set_sregs(pc->vcpu, &s);
    struct vcpu_regs r = {.rip = 0xfff0, .rflags = 0x2};
    vcpu_set_regs(pc->vcpu, &r);
    return 0;
}
