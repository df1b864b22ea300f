/* cpu.c — architectural state bookkeeping that does not depend on how instructions are
 * executed: raising faults (the exception state lives in struct cpu; the raise unwinds with
 * longjmp to whichever executor set c->fault_jmp), recomputing CPL and decoding mode after CS,
 * CR0, CR4 or EFER change, architectural reset and the flat 64-bit setup used by tests and
 * direct boot. */
#include <stdio.h>
#include <string.h>

#include "cpu/exec/block.h"
#include "cpu/msr.h"

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
    struct exec_state *exec = c->exec;
    struct jit *jit = c->jit;
    struct vcpu_stats stats = c->stats;
    /* A vCPU moved to another bus stops listening to the old one. */
    if (c->bus && c->bus != bus) bus_remove_code_write_listener(c->bus, block_code_write, c);
    unsigned id = c->id;
    uint64_t tsc_hz = c->tsc_hz;
    memset(c, 0, sizeof(*c));
    c->intc = intc;
    c->intc_opaque = intc_opaque;
    c->msr_ops = msr_ops;
    c->msr_opaque = msr_opaque;
    c->blocks = blocks;
    c->exec = exec;
    c->jit = jit;
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
    c->xcr0 = XCR0_X87;
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
    if (bus_add_code_write_listener(bus, block_code_write, c) != 0) {
        /* Without the listener self-modifying code would run stale blocks: refuse to run. */
        c->exit = VCPU_EXIT_INTERNAL;
        snprintf(c->exit_why, sizeof(c->exit_why), "more than %d code-write listeners on the bus",
                 BUS_MAX_CODE_LISTENERS);
    }
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
