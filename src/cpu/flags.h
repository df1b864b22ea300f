/* flags.h — lazy arithmetic flags. An ALU handler records (op, size, result, operands) instead
 * of computing six flag bits; flags_read() or cond_test() computes them only when something
 * looks. Owned by the integer family (flags.c); other families use only the functions below. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Which operation produced the pending flags. FL_NONE: rflags already holds them. */
enum flags_op {
    FL_NONE,
    FL_ADD,
    FL_ADC,
    FL_SUB,
    FL_SBB,
    FL_LOGIC,
    FL_INC,
    FL_DEC,
    FL_NEG,
    FL_SHL,
    FL_SHR,
    FL_SAR,
    FL_COUNT
};

struct lazy_flags {
    uint64_t res, src1, src2; /* result and the two inputs (dst, src) as the op defines */
    uint32_t op;              /* enum flags_op */
    uint32_t size;            /* operand size in bytes */
    uint32_t cf_in;           /* carry-in for ADC/SBB; preserved CF for INC/DEC */
};

struct cpu;

/* Full RFLAGS with the arithmetic bits materialised. */
uint64_t flags_read(struct cpu *c);
/* Set all of RFLAGS (arithmetic bits included); clears the pending lazy op. */
void flags_write(struct cpu *c, uint64_t rflags);
/* CF alone, without materialising the other flags (ADC/SBB/INC/DEC/RCL/RCR need it). */
bool flags_cf(struct cpu *c);
/* Condition code cc (0..15, as in Jcc/SETcc/CMOVcc) against the current flags. */
bool cond_test(struct cpu *c, unsigned cc);
