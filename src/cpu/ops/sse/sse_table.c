/* sse_table.c — sse_lookup(): the SSE / SSE2 / SSE3 / SSSE3 (+ some SSE4.1) and MMX opcode
 * space and the XSAVE feature set, answered from the form tables each family file exports
 * (sse_common.h). Lookups happen when a block is built, not per executed instruction.
 */
#include "cpu/ops/sse/sse_common.h"

static const struct {
    const struct sse_form *forms;
    const unsigned *count;
} sse_tables[] = {
    {sse_int_forms, &sse_int_forms_count},       {sse_fp_forms, &sse_fp_forms_count},
    {sse_move_forms, &sse_move_forms_count},     {sse_shuf_forms, &sse_shuf_forms_count},
    {sse_cvt_forms, &sse_cvt_forms_count},       {sse_fx_forms, &sse_fx_forms_count},
    {sse_approx_forms, &sse_approx_forms_count}, {sse_xsave_forms, &sse_xsave_forms_count},
    {sse_sse4_forms, &sse_sse4_forms_count},
};

insn_fn sse_lookup(const struct insn *i)
{
    if (i->op == 0x101) return sse_xcr_lookup(i);
    insn_fn f = sse_crypto_lookup(i);
    if (f) return f;
    for (unsigned t = 0; t < sizeof sse_tables / sizeof sse_tables[0]; t++)
        for (unsigned k = 0; k < *sse_tables[t].count; k++)
            if (sse_form_match(&sse_tables[t].forms[k], i)) return sse_tables[t].forms[k].fn;
    return NULL;
}
