/* int_alu.c — the two-operand ALU (add/or/adc/sbb/and/sub/xor/cmp in all their encodings),
 * test, inc/dec, not/neg, cmpxchg, xadd, setcc/cmovcc and the direct flag instructions.
 * Read-modify-write forms compute into a local lazy-flags record and commit it only after the
 * memory write has succeeded, so a #PF on the write leaves the flags untouched. */
#include "int_impl.h"

static uint64_t alu_calc(struct cpu *c, struct lazy_flags *lf, unsigned alu, unsigned size,
                         uint64_t d, uint64_t s)
{
    uint64_t m = size_mask(size), r;
    unsigned op, cf = 0;
    switch (alu) {
    case ALU_ADD: r = d + s, op = FL_ADD; break;
    case ALU_OR: r = d | s, op = FL_LOGIC; break;
    case ALU_ADC: cf = flags_cf(c), r = d + s + cf, op = FL_ADC; break;
    case ALU_SBB: cf = flags_cf(c), r = d - s - cf, op = FL_SBB; break;
    case ALU_AND: r = d & s, op = FL_LOGIC; break;
    case ALU_XOR: r = d ^ s, op = FL_LOGIC; break;
    default: r = d - s, op = FL_SUB; break; /* sub, cmp */
    }
    r &= m;
    lf->op = op;
    lf->size = size;
    lf->res = r;
    lf->src1 = d;
    lf->src2 = s;
    lf->cf_in = cf;
    return r;
}

uint64_t int_alu(struct cpu *c, unsigned alu, unsigned size, uint64_t dst, uint64_t src)
{
    struct lazy_flags lf;
    uint64_t r = alu_calc(c, &lf, alu, size, dst, src);
    c->lf = lf;
    return r;
}

/* 00/01 ... 38/39: op r/m, reg */
static void alu_rm_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, !(i->op & 1)), alu = (i->op >> 3) & 7;
    struct lazy_flags lf;
    uint64_t d = rm_read(c, i, size);
    uint64_t r = alu_calc(c, &lf, alu, size, d, reg_read(c, i, i->reg, size));
    if (alu != ALU_CMP) rm_write(c, i, size, r);
    c->lf = lf;
}

/* 02/03 ... 3A/3B: op reg, r/m */
static void alu_r_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, !(i->op & 1)), alu = (i->op >> 3) & 7;
    struct lazy_flags lf;
    uint64_t s = rm_read(c, i, size);
    uint64_t r = alu_calc(c, &lf, alu, size, reg_read(c, i, i->reg, size), s);
    if (alu != ALU_CMP) reg_write(c, i, i->reg, size, r);
    c->lf = lf;
}

/* 04/05 ... 3C/3D: op al/rAX, imm */
static void alu_acc_imm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, !(i->op & 1)), alu = (i->op >> 3) & 7;
    uint64_t r = int_alu(c, alu, size, c->gpr[R_RAX] & size_mask(size), i->imm & size_mask(size));
    if (alu != ALU_CMP) reg_write(c, i, R_RAX, size, r);
}

/* 80/81/83: group 1, op r/m, imm */
static void alu_grp1(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x80), alu = (i->modrm >> 3) & 7;
    struct lazy_flags lf;
    uint64_t d = rm_read(c, i, size);
    uint64_t r = alu_calc(c, &lf, alu, size, d, i->imm & size_mask(size));
    if (alu != ALU_CMP) rm_write(c, i, size, r);
    c->lf = lf;
}

/* 84/85: test r/m, reg */
static void test_rm_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x84);
    uint64_t r = rm_read(c, i, size) & reg_read(c, i, i->reg, size);
    int_lf(c, FL_LOGIC, size, r, r, r);
}

/* A8/A9: test al/rAX, imm */
static void test_acc_imm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xa8);
    uint64_t r = c->gpr[R_RAX] & i->imm & size_mask(size);
    int_lf(c, FL_LOGIC, size, r, r, r);
}

/* F6/F7 /0 /1: test r/m, imm */
static void test_rm_imm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xf6);
    uint64_t r = rm_read(c, i, size) & i->imm & size_mask(size);
    int_lf(c, FL_LOGIC, size, r, r, r);
}

/* F6/F7 /2: not r/m (no flags) */
static void not_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xf6);
    rm_write(c, i, size, ~rm_read(c, i, size) & size_mask(size));
}

/* F6/F7 /3: neg r/m */
static void neg_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xf6);
    uint64_t d = rm_read(c, i, size), r = (0 - d) & size_mask(size);
    rm_write(c, i, size, r);
    int_lf(c, FL_NEG, size, r, 0, d);
}

/* FE/FF /0 /1: inc/dec r/m (CF preserved) */
static void incdec_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xfe);
    bool dec = (i->modrm >> 3) & 1;
    uint64_t d = rm_read(c, i, size), r = (dec ? d - 1 : d + 1) & size_mask(size);
    unsigned cf = flags_cf(c);
    rm_write(c, i, size, r);
    int_lf(c, dec ? FL_DEC : FL_INC, size, r, d, 1);
    c->lf.cf_in = cf;
}

/* 0F B0/B1: cmpxchg r/m, reg. A memory destination is written either way (as the CPU's
 * locked cycle does); a register destination only on a match (so a 32-bit one keeps its upper
 * half on a mismatch); the accumulator only on a mismatch. */
static void cmpxchg_rm_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x1b0);
    uint64_t d = rm_read(c, i, size), a = c->gpr[R_RAX] & size_mask(size);
    struct lazy_flags lf;
    alu_calc(c, &lf, ALU_CMP, size, a, d);
    if (a == d) {
        rm_write(c, i, size, reg_read(c, i, i->reg, size));
    } else {
        if (i->flags & INSN_MEM) rm_write(c, i, size, d);
        reg_write(c, i, R_RAX, size, d);
    }
    c->lf = lf;
}

/* 0F C0/C1: xadd r/m, reg */
static void xadd_rm_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x1c0);
    uint64_t d = rm_read(c, i, size), s = reg_read(c, i, i->reg, size);
    struct lazy_flags lf;
    uint64_t r = alu_calc(c, &lf, ALU_ADD, size, d, s);
    if (i->flags & INSN_MEM) {
        rm_write(c, i, size, r);
        reg_write(c, i, i->reg, size, d);
    } else {
        reg_write(c, i, i->reg, size, d);
        rm_write(c, i, size, r);
    }
    c->lf = lf;
}

/* 0F 90-9F: setcc r/m8 */
static void setcc_rm(struct cpu *c, const struct insn *i)
{
    rm_write(c, i, 1, cond_test(c, i->op & 15));
}

/* 0F 40-4F: cmovcc reg, r/m. The source is read (and may fault) either way; a 32-bit
 * destination is zero-extended even when the condition is false. */
static void cmovcc_r_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t s = rm_read(c, i, size);
    if (cond_test(c, i->op & 15))
        reg_write(c, i, i->reg, size, s);
    else if (size == 4)
        c->gpr[i->reg] = (uint32_t)c->gpr[i->reg];
}

static void cmc(struct cpu *c, const struct insn *i)
{
    int_set_flags(c, F_CF, flags_read(c) ^ F_CF);
}

static void clc(struct cpu *c, const struct insn *i)
{
    int_set_flags(c, F_CF, 0);
}

static void stc(struct cpu *c, const struct insn *i)
{
    int_set_flags(c, F_CF, F_CF);
}

static void cld(struct cpu *c, const struct insn *i)
{
    c->rflags &= ~(uint64_t)F_DF;
}

static void std_(struct cpu *c, const struct insn *i)
{
    c->rflags |= F_DF;
}

/* 9E: sahf loads SF ZF AF PF CF from AH */
static void sahf(struct cpu *c, const struct insn *i)
{
    int_set_flags(c, F_SF | F_ZF | F_AF | F_PF | F_CF, (c->gpr[R_RAX] >> 8) & 0xff);
}

/* 9F: lahf */
static void lahf(struct cpu *c, const struct insn *i)
{
    uint64_t f = (flags_read(c) & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | 2;
    c->gpr[R_RAX] = (c->gpr[R_RAX] & ~0xff00ull) | (f << 8);
}

insn_fn int_alu_lookup(const struct insn *i)
{
    unsigned op = i->op, sub = (i->modrm >> 3) & 7;
    if (op < 0x40) {
        switch (op & 7) {
        case 0:
        case 1: return alu_rm_r;
        case 2:
        case 3: return alu_r_rm;
        case 4:
        case 5: return alu_acc_imm;
        default: return NULL;
        }
    }
    switch (op) {
    case 0x80:
    case 0x81:
    case 0x83: return alu_grp1;
    case 0x84:
    case 0x85: return test_rm_r;
    case 0xa8:
    case 0xa9: return test_acc_imm;
    case 0xf6:
    case 0xf7:
        if (sub <= 1) return test_rm_imm;
        return sub == 2 ? not_rm : sub == 3 ? neg_rm : NULL;
    case 0xfe:
    case 0xff: return sub <= 1 ? incdec_rm : NULL;
    case 0xf5: return cmc;
    case 0xf8: return clc;
    case 0xf9: return stc;
    case 0xfc: return cld;
    case 0xfd: return std_;
    case 0x9e: return sahf;
    case 0x9f: return lahf;
    case 0x1b0:
    case 0x1b1: return cmpxchg_rm_r;
    case 0x1c0:
    case 0x1c1: return xadd_rm_r;
    }
    if (op >= 0x140 && op <= 0x14f) return cmovcc_r_rm;
    if (op >= 0x190 && op <= 0x19f) return setcc_rm;
    return NULL;
}
