/* virtio_pci.c — the modern virtio PCI transport of virtio_pci.h, over the transport-neutral
 * device of virtio.h. The common configuration window is served from a little-endian image of
 * the registers: reads slice it, writes patch it and then apply each register the write
 * overlapped, so any access width the driver uses (Linux writes 64-bit queue addresses as two
 * 32-bit halves) behaves the same. */
#include "virtio_pci.h"

#include <stdlib.h>
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

static void common_image(struct virtio_pci *vp, uint8_t img[CC_SIZE])
{
    struct virtio_dev *vd = vp->vd;
    memset(img, 0, CC_SIZE);
    put(img, CC_DFSELECT, vd->dfselect, 4);
    put(img, CC_DF, virtio_dev_host_features(vd, vd->dfselect), 4);
    put(img, CC_GFSELECT, vd->gfselect, 4);
    put(img, CC_GF, vd->gfselect < 2 ? (uint32_t)(vd->guest_features >> (32 * vd->gfselect)) : 0,
        4);
    put(img, CC_MSIX, vp->config_msix, 2);
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

/* After the device reset: the transport's own register and interrupt line. */
static void vp_reset(void *opaque)
{
    struct virtio_pci *vp = opaque;
    vp->config_msix = VIRTIO_MSI_NO_VECTOR;
    pci_device_set_irq(&vp->pci, 0);
}

static uint16_t checked_vector(struct virtio_pci *vp, uint64_t v)
{
    return v < vp->pci.msix.nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void apply_field(struct virtio_pci *vp, unsigned off, uint64_t v)
{
    struct virtio_dev *vd = vp->vd;
    struct virtq *q = selected(vd);
    switch (off) {
    case CC_DFSELECT: vd->dfselect = (uint32_t)v; break;
    case CC_GFSELECT: vd->gfselect = (uint32_t)v; break;
    case CC_GF: virtio_dev_set_guest_features(vd, vd->gfselect, (uint32_t)v); break;
    case CC_MSIX: vp->config_msix = checked_vector(vp, v); break;
    case CC_STATUS: virtio_dev_set_status(vd, (uint8_t)v); break;
    case CC_QSEL: vd->queue_sel = (uint16_t)v; break;
    case CC_QSIZE:
        /* a power of two no larger than the maximum; anything else is refused at enable */
        if (q && !q->ready) q->size = (uint16_t)v;
        break;
    case CC_QMSIX:
        if (q) q->msix_vector = checked_vector(vp, v);
        break;
    case CC_QENABLE:
        if (q && v == 1) virtio_dev_queue_enable(vd, vd->queue_sel);
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

static void common_write(struct virtio_pci *vp, uint64_t off, uint64_t v, unsigned size)
{
    if (off >= CC_SIZE || off + size > CC_SIZE) return;
    uint8_t img[CC_SIZE];
    common_image(vp, img);
    put(img, (unsigned)off, v, size);
    for (size_t k = 0; k < sizeof(cc_fields) / sizeof(cc_fields[0]); k++) {
        unsigned fo = cc_fields[k].off, fs = cc_fields[k].size;
        if (fo < off + size && off < fo + fs) apply_field(vp, fo, get(img, fo, fs));
    }
}

static uint64_t bar_read(void *opaque, uint64_t off, unsigned size)
{
    struct virtio_pci *vp = opaque;
    struct virtio_dev *vd = vp->vd;
    if (off < VIRTIO_PCI_ISR) {
        if (off + size > CC_SIZE) return 0;
        uint8_t img[CC_SIZE];
        common_image(vp, img);
        return get(img, (unsigned)off, size);
    }
    if (off < VIRTIO_PCI_DEVICE_CFG) {
        if (off != VIRTIO_PCI_ISR) return 0;
        uint8_t isr = virtio_dev_take_isr(vd);
        pci_device_set_irq(&vp->pci, 0);
        return isr;
    }
    if (off < VIRTIO_PCI_NOTIFY)
        return vd->ops->config_read ? vd->ops->config_read(vd, off - VIRTIO_PCI_DEVICE_CFG, size)
                                    : 0;
    if (off >= VIRTIO_PCI_MSIX_TABLE && off < VIRTIO_PCI_MSIX_PBA)
        return pci_msix_table_read(&vp->pci, off - VIRTIO_PCI_MSIX_TABLE, size);
    if (off >= VIRTIO_PCI_MSIX_PBA && off < VIRTIO_PCI_MSIX_PBA + 0x1000)
        return pci_msix_pba_read(&vp->pci, off - VIRTIO_PCI_MSIX_PBA, size);
    return 0;
}

static void bar_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct virtio_pci *vp = opaque;
    struct virtio_dev *vd = vp->vd;
    if (off < VIRTIO_PCI_ISR) {
        common_write(vp, off, v, size);
    } else if (off >= VIRTIO_PCI_DEVICE_CFG && off < VIRTIO_PCI_NOTIFY) {
        if (vd->ops->config_write) vd->ops->config_write(vd, off - VIRTIO_PCI_DEVICE_CFG, v, size);
    } else if (off >= VIRTIO_PCI_NOTIFY && off < VIRTIO_PCI_NOTIFY + 0x1000) {
        uint64_t q = (off - VIRTIO_PCI_NOTIFY) / VIRTIO_PCI_NOTIFY_MUL;
        if (q < vd->nqueues) virtio_dev_queue_kick(vd, (unsigned)q);
    } else if (off >= VIRTIO_PCI_MSIX_TABLE && off < VIRTIO_PCI_MSIX_PBA) {
        pci_msix_table_write(&vp->pci, off - VIRTIO_PCI_MSIX_TABLE, v, size);
    }
}

static const struct io_ops virtio_bar_ops = {bar_read, bar_write};

static void add_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length,
                    bool notify)
{
    unsigned at = pci_device_add_capability(&vp->pci, PCI_CAP_ID_VNDR, notify ? 20 : 16);
    if (!at) return;
    pci_set8(&vp->pci, at + 2, notify ? 20 : 16);
    pci_set8(&vp->pci, at + 3, type);
    pci_set8(&vp->pci, at + 4, VIRTIO_PCI_BAR);
    pci_set32(&vp->pci, at + 8, offset);
    pci_set32(&vp->pci, at + 12, length);
    if (notify) pci_set32(&vp->pci, at + 16, VIRTIO_PCI_NOTIFY_MUL);
}

/* The device asked to interrupt the driver for queue q (or its configuration). */
static void vp_interrupt(void *opaque, int q)
{
    struct virtio_pci *vp = opaque;
    struct virtio_dev *vd = vp->vd;
    uint16_t vector = q < 0 ? vp->config_msix : vd->vq[q].msix_vector;
    if (pci_msix_enabled(&vp->pci)) {
        if (vector != VIRTIO_MSI_NO_VECTOR) pci_msix_notify(&vp->pci, vector);
        return;
    }
    pthread_mutex_lock(&vd->lock);
    vd->isr |= q < 0 ? VIRTIO_ISR_CONFIG : VIRTIO_ISR_QUEUE;
    pthread_mutex_unlock(&vd->lock);
    pci_device_set_irq(&vp->pci, 1);
}

static const struct virtio_transport_ops vp_transport_ops = {.interrupt = vp_interrupt,
                                                             .reset = vp_reset};

static int vp_setup(struct virtio_pci *vp, struct pci_host *host,
                    const struct virtio_pci_settings *s)
{
    struct virtio_dev *vd = vp->vd;
    uint16_t pci_id = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + vd->device_id);
    struct pci_device *d = &vp->pci;
    pci_device_init(d, vd->name, VIRTIO_PCI_VENDOR, pci_id, s->class_code, 1, NULL, vp);
    pci_device_set_subsystem(d, VIRTIO_PCI_VENDOR, pci_id);
    pci_device_set_interrupt_pin(d, 1);
    if (pci_device_add_bar(d, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE, false,
                           &virtio_bar_ops, vp) != 0)
        return -1;
    add_cap(vp, 1, VIRTIO_PCI_COMMON, 0x1000, false);     /* common configuration */
    add_cap(vp, 2, VIRTIO_PCI_NOTIFY, 0x1000, true);      /* notifications */
    add_cap(vp, 3, VIRTIO_PCI_ISR, 0x1000, false);        /* ISR status */
    add_cap(vp, 4, VIRTIO_PCI_DEVICE_CFG, 0x1000, false); /* device-specific configuration */
    if (!pci_msix_init(d, vd->nqueues + 1, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_BAR,
                       VIRTIO_PCI_MSIX_PBA))
        return -1;
    virtio_dev_reset(vd);
    if (pci_host_register(host, d, s->slot) < 0) {
        log_error("virtio: no PCI slot for %s", vd->name);
        return -1;
    }
    return 0;
}

int virtio_pci_init(struct virtio_dev *vd, struct pci_host *host, struct bus *bus,
                    const struct virtio_pci_settings *s)
{
    if (virtio_dev_init(vd, bus, &s->dev) != 0) return -1;
    struct virtio_pci *vp = calloc(1, sizeof(*vp));
    if (!vp) return -1;
    vp->vd = vd;
    vd->transport_ops = &vp_transport_ops;
    vd->transport = vp;
    if (vp_setup(vp, host, s) != 0) {
        vd->transport = NULL;
        free(vp);
        return -1;
    }
    return 0;
}

void virtio_pci_destroy(struct virtio_dev *vd)
{
    struct virtio_pci *vp = vd->transport;
    pci_device_destroy(&vp->pci);
    free(vp);
    virtio_dev_fini(vd);
}

/* The transport inside a device's section: the PCI function (pci_device_state); u64 guest
 * features (a subset of ours); u32 device and guest feature selectors; u8 status, config
 * generation; u16 config MSI-X vector, queue select; u8 ISR; u8 n queues (must match this
 * device), then each queue (virtq_state). The table describes struct virtio_dev; the PCI
 * function and the config vector live in the transport (vd->transport), decoded into the
 * caller's struct virtio_pci_state_ctx until the commit. */
static void virtio_put_pci(struct state_writer *w, const void *obj, void *ctx)
{
    struct virtio_pci *vp = ((const struct virtio_dev *)obj)->transport;
    pthread_mutex_lock(&vp->pci.lock);
    state_save_fields(w, &pci_device_state, &vp->pci, ctx);
    pthread_mutex_unlock(&vp->pci.lock);
}
static const char *virtio_get_pci(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)tmp;
    struct virtio_pci *vp = ((const struct virtio_dev *)live)->transport;
    struct virtio_pci_state_ctx *x = ctx;
    pthread_mutex_lock(&vp->pci.lock);
    memcpy(&x->tmp, vp, sizeof(x->tmp));
    pthread_mutex_unlock(&vp->pci.lock);
    return state_load_fields(r, &pci_device_state, &x->tmp.pci, &vp->pci, ctx);
}
static void virtio_commit_pci(void *live, const void *tmp, void *ctx)
{
    (void)tmp;
    struct virtio_pci *vp = ((struct virtio_dev *)live)->transport;
    struct virtio_pci_state_ctx *x = ctx;
    pthread_mutex_lock(&vp->pci.lock);
    state_commit_fields(&pci_device_state, &vp->pci, &x->tmp.pci, ctx);
    vp->config_msix = x->tmp.config_msix;
    pthread_mutex_unlock(&vp->pci.lock);
}
static void virtio_put_config_msix(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    state_put_u16(
        w, ((const struct virtio_pci *)((const struct virtio_dev *)obj)->transport)->config_msix);
}
static const char *virtio_get_config_msix(struct state_reader *r, void *tmp, const void *live,
                                          void *ctx)
{
    (void)tmp;
    (void)live;
    ((struct virtio_pci_state_ctx *)ctx)->tmp.config_msix = state_get_u16(r);
    return NULL; /* committed with the PCI function */
}
static void virtio_put_queues(struct state_writer *w, const void *obj, void *ctx)
{
    const struct virtio_dev *vd = obj;
    state_put_u8(w, (uint8_t)vd->nqueues);
    for (unsigned k = 0; k < vd->nqueues; k++)
        state_save_fields(w, &virtq_state, &vd->vq[k], ctx);
}
static const char *virtio_get_queues(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    struct virtio_dev *t = tmp;
    const struct virtio_dev *vd = live;
    if (state_get_u8(r) != vd->nqueues) return "the number of queues differs from this device's";
    for (unsigned k = 0; k < vd->nqueues; k++) {
        const char *why = state_load_fields(r, &virtq_state, &t->vq[k], &vd->vq[k], ctx);
        if (why) return why;
    }
    return NULL;
}
static void virtio_commit_queues(void *live, const void *tmp, void *ctx)
{
    struct virtio_dev *vd = live;
    for (unsigned k = 0; k < vd->nqueues; k++)
        state_commit_fields(&virtq_state, &vd->vq[k], &((const struct virtio_dev *)tmp)->vq[k],
                            ctx);
}
static const char *virtio_state_check(const void *tmp, const void *live, void *ctx)
{
    (void)ctx;
    const struct virtio_dev *vd = live;
    if (((const struct virtio_dev *)tmp)->guest_features & ~vd->host_features)
        return "guest features this device does not offer";
    return NULL;
}
static const struct state_field virtio_pci_fields[] = {
    STATE_CUSTOM("pci", virtio_put_pci, virtio_get_pci, virtio_commit_pci),
    STATE_U64(struct virtio_dev, guest_features),
    STATE_U32(struct virtio_dev, dfselect),
    STATE_U32(struct virtio_dev, gfselect),
    STATE_U8(struct virtio_dev, status),
    STATE_U8(struct virtio_dev, config_generation),
    STATE_CUSTOM("config_msix", virtio_put_config_msix, virtio_get_config_msix, NULL),
    STATE_U16(struct virtio_dev, queue_sel),
    STATE_U8(struct virtio_dev, isr),
    STATE_CUSTOM("queues", virtio_put_queues, virtio_get_queues, virtio_commit_queues),
};
const struct state_desc virtio_pci_state =
    STATE_DESC(struct virtio_dev, virtio_pci_fields, virtio_state_check);

void virtio_pci_state_loaded(struct virtio_dev *vd)
{
    pci_device_state_loaded(&((struct virtio_pci *)vd->transport)->pci);
}
