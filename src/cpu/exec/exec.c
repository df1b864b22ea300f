/* exec.c — the interpreter: one per-instruction loop (exec_insns) used both by the run loop
 * over cached blocks and by cpu_step's single instruction, block chaining (links and the jump
 * cache), interrupts, the exit request and the budget, which are looked at between blocks only.
 * Inside a block the loop does the minimum per instruction (set next_rip, call the handler,
 * retire). With the translator (jit/), a hot block's jit_code runs in place of exec_insns. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/direct/direct.h"
#include "cpu/exec/block.h"
#include "cpu/exec/event.h"
#include "cpu/exec/exec.h"
#include "cpu/jit/jit.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

struct exec_state *exec_state_new(void)
{
    struct exec_state *ex = calloc(1, sizeof(struct exec_state));
    const char *t = getenv("VESSEL_TRACE");
    if (ex && t && *t) {
        char path[512];
        snprintf(path, sizeof(path), "%s", t);
        char *comma = strchr(path, ',');
        ex->trace_hi = UINT64_MAX;
        if (comma) {
            *comma = 0;
            if (sscanf(comma + 1, "%" SCNx64 "-%" SCNx64, &ex->trace_lo, &ex->trace_hi) != 2)
                ex->trace_lo = 0, ex->trace_hi = UINT64_MAX;
        }
        ex->trace = fopen(path, "w");
    }
    return ex;
}

void exec_state_free(struct exec_state *ex)
{
    if (ex && ex->trace) fclose(ex->trace);
    free(ex);
}

/* One traced line (VESSEL_TRACE), before the instruction at rip runs. */
static void exec_trace(struct cpu *c, struct exec_state *ex)
{
    uint64_t lin = c->mode == MODE_LONG64 ? c->rip : c->seg[SEG_CS].base + c->rip;
    if (lin < ex->trace_lo || lin > ex->trace_hi) return;
    fprintf(ex->trace,
            "%04x:%08" PRIx64 " %08" PRIx64 " a=%08x b=%08x c=%08x d=%08x si=%08x di=%08x "
            "bp=%08x sp=%08x\n",
            c->seg[SEG_CS].sel, c->rip, lin, (uint32_t)c->gpr[R_RAX], (uint32_t)c->gpr[R_RBX],
            (uint32_t)c->gpr[R_RCX], (uint32_t)c->gpr[R_RDX], (uint32_t)c->gpr[R_RSI],
            (uint32_t)c->gpr[R_RDI], (uint32_t)c->gpr[R_RBP], (uint32_t)c->gpr[R_RSP]);
}

/* Run decoded instructions from i up to end: stop early when the cache asks (the running block
 * was dropped) or, inside an STI / MOV SS shadow, after one instruction. Returns the first
 * instruction not run. A fault longjmps out with c->rip at the faulting instruction. */
static inline const struct insn *exec_insns(struct cpu *c, struct block_cache *bc,
                                            const struct insn *i, const struct insn *end)
{
    bool shadow = c->intr_shadow;
    c->intr_shadow = false;
    do {
        c->next_rip = c->rip + i->len;
        i->fn(c, i);
        c->rip = c->next_rip;
        i++;
    } while (i < end && !bc->stop && !shadow);
    return i;
}

/* One instruction under the debug rules (SDM Vol. 3A 17.3), taken while TF is set or any
 * DR7 breakpoint is enabled; the translator never runs then.
 * - An instruction breakpoint on rip is a fault before the instruction, unless RF is set
 *   (RF is cleared once an instruction other than IRET completes).
 * - Data breakpoints (mmu.c records them in dr_hits on the slow path, which all data accesses
 *   take while a breakpoint is enabled) and single-step are traps after the instruction,
 *   delivered with rip at the next one, together in one #DB.
 * - With TF set at its start, an instruction traps with DR6.BS. SYSCALL and SYSRET look at TF
 *   after they ran instead, in their handlers (sys_far.c), so that a SYSRET from un-stepped
 *   kernel code traps too. MOV SS defers its traps past the next instruction. An instruction
 *   that faults or is a software interrupt does not trap: the delivery clears TF. */
static void exec_traced_one(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    bool tf = c->rflags & F_TF;
    bool movss = c->intr_shadow && c->dr_hits; /* hits carried over a MOV SS */
    if (!movss) c->dr_hits = 0;
    if ((c->dr[7] & DR7_EN) && !(c->rflags & F_RF)) {
        unsigned hit = cpu_dr_match(c, mmu_linear(c, SEG_CS, c->rip), 1, DR_RW_EXEC);
        if (hit) {
            c->dr[6] = (c->dr[6] & ~0xfull) | hit;
            cpu_fault(c, EXC_DB);
        }
    }
    struct insn i;
    block_decode_one(c, &i);
    exec_insns(c, bc, &i, &i + 1);
    c->stats.insns++;
    if (i.op != 0x0cf) c->rflags &= ~(uint64_t)F_RF;    /* iret */
    if (i.op == 0x105 || i.op == 0x107) tf = false;     /* syscall, sysret: their own */
    if (i.op == 0x08e && (i.reg & 7) == SEG_SS) return; /* mov ss: the next one's */
    if (tf || c->dr_hits) {
        if (c->dr_hits) c->dr[6] = (c->dr[6] & ~0xfull) | c->dr_hits;
        if (tf) c->dr[6] |= DR6_BS;
        c->dr_hits = 0;
        cpu_fault(c, EXC_DB);
    }
}

int cpu_step(struct cpu *c, bool deliver)
{
    struct block_cache *bc = c->blocks;
    tlb_check_controls(c);
    if (_setjmp(c->fault_jmp)) {
        int vec = c->pending_exc;
        bc->cur = NULL;
        if (deliver) event_fault(c);
        return vec;
    }
    if (unlikely((c->rflags & F_TF) || (c->dr[7] & DR7_EN))) {
        exec_traced_one(c);
        return -1;
    }
    if (c->jit && c->mode == MODE_LONG64 && !c->intr_shadow) {
        /* The translator's version of one instruction: a one-instruction block, translated
         * and run once (it counts itself). */
        struct jit *j = c->jit;
        block_decode_one(c, &j->step_insn);
        struct jit_tb *tb = jit_translate(j, c, NULL, &j->step_insn, 1, c->rip);
        if (!tb) {
            jit_flush(j);
            block_forget_translations(bc); /* their jit_code points at reused space now */
            tb = jit_translate(j, c, NULL, &j->step_insn, 1, c->rip);
        }
        if (tb) {
            j->budget_end = c->stats.insns + 1;
            jit_exec(j, c, tb);
            return -1;
        }
    }
    struct insn i;
    block_decode_one(c, &i);
    exec_insns(c, bc, &i, &i + 1);
    c->stats.insns++;
    return -1;
}

/* A fault ended the current block early: count the instructions that did retire. */
static void exec_account_partial(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    const struct block *b = bc->cur;
    if (!b) return;
    uint64_t rip = c->exec->cur_rip;
    for (unsigned k = 0; k < b->n && rip != c->rip; k++) {
        rip += b->insn[k].len;
        c->stats.insns++;
    }
    bc->cur = NULL;
}

/* The block at c->rip: through the previous block's links, then the jump cache, then the
 * cache proper (translating rip). Links and jump-cache entries carry the TLB epoch. */
static inline struct block *exec_find(struct cpu *c, struct exec_state *ex, struct block *prev)
{
    uint64_t rip = c->rip, epoch = c->tlb.epoch;
    if (prev) {
        if (prev->link[0].rip == rip && prev->link[0].epoch == epoch) return prev->link[0].b;
        if (prev->link[1].rip == rip && prev->link[1].epoch == epoch) return prev->link[1].b;
    }
    struct block_link *j = &ex->jump[(rip ^ (rip >> 12)) & (EXEC_JUMP_CACHE - 1)];
    struct block *b;
    if (j->rip == rip && j->epoch == epoch && j->b) {
        b = j->b;
    } else {
        /* Outside 64-bit mode code is fetched at CS.base + EIP; a CS load bumps the epoch */
        uint64_t lin = c->mode == MODE_LONG64 ? rip : mmu_linear(c, SEG_CS, rip);
        b = block_get(c, lin, mmu_translate_exec(c, lin));
        if (epoch != c->tlb.epoch || b == c->blocks->scratch) return b;
        *j = (struct block_link){rip, epoch, b};
    }
    if (prev) {
        prev->link[1] = prev->link[0];
        prev->link[0] = (struct block_link){rip, epoch, b};
    }
    return b;
}

/* Run b's translation (making it once b is hot) in place of exec_insns. False: interpret b.
 * The hotness count lives in jit_data while the block has no jit_code. */
static bool exec_jit(struct cpu *c, struct exec_state *ex, struct block *b)
{
    struct block_cache *bc = c->blocks;
    struct jit *j = c->jit;
    if (j->block_gen != bc->generation) {
        jit_flush(j); /* translations point at struct insns of the old arena */
        j->block_gen = bc->generation;
    }
    struct jit_tb *tb = b->jit_code;
    if (!jit_tb_live(j, tb, b, c->rip, c->cpl)) {
        uintptr_t runs = (uintptr_t)b->jit_data + 1;
        b->jit_data = (void *)runs;
        if (runs < j->hot) return false;
        tb = jit_translate(j, c, b, b->insn, b->n, c->rip);
        if (!tb) {
            jit_flush(j);
            block_forget_translations(bc); /* their jit_code points at reused space now */
            tb = jit_translate(j, c, b, b->insn, b->n, c->rip);
            if (!tb) return false;
        }
        if (b->jit_code && ((struct jit_tb *)b->jit_code)->gen == j->cache->generation)
            jit_ibtc_forget(j, b->jit_code); /* the old one (another rip) dies with this slot */
        b->jit_code = tb;
    }
    jit_link(j, tb);
    /* The table's entries are checked against the code TLB: make sure rip's entry is there
     * (the links and the jump cache may have found b without looking at the TLB). */
    mmu_translate_exec(c, c->rip);
    jit_ibtc_fill(j, c, tb);
    j->budget_end = ex->budget_end;
    if (j->verify && ++j->verify_count >= j->verify) {
        j->verify_count = 0;
        jit_verify(j, c, tb);
    } else {
        jit_exec(j, c, tb);
    }
    return true;
}

__attribute__((noinline)) static enum vcpu_exit exec_loop(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    struct exec_state *ex = c->exec;
    struct block *prev = NULL;
    for (;;) {
        if (unlikely(c->exit_request)) {
            c->exit_request = 0;
            return c->exit = VCPU_EXIT_REQUEST;
        }
        if (unlikely(__atomic_load_n(&bc->remote_pending, __ATOMIC_ACQUIRE))) block_drain_remote(c);
        if (unlikely(__atomic_load_n(&c->tlb_write_req, __ATOMIC_RELAXED) != c->tlb_write_done))
            tlb_serve_write_requests(c);
        if (unlikely(c->stats.insns >= ex->budget_end)) return c->exit = VCPU_EXIT_BUDGET;
        if ((c->rflags & F_IF) && !c->intr_shadow && c->intc) {
            int vec = c->intc->pending(c->intc_opaque);
            if (vec >= 0) {
                c->intc->ack(c->intc_opaque, vec);
                c->halted = false;
                event_interrupt(c, (unsigned)vec);
            }
        }
        if (unlikely(c->halted)) {
            block_idle(c); /* an idle guest may give its caches back */
            return c->exit = VCPU_EXIT_HLT;
        }
        if (unlikely((c->rflags & F_TF) || (c->dr[7] & DR7_EN) || ex->trace)) {
            if (ex->trace) exec_trace(c, ex);
            exec_traced_one(c);
            prev = NULL;
            continue;
        }
        if (c->direct && c->cpl == 3 && c->mode == MODE_LONG64 && !c->intr_shadow) {
            /* Ring-3 code natively (direct/); what it cannot do, one instruction here. */
            enum direct_result r = direct_run(c, ex->budget_end);
            if (r == DIRECT_STEP) {
                struct insn i;
                block_decode_one(c, &i);
                exec_insns(c, bc, &i, &i + 1);
                c->stats.insns++;
            }
            if (r != DIRECT_OFF) {
                prev = NULL;
                continue;
            }
        }

        struct block *b = exec_find(c, ex, prev);
        unsigned slot = c->recent_pos++ & 15;
        c->recent_rip[slot] = c->rip;
        ex->recent[slot] = b;
        ex->recent_gen[slot] = bc->generation;
        if (c->jit && b != bc->scratch && b->mode == MODE_LONG64 && !c->intr_shadow &&
            exec_jit(c, ex, b)) {
            prev = NULL; /* translated code chains on its own */
            continue;
        }
        bc->cur = b;
        ex->cur_rip = c->rip;
        bc->stop = false;
        const struct insn *end = exec_insns(c, bc, b->insn, b->insn + b->n);
        c->stats.insns += (uint64_t)(end - b->insn);
        bc->cur = NULL;
        prev = b == bc->scratch ? NULL : b;
    }
}

enum vcpu_exit exec_run(struct cpu *c, uint64_t budget)
{
    struct block_cache *bc = c->blocks;
    if (c->exit == VCPU_EXIT_SHUTDOWN || c->exit == VCPU_EXIT_INTERNAL) return c->exit;
    c->exec->budget_end = c->stats.insns + budget;
    if (!bc->owner_set || !pthread_equal(bc->owner, pthread_self())) {
        bc->owner = pthread_self();
        bc->owner_set = true;
    }
    tlb_check_controls(c);
    /* Other vCPUs' requests made while this one was out are served before it runs. */
    __atomic_store_n(&c->in_run, 1, __ATOMIC_SEQ_CST);
    block_set_running(c);
    tlb_serve_write_requests(c);
    enum vcpu_exit e;
    for (;;) {
        if (_setjmp(c->fault_jmp) == 0) {
            e = exec_loop(c);
            break;
        }
        exec_account_partial(c);
        /* Guest user code chose its instructions from the host's CPUID: what the engine
         * cannot execute runs natively, one instruction (direct/). */
        if (c->direct && c->pending_exc == EXC_UD && c->cpl == 3 && c->mode == MODE_LONG64 &&
            direct_native_one(c))
            continue;
        if (!event_fault(c)) {
            e = VCPU_EXIT_SHUTDOWN;
            break;
        }
    }
    block_set_running(NULL);
    __atomic_store_n(&c->in_run, 0, __ATOMIC_SEQ_CST);
    return e;
}
