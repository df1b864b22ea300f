/* virtio_net.c — the network device. All queue work happens on the back-end's thread: frames
 * from the network are written into receive buffers there, and a guest kick on either queue
 * just wakes that thread, which drains the transmit queue and retries frames that found no
 * receive buffer. A short FIFO holds those until the guest posts buffers.
 *
 * Rate limits (util/ratelimit.h, "net:rx" and "net:tx": bytes and packets): a transmitted frame
 * the limiter holds back stays in txbuf and the queue is not popped further, so the guest's
 * own queue fills and it waits; a received frame waits in the FIFO. Either way the back-end
 * thread's timer (net_backend_wake_at) resumes the work when the tokens are due. */
#include "virtio_net.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/net.h"
#include "util/ratelimit.h"
#include "vessel/clock.h"
#include "vessel/log.h"
#include "vessel/state.h"
#include "virtio/virtio_pci.h"

#define NET_QUEUE_SIZE 256
#define NET_HDR_LEN    12 /* struct virtio_net_hdr_v1 */
#define NET_MAX_FRAME  (65536 + 14)
#define NET_PENDING    64
#define RXQ            0
#define TXQ            1

#define VIRTIO_NET_F_MAC     (1ull << 5)
#define VIRTIO_NET_F_STATUS  (1ull << 16)
#define VIRTIO_NET_S_LINK_UP 1

struct pending_frame {
    size_t len;
    uint8_t *data;
    bool paid; /* its receive tokens are taken (it waits for a buffer, not the limiter) */
};

struct virtio_net {
    struct virtio_dev vd;
    struct net_backend *nb;
    uint8_t config[12];
    pthread_mutex_t lock; /* queues vs. reset from the vCPU thread */
    bool paused;
    bool held; /* the VM is paused: frames neither arrive nor leave (virtio_net_set_running) */
    struct pending_frame pending[NET_PENDING];
    unsigned phead, pcount;
    struct virtq_elem rx_elem, tx_elem;
    uint8_t txbuf[NET_HDR_LEN + NET_MAX_FRAME];
    uint64_t rx_dropped, tx_dropped;
    struct ratelimit *rl_rx, *rl_tx;
    size_t tx_waiting; /* bytes in txbuf (header included) waiting for the limiter; 0: none */
};

/* Tokens for one frame, or the back-end's timer armed for when they are due. */
static bool net_admit(struct virtio_net *n, struct ratelimit *rl, size_t len)
{
    uint64_t wait;
    if (ratelimit_consume(rl, len, 1, &wait)) return true;
    net_backend_wake_at(n->nb, clock_ns() + wait);
    return false;
}

/* Put one frame into a receive buffer; false if the guest has none available. */
static bool deliver(struct virtio_net *n, const uint8_t *frame, size_t len)
{
    struct virtq *q = &n->vd.vq[RXQ];
    int got = virtq_pop(q, &n->rx_elem);
    if (got < 0) virtio_set_needs_reset(&n->vd);
    if (got != 1) return false;
    uint8_t hdr[NET_HDR_LEN] = {0};
    hdr[10] = 1; /* num_buffers */
    uint32_t written = 0;
    if (n->rx_elem.in_len >= NET_HDR_LEN + len) {
        virtq_copy_to_in(&n->rx_elem, 0, hdr, NET_HDR_LEN);
        virtq_copy_to_in(&n->rx_elem, NET_HDR_LEN, frame, len);
        written = (uint32_t)(NET_HDR_LEN + len);
    } else {
        n->rx_dropped++; /* buffer smaller than the frame: the driver broke its promise */
    }
    virtq_push(q, &n->rx_elem, written);
    virtio_queue_notify(&n->vd, RXQ);
    return true;
}

static void flush_pending(struct virtio_net *n)
{
    while (n->pcount) {
        struct pending_frame *f = &n->pending[n->phead];
        if (!f->paid && !net_admit(n, n->rl_rx, f->len)) return;
        f->paid = true;
        if (!deliver(n, f->data, f->len)) return;
        free(f->data);
        n->phead = (n->phead + 1) % NET_PENDING;
        n->pcount--;
    }
}

static void drop_pending(struct virtio_net *n)
{
    while (n->pcount) {
        free(n->pending[n->phead].data);
        n->phead = (n->phead + 1) % NET_PENDING;
        n->pcount--;
    }
}

static bool net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct virtio_net *n = opaque;
    bool ok = true;
    pthread_mutex_lock(&n->lock);
    if (n->paused || n->held || !virtio_driver_ok(&n->vd)) {
        ok = false;
    } else {
        flush_pending(n);
        bool paid = false;
        if (n->pcount || !(paid = net_admit(n, n->rl_rx, len)) || !deliver(n, frame, len)) {
            uint8_t *copy = n->pcount < NET_PENDING ? malloc(len) : NULL;
            if (copy) {
                memcpy(copy, frame, len);
                n->pending[(n->phead + n->pcount) % NET_PENDING] =
                    (struct pending_frame){len, copy, paid};
                n->pcount++;
            } else {
                n->rx_dropped++;
                ok = false;
            }
        }
    }
    pthread_mutex_unlock(&n->lock);
    return ok;
}

/* The lock is dropped around each send: libslirp answers some frames (ARP, DHCP) from
 * inside slirp_input, re-entering net_receive on this same thread. */
static void net_tx_ready(void *opaque)
{
    struct virtio_net *n = opaque;
    struct virtq *q = &n->vd.vq[TXQ];
    for (;;) {
        if (n->tx_waiting) {
            pthread_mutex_lock(&n->lock);
            bool held = n->held; /* paused: it leaves after the resume's kick */
            pthread_mutex_unlock(&n->lock);
            if (held) return;
            if (!net_admit(n, n->rl_tx, n->tx_waiting - NET_HDR_LEN)) {
                pthread_mutex_lock(&n->lock); /* received frames may still go in meanwhile */
                if (!n->paused && !n->held && virtio_driver_ok(&n->vd)) flush_pending(n);
                pthread_mutex_unlock(&n->lock);
                return;
            }
            size_t waiting = n->tx_waiting;
            n->tx_waiting = 0;
            net_backend_send(n->nb, n->txbuf + NET_HDR_LEN, waiting - NET_HDR_LEN);
        }
        pthread_mutex_lock(&n->lock);
        int got = 0;
        uint64_t len = 0;
        if (!n->paused && !n->held && virtio_driver_ok(&n->vd)) {
            got = virtq_pop(q, &n->tx_elem);
            if (got == 1) {
                len = virtq_copy_from_out(&n->tx_elem, 0, n->txbuf, sizeof(n->txbuf));
                if (len <= NET_HDR_LEN || n->tx_elem.out_len > sizeof(n->txbuf)) {
                    n->tx_dropped++;
                    len = 0;
                }
                virtq_push(q, &n->tx_elem, 0);
            } else if (got < 0) {
                virtio_set_needs_reset(&n->vd);
            }
            virtio_queue_notify(&n->vd, TXQ);
        }
        if (got != 1) {
            if (!n->paused && !n->held && virtio_driver_ok(&n->vd)) flush_pending(n);
            pthread_mutex_unlock(&n->lock);
            return;
        }
        pthread_mutex_unlock(&n->lock);
        n->tx_waiting = (size_t)len; /* sent at the top of the loop, when the limiter allows */
    }
}

static void net_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_net *n = vd->opaque;
    net_backend_kick(n->nb);
}

static void net_reset(struct virtio_dev *vd)
{
    struct virtio_net *n = vd->opaque;
    pthread_mutex_lock(&n->lock);
    n->paused = true;
    drop_pending(n);
    pthread_mutex_unlock(&n->lock);
}

static void net_driver_ok(struct virtio_dev *vd)
{
    struct virtio_net *n = vd->opaque;
    pthread_mutex_lock(&n->lock);
    n->paused = false;
    pthread_mutex_unlock(&n->lock);
    net_backend_kick(n->nb);
}

void virtio_net_set_running(struct virtio_net *n, bool running)
{
    pthread_mutex_lock(&n->lock);
    n->held = !running;
    pthread_mutex_unlock(&n->lock);
    if (running) net_backend_kick(n->nb); /* what the guest queued to send meanwhile */
}

static bool net_rx_blocked(void *opaque)
{
    struct virtio_net *n = opaque;
    pthread_mutex_lock(&n->lock);
    bool blocked = n->pcount > 0;
    pthread_mutex_unlock(&n->lock);
    return blocked;
}

static void net_limits_changed(void *opaque)
{
    struct virtio_net *n = opaque;
    net_backend_kick(n->nb); /* look at waiting frames again now */
}

static uint64_t net_config_read(struct virtio_dev *vd, uint64_t off, unsigned size)
{
    struct virtio_net *n = vd->opaque;
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(n->config)) v |= (uint64_t)n->config[off + k] << (8 * k);
    return v;
}

static const struct virtio_dev_ops net_ops = {
    .queue_notify = net_notify,
    .config_read = net_config_read,
    .reset = net_reset,
    .driver_ok = net_driver_ok,
};

struct virtio_net *virtio_net_create(struct pci_host *host, struct bus *bus, struct net_backend *nb,
                                     const uint8_t mac[6])
{
    struct virtio_net *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->nb = nb;
    n->paused = true;
    memcpy(n->config, mac, 6);
    n->config[6] = VIRTIO_NET_S_LINK_UP;
    n->config[8] = 1; /* max_virtqueue_pairs */
    n->config[10] = 1500 & 0xff;
    n->config[11] = 1500 >> 8;
    pthread_mutex_init(&n->lock, NULL);
    uint64_t features =
        VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
    struct virtio_pci_settings s = {
        .dev = {.name = "virtio-net",
                .device_id = VIRTIO_ID_NET,
                .nqueues = 2,
                .queue_max = NET_QUEUE_SIZE,
                .features = features,
                .ops = &net_ops,
                .opaque = n},
        .class_code = 0x020000,
        .slot = -1,
    };
    if (virtio_pci_init(&n->vd, host, bus, &s) != 0) {
        free(n);
        return NULL;
    }
    n->rl_rx = ratelimit_attach("net:rx", net_limits_changed, n);
    n->rl_tx = ratelimit_attach("net:tx", net_limits_changed, n);
    struct net_client client = {net_receive, net_tx_ready, n, net_rx_blocked};
    if (net_backend_start(nb, &client) != 0) {
        log_error("virtio-net: cannot start the network back-end");
        ratelimit_detach(n->rl_rx);
        ratelimit_detach(n->rl_tx);
        virtio_pci_destroy(&n->vd);
        free(n);
        return NULL;
    }
    return n;
}

void virtio_net_destroy(struct virtio_net *n)
{
    if (!n) return;
    ratelimit_detach(n->rl_rx);
    ratelimit_detach(n->rl_tx);
    drop_pending(n);
    virtio_pci_destroy(&n->vd);
    pthread_mutex_destroy(&n->lock);
    free(n);
}

/* Section "virtio-net.N": the 6-byte MAC, the transport (virtio_pci_state). */
static const struct state_field virtio_net_fields[] = {
    STATE_BYTES_N(struct virtio_net, config, 6, 1, 6),
    STATE_STRUCT(struct virtio_net, vd, &virtio_pci_state),
};
static const struct state_desc virtio_net_desc =
    STATE_DESC(struct virtio_net, virtio_net_fields, NULL);

void virtio_net_save(struct virtio_net *n, struct state_writer *w, const char *name)
{
    pthread_mutex_lock(&n->lock);
    state_save_section(w, name, 1, &virtio_net_desc, n, NULL);
    pthread_mutex_unlock(&n->lock);
}

int virtio_net_load(struct virtio_net *n, struct state_reader *r, const char *name)
{
    pthread_mutex_lock(&n->lock);
    struct virtio_pci_state_ctx x; /* the transport half, until the commit */
    int rc = state_load_section(r, name, 1, &virtio_net_desc, n, &x);
    bool loaded = rc == 0 && state_committing(r);
    if (loaded) {
        drop_pending(n);
        virtio_pci_state_loaded(&n->vd);
        n->paused = !virtio_driver_ok(&n->vd);
    }
    pthread_mutex_unlock(&n->lock);
    if (loaded) net_backend_kick(n->nb);
    return rc;
}
