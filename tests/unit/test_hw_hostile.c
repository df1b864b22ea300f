/* test_hw_hostile.c — every platform device wired together as on the board (UART, PIT, RTC and
 * i8042 with its AUX mouse on IOAPIC pins, IOAPIC and PCI MSI-X into the LAPIC, kvmclock on RAM,
 * fw_cfg with DMA into RAM, the 8259 pair with random lines and acknowledges)
 * and driven by a hostile guest: seeded random port and MMIO accesses of every size at every offset
 * of every device, random MSR writes, timer updates at random times, and random or truncated state
 * streams handed to every loader. The monitor must not crash (ASan/UBSan runs catch memory
 * errors) and the observable invariants must hold. */
#include <stdlib.h>

#include "check.h"
#include "hw/fw_cfg.h"
#include "hw/i8042.h"
#include "hw/i8259.h"
#include "hw/ioapic.h"
#include "hw/kvmclock.h"
#include "hw/lapic.h"
#include "hw/pci.h"
#include "hw/pit.h"
#include "hw/rtc.h"
#include "hw/uart8250.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static uint64_t fake_now = 1000000000ull;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static uint64_t now_fn(void)
{
    return fake_now;
}
static uint64_t wall_fn(void)
{
    return 1700000000ull * 1000000000ull + fake_now;
}
static uint64_t tsc_fn(void *opaque)
{
    return fake_now * 3;
}

static struct bus bus;
static struct lapic *apic;
static struct ioapic *io;
static unsigned resets;
static void on_reset(void *opaque)
{
    resets++;
}
static void eoi_cb(void *opaque, uint8_t v)
{
    ioapic_eoi(io, v);
}

/* A PCI function with an MSI-X table in a 64-bit BAR and an I/O BAR. */
static struct pci_device fn;
static uint64_t fn_read(void *opaque, uint64_t off, unsigned size)
{
    if (off < 0x800) return pci_msix_table_read(&fn, off, size);
    if (off < 0x1000) return pci_msix_pba_read(&fn, off - 0x800, size);
    return 0;
}
static void fn_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    if (off < 0x800) pci_msix_table_write(&fn, off, v, size);
}
static const struct io_ops fn_ops = {fn_read, fn_write};

static const uint16_t ports[] = {0x3f8,
                                 0x40,
                                 0x61,
                                 0x70,
                                 0x60,
                                 0x64,
                                 0xcf8,
                                 0x1000,
                                 FW_CFG_PORT,
                                 I8259_MASTER_PORT,
                                 I8259_SLAVE_PORT,
                                 I8259_ELCR_PORT};
#define NPORTS (sizeof(ports) / sizeof(ports[0]))
static const uint64_t mmio[] = {LAPIC_BASE, IOAPIC_BASE, PCI_MMIO_WINDOW_BASE};

static void test_random_guest(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct lapic_config lc = {
        .now = now_fn, .read_tsc = tsc_fn, .tsc_hz = 3000000000ull, .eoi = eoi_cb};
    apic = lapic_create(&bus, &lc);
    io = ioapic_create(&bus, IOAPIC_BASE, lapic_msi_sink(apic));
    struct uart8250 *u =
        uart8250_create(&bus, 0x3f8, ioapic_irq_line(io, 4), (struct uart8250_sink){0}, "com1");
    struct pit *p = pit_create(&bus, ioapic_irq_line(io, 2), now_fn);
    struct rtc *r = rtc_create(&bus, ioapic_irq_line(io, 8), now_fn, wall_fn);
    struct i8042 *k = i8042_create(&bus, ioapic_irq_line(io, 1), on_reset, NULL);
    i8042_enable_aux(k, ioapic_irq_line(io, 12)); /* the mouse too (a board with a display) */
    struct kvmclock_config kc = {tsc_fn, NULL, 3000000000ull, now_fn, wall_fn};
    struct kvmclock *kv = kvmclock_create(&bus, &kc);
    struct irq_line lines[4];
    uint8_t gsi[4];
    for (unsigned l = 0; l < 4; l++) {
        gsi[l] = (uint8_t)(16 + l);
        lines[l] = ioapic_irq_line(io, gsi[l]);
    }
    struct pci_host *h = pci_host_create(&bus, lapic_msi_sink(apic), lines, gsi);
    struct fw_cfg *fc = fw_cfg_create(&bus, FW_CFG_PORT, 1 << 20, 1);
    char why[128];
    struct i8259 *pic = i8259_create(&bus, NULL);
    CHECK(pic != NULL);
    CHECK(fc && fw_cfg_add_file(fc, "opt/f", "0123456789", 10, why, sizeof(why)) == 0);
    CHECK(apic && io && u && p && r && k && kv && h);
    pci_device_init(&fn, "fn", 0x1af4, 0x1042, 0x010000, 1, NULL, NULL);
    pci_device_set_interrupt_pin(&fn, 1);
    CHECK_EQ(pci_device_add_bar(&fn, 0, PCI_BAR_MEM64, 0x4000, false, &fn_ops, NULL), 0);
    CHECK_EQ(pci_device_add_bar(&fn, 2, PCI_BAR_IO, 64, false, &fn_ops, NULL), 0);
    CHECK(pci_msix_init(&fn, 8, 0, 0, 0, 0x800) != 0);
    CHECK_EQ(pci_host_register(h, &fn, -1), 1);
    pci_host_assign_bars(h);

    static const uint32_t msrs[] = {MSR_IA32_APICBASE,       MSR_IA32_TSC_DEADLINE,
                                    MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW,
                                    MSR_KVM_SYSTEM_TIME,     MSR_KVM_WALL_CLOCK};
    /* A sane starting point, as Linux leaves it, so interrupts flow before chaos sets in. */
    bus_mmio_write(&bus, LAPIC_BASE + 0xf0, 0x1ff, 4);
    bus_mmio_write(&bus, LAPIC_BASE + 0x320, 0x20030, 4); /* periodic timer */
    bus_mmio_write(&bus, LAPIC_BASE + 0x380, 100000, 4);
    static const unsigned pins[] = {1, 2, 4, 8, 16, 17, 18, 19};
    for (unsigned j = 0; j < 8; j++) {
        bus_mmio_write(&bus, IOAPIC_BASE, 0x10 + 2 * pins[j], 4);
        bus_mmio_write(&bus, IOAPIC_BASE + 0x10, (pins[j] >= 16 ? 0xa000 : 0) | (0x40 + pins[j]),
                       4);
    }
    bus_pio_write(&bus, 0x43, 0x34, 1); /* PIT 1 kHz */
    bus_pio_write(&bus, 0x40, 0xa9, 1);
    bus_pio_write(&bus, 0x40, 0x04, 1);
    bus_pio_write(&bus, 0x3fc, 0x0b, 1); /* UART OUT2, IER all */
    bus_pio_write(&bus, 0x3f9, 0x0f, 1);
    unsigned acks = 0;
    for (int n = 0; n < 200000; n++) {
        uint64_t x = rnd(), v = rnd();
        unsigned size = 1u << (x & 3);
        switch ((x >> 2) % 8) {
        case 0:
        case 1:
        case 2: {
            uint16_t port = (uint16_t)(ports[(x >> 8) % NPORTS] + ((x >> 16) & 15));
            if ((x >> 20) & 1)
                bus_pio_write(&bus, port, v, size);
            else
                (void)bus_pio_read(&bus, port, size);
            break;
        }
        case 3:
        case 4: {
            uint64_t a = mmio[(x >> 8) % 3] + ((x >> 16) & 0xfff);
            if ((x >> 30) & 1)
                bus_mmio_write(&bus, a, v, size);
            else
                (void)bus_mmio_read(&bus, a, size);
            break;
        }
        case 5: {
            uint64_t val;
            uint32_t msr = msrs[(x >> 8) % 6];
            if ((x >> 12) & 1)
                (void)(lapic_msr_write(apic, msr, v) || kvmclock_msr_write(kv, msr, v & 0xfffff));
            else
                (void)(lapic_msr_read(apic, msr, &val) || kvmclock_msr_read(kv, msr, &val));
            break;
        }
        case 6: {
            fake_now += v % 3000000;
            lapic_update(apic, fake_now);
            pit_update(p, fake_now);
            rtc_update(r, fake_now);
            uint8_t in[4] = {1, 2, 3, 4};
            uart8250_receive(u, in, v & 3);
            pci_msix_notify(&fn, (unsigned)(v >> 8) % 10);
            pci_device_set_irq(&fn, (int)(v >> 16) & 1);
            struct irq_line pl = i8259_irq_line(pic, (unsigned)(v >> 24) % 17); /* 16: refused */
            irq_set(&pl, (int)(v >> 32) & 1);
            if (i8259_intr(pic)) (void)i8259_intack(pic);
            break;
        }
        default: {
            int vec = lapic_intc_ops.pending(apic);
            CHECK(vec >= -1 && vec <= 255);
            if (vec >= 0) {
                lapic_intc_ops.ack(apic, vec);
                acks++;
            }
            if (v & 1) bus_mmio_write(&bus, LAPIC_BASE + 0xb0, 0, 4);
            lapic_intc_ops.set_tpr(apic, (uint8_t)(v >> 8));
            break;
        }
        }
        /* Deadlines never lie in the distant past once updates have run. */
        if ((n & 1023) == 0) {
            lapic_update(apic, fake_now);
            pit_update(p, fake_now);
            rtc_update(r, fake_now);
            uint64_t d = lapic_next_deadline(apic);
            CHECK(d == UINT64_MAX || d > fake_now);
            d = pit_next_deadline(p);
            CHECK(d == UINT64_MAX || d > fake_now);
            d = rtc_next_deadline(r);
            CHECK(d == UINT64_MAX || d > fake_now);
        }
    }

    fprintf(stderr, "# %u acks\n", acks);
    CHECK(acks > 100); /* interrupts did flow through the IOAPIC/MSI paths into the LAPIC */

    /* State round trip of everything, then hostile streams. */
    struct state_writer w;
    state_writer_init(&w);
    lapic_save(apic, &w);
    ioapic_save(io, &w);
    uart8250_save(u, &w);
    pit_save(p, &w);
    rtc_save(r, &w);
    i8042_save(k, &w);
    kvmclock_save(kv, &w);
    pci_host_save(h, &w);
    fw_cfg_save(fc, &w);
    i8259_save(pic, &w);
    state_section_begin(&w, "fn", 1);
    pci_device_save(&fn, &w);
    state_section_end(&w);
    CHECK(!w.error);
    struct state_reader rd;
    uint32_t ver;
    CHECK(state_reader_init(&rd, w.data, w.len));
    CHECK_EQ(lapic_load(apic, &rd), 0);
    CHECK_EQ(ioapic_load(io, &rd), 0);
    CHECK_EQ(uart8250_load(u, &rd), 0);
    CHECK_EQ(pit_load(p, &rd), 0);
    CHECK_EQ(rtc_load(r, &rd), 0);
    CHECK_EQ(i8042_load(k, &rd), 0);
    CHECK_EQ(kvmclock_load(kv, &rd), 0);
    CHECK_EQ(pci_host_load(h, &rd), 0);
    CHECK_EQ(fw_cfg_load(fc, &rd), 0);
    CHECK_EQ(i8259_load(pic, &rd), 0);
    CHECK(state_section_find(&rd, "fn", &ver));
    CHECK_EQ(pci_device_load(&fn, &rd), 0);

    /* Corrupt payload bytes (headers intact) and truncations: loads may fail, never crash. */
    uint8_t *copy = malloc(w.len);
    for (int round = 0; round < 300; round++) {
        memcpy(copy, w.data, w.len);
        size_t len = w.len;
        if (round & 1) len = 12 + rnd() % (w.len - 12);
        for (int j = 0; j < 8; j++)
            copy[12 + rnd() % (w.len - 12)] = (uint8_t)rnd();
        if (!state_reader_init(&rd, copy, len)) continue;
        (void)lapic_load(apic, &rd);
        (void)ioapic_load(io, &rd);
        (void)uart8250_load(u, &rd);
        (void)pit_load(p, &rd);
        (void)rtc_load(r, &rd);
        (void)i8042_load(k, &rd);
        (void)kvmclock_load(kv, &rd);
        (void)pci_host_load(h, &rd);
        (void)fw_cfg_load(fc, &rd);
        (void)i8259_load(pic, &rd);
        if (state_section_find(&rd, "fn", &ver)) (void)pci_device_load(&fn, &rd);
        /* the devices still work afterwards */
        fake_now += 1000000;
        lapic_update(apic, fake_now);
        pit_update(p, fake_now);
        rtc_update(r, fake_now);
        (void)bus_pio_read(&bus, 0x3fd, 1);
        (void)bus_pio_read(&bus, 0x40, 1);
        (void)bus_pio_read(&bus, 0x71, 1);
        (void)bus_pio_read(&bus, FW_CFG_PORT + 1, 1);
        int vec = lapic_intc_ops.pending(apic);
        CHECK(vec >= -1 && vec <= 255);
    }
    free(copy);
    state_writer_free(&w);

    pci_device_destroy(&fn);
    pci_host_destroy(h);
    fw_cfg_destroy(fc);
    i8259_destroy(pic);
    kvmclock_destroy(kv);
    i8042_destroy(k);
    rtc_destroy(r);
    pit_destroy(p);
    uart8250_destroy(u);
    ioapic_destroy(io);
    lapic_destroy(apic);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_random_guest);
    return check_done();
}
