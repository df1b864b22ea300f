/* int_bmi.c — the VEX-encoded general-register instructions: BMI1 (andn, bextr, blsi, blsmsk,
 * blsr; tzcnt is in int_bit.c) and BMI2 (bzhi, mulx, pdep, pext, rorx, sarx, shlx, shrx). The
 * operand size is 32 bits, or 64 with VEX.W; 32-bit results zero the upper half. Flags the SDM
 * leaves undefined get vessel's fixed values (docs/CPU-MODEL.md): AF = 0, PF (and for bextr SF)
 * from the result, as for the logic instructions. */
#include "cpu/ops/int/int_impl.h"

/* ZF SF PF of res, CF as given, OF = AF = 0 */
static void bmi_flags(struct cpu *c, uint64_t res, unsigned size, bool cf)
{
    int_set_flags(c, F_ARITH, int_szp(res, size) | (cf ? F_CF : 0));
}

static uint64_t bmi_vreg(const struct cpu *c, const struct insn *i)
{
    return c->gpr[i->vreg] & size_mask(i->opsize);
}

static void andn(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t res = ~bmi_vreg(c, i) & rm_read(c, i, size) & size_mask(size);
    reg_write(c, i, i->reg, size, res);
    bmi_flags(c, res, size, false);
}

/* blsr /1, blsmsk /2, blsi /3: the destination is VEX.vvvv */
static void bls(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, digit = (i->modrm >> 3) & 7;
    uint64_t src = rm_read(c, i, size), m = size_mask(size), res;
    uint64_t f;
    switch (digit) {
    case 1:
        res = src & (src - 1) & m;
        f = int_szp(res, size) | (src == 0 ? F_CF : 0);
        break;
    case 2:
        res = (src ^ (src - 1)) & m;
        f = (int_szp(res, size) & ~(uint64_t)F_ZF) | (src == 0 ? F_CF : 0);
        break;
    default:
        res = -src & src & m;
        f = int_szp(res, size) | (src != 0 ? F_CF : 0);
        break;
    }
    reg_write(c, i, i->vreg, size, res);
    int_set_flags(c, F_ARITH, f);
}

static void bzhi(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, bits = size * 8;
    uint64_t src = rm_read(c, i, size), n = c->gpr[i->vreg] & 0xff, res = src;
    if (n < bits) res = src & ((1ull << n) - 1);
    reg_write(c, i, i->reg, size, res);
    bmi_flags(c, res, size, n > bits - 1);
}

static void pdep(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t src = bmi_vreg(c, i), mask = rm_read(c, i, size), res = 0;
    for (uint64_t b = 1; mask; b <<= 1) {
        uint64_t low = mask & -mask;
        if (src & b) res |= low;
        mask ^= low;
    }
    reg_write(c, i, i->reg, size, res);
}

static void pext(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t src = bmi_vreg(c, i), mask = rm_read(c, i, size), res = 0;
    for (uint64_t b = 1; mask; b <<= 1) {
        uint64_t low = mask & -mask;
        if (src & low) res |= b;
        mask ^= low;
    }
    reg_write(c, i, i->reg, size, res);
}

/* mulx: rDX times r/m, unsigned; low half to VEX.vvvv, then high half to ModRM.reg (so the
 * high half wins when both name the same register) */
static void mulx(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t a = c->gpr[R_RDX] & size_mask(size), b = rm_read(c, i, size), lo, hi;
    if (size == 8) {
        unsigned __int128 p = (unsigned __int128)a * b;
        lo = (uint64_t)p;
        hi = (uint64_t)(p >> 64);
    } else {
        uint64_t p = a * b;
        lo = (uint32_t)p;
        hi = p >> 32;
    }
    reg_write(c, i, i->vreg, size, lo);
    reg_write(c, i, i->reg, size, hi);
}

static void bextr(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, bits = size * 8;
    uint64_t src = rm_read(c, i, size), ctl = c->gpr[i->vreg];
    unsigned start = (unsigned)(ctl & 0xff), len = (unsigned)((ctl >> 8) & 0xff);
    uint64_t res = start < bits ? src >> start : 0;
    if (len < 64) res &= (1ull << len) - 1;
    res &= size_mask(size);
    reg_write(c, i, i->reg, size, res);
    bmi_flags(c, res, size, false);
}

/* shlx (66), sarx (F3), shrx (F2): count in VEX.vvvv, no flags */
static void shiftx(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t src = rm_read(c, i, size), res;
    unsigned n = (unsigned)(c->gpr[i->vreg] & (size == 8 ? 63 : 31));
    switch (i->mp) {
    case MP_66: res = src << n; break;
    case MP_F3: res = (uint64_t)((int64_t)int_sext(src, size) >> n); break;
    default: res = src >> n; break;
    }
    reg_write(c, i, i->reg, size, res & size_mask(size));
}

static void rorx(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, bits = size * 8;
    uint64_t src = rm_read(c, i, size);
    unsigned n = (unsigned)i->imm & (bits - 1);
    uint64_t res = n ? (src >> n) | (src << (bits - n)) : src;
    reg_write(c, i, i->reg, size, res & size_mask(size));
}

insn_fn int_bmi_lookup(const struct insn *i)
{
    if (!(i->flags & INSN_VEX)) return NULL;
    switch (i->op) {
    case 0x6f2: return andn;
    case 0x6f3: return bls;
    case 0x6f5: return i->mp == MP_NONE ? bzhi : i->mp == MP_F3 ? pext : pdep;
    case 0x6f6: return mulx;
    case 0x6f7: return i->mp == MP_NONE ? bextr : shiftx;
    case 0x7f0: return rorx;
    }
    return NULL;
}
