/* block.h — the decoded-block cache and the run-loop state that lives beside it (owned by
 * exec.c and block.c). A block is a run of decoded instructions starting at a guest-physical
 * address, decoded in one mode. Blocks live in an arena that is only ever reset as a whole, so
 * a block dropped by self-modifying code stays readable until the loop is done with it. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/core.h"

#define BLOCK_MAX_INSNS  64
#define BLOCK_GROUP      16 /* buckets per page group: a page's blocks hash into one group */
#define BLOCK_JUMP_CACHE 4096

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
    uint16_t n;   /* instructions */
    uint8_t mode; /* enum cpu_mode it was decoded in */
    bool valid;
    struct insn insn[];
};

struct block_cache {
    struct block **bucket;  /* ngroups * BLOCK_GROUP chains */
    struct block **xbucket; /* ngroups chains of page-crossing blocks */
    unsigned ngroups;
    uint8_t *arena;
    size_t arena_size, arena_used;
    struct block *scratch; /* for code fetched from MMIO: never cached */

    uint64_t generation;      /* bumped when the arena is reset: older block pointers are dead */
    struct block *recent[16]; /* blocks entered, parallel to cpu.recent_rip (for dumps) */
    uint64_t recent_gen[16];

    /* run loop */
    struct block_link jump[BLOCK_JUMP_CACHE]; /* by linear rip: where chaining missed */
    struct block *cur;                        /* executing block, or NULL */
    uint64_t cur_rip;                         /* linear address of its first instruction */
    volatile bool stop;                       /* end the current block after this instruction */
    uint64_t budget_end;                      /* stats.insns value at which vcpu_run returns */

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
/* bus code_write hook: drop blocks on the written pages. */
void block_code_write(void *opaque, uint64_t gpa, uint64_t len);
/* Decode the instruction at c->rip into *i (fn resolved; #UD handler if undecodable). Faults if
 * the first byte cannot be fetched or a needed second page faults. */
void block_decode_one(struct cpu *c, struct insn *i);
/* Apply code writes queued by other threads (vCPU thread only). */
void block_drain_remote(struct cpu *c);
/* The handler given to undecodable or unsupported instructions. */
void exec_ud(struct cpu *c, const struct insn *i);
/* The run loop (exec.c): run for `budget` instructions. */
enum vcpu_exit exec_run(struct cpu *c, uint64_t budget);
