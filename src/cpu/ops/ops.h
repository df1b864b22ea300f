/* ops.h — the instruction families' one entry point: which handler runs a decoded instruction.
 * Each family answers for its own slice of the opcode space and returns NULL for the rest; an
 * instruction no family claims is #UD. Lookups run when a block is built (and when CPUID probes
 * a feature), never per execution. tests/cpu/test_claims.c checks that exactly one family claims
 * every decodable form.
 */
#pragma once
#include "cpu/core.h"

insn_fn exec_lookup(const struct insn *i); /* NULL: the engine raises #UD */
insn_fn int_lookup(const struct insn *i);  /* integer families */
insn_fn sse_lookup(const struct insn *i);  /* SSE/SSE2/SSSE3, MMX, fxsave/fxrstor, mxcsr */
insn_fn x87_lookup(const struct insn *i);  /* D8..DF */
insn_fn sys_lookup(const struct insn *i);  /* privileged, segments, I/O, far transfers, cpuid */
insn_fn avx_lookup(const struct insn *i);  /* VEX: AVX, AVX2, FMA, F16C */
/* The handler of undecodable and unclaimed instructions: #UD. */
void exec_ud(struct cpu *c, const struct insn *i);
