/* sse_table.c — placeholder until the sse family lands: claims no opcode. */
#include "core.h"

insn_fn sse_lookup(const struct insn *i)
{
    (void)i;
    return NULL;
}
