/* virtio_balloon.c — the balloon device. Inflation and free page reporting are served on the
 * notifying vCPU thread and the pages are discarded before the buffer goes back used, so the
 * guest never reuses a page the host is still giving away. Every page number is checked by
 * bus_discard against RAM (the MMIO hole and anything past the end are left alone; a page
 * named twice is discarded twice, which is harmless), and consecutive pages are discarded as
 * one range, so a 256-page request costs a few system calls.
 *
 * Queues are numbered by what was negotiated (§5.5.2): inflateq, deflateq, then statsq if
 * VIRTIO_BALLOON_F_STATS_VQ, then reporting_vq if VIRTIO_BALLOON_F_PAGE_REPORTING (the free
 * page hint queue between them is not offered). The statistics buffer the driver posts is held
 * by the device; giving it back is how the device asks for the next figures (§5.5.6.3). */
#include "virtio_balloon.h"

#include <pthread.h>
#include <stdlib.h>

#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/log.h"
#include "vessel/state.h"
#include "virtio/virtio_pci.h"

#define BALLOON_QUEUE_SIZE 128
#define BALLOON_PFN_SHIFT  12 /* page numbers are in 4 KiB units whatever the guest's page */
#define BALLOON_NQUEUES    4

#define VIRTIO_BALLOON_F_MUST_TELL_HOST (1ull << 0)
#define VIRTIO_BALLOON_F_STATS_VQ       (1ull << 1)
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM (1ull << 2)
#define VIRTIO_BALLOON_F_PAGE_REPORTING (1ull << 5)

enum balloon_queue { BQ_INFLATE, BQ_DEFLATE, BQ_STATS, BQ_REPORTING, BQ_NONE };

struct virtio_balloon {
    struct virtio_dev vd;
    pthread_mutex_t lock; /* everything below: queue work and the control functions */
    uint32_t num_pages;   /* config: the host's target, pages */
    uint32_t actual;      /* config: what the driver says the balloon holds, pages */
    bool stats_held;      /* the driver's statistics buffer is with the device */
    uint16_t stats_head;
    uint32_t stats_interval_ms;
    uint64_t stats_next_ns;
    struct virtio_balloon_info info;
    struct virtq_elem elem;
};

/* Which queue q is, given the negotiated features. */
static enum balloon_queue balloon_queue_role(const struct virtio_balloon *b, unsigned q)
{
    if (q < 2) return q == 0 ? BQ_INFLATE : BQ_DEFLATE;
    unsigned next = 2;
    if (virtio_has_feature(&b->vd, VIRTIO_BALLOON_F_STATS_VQ) && q == next++) return BQ_STATS;
    if (virtio_has_feature(&b->vd, VIRTIO_BALLOON_F_PAGE_REPORTING) && q == next)
        return BQ_REPORTING;
    return BQ_NONE;
}

static int balloon_queue_of(const struct virtio_balloon *b, enum balloon_queue role)
{
    for (unsigned q = 0; q < BALLOON_NQUEUES; q++)
        if (balloon_queue_role(b, q) == role) return (int)q;
    return -1;
}

/* Give [gpa, gpa+len) back to the host. For inflated pages (whole pages), what was not
 * discarded was not RAM: counted and logged once. */
static void balloon_discard(struct virtio_balloon *b, uint64_t gpa, uint64_t len, bool pages)
{
    uint64_t done = bus_discard(b->vd.bus, gpa, len);
    b->info.returned += done;
    if (pages && done < len) {
        uint64_t bad = (len - done) >> BALLOON_PFN_SHIFT;
        if (!b->info.refused)
            log_warn("virtio-balloon: the guest named pages outside RAM (first at %#llx); "
                     "ignored",
                     (unsigned long long)gpa);
        b->info.refused += bad ? bad : 1;
    }
}

/* An inflate or deflate request: an array of 32-bit page numbers in the readable part. */
static void balloon_pages(struct virtio_balloon *b, bool inflate)
{
    uint64_t run = 0, run_len = 0, total = 0; /* pages [run, run + run_len) */
    for (unsigned k = 0; k < b->elem.nout; k++) {
        const uint8_t *p = b->elem.out[k].iov_base;
        /* a page number split across segments is dropped, as no driver sends one */
        for (size_t i = 0; i + 4 <= b->elem.out[k].iov_len; i += 4) {
            uint32_t pfn = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                           (uint32_t)p[i + 3] << 24;
            total++;
            if (!inflate) continue;
            if (run_len && pfn == run + run_len) {
                run_len++;
                continue;
            }
            if (run_len)
                balloon_discard(b, run << BALLOON_PFN_SHIFT, run_len << BALLOON_PFN_SHIFT, true);
            run = pfn;
            run_len = 1;
        }
    }
    if (run_len) balloon_discard(b, run << BALLOON_PFN_SHIFT, run_len << BALLOON_PFN_SHIFT, true);
    if (inflate)
        b->info.inflated += total << BALLOON_PFN_SHIFT;
    else
        b->info.deflated += total << BALLOON_PFN_SHIFT;
}

/* Free page reporting: each segment is a free range of guest RAM (the driver posts them
 * writable; a readable one is taken the same way). */
static void balloon_report(struct virtio_balloon *b)
{
    struct bus *bus = b->vd.bus;
    for (unsigned k = 0; k < b->elem.nin; k++) {
        balloon_discard(b, b->elem.in_gpa[k], b->elem.in[k].iov_len, false);
        b->info.reported += b->elem.in[k].iov_len;
    }
    for (unsigned k = 0; k < b->elem.nout; k++) {
        /* virtq handed out a pointer into one RAM segment: turn it back into an address */
        uint64_t off = (uint64_t)((uint8_t *)b->elem.out[k].iov_base - bus->ram);
        uint64_t gpa = off < bus->low_ram_end ? off : off - bus->low_ram_end + BUS_HIGH_RAM;
        balloon_discard(b, gpa, b->elem.out[k].iov_len, false);
        b->info.reported += b->elem.out[k].iov_len;
    }
}

/* The statistics buffer: 10-byte entries (le16 tag, le64 value). */
static void balloon_stats(struct virtio_balloon *b)
{
    uint8_t e[10];
    for (uint64_t off = 0; virtq_copy_from_out(&b->elem, off, e, sizeof(e)) == sizeof(e);
         off += sizeof(e)) {
        unsigned tag = (unsigned)e[0] | (unsigned)e[1] << 8;
        uint64_t v = 0;
        for (int k = 7; k >= 0; k--)
            v = v << 8 | e[2 + k];
        if (tag >= VIRTIO_BALLOON_S_NR) continue; /* a tag newer than this device */
        b->info.stats[tag] = v;
        b->info.stats_valid |= 1u << tag;
    }
    b->info.stats_ns = clock_ns();
}

/* Give the held statistics buffer back: the driver answers with fresh figures. */
static void balloon_ask_stats(struct virtio_balloon *b)
{
    int q = balloon_queue_of(b, BQ_STATS);
    if (!b->stats_held || q < 0 || !virtio_driver_ok(&b->vd)) return;
    b->elem.head = b->stats_head;
    b->elem.nin = b->elem.nout = 0;
    b->elem.in_len = b->elem.out_len = 0;
    b->stats_held = false;
    virtq_push(&b->vd.vq[q], &b->elem, 0);
    virtio_queue_notify(&b->vd, (unsigned)q);
}

static void balloon_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_balloon *b = vd->opaque;
    struct virtq *vq = &vd->vq[q];
    enum balloon_queue role = balloon_queue_role(b, q);
    if (role == BQ_NONE) return;
    pthread_mutex_lock(&b->lock);
    int got;
    while ((got = virtq_pop(vq, &b->elem)) == 1) {
        switch (role) {
        case BQ_INFLATE:
        case BQ_DEFLATE: balloon_pages(b, role == BQ_INFLATE); break;
        case BQ_REPORTING: balloon_report(b); break;
        case BQ_STATS:
            balloon_stats(b);
            if (b->stats_held) /* a second buffer: the older one goes back */
                balloon_ask_stats(b);
            b->stats_held = true;
            b->stats_head = b->elem.head;
            continue; /* held until the next request */
        case BQ_NONE: break;
        }
        virtq_push(vq, &b->elem, 0);
    }
    if (got < 0) virtio_set_needs_reset(vd);
    pthread_mutex_unlock(&b->lock);
    virtio_queue_notify(vd, q);
}

/* Linux posts its first statistics buffer (and kicks) before DRIVER_OK, when kicks are not
 * delivered: look at every queue now. */
static void balloon_driver_ok(struct virtio_dev *vd)
{
    for (unsigned q = 0; q < BALLOON_NQUEUES; q++)
        if (vd->vq[q].ready) balloon_notify(vd, q);
}

static uint64_t balloon_config_read(struct virtio_dev *vd, uint64_t off, unsigned size)
{
    struct virtio_balloon *b = vd->opaque;
    pthread_mutex_lock(&b->lock);
    uint32_t cfg[4] = {b->num_pages, b->actual, 0, 0}; /* free page hint id, poison: unused */
    pthread_mutex_unlock(&b->lock);
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(cfg))
            v |= (uint64_t)(cfg[(off + k) / 4] >> (8 * ((off + k) % 4)) & 0xff) << (8 * k);
    return v;
}

static void balloon_config_write(struct virtio_dev *vd, uint64_t off, uint64_t value, unsigned size)
{
    struct virtio_balloon *b = vd->opaque;
    if (off != 4 || size != 4) return; /* only `actual` is the driver's */
    pthread_mutex_lock(&b->lock);
    uint64_t max = b->vd.bus->ram_size >> BALLOON_PFN_SHIFT;
    b->actual = (uint32_t)(value < max ? value : max);
    pthread_mutex_unlock(&b->lock);
}

static void balloon_reset(struct virtio_dev *vd)
{
    struct virtio_balloon *b = vd->opaque;
    pthread_mutex_lock(&b->lock);
    b->actual = 0; /* a reset driver starts with an empty balloon */
    b->stats_held = false;
    pthread_mutex_unlock(&b->lock);
}

static const struct virtio_dev_ops balloon_ops = {
    .queue_notify = balloon_notify,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .reset = balloon_reset,
    .driver_ok = balloon_driver_ok,
};

static uint32_t balloon_pages_of(const struct virtio_balloon *b, uint64_t bytes)
{
    uint64_t pages = bytes >> BALLOON_PFN_SHIFT, max = b->vd.bus->ram_size >> BALLOON_PFN_SHIFT;
    if (pages > max) pages = max;
    return pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

struct virtio_balloon *virtio_balloon_create(struct pci_host *host, struct bus *bus,
                                             const struct virtio_balloon_config *cfg)
{
    struct virtio_balloon *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->stats_interval_ms = cfg->stats_interval_ms;
    uint64_t features = VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_BALLOON_F_STATS_VQ;
    if (cfg->deflate_on_oom) features |= VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    if (cfg->reporting) features |= VIRTIO_BALLOON_F_PAGE_REPORTING;
    struct virtio_pci_settings s = {
        .dev = {.name = "virtio-balloon",
                .device_id = VIRTIO_ID_BALLOON,
                .nqueues = BALLOON_NQUEUES,
                .queue_max = BALLOON_QUEUE_SIZE,
                .features = features,
                .ops = &balloon_ops,
                .opaque = b},
        .class_code = 0x00ff00,
        .slot = -1,
    };
    if (virtio_pci_init(&b->vd, host, bus, &s) != 0) {
        pthread_mutex_destroy(&b->lock);
        free(b);
        return NULL;
    }
    b->num_pages = balloon_pages_of(b, cfg->size);
    return b;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
    if (!b) return;
    virtio_pci_destroy(&b->vd);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

void virtio_balloon_set_size(struct virtio_balloon *b, uint64_t bytes)
{
    pthread_mutex_lock(&b->lock);
    uint32_t pages = balloon_pages_of(b, bytes);
    bool changed = pages != b->num_pages;
    b->num_pages = pages;
    pthread_mutex_unlock(&b->lock);
    if (changed) virtio_config_notify(&b->vd);
}

void virtio_balloon_request_stats(struct virtio_balloon *b)
{
    pthread_mutex_lock(&b->lock);
    balloon_ask_stats(b);
    pthread_mutex_unlock(&b->lock);
}

void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info)
{
    pthread_mutex_lock(&b->lock);
    *info = b->info;
    info->target = (uint64_t)b->num_pages << BALLOON_PFN_SHIFT;
    info->actual = (uint64_t)b->actual << BALLOON_PFN_SHIFT;
    pthread_mutex_unlock(&b->lock);
}

uint64_t virtio_balloon_timer(struct virtio_balloon *b, uint64_t now_ns)
{
    if (!b->stats_interval_ms) return UINT64_MAX;
    pthread_mutex_lock(&b->lock);
    if (now_ns >= b->stats_next_ns) {
        balloon_ask_stats(b);
        b->stats_next_ns = now_ns + b->stats_interval_ms * 1000000ull;
    }
    uint64_t next = b->stats_next_ns;
    pthread_mutex_unlock(&b->lock);
    return next;
}

/* Section "virtio-balloon": target and actual pages, whether the statistics buffer is held and
 * its head, the transport (virtio_pci_state). */
static const struct state_field virtio_balloon_fields[] = {
    STATE_U32(struct virtio_balloon, num_pages),
    STATE_U32(struct virtio_balloon, actual),
    STATE_BOOL(struct virtio_balloon, stats_held),
    STATE_UINT_X(struct virtio_balloon, stats_head, 2, UINT64_MAX, 0, 0, VIRTQ_MAX_SIZE - 1),
    STATE_STRUCT(struct virtio_balloon, vd, &virtio_pci_state),
};
static const struct state_desc virtio_balloon_desc =
    STATE_DESC(struct virtio_balloon, virtio_balloon_fields, NULL);

void virtio_balloon_save(struct virtio_balloon *b, struct state_writer *w)
{
    pthread_mutex_lock(&b->lock);
    state_save_section(w, "virtio-balloon", 1, &virtio_balloon_desc, b, NULL);
    pthread_mutex_unlock(&b->lock);
}

int virtio_balloon_load(struct virtio_balloon *b, struct state_reader *rd)
{
    pthread_mutex_lock(&b->lock);
    struct virtio_pci_state_ctx x; /* the transport half, until the commit */
    int rc = state_load_section(rd, "virtio-balloon", 1, &virtio_balloon_desc, b, &x);
    pthread_mutex_unlock(&b->lock);
    if (rc == 0 && state_committing(rd)) virtio_pci_state_loaded(&b->vd);
    return rc;
}
