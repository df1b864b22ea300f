/* int_impl.h — shared vocabulary of the integer families (int_*.c): operand sizes, lazy-flag
 * recording, and each family's lookup function that int_table.c dispatches to. */
#pragma once
#include "cpu/ops/ops.h"

/* Operand size of a byte/word/dword/qword opcode pair: the even opcode of the pair is the byte
 * form. Non-byte sizes come from the decoder (66 / REX.W already applied). */
static inline unsigned int_size(const struct insn *i, bool byte)
{
    return byte ? 1 : i->opsize;
}

/* Stack operand size in 64-bit mode: 8, or 2 with a 66 prefix. */
static inline unsigned int_stack_size(const struct insn *i)
{
    return (i->flags & INSN_OPSZ) ? 2 : 8;
}

static inline uint64_t int_sext(uint64_t v, unsigned size)
{
    unsigned sh = 64 - size * 8;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* Record a lazy flags result; every value must already be masked to `size`. */
static inline void int_lf(struct cpu *c, unsigned op, unsigned size, uint64_t res, uint64_t s1,
                          uint64_t s2)
{
    c->lf.op = op;
    c->lf.size = size;
    c->lf.res = res;
    c->lf.src1 = s1;
    c->lf.src2 = s2;
}

/* Materialise the flags, then replace the bits in `mask` with `bits`. */
static inline void int_set_flags(struct cpu *c, uint64_t mask, uint64_t bits)
{
    if ((mask & F_ARITH) == F_ARITH) { /* nothing of the pending flags survives */
        c->rflags = (c->rflags & ~mask) | (bits & mask);
        c->lf.op = FL_NONE;
        return;
    }
    uint64_t f = flags_read(c);
    c->rflags = (f & ~mask) | (bits & mask);
}

/* ZF/SF/PF of a result (for handlers that set flags eagerly). */
static inline uint64_t int_szp(uint64_t res, unsigned size)
{
    uint64_t f = 0;
    res &= size_mask(size);
    if (res == 0) f |= F_ZF;
    if (res >> (size * 8 - 1)) f |= F_SF;
    if (!__builtin_parity((unsigned)(res & 0xff))) f |= F_PF;
    return f;
}

/* ALU operation number (the /r of group 1 and bits 5:3 of opcodes 00-3F). */
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };
/* dst op src at `size`, recording flags; returns the result (not written anywhere). */
uint64_t int_alu(struct cpu *c, unsigned alu, unsigned size, uint64_t dst, uint64_t src);

/* Expand M(cc) for the 16 condition codes (per-condition handlers fold int_cond). */
#define INT_CC16(M)                                                                                \
    M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)

/* Family lookups: a handler for the instruction, or NULL if the family does not own it. */
insn_fn int_alu_lookup(const struct insn *i);
insn_fn int_shift_lookup(const struct insn *i);
insn_fn int_muldiv_lookup(const struct insn *i);
insn_fn int_bit_lookup(const struct insn *i);
insn_fn int_move_lookup(const struct insn *i);
insn_fn int_flow_lookup(const struct insn *i);
insn_fn int_string_lookup(const struct insn *i);
insn_fn int_ext_lookup(const struct insn *i);
insn_fn int_bmi_lookup(const struct insn *i); /* VEX: BMI1/BMI2 */
/* Outside 64-bit mode: the 16/32-bit-only opcodes and the stack and near-branch handlers. */
insn_fn int_legacy_lookup(const struct insn *i);

/* CF without a call for the common producers (the hot path of adc/sbb/inc/dec). */
static inline unsigned int_cf(struct cpu *c)
{
    const struct lazy_flags *lf = &c->lf;
    switch (lf->op) {
    case FL_NONE: return c->rflags & F_CF;
    case FL_LOGIC: return 0;
    case FL_ADD: return lf->res < lf->src1;
    case FL_SUB: return lf->src1 < lf->src2;
    case FL_INC:
    case FL_DEC: return lf->cf_in;
    default: return flags_cf(c);
    }
}

/* Condition cc with the usual producers (cmp/sub, test/logic, inc/dec, already-materialised
 * flags) decided inline; the rest go to cond_test(). With a constant cc this folds to a few
 * instructions. */
static inline bool int_cond(struct cpu *c, unsigned cc)
{
    const struct lazy_flags *lf = &c->lf;
    bool r;
    if (lf->op == FL_SUB) {
        uint64_t a = lf->src1, b = lf->src2, sb = 1ull << (lf->size * 8 - 1);
        switch (cc >> 1) {
        case 1: r = a < b; break;
        case 2: r = a == b; break;
        case 3: r = a <= b; break;
        case 4: r = (lf->res & sb) != 0; break;
        case 6: r = (a ^ sb) < (b ^ sb); break;  /* signed a < b */
        case 7: r = (a ^ sb) <= (b ^ sb); break; /* signed a <= b */
        default: return cond_test(c, cc);
        }
        return r ^ (cc & 1);
    }
    if (lf->op == FL_LOGIC) {
        uint64_t sb = 1ull << (lf->size * 8 - 1);
        switch (cc >> 1) {
        case 0:
        case 1: r = false; break;
        case 2:
        case 3: r = lf->res == 0; break;
        case 4:
        case 6: r = (lf->res & sb) != 0; break;
        case 7: r = lf->res == 0 || (lf->res & sb) != 0; break;
        default: return cond_test(c, cc);
        }
        return r ^ (cc & 1);
    }
    if ((lf->op == FL_DEC || lf->op == FL_INC) && (cc >> 1) == 2) return (lf->res == 0) ^ (cc & 1);
    return cond_test(c, cc);
}
/* Locked forms (int_lock.c): run a LOCK-prefixed read-modify-write or an xchg with memory
 * with host atomics on guest RAM. The plain handlers hand such instructions over at their
 * start, so LOCK never changes which handler the lookup finds (tests/cpu/test_claims.c). */
void int_lock_exec(struct cpu *c, const struct insn *i);
#define INT_LOCKED(c, i)                                                                           \
    do {                                                                                           \
        if (__builtin_expect(((i)->flags & INSN_LOCK) != 0, 0)) {                                  \
            int_lock_exec(c, i);                                                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)
