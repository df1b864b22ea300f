/* approx.c — see approx.h. The rule is computed here a second way (long double arithmetic and
 * frexpl/rintl rounding), independently of the engine's bit-level version. */
#include "approx.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpu/core.h"
#include "cpu/decode/decode.h"

static unsigned approx_cases, approx_lanes, approx_out_of_bound;

static float bits_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint32_t float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* The exact value, or a special result, of one lane: *special set when no approximation is
 * involved (zeros, infinities, NaNs, flushed results). */
static long double approx_exact(uint32_t x, bool rsqrt, uint32_t *special, bool *is_special)
{
    float f = bits_float(x);
    uint32_t sign = x & 0x80000000u;
    *is_special = true;
    if (isnan(f)) {
        *special = x | 0x00400000u;
    } else if (fpclassify(f) == FP_ZERO || fpclassify(f) == FP_SUBNORMAL) {
        *special = sign | 0x7f800000u; /* denormals count as zero */
    } else if (rsqrt && sign) {
        *special = 0xffc00000u;
    } else if (isinf(f)) {
        *special = sign;
    } else {
        *is_special = false;
        long double v = fabsl((long double)f);
        long double r = rsqrt ? 1.0L / sqrtl(v) : 1.0L / v;
        if (r < 0x1p-126L) { /* flushed to zero */
            *is_special = true;
            *special = sign;
        }
        return r;
    }
    return 0;
}

/* vessel's rule: the exact value rounded to 12 significant bits, nearest-even. */
static uint32_t approx_rule(long double exact, uint32_t sign)
{
    int e;
    long double m = frexpl(exact, &e); /* [0.5, 1) */
    long double r = ldexpl(rintl(ldexpl(m, 12)), e - 12);
    if (r < 0x1p-126L) return sign;
    return sign | float_bits((float)r);
}

void approx_fix(const struct diff_form *f, const struct diff_state *in, const uint8_t *data_in,
                struct diff_state *nat)
{
    struct insn i;
    memset(&i, 0, sizeof(i));
    if (decode_insn(&i, f->bytes, f->len, MODE_LONG64) != f->len) return;
    /* legacy 0F 52/53 and the VEX forms (maps 0F: 0x552/0x553, 128 or 256 bits) */
    const unsigned op = i.op & 0xff, map = i.op >> 8;
    if ((map != 1 && map != 5) || (op != 0x52 && op != 0x53) || (i.mp != MP_NONE && i.mp != MP_F3))
        return;
    if (nat->vector >= 0) return; /* a fault (alignment, #PF) is compared as it is */
    bool rsqrt = op == 0x52, packed = i.mp == MP_NONE;
    const unsigned lanes = !packed ? 1u : (i.flags & INSN_VEXL) ? 8u : 4u;
    uint32_t src[8];
    if (i.flags & INSN_MEM) {
        uint64_t ea = (uint64_t)(int64_t)i.disp;
        if (i.base != REG_NONE && i.base != REG_RIP) ea += in->gpr[i.base];
        if (i.index != REG_NONE) ea += in->gpr[i.index] << i.scale;
        if (ea < DIFF_DATA || ea + 4 * lanes > DIFF_DATA + DIFF_DATA_SIZE) return;
        memcpy(src, data_in + (ea - DIFF_DATA), 4 * lanes);
    } else {
        memcpy(src, in->fx.xmm[i.rm], 16);
        memcpy(src + 4, in->ymmh[i.rm], 16);
    }
    approx_cases++;
    uint32_t dst[8];
    memcpy(dst, nat->fx.xmm[i.reg], 16);
    memcpy(dst + 4, nat->ymmh[i.reg], 16);
    for (unsigned k = 0; k < lanes; k++) {
        uint32_t special = 0, want;
        bool is_special;
        long double exact = approx_exact(src[k], rsqrt, &special, &is_special);
        approx_lanes++;
        if (is_special) {
            want = special;
            if (dst[k] != want) { /* the host disagrees on a defined result */
                approx_out_of_bound++;
                continue;
            }
        } else {
            long double host = fabsl((long double)bits_float(dst[k]));
            if (!(fabsl(host - exact) <= 1.5L * 0x1p-12L * exact)) {
                approx_out_of_bound++;
                continue;
            }
            want = approx_rule(exact, src[k] & 0x80000000u);
        }
        dst[k] = want;
    }
    memcpy(nat->fx.xmm[i.reg], dst, 16);
    memcpy(nat->ymmh[i.reg], dst + 4, 16);
}

void approx_print_summary(void)
{
    if (approx_cases)
        printf("# model rule rcp/rsqrt: %u cases, %u lanes compared with vessel's rule (exact "
               "value rounded to 12 bits); the host was within the SDM's bound (1.5 * 2^-12) "
               "in all but %u\n",
               approx_cases, approx_lanes, approx_out_of_bound);
}
