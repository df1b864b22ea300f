/* bochs_display.c — the bochs-display PCI function (bochs_display.h): config space and BARs
 * through the generic PCI model, the video memory shown at BAR0 as RAM through the bus's alias
 * window (kept in step with BAR0's decoded address after every config write), the register page
 * in BAR2 (EDID, VBE DISPI, QEMU extensions) and the scanout the registers describe. A slow
 * MMIO path behind BAR0 serves the pixels too, for the rare case the alias cannot be set (BAR0
 * programmed over RAM): correct, only slower. */
#include "hw/bochs_display.h"

#include <stdlib.h>
#include <string.h>

#include "hw/pci.h"
#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define BOCHS_STATE_VERSION 1

struct bochs_display {
    struct pci_device pci; /* first: config hooks get the pci_device */
    struct bus *bus;
    uint8_t *vram; /* host mapping of the video memory */
    uint64_t vram_gpa, vram_size, vram_off;
    uint64_t alias; /* BAR0 address the bus aliases, or PCI_BAR_UNMAPPED */
    uint16_t regs[BOCHS_DISPI_NREGS];
    uint32_t byte_order;
    uint64_t generation;
    uint8_t edid[BOCHS_EDID_SIZE];
    unsigned width, height;
    bochs_flush_fn flush;
    void *opaque;
};

uint64_t bochs_display_vram_for(unsigned width, unsigned height)
{
    uint64_t need = 2ull * width * height * 4, v = BOCHS_VRAM_MIN;
    if (!width || !height) return 0;
    while (v < need && v < BOCHS_VRAM_MAX)
        v <<= 1;
    return v >= need ? v : 0;
}

/* ---- EDID: one digital monitor, its preferred mode the configured size ---- */

static void bochs_edid_dtd(uint8_t *p, unsigned w, unsigned h)
{
    const unsigned hbl = 160, hso = 48, hsw = 32, vbl = 35, vso = 3, vsw = 5;
    unsigned clock = (unsigned)((uint64_t)(w + hbl) * (h + vbl) * 60 / 10000); /* 10 kHz */
    p[0] = (uint8_t)clock;
    p[1] = (uint8_t)(clock >> 8);
    p[2] = (uint8_t)w;
    p[3] = (uint8_t)hbl;
    p[4] = (uint8_t)((w >> 8) << 4 | hbl >> 8);
    p[5] = (uint8_t)h;
    p[6] = (uint8_t)vbl;
    p[7] = (uint8_t)((h >> 8) << 4 | vbl >> 8);
    p[8] = (uint8_t)hso;
    p[9] = (uint8_t)hsw;
    p[10] = (uint8_t)((vso & 15) << 4 | (vsw & 15));
    p[11] = 0;
    unsigned wmm = w * 254 / 960, hmm = h * 254 / 960; /* 96 dpi */
    p[12] = (uint8_t)wmm;
    p[13] = (uint8_t)hmm;
    p[14] = (uint8_t)((wmm >> 8 & 15) << 4 | (hmm >> 8 & 15));
    p[17] = 0x1e; /* digital separate sync, both polarities positive */
}

static void bochs_edid_text(uint8_t *p, uint8_t tag, const char *s)
{
    p[3] = tag;
    size_t n = strlen(s);
    memset(p + 5, ' ', 13);
    memcpy(p + 5, s, n);
    p[5 + n] = '\n';
}

static void bochs_edid_build(uint8_t *e, unsigned w, unsigned h)
{
    static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
    static const uint8_t srgb[10] = {0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54};
    memset(e, 0, BOCHS_EDID_SIZE);
    if (w > 4095 || h > 4095)
        return; /* a detailed timing holds 12 bits: no EDID, the
                 * driver's own default mode */
    memcpy(e, header, 8);
    e[8] = 0x5a; /* "VSL": 22, 19, 12 in five-bit letters */
    e[9] = 0x6c;
    e[10] = 1;
    e[17] = 36; /* 2026 */
    e[18] = 1;
    e[19] = 4;
    e[20] = 0x80; /* digital input */
    e[21] = (uint8_t)(w * 254 / 9600 ? w * 254 / 9600 : 1);
    e[22] = (uint8_t)(h * 254 / 9600 ? h * 254 / 9600 : 1);
    e[23] = 120;  /* gamma 2.2 */
    e[24] = 0x06; /* sRGB, the first detailed timing is the preferred mode */
    memcpy(e + 25, srgb, sizeof(srgb));
    e[35] = 0x21;          /* 640x480@60, 800x600@60 */
    e[36] = 0x08;          /* 1024x768@60 */
    memset(e + 38, 1, 16); /* no standard timings */
    bochs_edid_dtd(e + 54, w, h);
    bochs_edid_text(e + 72, 0xfc, "vessel");
    e[90 + 3] = 0x10; /* two dummy descriptors */
    e[108 + 3] = 0x10;
    uint8_t sum = 0;
    for (unsigned k = 0; k < 127; k++)
        sum = (uint8_t)(sum + e[k]);
    e[127] = (uint8_t)-sum;
}

/* ---- the DISPI registers ---- */

bool bochs_display_scanout(const struct bochs_display *d, struct bochs_scanout *s)
{
    const uint16_t *r = d->regs;
    if ((r[BOCHS_DISPI_ENABLE] & (BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED)) !=
            (BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED) ||
        r[BOCHS_DISPI_BPP] != 32)
        return false;
    unsigned w = r[BOCHS_DISPI_XRES], h = r[BOCHS_DISPI_YRES];
    unsigned vw = r[BOCHS_DISPI_VIRT_WIDTH] > w ? r[BOCHS_DISPI_VIRT_WIDTH] : w;
    if (w < BOCHS_MIN_SIDE || h < BOCHS_MIN_SIDE) return false;
    uint64_t stride = (uint64_t)vw * 4;
    uint64_t off = ((uint64_t)r[BOCHS_DISPI_Y_OFFSET] * vw + r[BOCHS_DISPI_X_OFFSET]) * 4;
    uint64_t end = off + stride * (h - 1) + (uint64_t)w * 4;
    if (end > d->vram_size) return false;
    *s = (struct bochs_scanout){off, w, h, (unsigned)stride};
    return true;
}

static uint16_t bochs_dispi_read(const struct bochs_display *d, unsigned idx)
{
    const uint16_t *r = d->regs;
    bool caps = r[BOCHS_DISPI_ENABLE] & BOCHS_DISPI_GETCAPS;
    switch (idx) {
    case BOCHS_DISPI_ID: return BOCHS_DISPI_ID5;
    case BOCHS_DISPI_XRES: return caps ? BOCHS_DISPI_MAX_XRES : r[idx];
    case BOCHS_DISPI_YRES: return caps ? BOCHS_DISPI_MAX_YRES : r[idx];
    case BOCHS_DISPI_BPP: return caps ? BOCHS_DISPI_MAX_BPP : r[idx];
    case BOCHS_DISPI_VIDEO_MEMORY_64K: return (uint16_t)(d->vram_size >> 16);
    default: return idx < BOCHS_DISPI_NREGS ? r[idx] : 0;
    }
}

/* bochs-display's rules (QEMU's hw/display/bochs-display.c), not std-vga's: registers only
 * store; enabling neither clears video memory nor resets the virtual width and panning, and the
 * mode may change while enabled. bochs-drm relies on it: it pins the buffer to show into video
 * memory before it enables the mode. Values outside the registers' ranges are dropped. */
static void bochs_dispi_write(struct bochs_display *d, unsigned idx, uint16_t v)
{
    uint16_t *r = d->regs;
    switch (idx) {
    case BOCHS_DISPI_XRES:
        if (v > BOCHS_DISPI_MAX_XRES) return;
        break;
    case BOCHS_DISPI_YRES:
        if (v > BOCHS_DISPI_MAX_YRES) return;
        break;
    case BOCHS_DISPI_BPP:
        if (v == 0) v = 8;
        if (v != 4 && v != 8 && v != 15 && v != 16 && v != 24 && v != 32) return;
        break;
    case BOCHS_DISPI_ENABLE:
        v &= BOCHS_DISPI_ENABLED | BOCHS_DISPI_GETCAPS | BOCHS_DISPI_8BIT_DAC |
             BOCHS_DISPI_LFB_ENABLED | BOCHS_DISPI_NOCLEARMEM;
        break;
    case BOCHS_DISPI_BANK: v = (uint16_t)(v & ((d->vram_size >> 16) - 1)); break;
    case BOCHS_DISPI_VIRT_WIDTH:
    case BOCHS_DISPI_VIRT_HEIGHT:
    case BOCHS_DISPI_X_OFFSET:
    case BOCHS_DISPI_Y_OFFSET:
        break;       /* any value: the scanout check refuses what runs past video memory */
    default: return; /* ID, VIDEO_MEMORY_64K: read only */
    }
    r[idx] = v;
    d->generation++;
}

uint64_t bochs_display_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct bochs_display *d = opaque;
    uint64_t v = 0;
    if (size > 8 || off >= BOCHS_MMIO_SIZE || off + size > BOCHS_MMIO_SIZE) return 0;
    if (off < BOCHS_EDID + BOCHS_EDID_SIZE) {
        for (unsigned k = 0; k < size && off + k < BOCHS_EDID_SIZE; k++)
            v |= (uint64_t)d->edid[off + k] << (8 * k);
        return v;
    }
    if (off >= BOCHS_DISPI && off < BOCHS_DISPI + 2 * BOCHS_DISPI_NREGS) {
        if (size != 2 || (off & 1)) return 0;
        return bochs_dispi_read(d, (unsigned)(off - BOCHS_DISPI) >> 1);
    }
    if (off >= BOCHS_QEXT && off < BOCHS_QEXT + BOCHS_QEXT_SIZE) {
        if (size != 4 || (off & 3)) return 0;
        return off == BOCHS_QEXT ? BOCHS_QEXT_SIZE : d->byte_order;
    }
    return 0;
}

void bochs_display_mmio_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct bochs_display *d = opaque;
    if (size > 8 || off >= BOCHS_MMIO_SIZE || off + size > BOCHS_MMIO_SIZE) return;
    if (off >= BOCHS_DISPI && off < BOCHS_DISPI + 2 * BOCHS_DISPI_NREGS) {
        if (size == 2 && !(off & 1))
            bochs_dispi_write(d, (unsigned)(off - BOCHS_DISPI) >> 1, (uint16_t)value);
        return;
    }
    if (off == BOCHS_QEXT + 4 && size == 4) {
        uint32_t v = (uint32_t)value;
        /* Stored and reported; the front ends show little-endian pixels either way. */
        if (v == BOCHS_BYTE_LE || v == BOCHS_BYTE_BE) d->byte_order = v;
    }
    /* EDID, the VGA ports and the size register are read only. */
}

static const struct io_ops bochs_mmio_ops = {bochs_display_mmio_read, bochs_display_mmio_write};

/* BAR0 as MMIO: only reached when the alias could not be set. */
static uint64_t bochs_vram_read(void *opaque, uint64_t off, unsigned size)
{
    struct bochs_display *d = opaque;
    uint64_t v = 0;
    if (size <= 8 && off < d->vram_size && size <= d->vram_size - off)
        memcpy(&v, d->vram + off, size);
    return v;
}

static void bochs_vram_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct bochs_display *d = opaque;
    if (size > 8 || off >= d->vram_size || size > d->vram_size - off) return;
    memcpy(d->vram + off, &value, size);
    bus_note_write(d->bus, d->vram_gpa + off, size);
}

static const struct io_ops bochs_vram_ops = {bochs_vram_read, bochs_vram_write};

/* Keep the bus's alias on BAR0's decoded address. */
static void bochs_sync_alias(struct bochs_display *d)
{
    uint64_t a = d->pci.bar[0].mapped;
    if (a == d->alias) return;
    bus_set_ram_alias(d->bus, 0, 0, 0);
    d->alias = PCI_BAR_UNMAPPED;
    if (a != PCI_BAR_UNMAPPED) {
        if (bus_set_ram_alias(d->bus, a, d->vram_size, d->vram_off) == 0)
            d->alias = a;
        else
            log_warn("bochs-display: BAR0 at %#llx cannot show RAM; pixels go through MMIO",
                     (unsigned long long)a);
    }
    if (d->flush) d->flush(d->opaque);
}

static void bochs_config_write(struct pci_device *p, unsigned offset, uint32_t value, unsigned size)
{
    (void)offset;
    (void)value;
    (void)size;
    bochs_sync_alias((struct bochs_display *)p);
}

static const struct pci_device_ops bochs_pci_ops = {.config_write = bochs_config_write};

struct bochs_display *bochs_display_create(struct pci_host *host, struct bus *bus,
                                           const struct bochs_display_config *cfg)
{
    uint64_t n = cfg->vram_size;
    if (n < BOCHS_VRAM_MIN || n > BOCHS_VRAM_MAX || (n & (n - 1)) || (cfg->vram_gpa & 0xfff) ||
        !cfg->width || !cfg->height || cfg->width > BOCHS_DISPI_MAX_XRES ||
        cfg->height > BOCHS_DISPI_MAX_YRES || (uint64_t)cfg->width * cfg->height * 4 > n)
        return NULL;
    uint8_t *vram = bus_ram_ptr(bus, cfg->vram_gpa, n);
    if (!vram) return NULL;
    struct bochs_display *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->bus = bus;
    d->vram = vram;
    d->vram_gpa = cfg->vram_gpa;
    d->vram_size = n;
    d->vram_off = bus_ram_offset(bus, cfg->vram_gpa);
    d->alias = PCI_BAR_UNMAPPED;
    d->width = cfg->width;
    d->height = cfg->height;
    d->flush = cfg->flush;
    d->opaque = cfg->opaque;
    d->byte_order = BOCHS_BYTE_LE;
    bochs_edid_build(d->edid, cfg->width, cfg->height);
    pci_device_init(&d->pci, "bochs-display", BOCHS_VENDOR_ID, BOCHS_DEVICE_ID, BOCHS_CLASS,
                    BOCHS_REVISION, &bochs_pci_ops, d);
    pci_device_set_subsystem(&d->pci, 0x1af4, 0x1100); /* QEMU's */
    if (pci_device_add_bar(&d->pci, 0, PCI_BAR_MEM32, n, true, &bochs_vram_ops, d) < 0 ||
        pci_device_add_bar(&d->pci, 2, PCI_BAR_MEM32, BOCHS_MMIO_SIZE, false, &bochs_mmio_ops, d) <
            0 ||
        pci_host_register(host, &d->pci, -1) < 0) {
        pci_device_destroy(&d->pci);
        free(d);
        return NULL;
    }
    return d;
}

void bochs_display_destroy(struct bochs_display *d)
{
    if (!d) return;
    pci_device_destroy(&d->pci); /* decoding off: BAR0 unmapped */
    if (d->alias != PCI_BAR_UNMAPPED) bus_set_ram_alias(d->bus, 0, 0, 0);
    free(d);
}

void bochs_display_firmware_init(struct bochs_display *d, uint64_t fb_gpa, uint64_t mmio_gpa)
{
    pci_config_write(&d->pci, PCI_BASE_ADDRESS_0, (uint32_t)fb_gpa, 4);
    pci_config_write(&d->pci, PCI_BASE_ADDRESS_0 + 8, (uint32_t)mmio_gpa, 4);
    pci_config_write(&d->pci, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    bochs_dispi_write(d, BOCHS_DISPI_ENABLE, 0);
    bochs_dispi_write(d, BOCHS_DISPI_BPP, 32);
    bochs_dispi_write(d, BOCHS_DISPI_XRES, (uint16_t)d->width);
    bochs_dispi_write(d, BOCHS_DISPI_YRES, (uint16_t)d->height);
    bochs_dispi_write(d, BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
}

uint64_t bochs_display_vram_gpa(const struct bochs_display *d)
{
    return d->vram_gpa;
}

uint64_t bochs_display_generation(const struct bochs_display *d)
{
    return d->generation;
}

/* ---- state ---- */

static const char *bochs_check(const void *tmp_, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    const struct bochs_display *t = tmp_;
    const uint16_t *r = t->regs;
    if (r[BOCHS_DISPI_XRES] > BOCHS_DISPI_MAX_XRES || r[BOCHS_DISPI_YRES] > BOCHS_DISPI_MAX_YRES ||
        r[BOCHS_DISPI_BPP] > BOCHS_DISPI_MAX_BPP)
        return "mode registers out of range";
    if (t->byte_order != BOCHS_BYTE_LE && t->byte_order != BOCHS_BYTE_BE)
        return "unknown byte order";
    return NULL;
}

static const struct state_field bochs_fields[] = {
    STATE_STRUCT(struct bochs_display, pci, &pci_device_state),
    STATE_UINT_ARRAY(struct bochs_display, regs, 2, UINT64_MAX),
    STATE_U32(struct bochs_display, byte_order),
};
static const struct state_desc bochs_desc =
    STATE_DESC(struct bochs_display, bochs_fields, bochs_check);

void bochs_display_save(struct bochs_display *d, struct state_writer *w)
{
    state_save_section(w, "bochs-display", BOCHS_STATE_VERSION, &bochs_desc, d, NULL);
}

int bochs_display_load(struct bochs_display *d, struct state_reader *r)
{
    int rc = state_load_section(r, "bochs-display", BOCHS_STATE_VERSION, &bochs_desc, d, NULL);
    if (rc == 0 && state_committing(r)) {
        /* Derived values stay ours; the BARs follow the loaded config space. */
        d->regs[BOCHS_DISPI_ID] = 0;
        d->regs[BOCHS_DISPI_VIDEO_MEMORY_64K] = 0;
        pci_device_state_loaded(&d->pci);
        bochs_sync_alias(d);
        d->generation++;
    }
    return rc;
}
