/* share.h — content-based page sharing between vessel processes (docs/MEMORY.md, "Page
 * sharing"). Guest RAM is scanned in the background at a bounded rate; a page of zeros is
 * given back to the host (it then reads as the host's one zero page), and a page whose contents
 * another page (this VM's or another's) also holds is mapped copy-on-write from one copy in a
 * pool file in the sharing directory. The host MMU makes a write to a shared page take a
 * private copy, whoever writes it (the engine, translated code, device threads, the kernel on
 * a device's behalf), so the guest never sees the sharing. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;

struct share_config {
    const char *dir; /* the sharing directory: VMs that name the same one share pages */
    uint64_t rate;   /* bytes of resident guest RAM compared per second; 0: the default */
    bool zero_only;  /* give back zero pages only, no pool (dir may then be NULL) */
};

/* Stops (false) and restarts (true) every thread that writes guest RAM besides the caller's,
 * around the short step that replaces pages. */
typedef void (*share_quiesce_fn)(void *opaque, bool running);

struct share;

/* Attach to the sharing directory (created if missing). RAM must be anonymous (bus_init). NULL
 * with the reason in err. */
struct share *share_create(struct bus *bus, const struct share_config *cfg, share_quiesce_fn q,
                           void *q_opaque, char *err, size_t errlen);
/* Detach; the last VM to leave a directory empties its pool. */
void share_destroy(struct share *s);
/* One step of the scan, on the thread that runs the vCPU while it is stopped. Returns the next
 * deadline (host ns). */
uint64_t share_timer(struct share *s, uint64_t now_ns);

struct share_info {
    uint64_t private_pages; /* pages of RAM this VM holds alone */
    uint64_t pool_pages;    /* pages of RAM now mapped from the pool (shared with a copy) */
    uint64_t zero_pages;    /* pages given back as zeros and not written since */
    uint64_t saved_bytes;   /* host memory this VM does not hold because of sharing */
    uint64_t merged_pool;   /* totals since start: pages mapped from the pool */
    uint64_t merged_zero;   /* pages given back as zeros */
    uint64_t scanned;       /* resident pages compared */
    uint64_t passes;        /* full passes over RAM */
    uint64_t pool_size;     /* pages in the directory's pool (all VMs) */
    uint64_t cpu_ns;        /* thread CPU time spent scanning and merging */
};
void share_get_info(struct share *s, struct share_info *i);
/* A 64-bit hash of one 4 KiB page, the same in every process (exported for the unit test). */
uint64_t share_page_hash(const void *page);
