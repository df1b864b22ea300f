/* jit.h — the translator's per-vCPU state and its interface to the run loop (see docs/JIT.md).
 * jit_translate() turns one decoded block into host code in the vCPU's code cache; the run loop
 * calls jit_exec() for blocks that have translations. Translated code reads the fields at the
 * top of struct jit through absolute addresses embedded in it, so a struct jit never moves. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "cpu/core.h"
#include "cache.h"
#include "emit.h"

#define JIT_IBTC      32768   /* indirect-branch table entries (power of two) */
#define JIT_HOT       16      /* executions before a block is translated */
#define JIT_AX_MEMORY 0xffffu /* helper's flags argument: the flags are already in struct cpu */

struct block;
struct jit_tb;

/* A direct exit of a translated block that can be chained: the rel32 of its jmp. */
struct jit_exit {
    uintptr_t field;   /* RX address of the rel32 field */
    uint64_t target;   /* guest linear RIP it goes to */
    struct jit_tb *tb; /* the block it belongs to */
};

/* A call from translated code to an instruction's handler (jit_helper_insn's arguments). */
struct jit_call {
    const struct insn *insn;
    uint64_t rip;
    struct jit_tb *tb;
    uint32_t retired, pad;
};

/* One translation. Lives in the code cache just before its code, so a flush frees both at
 * once; `gen` says which cache generation it belongs to. Written through the writable view
 * while it is made; every pointer to it (block, exits, records) is into the executable view,
 * read-only, so the writable view's pages can be let go (jit_cache_commit). */
struct jit_tb {
    uintptr_t entry; /* RX address of the code */
    uint64_t gen;
    uint64_t rip;        /* guest linear RIP of the first instruction */
    struct block *block; /* the decoded block (its struct insns are called by fallbacks) */
    uint32_t code_len;
    uint32_t body; /* offset of the code after the entry checks (forward chains enter there) */
    uint8_t cpl;
    uint8_t nexit;
    struct jit_exit exit[2];
};

/* An indirect-branch table entry: valid while the code TLB still maps rip's page to the
 * block's physical page and the CPU is at the CPL it was translated for. Dropping the block
 * clears its entry (jit_block_dropped); translated code only runs in long mode. (A count of
 * TLB flushes instead of the TLB check was tried: INVLPG is frequent enough during a boot to
 * empty the table over and over.) */
struct jit_ibtc {
    uint64_t rip;
    uint64_t gpa_page; /* physical page of the block's first byte */
    uint64_t tag_mask; /* TLB tag bits that must match (TLB_KERNEL ignored below CPL 3) */
    uintptr_t code;
    uint32_t cpl, pad;
    uint64_t pad2[3];
};

/* The indirect-branch table slot of a guest RIP (the lookup code computes the same). */
static inline unsigned jit_ibtc_index(uint64_t rip)
{
    return (unsigned)((rip ^ (rip >> 12)) & (JIT_IBTC - 1));
}

struct jit_stats {
    uint64_t translated, translated_insns, inline_insns, entries, chained, ibtc_fills, flushes;
    /* why translated code returned to the run loop (besides chain-pending stubs) */
    uint64_t exit_entry, exit_lookup, exit_helper;
    uint64_t verify_runs, verify_bad, verify_skipped;
    uint64_t helper_op[0x300]; /* handler calls by opcode (VESSEL_JIT_STATS) */
    uint64_t exit_op[0x300];   /* ... of which left the block */
};

struct jit {
    /* read and written by translated code */
    uint64_t budget_end;        /* stats.insns at which blocks stop entering */
    struct jit_exit *last_exit; /* the chainable exit just taken, or NULL */
    struct jit_ibtc ibtc[JIT_IBTC];

    struct jit_cache *cache;
    uintptr_t enter;       /* void enter(struct cpu *c, uintptr_t code) */
    uintptr_t epilogue;    /* where every exit ends */
    uintptr_t lookup;      /* indirect-branch table lookup: RCX = guest RIP (stored in c->rip) */
    uintptr_t epilogue_ax; /* the same, with the flags image in AX to store first */
    uintptr_t g_call_insn, g_flags_load, g_stub, g_leave, g_leave_entry; /* glue */
    uintptr_t g_lookup_miss; /* where every lookup (shared or inline) goes on a miss */
    unsigned hot;            /* translation threshold */
    uint64_t block_gen;      /* block-arena generation the translations were made for */
    unsigned verify;         /* VESSEL_JIT_VERIFY sample period, 0 = off */
    uint64_t dump_rip;       /* VESSEL_JIT_DUMP: write this rip's translations to /tmp */
    unsigned verify_count;
    struct jit_stats st;
    struct insn step_insn; /* the instruction of a single step (cpu_step) */
};

/* Per-vCPU translator with a code cache of `cache_size` bytes (0: default). NULL if the host
 * cannot give us executable memory. */
struct jit *jit_new(size_t cache_size);
void jit_free(struct jit *j);
/* Emit the shared glue code (translate.c); false if the cache is too small. */
bool jit_glue(struct jit *j);
/* Forget every translation (cache flush, ibtc cleared). */
void jit_flush(struct jit *j);
/* Translate the n instructions of block b, whose first instruction is at linear `rip`, for
 * the current CPL. NULL if the cache is full (flush and retry) or the block cannot be
 * translated at all. */
struct jit_tb *jit_translate(struct jit *j, struct cpu *c, struct block *b, const struct insn *insn,
                             unsigned n, uint64_t rip);
/* Whether tb is block b's usable translation at linear `rip` now: same cache generation, CPL
 * and linear address (a block is found by physical address, but its translation embeds linear
 * ones). b->jit_code may point at reused cache space after a flush, hence the block check. */
static inline bool jit_tb_live(const struct jit *j, const struct jit_tb *tb, const struct block *b,
                               uint64_t rip, unsigned cpl)
{
    return tb && tb->gen == j->cache->generation && tb->block == b && tb->cpl == cpl &&
           tb->rip == rip;
}
/* Run translated code from tb until it exits; c->rip is then the next instruction. Faults
 * longjmp out of it to the run loop like any handler's. */
void jit_exec(struct jit *j, struct cpu *c, struct jit_tb *tb);
/* Chain the exit just taken (j->last_exit) to tb if that is allowed; cheap when not. */
void jit_link(struct jit *j, struct jit_tb *tb);
/* Remember tb as the translation for rip in the indirect-branch table. */
void jit_ibtc_fill(struct jit *j, struct cpu *c, struct jit_tb *tb);
/* Forget tb in the indirect-branch table (its block is dropped or retranslated). */
void jit_ibtc_forget(struct jit *j, const struct jit_tb *tb);
/* The block cache's drop hook (block_set_jit_drop; opaque = struct jit). */
void jit_block_dropped(void *opaque, struct block *b);

/* The verify mode (VESSEL_JIT_VERIFY=N): every Nth block entered from the run loop is also run
 * by the interpreter in a forked copy of the process, and the guest state after both is
 * compared (registers, RIP, defined flags, the memory the block addressed). Divergences are
 * reported on stderr and counted in st.verify_bad. Faults propagate as usual. */
void jit_verify(struct jit *j, struct cpu *c, struct jit_tb *tb);
/* The arithmetic flags a block's last flag-writing instruction defines when translated. */
uint32_t jit_flags_defined(const struct insn *insn, unsigned n);

/* Whether a system instruction (INSN_BRANCH) that the interpreter handles may let the
 * translated block go on after it: SWAPGS, CLAC, STAC and RDTSCP change nothing translated code
 * depends on (the GS base is read at run time; AC matters to no check of the TLB). */
static inline bool jit_insn_stays(const struct insn *i)
{
    return i->op == 0x101 &&
           (i->modrm == 0xF8 || i->modrm == 0xCA || i->modrm == 0xCB || i->modrm == 0xF9);
}

/* Called from translated code (not for other use). */
uint32_t jit_helper_insn(struct cpu *c, const struct insn *i, uint64_t rip, uint32_t ax,
                         struct jit_tb *tb, uint32_t retired);
