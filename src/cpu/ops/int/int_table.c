/* int_table.c — the integer families' entry in exec_lookup: route an opcode to the family
 * that owns it (see int_impl.h), and refuse LOCK where the architecture does (#UD: only
 * read-modify-write instructions with a memory destination may be locked). Called when a
 * block is built, not per execution. */
#include "cpu/ops/int/int_impl.h"

static bool lock_ok(const struct insn *i)
{
    unsigned op = i->op, sub = (i->modrm >> 3) & 7;
    if (!(i->flags & INSN_MEM)) return false;
    if (op < 0x40) return (op & 7) <= 1 && (op >> 3) != 7; /* op r/m, reg; not cmp */
    switch (op) {
    case 0x80:
    case 0x81:
    case 0x83: return sub != 7;
    case 0x86:
    case 0x87: return true;
    case 0xf6:
    case 0xf7: return sub == 2 || sub == 3;
    case 0xfe:
    case 0xff: return sub <= 1;
    case 0x1ab:
    case 0x1b3:
    case 0x1bb:
    case 0x1b0:
    case 0x1b1:
    case 0x1c0:
    case 0x1c1: return true;
    case 0x1ba: return sub >= 5;
    case 0x1c7: return sub == 1;
    }
    return false;
}

insn_fn int_lookup(const struct insn *i)
{
    insn_fn f;
    if ((f = int_alu_lookup(i)) || (f = int_move_lookup(i)) || (f = int_flow_lookup(i)) ||
        (f = int_shift_lookup(i)) || (f = int_muldiv_lookup(i)) || (f = int_bit_lookup(i)) ||
        (f = int_string_lookup(i))) {
        if ((i->flags & INSN_LOCK) && !lock_ok(i)) return NULL;
        return f;
    }
    return NULL;
}
