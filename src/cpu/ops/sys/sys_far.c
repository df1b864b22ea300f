/* sys_far.c — transfers that change CS: IRET (all operand sizes, same-privilege and outer
 * returns), far RET, far CALL/JMP through memory, SYSCALL and SYSRET. All stack reads and
 * descriptor checks happen before any register is written, so a fault leaves the instruction
 * unexecuted. Call gates and task switches are not implemented (#GP with the selector). */
#include "cpu/ops/sys/sys.h"

/* RFLAGS bits IRET may change at CPL 0 (VM, VIF, VIP stay clear: no virtual-8086 mode). */
#define IRET_FLAGS (F_ARITH | F_TF | F_IF | F_DF | F_IOPL | F_NT | F_RF | F_AC | F_ID)

/* Selectors in DS/ES/FS/GS that the new (outer) CPL may not use become null. */
void sys_scrub_data_segs(struct cpu *c)
{
    static const uint8_t segs[4] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
    for (unsigned k = 0; k < 4; k++) {
        struct segcache *s = &c->seg[segs[k]];
        unsigned type = SA_TYPE(s->attr);
        bool conforming_code = (type & (ST_CODE | ST_CONF)) == (ST_CODE | ST_CONF);
        if ((s->sel & 0xfffc) == 0 || conforming_code || !(s->attr & SA_S)) continue;
        if (SA_DPL(s->attr) < c->cpl) {
            s->sel = 0;
            s->attr = 0;
        }
    }
}

/* Validate the SS selector popped by an outer-privilege return; returns its descriptor or 0
 * for a permitted null selector. */
uint64_t sys_check_ret_ss(struct cpu *c, uint16_t ss, unsigned new_cpl, bool to64)
{
    if ((ss & 0xfffc) == 0) {
        if (!to64 || new_cpl == 3 || (ss & 3u) != new_cpl) cpu_fault_err(c, EXC_GP, 0);
        return 0;
    }
    uint32_t err = sys_sel_err(ss);
    uint64_t d;
    if ((ss & 3u) != new_cpl || !sys_read_desc(c, ss, &d)) cpu_fault_err(c, EXC_GP, err);
    unsigned attr = (unsigned)(d >> 40) & 0xf0ff, type = SA_TYPE(attr);
    if (!(attr & SA_S) || (type & ST_CODE) || !(type & ST_RW) || SA_DPL(attr) != new_cpl)
        cpu_fault_err(c, EXC_GP, err);
    if (!(attr & SA_P)) cpu_fault_err(c, EXC_SS, err);
    sys_mark_accessed(c, ss, &d); /* before anything is committed */
    return d;
}

void sys_commit_ss(struct cpu *c, uint16_t ss, uint64_t d, unsigned new_cpl)
{
    if ((ss & 0xfffc) == 0) {
        c->seg[SEG_SS] = (struct segcache){.sel = ss, .attr = (uint16_t)(new_cpl << 5)};
        return;
    }
    sys_mark_accessed(c, ss, &d);
    sys_desc_to_seg(&c->seg[SEG_SS], ss, d);
}

/* Target RIP check for a far transfer: canonical for 64-bit code, else within the limit. */
uint64_t sys_check_target(struct cpu *c, uint64_t rip, uint64_t cs_desc)
{
    struct segcache tmp;
    sys_desc_to_seg(&tmp, 0, cs_desc);
    if (tmp.attr & SA_L) {
        if (!sys_canonical(rip)) cpu_fault_err(c, EXC_GP, 0);
        return rip;
    }
    rip = (tmp.attr & SA_DB) ? (uint32_t)rip : (uint16_t)rip;
    if (rip > tmp.limit) cpu_fault_err(c, EXC_GP, 0);
    return rip;
}

void sys_iret(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint64_t rflags = flags_read(c);
    if (c->mode != MODE_LONG64)
        cpu_fault(c, EXC_UD); /* legacy/compat IRET (task return, v86) not implemented */
    if (rflags & F_NT) cpu_fault_err(c, EXC_GP, 0);
    uint64_t sp = c->gpr[R_RSP];
    uint64_t new_rip = mem_read_n(c, SEG_SS, sp, n);
    uint16_t cs = (uint16_t)mem_read_n(c, SEG_SS, sp + n, n);
    uint64_t new_flags = mem_read_n(c, SEG_SS, sp + 2 * n, n);
    uint64_t new_rsp = mem_read_n(c, SEG_SS, sp + 3 * n, n);
    uint16_t ss = (uint16_t)mem_read_n(c, SEG_SS, sp + 4 * n, n);

    uint64_t cs_desc = sys_check_code(c, cs, true);
    unsigned new_cpl = cs & 3u;
    bool to64 = (cs_desc >> 40) & SA_L;
    /* In 64-bit mode IRET always pops SS:RSP; it is checked like an outer return's. */
    uint64_t ss_desc = sys_check_ret_ss(c, ss, new_cpl, to64);
    new_rip = sys_check_target(c, new_rip, cs_desc);

    /* Which flags may change depends on the old CPL and IOPL. */
    uint64_t mask = IRET_FLAGS;
    if (c->cpl > 0) mask &= ~(uint64_t)F_IOPL;
    if (c->cpl > ((rflags & F_IOPL) >> 12)) mask &= ~(uint64_t)F_IF;
    if (n == 2) mask &= 0xffff;
    flags_write(c, (rflags & ~mask) | (new_flags & mask) | 2);

    bool outer = new_cpl > c->cpl;
    sys_commit_cs(c, cs, cs_desc, new_cpl);
    sys_commit_ss(c, ss, ss_desc, new_cpl);
    c->gpr[R_RSP] = n == 2   ? ((c->gpr[R_RSP] & ~0xffffull) | (new_rsp & 0xffff))
                    : n == 4 ? (uint32_t)new_rsp
                             : new_rsp;
    if (outer) sys_scrub_data_segs(c);
    c->next_rip = new_rip;
}

void sys_retf(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint64_t release = (i->op & 0xff) == 0xCA ? (uint16_t)i->imm : 0;
    uint64_t sp = c->gpr[R_RSP];
    uint64_t new_rip = mem_read_n(c, SEG_SS, sp, n);
    uint16_t cs = (uint16_t)mem_read_n(c, SEG_SS, sp + n, n);
    uint64_t cs_desc = sys_check_code(c, cs, true);
    unsigned new_cpl = cs & 3u;
    bool to64 = (cs_desc >> 40) & SA_L;
    new_rip = sys_check_target(c, new_rip, cs_desc);
    sp += 2 * n + release;
    if (new_cpl > c->cpl) {
        uint64_t new_rsp = mem_read_n(c, SEG_SS, sp, n);
        uint16_t ss = (uint16_t)mem_read_n(c, SEG_SS, sp + n, n);
        uint64_t ss_desc = sys_check_ret_ss(c, ss, new_cpl, to64);
        sys_commit_cs(c, cs, cs_desc, new_cpl);
        sys_commit_ss(c, ss, ss_desc, new_cpl);
        c->gpr[R_RSP] = new_rsp + release;
        sys_scrub_data_segs(c);
    } else {
        sys_commit_cs(c, cs, cs_desc, new_cpl);
        c->gpr[R_RSP] = sp;
    }
    c->next_rip = new_rip;
}

/* m16:16, m16:32 or m16:64 operand: offset, then selector. */
static uint64_t sys_read_farptr(struct cpu *c, const struct insn *i, uint16_t *sel)
{
    uint64_t ea = insn_ea(c, i);
    uint64_t off = mem_read_n(c, i->seg, ea, i->opsize);
    *sel = (uint16_t)mem_read_n(c, i->seg, ea + i->opsize, 2);
    return off;
}

void sys_far_jmp(struct cpu *c, const struct insn *i)
{
    uint16_t sel;
    uint64_t rip = sys_read_farptr(c, i, &sel);
    uint64_t d = sys_check_code(c, sel, false);
    rip = sys_check_target(c, rip, d);
    sys_commit_cs(c, sel, d, c->cpl);
    c->next_rip = rip;
}

void sys_far_call(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint16_t sel;
    uint64_t rip = sys_read_farptr(c, i, &sel);
    uint64_t d = sys_check_code(c, sel, false);
    rip = sys_check_target(c, rip, d);
    uint64_t sp = c->gpr[R_RSP];
    /* Both pushes must succeed before anything changes. */
    mem_probe_write(c, SEG_SS, sp - 2 * n, 2 * n);
    mem_write_n(c, SEG_SS, sp - n, c->seg[SEG_CS].sel, n);
    mem_write_n(c, SEG_SS, sp - 2 * n, c->next_rip, n);
    c->gpr[R_RSP] = sp - 2 * n;
    sys_commit_cs(c, sel, d, c->cpl);
    c->next_rip = rip;
}

/* SYSCALL and SYSRET single-step by the TF they leave, not the one they found (what Intel
 * CPUs do): SYSCALL traps at the kernel entry only if FMASK keeps TF; SYSRET that restores TF
 * traps before the first user instruction, not after it as IRET does (which is why Linux
 * returns by IRET when TF is set). The trap is taken here, with the instruction complete. */
static void sys_step_after(struct cpu *c)
{
    if (!(c->rflags & F_TF)) return;
    c->rip = c->next_rip;
    c->dr[6] |= DR6_BS;
    cpu_fault(c, EXC_DB);
}

void sys_syscall(struct cpu *c, const struct insn *i)
{
    if (!(c->efer & EFER_SCE) || !(c->efer & EFER_LMA))
        cpu_fault(c, EXC_UD); /* legacy-mode SYSCALL (AMD only) is not modelled */
    uint64_t rflags = flags_read(c);
    uint16_t sel = (uint16_t)(c->star >> 32) & 0xfffc;
    c->gpr[R_RCX] = c->next_rip;
    c->gpr[R_R11] = rflags & ~(uint64_t)F_RF;
    c->seg[SEG_CS] = (struct segcache){.sel = sel, .limit = 0xffffffff, .attr = ATTR_CODE64(0)};
    c->seg[SEG_SS] =
        (struct segcache){.sel = (uint16_t)(sel + 8), .limit = 0xffffffff, .attr = ATTR_DATA(0)};
    flags_write(c, (rflags & ~c->sfmask & ~(uint64_t)F_RF) | 2);
    /* compatibility mode enters 64-bit code at CSTAR's full address */
    c->next_rip = c->mode == MODE_LONG64 ? c->lstar : c->cstar;
    c->cpl = 0;
    cpu_mode_changed(c);
    sys_step_after(c);
}

void sys_sysret(struct cpu *c, const struct insn *i)
{
    if (!(c->efer & EFER_SCE) || c->mode != MODE_LONG64) cpu_fault(c, EXC_UD);
    sys_need_cpl0(c);
    bool to64 = i->flags & INSN_REXW;
    uint64_t rip = c->gpr[R_RCX];
    if (to64 && !sys_canonical(rip)) cpu_fault_err(c, EXC_GP, 0);
    uint16_t base = (uint16_t)(c->star >> 48);
    if (to64)
        c->seg[SEG_CS] = (struct segcache){
            .sel = (uint16_t)((base + 16) | 3), .limit = 0xffffffff, .attr = ATTR_CODE64(3)};
    else
        c->seg[SEG_CS] =
            (struct segcache){.sel = base | 3, .limit = 0xffffffff, .attr = ATTR_CODE32(3)};
    c->seg[SEG_SS] = (struct segcache){
        .sel = (uint16_t)((base + 8) | 3), .limit = 0xffffffff, .attr = ATTR_DATA(3)};
    flags_write(c, (c->gpr[R_R11] & 0x3C7FD7ull) | 2);
    c->next_rip = to64 ? rip : (uint32_t)rip;
    c->cpl = 3;
    cpu_mode_changed(c);
    sys_step_after(c);
}
