/* sys_legacy.c — system instructions as they run outside 64-bit mode (real mode, 16/32-bit
 * protected mode, compatibility mode): PUSH/POP of ES/CS/SS/DS (and FS/GS at the operand
 * size), LES/LDS, far JMP/CALL (ptr16:16/32 and m16:16/32), far RET and IRET with 16- or
 * 32-bit frames on a stack as wide as SS.B says, SYSENTER/SYSEXIT, LGDT/LIDT/SGDT/SIDT with
 * 32-bit bases. sys_lookup asks this file first for every
 * instruction decoded outside 64-bit mode. In real mode a segment load is base = selector * 16
 * with the cached limit and attributes kept (so "big real" caches survive). Call gates, task
 * switches and virtual-8086 mode are not implemented (#GP). */
#include "cpu/ops/sys/sys.h"

/* RFLAGS bits IRET may change (VM, VIF, VIP stay clear: no virtual-8086 mode). */
#define LG_IRET_FLAGS (F_ARITH | F_TF | F_IF | F_DF | F_IOPL | F_NT | F_RF | F_AC | F_ID)

/* Real-mode CS load: base = selector << 4; limit and attributes stay as cached. */
static void lg_real_cs(struct cpu *c, uint16_t sel)
{
    c->seg[SEG_CS].sel = sel;
    c->seg[SEG_CS].base = (uint64_t)sel << 4;
    cpu_mode_changed(c); /* CS base changed: cached links by rip are stale */
}

/* ---- segment registers ---- */

/* 06 0E 16 1E, 0F A0 0F A8: push sreg at the operand size */
static void lg_push_sreg(struct cpu *c, const struct insn *i)
{
    unsigned s = (i->op >> 8) ? ((i->op & 0xff) == 0xa0 ? SEG_FS : SEG_GS) : (i->op >> 3) & 3;
    stack_push(c, c->seg[s].sel, i->opsize);
}

/* 07 17 1F, 0F A1 0F A9: pop sreg (POP SS holds interrupts off for one instruction) */
static void lg_pop_sreg(struct cpu *c, const struct insn *i)
{
    unsigned s = (i->op >> 8) ? ((i->op & 0xff) == 0xa1 ? SEG_FS : SEG_GS) : (i->op >> 3) & 3;
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    uint16_t sel = (uint16_t)mem_read_n(c, SEG_SS, sp, i->opsize);
    sys_load_seg(c, s, sel);
    cpu_sp_set(c, sp + i->opsize, m);
    if (s == SEG_SS) c->intr_shadow = true;
}

/* C4 les, C5 lds */
static void lg_les_lds(struct cpu *c, const struct insn *i)
{
    unsigned s = (i->op & 0xff) == 0xc4 ? SEG_ES : SEG_DS;
    uint64_t ea = insn_ea(c, i);
    uint64_t off = mem_read_n(c, i->seg, ea, i->opsize);
    uint16_t sel = (uint16_t)mem_read_n(c, i->seg, (ea + i->opsize) & size_mask(i->addrsize), 2);
    sys_load_seg(c, s, sel);
    reg_write(c, i, i->reg, i->opsize, off);
}

/* ---- far transfers ---- */

/* Check a far target in protected mode; returns the new rip and *desc. */
static uint64_t lg_far_check(struct cpu *c, uint16_t sel, uint64_t off, bool is_return,
                             uint64_t *desc)
{
    *desc = sys_check_code(c, sel, is_return);
    return sys_check_target(c, off, *desc);
}

static void lg_far_jump(struct cpu *c, uint16_t sel, uint64_t off)
{
    if (c->mode == MODE_REAL) {
        lg_real_cs(c, sel);
        c->next_rip = off;
        return;
    }
    uint64_t d, rip = lg_far_check(c, sel, off, false, &d);
    sys_commit_cs(c, sel, d, c->cpl);
    c->next_rip = rip;
}

static void lg_far_call(struct cpu *c, const struct insn *i, uint16_t sel, uint64_t off)
{
    unsigned n = i->opsize;
    uint64_t d = 0, rip = off;
    if (c->mode != MODE_REAL) rip = lg_far_check(c, sel, off, false, &d);
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    mem_write_n(c, SEG_SS, (sp - n) & m, c->seg[SEG_CS].sel, n);
    mem_write_n(c, SEG_SS, (sp - 2 * n) & m, c->next_rip & size_mask(n), n);
    if (c->mode == MODE_REAL)
        lg_real_cs(c, sel);
    else
        sys_commit_cs(c, sel, d, c->cpl);
    cpu_sp_set(c, sp - 2 * n, m);
    c->next_rip = rip;
}

/* EA: jmp ptr16:16/32 (imm = offset, disp = selector) */
static void lg_jmp_ptr(struct cpu *c, const struct insn *i)
{
    lg_far_jump(c, (uint16_t)i->disp, i->imm);
}

/* 9A: call ptr16:16/32 */
static void lg_call_ptr(struct cpu *c, const struct insn *i)
{
    lg_far_call(c, i, (uint16_t)i->disp, i->imm);
}

static uint64_t lg_read_farptr(struct cpu *c, const struct insn *i, uint16_t *sel)
{
    uint64_t ea = insn_ea(c, i);
    uint64_t off = mem_read_n(c, i->seg, ea, i->opsize);
    *sel = (uint16_t)mem_read_n(c, i->seg, (ea + i->opsize) & size_mask(i->addrsize), 2);
    return off;
}

/* FF /5: jmp m16:16/32 */
static void lg_jmp_m(struct cpu *c, const struct insn *i)
{
    uint16_t sel;
    uint64_t off = lg_read_farptr(c, i, &sel);
    lg_far_jump(c, sel, off);
}

/* FF /3: call m16:16/32 */
static void lg_call_m(struct cpu *c, const struct insn *i)
{
    uint16_t sel;
    uint64_t off = lg_read_farptr(c, i, &sel);
    lg_far_call(c, i, sel, off);
}

/* After an outer return: the stack pointer takes the popped value at the new SS's width. */
static void lg_outer_sp(struct cpu *c, uint64_t v)
{
    cpu_sp_set(c, v, cpu_sp_mask(c));
}

/* CB retf, CA retf imm16 */
static void lg_retf(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint64_t release = (i->op & 0xff) == 0xca ? (uint16_t)i->imm : 0;
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    uint64_t off = mem_read_n(c, SEG_SS, sp, n);
    uint16_t cs = (uint16_t)mem_read_n(c, SEG_SS, (sp + n) & m, n);
    if (c->mode == MODE_REAL) {
        lg_real_cs(c, cs);
        cpu_sp_set(c, sp + 2 * n + release, m);
        c->next_rip = off;
        return;
    }
    uint64_t d, rip = lg_far_check(c, cs, off, true, &d);
    unsigned new_cpl = cs & 3u;
    sp += 2 * n + release;
    if (new_cpl > c->cpl) {
        uint64_t new_sp = mem_read_n(c, SEG_SS, sp & m, n);
        uint16_t ss = (uint16_t)mem_read_n(c, SEG_SS, (sp + n) & m, n);
        uint64_t ss_desc = sys_check_ret_ss(c, ss, new_cpl, false);
        sys_commit_cs(c, cs, d, new_cpl);
        sys_commit_ss(c, ss, ss_desc, new_cpl);
        lg_outer_sp(c, new_sp + release);
        sys_scrub_data_segs(c);
    } else {
        sys_commit_cs(c, cs, d, new_cpl);
        cpu_sp_set(c, sp, m);
    }
    c->next_rip = rip;
}

/* CF: iret with a 16- or 32-bit frame. In real mode: IP, CS, FLAGS. In protected and
 * compatibility mode: EIP, CS, EFLAGS, and ESP, SS for a return to an outer level. A task
 * return (NT) and a return to virtual-8086 mode are #GP(0): neither is implemented. */
static void lg_iret(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint64_t rflags = flags_read(c);
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    uint64_t off = mem_read_n(c, SEG_SS, sp, n);
    uint16_t cs = (uint16_t)mem_read_n(c, SEG_SS, (sp + n) & m, n);
    uint64_t new_flags = mem_read_n(c, SEG_SS, (sp + 2 * n) & m, n);
    uint64_t mask = LG_IRET_FLAGS & size_mask(n);
    if (c->mode == MODE_REAL) {
        lg_real_cs(c, cs);
        cpu_sp_set(c, sp + 3 * n, m);
        flags_write(c, (rflags & ~mask) | (new_flags & mask) | 2);
        c->next_rip = off;
        return;
    }
    if (rflags & F_NT) cpu_fault_err(c, EXC_GP, 0);
    if (n == 4 && (new_flags & F_VM) && c->cpl == 0 && !(c->efer & EFER_LMA))
        cpu_fault_err(c, EXC_GP, 0);
    uint64_t d, rip = lg_far_check(c, cs, off, true, &d);
    unsigned new_cpl = cs & 3u;
    if (c->cpl > 0) mask &= ~(uint64_t)F_IOPL;
    if (c->cpl > ((rflags & F_IOPL) >> 12)) mask &= ~(uint64_t)F_IF;
    if (new_cpl > c->cpl) {
        uint64_t new_sp = mem_read_n(c, SEG_SS, (sp + 3 * n) & m, n);
        uint16_t ss = (uint16_t)mem_read_n(c, SEG_SS, (sp + 4 * n) & m, n);
        uint64_t ss_desc = sys_check_ret_ss(c, ss, new_cpl, false);
        flags_write(c, (rflags & ~mask) | (new_flags & mask) | 2);
        sys_commit_cs(c, cs, d, new_cpl);
        sys_commit_ss(c, ss, ss_desc, new_cpl);
        lg_outer_sp(c, new_sp);
        sys_scrub_data_segs(c);
    } else {
        flags_write(c, (rflags & ~mask) | (new_flags & mask) | 2);
        sys_commit_cs(c, cs, d, new_cpl);
        cpu_sp_set(c, sp + 3 * n, m);
    }
    c->next_rip = rip;
}

/* ---- SYSENTER / SYSEXIT (SDM vol. 2B) ---- */

/* 0F 34: to CPL 0 at IA32_SYSENTER_CS:EIP with ESP from IA32_SYSENTER_ESP; in IA-32e mode
 * (compatibility mode here) the target is 64-bit code with the MSRs' full values. */
static void lg_sysenter(struct cpu *c, const struct insn *i)
{
    (void)i;
    uint16_t sel = (uint16_t)c->sysenter_cs & 0xfffc;
    if (c->mode == MODE_REAL || sel == 0) cpu_fault_err(c, EXC_GP, 0);
    bool lma = c->efer & EFER_LMA;
    flags_write(c, flags_read(c) & ~(uint64_t)(F_VM | F_IF | F_RF));
    c->seg[SEG_CS] = (struct segcache){
        .sel = sel, .limit = 0xffffffff, .attr = lma ? ATTR_CODE64(0) : ATTR_CODE32(0)};
    c->seg[SEG_SS] =
        (struct segcache){.sel = (uint16_t)(sel + 8), .limit = 0xffffffff, .attr = ATTR_DATA(0)};
    c->gpr[R_RSP] = lma ? c->sysenter_esp : (uint32_t)c->sysenter_esp;
    c->next_rip = lma ? c->sysenter_eip : (uint32_t)c->sysenter_eip;
    cpu_mode_changed(c);
}

/* 0F 35: back to CPL 3 at (SYSENTER_CS + 16):EDX with ESP = ECX, flat 32-bit segments */
static void lg_sysexit(struct cpu *c, const struct insn *i)
{
    (void)i;
    uint16_t base = (uint16_t)c->sysenter_cs & 0xfffc;
    if (c->mode == MODE_REAL || base == 0 || c->cpl != 0) cpu_fault_err(c, EXC_GP, 0);
    c->seg[SEG_CS] = (struct segcache){
        .sel = (uint16_t)((base + 16) | 3), .limit = 0xffffffff, .attr = ATTR_CODE32(3)};
    c->seg[SEG_SS] = (struct segcache){
        .sel = (uint16_t)((base + 24) | 3), .limit = 0xffffffff, .attr = ATTR_DATA(3)};
    c->gpr[R_RSP] = (uint32_t)c->gpr[R_RCX];
    c->next_rip = (uint32_t)c->gpr[R_RDX];
    cpu_mode_changed(c);
}

/* ---- descriptor-table registers: 2-byte limit + 4-byte base (24 bits with a 16-bit operand
 * size) ---- */

static void lg_lgdt_lidt(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint64_t ea = insn_ea(c, i);
    uint16_t limit = (uint16_t)mem_read_n(c, i->seg, ea, 2);
    uint64_t base = mem_read_n(c, i->seg, (ea + 2) & size_mask(i->addrsize), 4);
    if (i->opsize == 2) base &= 0xffffff;
    if (((i->modrm >> 3) & 7) == 2) {
        c->gdt_base = base;
        c->gdt_limit = limit;
    } else {
        c->idt_base = base;
        c->idt_limit = limit;
    }
}

static void lg_sgdt_sidt(struct cpu *c, const struct insn *i)
{
    sys_umip_check(c);
    bool gdt = ((i->modrm >> 3) & 7) == 0;
    uint64_t ea = insn_ea(c, i);
    uint16_t limit = gdt ? c->gdt_limit : c->idt_limit;
    uint32_t base = (uint32_t)(gdt ? c->gdt_base : c->idt_base);
    mem_probe_write(c, i->seg, ea, 6);
    mem_write_n(c, i->seg, ea, limit, 2);
    mem_write_n(c, i->seg, (ea + 2) & size_mask(i->addrsize), base, 4);
}

insn_fn sys_legacy_lookup(const struct insn *i)
{
    bool mem = i->flags & INSN_MEM;
    unsigned reg = (i->modrm >> 3) & 7;
    switch (i->op) {
    case 0x006:
    case 0x00e:
    case 0x016:
    case 0x01e:
    case 0x1a0:
    case 0x1a8: return lg_push_sreg;
    case 0x007:
    case 0x017:
    case 0x01f:
    case 0x1a1:
    case 0x1a9: return lg_pop_sreg;
    case 0x09a: return lg_call_ptr;
    case 0x0c4:
    case 0x0c5: return (i->flags & INSN_VEX) ? NULL : lg_les_lds;
    case 0x0ca:
    case 0x0cb: return lg_retf;
    case 0x0cf: return lg_iret;
    case 0x0ea: return lg_jmp_ptr;
    case 0x0ff:
        if (mem && reg == 3) return lg_call_m;
        if (mem && reg == 5) return lg_jmp_m;
        return NULL;
    case 0x101:
        if (mem && reg <= 1) return lg_sgdt_sidt;
        if (mem && (reg == 2 || reg == 3)) return lg_lgdt_lidt;
        return NULL;
    case 0x134: return lg_sysenter;
    case 0x135: return lg_sysexit;
    }
    return NULL;
}
