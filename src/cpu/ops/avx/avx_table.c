/* avx_table.c — avx_lookup(): the VEX-encoded vector instructions (AVX, AVX2, FMA, F16C and
 * the VEX forms of AES-NI and PCLMULQDQ), answered from the form tables of the family's files
 * (avx.h). A form is handed out only when the CPU model offers the extension it runs on
 * (cpuid_model_ext(): never more than the host has, and no more than the model, even where the
 * host has more): an integer instruction's 256-bit form needs AVX2 where its 128-bit form needs
 * AVX. Lookups happen when a block is built, not per executed instruction. */
#include "cpu/cpuid.h"
#include "cpu/ops/avx/avx.h"

static bool avx_host_has(unsigned feat, const struct insn *i)
{
    const bool l = avx_l(i);
    const unsigned e = cpuid_model_ext();
    if (!(e & HOST_AVX)) return false;
    switch (feat) {
    case AF_AVX: return true;
    case AF_AVXI: return !l || (e & HOST_AVX2);
    case AF_AVX2: return (e & HOST_AVX2) != 0;
    case AF_FMA: return (e & HOST_FMA) != 0;
    case AF_F16C: return (e & HOST_F16C) != 0;
    case AF_AES: return (e & HOST_AES) != 0;
    case AF_PCLMUL: return (e & HOST_PCLMUL) != 0;
    case AF_BCAST: return (i->flags & INSN_MEM) || (e & HOST_AVX2);
    default: return false;
    }
}

static const struct {
    const struct avx_form *forms;
    const unsigned *count;
} avx_tables[] = {
    {avx_ops_forms, &avx_ops_forms_count},
    {avx_move_forms, &avx_move_forms_count},
};

insn_fn avx_lookup(const struct insn *i)
{
    if (!(i->flags & INSN_VEX)) return NULL;
    const bool w = (i->flags & INSN_REXW) != 0;
    const unsigned digit = (i->modrm >> 3) & 7;
    for (unsigned t = 0; t < sizeof avx_tables / sizeof avx_tables[0]; t++)
        for (unsigned k = 0; k < *avx_tables[t].count; k++) {
            const struct avx_form *f = &avx_tables[t].forms[k];
            if (f->op != i->op || f->mp != i->mp) continue;
            if ((f->w == AW_0 && w) || (f->w == AW_1 && !w)) continue;
            if (f->digit != AVX_ANY_DIGIT && f->digit != digit) continue;
            return avx_host_has(f->feat, i) ? f->fn : NULL;
        }
    return NULL;
}
