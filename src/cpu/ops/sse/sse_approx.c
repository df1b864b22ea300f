/* sse_approx.c — RCPPS/RCPSS and RSQRTPS/RSQRTSS by vessel's own rule, not the host's.
 *
 * The SDM defines these only up to an error bound (|relative error| <= 1.5 * 2^-12), and Intel's
 * and AMD's hardware tables give different bits, so running them on the host would make the
 * guest's results depend on the host (docs/CPU-MODEL.md). vessel's rule, the same everywhere:
 *   - the exact reciprocal (square root) of the input, rounded to nearest-even at 12
 *     significant bits (relative error <= 2^-12, inside the SDM's bound);
 *   - denormal inputs count as zero of the same sign, results smaller than the smallest normal
 *     are flushed to zero of the same sign (as the hardware does, whatever MXCSR says);
 *   - ±0 -> ±inf; +inf -> +0 (RCP: -inf -> -0); a NaN is returned quiet; RSQRT of a negative
 *     non-zero number is the default NaN (0xFFC00000);
 *   - MXCSR is neither read nor changed: these instructions raise no SIMD exception.
 * tests/cpu/approx.c checks the rule independently and that the host lies within the SDM's
 * bound of the exact value.
 */
#include <math.h>
#include <string.h>

#include "cpu/ops/sse/sse_common.h"

/* Round a positive finite double to 12 significant bits, nearest-even. */
static double approx_round12(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    const unsigned drop = 52 - 11; /* double fraction bits not kept */
    uint64_t half = 1ull << (drop - 1), rest = b & ((1ull << drop) - 1);
    b &= ~((1ull << drop) - 1);
    if (rest > half || (rest == half && (b >> drop) & 1)) b += 1ull << drop;
    memcpy(&v, &b, 8);
    return v;
}

static uint32_t approx_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static float approx_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* The finite positive result r (a double), flushed and converted; sign in bit 31 of `sign`. */
static uint32_t approx_result(double r, uint32_t sign)
{
    if (r < 0x1p-126) return sign;              /* below the smallest normal: ±0 */
    if (r >= 0x1p128) return sign | 0x7f800000; /* cannot happen for normal inputs; be safe */
    return sign | approx_bits((float)r);        /* exact: r has 12 significant bits */
}

uint32_t sse_rcp_approx(uint32_t x)
{
    uint32_t sign = x & 0x80000000u, mag = x & 0x7fffffffu;
    if (mag > 0x7f800000u) return x | 0x00400000u;    /* NaN: quieted */
    if (mag == 0x7f800000u) return sign;              /* ±inf -> ±0 */
    if (mag < 0x00800000u) return sign | 0x7f800000u; /* ±0 and denormals -> ±inf */
    return approx_result(approx_round12(1.0 / (double)approx_float(mag)), sign);
}

uint32_t sse_rsqrt_approx(uint32_t x)
{
    uint32_t sign = x & 0x80000000u, mag = x & 0x7fffffffu;
    if (mag > 0x7f800000u) return x | 0x00400000u;    /* NaN: quieted */
    if (mag < 0x00800000u) return sign | 0x7f800000u; /* ±0 and denormals -> ±inf */
    if (sign) return 0xffc00000u;                     /* negative: the default NaN */
    if (mag == 0x7f800000u) return 0;                 /* +inf -> +0 */
    return approx_result(approx_round12(1.0 / sqrt((double)approx_float(mag))), 0);
}

static void approx_run(struct cpu *c, const struct insn *i, uint32_t (*fn)(uint32_t), bool packed)
{
    sse_avail(c);
    union xmm s, d = c->xmm[i->reg];
    sse_src(c, i, &s, packed ? 16 : 4, packed);
    uint32_t host = host_mxcsr_save(); /* the double arithmetic below sets inexact */
    for (unsigned k = 0; k < (packed ? 4u : 1u); k++)
        d.d[k] = fn(s.d[k]);
    host_mxcsr_restore(host);
    c->xmm[i->reg] = d;
}

static void f_rcpps(struct cpu *c, const struct insn *i)
{
    approx_run(c, i, sse_rcp_approx, true);
}
static void f_rcpss(struct cpu *c, const struct insn *i)
{
    approx_run(c, i, sse_rcp_approx, false);
}
static void f_rsqrtps(struct cpu *c, const struct insn *i)
{
    approx_run(c, i, sse_rsqrt_approx, true);
}
static void f_rsqrtss(struct cpu *c, const struct insn *i)
{
    approx_run(c, i, sse_rsqrt_approx, false);
}

const struct sse_form sse_approx_forms[] = {
    {0x152, MP_NONE, SF_ANY, SF_MOD_ANY, f_rsqrtps},
    {0x152, MP_F3, SF_ANY, SF_MOD_ANY, f_rsqrtss},
    {0x153, MP_NONE, SF_ANY, SF_MOD_ANY, f_rcpps},
    {0x153, MP_F3, SF_ANY, SF_MOD_ANY, f_rcpss},
};
const unsigned sse_approx_forms_count = sizeof sse_approx_forms / sizeof sse_approx_forms[0];
