/* pci_device.c — the generic half of every PCI function: config space with write masks and
 * write-one-to-clear bits, BAR decoding onto the bus (mapped while the command register enables
 * it and the guest-programmed address is usable), the capability list, INTx through the host's
 * lines and MSI-X tables. The function-specific half (virtio-pci, ...) plugs in through
 * pci_device_ops and the io_ops of its BARs. */
#include <stdlib.h>
#include <string.h>

#include "hw/pci.h"
#include "hw/pci_internal.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define STATE_VERSION 1

static void set_wmask16(struct pci_device *d, unsigned off, uint16_t m)
{
    d->wmask[off] = (uint8_t)m;
    d->wmask[off + 1] = (uint8_t)(m >> 8);
}

static void set_wmask32(struct pci_device *d, unsigned off, uint32_t m)
{
    set_wmask16(d, off, (uint16_t)m);
    set_wmask16(d, off + 2, (uint16_t)(m >> 16));
}

void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint8_t revision, const struct pci_device_ops *ops,
                     void *opaque)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    d->name = name ? name : "pci";
    d->ops = ops;
    d->opaque = opaque;
    pci_set16(d, PCI_VENDOR_ID, vendor);
    pci_set16(d, PCI_DEVICE_ID, device);
    pci_set8(d, PCI_REVISION_ID, revision);
    pci_set8(d, PCI_CLASS_PROG, (uint8_t)class_code);
    pci_set16(d, PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
    set_wmask16(d, PCI_COMMAND,
                PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | 0x0100 /* SERR */ |
                    PCI_COMMAND_INTX_DISABLE);
    /* Status: parity/abort/SERR error bits are write-one-to-clear. */
    d->w1cmask[PCI_STATUS + 1] = 0xf9;
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_LATENCY_TIMER] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    d->cap_end = 0x40;
    for (unsigned k = 0; k < PCI_NUM_BARS; k++) {
        d->bar[k].mapped = PCI_BAR_UNMAPPED;
        d->bar[k].dev = d;
    }
}

void pci_device_set_subsystem(struct pci_device *d, uint16_t vendor, uint16_t id)
{
    pci_set16(d, PCI_SUBSYSTEM_VENDOR_ID, vendor);
    pci_set16(d, PCI_SUBSYSTEM_ID, id);
}

void pci_device_set_interrupt_pin(struct pci_device *d, uint8_t interrupt_pin)
{
    pci_set8(d, PCI_INTERRUPT_PIN, interrupt_pin <= 4 ? interrupt_pin : 0);
}

int pci_device_add_bar(struct pci_device *d, unsigned idx, enum pci_bar_type type, uint64_t size,
                       bool prefetchable, const struct io_ops *ops, void *opaque)
{
    if (idx >= PCI_NUM_BARS || !ops || size == 0 || (size & (size - 1)) || d->bar[idx].size)
        return -1;
    if (idx > 0 && d->bar[idx - 1].type == PCI_BAR_MEM64)
        return -1; /* the upper half of a 64-bit BAR */
    unsigned off = PCI_BASE_ADDRESS_0 + 4 * idx;
    switch (type) {
    case PCI_BAR_IO:
        if (size < 4 || size > 256) return -1;
        pci_set32(d, off, 1);
        set_wmask32(d, off, (uint32_t) ~(size - 1) & 0xfffc);
        break;
    case PCI_BAR_MEM32:
        if (size < 16 || size > 0x80000000ull) return -1;
        pci_set32(d, off, prefetchable ? 8 : 0);
        set_wmask32(d, off, (uint32_t) ~(size - 1) & ~0xfu);
        break;
    case PCI_BAR_MEM64:
        if (idx + 1 >= PCI_NUM_BARS || d->bar[idx + 1].size || size < 16) return -1;
        pci_set32(d, off, 4 | (prefetchable ? 8 : 0));
        set_wmask32(d, off, (uint32_t) ~(size - 1) & ~0xfu);
        set_wmask32(d, off + 4, (uint32_t)(~(size - 1) >> 32));
        break;
    default: return -1;
    }
    struct pci_bar *b = &d->bar[idx];
    b->type = type;
    b->size = size;
    b->prefetchable = prefetchable;
    b->ops = ops;
    b->opaque = opaque;
    return 0;
}

unsigned pci_device_add_capability(struct pci_device *d, uint8_t id, unsigned size)
{
    size = (size + 3) & ~3u;
    if (size < 2 || d->cap_end + size > PCI_CONFIG_SIZE) return 0;
    unsigned off = d->cap_end;
    /* Link at the tail so capabilities appear in the order they were added. */
    unsigned prev = PCI_CAPABILITY_LIST;
    while (d->config[prev])
        prev = d->config[prev] + 1u;
    d->config[prev] = (uint8_t)off;
    d->config[off] = id;
    d->config[off + 1] = 0;
    d->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    d->cap_end = (uint8_t)(off + size < PCI_CONFIG_SIZE ? off + size : 0xff);
    return off;
}

/* Guest-visible address of a BAR (from config space), or PCI_BAR_UNMAPPED if not decoded. */
static uint64_t bar_address(const struct pci_device *d, unsigned idx)
{
    const struct pci_bar *b = &d->bar[idx];
    uint16_t cmd = pci_get16(d, PCI_COMMAND);
    uint32_t lo = pci_get32(d, PCI_BASE_ADDRESS_0 + 4 * idx);
    uint64_t a;
    switch (b->type) {
    case PCI_BAR_IO:
        if (!(cmd & PCI_COMMAND_IO)) return PCI_BAR_UNMAPPED;
        a = lo & 0xfffc;
        if (a == 0 || a + b->size > 0x10000) return PCI_BAR_UNMAPPED;
        return a;
    case PCI_BAR_MEM32:
    case PCI_BAR_MEM64:
        if (!(cmd & PCI_COMMAND_MEMORY)) return PCI_BAR_UNMAPPED;
        a = lo & ~0xfull;
        if (b->type == PCI_BAR_MEM64)
            a |= (uint64_t)pci_get32(d, PCI_BASE_ADDRESS_0 + 4 * idx + 4) << 32;
        if (a == 0 || a + b->size < a || a + b->size > (1ull << 52)) return PCI_BAR_UNMAPPED;
        return a;
    default: return PCI_BAR_UNMAPPED;
    }
}

static uint64_t bar_io_read(void *opaque, uint64_t off, unsigned size)
{
    struct pci_bar *b = opaque;
    return b->ops->read ? b->ops->read(b->opaque, off, size) : ~0ull;
}

static void bar_io_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pci_bar *b = opaque;
    if (b->ops->write) b->ops->write(b->opaque, off, value, size);
}

/* Every BAR registers this trampoline with its own pci_bar as opaque, so that (ops, opaque)
 * pairs on the bus are unique even when one function serves several BARs with one handler. */
static const struct io_ops bar_ops = {bar_io_read, bar_io_write};

static void map_bar(struct pci_device *d, unsigned idx, uint64_t addr)
{
    struct pci_bar *b = &d->bar[idx];
    struct bus *bus = d->host ? pci_host_bus(d->host) : NULL;
    if (!bus || addr == b->mapped) return;
    bool io = b->type == PCI_BAR_IO;
    uint64_t len = addr == PCI_BAR_UNMAPPED ? 0 : b->size;
    uint64_t base = len ? addr : 0;
    int rc;
    if (!b->registered && !len)
        rc = 0;
    else if (!b->registered)
        rc = io ? bus_add_pio(bus, (uint16_t)base, (uint16_t)len, &bar_ops, b, d->name)
                : bus_add_mmio(bus, base, len, &bar_ops, b, d->name);
    else
        rc = io ? bus_move_pio(bus, &bar_ops, b, (uint16_t)base, (uint16_t)len)
                : bus_move_mmio(bus, &bar_ops, b, base, len);
    if (rc == 0) {
        if (len) b->registered = true;
        b->mapped = addr;
        return;
    }
    /* A clash with another range: leave the BAR undecoded rather than shadow a device. */
    log_warn("pci %s: BAR%u at %#llx+%#llx overlaps another range; not decoded", d->name, idx,
             (unsigned long long)base, (unsigned long long)len);
    if (b->registered)
        io ? bus_move_pio(bus, &bar_ops, b, 0, 0) : bus_move_mmio(bus, &bar_ops, b, 0, 0);
    b->mapped = PCI_BAR_UNMAPPED;
}

void pci_device_update_mappings(struct pci_device *d)
{
    for (unsigned k = 0; k < PCI_NUM_BARS; k++)
        if (d->bar[k].size) map_bar(d, k, bar_address(d, k));
}

/* INTx as seen by the host: the function's level unless INTx is disabled in the command. */
static void update_intx(struct pci_device *d)
{
    if (d->intx_level)
        d->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        d->config[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    uint8_t pin = d->config[PCI_INTERRUPT_PIN];
    bool on = d->intx_level && !(pci_get16(d, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
    if (d->host && pin >= 1 && pin <= 4) pci_host_intx(d->host, d->slot, pin - 1u, on);
}

void pci_device_set_irq(struct pci_device *d, int level)
{
    pthread_mutex_lock(&d->lock);
    d->intx_level = level != 0;
    update_intx(d);
    pthread_mutex_unlock(&d->lock);
}

/* MSI-X helpers (d->lock held). */
static uint16_t msix_control(const struct pci_device *d)
{
    return d->msix.cap ? pci_get16(d, d->msix.cap + PCI_MSIX_FLAGS) : 0;
}

static bool msix_vector_masked(const struct pci_device *d, unsigned v)
{
    return (msix_control(d) & PCI_MSIX_MASKALL) || (d->msix.table[v * 16 + 12] & 1);
}

static void msix_send(struct pci_device *d, unsigned v)
{
    const uint8_t *e = &d->msix.table[v * 16];
    uint64_t addr = 0;
    uint32_t data = 0;
    for (int k = 7; k >= 0; k--)
        addr = addr << 8 | e[k];
    for (int k = 3; k >= 0; k--)
        data = data << 8 | e[8 + k];
    if (d->host) pci_host_msi(d->host, addr, data);
}

/* Deliver pending vectors that are no longer masked. */
static void msix_flush_pending(struct pci_device *d)
{
    if (!(msix_control(d) & PCI_MSIX_ENABLE)) return;
    for (unsigned v = 0; v < d->msix.nvec; v++)
        if (((d->msix.pending >> v) & 1) && !msix_vector_masked(d, v)) {
            d->msix.pending &= ~(1ull << v);
            msix_send(d, v);
        }
}

uint32_t pci_config_read(struct pci_device *d, unsigned offset, unsigned size)
{
    if (size == 0 || size > 4 || offset >= PCI_CONFIG_SIZE || offset + size > PCI_CONFIG_SIZE)
        return 0xffffffff;
    if (d->ops && d->ops->config_read) d->ops->config_read(d, offset, size);
    pthread_mutex_lock(&d->lock);
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++)
        v |= (uint32_t)d->config[offset + k] << (8 * k);
    pthread_mutex_unlock(&d->lock);
    return v;
}

static bool overlaps(unsigned off, unsigned size, unsigned start, unsigned len)
{
    return off < start + len && start < off + size;
}

void pci_config_write(struct pci_device *d, unsigned offset, uint32_t value, unsigned size)
{
    if (size == 0 || size > 4 || offset >= PCI_CONFIG_SIZE || offset + size > PCI_CONFIG_SIZE)
        return;
    pthread_mutex_lock(&d->lock);
    for (unsigned k = 0; k < size; k++) {
        unsigned o = offset + k;
        uint8_t b = (uint8_t)(value >> (8 * k));
        uint8_t nv = (uint8_t)((d->config[o] & ~d->wmask[o]) | (b & d->wmask[o]));
        d->config[o] = nv & (uint8_t) ~(b & d->w1cmask[o]);
    }
    bool remap = overlaps(offset, size, PCI_COMMAND, 2) ||
                 overlaps(offset, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS);
    if (overlaps(offset, size, PCI_COMMAND, 2)) update_intx(d);
    if (d->msix.cap && overlaps(offset, size, d->msix.cap + PCI_MSIX_FLAGS, 2))
        msix_flush_pending(d);
    pthread_mutex_unlock(&d->lock);
    if (remap) pci_device_update_mappings(d);
    if (d->ops && d->ops->config_write) d->ops->config_write(d, offset, value, size);
}

unsigned pci_msix_init(struct pci_device *d, unsigned nvec, unsigned table_bar,
                       uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset)
{
    if (nvec == 0 || nvec > PCI_MSIX_MAX_VECTORS || table_bar >= PCI_NUM_BARS ||
        pba_bar >= PCI_NUM_BARS || (table_offset & 7) || (pba_offset & 7) || d->msix.cap)
        return 0;
    unsigned cap = pci_device_add_capability(d, PCI_CAP_ID_MSIX, 12);
    if (!cap) return 0;
    pci_set16(d, cap + PCI_MSIX_FLAGS, (uint16_t)(nvec - 1));
    pci_set32(d, cap + 4, table_offset | table_bar);
    pci_set32(d, cap + 8, pba_offset | pba_bar);
    d->wmask[cap + PCI_MSIX_FLAGS + 1] = (PCI_MSIX_ENABLE | PCI_MSIX_MASKALL) >> 8;
    d->msix.cap = (uint8_t)cap;
    d->msix.nvec = nvec;
    memset(d->msix.table, 0, sizeof(d->msix.table));
    for (unsigned v = 0; v < nvec; v++)
        d->msix.table[v * 16 + 12] = 1; /* vectors start masked */
    d->msix.pending = 0;
    return cap;
}

bool pci_msix_enabled(struct pci_device *d)
{
    pthread_mutex_lock(&d->lock);
    bool on = (msix_control(d) & PCI_MSIX_ENABLE) != 0;
    pthread_mutex_unlock(&d->lock);
    return on;
}

uint64_t pci_msix_table_read(struct pci_device *d, uint64_t offset, unsigned size)
{
    uint64_t v = 0;
    pthread_mutex_lock(&d->lock);
    uint64_t len = (uint64_t)d->msix.nvec * PCI_MSIX_ENTRY_SIZE;
    if (size <= 8 && offset < len && offset + size <= len)
        for (unsigned k = 0; k < size; k++)
            v |= (uint64_t)d->msix.table[offset + k] << (8 * k);
    pthread_mutex_unlock(&d->lock);
    return v;
}

void pci_msix_table_write(struct pci_device *d, uint64_t offset, uint64_t value, unsigned size)
{
    pthread_mutex_lock(&d->lock);
    uint64_t len = (uint64_t)d->msix.nvec * PCI_MSIX_ENTRY_SIZE;
    if (size <= 8 && offset < len && offset + size <= len) {
        for (unsigned k = 0; k < size; k++) {
            uint64_t o = offset + k;
            uint8_t b = (uint8_t)(value >> (8 * k));
            if ((o & 15) == 12)
                b &= 1; /* vector control: only the mask bit */
            else if ((o & 15) > 12)
                b = 0;
            d->msix.table[o] = b;
        }
        msix_flush_pending(d);
    }
    pthread_mutex_unlock(&d->lock);
}

uint64_t pci_msix_pba_read(struct pci_device *d, uint64_t offset, unsigned size)
{
    pthread_mutex_lock(&d->lock);
    uint64_t pba = d->msix.pending;
    pthread_mutex_unlock(&d->lock);
    if (size > 8 || offset >= 8 || offset + size > 8) return 0;
    uint64_t v = pba >> (8 * offset);
    return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

bool pci_msix_notify(struct pci_device *d, unsigned vector)
{
    bool ok = false;
    pthread_mutex_lock(&d->lock);
    if ((msix_control(d) & PCI_MSIX_ENABLE) && vector < d->msix.nvec) {
        ok = true;
        if (msix_vector_masked(d, vector))
            d->msix.pending |= 1ull << vector;
        else
            msix_send(d, vector);
    }
    pthread_mutex_unlock(&d->lock);
    return ok;
}

void pci_device_destroy(struct pci_device *d)
{
    pthread_mutex_lock(&d->lock);
    pci_set16(d, PCI_COMMAND, 0);
    d->intx_level = 0;
    update_intx(d);
    pthread_mutex_unlock(&d->lock);
    pci_device_update_mappings(d);
    if (d->host) pci_host_unregister(d->host, d);
    pthread_mutex_destroy(&d->lock);
}

/* A function's part of its owner's section: u32 version, the config space bytes, u8 INTx
 * level, u32 MSI-X vectors (must match this device), 16 bytes per vector of MSI-X table, u64
 * pending bits. Only what the guest could have written changes on load: identity and layout
 * stay ours. */
static void pci_put_version(struct state_writer *w, const void *obj, void *ctx)
{
    (void)obj;
    (void)ctx;
    state_put_u32(w, STATE_VERSION);
}
static const char *pci_get_version(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)tmp;
    (void)live;
    (void)ctx;
    return state_get_u32(r) == STATE_VERSION ? NULL : "unknown config-space state version";
}
static void pci_commit_config(void *live, const void *tmp, void *ctx)
{
    (void)ctx;
    struct pci_device *d = live;
    const uint8_t *cfg = ((const struct pci_device *)tmp)->config;
    for (unsigned k = 0; k < PCI_CONFIG_SIZE; k++)
        d->config[k] = (uint8_t)((d->config[k] & ~d->wmask[k]) | (cfg[k] & d->wmask[k]));
}
static void pci_put_msix(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    const struct pci_device *d = obj;
    state_put_u32(w, d->msix.nvec);
    state_put_bytes(w, d->msix.table, (size_t)d->msix.nvec * PCI_MSIX_ENTRY_SIZE);
    state_put_u64(w, d->msix.pending);
}
static const char *pci_get_msix(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)ctx;
    struct pci_device *t = tmp;
    unsigned nvec = ((const struct pci_device *)live)->msix.nvec;
    if (state_get_u32(r) != nvec) return "the number of vectors differs from this device's";
    state_get_bytes(r, t->msix.table, (size_t)nvec * PCI_MSIX_ENTRY_SIZE);
    uint64_t pending = state_get_u64(r);
    t->msix.pending = nvec ? pending & (~0ull >> (64 - nvec)) : 0;
    return NULL;
}
static const struct state_field pci_device_fields[] = {
    STATE_CUSTOM("version", pci_put_version, pci_get_version, NULL),
    {.name = "config",
     .kind = STATE_BYTES,
     .wsize = PCI_CONFIG_SIZE,
     .csize = PCI_CONFIG_SIZE,
     .count = 1,
     .offset = offsetof(struct pci_device, config),
     .commit = pci_commit_config},
    STATE_UINT_X(struct pci_device, intx_level, 1, UINT64_MAX, 0, 0, 1),
    STATE_CUSTOM("msix", pci_put_msix, pci_get_msix, NULL),
    STATE_SHADOW(struct pci_device, msix.table),
    STATE_SHADOW(struct pci_device, msix.pending),
};
const struct state_desc pci_device_state = STATE_DESC(struct pci_device, pci_device_fields, NULL);

void pci_device_state_loaded(struct pci_device *d)
{
    pthread_mutex_lock(&d->lock);
    update_intx(d);
    pthread_mutex_unlock(&d->lock);
    pci_device_update_mappings(d);
}

void pci_device_save(struct pci_device *d, struct state_writer *w)
{
    pthread_mutex_lock(&d->lock);
    state_save_fields(w, &pci_device_state, d, NULL);
    pthread_mutex_unlock(&d->lock);
}

int pci_device_load(struct pci_device *d, struct state_reader *r)
{
    struct pci_device *tmp = malloc(sizeof(*tmp));
    if (!tmp) return -1;
    pthread_mutex_lock(&d->lock);
    memcpy(tmp, d, sizeof(*tmp));
    const char *why = state_load_fields(r, &pci_device_state, tmp, d, NULL);
    if (!why && state_committing(r)) state_commit_fields(&pci_device_state, d, tmp, NULL);
    pthread_mutex_unlock(&d->lock);
    free(tmp);
    if (why) {
        log_error("pci %s: %s", d->name, why);
        return -1;
    }
    if (state_committing(r)) pci_device_state_loaded(d);
    return 0;
}
