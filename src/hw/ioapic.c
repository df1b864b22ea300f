/* ioapic.c — the 82093AA-style I/O APIC (version 0x20, with the EOI register). Pin inputs are
 * logical assertion levels (1 = asserted), whatever the wire's electrical polarity, so the
 * polarity bit is kept for the guest but does not invert anything (as in QEMU). Interrupts
 * leave as MSI-format messages, which carry the destination, delivery and trigger mode. */
#include "hw/ioapic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define STATE_VERSION 1

#define REG_SELECT 0x00
#define REG_WINDOW 0x10
#define REG_EOI    0x40

#define IDX_ID      0x00
#define IDX_VERSION 0x01
#define IDX_ARB     0x02
#define IDX_REDIR   0x10

#define RTE_VECTOR     0xffull
#define RTE_DELMODE    (7ull << 8)
#define RTE_DESTMODE   (1ull << 11)
#define RTE_DELIVS     (1ull << 12)
#define RTE_POLARITY   (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL      (1ull << 15)
#define RTE_MASKED     (1ull << 16)
/* Guest-writable bits: everything but delivery status and remote IRR (and reserved 55:17). */
#define RTE_WMASK (0xff00000000000000ull | (0x1ffffull & ~(RTE_DELIVS | RTE_REMOTE_IRR)))

struct ioapic {
    pthread_mutex_t lock;
    struct bus *bus;
    uint64_t base;
    struct msi_sink out;
    uint32_t id, select;
    uint64_t rte[IOAPIC_PINS];
    uint32_t levels; /* asserted inputs */
};

static void send(struct ioapic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    uint64_t addr = 0xfee00000ull | ((e >> 56) & 0xff) << 12 | ((e & RTE_DESTMODE) ? 4 : 0);
    uint32_t data = (uint32_t)(e & (RTE_VECTOR | RTE_DELMODE));
    if (e & RTE_LEVEL)
        data |= 1u << 15 | 1u << 14;
    else
        data |= 1u << 14;
    msi_send(&io->out, addr, data);
}

/* Deliver pin if its state calls for it (level pins: asserted, unmasked, not in service). */
static void service(struct ioapic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    if ((e & RTE_MASKED) || !((io->levels >> pin) & 1)) return;
    if (e & RTE_LEVEL) {
        if (e & RTE_REMOTE_IRR) return;
        io->rte[pin] |= RTE_REMOTE_IRR;
    }
    send(io, pin);
}

static void set_level_locked(struct ioapic *io, unsigned pin, int level)
{
    uint32_t bit = 1u << pin;
    bool was = (io->levels & bit) != 0;
    if (level)
        io->levels |= bit;
    else
        io->levels &= ~bit;
    if (!level) return;
    if (io->rte[pin] & RTE_LEVEL)
        service(io, pin);
    else if (!was)
        service(io, pin); /* rising edge */
}

void ioapic_set_level(struct ioapic *io, unsigned pin, int level)
{
    if (pin >= IOAPIC_PINS) return;
    pthread_mutex_lock(&io->lock);
    set_level_locked(io, pin, level);
    pthread_mutex_unlock(&io->lock);
}

static void eoi_locked(struct ioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if ((e & RTE_VECTOR) != vector || !(e & RTE_REMOTE_IRR)) continue;
        io->rte[pin] &= ~RTE_REMOTE_IRR;
        service(io, pin); /* still asserted: deliver again */
    }
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
    pthread_mutex_lock(&io->lock);
    eoi_locked(io, vector);
    pthread_mutex_unlock(&io->lock);
}

static uint32_t window_read(struct ioapic *io)
{
    uint32_t idx = io->select & 0xff;
    switch (idx) {
    case IDX_ID: return io->id << 24;
    case IDX_VERSION: return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
    case IDX_ARB: return io->id << 24;
    default:
        if (idx >= IDX_REDIR && idx < IDX_REDIR + 2 * IOAPIC_PINS) {
            uint64_t e = io->rte[(idx - IDX_REDIR) / 2];
            return (idx & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
        }
        return 0xffffffff;
    }
}

static void window_write(struct ioapic *io, uint32_t v)
{
    uint32_t idx = io->select & 0xff;
    if (idx == IDX_ID) {
        io->id = (v >> 24) & 0x0f;
        return;
    }
    if (idx < IDX_REDIR || idx >= IDX_REDIR + 2 * IOAPIC_PINS) return;
    unsigned pin = (idx - IDX_REDIR) / 2;
    uint64_t e = io->rte[pin];
    uint64_t nv =
        (idx & 1) ? (e & 0xffffffffull) | (uint64_t)v << 32 : (e & 0xffffffff00000000ull) | v;
    nv = (nv & RTE_WMASK) | (e & RTE_REMOTE_IRR);
    if (!(nv & RTE_LEVEL)) nv &= ~RTE_REMOTE_IRR;
    io->rte[pin] = nv;
    /* An unmasked level pin still asserted (e.g. after the guest's mask/unmask) fires now. */
    if ((nv & RTE_LEVEL) && !(nv & RTE_MASKED)) service(io, pin);
}

static uint64_t ioapic_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct ioapic *io = opaque;
    uint64_t v = 0;
    pthread_mutex_lock(&io->lock);
    if (off == REG_SELECT)
        v = io->select;
    else if (off == REG_WINDOW)
        v = window_read(io);
    pthread_mutex_unlock(&io->lock);
    if (size < 4) v &= (1ull << (8 * size)) - 1;
    return v;
}

static void ioapic_mmio_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct ioapic *io = opaque;
    pthread_mutex_lock(&io->lock);
    if (off == REG_SELECT)
        io->select = (uint32_t)value & 0xff;
    else if (off == REG_WINDOW && size >= 4)
        window_write(io, (uint32_t)value);
    else if (off == REG_EOI)
        eoi_locked(io, (uint8_t)value);
    pthread_mutex_unlock(&io->lock);
}

static const struct io_ops ioapic_ops = {ioapic_mmio_read, ioapic_mmio_write};

static void reset_locked(struct ioapic *io)
{
    io->id = 0;
    io->select = 0;
    for (unsigned k = 0; k < IOAPIC_PINS; k++)
        io->rte[k] = RTE_MASKED;
}

struct ioapic *ioapic_create(struct bus *bus, uint64_t base, struct msi_sink out)
{
    struct ioapic *io = calloc(1, sizeof(*io));
    if (!io) return NULL;
    pthread_mutex_init(&io->lock, NULL);
    io->bus = bus;
    io->base = base;
    io->out = out;
    reset_locked(io);
    if (bus && bus_add_mmio(bus, base, IOAPIC_SIZE, &ioapic_ops, io, "ioapic") != 0) {
        pthread_mutex_destroy(&io->lock);
        free(io);
        return NULL;
    }
    return io;
}

void ioapic_destroy(struct ioapic *io)
{
    if (!io) return;
    if (io->bus) bus_move_mmio(io->bus, &ioapic_ops, io, 0, 0);
    pthread_mutex_destroy(&io->lock);
    free(io);
}

static void line_set_level(void *opaque, unsigned pin, int level)
{
    ioapic_set_level(opaque, pin, level);
}

struct irq_line ioapic_irq_line(struct ioapic *io, unsigned pin)
{
    return (struct irq_line){line_set_level, io, pin};
}

/* Section "ioapic": u32 id, u32 select, u32 input levels, u64 redirection entry per pin.
 * Input levels belong to the devices, which drive them again after their own load. */
static const struct state_field ioapic_fields[] = {
    STATE_UINT_M(struct ioapic, id, 4, 0x0f),
    STATE_UINT_M(struct ioapic, select, 4, 0xff),
    STATE_UINT_M(struct ioapic, levels, 4, (1u << IOAPIC_PINS) - 1),
    STATE_UINT_ARRAY(struct ioapic, rte, 8, RTE_WMASK | RTE_REMOTE_IRR),
};
static const struct state_desc ioapic_desc = STATE_DESC(struct ioapic, ioapic_fields, NULL);

void ioapic_save(struct ioapic *io, struct state_writer *w)
{
    pthread_mutex_lock(&io->lock);
    state_save_section(w, "ioapic", STATE_VERSION, &ioapic_desc, io, NULL);
    pthread_mutex_unlock(&io->lock);
}

int ioapic_load(struct ioapic *io, struct state_reader *r)
{
    pthread_mutex_lock(&io->lock);
    int rc = state_load_section(r, "ioapic", STATE_VERSION, &ioapic_desc, io, NULL);
    pthread_mutex_unlock(&io->lock);
    return rc;
}
