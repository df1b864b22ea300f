/* int_table.c — placeholder until the int family lands: claims no opcode. */
#include "core.h"

insn_fn int_lookup(const struct insn *i)
{
    (void)i;
    return NULL;
}
