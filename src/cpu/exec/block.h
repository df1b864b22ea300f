/* block.h — the decoded-block cache (block.c): lookup, building, invalidation and the arena.
 * A block is a run of decoded instructions starting at a guest-physical address, decoded in
 * one mode. Blocks live in an arena that is only ever reset as a whole, so a block dropped by
 * self-modifying code stays readable until its executor is done with it. The cache knows
 * nothing of how blocks run: the interpreter (exec.h) and a translator (jit/) both execute
 * from it and obey the same invalidation. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/core.h"

#define BLOCK_MAX_INSNS 64
#define BLOCK_GROUP     16 /* buckets per page group: a page's blocks hash into one group */

/* "After this block, rip `rip` led to block `b`": valid while `epoch` equals the TLB epoch (no
 * flush, mode change or block drop since). */
struct block_link {
    uint64_t rip, epoch;
    struct block *b;
};

struct block {
    uint64_t gpa;        /* key: guest-physical address of the first byte */
    uint64_t gpa2;       /* page the last instruction runs into, or ~0 */
    struct block *next;  /* bucket chain */
    struct block *xnext; /* chain of blocks crossing into a page (by gpa2's group) */
    /* The blocks that followed last time (two: both ways of a conditional branch). */
    struct block_link link[2];
    /* Translated host code for this block (jit/), NULL while it only runs interpreted. When
     * the block is dropped the cache calls its jit_drop hook first (so the translator can
     * unlink and free jit_code and jit_data) and then clears both. */
    void *jit_code;
    void *jit_data;
    uint16_t n;   /* instructions */
    uint8_t mode; /* enum cpu_mode it was decoded in */
    bool valid;
    struct insn insn[];
};

struct block_cache {
    struct block **bucket;  /* ngroups * BLOCK_GROUP chains (own mapping: reset by a discard) */
    struct block **xbucket; /* ngroups chains of page-crossing blocks (likewise) */
    unsigned ngroups;
    uint8_t *arena;
    size_t arena_size, arena_used;
    size_t arena_high;     /* bytes of the arena touched since its pages were last given back */
    struct block *scratch; /* for code fetched from MMIO: never cached */

    /* The idle trim (block_idle): when the cache was last reset, what it held once the guest
     * first went quiet after the last trim (0 after any other reset: unknown), the last idle
     * check's view of blocks_built and when it last saw it change. */
    uint64_t reset_ns, quiet_since_ns, idle_built;
    size_t trim_base;
    bool trim_base_set;
    uint64_t trims; /* idle trims so far */
    /* The trim's rule (defaults in block.c; tests shorten them): quiet this long, the last
     * reset this old, and the arena grown this much. */
    uint64_t trim_quiet_ns, trim_interval_ns;
    size_t trim_growth;

    uint64_t generation; /* bumped when the arena is reset: older block pointers are dead */

    /* The executor announces the block it runs; dropping that block keeps the arena alive
     * and sets stop, which the executor checks after every instruction. */
    struct block *cur;  /* executing block, or NULL */
    volatile bool stop; /* end the current block after this instruction */

    /* Called for every dropped block that has jit_code (set by the translator). */
    void (*jit_drop)(void *opaque, struct block *b);
    void *jit_opaque;

    /* Code writes from other threads (device DMA on an I/O thread) are queued here and
     * applied by the vCPU thread between blocks: the cache is single-threaded. */
    pthread_t owner; /* the thread in vcpu_run */
    bool owner_set;
    pthread_mutex_t remote_lock;
    uint64_t remote_gpa[32], remote_len[32];
    unsigned nremote;
    bool remote_overflow; /* too many queued: flush everything */
    int remote_pending;   /* atomic: the queue is not empty */
};

struct block_cache *block_cache_new(void);
void block_cache_free(struct block_cache *bc);
/* Drop everything (arena reset) and clear the code marks of all RAM pages. */
void block_flush_all(struct cpu *c);
/* The block for linear `rip` at guest-physical `gpa` in the current mode: cached or built. */
struct block *block_get(struct cpu *c, uint64_t rip, uint64_t gpa);
/* The engine's bus code-write listener (opaque = struct cpu): drop blocks on the written
 * pages, or queue the range when called from another thread. */
void block_code_write(void *opaque, uint64_t gpa, uint64_t len);
/* Decode the instruction at c->rip into *i (fn resolved; #UD handler if undecodable). Faults if
 * the first byte cannot be fetched or a needed second page faults. */
void block_decode_one(struct cpu *c, struct insn *i);
/* The calling thread runs vCPU c from now on (NULL: none); exec_run calls it. */
void block_set_running(struct cpu *c);
/* Apply code writes queued by other threads (vCPU thread only). */
void block_drain_remote(struct cpu *c);
/* The vCPU is idle (halted, vCPU thread, between blocks). If the guest has built no block for a
 * while and the cache has grown well past what the quiet guest needs, drop everything and give
 * the memory back to the host (the translator's code cache follows at its next entry): an idle
 * guest keeps only the code it runs while idle. Cheap when there is nothing to do. */
void block_idle(struct cpu *c);
/* Forget every block's translation (jit_code) but keep the blocks and their hotness counts:
 * after the translator's code cache was flushed on its own, jit_code points at reused space. */
void block_forget_translations(struct block_cache *bc);
/* Install the translator's hook for dropped blocks that carry jit_code (NULL: none). */
void block_set_jit_drop(struct block_cache *bc, void (*fn)(void *opaque, struct block *b),
                        void *opaque);
