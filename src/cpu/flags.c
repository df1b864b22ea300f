/* flags.c — materialising the lazy arithmetic flags. Handlers record (op, size, res, src1,
 * src2, cf_in) in c->lf with every value already masked to the operand size; the six flag bits
 * are derived here only when flags_read() or cond_test() looks, so the common "cmp; jcc" pair
 * never builds an RFLAGS image. */
#include "cpu/core.h"

static inline uint64_t lf_sign(const struct lazy_flags *lf)
{
    return 1ull << (lf->size * 8 - 1);
}

static bool lf_cf(const struct lazy_flags *lf)
{
    unsigned bits = lf->size * 8;
    switch (lf->op) {
    case FL_ADD: return lf->res < lf->src1;
    case FL_ADC: return lf->cf_in ? lf->res <= lf->src1 : lf->res < lf->src1;
    case FL_SUB: return lf->src1 < lf->src2;
    case FL_SBB: return lf->cf_in ? lf->src1 <= lf->src2 : lf->src1 < lf->src2;
    case FL_NEG: return lf->src2 != 0;
    case FL_INC:
    case FL_DEC: return lf->cf_in;
    case FL_SHL: return lf->src2 <= bits ? (lf->src1 >> (bits - lf->src2)) & 1 : 0;
    case FL_SHR: return (lf->src1 >> (lf->src2 - 1)) & 1;
    case FL_SAR: {
        int64_t v = (int64_t)(lf->src1 << (64 - bits)) >> (64 - bits);
        unsigned n = lf->src2 - 1 > 63 ? 63 : lf->src2 - 1;
        return (v >> n) & 1;
    }
    default: return false;
    }
}

static bool lf_of(const struct lazy_flags *lf)
{
    uint64_t sb = lf_sign(lf);
    switch (lf->op) {
    case FL_ADD:
    case FL_ADC:
    case FL_INC: return ((lf->src1 ^ lf->res) & (lf->src2 ^ lf->res) & sb) != 0;
    case FL_SUB:
    case FL_SBB:
    case FL_DEC:
    case FL_NEG: return ((lf->src1 ^ lf->src2) & (lf->src1 ^ lf->res) & sb) != 0;
    case FL_SHL: return ((lf->res & sb) != 0) ^ lf_cf(lf);
    case FL_SHR: return (lf->src1 & sb) != 0;
    default: return false;
    }
}

static inline bool lf_af(const struct lazy_flags *lf)
{
    switch (lf->op) {
    case FL_ADD:
    case FL_ADC:
    case FL_SUB:
    case FL_SBB:
    case FL_INC:
    case FL_DEC:
    case FL_NEG: return ((lf->src1 ^ lf->src2 ^ lf->res) & 0x10) != 0;
    default: return false;
    }
}

uint64_t flags_read(struct cpu *c)
{
    const struct lazy_flags *lf = &c->lf;
    if (lf->op == FL_NONE) return c->rflags;
    uint64_t f = c->rflags & ~(uint64_t)F_ARITH;
    if (lf_cf(lf)) f |= F_CF;
    if (!__builtin_parity((unsigned)(lf->res & 0xff))) f |= F_PF;
    if (lf_af(lf)) f |= F_AF;
    if (lf->res == 0) f |= F_ZF;
    if (lf->res & lf_sign(lf)) f |= F_SF;
    if (lf_of(lf)) f |= F_OF;
    c->rflags = f;
    c->lf.op = FL_NONE;
    return f;
}

void flags_write(struct cpu *c, uint64_t rflags)
{
    c->rflags = rflags | 2;
    c->lf.op = FL_NONE;
}

bool flags_cf(struct cpu *c)
{
    return c->lf.op == FL_NONE ? (c->rflags & F_CF) != 0 : lf_cf(&c->lf);
}

bool cond_test(struct cpu *c, unsigned cc)
{
    const struct lazy_flags *lf = &c->lf;
    bool r;
    if (lf->op == FL_NONE) {
        uint64_t f = c->rflags;
        switch ((cc >> 1) & 7) {
        case 0: r = f & F_OF; break;
        case 1: r = f & F_CF; break;
        case 2: r = f & F_ZF; break;
        case 3: r = f & (F_CF | F_ZF); break;
        case 4: r = f & F_SF; break;
        case 5: r = f & F_PF; break;
        case 6: r = !(f & F_SF) != !(f & F_OF); break;
        default: r = (f & F_ZF) || (!(f & F_SF) != !(f & F_OF)); break;
        }
    } else {
        switch ((cc >> 1) & 7) {
        case 0: r = lf_of(lf); break;
        case 1: r = lf_cf(lf); break;
        case 2: r = lf->res == 0; break;
        case 3: r = lf->res == 0 || lf_cf(lf); break;
        case 4: r = (lf->res & lf_sign(lf)) != 0; break;
        case 5: r = !__builtin_parity((unsigned)(lf->res & 0xff)); break;
        case 6: r = ((lf->res & lf_sign(lf)) != 0) != lf_of(lf); break;
        default: r = lf->res == 0 || ((lf->res & lf_sign(lf)) != 0) != lf_of(lf); break;
        }
    }
    return r ^ (cc & 1);
}
