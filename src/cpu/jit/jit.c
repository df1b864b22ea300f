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

#define CPU_OFF(f) ((int32_t)offsetof(struct cpu, f))

static unsigned jit_ibtc_index(uint64_t rip)
{
    return (unsigned)((rip ^ (rip >> 12)) & (JIT_IBTC - 1));
}

/* enter(c, code): save the callee-saved registers, align the stack, RBX = c, jump.
 * epilogue: undo that and return to the run loop.
 * lookup: RCX = guest RIP; jump to its translation if the table has a current one. */
static bool jit_emit_glue(struct jit *j)
{
    uint8_t *rw;
    size_t avail;
    uintptr_t rx = jit_cache_begin(j->cache, &rw, &avail);
    struct jit_emit em, *e = &em;
    jit_emit_init(e, rw, rx, avail);
    static const uint8_t saved[] = {HR_RBX, HR_RBP, HR_R12, HR_R13, HR_R14, HR_R15};

    j->enter = jit_emit_here(e);
    for (unsigned k = 0; k < 6; k++)
        emit_push(e, saved[k]);
    emit_alu_ri(e, JALU_SUB, 8, HR_RSP, 8); /* 8 (return) + 48 + 8: 16-byte aligned */
    emit_mov_rr(e, 8, HR_RBX, HR_RDI);
    emit_jmp_r(e, HR_RSI);

    emit_align(e, 16);
    j->epilogue = jit_emit_here(e);
    emit_alu_ri(e, JALU_ADD, 8, HR_RSP, 8);
    for (unsigned k = 6; k-- > 0;)
        emit_pop(e, saved[k]);
    emit_ret(e);

    emit_align(e, 16);
    j->lookup = jit_emit_here(e);
    emit_mov_rr(e, 8, HR_RDX, HR_RCX);
    emit_shift_ri(e, JSH_SHR, 8, HR_RDX, 12);
    emit_alu_rr(e, JALU_XOR, 8, HR_RDX, HR_RCX);
    emit_alu_ri(e, JALU_AND, 4, HR_RDX, JIT_IBTC - 1);
    emit_shift_ri(e, JSH_SHL, 4, HR_RDX, 5);
    emit_mov_ri(e, 8, HR_RDI, (uintptr_t)j->ibtc);
    emit_alu_rr(e, JALU_ADD, 8, HR_RDI, HR_RDX);
    emit_alu_rm(e, JALU_CMP, 8, HR_RCX, jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, rip)));
    emit_jcc_abs(e, JCC_NE, j->epilogue);
    emit_load(e, 8, HR_RAX, jit_mem(HR_RBX, CPU_OFF(tlb.epoch)));
    emit_alu_rm(e, JALU_CMP, 8, HR_RAX, jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, epoch)));
    emit_jcc_abs(e, JCC_NE, j->epilogue);
    emit_jmp_m(e, jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, code)));
    if (e->overflow) return false;
    jit_cache_commit(j->cache, e->pos, "jit_glue");
    jit_cache_set_floor(j->cache);
    return true;
}

struct jit *jit_new(size_t cache_size)
{
    struct jit *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->cache = jit_cache_new(cache_size);
    if (!j->cache || !jit_emit_glue(j)) {
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
            "%llu ibtc fills, %llu flushes\n",
            (unsigned long long)j->st.translated, (unsigned long long)j->st.translated_insns,
            (unsigned long long)j->st.inline_insns, (unsigned long long)j->st.entries,
            (unsigned long long)j->st.chained, (unsigned long long)j->st.ibtc_fills,
            (unsigned long long)j->st.flushes);
    jit_cache_free(j->cache);
    free(j);
}

void jit_flush(struct jit *j)
{
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
    j->st.chained++;
}

void jit_ibtc_fill(struct jit *j, struct cpu *c, struct jit_tb *tb)
{
    struct jit_ibtc *e = &j->ibtc[jit_ibtc_index(tb->rip)];
    e->rip = tb->rip;
    e->epoch = c->tlb.epoch;
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
    c->rip = c->next_rip;
    c->stats.insns += retired;
    return 1;
}
