/* int_alu.c — the two-operand ALU (add/or/adc/sbb/and/sub/xor/cmp in all their encodings),
 * test, inc/dec, not/neg, cmpxchg, xadd, setcc/cmovcc and the direct flag instructions.
 * Read-modify-write forms record the lazy flags only after the memory write has succeeded, so
 * a #PF on the write leaves the flags untouched. */
#include "cpu/ops/int/int_impl.h"

static const uint8_t alu_flop[8] = {FL_ADD,   FL_LOGIC, FL_ADC,   FL_SBB,
                                    FL_LOGIC, FL_SUB,   FL_LOGIC, FL_SUB};

/* dst op src, masked to m; *cf gets the carry-in ADC/SBB consumed (0 otherwise). */
static inline uint64_t alu_res(struct cpu *c, unsigned alu, uint64_t m, uint64_t d, uint64_t s,
                               unsigned *cf)
{
    uint64_t r;
    *cf = 0;
    switch (alu) {
    case ALU_ADD: r = d + s; break;
    case ALU_OR: r = d | s; break;
    case ALU_ADC: *cf = int_cf(c), r = d + s + *cf; break;
    case ALU_SBB: *cf = int_cf(c), r = d - s - *cf; break;
    case ALU_AND: r = d & s; break;
    case ALU_XOR: r = d ^ s; break;
    default: r = d - s; break; /* sub, cmp */
    }
    return r & m;
}

/* Record the flags of an ALU result (after any write that could fault). Plain field stores:
 * copying a whole local struct here costs a store-forwarding stall per instruction. */
static inline void alu_commit(struct cpu *c, unsigned alu, unsigned size, uint64_t r, uint64_t d,
                              uint64_t s, unsigned cf)
{
    c->lf.op = alu_flop[alu];
    c->lf.size = size;
    c->lf.res = r;
    c->lf.src1 = d;
    c->lf.src2 = s;
    c->lf.cf_in = cf;
}

uint64_t int_alu(struct cpu *c, unsigned alu, unsigned size, uint64_t dst, uint64_t src)
{
    unsigned cf;
    uint64_t r = alu_res(c, alu, size_mask(size), dst, src, &cf);
    alu_commit(c, alu, size, r, dst, src, cf);
    return r;
}

/* 00/01 ... 38/39: op r/m, reg */
static void alu_rm_r(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    unsigned size = int_size(i, !(i->op & 1)), alu = (i->op >> 3) & 7, cf;
    uint64_t d = rm_read(c, i, size), s = reg_read(c, i, i->reg, size);
    uint64_t r = alu_res(c, alu, size_mask(size), d, s, &cf);
    if (alu != ALU_CMP) rm_write(c, i, size, r);
    alu_commit(c, alu, size, r, d, s, cf);
}

/* 02/03 ... 3A/3B: op reg, r/m */
static void alu_r_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, !(i->op & 1)), alu = (i->op >> 3) & 7, cf;
    uint64_t s = rm_read(c, i, size), d = reg_read(c, i, i->reg, size);
    uint64_t r = alu_res(c, alu, size_mask(size), d, s, &cf);
    if (alu != ALU_CMP) reg_write(c, i, i->reg, size, r);
    alu_commit(c, alu, size, r, d, s, cf);
}

/* Register-only forms, one handler per operation so the operation folds and the handler
 * makes no calls (the interpreter's hottest path). */
#define ALU_REG_FORMS(alu)                                                                         \
    static void alu_rm_r_reg_##alu(struct cpu *c, const struct insn *i)                            \
    {                                                                                              \
        unsigned size = int_size(i, !(i->op & 1)), cf;                                             \
        uint64_t d = reg_read(c, i, i->rm, size), s = reg_read(c, i, i->reg, size);                \
        uint64_t r = alu_res(c, alu, size_mask(size), d, s, &cf);                                  \
        if (alu != ALU_CMP) reg_write(c, i, i->rm, size, r);                                       \
        alu_commit(c, alu, size, r, d, s, cf);                                                     \
    }                                                                                              \
    static void alu_r_rm_reg_##alu(struct cpu *c, const struct insn *i)                            \
    {                                                                                              \
        unsigned size = int_size(i, !(i->op & 1)), cf;                                             \
        uint64_t d = reg_read(c, i, i->reg, size), s = reg_read(c, i, i->rm, size);                \
        uint64_t r = alu_res(c, alu, size_mask(size), d, s, &cf);                                  \
        if (alu != ALU_CMP) reg_write(c, i, i->reg, size, r);                                      \
        alu_commit(c, alu, size, r, d, s, cf);                                                     \
    }                                                                                              \
    static void alu_grp1_reg_##alu(struct cpu *c, const struct insn *i)                            \
    {                                                                                              \
        unsigned size = int_size(i, i->op == 0x80), cf;                                            \
        uint64_t m = size_mask(size), d = reg_read(c, i, i->rm, size), s = i->imm & m;             \
        uint64_t r = alu_res(c, alu, m, d, s, &cf);                                                \
        if (alu != ALU_CMP) reg_write(c, i, i->rm, size, r);                                       \
        alu_commit(c, alu, size, r, d, s, cf);                                                     \
    }
ALU_REG_FORMS(0)
ALU_REG_FORMS(1)
ALU_REG_FORMS(2)
ALU_REG_FORMS(3)
ALU_REG_FORMS(4)
ALU_REG_FORMS(5)
ALU_REG_FORMS(6)
ALU_REG_FORMS(7)
#define ALU_TABLE(shape)                                                                           \
    static const insn_fn shape##_fn[8] = {shape##_0, shape##_1, shape##_2, shape##_3,              \
                                          shape##_4, shape##_5, shape##_6, shape##_7}
ALU_TABLE(alu_rm_r_reg);
ALU_TABLE(alu_r_rm_reg);
ALU_TABLE(alu_grp1_reg);

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
    INT_LOCKED(c, i);
    unsigned size = int_size(i, i->op == 0x80), alu = (i->modrm >> 3) & 7, cf;
    uint64_t m = size_mask(size), d = rm_read(c, i, size), s = i->imm & m;
    uint64_t r = alu_res(c, alu, m, d, s, &cf);
    if (alu != ALU_CMP) rm_write(c, i, size, r);
    alu_commit(c, alu, size, r, d, s, cf);
}

/* 84/85: test r/m, reg */
static void test_rm_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x84);
    uint64_t r = rm_read(c, i, size) & reg_read(c, i, i->reg, size);
    int_lf(c, FL_LOGIC, size, r, r, r);
}

static void test_reg_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x84);
    uint64_t r = reg_read(c, i, i->rm, size) & reg_read(c, i, i->reg, size);
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
    INT_LOCKED(c, i);
    unsigned size = int_size(i, i->op == 0xf6);
    rm_write(c, i, size, ~rm_read(c, i, size) & size_mask(size));
}

/* F6/F7 /3: neg r/m */
static void neg_rm(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    unsigned size = int_size(i, i->op == 0xf6);
    uint64_t d = rm_read(c, i, size), r = (0 - d) & size_mask(size);
    rm_write(c, i, size, r);
    int_lf(c, FL_NEG, size, r, 0, d);
}

/* FE/FF /0 /1: inc/dec r/m (CF preserved) */
static void incdec_rm(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    unsigned size = int_size(i, i->op == 0xfe);
    bool dec = (i->modrm >> 3) & 1;
    uint64_t d = rm_read(c, i, size), r = (dec ? d - 1 : d + 1) & size_mask(size);
    unsigned cf = int_cf(c);
    rm_write(c, i, size, r);
    int_lf(c, dec ? FL_DEC : FL_INC, size, r, d, 1);
    c->lf.cf_in = cf;
}

/* FE/FF /0 /1 with a register operand */
static void inc_reg(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xfe), cf = int_cf(c);
    uint64_t d = reg_read(c, i, i->rm, size), r = (d + 1) & size_mask(size);
    reg_write(c, i, i->rm, size, r);
    int_lf(c, FL_INC, size, r, d, 1);
    c->lf.cf_in = cf;
}

static void dec_reg(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xfe), cf = int_cf(c);
    uint64_t d = reg_read(c, i, i->rm, size), r = (d - 1) & size_mask(size);
    reg_write(c, i, i->rm, size, r);
    int_lf(c, FL_DEC, size, r, d, 1);
    c->lf.cf_in = cf;
}

/* 0F B0/B1: cmpxchg r/m, reg. A memory destination is written either way (as the CPU's
 * locked cycle does); a register destination only on a match (so a 32-bit one keeps its upper
 * half on a mismatch); the accumulator only on a mismatch. */
static void cmpxchg_rm_r(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    unsigned size = int_size(i, i->op == 0x1b0);
    uint64_t d = rm_read(c, i, size), a = c->gpr[R_RAX] & size_mask(size);
    if (a == d) {
        rm_write(c, i, size, reg_read(c, i, i->reg, size));
    } else {
        if (i->flags & INSN_MEM) rm_write(c, i, size, d);
        reg_write(c, i, R_RAX, size, d);
    }
    alu_commit(c, ALU_CMP, size, (a - d) & size_mask(size), a, d, 0);
}

/* 0F C0/C1: xadd r/m, reg */
static void xadd_rm_r(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    unsigned size = int_size(i, i->op == 0x1c0);
    uint64_t d = rm_read(c, i, size), s = reg_read(c, i, i->reg, size);
    uint64_t r = (d + s) & size_mask(size);
    if (i->flags & INSN_MEM) {
        rm_write(c, i, size, r);
        reg_write(c, i, i->reg, size, d);
    } else {
        reg_write(c, i, i->reg, size, d);
        rm_write(c, i, size, r);
    }
    alu_commit(c, ALU_ADD, size, r, d, s, 0);
}

/* 0F 90-9F: setcc r/m8 */
#define SETCC(cc)                                                                                  \
    static void setcc_##cc(struct cpu *c, const struct insn *i)                                    \
    {                                                                                              \
        rm_write(c, i, 1, int_cond(c, cc));                                                        \
    }
INT_CC16(SETCC)

/* 0F 40-4F: cmovcc reg, r/m. The source is read (and may fault) either way; a 32-bit
 * destination is zero-extended even when the condition is false. */
#define CMOVCC(cc)                                                                                 \
    static void cmovcc_##cc(struct cpu *c, const struct insn *i)                                   \
    {                                                                                              \
        unsigned size = i->opsize;                                                                 \
        uint64_t s = rm_read(c, i, size);                                                          \
        if (int_cond(c, cc))                                                                       \
            reg_write(c, i, i->reg, size, s);                                                      \
        else if (size == 4)                                                                        \
            c->gpr[i->reg] = (uint32_t)c->gpr[i->reg];                                             \
    }
INT_CC16(CMOVCC)
#define SETCC_ENTRY(cc)  setcc_##cc,
#define CMOVCC_ENTRY(cc) cmovcc_##cc,
static const insn_fn setcc_fn[16] = {INT_CC16(SETCC_ENTRY)};
static const insn_fn cmovcc_fn[16] = {INT_CC16(CMOVCC_ENTRY)};

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
    bool mem = i->flags & INSN_MEM;
    if (op < 0x40) {
        switch (op & 7) {
        case 0:
        case 1: return mem ? alu_rm_r : alu_rm_r_reg_fn[(op >> 3) & 7];
        case 2:
        case 3: return mem ? alu_r_rm : alu_r_rm_reg_fn[(op >> 3) & 7];
        case 4:
        case 5: return alu_acc_imm;
        default: return NULL;
        }
    }
    switch (op) {
    case 0x80:
    case 0x81:
    case 0x83: return mem ? alu_grp1 : alu_grp1_reg_fn[sub];
    case 0x84:
    case 0x85: return mem ? test_rm_r : test_reg_r;
    case 0xa8:
    case 0xa9: return test_acc_imm;
    case 0xf6:
    case 0xf7:
        if (sub <= 1) return test_rm_imm;
        return sub == 2 ? not_rm : sub == 3 ? neg_rm : NULL;
    case 0xfe:
    case 0xff:
        if (sub > 1) return NULL;
        return mem ? incdec_rm : sub ? dec_reg : inc_reg;
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
    if (op >= 0x140 && op <= 0x14f) return cmovcc_fn[op & 15];
    if (op >= 0x190 && op <= 0x19f) return setcc_fn[op & 15];
    return NULL;
}
