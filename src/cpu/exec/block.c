/* block.c — the decoded-block cache. Blocks are found by guest-physical address and decoding
 * mode through a hash table whose buckets are grouped by page, so dropping a page's blocks after
 * a code write scans one small group instead of the whole cache. A block ends at a control
 * transfer (INSN_BRANCH), at the end of its page (only its last instruction may run into the
 * next page) or at BLOCK_MAX_INSNS. Memory comes from an arena that is only reset as a whole.
 *
 * Memory: the arena and the hash table are reserved address space; only what is touched costs
 * host memory, and a reset gives it back (MADV_DONTNEED) instead of keeping the high-water mark
 * resident. A boot leaves ~25 MiB of blocks behind, most of it code run once (docs/MEMORY.md,
 * "Engine caches"); block_idle drops them once the guest is quiet. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cpu/exec/block.h"
#include "cpu/decode/decode.h"
#include "cpu/ops/ops.h"
#include "vessel/log.h"

#define BLOCK_GROUPS_LOG2 14
#define BLOCK_ARENA_SIZE  (64ull << 20)
#define BLOCK_MAX_SIZE    (sizeof(struct block) + BLOCK_MAX_INSNS * sizeof(struct insn))
#define PAGE_MASK         (~0xfffull)

/* The idle trim (block_idle): the guest must have built no block for BLOCK_TRIM_QUIET_NS, the
 * cache must hold BLOCK_TRIM_GROWTH more than when the guest was last quiet after a reset, and
 * the last reset must be BLOCK_TRIM_INTERVAL_NS old. A trim costs rebuilding the idle working
 * set (a few hundred blocks for an idle Linux); the growth rule keeps a guest with a large,
 * stable working set from being trimmed again and again. */
#define BLOCK_TRIM_QUIET_NS    (2000000000ull)
#define BLOCK_TRIM_INTERVAL_NS (5000000000ull)
#define BLOCK_TRIM_GROWTH      ((size_t)4 << 20)

static uint64_t block_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *block_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static size_t block_bucket_bytes(const struct block_cache *bc)
{
    return (size_t)bc->ngroups * BLOCK_GROUP * sizeof(*bc->bucket);
}

static size_t block_xbucket_bytes(const struct block_cache *bc)
{
    return (size_t)bc->ngroups * sizeof(*bc->xbucket);
}

static unsigned block_group(uint64_t gpa)
{
    return (unsigned)(((gpa >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - BLOCK_GROUPS_LOG2));
}

static unsigned block_bucket(uint64_t gpa)
{
    return block_group(gpa) * BLOCK_GROUP + (unsigned)((gpa ^ (gpa >> 4)) & (BLOCK_GROUP - 1));
}

struct block_cache *block_cache_new(void)
{
    struct block_cache *bc = calloc(1, sizeof(*bc));
    if (!bc) return NULL;
    bc->ngroups = 1u << BLOCK_GROUPS_LOG2;
    /* Mapped rather than calloc'ed: a reset discards their pages instead of writing 2 MiB of
     * zeros, so an idle guest's table costs only the pages its few blocks hash to. */
    bc->bucket = block_map(block_bucket_bytes(bc));
    bc->xbucket = block_map(block_xbucket_bytes(bc));
    bc->scratch = malloc(BLOCK_MAX_SIZE);
    bc->arena_size = BLOCK_ARENA_SIZE;
    bc->arena = block_map(bc->arena_size);
    bc->reset_ns = block_now_ns();
    bc->trim_base_set = true; /* nothing yet: the first trim needs BLOCK_TRIM_GROWTH */
    bc->trim_quiet_ns = BLOCK_TRIM_QUIET_NS;
    bc->trim_interval_ns = BLOCK_TRIM_INTERVAL_NS;
    bc->trim_growth = BLOCK_TRIM_GROWTH;
    pthread_mutex_init(&bc->remote_lock, NULL);
    if (!bc->bucket || !bc->xbucket || !bc->scratch || !bc->arena) {
        block_cache_free(bc);
        return NULL;
    }
    return bc;
}

void block_cache_free(struct block_cache *bc)
{
    if (!bc) return;
    if (bc->arena) munmap(bc->arena, bc->arena_size);
    if (bc->bucket) munmap(bc->bucket, block_bucket_bytes(bc));
    if (bc->xbucket) munmap(bc->xbucket, block_xbucket_bytes(bc));
    free(bc->scratch);
    pthread_mutex_destroy(&bc->remote_lock);
    free(bc);
}

void block_set_jit_drop(struct block_cache *bc, void (*fn)(void *opaque, struct block *b),
                        void *opaque)
{
    bc->jit_drop = fn;
    bc->jit_opaque = opaque;
}

/* What every dropped block goes through: translated code goes with it. */
static inline void block_kill(struct block_cache *bc, struct block *b)
{
    b->valid = false;
    if (b->jit_code) {
        if (bc->jit_drop) bc->jit_drop(bc->jit_opaque, b);
        b->jit_code = b->jit_data = NULL;
    }
}

/* The vCPU whose thread this is, while it runs (exec_run): a code write from it waits for the
 * other vCPUs to drop their blocks; a device thread's only queues. */
static _Thread_local struct cpu *block_writer;

void block_set_running(struct cpu *c)
{
    block_writer = c;
}

/* Whether other vCPUs share c's bus (their caches listen for code writes too). */
static bool block_other_vcpus(const struct cpu *c)
{
    const struct bus *b = c->bus;
    for (unsigned k = 0; k < b->ncode_listeners; k++)
        if (b->code_listeners[k].fn == block_code_write && b->code_listeners[k].opaque != c)
            return true;
    return false;
}

/* Drop every block. The table's and the arena's pages go back to the host (they read as zeros
 * when touched again), so a reset leaves nothing of the old contents resident. */
static void block_reset(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    size_t nb = (size_t)bc->ngroups * BLOCK_GROUP;
    c->tlb.epoch++;
    for (size_t k = 0; k < nb; k++)
        for (struct block *b = bc->bucket[k]; b; b = b->next)
            if (b->valid) {
                block_kill(bc, b);
                c->stats.blocks_flushed++;
                if (b == bc->cur) bc->stop = true;
            }
    madvise(bc->bucket, block_bucket_bytes(bc), MADV_DONTNEED);
    madvise(bc->xbucket, block_xbucket_bytes(bc), MADV_DONTNEED);
    if (!bc->cur || bc->cur == bc->scratch) {
        /* (otherwise the executing block keeps the arena until next time) */
        if (bc->arena_high)
            madvise(bc->arena, (bc->arena_high + BUS_PAGE_SIZE - 1) & ~(size_t)(BUS_PAGE_SIZE - 1),
                    MADV_DONTNEED);
        bc->arena_used = bc->arena_high = 0;
        bc->generation++;
        bc->reset_ns = block_now_ns();
        bc->trim_base = 0;
        bc->trim_base_set = true;
    }
}

void block_flush_all(struct cpu *c)
{
    block_reset(c);
    /* The marks are shared by every vCPU's cache: with others on the bus they stay (a write
     * to a marked page then clears it after telling everyone). */
    if (block_other_vcpus(c)) return;
    uint64_t npages = c->bus->ram_size >> BUS_PAGE_SHIFT;
    for (uint64_t p = 0; p < npages; p++)
        c->bus->page_flags[p] &= (uint8_t)~BUS_PAGE_CODE;
}

void block_idle(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    if (!bc || bc->cur) return;
    uint64_t now = block_now_ns();
    if (c->stats.blocks_built != bc->idle_built) {
        bc->idle_built = c->stats.blocks_built;
        bc->quiet_since_ns = now;
        return;
    }
    if (now - bc->quiet_since_ns < bc->trim_quiet_ns) return;
    if (!bc->trim_base_set) {
        bc->trim_base = bc->arena_used; /* what the quiet guest rebuilt after the last trim */
        bc->trim_base_set = true;
        return;
    }
    if (bc->arena_used < bc->trim_base + bc->trim_growth ||
        now - bc->reset_ns < bc->trim_interval_ns)
        return;
    /* The pages' code marks stay: the mark is shared by every cache on the bus (another
     * vCPU's blocks may depend on it), and a stale one costs a single notification, which
     * clears it (block_drop_page). */
    block_reset(c);
    bc->trim_base_set = false;
    bc->trims++;
}

void block_forget_translations(struct block_cache *bc)
{
    size_t nb = (size_t)bc->ngroups * BLOCK_GROUP;
    for (size_t k = 0; k < nb; k++)
        for (struct block *b = bc->bucket[k]; b; b = b->next)
            b->jit_code = NULL; /* jit_data, the hotness count, stays: hot blocks stay hot */
}

static void block_invalidate(struct cpu *c, struct block *b)
{
    block_kill(c->blocks, b);
    c->tlb.epoch++; /* links to it die */
    c->stats.blocks_flushed++;
    if (b == c->blocks->cur) c->blocks->stop = true;
}

/* Drop every block that starts on, or runs into, RAM page `page`. */
static void block_drop_page(struct cpu *c, uint64_t page)
{
    struct block_cache *bc = c->blocks;
    unsigned g = block_group(page);
    for (unsigned k = 0; k < BLOCK_GROUP; k++) {
        struct block **pp = &bc->bucket[g * BLOCK_GROUP + k];
        while (*pp) {
            struct block *b = *pp;
            if (b->valid && (b->gpa & PAGE_MASK) == page) block_invalidate(c, b);
            if (!b->valid)
                *pp = b->next;
            else
                pp = &b->next;
        }
    }
    struct block **pp = &bc->xbucket[g];
    while (*pp) {
        struct block *b = *pp;
        if (b->valid && b->gpa2 == page) block_invalidate(c, b);
        if (!b->valid)
            *pp = b->xnext;
        else
            pp = &b->xnext;
    }
    uint64_t off = bus_ram_offset(c->bus, page);
    if (off != UINT64_MAX)
        __atomic_fetch_and(&c->bus->page_flags[off >> BUS_PAGE_SHIFT], (uint8_t)~BUS_PAGE_CODE,
                           __ATOMIC_SEQ_CST);
}

/* Drop the blocks on every page in [gpa, gpa+len). Not only on pages still marked as code:
 * the mark is shared by every cache on the bus, and another vCPU's listener, told of the same
 * write first, has already cleared it. */
static void block_drop_range(struct cpu *c, uint64_t gpa, uint64_t len)
{
    uint64_t last = (gpa + len - 1) & PAGE_MASK;
    for (uint64_t p = gpa & PAGE_MASK;; p += BUS_PAGE_SIZE) {
        if (bus_ram_offset(c->bus, p) != UINT64_MAX) block_drop_page(c, p);
        if (p == last) break;
    }
}

void block_code_write(void *opaque, uint64_t gpa, uint64_t len)
{
    struct cpu *c = opaque;
    struct block_cache *bc = c->blocks;
    if (!len || !bc) return;
    if (bc->owner_set && !pthread_equal(pthread_self(), bc->owner)) {
        pthread_mutex_lock(&bc->remote_lock);
        if (bc->nremote < 32) {
            bc->remote_gpa[bc->nremote] = gpa;
            bc->remote_len[bc->nremote++] = len;
        } else {
            bc->remote_overflow = true;
        }
        __atomic_store_n(&bc->remote_pending, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&bc->remote_lock);
        /* Another vCPU wrote code this one holds: it drops the blocks before the writer goes
         * on (cross-modifying code is then never run stale after the store retires). */
        struct cpu *w = block_writer;
        if (w && w != c && __atomic_load_n(&c->in_run, __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&c->exit_request, 1, __ATOMIC_RELEASE);
            while (__atomic_load_n(&c->in_run, __ATOMIC_SEQ_CST) &&
                   __atomic_load_n(&bc->remote_pending, __ATOMIC_ACQUIRE)) {
                /* c may be waiting for w the same way */
                if (__atomic_load_n(&w->blocks->remote_pending, __ATOMIC_ACQUIRE))
                    block_drain_remote(w);
                tlb_serve_write_requests(w);
                sched_yield();
            }
        }
        return;
    }
    block_drop_range(c, gpa, len);
}

void block_drain_remote(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    uint64_t gpa[32], len[32];
    pthread_mutex_lock(&bc->remote_lock);
    unsigned n = bc->nremote;
    bool overflow = bc->remote_overflow;
    memcpy(gpa, bc->remote_gpa, n * sizeof(gpa[0]));
    memcpy(len, bc->remote_len, n * sizeof(len[0]));
    bc->nremote = 0;
    bc->remote_overflow = false;
    __atomic_store_n(&bc->remote_pending, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&bc->remote_lock);
    if (overflow) {
        block_flush_all(c);
        return;
    }
    for (unsigned k = 0; k < n; k++)
        block_drop_range(c, gpa[k], len[k]);
}

static void block_make_ud(struct insn *i)
{
    memset(i, 0, sizeof(*i));
    i->fn = exec_ud;
    i->len = 1;
    i->flags = INSN_BRANCH;
    i->base = i->index = REG_NONE;
}

static uint64_t block_next_lin(const struct cpu *c, uint64_t lin)
{
    return c->mode == MODE_LONG64 ? lin : (uint32_t)lin;
}

/* Decode one instruction at linear `lin`. first: fetch faults are raised (else the caller ends
 * the block before an instruction it cannot fetch). Returns false to end the block before it;
 * *cross gets the next page's gpa if the instruction runs into it. */
static bool block_decode_at(struct cpu *c, uint64_t lin, struct insn *i, bool first,
                            uint64_t *cross)
{
    uint8_t buf[16];
    uint64_t g[2];
    unsigned avail = mmu_fetch(c, lin, buf, DECODE_MAXLEN, g);
    unsigned in_page = 0x1000 - (unsigned)(lin & 0xfff);
    int len = decode_insn(i, buf, avail, c->mode);
    if (len == DECODE_SHORT) {
        if (!first) return false;
        /* The bytes we need are on a page we cannot fetch from: raise that fault. */
        mmu_translate_exec(c, block_next_lin(c, (lin & PAGE_MASK) + 0x1000));
        len = DECODE_UD;
    }
    *cross = ~0ull;
    if (len < 0 || !(i->fn = exec_lookup(i))) {
        block_make_ud(i);
        return true;
    }
    i->len = (uint8_t)len;
    if ((unsigned)len > in_page) *cross = g[1] & PAGE_MASK;
    return true;
}

void block_decode_one(struct cpu *c, struct insn *i)
{
    uint64_t cross;
    block_decode_at(c, mmu_linear(c, SEG_CS, c->rip), i, true, &cross);
}

/* Mark a page as holding code. Returns true if other vCPUs had to drop their fast write
 * mappings of it: one of them may have written it until then, so bytes read from it before
 * the mark must be read again. */
static bool block_mark_code(struct cpu *c, uint64_t page)
{
    uint64_t off = bus_ram_offset(c->bus, page);
    if (off == UINT64_MAX) return false;
    uint8_t *f = &c->bus->page_flags[off >> BUS_PAGE_SHIFT];
    if (__atomic_fetch_or(f, BUS_PAGE_CODE, __ATOMIC_SEQ_CST) & BUS_PAGE_CODE) return false;
    tlb_protect_code(c, page);
    if (!block_other_vcpus(c)) return false;
    tlb_shootdown_writes(c);
    return true;
}

static struct block *block_build(struct cpu *c, uint64_t rip, uint64_t gpa)
{
    struct block_cache *bc = c->blocks;
    bool cacheable = bus_ram_ptr(c->bus, gpa, 1) != NULL;
    struct block *b;
    if (cacheable) {
        if (bc->arena_used + BLOCK_MAX_SIZE > bc->arena_size) block_flush_all(c);
        b = (struct block *)(bc->arena + bc->arena_used);
    } else {
        b = bc->scratch;
    }
    /* Marked before its bytes are read: a write from another vCPU after this is reported. */
    if (cacheable) block_mark_code(c, gpa & PAGE_MASK);
restart:
    b->gpa = gpa;
    b->gpa2 = ~0ull;
    b->mode = (uint8_t)c->mode;
    b->valid = true;
    b->next = b->xnext = NULL;
    b->jit_code = b->jit_data = NULL;
    memset(b->link, 0, sizeof(b->link));
    unsigned n = 0, used = 0, in_page = 0x1000 - (unsigned)(gpa & 0xfff);
    uint64_t lin = rip;
    while (n < BLOCK_MAX_INSNS) {
        struct insn *i = &b->insn[n];
        uint64_t cross;
        if (!block_decode_at(c, lin, i, n == 0, &cross)) break;
        n++;
        used += i->len;
        lin = block_next_lin(c, lin + i->len);
        if (cross != ~0ull) {
            b->gpa2 = cross;
            break;
        }
        /* A branch or a restarting instruction (rep string) ends the block. */
        if ((i->flags & (INSN_BRANCH | INSN_RESTART)) || used >= in_page) break;
    }
    b->n = (uint16_t)n;
    c->stats.blocks_built++;
    if (!cacheable) return b;
    /* the page the last instruction runs into was read before its mark: again, if it matters */
    if (b->gpa2 != ~0ull && block_mark_code(c, b->gpa2)) goto restart;
    size_t size = sizeof(struct block) + n * sizeof(struct insn);
    bc->arena_used += (size + 15) & ~(size_t)15;
    if (bc->arena_used > bc->arena_high) bc->arena_high = bc->arena_used;
    unsigned k = block_bucket(gpa);
    b->next = bc->bucket[k];
    bc->bucket[k] = b;
    if (b->gpa2 != ~0ull) {
        unsigned g = block_group(b->gpa2);
        b->xnext = bc->xbucket[g];
        bc->xbucket[g] = b;
    }
    return b;
}

struct block *block_get(struct cpu *c, uint64_t rip, uint64_t gpa)
{
    struct block_cache *bc = c->blocks;
    struct block **pp = &bc->bucket[block_bucket(gpa)];
    while (*pp) {
        struct block *b = *pp;
        if (!b->valid) {
            *pp = b->next;
            continue;
        }
        if (b->gpa == gpa && b->mode == c->mode) {
            if (b->gpa2 == ~0ull) return b;
            /* The last instruction's tail must still come from the same physical page. */
            uint64_t g2;
            if (mmu_probe_exec(c, block_next_lin(c, (rip & PAGE_MASK) + 0x1000), &g2) &&
                (g2 & PAGE_MASK) == b->gpa2)
                return b;
            block_invalidate(c, b);
            *pp = b->next;
            break;
        }
        pp = &b->next;
    }
    return block_build(c, rip, gpa);
}
