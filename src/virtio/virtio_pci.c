/* virtio_pci.c — the modern virtio PCI transport of virtio_pci.h. The common configuration
 * window is served from a little-endian image of the registers: reads slice it, writes patch it
 * and then apply each register the write overlapped, so any access width the driver uses
 * (Linux writes 64-bit queue addresses as two 32-bit halves) behaves the same. */
#include "virtio_pci.h"

#include <string.h>

#include "vessel/log.h"
#include "vessel/state.h"

enum {
    CC_DFSELECT = 0x00,
    CC_DF = 0x04,
    CC_GFSELECT = 0x08,
    CC_GF = 0x0c,
    CC_MSIX = 0x10,
    CC_NUMQ = 0x12,
    CC_STATUS = 0x14,
    CC_CFGGEN = 0x15,
    CC_QSEL = 0x16,
    CC_QSIZE = 0x18,
    CC_QMSIX = 0x1a,
    CC_QENABLE = 0x1c,
    CC_QNOTIFYOFF = 0x1e,
    CC_QDESC = 0x20,
    CC_QAVAIL = 0x28,
    CC_QUSED = 0x30,
    CC_SIZE = 0x38
};

static const struct {
    uint8_t off, size;
} cc_fields[] = {
    {CC_DFSELECT, 4},   {CC_DF, 4},    {CC_GFSELECT, 4}, {CC_GF, 4},
    {CC_MSIX, 2},       {CC_NUMQ, 2},  {CC_STATUS, 1},   {CC_CFGGEN, 1},
    {CC_QSEL, 2},       {CC_QSIZE, 2}, {CC_QMSIX, 2},    {CC_QENABLE, 2},
    {CC_QNOTIFYOFF, 2}, {CC_QDESC, 8}, {CC_QAVAIL, 8},   {CC_QUSED, 8},
};

static void put(uint8_t *img, unsigned off, uint64_t v, unsigned size)
{
    for (unsigned k = 0; k < size; k++)
        img[off + k] = (uint8_t)(v >> (8 * k));
}

static uint64_t get(const uint8_t *img, unsigned off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        v |= (uint64_t)img[off + k] << (8 * k);
    return v;
}

static struct virtq *selected(struct virtio_dev *vd)
{
    return vd->queue_sel < vd->nqueues ? &vd->vq[vd->queue_sel] : NULL;
}

static void common_image(struct virtio_dev *vd, uint8_t img[CC_SIZE])
{
    memset(img, 0, CC_SIZE);
    put(img, CC_DFSELECT, vd->dfselect, 4);
    put(img, CC_DF, vd->dfselect < 2 ? (uint32_t)(vd->host_features >> (32 * vd->dfselect)) : 0, 4);
    put(img, CC_GFSELECT, vd->gfselect, 4);
    put(img, CC_GF, vd->gfselect < 2 ? (uint32_t)(vd->guest_features >> (32 * vd->gfselect)) : 0,
        4);
    put(img, CC_MSIX, vd->config_msix, 2);
    put(img, CC_NUMQ, vd->nqueues, 2);
    put(img, CC_STATUS, vd->status, 1);
    put(img, CC_CFGGEN, vd->config_generation, 1);
    put(img, CC_QSEL, vd->queue_sel, 2);
    struct virtq *q = selected(vd);
    if (q) {
        put(img, CC_QSIZE, q->size, 2);
        put(img, CC_QMSIX, q->msix_vector, 2);
        put(img, CC_QENABLE, q->ready, 2);
        put(img, CC_QNOTIFYOFF, vd->queue_sel, 2);
        put(img, CC_QDESC, q->desc, 8);
        put(img, CC_QAVAIL, q->avail, 8);
        put(img, CC_QUSED, q->used, 8);
    }
}

static void virtio_reset(struct virtio_dev *vd)
{
    if (vd->ops->reset) vd->ops->reset(vd);
    pthread_mutex_lock(&vd->lock);
    for (unsigned k = 0; k < vd->nqueues; k++) {
        virtq_reset(&vd->vq[k]);
        vd->vq[k].size = vd->queue_max;
    }
    vd->guest_features = 0;
    vd->dfselect = vd->gfselect = 0;
    vd->status = 0;
    vd->isr = 0;
    vd->queue_sel = 0;
    vd->config_msix = VIRTIO_MSI_NO_VECTOR;
    pthread_mutex_unlock(&vd->lock);
    pci_device_set_irq(&vd->pci, 0);
}

static uint16_t checked_vector(struct virtio_dev *vd, uint64_t v)
{
    return v < vd->pci.msix.nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void write_status(struct virtio_dev *vd, uint8_t v)
{
    if (v == 0) {
        virtio_reset(vd);
        return;
    }
    uint8_t newly = (uint8_t)(v & ~vd->status);
    if (newly & VIRTIO_STATUS_FEATURES_OK) {
        bool ok = (vd->guest_features & ~vd->host_features) == 0 &&
                  (vd->guest_features & VIRTIO_F_VERSION_1);
        if (!ok) {
            v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        } else {
            for (unsigned k = 0; k < vd->nqueues; k++) {
                vd->vq[k].event_idx = virtio_has_feature(vd, VIRTIO_F_EVENT_IDX);
                vd->vq[k].indirect = virtio_has_feature(vd, VIRTIO_F_INDIRECT_DESC);
            }
        }
    }
    /* the driver cannot clear DEVICE_NEEDS_RESET except by resetting */
    vd->status = (uint8_t)(v | (vd->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    if ((newly & VIRTIO_STATUS_DRIVER_OK) && vd->ops->driver_ok) vd->ops->driver_ok(vd);
}

static void apply_field(struct virtio_dev *vd, unsigned off, uint64_t v)
{
    struct virtq *q = selected(vd);
    bool features_done = vd->status & VIRTIO_STATUS_FEATURES_OK;
    switch (off) {
    case CC_DFSELECT: vd->dfselect = (uint32_t)v; break;
    case CC_GFSELECT: vd->gfselect = (uint32_t)v; break;
    case CC_GF:
        if (vd->gfselect < 2 && !features_done) {
            unsigned sh = 32 * vd->gfselect;
            vd->guest_features = (vd->guest_features & ~(0xffffffffull << sh)) | (v << sh);
        }
        break;
    case CC_MSIX: vd->config_msix = checked_vector(vd, v); break;
    case CC_STATUS: write_status(vd, (uint8_t)v); break;
    case CC_QSEL: vd->queue_sel = (uint16_t)v; break;
    case CC_QSIZE:
        /* a power of two no larger than the maximum; anything else is refused at enable */
        if (q && !q->ready) q->size = (uint16_t)v;
        break;
    case CC_QMSIX:
        if (q) q->msix_vector = checked_vector(vd, v);
        break;
    case CC_QENABLE:
        if (q && v == 1 && !q->ready) {
            if (q->size > vd->queue_max || !virtq_validate(q))
                virtio_set_needs_reset(vd);
            else
                q->ready = true;
        }
        break;
    case CC_QDESC:
        if (q && !q->ready) q->desc = v;
        break;
    case CC_QAVAIL:
        if (q && !q->ready) q->avail = v;
        break;
    case CC_QUSED:
        if (q && !q->ready) q->used = v;
        break;
    default: break; /* read-only */
    }
}

static void common_write(struct virtio_dev *vd, uint64_t off, uint64_t v, unsigned size)
{
    if (off >= CC_SIZE || off + size > CC_SIZE) return;
    uint8_t img[CC_SIZE];
    common_image(vd, img);
    put(img, (unsigned)off, v, size);
    for (size_t k = 0; k < sizeof(cc_fields) / sizeof(cc_fields[0]); k++) {
        unsigned fo = cc_fields[k].off, fs = cc_fields[k].size;
        if (fo < off + size && off < fo + fs) apply_field(vd, fo, get(img, fo, fs));
    }
}

static uint64_t bar_read(void *opaque, uint64_t off, unsigned size)
{
    struct virtio_dev *vd = opaque;
    if (off < VIRTIO_PCI_ISR) {
        if (off + size > CC_SIZE) return 0;
        uint8_t img[CC_SIZE];
        common_image(vd, img);
        return get(img, (unsigned)off, size);
    }
    if (off < VIRTIO_PCI_DEVICE_CFG) {
        if (off != VIRTIO_PCI_ISR) return 0;
        pthread_mutex_lock(&vd->lock);
        uint8_t isr = vd->isr;
        vd->isr = 0;
        pthread_mutex_unlock(&vd->lock);
        pci_device_set_irq(&vd->pci, 0);
        return isr;
    }
    if (off < VIRTIO_PCI_NOTIFY)
        return vd->ops->config_read ? vd->ops->config_read(vd, off - VIRTIO_PCI_DEVICE_CFG, size)
                                    : 0;
    if (off >= VIRTIO_PCI_MSIX_TABLE && off < VIRTIO_PCI_MSIX_PBA)
        return pci_msix_table_read(&vd->pci, off - VIRTIO_PCI_MSIX_TABLE, size);
    if (off >= VIRTIO_PCI_MSIX_PBA && off < VIRTIO_PCI_MSIX_PBA + 0x1000)
        return pci_msix_pba_read(&vd->pci, off - VIRTIO_PCI_MSIX_PBA, size);
    return 0;
}

static void bar_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct virtio_dev *vd = opaque;
    if (off < VIRTIO_PCI_ISR) {
        common_write(vd, off, v, size);
    } else if (off >= VIRTIO_PCI_DEVICE_CFG && off < VIRTIO_PCI_NOTIFY) {
        if (vd->ops->config_write) vd->ops->config_write(vd, off - VIRTIO_PCI_DEVICE_CFG, v, size);
    } else if (off >= VIRTIO_PCI_NOTIFY && off < VIRTIO_PCI_NOTIFY + 0x1000) {
        uint64_t q = (off - VIRTIO_PCI_NOTIFY) / VIRTIO_PCI_NOTIFY_MUL;
        if (q < vd->nqueues && vd->vq[q].ready && virtio_driver_ok(vd) && vd->ops->queue_notify)
            vd->ops->queue_notify(vd, (unsigned)q);
    } else if (off >= VIRTIO_PCI_MSIX_TABLE && off < VIRTIO_PCI_MSIX_PBA) {
        pci_msix_table_write(&vd->pci, off - VIRTIO_PCI_MSIX_TABLE, v, size);
    }
}

static const struct io_ops virtio_bar_ops = {bar_read, bar_write};

static void add_cap(struct virtio_dev *vd, uint8_t type, uint32_t offset, uint32_t length,
                    bool notify)
{
    unsigned at = pci_device_add_capability(&vd->pci, PCI_CAP_ID_VNDR, notify ? 20 : 16);
    if (!at) return;
    pci_set8(&vd->pci, at + 2, notify ? 20 : 16);
    pci_set8(&vd->pci, at + 3, type);
    pci_set8(&vd->pci, at + 4, VIRTIO_PCI_BAR);
    pci_set32(&vd->pci, at + 8, offset);
    pci_set32(&vd->pci, at + 12, length);
    if (notify) pci_set32(&vd->pci, at + 16, VIRTIO_PCI_NOTIFY_MUL);
}

int virtio_pci_init(struct virtio_dev *vd, struct pci_host *host, struct bus *bus, const char *name,
                    uint16_t device_id, uint32_t class_code, unsigned nqueues, uint16_t queue_max,
                    uint64_t features, const struct virtio_dev_ops *ops, void *opaque, int slot)
{
    if (nqueues == 0 || nqueues > VIRTIO_MAX_QUEUES || queue_max == 0 ||
        (queue_max & (queue_max - 1)) || queue_max > VIRTQ_MAX_SIZE)
        return -1;
    memset(vd, 0, sizeof(*vd));
    vd->bus = bus;
    vd->ops = ops;
    vd->opaque = opaque;
    vd->name = name;
    vd->device_id = device_id;
    vd->host_features = features | VIRTIO_F_VERSION_1;
    vd->nqueues = nqueues;
    vd->queue_max = queue_max;
    pthread_mutex_init(&vd->lock, NULL);
    for (unsigned k = 0; k < nqueues; k++)
        virtq_init(&vd->vq[k], bus);

    struct pci_device *d = &vd->pci;
    pci_device_init(d, name, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + device_id),
                    class_code, 1, NULL, vd);
    pci_device_set_subsystem(d, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + device_id));
    pci_device_set_interrupt_pin(d, 1);
    if (pci_device_add_bar(d, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE, false,
                           &virtio_bar_ops, vd) != 0)
        return -1;
    add_cap(vd, 1, VIRTIO_PCI_COMMON, 0x1000, false);     /* common configuration */
    add_cap(vd, 2, VIRTIO_PCI_NOTIFY, 0x1000, true);      /* notifications */
    add_cap(vd, 3, VIRTIO_PCI_ISR, 0x1000, false);        /* ISR status */
    add_cap(vd, 4, VIRTIO_PCI_DEVICE_CFG, 0x1000, false); /* device-specific configuration */
    if (!pci_msix_init(d, nqueues + 1, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_BAR,
                       VIRTIO_PCI_MSIX_PBA))
        return -1;
    virtio_reset(vd);
    if (pci_host_register(host, d, slot) < 0) {
        log_error("virtio: no PCI slot for %s", name);
        return -1;
    }
    return 0;
}

void virtio_pci_destroy(struct virtio_dev *vd)
{
    pci_device_destroy(&vd->pci);
    pthread_mutex_destroy(&vd->lock);
}

static void raise_interrupt(struct virtio_dev *vd, uint16_t vector, uint8_t isr_bit)
{
    if (pci_msix_enabled(&vd->pci)) {
        if (vector != VIRTIO_MSI_NO_VECTOR) pci_msix_notify(&vd->pci, vector);
        return;
    }
    pthread_mutex_lock(&vd->lock);
    vd->isr |= isr_bit;
    pthread_mutex_unlock(&vd->lock);
    pci_device_set_irq(&vd->pci, 1);
}

void virtio_queue_notify(struct virtio_dev *vd, unsigned q)
{
    if (q >= vd->nqueues) return;
    pthread_mutex_lock(&vd->lock);
    bool want = virtq_need_interrupt(&vd->vq[q]);
    uint16_t vector = vd->vq[q].msix_vector;
    pthread_mutex_unlock(&vd->lock);
    if (want) raise_interrupt(vd, vector, 1);
}

void virtio_config_notify(struct virtio_dev *vd)
{
    pthread_mutex_lock(&vd->lock);
    vd->config_generation++;
    pthread_mutex_unlock(&vd->lock);
    if (vd->status & VIRTIO_STATUS_DRIVER_OK) raise_interrupt(vd, vd->config_msix, 2);
}

void virtio_set_needs_reset(struct virtio_dev *vd)
{
    if (vd->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    vd->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    log_warn("virtio: %s needs reset", vd->name);
    virtio_config_notify(vd);
}

void virtio_pci_save(struct virtio_dev *vd, struct state_writer *w)
{
    pci_device_save(&vd->pci, w);
    state_put_u64(w, vd->guest_features);
    state_put_u32(w, vd->dfselect);
    state_put_u32(w, vd->gfselect);
    state_put_u8(w, vd->status);
    state_put_u8(w, vd->config_generation);
    state_put_u16(w, vd->config_msix);
    state_put_u16(w, vd->queue_sel);
    state_put_u8(w, vd->isr);
    state_put_u8(w, (uint8_t)vd->nqueues);
    for (unsigned k = 0; k < vd->nqueues; k++)
        virtq_save(&vd->vq[k], w);
}

int virtio_pci_load(struct virtio_dev *vd, struct state_reader *r)
{
    if (pci_device_load(&vd->pci, r) != 0) return -1;
    vd->guest_features = state_get_u64(r);
    vd->dfselect = state_get_u32(r);
    vd->gfselect = state_get_u32(r);
    vd->status = state_get_u8(r);
    vd->config_generation = state_get_u8(r);
    vd->config_msix = state_get_u16(r);
    vd->queue_sel = state_get_u16(r);
    vd->isr = state_get_u8(r);
    unsigned n = state_get_u8(r);
    if (!state_ok(r) || n != vd->nqueues || (vd->guest_features & ~vd->host_features)) {
        log_error("virtio: %s: saved state does not match this device", vd->name);
        return -1;
    }
    for (unsigned k = 0; k < n; k++)
        if (virtq_load(&vd->vq[k], r) != 0) return -1;
    return 0;
}
