/* virtio_balloon.h — the memory balloon (virtio spec §5.5): the host sets a target size, the
 * guest's driver inflates the balloon by handing pages over (the device gives them back to the
 * host with bus_discard) and deflates it by taking them back; a statistics queue brings the
 * guest's memory figures (free, available, swap, faults); free page reporting hands over free
 * memory the guest is not using, and deflate-on-OOM lets the guest take balloon pages back
 * before it would kill a process.
 *
 * The control functions may be called from any thread (the main loop today, a control API
 * later); queue work happens on the vCPU thread that notifies. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct pci_host;
struct bus;
struct state_writer;
struct state_reader;
struct virtio_balloon;

/* Statistics tags (§5.5.6.3); values are bytes, except the fault counts. */
enum {
    VIRTIO_BALLOON_S_SWAP_IN,
    VIRTIO_BALLOON_S_SWAP_OUT,
    VIRTIO_BALLOON_S_MAJFLT,
    VIRTIO_BALLOON_S_MINFLT,
    VIRTIO_BALLOON_S_MEMFREE,
    VIRTIO_BALLOON_S_MEMTOT,
    VIRTIO_BALLOON_S_AVAIL,
    VIRTIO_BALLOON_S_CACHES,
    VIRTIO_BALLOON_S_HTLB_PGALLOC,
    VIRTIO_BALLOON_S_HTLB_PGFAIL,
    VIRTIO_BALLOON_S_NR
};

struct virtio_balloon_config {
    uint64_t size;              /* the balloon size asked for at start, bytes */
    uint32_t stats_interval_ms; /* ask for statistics this often; 0: only on request */
    bool deflate_on_oom;        /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
    bool reporting;             /* VIRTIO_BALLOON_F_PAGE_REPORTING */
};

struct virtio_balloon_info {
    uint64_t target;      /* bytes the host asks the balloon to hold */
    uint64_t actual;      /* bytes the guest says it holds */
    uint64_t inflated;    /* bytes handed over by inflation, since the device was created */
    uint64_t deflated;    /* bytes taken back by deflation */
    uint64_t reported;    /* bytes of free memory the guest reported */
    uint64_t returned;    /* bytes given back to the host (inflated and reported pages in RAM) */
    uint64_t refused;     /* pages named by the guest that are not RAM (ignored) */
    uint32_t stats_valid; /* bit k: stats[k] came from the guest */
    uint64_t stats[VIRTIO_BALLOON_S_NR];
    uint64_t stats_ns; /* host clock_ns() when the statistics arrived; 0: never */
};

struct virtio_balloon *virtio_balloon_create(struct pci_host *host, struct bus *bus,
                                             const struct virtio_balloon_config *cfg);
void virtio_balloon_destroy(struct virtio_balloon *b);

/* Ask the guest for a balloon of `bytes` (rounded down to pages, at most guest RAM): a
 * configuration change interrupt; the driver inflates or deflates toward it. */
void virtio_balloon_set_size(struct virtio_balloon *b, uint64_t bytes);
/* Ask the driver for fresh statistics now (they arrive asynchronously). */
void virtio_balloon_request_stats(struct virtio_balloon *b);
void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info);
/* Statistics polling: act on what is due at host time now_ns, return the next deadline. */
uint64_t virtio_balloon_timer(struct virtio_balloon *b, uint64_t now_ns);

/* Section "virtio-balloon". */
void virtio_balloon_save(struct virtio_balloon *b, struct state_writer *w);
int virtio_balloon_load(struct virtio_balloon *b, struct state_reader *rd);
