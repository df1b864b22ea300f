/* test_pci.c — the host bridge's configuration mechanism #1 and the device model, driven the way
 * Linux's PCI core does: type-1 probe, scanning slots, BAR sizing with all-ones writes, BAR
 * placement and decode enabling (I/O and 32/64-bit memory) observed through bus dispatch, the
 * capability list, INTx with the swizzle and INTx-disable, MSI-X table/PBA with masking,
 * firmware-style BAR assignment, and a save/load round trip. */
#include "check.h"
#include "hw/pci.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static struct bus bus;
static struct pci_host *host;
static int line_level[4];
static unsigned nmsi;
static uint64_t msi_addr;
static uint32_t msi_data;

static void line_set(void *opaque, unsigned pin, int level)
{
    line_level[pin] = level;
}
static void msi_cb(void *opaque, uint64_t addr, uint32_t data)
{
    nmsi++;
    msi_addr = addr;
    msi_data = data;
}

/* A test function: BAR handler echoes the BAR number and offset. */
struct fn {
    struct pci_device pci;
    uint64_t last_off;
    int last_bar;
};
static uint64_t fn_read(void *opaque, uint64_t off, unsigned size)
{
    struct fn *f = opaque;
    f->last_off = off;
    return 0xab00 + off;
}
static void fn_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct fn *f = opaque;
    f->last_off = off;
}
static const struct io_ops fn_ops = {fn_read, fn_write};
static uint64_t fn2_read(void *opaque, uint64_t off, unsigned size)
{
    struct fn *f = opaque;
    if (off < 0x800) return pci_msix_table_read(&f->pci, off, size);
    return pci_msix_pba_read(&f->pci, off - 0x800, size);
}
static void fn2_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct fn *f = opaque;
    if (off < 0x800) pci_msix_table_write(&f->pci, off, v, size);
}
static const struct io_ops fn2_ops = {fn2_read, fn2_write};

static void mk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct irq_line lines[4];
    for (unsigned k = 0; k < 4; k++)
        lines[k] = (struct irq_line){line_set, NULL, k};
    static const uint8_t gsi[4] = {16, 17, 18, 19};
    host = pci_host_create(&bus, (struct msi_sink){msi_cb, NULL}, lines, gsi);
    CHECK(host != NULL);
    nmsi = 0;
}
static void fn_init(struct fn *f)
{
    pci_device_init(&f->pci, "testfn", 0x1af4, 0x1041, 0x020000, 1, NULL, f);
    pci_device_set_subsystem(&f->pci, 0x1af4, 0x0001);
    pci_device_set_interrupt_pin(&f->pci, 1);
    CHECK_EQ(pci_device_add_bar(&f->pci, 0, PCI_BAR_MEM32, 0x1000, false, &fn_ops, f), 0);
    CHECK_EQ(pci_device_add_bar(&f->pci, 1, PCI_BAR_IO, 32, false, &fn_ops, f), 0);
    CHECK_EQ(pci_device_add_bar(&f->pci, 2, PCI_BAR_MEM64, 0x4000, true, &fn2_ops, f), 0);
    CHECK(pci_device_add_bar(&f->pci, 3, PCI_BAR_MEM32, 0x1000, false, &fn_ops, f) != 0);
    CHECK(pci_device_add_bar(&f->pci, 4, PCI_BAR_MEM32, 0x1001, false, &fn_ops, f) != 0);
    CHECK_EQ(pci_device_add_capability(&f->pci, PCI_CAP_ID_VNDR, 16), 0x40);
    CHECK_EQ(pci_msix_init(&f->pci, 4, 2, 0, 2, 0x800), 0x50);
}
static void done(void)
{
    pci_host_destroy(host);
    bus_destroy(&bus);
}

static uint32_t cfg_read(unsigned slot, unsigned reg, unsigned size)
{
    bus_pio_write(&bus, 0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc), 4);
    return (uint32_t)bus_pio_read(&bus, (uint16_t)(0xcfc + (reg & 3)), size);
}
static void cfg_write(unsigned slot, unsigned reg, uint32_t v, unsigned size)
{
    bus_pio_write(&bus, 0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc), 4);
    bus_pio_write(&bus, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

static void test_host_probe(void)
{
    mk();
    bus_pio_write(&bus, 0xcf8, 0x80000000, 4);
    CHECK_EQ(bus_pio_read(&bus, 0xcf8, 4), 0x80000000);
    CHECK_EQ(cfg_read(0, 0, 4), 0x29c08086);
    CHECK_EQ(cfg_read(0, 0x08, 4) >> 8, 0x060000);
    CHECK_EQ(cfg_read(0, 0x0e, 1), 0);
    CHECK_EQ(cfg_read(0, 0x02, 2), 0x29c0);
    CHECK_EQ(cfg_read(0, 0x03, 1), 0x29);
    CHECK_EQ(cfg_read(5, 0, 4), 0xffffffff);
    bus_pio_write(&bus, 0xcf8, 0x80000100, 4); /* function 1 */
    CHECK_EQ(bus_pio_read(&bus, 0xcfc, 4), 0xffffffff);
    bus_pio_write(&bus, 0xcf8, 0x80010000, 4); /* bus 1 */
    CHECK_EQ(bus_pio_read(&bus, 0xcfc, 4), 0xffffffff);
    bus_pio_write(&bus, 0xcf8, 0x00000000, 4); /* disabled */
    CHECK_EQ(bus_pio_read(&bus, 0xcfc, 4), 0xffffffff);
    /* read-only identity */
    cfg_write(0, 0, 0x12345678, 4);
    CHECK_EQ(cfg_read(0, 0, 4), 0x29c08086);
    done();
}

static void test_bars(void)
{
    mk();
    static struct fn f;
    fn_init(&f);
    CHECK_EQ(pci_host_register(host, &f.pci, 3), 3);
    CHECK_EQ(cfg_read(3, 0, 4), 0x10411af4);
    CHECK_EQ(cfg_read(3, 0x2c, 4), 0x00011af4);
    CHECK_EQ(cfg_read(3, 0x3c, 2), 0x0100 | 19); /* INTA of slot 3: line 3, GSI 19 */
    /* sizing */
    cfg_write(3, 0x10, 0xffffffff, 4);
    CHECK_EQ(cfg_read(3, 0x10, 4), 0xfffff000);
    cfg_write(3, 0x14, 0xffffffff, 4);
    CHECK_EQ(cfg_read(3, 0x14, 4), 0x0000ffe1);
    cfg_write(3, 0x18, 0xffffffff, 4);
    cfg_write(3, 0x1c, 0xffffffff, 4);
    CHECK_EQ(cfg_read(3, 0x18, 4), 0xffffc00c);
    CHECK_EQ(cfg_read(3, 0x1c, 4), 0xffffffff);
    CHECK_EQ(cfg_read(3, 0x20, 4), 0);
    /* placement; nothing decoded until the command register says so */
    cfg_write(3, 0x10, 0xc0000000, 4);
    cfg_write(3, 0x14, 0x2000, 4);
    cfg_write(3, 0x18, 0xc0004000, 4);
    cfg_write(3, 0x1c, 0, 4);
    CHECK_EQ(bus_mmio_read(&bus, 0xc0000010, 4), 0xffffffff);
    CHECK_EQ(bus_pio_read(&bus, 0x2004, 1), 0xff);
    cfg_write(3, 0x04, PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(bus_mmio_read(&bus, 0xc0000010, 4), 0xab10);
    CHECK_EQ(bus_pio_read(&bus, 0x2004, 1), 0xff);
    cfg_write(3, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
    CHECK_EQ(bus_pio_read(&bus, 0x2004, 2), 0xab04);
    /* move BAR0 and BAR1 while decoding */
    cfg_write(3, 0x10, 0xc0010000, 4);
    cfg_write(3, 0x14, 0x3000, 4);
    CHECK_EQ(bus_mmio_read(&bus, 0xc0000010, 4), 0xffffffff);
    CHECK_EQ(bus_mmio_read(&bus, 0xc0010020, 4), 0xab20);
    CHECK_EQ(bus_pio_read(&bus, 0x2004, 1), 0xff);
    CHECK_EQ(bus_pio_read(&bus, 0x3008, 2), 0xab08);
    /* a BAR placed over another device is left undecoded, and the other keeps working */
    cfg_write(3, 0x14, 0x0cf8, 4);
    CHECK_EQ(bus_pio_read(&bus, 0x3008, 2), 0xffff);
    CHECK_EQ(cfg_read(3, 0, 4), 0x10411af4);
    /* disable memory decoding */
    cfg_write(3, 0x04, 0, 2);
    CHECK_EQ(bus_mmio_read(&bus, 0xc0010020, 4), 0xffffffff);
    pci_device_destroy(&f.pci);
    CHECK_EQ(cfg_read(3, 0, 4), 0xffffffff);
    done();
}

static void test_caps_intx(void)
{
    mk();
    static struct fn f;
    fn_init(&f);
    CHECK_EQ(pci_host_register(host, &f.pci, -1), 1);
    CHECK(cfg_read(1, 0x06, 2) & PCI_STATUS_CAP_LIST);
    CHECK_EQ(cfg_read(1, 0x34, 1), 0x40);
    CHECK_EQ(cfg_read(1, 0x40, 2), 0x5009); /* vendor cap, next 0x50 */
    CHECK_EQ(cfg_read(1, 0x50, 4), 0x00030011);
    CHECK_EQ(cfg_read(1, 0x54, 4), 2);
    CHECK_EQ(cfg_read(1, 0x58, 4), 0x802);
    /* INTA of slot 1 -> line 1 */
    pci_device_set_irq(&f.pci, 1);
    CHECK_EQ(line_level[1], 1);
    CHECK(cfg_read(1, 0x06, 2) & PCI_STATUS_INTERRUPT);
    cfg_write(1, 0x04, PCI_COMMAND_INTX_DISABLE, 2);
    CHECK_EQ(line_level[1], 0);
    CHECK(cfg_read(1, 0x06, 2) & PCI_STATUS_INTERRUPT);
    cfg_write(1, 0x04, 0, 2);
    CHECK_EQ(line_level[1], 1);
    /* a second function sharing the line: the line stays up until both drop */
    static struct fn g;
    fn_init(&g);
    CHECK_EQ(pci_host_register(host, &g.pci, 5), 5); /* INTA of slot 5 -> line 1 */
    CHECK_EQ(pci_host_register(host, &g.pci, 6), -1);
    pci_device_set_irq(&g.pci, 1);
    pci_device_set_irq(&f.pci, 0);
    CHECK_EQ(line_level[1], 1);
    pci_device_set_irq(&g.pci, 0);
    CHECK_EQ(line_level[1], 0);
    done();
}

static void test_msix(void)
{
    mk();
    static struct fn f;
    fn_init(&f);
    CHECK_EQ(pci_host_register(host, &f.pci, 2), 2);
    cfg_write(2, 0x18, 0xc0008000, 4);
    cfg_write(2, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    CHECK(!pci_msix_notify(&f.pci, 1)); /* not enabled */
    cfg_write(2, 0x52, PCI_MSIX_ENABLE, 2);
    CHECK(pci_msix_enabled(&f.pci));
    uint64_t e1 = 0xc0008000 + 16;
    bus_mmio_write(&bus, e1, 0xfee00000, 4);
    bus_mmio_write(&bus, e1 + 4, 0, 4);
    bus_mmio_write(&bus, e1 + 8, 0x4062, 4);
    CHECK_EQ(bus_mmio_read(&bus, e1 + 12, 4), 1); /* masked at reset */
    CHECK(pci_msix_notify(&f.pci, 1));
    CHECK_EQ(nmsi, 0);
    CHECK_EQ(bus_mmio_read(&bus, 0xc0008800, 8), 2); /* PBA bit 1 */
    bus_mmio_write(&bus, e1 + 12, 0, 4);             /* unmask: pending delivered */
    CHECK_EQ(nmsi, 1);
    CHECK_EQ(msi_addr, 0xfee00000);
    CHECK_EQ(msi_data, 0x4062);
    CHECK_EQ(bus_mmio_read(&bus, 0xc0008800, 8), 0);
    CHECK(pci_msix_notify(&f.pci, 1));
    CHECK_EQ(nmsi, 2);
    cfg_write(2, 0x52, PCI_MSIX_ENABLE | PCI_MSIX_MASKALL, 2);
    CHECK(pci_msix_notify(&f.pci, 1));
    CHECK_EQ(nmsi, 2);
    cfg_write(2, 0x52, PCI_MSIX_ENABLE, 2);
    CHECK_EQ(nmsi, 3);
    CHECK(!pci_msix_notify(&f.pci, 4));                   /* out of range */
    CHECK_EQ(bus_mmio_read(&bus, 0xc0008000 + 64, 4), 0); /* past the table */
    bus_mmio_write(&bus, 0xc0008000 + 60, 0xffffffff, 8); /* straddles the end: dropped */
    CHECK_EQ(bus_mmio_read(&bus, 0xc0008000 + 60, 4), 1);
    done();
}

static void test_assign_and_save(void)
{
    mk();
    static struct fn f, g;
    fn_init(&f);
    fn_init(&g);
    CHECK_EQ(pci_host_register(host, &f.pci, 1), 1);
    CHECK_EQ(pci_host_register(host, &g.pci, 2), 2);
    pci_host_assign_bars(host);
    for (unsigned s = 1; s <= 2; s++) {
        uint32_t b0 = cfg_read(s, 0x10, 4), b1 = cfg_read(s, 0x14, 4) & ~3u;
        uint32_t b2 = cfg_read(s, 0x18, 4) & ~15u;
        CHECK(b0 >= PCI_MMIO_WINDOW_BASE && (b0 & 0xfff) == 0);
        CHECK(b2 >= PCI_MMIO_WINDOW_BASE && (b2 & 0x3fff) == 0);
        CHECK(b1 >= PCI_IO_WINDOW_BASE && (b1 & 31) == 0);
        CHECK_EQ(cfg_read(s, 0x04, 2), 7);
        CHECK_EQ(bus_mmio_read(&bus, b0 + 8, 4), 0xab08);
        CHECK_EQ(bus_pio_read(&bus, (uint16_t)(b1 + 2), 2), 0xab02);
    }
    CHECK(cfg_read(1, 0x10, 4) != cfg_read(2, 0x10, 4));
    uint32_t bar0 = cfg_read(1, 0x10, 4);
    cfg_write(1, 0x52, PCI_MSIX_ENABLE, 2);
    cfg_write(1, 0x3c, 0x0b, 1);
    struct state_writer w;
    state_writer_init(&w);
    pci_host_save(host, &w);
    state_section_begin(&w, "testfn", 1);
    pci_device_save(&f.pci, &w);
    state_section_end(&w);
    CHECK(!w.error);
    done();

    mk();
    fn_init(&f);
    CHECK_EQ(pci_host_register(host, &f.pci, 1), 1);
    struct state_reader r;
    uint32_t version;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(pci_host_load(host, &r), 0);
    CHECK(state_section_find(&r, "testfn", &version));
    CHECK_EQ(pci_device_load(&f.pci, &r), 0);
    CHECK_EQ(cfg_read(1, 0x10, 4), bar0);
    CHECK_EQ(cfg_read(1, 0x3c, 1), 0x0b);
    CHECK(pci_msix_enabled(&f.pci));
    CHECK_EQ(bus_mmio_read(&bus, bar0 + 4, 4), 0xab04); /* remapped on load */
    state_writer_free(&w);
    done();
}

static unsigned resets;
static void on_reset(void *opaque)
{
    (void)opaque;
    resets++;
}

/* 0xCF9: RST_CPU going 0 -> 1 resets (firmware writes 0x02 then 0x06); other writes, wider
 * accesses and a write without a reset handler do not; CONFIG_ADDRESS is untouched. */
static void test_reset_control(void)
{
    mk();
    bus_pio_write(&bus, 0xcf8, 0x80000000, 4);
    bus_pio_write(&bus, 0xcf9, 0x06, 1); /* no handler yet: nothing */
    bus_pio_write(&bus, 0xcf9, 0x00, 1);
    pci_host_set_reset(host, on_reset, NULL);
    bus_pio_write(&bus, 0xcf9, 0x02, 1);
    CHECK_EQ(resets, 0);
    CHECK_EQ(bus_pio_read(&bus, 0xcf9, 1), 0x02);
    bus_pio_write(&bus, 0xcf9, 0x06, 1);
    CHECK_EQ(resets, 1);
    bus_pio_write(&bus, 0xcf9, 0x04, 2); /* not a byte access: ignored */
    CHECK_EQ(resets, 1);
    bus_pio_write(&bus, 0xcf9, 0x04, 1); /* a fresh edge after the reset cleared the bit */
    CHECK_EQ(resets, 2);
    CHECK_EQ(bus_pio_read(&bus, 0xcf8, 4), 0x80000000);
    pci_host_destroy(host);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_host_probe);
    RUN(test_bars);
    RUN(test_caps_intx);
    RUN(test_msix);
    RUN(test_assign_and_save);
    RUN(test_reset_control);
    return check_done();
}
