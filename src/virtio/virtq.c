/* virtq.c — the split-virtqueue walker of virtq.h. Ring memory is shared with a running
 * guest (and, for I/O threads, with the vCPU thread), so ring indices are read once with
 * acquire semantics and every value taken from guest memory is checked before use. */
#include "virtq.h"

#include <string.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

void virtq_init(struct virtq *q, struct bus *bus)
{
    memset(q, 0, sizeof(*q));
    q->bus = bus;
    q->msix_vector = 0xffff;
}

void virtq_reset(struct virtq *q)
{
    virtq_init(q, q->bus);
}

static uint8_t *ring_ptr(const struct virtq *q, uint64_t gpa, uint64_t len)
{
    return bus_ram_ptr(q->bus, gpa, len);
}

static bool virtq_fail(struct virtq *q, const char *why)
{
    if (!q->broken) log_warn("virtio: malformed virtqueue (%s); device needs reset", why);
    q->broken = true;
    return false;
}

bool virtq_validate(struct virtq *q)
{
    uint64_t n = q->size;
    if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1))) return virtq_fail(q, "queue size");
    if ((q->desc & 15) || (q->avail & 1) || (q->used & 3)) return virtq_fail(q, "ring alignment");
    if (!ring_ptr(q, q->desc, 16 * n) || !ring_ptr(q, q->avail, 6 + 2 * n) ||
        !ring_ptr(q, q->used, 6 + 8 * n))
        return virtq_fail(q, "ring outside guest RAM");
    return true;
}

static uint16_t load16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint16_t load16_acquire(const uint8_t *p)
{
    uint16_t v = __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
    return v;
}

static void store16_release(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

/* Walk one chain starting at `head`; fills e. false on malformed input. */
static bool walk_chain(struct virtq *q, uint16_t head, struct virtq_elem *e)
{
    uint64_t table = q->desc, table_len = q->size;
    unsigned seen = 0, limit = q->size;
    bool in_indirect = false;
    uint32_t idx = head;

    e->head = head;
    e->nout = e->nin = 0;
    e->out_len = e->in_len = 0;
    for (;;) {
        if (idx >= table_len) return virtq_fail(q, "descriptor index out of range");
        if (++seen > limit) return virtq_fail(q, "descriptor chain loops or exceeds the queue");
        const uint8_t *dp = ring_ptr(q, table + 16ull * idx, 16);
        if (!dp) return virtq_fail(q, "descriptor outside guest RAM");
        struct vring_desc d;
        memcpy(&d, dp, sizeof(d));

        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!q->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT))
                return virtq_fail(q, "unexpected indirect descriptor");
            if (d.len == 0 || (d.len & 15) || d.len / 16 > VIRTQ_MAX_SIZE)
                return virtq_fail(q, "indirect table length");
            if (!ring_ptr(q, d.addr, d.len))
                return virtq_fail(q, "indirect table outside guest RAM");
            table = d.addr;
            table_len = d.len / 16;
            limit = (unsigned)table_len;
            seen = 0;
            idx = 0;
            in_indirect = true;
            continue;
        }
        if (d.len) {
            uint8_t *p = ring_ptr(q, d.addr, d.len);
            if (!p) return virtq_fail(q, "buffer outside guest RAM");
            if (d.flags & VIRTQ_DESC_F_WRITE) {
                if (e->nin >= VIRTQ_MAX_SEGS) return virtq_fail(q, "too many segments");
                e->in[e->nin] = (struct iovec){p, d.len};
                e->in_gpa[e->nin++] = d.addr;
                e->in_len += d.len;
            } else {
                if (e->nin) return virtq_fail(q, "readable descriptor after a writable one");
                if (e->nout >= VIRTQ_MAX_SEGS) return virtq_fail(q, "too many segments");
                e->out[e->nout++] = (struct iovec){p, d.len};
                e->out_len += d.len;
            }
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT)) return true;
        idx = d.next;
    }
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
    if (q->broken) return -1;
    if (!q->ready || q->size == 0) return 0;
    uint8_t *avail = ring_ptr(q, q->avail, 6 + 2ull * q->size);
    if (!avail) return virtq_fail(q, "avail ring outside guest RAM"), -1;
    uint16_t avail_idx = load16_acquire(avail + 2);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0) return 0;
    if (pending > q->size) return virtq_fail(q, "avail index ran ahead of the queue"), -1;
    uint16_t head = load16(avail + 4 + 2 * (q->last_avail & (q->size - 1)));
    if (head >= q->size) return virtq_fail(q, "avail ring names a bad head"), -1;
    if (!walk_chain(q, head, e)) return -1;
    q->last_avail++;
    if (q->event_idx) {
        /* avail_event: ask for a notification when the driver adds past what we consumed */
        uint8_t *used = ring_ptr(q, q->used, 6 + 8ull * q->size);
        if (used) store16_release(used + 4 + 8ull * q->size, q->last_avail);
    }
    return 1;
}

void virtq_push(struct virtq *q, const struct virtq_elem *e, uint32_t written)
{
    if (q->broken || !q->ready) return;
    uint8_t *used = ring_ptr(q, q->used, 6 + 8ull * q->size);
    if (!used) {
        virtq_fail(q, "used ring outside guest RAM");
        return;
    }
    if (written > e->in_len) written = (uint32_t)e->in_len;
    /* the device wrote into the in[] segments: dirty pages, drop decoded code there */
    uint64_t left = written;
    for (unsigned k = 0; k < e->nin && left; k++) {
        uint64_t n = e->in[k].iov_len < left ? e->in[k].iov_len : left;
        bus_note_write(q->bus, e->in_gpa[k], n);
        left -= n;
    }
    uint8_t *slot = used + 4 + 8ull * (q->used_idx & (q->size - 1));
    uint32_t id = e->head;
    memcpy(slot, &id, 4);
    memcpy(slot + 4, &written, 4);
    q->used_idx++;
    store16_release(used + 2, q->used_idx);
    bus_note_write(q->bus, q->used, 6 + 8ull * q->size);
}

bool virtq_need_interrupt(struct virtq *q)
{
    if (!q->ready || q->size == 0) return false;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* used->idx store before reading the driver's flags */
    uint8_t *avail = ring_ptr(q, q->avail, 6 + 2ull * q->size);
    if (!avail) return false;
    if (!q->event_idx) return !(load16_acquire(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    uint16_t event = load16_acquire(avail + 4 + 2ull * q->size);
    uint16_t new_idx = q->used_idx, old = q->signalled_used;
    bool valid = q->signalled_valid;
    q->signalled_used = new_idx;
    q->signalled_valid = true;
    /* vring_need_event: did used->idx move past used_event since we last signalled? */
    return !valid || (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

uint64_t virtq_copy_from_out(const struct virtq_elem *e, uint64_t offset, void *dst, uint64_t len)
{
    uint64_t done = 0;
    for (unsigned k = 0; k < e->nout && done < len; k++) {
        uint64_t seg = e->out[k].iov_len;
        if (offset >= seg) {
            offset -= seg;
            continue;
        }
        uint64_t n = seg - offset < len - done ? seg - offset : len - done;
        memcpy((uint8_t *)dst + done, (uint8_t *)e->out[k].iov_base + offset, n);
        done += n;
        offset = 0;
    }
    return done;
}

uint64_t virtq_copy_to_in(const struct virtq_elem *e, uint64_t offset, const void *src,
                          uint64_t len)
{
    uint64_t done = 0;
    for (unsigned k = 0; k < e->nin && done < len; k++) {
        uint64_t seg = e->in[k].iov_len;
        if (offset >= seg) {
            offset -= seg;
            continue;
        }
        uint64_t n = seg - offset < len - done ? seg - offset : len - done;
        memcpy((uint8_t *)e->in[k].iov_base + offset, (const uint8_t *)src + done, n);
        done += n;
        offset = 0;
    }
    return done;
}

/* A queue inside its device's section: u16 size; u64 desc, avail, used ring addresses; u8 flags
 * (ready, event index, indirect, broken, signalled valid from bit 0); u16 last avail, used
 * index, signalled used, MSI-X vector. An enabled, unbroken queue must have its rings in RAM. */
static const char *virtq_state_check(const void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    struct virtq *q = (struct virtq *)tmp; /* the copy: validate may mark it broken */
    if (q->ready && !q->broken && !virtq_validate(q))
        return "an enabled queue's rings are misaligned or outside RAM";
    return NULL;
}
static const size_t virtq_flag_bits[] = {
    offsetof(struct virtq, ready),           offsetof(struct virtq, event_idx),
    offsetof(struct virtq, indirect),        offsetof(struct virtq, broken),
    offsetof(struct virtq, signalled_valid),
};
static const struct state_field virtq_fields[] = {
    STATE_U16(struct virtq, size),         STATE_U64(struct virtq, desc),
    STATE_U64(struct virtq, avail),        STATE_U64(struct virtq, used),
    STATE_FLAGS("flags", virtq_flag_bits), STATE_U16(struct virtq, last_avail),
    STATE_U16(struct virtq, used_idx),     STATE_U16(struct virtq, signalled_used),
    STATE_U16(struct virtq, msix_vector),
};
const struct state_desc virtq_state = STATE_DESC(struct virtq, virtq_fields, virtq_state_check);

void virtq_save(const struct virtq *q, struct state_writer *w)
{
    state_save_fields(w, &virtq_state, q, NULL);
}

int virtq_load(struct virtq *q, struct state_reader *r)
{
    struct virtq tmp = *q;
    const char *why = state_load_fields(r, &virtq_state, &tmp, q, NULL);
    if (why) {
        log_error("virtq: %s", why);
        return -1;
    }
    if (state_committing(r)) state_commit_fields(&virtq_state, q, &tmp, NULL);
    return 0;
}
