/* virtio_rng.c — the entropy device. Requests are tiny and getrandom() does not block once the
 * host pool is initialised, so they are served right on the notifying vCPU thread; a guest
 * asking for huge buffers gets at most RNG_MAX_PER_REQUEST bytes per request. */
#include "virtio_rng.h"

#include <stdlib.h>
#include <sys/random.h>

#include "vessel/state.h"
#include "virtio/virtio_pci.h"

#define RNG_QUEUE_SIZE      64
#define RNG_MAX_PER_REQUEST 4096

struct virtio_rng {
    struct virtio_dev vd;
    struct virtq_elem elem;
};

static void rng_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_rng *r = vd->opaque;
    struct virtq *vq = &vd->vq[q];
    int got;
    while ((got = virtq_pop(vq, &r->elem)) == 1) {
        uint8_t buf[RNG_MAX_PER_REQUEST];
        uint64_t want = r->elem.in_len < sizeof(buf) ? r->elem.in_len : sizeof(buf);
        ssize_t n = want ? getrandom(buf, want, 0) : 0;
        if (n < 0) n = 0;
        uint64_t done = virtq_copy_to_in(&r->elem, 0, buf, (uint64_t)n);
        virtq_push(vq, &r->elem, (uint32_t)done);
    }
    if (got < 0) virtio_set_needs_reset(vd);
    virtio_queue_notify(vd, q);
}

static const struct virtio_dev_ops rng_ops = {.queue_notify = rng_notify};

struct virtio_rng *virtio_rng_create(struct pci_host *host, struct bus *bus)
{
    struct virtio_rng *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    struct virtio_pci_settings s = {
        .dev = {.name = "virtio-rng",
                .device_id = VIRTIO_ID_RNG,
                .nqueues = 1,
                .queue_max = RNG_QUEUE_SIZE,
                .features = VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX,
                .ops = &rng_ops,
                .opaque = r},
        .class_code = 0x00ff00,
        .slot = -1,
    };
    if (virtio_pci_init(&r->vd, host, bus, &s) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
    if (!r) return;
    virtio_pci_destroy(&r->vd);
    free(r);
}

/* Section "virtio-rng": the transport (virtio_pci_state). */
static const struct state_field virtio_rng_fields[] = {
    STATE_STRUCT(struct virtio_rng, vd, &virtio_pci_state),
};
static const struct state_desc virtio_rng_desc =
    STATE_DESC(struct virtio_rng, virtio_rng_fields, NULL);

void virtio_rng_save(struct virtio_rng *r, struct state_writer *w)
{
    state_save_section(w, "virtio-rng", 1, &virtio_rng_desc, r, NULL);
}

int virtio_rng_load(struct virtio_rng *r, struct state_reader *rd)
{
    struct virtio_pci_state_ctx x; /* the transport half, until the commit */
    int rc = state_load_section(rd, "virtio-rng", 1, &virtio_rng_desc, r, &x);
    if (rc == 0 && state_committing(rd)) virtio_pci_state_loaded(&r->vd);
    return rc;
}
