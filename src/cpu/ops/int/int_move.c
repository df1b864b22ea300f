/* int_move.c — data movement without arithmetic: mov in all its encodings (incl. moffs),
 * movzx/movsx/movsxd, lea, xchg, cbw/cwd families, xlat, the hint NOPs, and
 * cmpxchg8b/cmpxchg16b. */
#include "cpu/ops/int/int_impl.h"

/* 88/89: mov r/m, reg */
static void mov_rm_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x88);
    rm_write(c, i, size, reg_read(c, i, i->reg, size));
}

/* 8A/8B: mov reg, r/m */
static void mov_r_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x8a);
    reg_write(c, i, i->reg, size, rm_read(c, i, size));
}

/* 88-8B with a register r/m: plain register copies, no memory path */
static void mov_reg_to_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x88);
    reg_write(c, i, i->rm, size, reg_read(c, i, i->reg, size));
}

static void mov_rm_to_reg(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x8a);
    reg_write(c, i, i->reg, size, reg_read(c, i, i->rm, size));
}

/* C6/C7 /0: mov r/m, imm */
static void mov_rm_imm(struct cpu *c, const struct insn *i)
{
    rm_write(c, i, int_size(i, i->op == 0xc6), i->imm);
}

/* B0-B7: mov r8, imm8 */
static void mov_r8_imm(struct cpu *c, const struct insn *i)
{
    reg_write(c, i, i->reg, 1, i->imm);
}

/* B8-BF: mov reg, imm16/32/64 */
static void mov_r_imm(struct cpu *c, const struct insn *i)
{
    reg_write(c, i, i->reg, i->opsize, i->imm);
}

/* A0-A3: mov al/rAX <-> moffs (absolute offset in imm) */
static void mov_moffs(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, !(i->op & 1));
    uint64_t off = i->imm & size_mask(i->addrsize);
    if (i->op & 2)
        mem_write_n(c, i->seg, off, c->gpr[R_RAX] & size_mask(size), size);
    else
        reg_write(c, i, R_RAX, size, mem_read_n(c, i->seg, off, size));
}

/* 8D: lea */
static void lea(struct cpu *c, const struct insn *i)
{
    reg_write(c, i, i->reg, i->opsize, insn_ea(c, i));
}

/* 63: movsxd reg, r/m32 (without REX.W a plain 32- or 16-bit move) */
static void movsxd(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    if (size == 8)
        reg_write(c, i, i->reg, 8, int_sext(rm_read(c, i, 4), 4));
    else
        reg_write(c, i, i->reg, size, rm_read(c, i, size));
}

/* 0F B6/B7 movzx, 0F BE/BF movsx */
static void movx(struct cpu *c, const struct insn *i)
{
    unsigned ssize = (i->op & 1) ? 2 : 1;
    uint64_t v = rm_read(c, i, ssize);
    if (i->op & 8) v = int_sext(v, ssize);
    reg_write(c, i, i->reg, i->opsize, v);
}

/* 86/87: xchg r/m, reg */
static void xchg_rm_r(struct cpu *c, const struct insn *i)
{
    if (i->flags & INSN_MEM) { /* locked with or without the prefix */
        int_lock_exec(c, i);
        return;
    }
    unsigned size = int_size(i, i->op == 0x86);
    uint64_t a = rm_read(c, i, size), b = reg_read(c, i, i->reg, size);
    rm_write(c, i, size, b);
    reg_write(c, i, i->reg, size, a);
}

/* 90-97: xchg rAX, reg (90 without REX.B is nop; F3 90 is pause) */
static void xchg_acc_r(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t a = c->gpr[R_RAX] & size_mask(size), b = c->gpr[i->reg] & size_mask(size);
    reg_write(c, i, R_RAX, size, b);
    reg_write(c, i, i->reg, size, a);
}

static void nop(struct cpu *c, const struct insn *i) {}

/* 98: cbw / cwde / cdqe */
static void cbw(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    reg_write(c, i, R_RAX, size, int_sext(c->gpr[R_RAX], size / 2));
}

/* 99: cwd / cdq / cqo */
static void cwd(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t sign = (c->gpr[R_RAX] >> (size * 8 - 1)) & 1;
    reg_write(c, i, R_RDX, size, sign ? ~0ull : 0);
}

/* D7: xlat al = [rbx + al] */
static void xlat(struct cpu *c, const struct insn *i)
{
    uint64_t off = c->gpr[R_RBX] + (c->gpr[R_RAX] & 0xff);
    off &= size_mask(i->addrsize);
    reg_write(c, i, R_RAX, 1, mem_read_n(c, i->seg, off, 1));
}

/* 0F C7 /1: cmpxchg8b m64 / cmpxchg16b m128 (REX.W; #GP unless 16-byte aligned).
 * Only ZF changes; memory is written back either way. */
static void cmpxchg8b16b(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    uint64_t ea = insn_ea(c, i);
    if (i->flags & INSN_REXW) {
        uint64_t m[2];
        if (ea & 15) cpu_fault_err(c, EXC_GP, 0);
        mem_read(c, i->seg, ea, m, 16);
        bool eq = m[0] == c->gpr[R_RAX] && m[1] == c->gpr[R_RDX];
        if (eq) {
            uint64_t n[2] = {c->gpr[R_RBX], c->gpr[R_RCX]};
            mem_write(c, i->seg, ea, n, 16);
        } else {
            mem_write(c, i->seg, ea, m, 16);
            c->gpr[R_RAX] = m[0];
            c->gpr[R_RDX] = m[1];
        }
        int_set_flags(c, F_ZF, eq ? F_ZF : 0);
    } else {
        uint64_t m = mem_read_n(c, i->seg, ea, 8);
        uint64_t cur = (c->gpr[R_RDX] << 32) | (uint32_t)c->gpr[R_RAX];
        bool eq = m == cur;
        if (eq) {
            mem_write_n(c, i->seg, ea, (c->gpr[R_RCX] << 32) | (uint32_t)c->gpr[R_RBX], 8);
        } else {
            mem_write_n(c, i->seg, ea, m, 8);
            c->gpr[R_RAX] = (uint32_t)m;
            c->gpr[R_RDX] = m >> 32;
        }
        int_set_flags(c, F_ZF, eq ? F_ZF : 0);
    }
}

insn_fn int_move_lookup(const struct insn *i)
{
    unsigned op = i->op, sub = (i->modrm >> 3) & 7;
    bool mem = i->flags & INSN_MEM;
    switch (op) {
    case 0x88:
    case 0x89: return mem ? mov_rm_r : mov_reg_to_rm;
    case 0x8a:
    case 0x8b: return mem ? mov_r_rm : mov_rm_to_reg;
    case 0xc6:
    case 0xc7: return sub == 0 ? mov_rm_imm : NULL;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: return mov_moffs;
    case 0x8d: return mem ? lea : NULL;
    case 0x63: return movsxd;
    case 0x1b6:
    case 0x1b7:
    case 0x1be:
    case 0x1bf: return movx;
    case 0x86:
    case 0x87: return xchg_rm_r;
    case 0x90: return i->reg == 0 ? nop : xchg_acc_r;
    case 0x98: return cbw;
    case 0x99: return cwd;
    case 0xd7: return xlat;
    case 0x10d:
    case 0x11f: return nop;
    case 0x1c7: return mem && sub == 1 ? cmpxchg8b16b : NULL;
    }
    if (op >= 0x91 && op <= 0x97) return xchg_acc_r;
    if (op >= 0xb0 && op <= 0xb7) return mov_r8_imm;
    if (op >= 0xb8 && op <= 0xbf) return mov_r_imm;
    if (op >= 0x118 && op <= 0x11e) return nop;
    return NULL;
}
