/* int_legacy.c — the integer instructions as they run outside 64-bit mode (real mode, 16- and
 * 32-bit protected mode, compatibility mode): the opcodes that exist only there (INC/DEC r at
 * 40-4F, PUSHA/POPA, BOUND, ARPL, INTO, the BCD adjustments DAA/DAS/AAA/AAS/AAM/AAD, SALC) and the
 * stack and near-branch handlers, whose sizes there come from the operand size (16 or 32
 * bits), the stack width from SS.B and whose targets wrap at the operand size and are checked
 * against the CS limit. int_lookup asks this file first for every instruction decoded outside
 * 64-bit mode, so the 64-bit handlers in int_flow.c stay free of mode checks. Every handler
 * reads (and faults) before it commits. */
#include "cpu/ops/int/int_impl.h"

/* A near branch target: wrapped to the operand size, within the CS limit (not in real mode,
 * where the 64 KiB limit of real-mode code is the wrap itself). */
static uint64_t lg_target(struct cpu *c, const struct insn *i, uint64_t t)
{
    t &= size_mask(i->opsize);
    if (c->mode != MODE_REAL && t > c->seg[SEG_CS].limit) cpu_fault_err(c, EXC_GP, 0);
    return t;
}

/* Counter register (CX or ECX, by address size) write that keeps the bits above it. */
static void lg_set_count(struct cpu *c, const struct insn *i, uint64_t v)
{
    uint64_t m = size_mask(i->addrsize);
    c->gpr[R_RCX] = (c->gpr[R_RCX] & ~m) | (v & m);
}

/* ---- stack ---- */

static void lg_push_r(struct cpu *c, const struct insn *i)
{
    stack_push(c, c->gpr[i->reg] & size_mask(i->opsize), i->opsize);
}

static void lg_pop_r(struct cpu *c, const struct insn *i)
{
    uint64_t v = stack_pop(c, i->opsize);
    reg_write(c, i, i->reg, i->opsize, v);
}

static void lg_push_imm(struct cpu *c, const struct insn *i)
{
    stack_push(c, i->imm & size_mask(i->opsize), i->opsize);
}

static void lg_push_rm(struct cpu *c, const struct insn *i)
{
    stack_push(c, rm_read(c, i, i->opsize), i->opsize);
}

/* 8F /0: the address of a memory destination is computed with the incremented stack pointer */
static void lg_pop_rm(struct cpu *c, const struct insn *i)
{
    uint64_t m = cpu_sp_mask(c), old = c->gpr[R_RSP], sp = old & m;
    uint64_t v = mem_read_n(c, SEG_SS, sp, i->opsize);
    cpu_sp_set(c, sp + i->opsize, m);
    if (i->flags & INSN_MEM) {
        uint64_t ea = insn_ea(c, i);
        c->gpr[R_RSP] = old;
        mem_write_n(c, i->seg, ea, v, i->opsize);
        cpu_sp_set(c, sp + i->opsize, m);
    } else {
        reg_write(c, i, i->rm, i->opsize, v);
    }
}

static void lg_pushf(struct cpu *c, const struct insn *i)
{
    stack_push(c, flags_read(c) & ~(uint64_t)(F_VM | F_RF) & size_mask(i->opsize), i->opsize);
}

/* 9D: as in 64-bit mode (IOPL at CPL 0 only, IF at CPL <= IOPL); VM, VIF and VIP keep their
 * values (no virtual-8086 mode), RF is cleared. */
static void lg_popf(struct cpu *c, const struct insn *i)
{
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    uint64_t v = mem_read_n(c, SEG_SS, sp, i->opsize);
    uint64_t old = flags_read(c);
    uint64_t mask = F_ARITH | F_TF | F_IF | F_DF | F_IOPL | F_NT | F_AC | F_ID;
    unsigned iopl = (old & F_IOPL) >> 12;
    if (c->cpl > 0) mask &= ~(uint64_t)F_IOPL;
    if (c->cpl > iopl) mask &= ~(uint64_t)F_IF;
    mask &= size_mask(i->opsize);
    cpu_sp_set(c, sp + i->opsize, m);
    flags_write(c, ((old & ~mask) | (v & mask) | 2) & ~(uint64_t)F_RF);
}

/* 60: pusha — AX CX DX BX (the original) SP BP SI DI */
static void lg_pusha(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    for (unsigned r = 0; r < 8; r++)
        mem_write_n(c, SEG_SS, (sp - (r + 1) * n) & m, c->gpr[r] & size_mask(n), n);
    cpu_sp_set(c, sp - 8 * n, m);
}

/* 61: popa — the saved SP is skipped */
static void lg_popa(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m, v[8];
    for (unsigned r = 0; r < 8; r++)
        v[7 - r] = mem_read_n(c, SEG_SS, (sp + r * n) & m, n);
    for (unsigned r = 0; r < 8; r++)
        if (r != R_RSP) reg_write(c, i, r, n, v[r]);
    cpu_sp_set(c, sp + 8 * n, m);
}

/* C8: enter imm16, imm8 */
static void lg_enter(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, level = i->imm2 & 31;
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m, bp = c->gpr[R_RBP];
    sp = (sp - size) & m;
    mem_write_n(c, SEG_SS, sp, bp & size_mask(size), size);
    uint64_t frame = sp;
    if (level > 0) {
        for (unsigned k = 1; k < level; k++) {
            bp = (bp - size) & m;
            uint64_t v = mem_read_n(c, SEG_SS, bp, size);
            sp = (sp - size) & m;
            mem_write_n(c, SEG_SS, sp, v, size);
        }
        sp = (sp - size) & m;
        mem_write_n(c, SEG_SS, sp, frame & size_mask(size), size);
    }
    reg_write(c, i, R_RBP, size, frame);
    cpu_sp_set(c, sp - (i->imm & 0xffff), m);
}

/* C9: leave — the stack pointer takes BP (at the stack width), then BP is popped */
static void lg_leave(struct cpu *c, const struct insn *i)
{
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RBP] & m;
    uint64_t v = mem_read_n(c, SEG_SS, sp, i->opsize);
    cpu_sp_set(c, sp + i->opsize, m);
    reg_write(c, i, R_RBP, i->opsize, v);
}

/* ---- near branches ---- */

static void lg_call_to(struct cpu *c, const struct insn *i, uint64_t t)
{
    t = lg_target(c, i, t);
    stack_push(c, c->next_rip & size_mask(i->opsize), i->opsize);
    c->next_rip = t;
}

static void lg_call_rel(struct cpu *c, const struct insn *i)
{
    lg_call_to(c, i, c->next_rip + i->imm);
}

static void lg_call_rm(struct cpu *c, const struct insn *i)
{
    lg_call_to(c, i, rm_read(c, i, i->opsize));
}

static void lg_jmp_rel(struct cpu *c, const struct insn *i)
{
    c->next_rip = lg_target(c, i, c->next_rip + i->imm);
}

static void lg_jmp_rm(struct cpu *c, const struct insn *i)
{
    c->next_rip = lg_target(c, i, rm_read(c, i, i->opsize));
}

static void lg_ret(struct cpu *c, const struct insn *i)
{
    uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
    uint64_t t = lg_target(c, i, mem_read_n(c, SEG_SS, sp, i->opsize));
    cpu_sp_set(c, sp + i->opsize + (i->op == 0xc2 ? (i->imm & 0xffff) : 0), m);
    c->next_rip = t;
}

static void lg_jcc(struct cpu *c, const struct insn *i)
{
    if (int_cond(c, i->op & 15)) c->next_rip = lg_target(c, i, c->next_rip + i->imm);
}

/* E0 loopne, E1 loope, E2 loop: CX or ECX by address size */
static void lg_loop(struct cpu *c, const struct insn *i)
{
    uint64_t n = (c->gpr[R_RCX] - 1) & size_mask(i->addrsize);
    bool take = n != 0;
    if (i->op == 0xe0)
        take = take && !cond_test(c, 4);
    else if (i->op == 0xe1)
        take = take && cond_test(c, 4);
    uint64_t t = take ? lg_target(c, i, c->next_rip + i->imm) : c->next_rip;
    lg_set_count(c, i, n);
    c->next_rip = t;
}

/* E3: jcxz / jecxz */
static void lg_jcxz(struct cpu *c, const struct insn *i)
{
    if (!(c->gpr[R_RCX] & size_mask(i->addrsize)))
        c->next_rip = lg_target(c, i, c->next_rip + i->imm);
}

/* ---- 16/32-bit-only opcodes ---- */

/* 40-47 inc r, 48-4F dec r: CF is kept */
static void lg_incdec(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, cf = int_cf(c);
    bool dec = i->op & 8;
    uint64_t d = c->gpr[i->reg] & size_mask(size), r = (dec ? d - 1 : d + 1) & size_mask(size);
    reg_write(c, i, i->reg, size, r);
    int_lf(c, dec ? FL_DEC : FL_INC, size, r, d, 1);
    c->lf.cf_in = cf;
}

/* 62: bound r, m — #BR unless lower <= r <= upper (signed, at the operand size) */
static void lg_bound(struct cpu *c, const struct insn *i)
{
    unsigned n = i->opsize;
    uint64_t ea = insn_ea(c, i);
    int64_t lo = (int64_t)int_sext(mem_read_n(c, i->seg, ea, n), n);
    int64_t hi = (int64_t)int_sext(mem_read_n(c, i->seg, (ea + n) & size_mask(i->addrsize), n), n);
    int64_t v = (int64_t)int_sext(c->gpr[i->reg], n);
    if (v < lo || v > hi) cpu_fault(c, EXC_BR);
}

/* CE: into — #OF as a trap when OF is set */
static void lg_into(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (flags_read(c) & F_OF) cpu_soft_int(c, EXC_OF);
}

/* Write AL (and optionally AH) and the flags the BCD instructions define. */
static void lg_bcd_commit(struct cpu *c, unsigned al, uint64_t set, uint64_t mask)
{
    c->gpr[R_RAX] = (c->gpr[R_RAX] & ~0xffull) | (al & 0xff);
    int_set_flags(c, mask, set);
}

/* 27 daa, 2F das (SDM pseudocode; OF is undefined and left clear) */
static void lg_daa_das(struct cpu *c, const struct insn *i)
{
    bool das = i->op == 0x2f;
    uint64_t f = flags_read(c);
    unsigned old_al = c->gpr[R_RAX] & 0xff, al = old_al;
    bool old_cf = f & F_CF, cf = false, af = false;
    if ((al & 0xf) > 9 || (f & F_AF)) {
        unsigned t = das ? al - 6 : al + 6;
        cf = old_cf || (t >> 8);
        al = t & 0xff;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al = (das ? al - 0x60 : al + 0x60) & 0xff;
        cf = true;
    } else if (!das) {
        cf = false;
    }
    uint64_t set = int_szp(al, 1) | (cf ? F_CF : 0) | (af ? F_AF : 0);
    lg_bcd_commit(c, al, set, F_ARITH);
}

/* 37 aaa, 3F aas: SF, ZF, PF, OF are undefined (left as computed from AL, OF clear) */
static void lg_aaa_aas(struct cpu *c, const struct insn *i)
{
    bool aas = i->op == 0x3f;
    uint64_t f = flags_read(c);
    uint64_t ax = c->gpr[R_RAX] & 0xffff;
    bool adj = (ax & 0xf) > 9 || (f & F_AF);
    if (adj) ax = aas ? ax - 6 - 0x100 : ax + 0x106; /* AX +/- 6 carries into AH */
    ax = (ax & 0xff00) | (ax & 0x0f);
    c->gpr[R_RAX] = (c->gpr[R_RAX] & ~0xffffull) | (ax & 0xffff);
    int_set_flags(c, F_ARITH, int_szp(ax & 0xff, 1) | (adj ? F_CF | F_AF : 0));
}

/* D4 aam imm8 (#DE for 0), D5 aad imm8 */
static void lg_aam_aad(struct cpu *c, const struct insn *i)
{
    unsigned base = i->imm & 0xff, al = c->gpr[R_RAX] & 0xff, ah = (c->gpr[R_RAX] >> 8) & 0xff;
    if (i->op == 0xd4) {
        if (base == 0) cpu_fault(c, EXC_DE);
        ah = al / base;
        al = al % base;
    } else {
        al = (al + ah * base) & 0xff;
        ah = 0;
    }
    c->gpr[R_RAX] = (c->gpr[R_RAX] & ~0xffffull) | (ah << 8) | al;
    int_set_flags(c, F_ARITH, int_szp(al, 1));
}

/* D6: salc — AL = CF ? FF : 00 */
static void lg_salc(struct cpu *c, const struct insn *i)
{
    (void)i;
    c->gpr[R_RAX] = (c->gpr[R_RAX] & ~0xffull) | (int_cf(c) ? 0xff : 0);
}

/* 63: arpl r/m16, r16 — raise the destination selector's RPL to the source's (ZF = changed);
 * claimed here, before int_move.c's movsxd (the same opcode in 64-bit mode) */
static void lg_arpl(struct cpu *c, const struct insn *i)
{
    if (c->mode == MODE_REAL) cpu_fault(c, EXC_UD);
    uint16_t d = (uint16_t)rm_read(c, i, 2), s = (uint16_t)c->gpr[i->reg];
    uint64_t f = flags_read(c);
    if ((d & 3) < (s & 3)) {
        rm_write(c, i, 2, (d & ~3u) | (s & 3));
        flags_write(c, f | F_ZF);
    } else {
        flags_write(c, f & ~(uint64_t)F_ZF);
    }
}

insn_fn int_legacy_lookup(const struct insn *i)
{
    unsigned op = i->op, sub = (i->modrm >> 3) & 7;
    if (op >= 0x40 && op <= 0x4f) return lg_incdec;
    if (op >= 0x50 && op <= 0x57) return lg_push_r;
    if (op >= 0x58 && op <= 0x5f) return lg_pop_r;
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) return lg_jcc;
    switch (op) {
    case 0x27:
    case 0x2f: return lg_daa_das;
    case 0x37:
    case 0x3f: return lg_aaa_aas;
    case 0x60: return lg_pusha;
    case 0x61: return lg_popa;
    case 0x62: return lg_bound;
    case 0x63: return lg_arpl;
    case 0x68:
    case 0x6a: return lg_push_imm;
    case 0x8f: return sub == 0 ? lg_pop_rm : NULL;
    case 0x9c: return lg_pushf;
    case 0x9d: return lg_popf;
    case 0xc2:
    case 0xc3: return lg_ret;
    case 0xc8: return lg_enter;
    case 0xc9: return lg_leave;
    case 0xce: return lg_into;
    case 0xd4:
    case 0xd5: return lg_aam_aad;
    case 0xd6: return lg_salc;
    case 0xe0:
    case 0xe1:
    case 0xe2: return lg_loop;
    case 0xe3: return lg_jcxz;
    case 0xe8: return lg_call_rel;
    case 0xe9:
    case 0xeb: return lg_jmp_rel;
    case 0xff:
        if (sub == 2) return lg_call_rm;
        if (sub == 4) return lg_jmp_rm;
        if (sub == 6) return lg_push_rm;
        return NULL;
    }
    return NULL;
}
