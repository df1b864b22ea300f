/* forms_x87.c — input state for the x87 forms (forms_x87.h): a random TOP, tag word and
 * condition codes, registers drawn from special extended-precision values (zeros, infinities,
 * quiet and signalling NaNs, denormals, integer-conversion boundaries, values just
 * around rounding points), random precision and rounding control, sometimes unmasked
 * exceptions (with FSW.ES consistent, so a pending error meets the next waiting instruction),
 * and a memory operand filled with special values of every format.
 */
#include <string.h>

#include "cpu/core.h"
#include "forms_x87.h"

struct x80 {
    uint64_t m;
    uint16_t e;
};

static const struct x80 special80[] = {
    {0, 0},                          /* +0 */
    {0, 0x8000},                     /* -0 */
    {0x8000000000000000ull, 0x7fff}, /* +inf */
    {0x8000000000000000ull, 0xffff}, /* -inf */
    {0xc000000000000000ull, 0x7fff}, /* QNaN */
    {0xc000000000000000ull, 0xffff}, /* indefinite */
    {0xa000000000000000ull, 0x7fff}, /* SNaN */
    {0x0000000000000001ull, 0x0000}, /* denormal */
    {0x7fffffffffffffffull, 0x8000}, /* -denormal */
    {0x8000000000000000ull, 0x0001}, /* min normal */
    {0x8000000000000000ull, 0x3fff}, /* 1 */
    {0x8000000000000000ull, 0xbfff}, /* -1 */
    {0xc000000000000000ull, 0x3fff}, /* 1.5 */
    {0xa000000000000000ull, 0x4000}, /* 2.5 */
    {0x8000000000000000ull, 0x3ffe}, /* 0.5 */
    {0x8000000000000000ull, 0x400e}, /* 2^15 */
    {0xfffe000000000000ull, 0xc00e}, /* -32767 */
    {0x8000000000000000ull, 0x401e}, /* 2^31 */
    {0x8000000000000000ull, 0xc01e}, /* -2^31 */
    {0xffffffff00000000ull, 0x401d}, /* 2^31 - 0.5 */
    {0x8000000000000000ull, 0x403e}, /* 2^63 */
    {0x8000000000000000ull, 0xc03e}, /* -2^63 */
    {0xffffffffffffffffull, 0x403d}, /* 2^63 - 0.5 */
    {0xffffffffffffffffull, 0x7ffe}, /* max */
    {0x8000000000000400ull, 0x3fff}, /* 1 + half a double ulp */
    {0x8000008000000000ull, 0x3fff}, /* 1 + half a float ulp */
    {0xc90fdaa22168c234ull, 0x4000}, /* pi */
    {0xc90fdaa22168c234ull, 0x403f}, /* large pi multiple */
    {0x8000000000000000ull, 0x43ff}, /* overflows double */
    {0x8000000000000000ull, 0x3bcd}, /* underflows double */
};
#define NSPECIAL (sizeof special80 / sizeof special80[0])

static void random80(uint8_t *p, struct diff_rng *r)
{
    struct x80 v;
    switch (diff_rand(r) % 4) {
    case 0:
        v.m = diff_rand(r) | 0x8000000000000000ull;
        v.e = (uint16_t)((diff_rand(r) % 128 + 0x3fc0) | ((diff_rand(r) & 1) << 15));
        break;
    case 1:
        v = special80[diff_rand(r) % NSPECIAL];
        v.m += diff_rand(r) % 3 - 1;
        break;
    case 2: v = special80[diff_rand(r) % NSPECIAL]; break;
    default: {
        double d = (double)(int64_t)diff_rand_edge(r, 64) / (double)(diff_rand(r) % 1000 + 1);
        long double x = d;
        memcpy(&v.m, &x, 8);
        memcpy(&v.e, (uint8_t *)&x + 8, 2);
        break;
    }
    }
    /* Unnormals, pseudo-NaNs and pseudo-infinities are left out: the engine moves registers
     * through memory (fld m80), which does not treat them as the register file does. */
    if (v.e & 0x7fff) v.m |= 1ull << 63;
    memcpy(p, &v.m, 8);
    memcpy(p + 8, &v.e, 2);
}

void prep_x87(const struct diff_form *f, struct diff_state *s, uint8_t *data, struct diff_rng *r)
{
    uint16_t cw = 0x037f & ~0x0f00;
    cw |= (uint16_t)(diff_rand(r) & 0x0f00);
    if ((cw & 0x0300) == 0x0100) cw |= 0x0200; /* PC=01 is reserved */
    if (diff_rand(r) % 8 == 0) cw &= (uint16_t) ~(diff_rand(r) & 0x3f);
    uint16_t sw = (uint16_t)(((diff_rand(r) & 7) << 11) | (diff_rand(r) & 0x4700));
    if (diff_rand(r) % 4 == 0) sw |= (uint16_t)(diff_rand(r) & 0x3f);
    if (sw & ~cw & 0x3f) sw |= 0x8080;
    s->fx.fcw = cw;
    s->fx.fsw = sw;
    s->fx.ftw = (uint8_t)(diff_rand(r) | diff_rand(r));
    for (unsigned k = 0; k < 8; k++) {
        memset(s->fx.st[k], 0, 16);
        random80(s->fx.st[k], r);
    }
    if (diff_rand(r) % 8 == 0) memcpy(s->fx.st[1], s->fx.st[0], 10);
    uint64_t off = s->gpr[R_RBX] - DIFF_DATA;
    if (off > DIFF_DATA_SIZE - 128) return;
    uint8_t *m = data + off;
    switch (diff_rand(r) % 5) {
    case 0: random80(m, r); break;
    case 1: { /* a double */
        long double x;
        uint8_t b[16] = {0};
        random80(b, r);
        memcpy(&x, b, 10);
        double d = (double)x;
        memcpy(m, &d, 8);
        break;
    }
    case 2: { /* a float */
        long double x;
        uint8_t b[16] = {0};
        random80(b, r);
        memcpy(&x, b, 10);
        float fl = (float)x;
        memcpy(m, &fl, 4);
        break;
    }
    case 3: { /* an integer edge */
        uint64_t v = diff_rand_edge(r, 64);
        memcpy(m, &v, 8);
        break;
    }
    default: break;
    }
}
