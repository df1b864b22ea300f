/* virtio_blk.c — the block device. The vCPU thread only signals the I/O thread when the
 * driver kicks the queue; the I/O thread pops requests, performs them on the back-end, pushes
 * completions and interrupts. Every request is checked against the disk size and its own
 * buffers before any byte moves: a bad request gets an error status, a malformed queue puts the
 * device into needs-reset. */
#include "virtio_blk.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/disk.h"
#include "sandbox/sandbox.h"
#include "util/ratelimit.h"
#include "vessel/clock.h"
#include "vessel/log.h"
#include "vessel/state.h"
#include "virtio/virtio_pci.h"

#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX    (BLK_QUEUE_SIZE - 2)
#define SECTOR         512ull

#define VIRTIO_BLK_F_SEG_MAX      (1ull << 2)
#define VIRTIO_BLK_F_RO           (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE     (1ull << 6)
#define VIRTIO_BLK_F_FLUSH        (1ull << 9)
#define VIRTIO_BLK_F_DISCARD      (1ull << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ull << 14)

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2
#define VIRTIO_BLK_ID_BYTES       20

#define MAX_DISCARD_SECTORS (1u << 22)
#define MAX_DISCARD_SEG     32

struct virtio_blk {
    struct virtio_dev vd;
    struct disk_backend *backend;
    char id[VIRTIO_BLK_ID_BYTES];
    uint64_t sectors;
    uint8_t config[60];

    pthread_t thread;
    pthread_mutex_t lock; /* held while the I/O thread works on the queue */
    bool held;            /* the VM is paused: no batch starts (virtio_blk_set_running) */
    pthread_cond_t cond;  /* on CLOCK_MONOTONIC: a throttled queue sleeps until its tokens */
    bool kicked, paused, stop;
    bool throttled; /* elem is popped but waits for the rate limiter */
    struct ratelimit *rl;
    struct virtq_elem elem;
    struct iovec iov[VIRTQ_MAX_SEGS];
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* The data part of a request: out[] after the 16-byte header (writes) or in[] before the
 * trailing status byte (reads), as an iovec array. Returns the byte count. */
static uint64_t data_iov(struct virtio_blk *d, bool write, int *n)
{
    const struct virtq_elem *e = &d->elem;
    uint64_t skip = write ? 16 : 0, total = 0;
    uint64_t limit = write ? e->out_len - 16 : e->in_len - 1;
    const struct iovec *src = write ? e->out : e->in;
    unsigned nsrc = write ? e->nout : e->nin;
    *n = 0;
    for (unsigned k = 0; k < nsrc && total < limit; k++) {
        uint64_t len = src[k].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        uint64_t take = len - skip;
        if (take > limit - total) take = limit - total;
        d->iov[(*n)++] = (struct iovec){(uint8_t *)src[k].iov_base + skip, take};
        total += take;
        skip = 0;
    }
    return total;
}

static bool range_ok(struct virtio_blk *d, uint64_t sector, uint64_t bytes)
{
    return sector <= d->sectors && bytes / SECTOR <= d->sectors - sector;
}

static uint8_t do_discard_or_zero(struct virtio_blk *d, uint32_t type, uint64_t *written)
{
    uint64_t len = d->elem.out_len - 16;
    if (len == 0 || len % 16 || len / 16 > MAX_DISCARD_SEG) return VIRTIO_BLK_S_IOERR;
    for (uint64_t off = 16; off < d->elem.out_len; off += 16) {
        uint8_t seg[16];
        virtq_copy_from_out(&d->elem, off, seg, 16);
        uint64_t sector;
        uint32_t num, flags;
        memcpy(&sector, seg, 8);
        memcpy(&num, seg + 8, 4);
        memcpy(&flags, seg + 12, 4);
        if (num > MAX_DISCARD_SECTORS || !range_ok(d, sector, (uint64_t)num * SECTOR))
            return VIRTIO_BLK_S_IOERR;
        int rc =
            type == VIRTIO_BLK_T_DISCARD
                ? disk_discard(d->backend, sector * SECTOR, (uint64_t)num * SECTOR)
                : disk_write_zeroes(d->backend, sector * SECTOR, (uint64_t)num * SECTOR, flags & 1);
        if (rc == -EOPNOTSUPP && type == VIRTIO_BLK_T_DISCARD)
            continue; /* discard is a hint: nothing to do where holes are not supported */
        if (rc) return VIRTIO_BLK_S_IOERR;
    }
    (void)written;
    return VIRTIO_BLK_S_OK;
}

/* Serve one popped request; returns bytes written into the driver's buffers. */
static uint32_t blk_serve(struct virtio_blk *d)
{
    struct virtq_elem *e = &d->elem;
    uint8_t hdr[16];
    if (e->in_len < 1) return 0; /* nowhere to put a status: complete it empty */
    uint8_t status = VIRTIO_BLK_S_OK;
    uint64_t written = 0;
    if (virtq_copy_from_out(e, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
        status = VIRTIO_BLK_S_IOERR;
        goto done;
    }
    uint32_t type;
    uint64_t sector;
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    bool ro = disk_readonly(d->backend);
    int n, rc;
    uint64_t bytes;
    switch (type) {
    case VIRTIO_BLK_T_IN:
        bytes = data_iov(d, false, &n);
        if (bytes % SECTOR || !range_ok(d, sector, bytes)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        rc = disk_preadv(d->backend, d->iov, n, sector * SECTOR);
        status = rc ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
        written = rc ? 0 : bytes;
        break;
    case VIRTIO_BLK_T_OUT:
        bytes = data_iov(d, true, &n);
        if (ro || bytes % SECTOR || !range_ok(d, sector, bytes)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        rc = disk_pwritev(d->backend, d->iov, n, sector * SECTOR);
        status = rc ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
        break;
    case VIRTIO_BLK_T_FLUSH:
        status = disk_flush(d->backend) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
        break;
    case VIRTIO_BLK_T_GET_ID:
        bytes = e->in_len - 1;
        written = virtq_copy_to_in(e, 0, d->id, bytes < sizeof(d->id) ? bytes : sizeof(d->id));
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        status = ro ? VIRTIO_BLK_S_IOERR : do_discard_or_zero(d, type, &written);
        break;
    default: status = VIRTIO_BLK_S_UNSUPP; break;
    }
done:
    virtq_copy_to_in(e, e->in_len - 1, &status, 1);
    return (uint32_t)(written + 1);
}

/* May the popped request go now? Reads and writes cost their bytes, every request one op. */
static bool blk_admit(struct virtio_blk *d, uint64_t *wait_ns)
{
    uint8_t hdr[4];
    uint32_t type = VIRTIO_BLK_T_GET_ID;
    if (virtq_copy_from_out(&d->elem, 0, hdr, 4) == 4) memcpy(&type, hdr, 4);
    uint64_t bytes = 0;
    if (type == VIRTIO_BLK_T_IN && d->elem.in_len > 0) bytes = d->elem.in_len - 1;
    if (type == VIRTIO_BLK_T_OUT && d->elem.out_len > 16) bytes = d->elem.out_len - 16;
    return ratelimit_consume(d->rl, bytes, 1, wait_ns);
}

/* A timer, not a spin: sleep until the tokens are due (a kick, a reset, new limits or the
 * end wake it earlier). */
static void blk_sleep(struct virtio_blk *d, uint64_t wait_ns)
{
    uint64_t t = clock_ns() + wait_ns;
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull),
                          .tv_nsec = (long)(t % 1000000000ull)};
    pthread_cond_timedwait(&d->cond, &d->lock, &ts);
}

static void *blk_thread(void *opaque)
{
    struct virtio_blk *d = opaque;
    struct virtq *q = &d->vd.vq[0];
    sandbox_enter(SANDBOX_IO);
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->stop && (d->paused || d->held || (!d->kicked && !d->throttled)))
            pthread_cond_wait(&d->cond, &d->lock);
        if (d->stop) break;
        uint64_t wait;
        if (d->throttled) {
            if (!blk_admit(d, &wait)) {
                blk_sleep(d, wait);
                continue;
            }
            d->throttled = false;
            virtq_push(q, &d->elem, blk_serve(d));
        }
        d->kicked = false;
        int got;
        while ((got = virtq_pop(q, &d->elem)) == 1) {
            if (!blk_admit(d, &wait)) {
                d->throttled = true;
                break;
            }
            virtq_push(q, &d->elem, blk_serve(d));
        }
        if (got < 0) virtio_set_needs_reset(&d->vd);
        virtio_queue_notify(&d->vd, 0);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void blk_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_blk *d = vd->opaque;
    pthread_mutex_lock(&d->lock);
    d->kicked = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void blk_reset(struct virtio_dev *vd)
{
    struct virtio_blk *d = vd->opaque;
    pthread_mutex_lock(&d->lock); /* waits for a batch in progress */
    d->paused = true;
    d->kicked = false;
    d->throttled = false; /* the queue it came from is gone */
    pthread_mutex_unlock(&d->lock);
}

static void blk_limits_changed(void *opaque)
{
    struct virtio_blk *d = opaque;
    pthread_mutex_lock(&d->lock);
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void blk_driver_ok(struct virtio_dev *vd)
{
    struct virtio_blk *d = vd->opaque;
    pthread_mutex_lock(&d->lock);
    d->paused = false;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

void virtio_blk_set_running(struct virtio_blk *d, bool running)
{
    pthread_mutex_lock(&d->lock); /* stopping: waits for a batch in progress */
    d->held = !running;
    if (running) pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static uint64_t blk_config_read(struct virtio_dev *vd, uint64_t off, unsigned size)
{
    struct virtio_blk *d = vd->opaque;
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(d->config)) v |= (uint64_t)d->config[off + k] << (8 * k);
    return v;
}

static const struct virtio_dev_ops blk_ops = {
    .queue_notify = blk_notify,
    .config_read = blk_config_read,
    .reset = blk_reset,
    .driver_ok = blk_driver_ok,
};

struct virtio_blk *virtio_blk_create(struct pci_host *host, struct bus *bus, struct disk_backend *b,
                                     const char *id)
{
    struct virtio_blk *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->backend = b;
    d->sectors = disk_size(b) / SECTOR;
    if (id) /* not NUL-terminated at 20 bytes, as the spec says */
        memcpy(d->id, id, strnlen(id, sizeof(d->id)));
    put_le(d->config + 0, d->sectors, 8);
    put_le(d->config + 12, BLK_SEG_MAX, 4);
    put_le(d->config + 20, SECTOR, 4);
    put_le(d->config + 36, MAX_DISCARD_SECTORS, 4);
    put_le(d->config + 40, MAX_DISCARD_SEG, 4);
    put_le(d->config + 44, 1, 4);
    put_le(d->config + 48, MAX_DISCARD_SECTORS, 4);
    put_le(d->config + 52, MAX_DISCARD_SEG, 4);
    d->config[56] = 1;
    uint64_t features = VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_BLK_F_SEG_MAX |
                        VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
    if (disk_readonly(b))
        features |= VIRTIO_BLK_F_RO;
    else
        features |= VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    d->paused = true;
    char rl_name[8 + VIRTIO_BLK_ID_BYTES];
    snprintf(rl_name, sizeof(rl_name), "drive:%.*s", VIRTIO_BLK_ID_BYTES, d->id);
    d->rl = ratelimit_attach(rl_name, blk_limits_changed, d);
    struct virtio_pci_settings s = {
        .dev = {.name = "virtio-blk",
                .device_id = VIRTIO_ID_BLOCK,
                .nqueues = 1,
                .queue_max = BLK_QUEUE_SIZE,
                .features = features,
                .ops = &blk_ops,
                .opaque = d},
        .class_code = 0x010000,
        .slot = -1,
    };
    if (virtio_pci_init(&d->vd, host, bus, &s) != 0 ||
        pthread_create(&d->thread, NULL, blk_thread, d) != 0) {
        log_error("virtio-blk: cannot create the device for %s", disk_path(b));
        ratelimit_detach(d->rl);
        free(d);
        return NULL;
    }
    return d;
}

void virtio_blk_destroy(struct virtio_blk *d)
{
    if (!d) return;
    ratelimit_detach(d->rl);
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    virtio_pci_destroy(&d->vd);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}

/* Section "virtio-blk.N": u64 disk sectors (must match the attached image), the transport
 * (virtio_pci_state). */
static const char *virtio_blk_get_sectors(struct state_reader *r, void *tmp, const void *live,
                                          void *ctx)
{
    (void)tmp;
    (void)ctx;
    return state_get_u64(r) == ((const struct virtio_blk *)live)->sectors
               ? NULL
               : "the disk size differs from the snapshot's";
}
static void virtio_blk_put_sectors(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    state_put_u64(w, ((const struct virtio_blk *)obj)->sectors);
}
static const struct state_field virtio_blk_fields[] = {
    STATE_CUSTOM("sectors", virtio_blk_put_sectors, virtio_blk_get_sectors, NULL),
    STATE_STRUCT(struct virtio_blk, vd, &virtio_pci_state),
};
static const struct state_desc virtio_blk_desc =
    STATE_DESC(struct virtio_blk, virtio_blk_fields, NULL);

void virtio_blk_save(struct virtio_blk *d, struct state_writer *w, const char *name)
{
    pthread_mutex_lock(&d->lock); /* a quiescent queue */
    if (d->throttled) {
        /* A request the limiter holds would be lost with the popped index: serve it now. */
        d->throttled = false;
        virtq_push(&d->vd.vq[0], &d->elem, blk_serve(d));
        virtio_queue_notify(&d->vd, 0);
    }
    state_save_section(w, name, 1, &virtio_blk_desc, d, NULL);
    pthread_mutex_unlock(&d->lock);
}

int virtio_blk_load(struct virtio_blk *d, struct state_reader *r, const char *name)
{
    pthread_mutex_lock(&d->lock);
    struct virtio_pci_state_ctx x; /* the transport half, until the commit */
    int rc = state_load_section(r, name, 1, &virtio_blk_desc, d, &x);
    if (rc == 0 && state_committing(r)) {
        virtio_pci_state_loaded(&d->vd);
        d->paused = !virtio_driver_ok(&d->vd);
        d->kicked = !d->paused; /* re-check the queue: requests may have been in flight */
        pthread_cond_signal(&d->cond);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}
