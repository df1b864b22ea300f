/* virtq.h — split virtqueues (virtio 1.x §2.7) as the device sees them: pop a descriptor
 * chain the driver made available, hand the device host pointers into guest RAM, push the
 * chain back as used, and decide whether the driver wants an interrupt (event index or
 * NO_INTERRUPT flag).
 *
 * The guest is hostile: every ring index, descriptor address, length and chain link is checked.
 * A malformed queue (descriptor loop, chain longer than the queue, segment outside RAM,
 * readable-after-writable, nested indirect table, bogus avail index) marks the queue broken and
 * returns an error; the transport then puts the device into DEVICE_NEEDS_RESET. Nothing outside
 * guest RAM is ever touched. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct bus;
struct state_writer;
struct state_reader;

#define VIRTQ_MAX_SIZE 32768 /* split queues: size is a power of two up to this */
#define VIRTQ_MAX_SEGS 1024  /* segments in one chain handed to a device */

#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq {
    struct bus *bus;
    uint16_t size;              /* negotiated queue size; 0 = not configured */
    uint64_t desc, avail, used; /* guest-physical ring addresses */
    bool ready;                 /* the driver enabled the queue */
    bool event_idx;             /* VIRTIO_F_EVENT_IDX negotiated */
    bool indirect;              /* VIRTIO_F_INDIRECT_DESC negotiated */
    bool broken;                /* malformed by the guest: needs a device reset */
    uint16_t last_avail;        /* next avail ring slot to consume */
    uint16_t used_idx;          /* our copy of used->idx */
    uint16_t signalled_used;    /* used_idx when we last interrupted (event index) */
    bool signalled_valid;
    uint16_t msix_vector; /* transport bookkeeping: MSI-X vector of this queue */
};

/* One descriptor chain: out[] segments are device-readable, in[] device-writable, in chain
 * order. The pointers stay valid while guest RAM is mapped. */
struct virtq_elem {
    uint16_t head;
    unsigned nout, nin;
    uint64_t out_len, in_len; /* total bytes of each kind */
    struct iovec out[VIRTQ_MAX_SEGS];
    struct iovec in[VIRTQ_MAX_SEGS];
    uint64_t in_gpa[VIRTQ_MAX_SEGS]; /* guest addresses of in[] (dirty/code notification) */
};

void virtq_init(struct virtq *q, struct bus *bus);
/* Forget everything the driver configured (device reset). */
void virtq_reset(struct virtq *q);
/* Check the configured rings lie in RAM and are aligned (desc 16, avail 2, used 4); call when
 * the driver sets queue_enable. false marks the queue broken. */
bool virtq_validate(struct virtq *q);
/* 1: *e holds a chain; 0: nothing available; -1: malformed (queue now broken). */
int virtq_pop(struct virtq *q, struct virtq_elem *e);
/* Return a chain to the driver with `written` bytes written into its in[] segments. */
void virtq_push(struct virtq *q, const struct virtq_elem *e, uint32_t written);
/* Whether the driver wants an interrupt for what was pushed since the last call that said yes. */
bool virtq_need_interrupt(struct virtq *q);
/* Copy helpers over an element's segments; return bytes copied. */
uint64_t virtq_copy_from_out(const struct virtq_elem *e, uint64_t offset, void *dst, uint64_t len);
uint64_t virtq_copy_to_in(const struct virtq_elem *e, uint64_t offset, const void *src,
                          uint64_t len);

/* Inside the owning device's section. Owners with a field table nest virtq_state. */
void virtq_save(const struct virtq *q, struct state_writer *w);
int virtq_load(struct virtq *q, struct state_reader *r);
struct state_desc;
extern const struct state_desc virtq_state;
