/* int_impl.h — shared vocabulary of the integer families (int_*.c): operand sizes, lazy-flag
 * recording, and each family's lookup function that int_table.c dispatches to. */
#pragma once
#include "core.h"

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

/* Family lookups: a handler for the instruction, or NULL if the family does not own it. */
insn_fn int_alu_lookup(const struct insn *i);
insn_fn int_shift_lookup(const struct insn *i);
insn_fn int_muldiv_lookup(const struct insn *i);
insn_fn int_bit_lookup(const struct insn *i);
insn_fn int_move_lookup(const struct insn *i);
insn_fn int_flow_lookup(const struct insn *i);
insn_fn int_string_lookup(const struct insn *i);
