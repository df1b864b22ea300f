/* pci_host.c — the PCI host bridge: configuration mechanism #1 (address latch at 0xCF8, data
 * window at 0xCFC-0xCFF) over bus 0, single-function slots, the host bridge itself in slot 0,
 * INTx line sharing (a line is asserted while any function on it asserts), MSI forwarding to
 * the LAPIC, and the firmware-style BAR assignment the board runs before boot. */
#include <stdlib.h>
#include <string.h>

#include "hw/pci.h"
#include "hw/pci_internal.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define STATE_VERSION 1
#define ADDR_ENABLE   0x80000000u

struct pci_host {
    pthread_mutex_t lock; /* INTx line state */
    struct bus *bus;
    struct msi_sink msi;
    struct irq_line intx[PCI_INTX_LINES];
    uint8_t gsi[PCI_INTX_LINES];
    uint32_t line_slots[PCI_INTX_LINES]; /* slots asserting each line */
    uint32_t addr;                       /* CONFIG_ADDRESS latch */
    uint8_t rst_cnt;                     /* 0xCF9 reset control (not saved: see below) */
    void (*reset)(void *opaque);
    void *reset_opaque;
    struct pci_device *dev[PCI_MAX_SLOTS];
    struct pci_device bridge;
};

#define RST_CNT_SYS  0x02
#define RST_CNT_CPU  0x04
#define RST_CNT_FULL 0x08

void pci_host_set_reset(struct pci_host *h, void (*reset)(void *opaque), void *opaque)
{
    h->reset = reset;
    h->reset_opaque = opaque;
}

static struct pci_device *target(struct pci_host *h, unsigned *reg)
{
    uint32_t a = h->addr;
    if (!(a & ADDR_ENABLE) || ((a >> 16) & 0xff) != 0 || ((a >> 8) & 7) != 0)
        return NULL; /* only bus 0, function 0 exist */
    *reg = a & 0xfc;
    return h->dev[(a >> 11) & 0x1f];
}

static uint64_t host_io_read(void *opaque, uint64_t off, unsigned size)
{
    struct pci_host *h = opaque;
    uint64_t ones = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    if (off == 1 && size == 1) return h->rst_cnt;
    if (off < 4) return off == 0 && size == 4 ? h->addr : ones;
    unsigned reg;
    struct pci_device *d = target(h, &reg);
    if (!d || (off - 4) + size > 4) return ones;
    return pci_config_read(d, reg + (unsigned)(off - 4), size);
}

static void host_io_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pci_host *h = opaque;
    if (off == 1 && size == 1) {
        /* 0xCF9, the ICH/PIIX4 reset control register: RST_CPU going from 0 to 1 resets the
         * machine (firmware and Linux's reboot=pci write 0x02, then 0x06). Not in the saved
         * state: a restore between the two writes still sees the 0 -> 1 edge. */
        uint8_t old = h->rst_cnt;
        h->rst_cnt = (uint8_t)value & (RST_CNT_SYS | RST_CNT_CPU | RST_CNT_FULL);
        if (!(old & RST_CNT_CPU) && (h->rst_cnt & RST_CNT_CPU) && h->reset) {
            h->rst_cnt = 0;
            h->reset(h->reset_opaque);
        }
        return;
    }
    if (off < 4) {
        /* Only dword accesses reach CONFIG_ADDRESS. */
        if (off == 0 && size == 4) h->addr = (uint32_t)value & 0x80fffffc;
        return;
    }
    unsigned reg;
    struct pci_device *d = target(h, &reg);
    if (!d || (off - 4) + size > 4) return;
    pci_config_write(d, reg + (unsigned)(off - 4), (uint32_t)value, size);
}

static const struct io_ops host_ops = {host_io_read, host_io_write};

struct pci_host *pci_host_create(struct bus *bus, struct msi_sink msi,
                                 const struct irq_line intx[PCI_INTX_LINES],
                                 const uint8_t gsi[PCI_INTX_LINES])
{
    struct pci_host *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->bus = bus;
    h->msi = msi;
    for (unsigned k = 0; k < PCI_INTX_LINES; k++) {
        if (intx) h->intx[k] = intx[k];
        h->gsi[k] = gsi ? gsi[k] : 0xff;
    }
    pci_device_init(&h->bridge, "pci-host", PCI_HOST_VENDOR_ID, PCI_HOST_DEVICE_ID, 0x060000, 0,
                    NULL, NULL);
    h->bridge.host = h;
    h->bridge.slot = 0;
    h->dev[0] = &h->bridge;
    if (bus && bus_add_pio(bus, PCI_CONFIG_ADDRESS_PORT, 8, &host_ops, h, "pci-host") != 0) {
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void pci_host_destroy(struct pci_host *h)
{
    if (!h) return;
    for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
        if (h->dev[s]) h->dev[s]->host = NULL;
    if (h->bus) bus_move_pio(h->bus, &host_ops, h, 0, 0);
    pthread_mutex_destroy(&h->bridge.lock);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int pci_host_register(struct pci_host *h, struct pci_device *d, int slot)
{
    if (slot < 0) {
        for (slot = 1; slot < PCI_MAX_SLOTS && h->dev[slot]; slot++)
            ;
    }
    if (slot < 1 || slot >= PCI_MAX_SLOTS || h->dev[slot] || d->host) {
        log_error("pci: cannot place %s in slot %d", d->name, slot);
        return -1;
    }
    d->host = h;
    d->slot = (unsigned)slot;
    uint8_t pin = d->config[PCI_INTERRUPT_PIN];
    /* What firmware would have written: the GSI this slot's pin is routed to. */
    if (pin >= 1 && pin <= 4)
        d->config[PCI_INTERRUPT_LINE] = h->gsi[PCI_INTX_SWIZZLE((unsigned)slot, pin - 1u)];
    h->dev[slot] = d;
    pci_device_update_mappings(d);
    return slot;
}

void pci_host_unregister(struct pci_host *h, struct pci_device *d)
{
    if (d->slot < PCI_MAX_SLOTS && h->dev[d->slot] == d && d != &h->bridge) h->dev[d->slot] = NULL;
    d->host = NULL;
}

struct bus *pci_host_bus(struct pci_host *h)
{
    return h->bus;
}

void pci_host_msi(struct pci_host *h, uint64_t addr, uint32_t data)
{
    msi_send(&h->msi, addr, data);
}

void pci_host_intx(struct pci_host *h, unsigned slot, unsigned pin, bool level)
{
    unsigned line = PCI_INTX_SWIZZLE(slot, pin);
    pthread_mutex_lock(&h->lock);
    uint32_t before = h->line_slots[line];
    if (level)
        h->line_slots[line] |= 1u << slot;
    else
        h->line_slots[line] &= ~(1u << slot);
    uint32_t after = h->line_slots[line];
    if ((before != 0) != (after != 0)) irq_set(&h->intx[line], after != 0);
    pthread_mutex_unlock(&h->lock);
}

struct bar_ref {
    struct pci_device *d;
    unsigned idx;
};

static int bar_cmp(const void *a, const void *b)
{
    const struct bar_ref *x = a, *y = b;
    uint64_t sx = x->d->bar[x->idx].size, sy = y->d->bar[y->idx].size;
    return sx < sy ? 1 : sx > sy ? -1 : 0;
}

void pci_host_assign_bars(struct pci_host *h)
{
    struct bar_ref refs[PCI_MAX_SLOTS * PCI_NUM_BARS];
    unsigned n = 0;
    for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
        for (unsigned k = 0; h->dev[s] && k < PCI_NUM_BARS; k++)
            if (h->dev[s]->bar[k].size) refs[n++] = (struct bar_ref){h->dev[s], k};
    /* Largest first keeps every BAR naturally aligned with a simple bump allocator. */
    qsort(refs, n, sizeof(refs[0]), bar_cmp);
    uint64_t mmio = PCI_MMIO_WINDOW_BASE, io = PCI_IO_WINDOW_BASE;
    for (unsigned k = 0; k < n; k++) {
        struct pci_device *d = refs[k].d;
        struct pci_bar *b = &d->bar[refs[k].idx];
        uint64_t *next = b->type == PCI_BAR_IO ? &io : &mmio;
        uint64_t end = b->type == PCI_BAR_IO ? PCI_IO_WINDOW_END : PCI_MMIO_WINDOW_END;
        uint64_t addr = (*next + b->size - 1) & ~(b->size - 1);
        if (addr + b->size - 1 > end) {
            log_warn("pci %s: no room for BAR%u (%#llx bytes)", d->name, refs[k].idx,
                     (unsigned long long)b->size);
            continue;
        }
        *next = addr + b->size;
        unsigned off = PCI_BASE_ADDRESS_0 + 4 * refs[k].idx;
        pci_config_write(d, off, (uint32_t)addr, 4);
        if (b->type == PCI_BAR_MEM64) pci_config_write(d, off + 4, (uint32_t)(addr >> 32), 4);
    }
    for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
        struct pci_device *d = h->dev[s];
        if (!d) continue;
        uint16_t cmd = pci_get16(d, PCI_COMMAND) | PCI_COMMAND_MASTER;
        for (unsigned k = 0; k < PCI_NUM_BARS; k++) {
            if (d->bar[k].type == PCI_BAR_IO)
                cmd |= PCI_COMMAND_IO;
            else if (d->bar[k].size)
                cmd |= PCI_COMMAND_MEMORY;
        }
        pci_config_write(d, PCI_COMMAND, cmd, 2);
    }
}

/* Section "pci-host": u32 CONFIG_ADDRESS latch, then the bridge function (pci_device_state). */
static const struct state_field pci_host_fields[] = {
    STATE_UINT_M(struct pci_host, addr, 4, 0x80fffffc),
    STATE_STRUCT(struct pci_host, bridge, &pci_device_state),
};
static const struct state_desc pci_host_desc = STATE_DESC(struct pci_host, pci_host_fields, NULL);

void pci_host_save(struct pci_host *h, struct state_writer *w)
{
    pthread_mutex_lock(&h->bridge.lock);
    state_save_section(w, "pci-host", STATE_VERSION, &pci_host_desc, h, NULL);
    pthread_mutex_unlock(&h->bridge.lock);
}

int pci_host_load(struct pci_host *h, struct state_reader *r)
{
    pthread_mutex_lock(&h->bridge.lock);
    int rc = state_load_section(r, "pci-host", STATE_VERSION, &pci_host_desc, h, NULL);
    pthread_mutex_unlock(&h->bridge.lock);
    if (rc == 0 && state_committing(r)) pci_device_state_loaded(&h->bridge);
    return rc;
}
