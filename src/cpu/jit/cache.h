/* cache.h — the executable code cache of the translator. One set of shared pages (anonymous, or a
 * memfd) is mapped twice: a writable view the emitter writes through and an executable view the
 * host runs, so no page is ever writable and executable at once in this process. Space is handed
 * out bump-pointer style and only reclaimed all at once (jit_cache_flush), which bumps
 * `generation`: anything that holds a pointer into the cache records the generation it was made in
 * and treats a mismatch as gone. The size is address space: only pages code was written to cost
 * host memory, and a flush gives them back (punched out of the shared memory).
 *
 * With VESSEL_PERF_MAP=1 in the environment every committed region is also written to
 * /tmp/perf-PID.map ("addr size name"), so `perf report` can attribute samples to translated
 * blocks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JIT_CACHE_DEFAULT (64ull << 20)
#define JIT_CACHE_MIN     (64ull << 10)
#define JIT_CACHE_MAX     (1ull << 30) /* every jump within the cache stays a rel32 */

struct jit_cache {
    int fd;
    uint8_t *rw;         /* writable view */
    uint8_t *rx;         /* executable view of the same pages */
    size_t size;         /* bytes in each view */
    size_t used;         /* bytes handed out since the last flush */
    size_t high;         /* bytes that may hold host memory (the most used since the last flush) */
    uint64_t released;   /* bytes given back to the host by flushes */
    size_t floor;        /* bytes kept across flushes (the entry trampoline) */
    uint64_t generation; /* bumped by every flush */
    uint64_t flushes;
    size_t rw_low;  /* lowest writable-view offset touched since its pages were last let go */
    FILE *perf_map; /* /tmp/perf-PID.map, or NULL */
};

/* A cache of `size` bytes (rounded up to pages; 0 means JIT_CACHE_DEFAULT). NULL if the host
 * cannot map it (no memfd, or a policy forbidding executable shared mappings). */
struct jit_cache *jit_cache_new(size_t size);
void jit_cache_free(struct jit_cache *jc);

/* Free space at the current position, 16-byte aligned: *rw is where to write, the return value
 * the address the code will run at. Nothing is reserved until jit_cache_commit. */
uintptr_t jit_cache_begin(struct jit_cache *jc, uint8_t **rw, size_t *avail);
/* Keep `len` bytes written at the position jit_cache_begin gave; returns their RX address.
 * `name` (may be NULL) labels the region in the perf map. Whole pages written before the
 * current one are let go from the writable view (MADV_DONTNEED: the shared pages stay, only
 * this mapping of them goes), so the process's RSS counts the code once, through the
 * executable view, and not twice. */
uintptr_t jit_cache_commit(struct jit_cache *jc, size_t len, const char *name);
/* Name a sub-range of committed code in the perf map (no-op without VESSEL_PERF_MAP=1). */
void jit_cache_perf_name(struct jit_cache *jc, uintptr_t rx, size_t len, const char *name);
/* Keep everything committed so far across flushes (code every translation calls into). */
void jit_cache_set_floor(struct jit_cache *jc);
/* Reclaim everything above the floor and give its pages back to the host: bumps the generation. The
 * caller must guarantee no host thread is running cached code (the vCPU thread flushes between
 * blocks, outside translated code).
 */
void jit_cache_flush(struct jit_cache *jc);

/* Note a write through the writable view at the RX address rx (a patched jump), so its page
 * is let go again at the next commit. */
void jit_cache_touched(struct jit_cache *jc, uintptr_t rx);

/* The writable alias of an address in the executable view (for patching chained jumps). */
static inline uint8_t *jit_cache_rw(const struct jit_cache *jc, uintptr_t rx)
{
    return jc->rw + (rx - (uintptr_t)jc->rx);
}
static inline bool jit_cache_contains(const struct jit_cache *jc, uintptr_t rx)
{
    return rx >= (uintptr_t)jc->rx && rx < (uintptr_t)jc->rx + jc->size;
}
/* Parse a size like "64M", "512k", "1G" or plain bytes. Returns 0 if malformed. */
size_t jit_cache_parse_size(const char *s);
