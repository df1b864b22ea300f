/* exec.c — the interpreter: raising faults (longjmp back to the loop), architectural reset,
 * mode bookkeeping, single-stepping, and the run loop over cached blocks. Interrupts, the exit
 * request and the budget are looked at between blocks only; inside a block the loop does the
 * minimum per instruction (set next_rip, call the handler, retire). */
#include <string.h>

#include "cpu/exec/block.h"
#include "cpu/exec/event.h"
#include "cpu/msr.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

_Noreturn void cpu_fault(struct cpu *c, unsigned vector)
{
    c->pending_exc = (int)vector;
    c->exc_has_error = false;
    c->exc_error = 0;
    c->exc_raise_kind = EV_EXC;
    _longjmp(c->fault_jmp, 1);
}

_Noreturn void cpu_fault_err(struct cpu *c, unsigned vector, uint32_t error)
{
    c->pending_exc = (int)vector;
    c->exc_has_error = true;
    c->exc_error = error;
    c->exc_raise_kind = EV_EXC;
    _longjmp(c->fault_jmp, 1);
}

_Noreturn void cpu_soft_int(struct cpu *c, unsigned vector)
{
    c->pending_exc = (int)vector;
    c->exc_has_error = false;
    c->exc_error = 0;
    c->exc_raise_kind = EV_SOFT;
    _longjmp(c->fault_jmp, 1);
}

void cpu_mode_changed(struct cpu *c)
{
    const struct segcache *cs = &c->seg[SEG_CS];
    if (!(c->cr0 & CR0_PE)) {
        c->cpl = 0;
        c->mode = MODE_REAL;
    } else {
        c->cpl = cs->sel & 3;
        if (c->efer & EFER_LMA)
            c->mode = (cs->attr & 0x2000)   ? MODE_LONG64
                      : (cs->attr & 0x4000) ? MODE_COMPAT32
                                            : MODE_COMPAT16;
        else
            c->mode = (cs->attr & 0x4000) ? MODE_PROT32 : MODE_PROT16;
    }
    c->tlb.epoch++; /* CPL or mode may differ: block links must be re-validated */
    tlb_check_controls(c);
}

void cpu_reset(struct cpu *c, struct bus *bus)
{
    /* Keep what the platform wired up and the engine's own bookkeeping; reset the rest. */
    const struct vcpu_intc_ops *intc = c->intc;
    void *intc_opaque = c->intc_opaque;
    const struct vcpu_msr_ops *msr_ops = c->msr_ops;
    void *msr_opaque = c->msr_opaque;
    struct block_cache *blocks = c->blocks;
    struct vcpu_stats stats = c->stats;
    unsigned id = c->id;
    uint64_t tsc_hz = c->tsc_hz;
    memset(c, 0, sizeof(*c));
    c->intc = intc;
    c->intc_opaque = intc_opaque;
    c->msr_ops = msr_ops;
    c->msr_opaque = msr_opaque;
    c->blocks = blocks;
    c->stats = stats;
    c->id = id;
    c->tsc_hz = tsc_hz ? tsc_hz : CPU_TSC_HZ;
    c->bus = bus;

    c->rip = c->next_rip = 0xfff0;
    c->rflags = 0x2;
    c->gpr[R_RDX] = 0x600; /* family 6 */
    c->seg[SEG_CS] = (struct segcache){0xf000, 0xffff0000ull, 0xffff, 0x9b};
    for (unsigned s = 0; s < 6; s++)
        if (s != SEG_CS) c->seg[s] = (struct segcache){0, 0, 0xffff, 0x93};
    c->seg[SEG_LDTR] = (struct segcache){0, 0, 0xffff, 0x82};
    c->seg[SEG_TR] = (struct segcache){0, 0, 0xffff, 0x8b};
    c->gdt_limit = c->idt_limit = 0xffff;
    c->cr0 = CR0_ET | CR0_CD | CR0_NW;
    c->dr[6] = 0xffff0ff0;
    c->dr[7] = 0x400;
    c->mxcsr = 0x1f80;
    c->fpu.fcw = 0x37f;
    c->fpu.ftw = 0xffff;
    c->pat = 0x0007040600070406ull;
    /* Fast-string enable, as firmware leaves it: Linux clears ERMS when this bit is clear but
     * keeps FSRM, and its memmove then runs away on short copies (FSRM without ERMS). */
    c->misc_enable = 1;
    c->exc_vector = -1;
    c->exc_deliver_kind = -1;
    c->pending_exc = -1;
    c->exit = VCPU_EXIT_BUDGET;
    cpu_write_tsc(c, 0);
    cpu_mode_changed(c);
    tlb_flush_all(c);
    bus->code_write = block_code_write;
    bus->code_write_opaque = c;
    if (c->blocks) block_flush_all(c);
}

void cpu_setup_flat64(struct cpu *c, unsigned cpl)
{
    cpl &= 3;
    uint16_t cs = cpl ? 0x33 : 0x10, ds = cpl ? 0x2b : 0x18;
    c->seg[SEG_CS] = (struct segcache){cs, 0, 0xffffffffu, (uint16_t)(0xA09B | cpl << 5)};
    for (unsigned s = 0; s < 6; s++)
        if (s != SEG_CS)
            c->seg[s] = (struct segcache){ds, 0, 0xffffffffu, (uint16_t)(0xC093 | cpl << 5)};
    c->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE;
    c->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    c->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    c->rflags = 0x2;
    c->lf.op = FL_NONE;
    c->halted = false;
    c->intr_shadow = false;
    cpu_mode_changed(c);
    tlb_flush_all(c);
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
    bool shadow = c->intr_shadow;
    struct insn i;
    block_decode_one(c, &i);
    c->next_rip = c->rip + i.len;
    i.fn(c, &i);
    c->rip = c->next_rip;
    c->stats.insns++;
    if (shadow) c->intr_shadow = false;
    return -1;
}

/* A fault ended the current block early: count the instructions that did retire. */
static void exec_account_partial(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    const struct block *b = bc->cur;
    if (!b) return;
    uint64_t rip = bc->cur_rip;
    for (unsigned k = 0; k < b->n && rip != c->rip; k++) {
        rip += b->insn[k].len;
        c->stats.insns++;
    }
    bc->cur = NULL;
}

/* The block at c->rip: through the previous block's links, then the jump cache, then the
 * cache proper (translating rip). Links and jump-cache entries carry the TLB epoch. */
static inline struct block *exec_find(struct cpu *c, struct block *prev)
{
    struct block_cache *bc = c->blocks;
    uint64_t rip = c->rip, epoch = c->tlb.epoch;
    if (prev) {
        if (prev->link[0].rip == rip && prev->link[0].epoch == epoch) return prev->link[0].b;
        if (prev->link[1].rip == rip && prev->link[1].epoch == epoch) return prev->link[1].b;
    }
    struct block_link *j = &bc->jump[(rip ^ (rip >> 12)) & (BLOCK_JUMP_CACHE - 1)];
    struct block *b;
    if (j->rip == rip && j->epoch == epoch && j->b) {
        b = j->b;
    } else {
        b = block_get(c, rip, mmu_translate_exec(c, rip));
        if (epoch != c->tlb.epoch || b == bc->scratch) return b;
        *j = (struct block_link){rip, epoch, b};
    }
    if (prev) {
        prev->link[1] = prev->link[0];
        prev->link[0] = (struct block_link){rip, epoch, b};
    }
    return b;
}

__attribute__((noinline)) static enum vcpu_exit exec_loop(struct cpu *c)
{
    struct block_cache *bc = c->blocks;
    struct block *prev = NULL;
    for (;;) {
        if (unlikely(c->exit_request)) {
            c->exit_request = 0;
            return c->exit = VCPU_EXIT_REQUEST;
        }
        if (unlikely(__atomic_load_n(&bc->remote_pending, __ATOMIC_ACQUIRE))) block_drain_remote(c);
        if (unlikely(c->stats.insns >= bc->budget_end)) return c->exit = VCPU_EXIT_BUDGET;
        if ((c->rflags & F_IF) && !c->intr_shadow && c->intc) {
            int vec = c->intc->pending(c->intc_opaque);
            if (vec >= 0) {
                c->intc->ack(c->intc_opaque, vec);
                c->halted = false;
                event_interrupt(c, (unsigned)vec);
            }
        }
        if (unlikely(c->halted)) return c->exit = VCPU_EXIT_HLT;

        struct block *b = exec_find(c, prev);
        unsigned slot = c->recent_pos++ & 15;
        c->recent_rip[slot] = c->rip;
        bc->recent[slot] = b;
        bc->recent_gen[slot] = bc->generation;
        bc->cur = b;
        bc->cur_rip = c->rip;
        bc->stop = false;
        const struct insn *i = b->insn, *end = i + b->n;
        /* Inside an STI / MOV SS shadow run one instruction, then look at interrupts again. */
        bool shadow = c->intr_shadow;
        c->intr_shadow = false;
        do {
            c->next_rip = c->rip + i->len;
            i->fn(c, i);
            c->rip = c->next_rip;
            i++;
        } while (i < end && !bc->stop && !shadow);
        c->stats.insns += (uint64_t)(i - b->insn);
        bc->cur = NULL;
        prev = b == bc->scratch ? NULL : b;
    }
}

enum vcpu_exit exec_run(struct cpu *c, uint64_t budget)
{
    struct block_cache *bc = c->blocks;
    if (c->exit == VCPU_EXIT_SHUTDOWN || c->exit == VCPU_EXIT_INTERNAL) return c->exit;
    bc->budget_end = c->stats.insns + budget;
    if (!bc->owner_set || !pthread_equal(bc->owner, pthread_self())) {
        bc->owner = pthread_self();
        bc->owner_set = true;
    }
    tlb_check_controls(c);
    for (;;) {
        if (_setjmp(c->fault_jmp) == 0) return exec_loop(c);
        exec_account_partial(c);
        if (!event_fault(c)) return VCPU_EXIT_SHUTDOWN;
    }
}
