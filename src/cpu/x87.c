/* x87.c — placeholder until the x87 family lands: claims no opcode. */
#include "core.h"

insn_fn x87_lookup(const struct insn *i)
{
    (void)i;
    return NULL;
}
