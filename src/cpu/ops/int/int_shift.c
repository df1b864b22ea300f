/* int_shift.c — shifts and rotates (group 2: C0/C1/D0-D3) and the double shifts shld/shrd.
 * Counts are masked to 5 bits (6 with REX.W); a masked count of 0 changes no flag. Shifts keep
 * their flags lazy (FL_SHL/SHR/SAR); rotates touch only CF and OF, so they set them eagerly. */
#include "cpu/ops/int/int_impl.h"

static void shift_exec(struct cpu *c, const struct insn *i, unsigned size, unsigned count)
{
    unsigned kind = (i->modrm >> 3) & 7, bits = size * 8;
    uint64_t m = size_mask(size);
    unsigned n = count & (size == 8 ? 63 : 31);
    uint64_t d = rm_read(c, i, size), r;
    if (n == 0) {
        if (!(i->flags & INSN_MEM))
            rm_write(c, i, size, d); /* a 32-bit register is still zero-extended */
        return;
    }
    switch (kind) {
    case 0: /* rol */
    case 1: /* ror */ {
        unsigned e = n % bits;
        if (kind == 0)
            r = e ? ((d << e) | (d >> (bits - e))) & m : d;
        else
            r = e ? ((d >> e) | (d << (bits - e))) & m : d;
        rm_write(c, i, size, r);
        uint64_t msb = (r >> (bits - 1)) & 1, cf, of;
        if (kind == 0)
            cf = r & 1, of = msb ^ cf;
        else
            cf = msb, of = msb ^ ((r >> (bits - 2)) & 1);
        int_set_flags(c, F_CF | F_OF, (cf ? F_CF : 0) | (of ? F_OF : 0));
        return;
    }
    case 2: /* rcl */
    case 3: /* rcr */ {
        unsigned e = n % (bits + 1);
        unsigned __int128 w = ((unsigned __int128)flags_cf(c) << bits) | d;
        unsigned __int128 wm = ((unsigned __int128)1 << (bits + 1)) - 1;
        if (e) {
            if (kind == 2)
                w = ((w << e) | (w >> (bits + 1 - e))) & wm;
            else
                w = ((w >> e) | (w << (bits + 1 - e))) & wm;
        }
        r = (uint64_t)w & m;
        rm_write(c, i, size, r);
        uint64_t cf = (uint64_t)(w >> bits) & 1, msb = (r >> (bits - 1)) & 1, of;
        if (kind == 2)
            of = msb ^ cf;
        else
            of = msb ^ ((r >> (bits - 2)) & 1);
        int_set_flags(c, F_CF | F_OF, (cf ? F_CF : 0) | (of ? F_OF : 0));
        return;
    }
    case 4: /* shl */
    case 6: /* sal */
        r = n < 64 ? (d << n) & m : 0;
        rm_write(c, i, size, r);
        int_lf(c, FL_SHL, size, r, d, n);
        return;
    case 5: /* shr */
        r = d >> n;
        rm_write(c, i, size, r);
        int_lf(c, FL_SHR, size, r, d, n);
        return;
    default: /* sar */
        r = ((uint64_t)((int64_t)int_sext(d, size) >> n)) & m;
        rm_write(c, i, size, r);
        int_lf(c, FL_SAR, size, r, d, n);
        return;
    }
}

/* C0/C1: count imm8 */
static void shift_imm(struct cpu *c, const struct insn *i)
{
    shift_exec(c, i, int_size(i, i->op == 0xc0), (unsigned)i->imm & 0xff);
}

/* D0/D1: count 1 */
static void shift_one(struct cpu *c, const struct insn *i)
{
    shift_exec(c, i, int_size(i, i->op == 0xd0), 1);
}

/* D2/D3: count CL */
static void shift_cl(struct cpu *c, const struct insn *i)
{
    shift_exec(c, i, int_size(i, i->op == 0xd2), (unsigned)c->gpr[R_RCX] & 0xff);
}

/* 0F A4/A5 shld, 0F AC/AD shrd: r/m, reg, imm8/CL. Counts above the operand size (16-bit
 * forms only) leave result and flags undefined; this computes them modulo 32 bits. */
static void shxd(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, bits = size * 8;
    unsigned cnt = (i->op & 1) ? (unsigned)c->gpr[R_RCX] : (unsigned)i->imm;
    unsigned n = cnt & (size == 8 ? 63 : 31);
    bool left = (i->op & 0xff) < 0xa8;
    uint64_t m = size_mask(size), d = rm_read(c, i, size), s = reg_read(c, i, i->reg, size), r;
    if (n == 0) {
        if (!(i->flags & INSN_MEM)) rm_write(c, i, size, d);
        return;
    }
    if (size == 2) {
        /* 16-bit: shift the 32-bit d:s (or s:d) pair so counts 17..31 stay defined here */
        uint64_t w = d << 32 | s << 16 | d;
        r = left ? (w << n) >> 32 : (w >> n);
        r &= m;
    } else if (left) {
        r = ((d << n) | (s >> (bits - n))) & m;
    } else {
        r = ((d >> n) | (s << (bits - n))) & m;
    }
    rm_write(c, i, size, r);
    uint64_t cf, of = ((r ^ d) >> (bits - 1)) & 1;
    if (left)
        cf = n <= bits ? (d >> (bits - n)) & 1 : 0;
    else
        cf = (d >> (n - 1)) & 1;
    int_set_flags(c, F_ARITH, int_szp(r, size) | (cf ? F_CF : 0) | (of ? F_OF : 0));
}

insn_fn int_shift_lookup(const struct insn *i)
{
    switch (i->op) {
    case 0xc0:
    case 0xc1: return shift_imm;
    case 0xd0:
    case 0xd1: return shift_one;
    case 0xd2:
    case 0xd3: return shift_cl;
    case 0x1a4:
    case 0x1a5:
    case 0x1ac:
    case 0x1ad: return shxd;
    }
    return NULL;
}
