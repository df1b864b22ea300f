/* test_ioapic.c — the I/O APIC through IOREGSEL/IOWIN: identification, redirection entries,
 * edge pins (one message per rising edge, none while masked), level pins with remote IRR and
 * re-delivery on EOI (both through a real LAPIC's EOI broadcast and the EOI register), message
 * format (destination, vector, trigger), and a save/load round trip. */
#include "check.h"
#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static struct bus bus;
static struct ioapic *io;
static struct lapic *apic;
static unsigned nmsg;
static uint64_t last_addr;
static uint32_t last_data;

/* Record each message, then hand it to the LAPIC. */
static void tap_send(void *opaque, uint64_t addr, uint32_t data)
{
    nmsg++;
    last_addr = addr;
    last_data = data;
    lapic_msi(apic, addr, data);
}
static void eoi_cb(void *opaque, uint8_t vector)
{
    ioapic_eoi(io, vector);
}

static void mk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct lapic_config cfg = {.id = 0, .eoi = eoi_cb};
    apic = lapic_create(&bus, &cfg);
    io = ioapic_create(&bus, IOAPIC_BASE, (struct msi_sink){tap_send, NULL});
    CHECK(apic && io);
    nmsg = 0;
    bus_mmio_write(&bus, LAPIC_BASE + 0xf0, 0x1ff, 4);
}
static void done(void)
{
    ioapic_destroy(io);
    lapic_destroy(apic);
    bus_destroy(&bus);
}
static uint32_t rd(uint32_t idx)
{
    bus_mmio_write(&bus, IOAPIC_BASE, idx, 4);
    return (uint32_t)bus_mmio_read(&bus, IOAPIC_BASE + 0x10, 4);
}
static void wr(uint32_t idx, uint32_t v)
{
    bus_mmio_write(&bus, IOAPIC_BASE, idx, 4);
    bus_mmio_write(&bus, IOAPIC_BASE + 0x10, v, 4);
}
static void cpu_take(int vector)
{
    CHECK_EQ(lapic_intc_ops.pending(apic), vector);
    lapic_intc_ops.ack(apic, vector);
}
static void cpu_eoi(void)
{
    bus_mmio_write(&bus, LAPIC_BASE + 0xb0, 0, 4);
}

static void test_ident(void)
{
    mk();
    CHECK_EQ(rd(1), 0x170020);
    wr(0, 0x0a000000);
    CHECK_EQ(rd(0), 0x0a000000);
    CHECK_EQ(rd(0x10 + 2 * 5), 0x10000); /* masked at reset */
    wr(0x10 + 2 * 5, 0xffffffff);
    CHECK_EQ(rd(0x10 + 2 * 5), 0x1afff); /* no delivery status / remote IRR / reserved bits */
    wr(0x11 + 2 * 5, 0xff000000);
    CHECK_EQ(rd(0x11 + 2 * 5), 0xff000000);
    CHECK_EQ(rd(0x10 + 2 * 30), 0xffffffff); /* no such pin */
    done();
}

static void test_edge(void)
{
    mk();
    struct irq_line pin2 = ioapic_irq_line(io, 2);
    irq_pulse(&pin2); /* masked: lost */
    CHECK_EQ(nmsg, 0);
    wr(0x11 + 4, 0x00000000);
    wr(0x10 + 4, 0x30);
    irq_raise(&pin2);
    CHECK_EQ(nmsg, 1);
    CHECK_EQ(last_addr, 0xfee00000);
    CHECK_EQ(last_data & 0x80ff, 0x30);
    irq_raise(&pin2); /* no new edge */
    CHECK_EQ(nmsg, 1);
    irq_lower(&pin2);
    irq_raise(&pin2);
    CHECK_EQ(nmsg, 2);
    cpu_take(0x30);
    cpu_eoi();
    CHECK_EQ(nmsg, 2); /* edge: EOI does not re-deliver */
    done();
}

static void test_level(void)
{
    mk();
    /* pin 17: level, active low, logical destination 1 */
    bus_mmio_write(&bus, LAPIC_BASE + 0xd0, 0x01000000, 4);
    wr(0x11 + 2 * 17, 0x01000000);
    wr(0x10 + 2 * 17, 0xa000 | 0x800 | 0x41);
    ioapic_set_level(io, 17, 1);
    CHECK_EQ(nmsg, 1);
    CHECK_EQ(last_addr, 0xfee01004);
    CHECK_EQ(last_data & 0x80ff, 0x8041);
    CHECK(rd(0x10 + 2 * 17) & 0x4000); /* remote IRR */
    ioapic_set_level(io, 17, 1);
    CHECK_EQ(nmsg, 1); /* in service: no second message */
    cpu_take(0x41);
    cpu_eoi(); /* LAPIC broadcasts; the pin is still asserted: delivered again */
    CHECK_EQ(nmsg, 2);
    cpu_take(0x41);
    ioapic_set_level(io, 17, 0);
    cpu_eoi();
    CHECK_EQ(nmsg, 2);
    CHECK_EQ(rd(0x10 + 2 * 17) & 0x4000, 0);
    CHECK_EQ(lapic_intc_ops.pending(apic), -1);
    /* masked while asserted, then unmasked: fires on unmask */
    wr(0x10 + 2 * 17, 0x1a841);
    ioapic_set_level(io, 17, 1);
    CHECK_EQ(nmsg, 2);
    wr(0x10 + 2 * 17, 0xa841);
    CHECK_EQ(nmsg, 3);
    /* EOI through the IOAPIC's own EOI register */
    bus_mmio_write(&bus, IOAPIC_BASE + 0x40, 0x41, 4);
    CHECK_EQ(nmsg, 4);
    done();
}

static void test_save_load(void)
{
    mk();
    wr(0, 0x03000000);
    wr(0x10 + 2 * 4, 0x8051);
    wr(0x11 + 2 * 4, 0x02000000);
    ioapic_set_level(io, 4, 1);
    bus_mmio_write(&bus, IOAPIC_BASE, 0x18, 4);
    struct state_writer w;
    state_writer_init(&w);
    ioapic_save(io, &w);
    CHECK(!w.error);
    done();
    mk();
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(ioapic_load(io, &r), 0);
    CHECK_EQ(bus_mmio_read(&bus, IOAPIC_BASE, 4), 0x18);
    CHECK_EQ(rd(0), 0x03000000);
    CHECK_EQ(rd(0x10 + 2 * 4), 0xc051);
    CHECK_EQ(rd(0x11 + 2 * 4), 0x02000000);
    state_writer_free(&w);
    struct state_reader bad;
    static const uint8_t junk[12] = "VSLSTATE\1\0\0";
    CHECK(!state_reader_init(&bad, junk, sizeof(junk)) || ioapic_load(io, &bad) != 0);
    done();
}

int main(void)
{
    RUN(test_ident);
    RUN(test_edge);
    RUN(test_level);
    RUN(test_save_load);
    return check_done();
}
