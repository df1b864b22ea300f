/* virtio.c — the transport-neutral part of a virtio device (virtio.h): status and feature
 * negotiation as the spec's driver initialisation sequence expects it (§3.1), queue enabling
 * with validation, reset, and interrupt requests handed to the transport. */
#include "virtio/virtio.h"

#include <string.h>

#include "vessel/log.h"

int virtio_dev_init(struct virtio_dev *vd, struct bus *bus, const struct virtio_dev_settings *s)
{
    if (s->nqueues == 0 || s->nqueues > VIRTIO_MAX_QUEUES || s->queue_max == 0 ||
        (s->queue_max & (s->queue_max - 1)) || s->queue_max > VIRTQ_MAX_SIZE)
        return -1;
    memset(vd, 0, sizeof(*vd));
    vd->bus = bus;
    vd->ops = s->ops;
    vd->opaque = s->opaque;
    vd->name = s->name;
    vd->device_id = s->device_id;
    vd->host_features = s->features | VIRTIO_F_VERSION_1;
    vd->nqueues = s->nqueues;
    vd->queue_max = s->queue_max;
    pthread_mutex_init(&vd->lock, NULL);
    for (unsigned k = 0; k < s->nqueues; k++)
        virtq_init(&vd->vq[k], bus);
    return 0;
}

void virtio_dev_fini(struct virtio_dev *vd)
{
    pthread_mutex_destroy(&vd->lock);
}

void virtio_dev_reset(struct virtio_dev *vd)
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
    pthread_mutex_unlock(&vd->lock);
    if (vd->transport_ops && vd->transport_ops->reset) vd->transport_ops->reset(vd->transport);
}

void virtio_dev_set_status(struct virtio_dev *vd, uint8_t v)
{
    if (v == 0) {
        virtio_dev_reset(vd);
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

void virtio_dev_set_guest_features(struct virtio_dev *vd, unsigned sel, uint32_t value)
{
    if (sel >= 2 || (vd->status & VIRTIO_STATUS_FEATURES_OK)) return;
    unsigned sh = 32 * sel;
    vd->guest_features = (vd->guest_features & ~(0xffffffffull << sh)) | ((uint64_t)value << sh);
}

uint32_t virtio_dev_host_features(const struct virtio_dev *vd, unsigned sel)
{
    return sel < 2 ? (uint32_t)(vd->host_features >> (32 * sel)) : 0;
}

void virtio_dev_queue_enable(struct virtio_dev *vd, unsigned q)
{
    struct virtq *vq = q < vd->nqueues ? &vd->vq[q] : NULL;
    if (!vq || vq->ready) return;
    if (vq->size > vd->queue_max || !virtq_validate(vq))
        virtio_set_needs_reset(vd);
    else
        vq->ready = true;
}

void virtio_dev_queue_kick(struct virtio_dev *vd, unsigned q)
{
    if (q < vd->nqueues && vd->vq[q].ready && virtio_driver_ok(vd) && vd->ops->queue_notify)
        vd->ops->queue_notify(vd, q);
}

uint8_t virtio_dev_take_isr(struct virtio_dev *vd)
{
    pthread_mutex_lock(&vd->lock);
    uint8_t isr = vd->isr;
    vd->isr = 0;
    pthread_mutex_unlock(&vd->lock);
    return isr;
}

void virtio_queue_notify(struct virtio_dev *vd, unsigned q)
{
    if (q >= vd->nqueues) return;
    pthread_mutex_lock(&vd->lock);
    bool want = virtq_need_interrupt(&vd->vq[q]);
    pthread_mutex_unlock(&vd->lock);
    if (want) vd->transport_ops->interrupt(vd->transport, (int)q);
}

void virtio_config_notify(struct virtio_dev *vd)
{
    pthread_mutex_lock(&vd->lock);
    vd->config_generation++;
    pthread_mutex_unlock(&vd->lock);
    if (vd->status & VIRTIO_STATUS_DRIVER_OK)
        vd->transport_ops->interrupt(vd->transport, VIRTIO_CONFIG_IRQ);
}

void virtio_set_needs_reset(struct virtio_dev *vd)
{
    if (vd->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    vd->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    log_warn("virtio: %s needs reset", vd->name);
    virtio_config_notify(vd);
}
