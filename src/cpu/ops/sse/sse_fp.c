/* sse_fp.c — SSE/SSE2/SSE3 floating-point arithmetic, the packed/scalar conversions between
 * XMM registers, compares (cmpps/ss/pd/sd and [u]comiss/sd). The host runs each instruction
 * under the guest's rounding mode, DAZ and FTZ with every exception masked; the flags it
 * raises are then checked against the guest's masks (sse_mx_commit), so results, NaN
 * propagation and exception flags are the hardware's own. The approximations (rcp, rsqrt) are
 * not here: their bits differ between vendors, so sse_approx.c computes them by vessel's rule.
 */
#include "cpu/ops/sse/sse_common.h"

/* name, mnemonic, opcode, mandatory prefix, memory bytes, 16-byte aligned */
#define FP_OPS(X)                                                                                  \
    X(sqrtps, "sqrtps", 0x151, MP_NONE, 16, 1)                                                     \
    X(sqrtss, "sqrtss", 0x151, MP_F3, 4, 0)                                                        \
    X(sqrtpd, "sqrtpd", 0x151, MP_66, 16, 1)                                                       \
    X(sqrtsd, "sqrtsd", 0x151, MP_F2, 8, 0)                                                        \
    X(addps, "addps", 0x158, MP_NONE, 16, 1)                                                       \
    X(addss, "addss", 0x158, MP_F3, 4, 0)                                                          \
    X(addpd, "addpd", 0x158, MP_66, 16, 1)                                                         \
    X(addsd, "addsd", 0x158, MP_F2, 8, 0)                                                          \
    X(mulps, "mulps", 0x159, MP_NONE, 16, 1)                                                       \
    X(mulss, "mulss", 0x159, MP_F3, 4, 0)                                                          \
    X(mulpd, "mulpd", 0x159, MP_66, 16, 1)                                                         \
    X(mulsd, "mulsd", 0x159, MP_F2, 8, 0)                                                          \
    X(cvtps2pd, "cvtps2pd", 0x15a, MP_NONE, 8, 0)                                                  \
    X(cvtpd2ps, "cvtpd2ps", 0x15a, MP_66, 16, 1)                                                   \
    X(cvtss2sd, "cvtss2sd", 0x15a, MP_F3, 4, 0)                                                    \
    X(cvtsd2ss, "cvtsd2ss", 0x15a, MP_F2, 8, 0)                                                    \
    X(cvtdq2ps, "cvtdq2ps", 0x15b, MP_NONE, 16, 1)                                                 \
    X(cvtps2dq, "cvtps2dq", 0x15b, MP_66, 16, 1)                                                   \
    X(cvttps2dq, "cvttps2dq", 0x15b, MP_F3, 16, 1)                                                 \
    X(subps, "subps", 0x15c, MP_NONE, 16, 1)                                                       \
    X(subss, "subss", 0x15c, MP_F3, 4, 0)                                                          \
    X(subpd, "subpd", 0x15c, MP_66, 16, 1)                                                         \
    X(subsd, "subsd", 0x15c, MP_F2, 8, 0)                                                          \
    X(minps, "minps", 0x15d, MP_NONE, 16, 1)                                                       \
    X(minss, "minss", 0x15d, MP_F3, 4, 0)                                                          \
    X(minpd, "minpd", 0x15d, MP_66, 16, 1)                                                         \
    X(minsd, "minsd", 0x15d, MP_F2, 8, 0)                                                          \
    X(divps, "divps", 0x15e, MP_NONE, 16, 1)                                                       \
    X(divss, "divss", 0x15e, MP_F3, 4, 0)                                                          \
    X(divpd, "divpd", 0x15e, MP_66, 16, 1)                                                         \
    X(divsd, "divsd", 0x15e, MP_F2, 8, 0)                                                          \
    X(maxps, "maxps", 0x15f, MP_NONE, 16, 1)                                                       \
    X(maxss, "maxss", 0x15f, MP_F3, 4, 0)                                                          \
    X(maxpd, "maxpd", 0x15f, MP_66, 16, 1)                                                         \
    X(maxsd, "maxsd", 0x15f, MP_F2, 8, 0)                                                          \
    X(haddpd, "haddpd", 0x17c, MP_66, 16, 1)                                                       \
    X(haddps, "haddps", 0x17c, MP_F2, 16, 1)                                                       \
    X(hsubpd, "hsubpd", 0x17d, MP_66, 16, 1)                                                       \
    X(hsubps, "hsubps", 0x17d, MP_F2, 16, 1)                                                       \
    X(addsubpd, "addsubpd", 0x1d0, MP_66, 16, 1)                                                   \
    X(addsubps, "addsubps", 0x1d0, MP_F2, 16, 1)                                                   \
    X(cvttpd2dq, "cvttpd2dq", 0x1e6, MP_66, 16, 1)                                                 \
    X(cvtdq2pd, "cvtdq2pd", 0x1e6, MP_F3, 8, 0)                                                    \
    X(cvtpd2dq, "cvtpd2dq", 0x1e6, MP_F2, 16, 1)

typedef uint32_t (*sse_fp_fn)(union xmm *d, const union xmm *s, uint32_t mx);

static inline __attribute__((always_inline)) void fp_run(struct cpu *c, const struct insn *i,
                                                         sse_fp_fn fn, unsigned n, bool align)
{
    sse_avail(c);
    union xmm s, d = c->xmm[i->reg];
    sse_src(c, i, &s, n, align);
    sse_mx_commit(c, fn(&d, &s, sse_mx_in(c)));
    c->xmm[i->reg] = d;
}

#define GEN_FP(name, mn, op, mp, n, align)                                                         \
    SSE_HOST_FP(hf_##name, mn)                                                                     \
    static void f_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        fp_run(c, i, hf_##name, n, align);                                                         \
    }
FP_OPS(GEN_FP)

/* ---- cmpps/ss/pd/sd: the predicate is imm8[2:0], one host encoding per predicate ---- */
#define CMP_CASE(mn, k)                                                                            \
    case k:                                                                                        \
        SSE_HOST_CMP(mn, k, a, b, mx, host);                                                       \
        break;

#define GEN_CMP(name, mn, mp, n, align)                                                            \
    static void f_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_avail(c);                                                                              \
        union xmm s;                                                                               \
        sse_src(c, i, &s, n, align);                                                               \
        sse_v2 a, b;                                                                               \
        uint32_t mx = sse_mx_in(c), host = 0;                                                      \
        memcpy(&a, &c->xmm[i->reg], 16);                                                           \
        memcpy(&b, &s, 16);                                                                        \
        switch (i->imm & 7) {                                                                      \
            CMP_CASE(mn, 0)                                                                        \
            CMP_CASE(mn, 1)                                                                        \
            CMP_CASE(mn, 2)                                                                        \
            CMP_CASE(mn, 3)                                                                        \
            CMP_CASE(mn, 4)                                                                        \
            CMP_CASE(mn, 5)                                                                        \
            CMP_CASE(mn, 6)                                                                        \
            CMP_CASE(mn, 7)                                                                        \
        }                                                                                          \
        sse_mx_commit(c, mx);                                                                      \
        memcpy(&c->xmm[i->reg], &a, 16);                                                           \
    }

#define CMP_OPS(X)                                                                                 \
    X(cmpps, "cmpps", MP_NONE, 16, 1)                                                              \
    X(cmpss, "cmpss", MP_F3, 4, 0)                                                                 \
    X(cmppd, "cmppd", MP_66, 16, 1)                                                                \
    X(cmpsd, "cmpsd", MP_F2, 8, 0)
CMP_OPS(GEN_CMP)

/* ---- [u]comiss / [u]comisd: ZF PF CF from the compare, OF SF AF cleared ---- */
#define GEN_COMI(name, mn, n)                                                                      \
    static void f_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_avail(c);                                                                              \
        union xmm s;                                                                               \
        sse_src(c, i, &s, n, false);                                                               \
        SSE_COMI(c, &c->xmm[i->reg], &s, mn);                                                      \
    }
GEN_COMI(ucomiss, "ucomiss", 4)
GEN_COMI(comiss, "comiss", 4)
GEN_COMI(ucomisd, "ucomisd", 8)
GEN_COMI(comisd, "comisd", 8)

#define ROW_FP(name, mn, op, mp, n, align) {op, mp, SF_ANY, SF_MOD_ANY, f_##name},
#define ROW_CMP(name, mn, mp, n, align)    {0x1c2, mp, SF_ANY, SF_MOD_ANY, f_##name},

const struct sse_form sse_fp_forms[] = {
    FP_OPS(ROW_FP) CMP_OPS(ROW_CMP){0x12e, MP_NONE, SF_ANY, SF_MOD_ANY, f_ucomiss},
    {0x12e, MP_66, SF_ANY, SF_MOD_ANY, f_ucomisd},
    {0x12f, MP_NONE, SF_ANY, SF_MOD_ANY, f_comiss},
    {0x12f, MP_66, SF_ANY, SF_MOD_ANY, f_comisd},
};
const unsigned sse_fp_forms_count = sizeof sse_fp_forms / sizeof sse_fp_forms[0];
