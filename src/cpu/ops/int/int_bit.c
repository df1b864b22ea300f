/* int_bit.c — bit instructions: bt/bts/btr/btc (register and imm8 offsets), bsf/bsr,
 * tzcnt/lzcnt (F3 0F BC/BD), popcnt (F3 0F B8) and bswap. A register bit offset on a memory
 * operand addresses bits outside the operand (signed, in operand-size units); an imm8 offset
 * is taken modulo the operand size. */
#include "cpu/ops/int/int_impl.h"

static bool has_f3(const struct insn *i)
{
    return (i->flags & INSN_REP) || i->mp == MP_F3;
}

/* kind: 0 bt, 1 bts, 2 btr, 3 btc */
static void bt_exec(struct cpu *c, const struct insn *i, unsigned kind, uint64_t off, bool reg_off)
{
    unsigned size = i->opsize, bits = size * 8;
    uint64_t v, bit;
    if (i->flags & INSN_MEM) {
        uint64_t ea = insn_ea(c, i);
        if (reg_off) {
            int64_t so = (int64_t)int_sext(off, size);
            int64_t unit = so >> (size == 8 ? 6 : size == 4 ? 5 : 4); /* floor division */
            ea += (uint64_t)(unit * (int64_t)size);
            ea &= size_mask(i->addrsize);
        }
        bit = off & (bits - 1);
        v = mem_read_n(c, i->seg, ea, size);
        uint64_t cf = (v >> bit) & 1, nv = v;
        if (kind == 1)
            nv = v | (1ull << bit);
        else if (kind == 2)
            nv = v & ~(1ull << bit);
        else if (kind == 3)
            nv = v ^ (1ull << bit);
        if (kind) mem_write_n(c, i->seg, ea, nv, size);
        int_set_flags(c, F_CF, cf ? F_CF : 0);
        return;
    }
    bit = off & (bits - 1);
    v = reg_read(c, i, i->rm, size);
    uint64_t cf = (v >> bit) & 1;
    if (kind == 1)
        v |= 1ull << bit;
    else if (kind == 2)
        v &= ~(1ull << bit);
    else if (kind == 3)
        v ^= 1ull << bit;
    if (kind) reg_write(c, i, i->rm, size, v);
    int_set_flags(c, F_CF, cf ? F_CF : 0);
}

/* 0F A3/AB/B3/BB: bt* r/m, reg */
static void bt_rm_r(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    unsigned kind = ((i->op & 0xff) - 0xa3) >> 3;
    bt_exec(c, i, kind, reg_read(c, i, i->reg, i->opsize), true);
}

/* 0F BA /4-/7: bt* r/m, imm8 */
static void bt_rm_imm(struct cpu *c, const struct insn *i)
{
    INT_LOCKED(c, i);
    bt_exec(c, i, ((i->modrm >> 3) & 7) - 4, i->imm & 0xff, false);
}

/* 0F BC/BD: bsf/bsr. A zero source sets ZF and leaves the destination unchanged. */
static void bsf_bsr(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t s = rm_read(c, i, size);
    if (s == 0) {
        int_set_flags(c, F_ZF, F_ZF);
        return;
    }
    unsigned r = (i->op & 1) ? 63 - __builtin_clzll(s) : __builtin_ctzll(s);
    reg_write(c, i, i->reg, size, r);
    int_set_flags(c, F_ZF, 0);
}

/* F3 0F BC/BD: tzcnt/lzcnt */
static void tzcnt_lzcnt(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, bits = size * 8;
    uint64_t s = rm_read(c, i, size), r;
    if (s == 0)
        r = bits;
    else if (i->op & 1)
        r = __builtin_clzll(s) - (64 - bits);
    else
        r = __builtin_ctzll(s);
    reg_write(c, i, i->reg, size, r);
    int_set_flags(c, F_CF | F_ZF, (s == 0 ? F_CF : 0) | (r == 0 ? F_ZF : 0));
}

/* F3 0F B8: popcnt */
static void popcnt(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t s = rm_read(c, i, size);
    reg_write(c, i, i->reg, size, __builtin_popcountll(s));
    int_set_flags(c, F_ARITH, s == 0 ? F_ZF : 0);
}

/* 0F C8-CF: bswap (the 16-bit form is undefined; it clears the low word like hardware does) */
static void bswap(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t v = c->gpr[i->reg];
    if (size == 8)
        c->gpr[i->reg] = __builtin_bswap64(v);
    else if (size == 4)
        c->gpr[i->reg] = __builtin_bswap32((uint32_t)v);
    else
        c->gpr[i->reg] = v & ~0xffffull;
}

insn_fn int_bit_lookup(const struct insn *i)
{
    switch (i->op) {
    case 0x1a3:
    case 0x1ab:
    case 0x1b3:
    case 0x1bb: return bt_rm_r;
    case 0x1ba: return ((i->modrm >> 3) & 7) >= 4 ? bt_rm_imm : NULL;
    case 0x1bc:
    case 0x1bd: return has_f3(i) ? tzcnt_lzcnt : bsf_bsr;
    case 0x1b8: return has_f3(i) ? popcnt : NULL;
    }
    if (i->op >= 0x1c8 && i->op <= 0x1cf) return bswap;
    return NULL;
}
