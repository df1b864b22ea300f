/* event.c — exception and interrupt delivery: in IA-32e mode (64-bit and compatibility mode)
 * IDT gate checks, the TSS RSP0 and IST stack switches and the 64-bit interrupt frame; in legacy
 * protected mode 16/32-bit gates and frames with the 32-bit TSS's stack switch; in real mode
 * the IVT; and the #DF / triple-fault escalation of the SDM (Vol. 3A 6.15, table 6-5). Every memory
 * access happens before any register is committed, so a fault during delivery leaves the
 * interrupted state intact for the next attempt. */
#include <stdio.h>

#include "cpu/exec/event.h"

static const char *const event_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

const char *event_name(unsigned vector)
{
    if (vector < 32 && event_names[vector]) return event_names[vector];
    return "INT";
}

/* Fault-class exceptions: their frame's RFLAGS has RF set, so that an IRET back to the
 * instruction passes an instruction breakpoint on it (SDM Vol. 3A 17.3.1.1). #DB is a fault
 * only for instruction breakpoints (RF stays as it is) and DR7.GD (sys_cr.c sets RF). */
static bool event_fault_class(unsigned v)
{
    return v == EXC_DE || (v >= EXC_BR && v <= EXC_NM) || (v >= EXC_TS && v <= EXC_PF) ||
           v == EXC_MF || v == EXC_AC || (v >= EXC_XM && v <= 21);
}

static bool event_contributory(unsigned v)
{
    return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
}

/* Real mode: the IVT's 4-byte CS:IP vector; FLAGS, CS, IP pushed at 16 bits; no error code. */
static void event_deliver_real(struct cpu *c, unsigned vec, unsigned kind)
{
    if (vec * 4 + 3 > c->idt_limit) cpu_fault_err(c, EXC_GP, vec * 8 + 2);
    uint32_t ent;
    mem_read_sys(c, c->idt_base + vec * 4, &ent, 4);
    uint64_t rflags = flags_read(c);
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    uint16_t frame[3] = {(uint16_t)(kind == EV_SOFT ? c->next_rip : c->rip), c->seg[SEG_CS].sel,
                         (uint16_t)rflags};
    mem_write_n(c, SEG_SS, (sp - 2) & m, frame[2], 2);
    mem_write_n(c, SEG_SS, (sp - 4) & m, frame[1], 2);
    mem_write_n(c, SEG_SS, (sp - 6) & m, frame[0], 2);
    cpu_sp_set(c, sp - 6, m);
    flags_write(c, rflags & ~(uint64_t)(F_IF | F_TF | F_AC | F_RF));
    c->seg[SEG_CS].sel = (uint16_t)(ent >> 16);
    c->seg[SEG_CS].base = (uint64_t)(ent >> 16) << 4;
    c->rip = c->next_rip = ent & 0xffff;
    c->halted = false;
    c->intr_shadow = false;
    cpu_mode_changed(c);
}

/* Read the code or stack descriptor for `sel` (GDT or LDT), #GP(sel + ext) past the limit. */
static uint64_t event_desc(struct cpu *c, uint16_t sel, uint32_t ext)
{
    uint64_t base = c->gdt_base, limit = c->gdt_limit, d;
    if (sel & 4) {
        base = c->seg[SEG_LDTR].base;
        limit = c->seg[SEG_LDTR].limit;
    }
    if ((sel & 0xfffc) == 0 || (uint64_t)(sel | 7) > limit)
        cpu_fault_err(c, EXC_GP, (sel & 0xfffc) + ext);
    mem_read_sys(c, base + (sel & ~7u), &d, 8);
    return d;
}

static void event_desc_to_seg(struct segcache *s, uint16_t sel, uint64_t d)
{
    uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    s->sel = sel;
    s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    s->attr = (uint16_t)((d >> 40) & 0xf0ff);
    s->limit = (s->attr & 0x8000) ? (limit << 12) | 0xfff : limit;
}

/* Legacy protected mode: 8-byte interrupt and trap gates (16- or 32-bit), the stack switch
 * through a 32-bit TSS (SS0:ESP0...) for an inner level, frames of the gate's size. Task gates
 * and virtual-8086 mode are not implemented (#GP). */
static void event_deliver_prot(struct cpu *c, unsigned vec, unsigned kind, bool has_err,
                               uint32_t err)
{
    uint32_t ext = kind != EV_SOFT;
    uint32_t idt_err = vec * 8 + 2 + ext;
    if (vec * 8 + 7 > c->idt_limit) cpu_fault_err(c, EXC_GP, idt_err);
    uint64_t gate;
    mem_read_sys(c, c->idt_base + vec * 8, &gate, 8);
    unsigned type = (gate >> 40) & 0x1f, dpl = (gate >> 45) & 3;
    if (type != 0x6 && type != 0x7 && type != 0xE && type != 0xF) cpu_fault_err(c, EXC_GP, idt_err);
    if (kind == EV_SOFT && dpl < c->cpl) cpu_fault_err(c, EXC_GP, idt_err);
    if (!(gate & (1ull << 47))) cpu_fault_err(c, EXC_NP, idt_err);
    unsigned n = (type & 8) ? 4 : 2;
    uint16_t sel = (uint16_t)(gate >> 16);
    uint64_t target = (gate & 0xffff) | ((gate >> 32) & 0xffff0000ull);
    if (n == 2) target &= 0xffff;
    uint64_t cs = event_desc(c, sel, ext);
    uint16_t attr = (uint16_t)((cs >> 40) & 0xf0ff);
    unsigned cs_dpl = (attr >> 5) & 3;
    if ((attr & 0x18) != 0x18 || cs_dpl > c->cpl) cpu_fault_err(c, EXC_GP, (sel & 0xfffc) + ext);
    if (!(attr & 0x80)) cpu_fault_err(c, EXC_NP, (sel & 0xfffc) + ext);
    unsigned new_cpl = (attr & 4) ? c->cpl : cs_dpl;

    uint64_t rflags = flags_read(c);
    uint32_t frame[6];
    unsigned nf = 0;
    struct segcache ss = c->seg[SEG_SS];
    uint64_t sp = c->gpr[R_RSP];
    if (new_cpl < c->cpl) {
        const struct segcache *tr = &c->seg[SEG_TR];
        if (!(tr->attr & 0x80) || 8 * new_cpl + 11 > tr->limit)
            cpu_fault_err(c, EXC_TS, tr->sel & 0xfffc);
        uint32_t esp;
        uint16_t ss_sel;
        mem_read_sys(c, tr->base + 4 + 8 * new_cpl, &esp, 4);
        mem_read_sys(c, tr->base + 8 + 8 * new_cpl, &ss_sel, 2);
        uint64_t sd = event_desc(c, ss_sel, ext);
        uint16_t sattr = (uint16_t)((sd >> 40) & 0xf0ff);
        if ((ss_sel & 3) != new_cpl || ((sattr >> 5) & 3) != new_cpl || (sattr & 0x1a) != 0x12)
            cpu_fault_err(c, EXC_TS, ss_sel & 0xfffc);
        if (!(sattr & 0x80)) cpu_fault_err(c, EXC_SS, ss_sel & 0xfffc);
        frame[nf++] = c->seg[SEG_SS].sel;
        frame[nf++] = (uint32_t)c->gpr[R_RSP];
        event_desc_to_seg(&ss, ss_sel, sd);
        sp = esp;
    }
    frame[nf++] = (uint32_t)rflags;
    frame[nf++] = c->seg[SEG_CS].sel;
    frame[nf++] = (uint32_t)(kind == EV_SOFT ? c->next_rip : c->rip);
    if (has_err) frame[nf++] = err;
    uint64_t m = (ss.attr & 0x4000) ? 0xffffffffull : 0xffffull;
    for (unsigned k = 0; k < nf; k++) { /* highest address first, as the CPU pushes */
        uint64_t lin = (uint32_t)(ss.base + ((sp - (k + 1) * n) & m));
        uint32_t v = frame[k];
        mem_write_sys(c, lin, &v, n);
    }

    /* Commit. */
    c->seg[SEG_SS] = ss;
    cpu_sp_set(c, sp - nf * n, m);
    rflags &= ~(uint64_t)(F_TF | F_NT | F_RF | F_VM);
    if (!(type & 1)) rflags &= ~(uint64_t)F_IF;
    flags_write(c, rflags);
    event_desc_to_seg(&c->seg[SEG_CS], (uint16_t)((sel & 0xfffc) | new_cpl), cs);
    c->rip = c->next_rip = target;
    c->halted = false;
    c->intr_shadow = false;
    cpu_mode_changed(c);
}

/* The 64-bit TSS field at `off` (RSP0..2 at 4, IST1..7 at 0x24). */
static uint64_t event_tss_read(struct cpu *c, unsigned off)
{
    const struct segcache *tr = &c->seg[SEG_TR];
    if (!(tr->attr & 0x80) || off + 7 > tr->limit) cpu_fault_err(c, EXC_TS, tr->sel & 0xfffc);
    uint64_t v;
    mem_read_sys(c, tr->base + off, &v, 8);
    return v;
}

static void event_deliver(struct cpu *c, unsigned vec, unsigned kind, bool has_err, uint32_t err)
{
    if (!(c->cr0 & CR0_PE)) {
        event_deliver_real(c, vec, kind);
        return;
    }
    if (!(c->efer & EFER_LMA)) {
        event_deliver_prot(c, vec, kind, has_err, err);
        return;
    }
    uint32_t ext = kind != EV_SOFT;
    uint32_t idt_err = vec * 8 + 2 + ext;
    if (vec * 16 + 15 > c->idt_limit) cpu_fault_err(c, EXC_GP, idt_err);
    uint64_t gate[2];
    mem_read_sys(c, c->idt_base + vec * 16, gate, 16);
    unsigned type = (gate[0] >> 40) & 0xf, dpl = (gate[0] >> 45) & 3;
    if (type != 0xE && type != 0xF) cpu_fault_err(c, EXC_GP, idt_err);
    if (kind == EV_SOFT && dpl < c->cpl) cpu_fault_err(c, EXC_GP, idt_err);
    if (!(gate[0] & (1ull << 47))) cpu_fault_err(c, EXC_NP, idt_err);
    uint16_t sel = (uint16_t)(gate[0] >> 16);
    uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull) | (gate[1] << 32);
    unsigned ist = (gate[0] >> 32) & 7;

    /* The target code segment: a present 64-bit code descriptor with DPL <= CPL. */
    if ((sel & 0xfffc) == 0) cpu_fault_err(c, EXC_GP, ext);
    uint64_t dt_base = c->gdt_base, dt_limit = c->gdt_limit;
    if (sel & 4) {
        dt_base = c->seg[SEG_LDTR].base;
        dt_limit = c->seg[SEG_LDTR].limit;
    }
    if ((uint64_t)(sel | 7) > dt_limit) cpu_fault_err(c, EXC_GP, (sel & 0xfffc) + ext);
    uint64_t desc;
    mem_read_sys(c, dt_base + (sel & ~7u), &desc, 8);
    uint16_t attr = (uint16_t)((desc >> 40) & 0xf0ff);
    unsigned cs_dpl = (attr >> 5) & 3;
    bool code = (attr & 0x18) == 0x18, conforming = attr & 4;
    if (!code || cs_dpl > c->cpl || !(attr & 0x2000) || (attr & 0x4000))
        cpu_fault_err(c, EXC_GP, (sel & 0xfffc) + ext);
    if (!(attr & 0x80)) cpu_fault_err(c, EXC_NP, (sel & 0xfffc) + ext);
    unsigned new_cpl = conforming ? c->cpl : cs_dpl;

    uint64_t rsp = c->gpr[R_RSP];
    if (ist)
        rsp = event_tss_read(c, 0x24 + (ist - 1) * 8);
    else if (new_cpl < c->cpl)
        rsp = event_tss_read(c, 4 + new_cpl * 8);
    rsp &= ~0xfull;
    if (new_cpl != c->cpl && (uint64_t)((int64_t)(rsp << 16) >> 16) != rsp)
        cpu_fault_err(c, EXC_SS, ext);

    uint64_t rflags = flags_read(c);
    uint64_t frame[6];
    unsigned nf = 0;
    if (has_err) frame[nf++] = err;
    frame[nf++] = kind == EV_SOFT ? c->next_rip : c->rip;
    frame[nf++] = c->seg[SEG_CS].sel;
    frame[nf++] = kind == EV_EXC && event_fault_class(vec) ? rflags | F_RF : rflags;
    frame[nf++] = c->gpr[R_RSP];
    frame[nf++] = c->seg[SEG_SS].sel;
    uint64_t new_rsp = rsp - nf * 8;
    if (new_cpl == 3)
        mem_write(c, SEG_SS, new_rsp, frame, nf * 8);
    else
        mem_write_sys(c, new_rsp, frame, nf * 8);

    /* Commit. */
    c->gpr[R_RSP] = new_rsp;
    rflags &= ~(uint64_t)(F_TF | F_NT | F_RF | F_VM);
    if (type == 0xE) rflags &= ~(uint64_t)F_IF;
    flags_write(c, rflags);
    c->seg[SEG_CS] = (struct segcache){(uint16_t)((sel & 0xfffc) | new_cpl), 0, 0xffffffffu, attr};
    if (new_cpl != c->cpl)
        c->seg[SEG_SS] = (struct segcache){(uint16_t)new_cpl, 0, 0, (uint16_t)(new_cpl << 5)};
    c->rip = c->next_rip = target;
    c->halted = false;
    c->intr_shadow = false;
    cpu_mode_changed(c);
}

bool event_fault(struct cpu *c)
{
    for (;;) {
        unsigned vec = (unsigned)c->pending_exc;
        int prev = c->exc_vector;
        if (prev >= 0 && c->exc_deliver_kind == EV_EXC) {
            if (prev == EXC_DF) {
                c->exit = VCPU_EXIT_SHUTDOWN;
                if (!c->exit_why[0])
                    snprintf(c->exit_why, sizeof(c->exit_why),
                             "triple fault: %s (error %#x) while delivering #DF at rip %#llx",
                             event_name(vec), c->exc_has_error ? c->exc_error : 0,
                             (unsigned long long)c->rip);
                c->exc_vector = -1;
                c->exc_deliver_kind = -1;
                c->pending_exc = -1;
                return false;
            }
            if ((event_contributory((unsigned)prev) && event_contributory(vec)) ||
                (prev == EXC_PF && (event_contributory(vec) || vec == EXC_PF))) {
                c->pending_exc = EXC_DF;
                c->exc_has_error = true;
                c->exc_error = 0;
                c->exc_raise_kind = EV_EXC;
            }
        }
        c->exc_vector = c->pending_exc;
        c->exc_deliver_kind = (int)c->exc_raise_kind;
        if (_setjmp(c->fault_jmp) == 0) {
            event_deliver(c, (unsigned)c->pending_exc, c->exc_raise_kind, c->exc_has_error,
                          c->exc_error);
            c->exc_vector = -1;
            c->exc_deliver_kind = -1;
            c->pending_exc = -1;
            c->stats.exceptions++;
            return true;
        }
        /* A fault during delivery: c->pending_exc is the new one; loop to classify it. */
    }
}

void event_interrupt(struct cpu *c, unsigned vector)
{
    c->exc_vector = (int)vector;
    c->exc_deliver_kind = EV_EXT;
    event_deliver(c, vector, EV_EXT, false, 0);
    c->exc_vector = -1;
    c->exc_deliver_kind = -1;
    c->stats.interrupts++;
}
