/* virtio_console.c — the hvc0 device: transmit-queue buffers go to the sink as they are
 * kicked; receive buffers are filled from virtio_console_receive, one input burst per buffer. */
#include "virtio_console.h"

#include <stdlib.h>

#include "vessel/state.h"
#include "virtio/virtio_pci.h"

#define CON_QUEUE_SIZE 64
#define RXQ            0
#define TXQ            1

struct virtio_console {
    struct virtio_dev vd;
    virtio_console_sink sink;
    void *sink_opaque;
    uint8_t config[12]; /* cols, rows, max_nr_ports, emerg_wr */
    struct virtq_elem elem;
};

static void con_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_console *c = vd->opaque;
    if (q != TXQ)
        return; /* new receive buffers: the main loop offers input again on its next turn */
    struct virtq *vq = &vd->vq[TXQ];
    int got;
    while ((got = virtq_pop(vq, &c->elem)) == 1) {
        for (unsigned k = 0; k < c->elem.nout; k++)
            c->sink(c->sink_opaque, c->elem.out[k].iov_base, c->elem.out[k].iov_len);
        virtq_push(vq, &c->elem, 0);
    }
    if (got < 0) virtio_set_needs_reset(vd);
    virtio_queue_notify(vd, TXQ);
}

static uint64_t con_config_read(struct virtio_dev *vd, uint64_t off, unsigned size)
{
    struct virtio_console *c = vd->opaque;
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(c->config)) v |= (uint64_t)c->config[off + k] << (8 * k);
    return v;
}

static void con_config_write(struct virtio_dev *vd, uint64_t off, uint64_t value, unsigned size)
{
    struct virtio_console *c = vd->opaque;
    /* emerg_wr: a character written before the queues work (early console) */
    if (off == 8 && size == 4) {
        uint8_t ch = (uint8_t)value;
        c->sink(c->sink_opaque, &ch, 1);
    }
}

static const struct virtio_dev_ops con_ops = {
    .queue_notify = con_notify,
    .config_read = con_config_read,
    .config_write = con_config_write,
};

#define VIRTIO_CONSOLE_F_EMERG_WRITE (1ull << 2)

struct virtio_console *virtio_console_create(struct pci_host *host, struct bus *bus,
                                             virtio_console_sink sink, void *opaque)
{
    struct virtio_console *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->sink = sink;
    c->sink_opaque = opaque;
    c->config[0] = 80; /* cols */
    c->config[2] = 25; /* rows */
    c->config[4] = 1;  /* max_nr_ports */
    struct virtio_pci_settings s = {
        .dev = {.name = "virtio-console",
                .device_id = VIRTIO_ID_CONSOLE,
                .nqueues = 2,
                .queue_max = CON_QUEUE_SIZE,
                .features =
                    VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_CONSOLE_F_EMERG_WRITE,
                .ops = &con_ops,
                .opaque = c},
        .class_code = 0x078000,
        .slot = -1,
    };
    if (virtio_pci_init(&c->vd, host, bus, &s) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void virtio_console_destroy(struct virtio_console *c)
{
    if (!c) return;
    virtio_pci_destroy(&c->vd);
    free(c);
}

size_t virtio_console_receive(struct virtio_console *c, const uint8_t *buf, size_t len)
{
    if (!virtio_driver_ok(&c->vd) || len == 0) return 0;
    struct virtq *q = &c->vd.vq[RXQ];
    size_t done = 0;
    while (done < len) {
        int got = virtq_pop(q, &c->elem);
        if (got < 0) virtio_set_needs_reset(&c->vd);
        if (got != 1) break;
        uint64_t n = virtq_copy_to_in(&c->elem, 0, buf + done, len - done);
        virtq_push(q, &c->elem, (uint32_t)n);
        done += n;
        if (n == 0) break; /* a zero-sized buffer: nothing more will fit this turn */
    }
    if (done) virtio_queue_notify(&c->vd, RXQ);
    return done;
}

/* Section "virtio-console": the transport (virtio_pci_state). */
static const struct state_field virtio_console_fields[] = {
    STATE_STRUCT(struct virtio_console, vd, &virtio_pci_state),
};
static const struct state_desc virtio_console_desc =
    STATE_DESC(struct virtio_console, virtio_console_fields, NULL);

void virtio_console_save(struct virtio_console *c, struct state_writer *w)
{
    state_save_section(w, "virtio-console", 1, &virtio_console_desc, c, NULL);
}

int virtio_console_load(struct virtio_console *c, struct state_reader *r)
{
    struct virtio_pci_state_ctx x; /* the transport half, until the commit */
    int rc = state_load_section(r, "virtio-console", 1, &virtio_console_desc, c, &x);
    if (rc == 0 && state_committing(r)) virtio_pci_state_loaded(&c->vd);
    return rc;
}
