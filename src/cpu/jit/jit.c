/* jit.c — the translator's per-vCPU state and its glue to the run loop: the entry trampoline,
 * the shared epilogue and indirect-branch lookup (emitted once below the code cache's floor),
 * running translated code, chaining direct exits, and the helper through which translated code
 * calls the interpreter's handler for one instruction (docs/JIT.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/exec/block.h"
#include "cpu/exec/exec.h" /* cur_rip: the run loop's fault accounting */
#include "jit.h"

/* Under valgrind (callgrind measures host instructions per guest instruction), a patched jump
 * must also drop valgrind's own translation of the patched bytes. A no-op otherwise. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define JIT_DISCARD(addr, len) VALGRIND_DISCARD_TRANSLATIONS(addr, len)
#else
#define JIT_DISCARD(addr, len) ((void)0)
#endif

#define CPU_OFF(f) ((int32_t)offsetof(struct cpu, f))

_Static_assert(sizeof(struct jit_ibtc) == 64, "the lookup scales the index by 64");

static unsigned jit_ibtc_index(uint64_t rip)
{
    return (unsigned)((rip ^ (rip >> 12)) & (JIT_IBTC - 1));
}

struct jit *jit_new(size_t cache_size)
{
    struct jit *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->cache = jit_cache_new(cache_size);
    if (!j->cache || !jit_glue(j)) {
        jit_free(j);
        return NULL;
    }
    j->hot = JIT_HOT;
    const char *h = getenv("VESSEL_JIT_HOT");
    if (h && *h) j->hot = (unsigned)strtoul(h, NULL, 0);
    return j;
}

void jit_free(struct jit *j)
{
    if (!j) return;
    if (getenv("VESSEL_JIT_STATS"))
        fprintf(
            stderr,
            "jit: %llu blocks (%llu insns, %llu inline) translated, %llu entries, %llu chained, "
            "%llu ibtc fills, %llu flushes; exits: %llu at entry, %llu lookup, %llu helper; cache "
            "%zu KiB used\n",
            (unsigned long long)j->st.translated, (unsigned long long)j->st.translated_insns,
            (unsigned long long)j->st.inline_insns, (unsigned long long)j->st.entries,
            (unsigned long long)j->st.chained, (unsigned long long)j->st.ibtc_fills,
            (unsigned long long)j->st.flushes, (unsigned long long)j->st.exit_entry,
            (unsigned long long)j->st.exit_lookup, (unsigned long long)j->st.exit_helper,
            j->cache->used >> 10);
    jit_cache_free(j->cache);
    free(j);
}

void jit_flush(struct jit *j)
{
    JIT_DISCARD(j->cache->rx + j->cache->floor, j->cache->used - j->cache->floor);
    jit_cache_flush(j->cache);
    memset(j->ibtc, 0, sizeof(j->ibtc));
    j->last_exit = NULL;
    j->st.flushes++;
}

void jit_exec(struct jit *j, struct cpu *c, struct jit_tb *tb)
{
    j->last_exit = NULL;
    j->poll = 0;
    j->st.entries++;
    ((void (*)(struct cpu *, uintptr_t))j->enter)(c, tb->entry);
}

void jit_link(struct jit *j, struct jit_tb *tb)
{
    struct jit_exit *x = j->last_exit;
    j->last_exit = NULL;
    if (!x || x->tb->gen != j->cache->generation || tb->gen != j->cache->generation) return;
    if (x->target != tb->rip || x->tb->cpl != tb->cpl || !x->tb->block || !tb->block) return;
    /* A target that runs into a second page may only be chained from a block that depends on
     * the same page: a write there drops both. */
    if (tb->block->gpa2 != ~0ull && tb->block->gpa2 != x->tb->block->gpa2) return;
    jit_patch_rel32(jit_cache_rw(j->cache, x->field), x->field, tb->entry);
    JIT_DISCARD((void *)(x->field - 1), 5);
    j->st.chained++;
}

void jit_ibtc_fill(struct jit *j, struct cpu *c, struct jit_tb *tb)
{
    struct block *b = tb->block;
    /* a block running into a second page depends on that page's mapping too: not here */
    if (!b || b->gpa2 != ~0ull || c->mode != MODE_LONG64) return;
    struct jit_ibtc *e = &j->ibtc[jit_ibtc_index(tb->rip)];
    if (e->rip == tb->rip && e->code == tb->entry && e->cpl == tb->cpl) return;
    e->rip = tb->rip;
    e->cpl = tb->cpl;
    e->block = b;
    e->gpa_page = b->gpa & ~0xfffull;
    e->tag_mask = ~(uint64_t)TLB_SLOW & (tb->cpl == 3 ? ~0ull : ~(uint64_t)TLB_KERNEL);
    e->code = tb->entry;
    j->st.ibtc_fills++;
}

uint32_t jit_helper_insn(struct cpu *c, const struct insn *i, uint64_t rip, uint32_t ax,
                         struct jit_tb *tb, uint32_t retired)
{
    struct block_cache *bc = c->blocks;
    if (ax != JIT_AX_MEMORY) {
        uint64_t f = (ax >> 8) & (F_SF | F_ZF | F_AF | F_PF | F_CF);
        if (ax & 0xff) f |= F_OF;
        c->rflags = (c->rflags & ~(uint64_t)F_ARITH) | f;
        c->lf.op = FL_NONE;
    }
    c->rip = rip;
    c->next_rip = rip + i->len;
    bc->cur = tb->block; /* NULL for a single step */
    c->exec->cur_rip = tb->rip;
    bc->stop = false;
    uint64_t epoch = c->tlb.epoch;
    i->fn(c, i);
    bc->cur = NULL;
    bool leave = (i->flags & INSN_BRANCH) || c->next_rip != rip + i->len || bc->stop ||
                 epoch != c->tlb.epoch;
    /* An access that reached a device may have made an interrupt deliverable. */
    if (!leave && (i->flags & INSN_MEM) && (c->rflags & F_IF) && c->intc &&
        c->intc->pending(c->intc_opaque) >= 0)
        leave = true;
    if (!leave) return 0;
    if (c->jit) c->jit->st.exit_helper++;
    c->rip = c->next_rip;
    c->stats.insns += retired;
    return 1;
}
