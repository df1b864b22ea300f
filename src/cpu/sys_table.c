/* sys_table.c — placeholder until the sys family lands: claims no opcode. */
#include "core.h"

insn_fn sys_lookup(const struct insn *i)
{
    (void)i;
    return NULL;
}
