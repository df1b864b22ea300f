/* int_table.c — the integer families' entry in exec_lookup: route an opcode to the family
 * that owns it (see int_impl.h). Whether LOCK is legal is the decoder's call (DA_LOCK in
 * decode_tables.c): a LOCK this lookup sees is always on a lockable form. Called when a block
 * is built, not per execution. */
#include "cpu/ops/int/int_impl.h"

insn_fn int_lookup(const struct insn *i)
{
    insn_fn f;
    if (i->flags & INSN_VEX) return int_bmi_lookup(i);
    if (i->mode != MODE_LONG64 && (f = int_legacy_lookup(i))) return f;
    if ((f = int_alu_lookup(i)) || (f = int_move_lookup(i)) || (f = int_flow_lookup(i)) ||
        (f = int_shift_lookup(i)) || (f = int_muldiv_lookup(i)) || (f = int_bit_lookup(i)) ||
        (f = int_string_lookup(i)) || (f = int_ext_lookup(i)))
        return f;
    return NULL;
}
