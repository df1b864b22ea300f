/* test_bochs_display.c — the bochs-display PCI function (hw/bochs_display.h) the way bochs-drm
 * and the board use it: identity and BAR sizing through configuration mechanism #1, the video
 * memory shown at BAR0 as RAM (the bus alias follows BAR0 moves and decode enabling, never lands
 * on RAM), the DISPI registers with their bounds, the QEMU extended registers, the EDID block,
 * the scanout the registers describe (refused when it leaves video memory), a save/load round
 * trip, hostile register traffic, and the framebuffer view over a scanout (lfb_create_rows). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hw/bochs_display.h"
#include "hw/lfb.h"
#include "hw/pci.h"
#include "vessel/bus.h"
#include "vessel/state.h"

#define RAM       (64ull << 20)
#define VRAM_GPA  (32ull << 20)
#define VRAM_SIZE (16ull << 20)
#define FB_BAR    0xC0000000ull
#define MMIO_BAR  0xC1000000ull

static struct bus bus;
static struct pci_host *host;
static struct bochs_display *dev;
static unsigned flushes;

static void line_set(void *opaque, unsigned pin, int level)
{
    (void)opaque, (void)pin, (void)level;
}
static void msi_cb(void *opaque, uint64_t addr, uint32_t data)
{
    (void)opaque, (void)addr, (void)data;
}
static void flush_cb(void *opaque)
{
    (void)opaque;
    flushes++;
}

static void mk(void)
{
    CHECK_EQ(bus_init(&bus, RAM), 0);
    struct irq_line lines[4];
    for (unsigned k = 0; k < 4; k++)
        lines[k] = (struct irq_line){line_set, NULL, k};
    static const uint8_t gsi[4] = {16, 17, 18, 19};
    host = pci_host_create(&bus, (struct msi_sink){msi_cb, NULL}, lines, gsi);
    struct bochs_display_config c = {VRAM_GPA, VRAM_SIZE, 1024, 768, flush_cb, NULL};
    dev = bochs_display_create(host, &bus, &c);
    CHECK(dev != NULL);
    flushes = 0;
}
static void done(void)
{
    bochs_display_destroy(dev);
    pci_host_destroy(host);
    bus_destroy(&bus);
}

/* The device is the first function registered: slot 1. */
static uint32_t cfg_read(unsigned reg, unsigned size)
{
    bus_pio_write(&bus, 0xcf8, 0x80000000u | 1u << 11 | (reg & 0xfc), 4);
    return (uint32_t)bus_pio_read(&bus, (uint16_t)(0xcfc + (reg & 3)), size);
}
static void cfg_write(unsigned reg, uint32_t v, unsigned size)
{
    bus_pio_write(&bus, 0xcf8, 0x80000000u | 1u << 11 | (reg & 0xfc), 4);
    bus_pio_write(&bus, (uint16_t)(0xcfc + (reg & 3)), v, size);
}
static uint16_t dispi_read(unsigned idx)
{
    return (uint16_t)bus_mmio_read(&bus, MMIO_BAR + BOCHS_DISPI + 2 * idx, 2);
}
static void dispi_write(unsigned idx, uint16_t v)
{
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_DISPI + 2 * idx, v, 2);
}

static void test_identity_and_bars(void)
{
    mk();
    CHECK_EQ(cfg_read(0, 4), 0x11111234);
    CHECK_EQ(cfg_read(0x08, 4) >> 8, 0x038000);
    CHECK_EQ(cfg_read(0x08, 1), 2);
    CHECK_EQ(cfg_read(0x2c, 4), 0x11001af4);
    /* BAR sizing as Linux does it: all ones, read back, restore. */
    cfg_write(0x10, 0xffffffff, 4);
    CHECK_EQ(cfg_read(0x10, 4), (uint32_t) ~(VRAM_SIZE - 1) | 8); /* 32-bit, prefetchable */
    cfg_write(0x18, 0xffffffff, 4);
    CHECK_EQ(cfg_read(0x18, 4), 0xfffff000);
    CHECK_EQ(cfg_read(0x14, 4), 0); /* BAR1 unused */
    /* Nothing decoded before memory decoding is on. */
    cfg_write(0x10, (uint32_t)FB_BAR, 4);
    cfg_write(0x18, (uint32_t)MMIO_BAR, 4);
    CHECK(bus_ram_ptr(&bus, FB_BAR, 1) == NULL);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_DISPI, 2), 0xffff);
    cfg_write(0x04, PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(dispi_read(BOCHS_DISPI_ID), BOCHS_DISPI_ID5);
    CHECK_EQ(dispi_read(BOCHS_DISPI_VIDEO_MEMORY_64K), VRAM_SIZE >> 16);
    done();
}

static void test_vram_alias(void)
{
    mk();
    uint8_t *vram = bus_ram_ptr(&bus, VRAM_GPA, VRAM_SIZE);
    bochs_display_firmware_init(dev, FB_BAR, MMIO_BAR);
    CHECK(flushes > 0);
    /* BAR0 is RAM: the same host bytes as the reserved region, whole, and no further. */
    CHECK(bus_ram_ptr(&bus, FB_BAR, VRAM_SIZE) == vram);
    CHECK(bus_ram_ptr(&bus, FB_BAR, VRAM_SIZE + 1) == NULL);
    CHECK_EQ(bus_ram_offset(&bus, FB_BAR + 0x1234), VRAM_GPA + 0x1234);
    memset(bus.page_flags, 0, RAM >> 12);
    uint32_t px = 0x00abcdef;
    CHECK(bus_dma_write(&bus, FB_BAR + 0x5000, &px, 4));
    CHECK_EQ(*(uint32_t *)(vram + 0x5000), 0x00abcdef);
    CHECK(bus.page_flags[(VRAM_GPA + 0x5000) >> 12] & BUS_PAGE_DIRTY_FB);
    /* A move: the alias follows, the old address is nothing. */
    unsigned f0 = flushes;
    cfg_write(0x10, 0xD0000000u, 4);
    CHECK(flushes > f0);
    CHECK(bus_ram_ptr(&bus, FB_BAR, 1) == NULL);
    CHECK(bus_ram_ptr(&bus, 0xD0000000ull + 0x5000, 4) == vram + 0x5000);
    /* Decoding off: gone. */
    cfg_write(0x04, 0, 2);
    CHECK(bus_ram_ptr(&bus, 0xD0000000ull, 1) == NULL);
    /* Over RAM: refused (RAM keeps its meaning), served as MMIO instead. */
    cfg_write(0x10, 0x01000000u, 4);
    cfg_write(0x04, PCI_COMMAND_MEMORY, 2);
    CHECK(bus_ram_ptr(&bus, 0x01000000u, 1) == bus.ram + 0x01000000u);
    CHECK_EQ(bus.alias_len, 0);
    /* The bus refuses bad aliases by itself too. */
    CHECK(bus_set_ram_alias(&bus, 0xE0000800ull, 0x1000, 0) < 0);            /* unaligned */
    CHECK(bus_set_ram_alias(&bus, 0xE0000000ull, 0x2000, RAM - 0x1000) < 0); /* past RAM */
    CHECK(bus_set_ram_alias(&bus, 0x0ull, 0x1000, 0) < 0);                   /* on RAM */
    done();
}

static void test_dispi_registers(void)
{
    mk();
    bochs_display_firmware_init(dev, FB_BAR, MMIO_BAR);
    struct bochs_scanout s;
    CHECK(bochs_display_scanout(dev, &s));
    CHECK(s.width == 1024 && s.height == 768 && s.stride == 4096 && s.offset == 0);
    /* bochs-drm's mode set (bochs_hw_setmode, then setbase for a buffer at 4 MiB). */
    uint64_t g0 = bochs_display_generation(dev);
    dispi_write(BOCHS_DISPI_ENABLE, 0);
    CHECK(!bochs_display_scanout(dev, &s));
    dispi_write(BOCHS_DISPI_BPP, 32);
    dispi_write(BOCHS_DISPI_XRES, 800);
    dispi_write(BOCHS_DISPI_YRES, 600);
    dispi_write(BOCHS_DISPI_BANK, 0);
    dispi_write(BOCHS_DISPI_VIRT_WIDTH, 800);
    dispi_write(BOCHS_DISPI_VIRT_HEIGHT, 600);
    dispi_write(BOCHS_DISPI_X_OFFSET, 0);
    dispi_write(BOCHS_DISPI_Y_OFFSET, 0);
    dispi_write(BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
    dispi_write(BOCHS_DISPI_VIRT_WIDTH, 800);
    dispi_write(BOCHS_DISPI_X_OFFSET, 0);
    dispi_write(BOCHS_DISPI_Y_OFFSET, (4u << 20) / 3200);
    CHECK(bochs_display_generation(dev) > g0);
    CHECK(bochs_display_scanout(dev, &s));
    CHECK(s.width == 800 && s.height == 600 && s.stride == 3200);
    CHECK_EQ(s.offset, (uint64_t)((4u << 20) / 3200) * 3200);
    CHECK_EQ(dispi_read(BOCHS_DISPI_XRES), 800);
    /* Out of range or read-only: dropped. */
    dispi_write(BOCHS_DISPI_XRES, BOCHS_DISPI_MAX_XRES + 1);
    dispi_write(BOCHS_DISPI_YRES, 0xffff);
    dispi_write(BOCHS_DISPI_BPP, 7);
    dispi_write(BOCHS_DISPI_ID, 0xB0C0);
    dispi_write(BOCHS_DISPI_VIDEO_MEMORY_64K, 1);
    dispi_write(BOCHS_DISPI_NREGS, 5); /* past the last register */
    CHECK_EQ(dispi_read(BOCHS_DISPI_XRES), 800);
    CHECK_EQ(dispi_read(BOCHS_DISPI_YRES), 600);
    CHECK_EQ(dispi_read(BOCHS_DISPI_BPP), 32);
    CHECK_EQ(dispi_read(BOCHS_DISPI_ID), BOCHS_DISPI_ID5);
    CHECK_EQ(dispi_read(BOCHS_DISPI_VIDEO_MEMORY_64K), VRAM_SIZE >> 16);
    CHECK_EQ(dispi_read(BOCHS_DISPI_NREGS), 0);
    dispi_write(BOCHS_DISPI_BANK, 0xffff);
    CHECK_EQ(dispi_read(BOCHS_DISPI_BANK), (VRAM_SIZE >> 16) - 1);
    /* Only aligned 16-bit accesses reach the registers. */
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_DISPI + 2 * BOCHS_DISPI_XRES, 640, 4);
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_DISPI + 2 * BOCHS_DISPI_XRES + 1, 2, 1);
    CHECK_EQ(dispi_read(BOCHS_DISPI_XRES), 800);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_DISPI + 1, 2), 0);
    /* GETCAPS: the maxima. */
    dispi_write(BOCHS_DISPI_ENABLE, BOCHS_DISPI_GETCAPS);
    CHECK_EQ(dispi_read(BOCHS_DISPI_XRES), BOCHS_DISPI_MAX_XRES);
    CHECK_EQ(dispi_read(BOCHS_DISPI_BPP), 32);
    dispi_write(BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
    /* A scanout leaving video memory is not shown: panned past the end, a huge virtual
     * width, another depth, a tiny mode. */
    dispi_write(BOCHS_DISPI_Y_OFFSET, 0xffff);
    CHECK(!bochs_display_scanout(dev, &s));
    dispi_write(BOCHS_DISPI_Y_OFFSET, 0);
    dispi_write(BOCHS_DISPI_VIRT_WIDTH, 0xffff);
    CHECK(!bochs_display_scanout(dev, &s));
    dispi_write(BOCHS_DISPI_VIRT_WIDTH, 800);
    CHECK(bochs_display_scanout(dev, &s));
    dispi_write(BOCHS_DISPI_BPP, 16);
    CHECK(!bochs_display_scanout(dev, &s));
    dispi_write(BOCHS_DISPI_BPP, 32);
    dispi_write(BOCHS_DISPI_XRES, 16);
    CHECK(!bochs_display_scanout(dev, &s));
    dispi_write(BOCHS_DISPI_XRES, BOCHS_DISPI_MAX_XRES);
    dispi_write(BOCHS_DISPI_YRES, BOCHS_DISPI_MAX_YRES);
    CHECK(!bochs_display_scanout(dev, &s));
    dispi_write(BOCHS_DISPI_XRES, 800);
    dispi_write(BOCHS_DISPI_YRES, 600);
    CHECK(bochs_display_scanout(dev, &s));
    done();
}

static void test_qext_and_edid(void)
{
    mk();
    bochs_display_firmware_init(dev, FB_BAR, MMIO_BAR);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_QEXT, 4), BOCHS_QEXT_SIZE);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_QEXT + 4, 4), BOCHS_BYTE_LE);
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_QEXT + 4, BOCHS_BYTE_BE, 4);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_QEXT + 4, 4), BOCHS_BYTE_BE);
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_QEXT + 4, 0x12345678, 4);
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_QEXT, 99, 4);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_QEXT + 4, 4), BOCHS_BYTE_BE);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_QEXT, 4), BOCHS_QEXT_SIZE);
    /* EDID: header, checksum, the preferred mode is the configured one. */
    uint8_t e[128];
    for (unsigned k = 0; k < 128; k++)
        e[k] = (uint8_t)bus_mmio_read(&bus, MMIO_BAR + BOCHS_EDID + k, 1);
    static const uint8_t hdr[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
    CHECK(!memcmp(e, hdr, 8));
    uint8_t sum = 0;
    for (unsigned k = 0; k < 128; k++)
        sum = (uint8_t)(sum + e[k]);
    CHECK_EQ(sum, 0);
    CHECK_EQ(e[54 + 2] | (e[54 + 4] >> 4) << 8, 1024);
    CHECK_EQ(e[54 + 5] | (e[54 + 7] >> 4) << 8, 768);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR, 8), 0x00ffffffffffff00ull);
    bus_mmio_write(&bus, MMIO_BAR, 0, 8); /* read only */
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR, 1), 0);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + 1, 1), 0xff);
    /* The VGA ports are absent. */
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_VGA, 1), 0);
    done();
}

static void test_vram_for(void)
{
    CHECK_EQ(bochs_display_vram_for(1024, 768), 16u << 20);
    CHECK_EQ(bochs_display_vram_for(1920, 1080), 16u << 20);
    CHECK_EQ(bochs_display_vram_for(2560, 1600), 32u << 20);
    CHECK_EQ(bochs_display_vram_for(4096, 2160), 128u << 20);
    CHECK_EQ(bochs_display_vram_for(16000, 12000), 0);
    CHECK_EQ(bochs_display_vram_for(0, 768), 0);
    /* Out-of-range configurations are refused. */
    CHECK_EQ(bus_init(&bus, RAM), 0);
    struct irq_line lines[4] = {0};
    static const uint8_t gsi[4] = {16, 17, 18, 19};
    host = pci_host_create(&bus, (struct msi_sink){msi_cb, NULL}, lines, gsi);
    struct bochs_display_config c = {VRAM_GPA, VRAM_SIZE + 4096, 1024, 768, NULL, NULL};
    CHECK(bochs_display_create(host, &bus, &c) == NULL); /* not a power of two */
    c = (struct bochs_display_config){RAM - (8u << 20), VRAM_SIZE, 1024, 768, NULL, NULL};
    CHECK(bochs_display_create(host, &bus, &c) == NULL); /* past RAM */
    c = (struct bochs_display_config){VRAM_GPA, VRAM_SIZE, 4096, 2160, NULL, NULL};
    CHECK(bochs_display_create(host, &bus, &c) == NULL); /* mode too big */
    pci_host_destroy(host);
    bus_destroy(&bus);
}

static void test_state_round_trip(void)
{
    mk();
    bochs_display_firmware_init(dev, FB_BAR, MMIO_BAR);
    dispi_write(BOCHS_DISPI_XRES, 800);
    dispi_write(BOCHS_DISPI_YRES, 600);
    dispi_write(BOCHS_DISPI_Y_OFFSET, 7);
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_QEXT + 4, BOCHS_BYTE_BE, 4);
    struct state_writer w;
    state_writer_init(&w);
    bochs_display_save(dev, &w);
    /* Change everything, then load. */
    dispi_write(BOCHS_DISPI_XRES, 640);
    dispi_write(BOCHS_DISPI_Y_OFFSET, 0);
    bus_mmio_write(&bus, MMIO_BAR + BOCHS_QEXT + 4, BOCHS_BYTE_LE, 4);
    cfg_write(0x10, 0xD0000000u, 4);
    CHECK(bus_ram_ptr(&bus, FB_BAR, 1) == NULL);
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    uint64_t g0 = bochs_display_generation(dev);
    CHECK_EQ(bochs_display_load(dev, &r), 0);
    CHECK(bochs_display_generation(dev) != g0);
    CHECK_EQ(dispi_read(BOCHS_DISPI_XRES), 800);
    CHECK_EQ(dispi_read(BOCHS_DISPI_Y_OFFSET), 7);
    CHECK_EQ(dispi_read(BOCHS_DISPI_ID), BOCHS_DISPI_ID5);
    CHECK_EQ(bus_mmio_read(&bus, MMIO_BAR + BOCHS_QEXT + 4, 4), BOCHS_BYTE_BE);
    CHECK(bus_ram_ptr(&bus, FB_BAR, 1) == bus_ram_ptr(&bus, VRAM_GPA, 1)); /* BAR0 back */
    CHECK(bus_ram_ptr(&bus, 0xD0000000ull, 1) == NULL);
    /* A corrupted byte order is refused and changes nothing. */
    size_t at = w.len - 4; /* the last field: byte order */
    memcpy(w.data + at, "\x01\x02\x03\x04", 4);
    CHECK(state_reader_init(&r, w.data, w.len));
    dispi_write(BOCHS_DISPI_XRES, 640);
    CHECK(bochs_display_load(dev, &r) != 0);
    CHECK_EQ(dispi_read(BOCHS_DISPI_XRES), 640);
    state_writer_free(&w);
    done();
}

/* Random register traffic: nothing breaks, and whatever the scanout says lies in video memory. */
static void test_hostile(void)
{
    mk();
    bochs_display_firmware_init(dev, FB_BAR, MMIO_BAR);
    srand(21);
    static const unsigned sizes[4] = {1, 2, 4, 8};
    for (unsigned k = 0; k < 200000; k++) {
        uint64_t off = (uint64_t)rand() % (BOCHS_MMIO_SIZE + 16);
        if (k & 1) off = BOCHS_DISPI + (off & 0x1f);
        uint64_t v = (uint64_t)rand() << 32 | (uint64_t)rand();
        if (k % 3 == 0) v &= 0xfff;
        unsigned size = sizes[rand() & 3];
        if (rand() & 1)
            bochs_display_mmio_write(dev, off, v, size);
        else
            (void)bochs_display_mmio_read(dev, off, size);
        struct bochs_scanout s;
        if (bochs_display_scanout(dev, &s)) {
            CHECK(s.stride >= s.width * 4);
            CHECK(s.offset + (uint64_t)s.stride * (s.height - 1) + s.width * 4ull <= VRAM_SIZE);
        }
    }
    done();
}

static unsigned nrect, rx, ry, rw, rh;
static void rect_cb(void *o, unsigned x, unsigned y, unsigned w, unsigned h)
{
    (void)o;
    nrect++;
    rx = x, ry = y, rw = w, rh = h;
}

/* A view over a scanout that starts inside a page and has padding after each row. */
static void test_lfb_rows(void)
{
    CHECK_EQ(bus_init(&bus, RAM), 0);
    uint64_t base = VRAM_GPA + 0x800;
    CHECK(lfb_create_rows(&bus, base, 100, 50, 399, NULL, NULL) == NULL);      /* stride < row */
    CHECK(lfb_create_rows(&bus, base, 100, 50, 402, NULL, NULL) == NULL);      /* unaligned */
    CHECK(lfb_create_rows(&bus, RAM - 100, 100, 50, 400, NULL, NULL) == NULL); /* past RAM */
    struct lfb *f = lfb_create_rows(&bus, base, 100, 50, 512, NULL, NULL);
    CHECK(f != NULL);
    CHECK_EQ(lfb_stride(f), 512);
    CHECK_EQ(lfb_collect(f, rect_cb, NULL), 0);
    uint32_t px = 0xffffff;
    CHECK(bus_dma_write(&bus, base + 20 * 512 + 7 * 4, &px, 4));
    nrect = 0;
    CHECK_EQ(lfb_collect(f, rect_cb, NULL), 1);
    CHECK(nrect == 1 && rx == 7 && ry == 20 && rw == 1 && rh == 1);
    /* The padding after a row is not a pixel. */
    CHECK(bus_dma_write(&bus, base + 30 * 512 + 450, &px, 4));
    nrect = 0;
    CHECK_EQ(lfb_collect(f, rect_cb, NULL), 0);
    lfb_destroy(f);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_identity_and_bars);
    RUN(test_vram_alias);
    RUN(test_dispi_registers);
    RUN(test_qext_and_edid);
    RUN(test_vram_for);
    RUN(test_state_round_trip);
    RUN(test_hostile);
    RUN(test_lfb_rows);
    return check_done();
}
