/* int_muldiv.c — multiply and divide: mul/imul/div/idiv (group 3, F6/F7 /4-/7) and the
 * two- and three-operand imul (0F AF, 69, 6B). Divide by zero and quotients that do not fit
 * raise #DE before anything is written. Multiplies define only CF and OF; the other
 * arithmetic flags are undefined, and are set here from the low half of the product. */
#include "cpu/ops/int/int_impl.h"

typedef __int128 i128;
typedef unsigned __int128 u128;

static void mul_flags(struct cpu *c, bool overflow, uint64_t lo, unsigned size)
{
    uint64_t f = int_szp(lo, size) & (F_ZF | F_SF | F_PF);
    if (overflow) f |= F_CF | F_OF;
    int_set_flags(c, F_ARITH, f);
}

/* Store a double-width result in AX (size 1) or rDX:rAX. */
static void store_pair(struct cpu *c, const struct insn *i, unsigned size, uint64_t lo, uint64_t hi)
{
    if (size == 1) {
        reg_write(c, i, R_RAX, 2, (lo & 0xff) | (hi & 0xff) << 8);
    } else {
        reg_write(c, i, R_RAX, size, lo);
        reg_write(c, i, R_RDX, size, hi);
    }
}

static void mul_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xf6), bits = size * 8;
    uint64_t m = size_mask(size), s = rm_read(c, i, size), a = c->gpr[R_RAX] & m;
    u128 p = (u128)a * s;
    uint64_t lo = (uint64_t)p & m, hi = (uint64_t)(p >> bits) & m;
    store_pair(c, i, size, lo, hi);
    mul_flags(c, hi != 0, lo, size);
}

static void imul1_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xf6), bits = size * 8;
    uint64_t m = size_mask(size);
    int64_t s = (int64_t)int_sext(rm_read(c, i, size), size);
    int64_t a = (int64_t)int_sext(c->gpr[R_RAX], size);
    i128 p = (i128)a * s;
    uint64_t lo = (uint64_t)p & m, hi = (uint64_t)(p >> bits) & m;
    store_pair(c, i, size, lo, hi);
    mul_flags(c, p != (i128)(int64_t)int_sext(lo, size), lo, size);
}

static void div_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xf6), bits = size * 8;
    uint64_t m = size_mask(size), s = rm_read(c, i, size);
    u128 n;
    if (size == 1)
        n = c->gpr[R_RAX] & 0xffff;
    else
        n = ((u128)(c->gpr[R_RDX] & m) << bits) | (c->gpr[R_RAX] & m);
    if (s == 0) cpu_fault(c, EXC_DE);
    u128 q = n / s, r = n % s;
    if (q > m) cpu_fault(c, EXC_DE);
    store_pair(c, i, size, (uint64_t)q, (uint64_t)r);
}

static void idiv_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0xf6), bits = size * 8;
    uint64_t m = size_mask(size);
    int64_t s = (int64_t)int_sext(rm_read(c, i, size), size);
    i128 n;
    if (size == 1)
        n = (int16_t)c->gpr[R_RAX];
    else
        n = (i128)(int64_t)int_sext(c->gpr[R_RDX], size) * ((i128)1 << bits) +
            (i128)(c->gpr[R_RAX] & m);
    if (s == 0) cpu_fault(c, EXC_DE);
    if (s == -1 && n == (i128)((u128)1 << 127)) cpu_fault(c, EXC_DE);
    i128 q = n / s, r = n % s;
    i128 lim = (i128)1 << (bits - 1);
    if (q >= lim || q < -lim) cpu_fault(c, EXC_DE);
    store_pair(c, i, size, (uint64_t)q & m, (uint64_t)r & m);
}

/* 0F AF: imul reg, r/m; 69/6B: imul reg, r/m, imm */
static void imul_r_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t m = size_mask(size);
    int64_t s = (int64_t)int_sext(rm_read(c, i, size), size);
    int64_t d = i->op == 0x1af ? (int64_t)int_sext(reg_read(c, i, i->reg, size), size)
                               : (int64_t)int_sext(i->imm, size);
    i128 p = (i128)d * s;
    uint64_t lo = (uint64_t)p & m;
    reg_write(c, i, i->reg, size, lo);
    mul_flags(c, p != (i128)(int64_t)int_sext(lo, size), lo, size);
}

insn_fn int_muldiv_lookup(const struct insn *i)
{
    switch (i->op) {
    case 0xf6:
    case 0xf7:
        switch ((i->modrm >> 3) & 7) {
        case 4: return mul_rm;
        case 5: return imul1_rm;
        case 6: return div_rm;
        case 7: return idiv_rm;
        }
        return NULL;
    case 0x69:
    case 0x6b:
    case 0x1af: return imul_r_rm;
    }
    return NULL;
}
