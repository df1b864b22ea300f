/* sse_cvt.c — conversions that cross register files: cvtsi2ss/sd (general register or memory
 * integer to scalar float), cvt[t]ss2si / cvt[t]sd2si (scalar float to general register, with
 * the integer-indefinite value on overflow), and the MMX-sourced or MMX-destined cvtpi2ps,
 * cvtpi2pd, cvt[t]ps2pi, cvt[t]pd2pi. The host converts under the guest's MXCSR; the MMX forms
 * run the equivalent XMM conversion on the low lanes (zero lanes raise no flags).
 */
#include "cpu/ops/sse/sse_common.h"

SSE_HOST_SI2F(si2ss32, "cvtsi2ssl", uint32_t)
SSE_HOST_SI2F(si2ss64, "cvtsi2ssq", uint64_t)
SSE_HOST_SI2F(si2sd32, "cvtsi2sdl", uint32_t)
SSE_HOST_SI2F(si2sd64, "cvtsi2sdq", uint64_t)

SSE_HOST_F2SI(ss2si32, "cvtss2si", uint32_t)
SSE_HOST_F2SI(ss2si64, "cvtss2si", uint64_t)
SSE_HOST_F2SI(tss2si32, "cvttss2si", uint32_t)
SSE_HOST_F2SI(tss2si64, "cvttss2si", uint64_t)
SSE_HOST_F2SI(sd2si32, "cvtsd2si", uint32_t)
SSE_HOST_F2SI(sd2si64, "cvtsd2si", uint64_t)
SSE_HOST_F2SI(tsd2si32, "cvttsd2si", uint32_t)
SSE_HOST_F2SI(tsd2si64, "cvttsd2si", uint64_t)

/* XMM-to-XMM conversions the MMX forms borrow */
SSE_HOST_FP(hf_cvtdq2ps, "cvtdq2ps")
SSE_HOST_FP(hf_cvtdq2pd, "cvtdq2pd")
SSE_HOST_FP(hf_cvtps2dq, "cvtps2dq")
SSE_HOST_FP(hf_cvttps2dq, "cvttps2dq")
SSE_HOST_FP(hf_cvtpd2dq, "cvtpd2dq")
SSE_HOST_FP(hf_cvttpd2dq, "cvttpd2dq")

static bool rexw(const struct insn *i)
{
    return i->flags & INSN_REXW;
}

static void h_cvtsi2ss(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint64_t v = rm_read(c, i, rexw(i) ? 8 : 4);
    union xmm d = c->xmm[i->reg];
    uint32_t mx = sse_mx_in(c);
    mx = rexw(i) ? si2ss64(&d, v, mx) : si2ss32(&d, (uint32_t)v, mx);
    sse_mx_commit(c, mx);
    c->xmm[i->reg] = d;
}

static void h_cvtsi2sd(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint64_t v = rm_read(c, i, rexw(i) ? 8 : 4);
    union xmm d = c->xmm[i->reg];
    uint32_t mx = sse_mx_in(c);
    mx = rexw(i) ? si2sd64(&d, v, mx) : si2sd32(&d, (uint32_t)v, mx);
    sse_mx_commit(c, mx);
    c->xmm[i->reg] = d;
}

typedef uint32_t (*f2si32_fn)(const union xmm *s, uint32_t *out, uint32_t mx);
typedef uint32_t (*f2si64_fn)(const union xmm *s, uint64_t *out, uint32_t mx);

static inline __attribute__((always_inline)) void f2si(struct cpu *c, const struct insn *i,
                                                       unsigned n, f2si32_fn f32, f2si64_fn f64)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, n, false);
    uint32_t mx = sse_mx_in(c);
    if (rexw(i)) {
        uint64_t r;
        mx = f64(&s, &r, mx);
        sse_mx_commit(c, mx);
        c->gpr[i->reg] = r;
    } else {
        uint32_t r;
        mx = f32(&s, &r, mx);
        sse_mx_commit(c, mx);
        c->gpr[i->reg] = r;
    }
}

static void h_cvtss2si(struct cpu *c, const struct insn *i)
{
    f2si(c, i, 4, ss2si32, ss2si64);
}
static void h_cvttss2si(struct cpu *c, const struct insn *i)
{
    f2si(c, i, 4, tss2si32, tss2si64);
}
static void h_cvtsd2si(struct cpu *c, const struct insn *i)
{
    f2si(c, i, 8, sd2si32, sd2si64);
}
static void h_cvttsd2si(struct cpu *c, const struct insn *i)
{
    f2si(c, i, 8, tsd2si32, tsd2si64);
}

/* cvtpi2ps xmm, mm/m64: low two lanes converted (rounded), high half kept */
static void h_cvtpi2ps(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    bool mm = !(i->flags & INSN_MEM);
    if (mm) mmx_check(c);
    union xmm t = {.q = {mmx_src(c, i, 8), 0}};
    uint32_t mx = hf_cvtdq2ps(&t, &t, sse_mx_in(c));
    if (mm) mmx_mode(c); /* the transition happens even if the conversion faults */
    sse_mx_commit(c, mx);
    c->xmm[i->reg].q[0] = t.q[0];
}

/* cvtpi2pd xmm, mm/m64: exact */
static void h_cvtpi2pd(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    bool mm = !(i->flags & INSN_MEM);
    if (mm) mmx_check(c);
    union xmm t = {.q = {mmx_src(c, i, 8), 0}};
    hf_cvtdq2pd(&t, &t, sse_mx_in(c));
    if (mm) mmx_mode(c);
    c->xmm[i->reg] = t;
}

typedef uint32_t (*xmm_fp_fn)(union xmm *d, const union xmm *s, uint32_t mx);

/* cvt[t]ps2pi mm, xmm/m64 and cvt[t]pd2pi mm, xmm/m128 */
static inline __attribute__((always_inline)) void to_pi(struct cpu *c, const struct insn *i,
                                                        unsigned n, xmm_fp_fn fn)
{
    sse_avail(c);
    mmx_check(c);
    union xmm s, t = {{0}};
    sse_src(c, i, &s, n, n == 16);
    if (n == 8) s.q[1] = 0;
    uint32_t mx = fn(&t, &s, sse_mx_in(c));
    mmx_mode(c); /* the transition happens even if the conversion faults */
    sse_mx_commit(c, mx);
    mm_set(c, i->reg, t.q[0]);
}

static void h_cvtps2pi(struct cpu *c, const struct insn *i)
{
    to_pi(c, i, 8, hf_cvtps2dq);
}
static void h_cvttps2pi(struct cpu *c, const struct insn *i)
{
    to_pi(c, i, 8, hf_cvttps2dq);
}
static void h_cvtpd2pi(struct cpu *c, const struct insn *i)
{
    to_pi(c, i, 16, hf_cvtpd2dq);
}
static void h_cvttpd2pi(struct cpu *c, const struct insn *i)
{
    to_pi(c, i, 16, hf_cvttpd2dq);
}

const struct sse_form sse_cvt_forms[] = {
    {0x12a, MP_NONE, SF_ANY, SF_MOD_ANY, h_cvtpi2ps},
    {0x12a, MP_66, SF_ANY, SF_MOD_ANY, h_cvtpi2pd},
    {0x12a, MP_F3, SF_ANY, SF_MOD_ANY, h_cvtsi2ss},
    {0x12a, MP_F2, SF_ANY, SF_MOD_ANY, h_cvtsi2sd},
    {0x12c, MP_NONE, SF_ANY, SF_MOD_ANY, h_cvttps2pi},
    {0x12c, MP_66, SF_ANY, SF_MOD_ANY, h_cvttpd2pi},
    {0x12c, MP_F3, SF_ANY, SF_MOD_ANY, h_cvttss2si},
    {0x12c, MP_F2, SF_ANY, SF_MOD_ANY, h_cvttsd2si},
    {0x12d, MP_NONE, SF_ANY, SF_MOD_ANY, h_cvtps2pi},
    {0x12d, MP_66, SF_ANY, SF_MOD_ANY, h_cvtpd2pi},
    {0x12d, MP_F3, SF_ANY, SF_MOD_ANY, h_cvtss2si},
    {0x12d, MP_F2, SF_ANY, SF_MOD_ANY, h_cvtsd2si},
};
const unsigned sse_cvt_forms_count = sizeof sse_cvt_forms / sizeof sse_cvt_forms[0];
