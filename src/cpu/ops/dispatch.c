/* dispatch.c — find the handler for a decoded instruction. Each family answers for its own
 * slice of the opcode space (see ops.h); an instruction no family claims is #UD. */
#include "cpu/ops/ops.h"

insn_fn exec_lookup(const struct insn *i)
{
    insn_fn f;
    if (i->flags & INSN_VEX) /* VEX opcodes live in maps of their own: BMI (int) and AVX */
        return (f = int_lookup(i)) ? f : avx_lookup(i);
    if ((f = int_lookup(i)) || (f = sse_lookup(i)) || (f = x87_lookup(i)) || (f = sys_lookup(i)))
        return f;
    return NULL;
}

void exec_ud(struct cpu *c, const struct insn *i)
{
    c->stats.ud++;
    cpu_fault(c, EXC_UD);
}
