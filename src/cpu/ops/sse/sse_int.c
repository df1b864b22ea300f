/* sse_int.c — integer SIMD: the MMX / SSE2 / SSSE3 / SSE4.1 two-operand operations
 * (add, sub, compare, pack/unpack, logic, multiply, shifts by register, sign/abs/shuffle bytes)
 * and the shift-by-immediate groups 0F 71/72/73. Each operation is one table row; the host
 * executes the very instruction on copies of the guest registers, which makes the results
 * exact by construction. Rows with a 66-prefixed XMM form and an unprefixed MMX form list
 * both at once.
 */
#include "cpu/ops/sse/sse_common.h"

/* name, mnemonic, opcode, bytes an MMX memory operand reads */
#define INT_BOTH(X)                                                                                \
    X(punpcklbw, "punpcklbw", 0x160, 4)                                                            \
    X(punpcklwd, "punpcklwd", 0x161, 4)                                                            \
    X(punpckldq, "punpckldq", 0x162, 4)                                                            \
    X(packsswb, "packsswb", 0x163, 8)                                                              \
    X(pcmpgtb, "pcmpgtb", 0x164, 8)                                                                \
    X(pcmpgtw, "pcmpgtw", 0x165, 8)                                                                \
    X(pcmpgtd, "pcmpgtd", 0x166, 8)                                                                \
    X(packuswb, "packuswb", 0x167, 8)                                                              \
    X(punpckhbw, "punpckhbw", 0x168, 8)                                                            \
    X(punpckhwd, "punpckhwd", 0x169, 8)                                                            \
    X(punpckhdq, "punpckhdq", 0x16a, 8)                                                            \
    X(packssdw, "packssdw", 0x16b, 8)                                                              \
    X(pcmpeqb, "pcmpeqb", 0x174, 8)                                                                \
    X(pcmpeqw, "pcmpeqw", 0x175, 8)                                                                \
    X(pcmpeqd, "pcmpeqd", 0x176, 8)                                                                \
    X(psrlw, "psrlw", 0x1d1, 8)                                                                    \
    X(psrld, "psrld", 0x1d2, 8)                                                                    \
    X(psrlq, "psrlq", 0x1d3, 8)                                                                    \
    X(paddq, "paddq", 0x1d4, 8)                                                                    \
    X(pmullw, "pmullw", 0x1d5, 8)                                                                  \
    X(psubusb, "psubusb", 0x1d8, 8)                                                                \
    X(psubusw, "psubusw", 0x1d9, 8)                                                                \
    X(pminub, "pminub", 0x1da, 8)                                                                  \
    X(pand, "pand", 0x1db, 8)                                                                      \
    X(paddusb, "paddusb", 0x1dc, 8)                                                                \
    X(paddusw, "paddusw", 0x1dd, 8)                                                                \
    X(pmaxub, "pmaxub", 0x1de, 8)                                                                  \
    X(pandn, "pandn", 0x1df, 8)                                                                    \
    X(pavgb, "pavgb", 0x1e0, 8)                                                                    \
    X(psraw, "psraw", 0x1e1, 8)                                                                    \
    X(psrad, "psrad", 0x1e2, 8)                                                                    \
    X(pavgw, "pavgw", 0x1e3, 8)                                                                    \
    X(pmulhuw, "pmulhuw", 0x1e4, 8)                                                                \
    X(pmulhw, "pmulhw", 0x1e5, 8)                                                                  \
    X(psubsb, "psubsb", 0x1e8, 8)                                                                  \
    X(psubsw, "psubsw", 0x1e9, 8)                                                                  \
    X(pminsw, "pminsw", 0x1ea, 8)                                                                  \
    X(por, "por", 0x1eb, 8)                                                                        \
    X(paddsb, "paddsb", 0x1ec, 8)                                                                  \
    X(paddsw, "paddsw", 0x1ed, 8)                                                                  \
    X(pmaxsw, "pmaxsw", 0x1ee, 8)                                                                  \
    X(pxor, "pxor", 0x1ef, 8)                                                                      \
    X(psllw, "psllw", 0x1f1, 8)                                                                    \
    X(pslld, "pslld", 0x1f2, 8)                                                                    \
    X(psllq, "psllq", 0x1f3, 8)                                                                    \
    X(pmuludq, "pmuludq", 0x1f4, 8)                                                                \
    X(pmaddwd, "pmaddwd", 0x1f5, 8)                                                                \
    X(psadbw, "psadbw", 0x1f6, 8)                                                                  \
    X(psubb, "psubb", 0x1f8, 8)                                                                    \
    X(psubw, "psubw", 0x1f9, 8)                                                                    \
    X(psubd, "psubd", 0x1fa, 8)                                                                    \
    X(psubq, "psubq", 0x1fb, 8)                                                                    \
    X(paddb, "paddb", 0x1fc, 8)                                                                    \
    X(paddw, "paddw", 0x1fd, 8)                                                                    \
    X(paddd, "paddd", 0x1fe, 8)                                                                    \
    X(pshufb, "pshufb", 0x200, 8)                                                                  \
    X(phaddw, "phaddw", 0x201, 8)                                                                  \
    X(phaddd, "phaddd", 0x202, 8)                                                                  \
    X(phaddsw, "phaddsw", 0x203, 8)                                                                \
    X(pmaddubsw, "pmaddubsw", 0x204, 8)                                                            \
    X(phsubw, "phsubw", 0x205, 8)                                                                  \
    X(phsubd, "phsubd", 0x206, 8)                                                                  \
    X(phsubsw, "phsubsw", 0x207, 8)                                                                \
    X(psignb, "psignb", 0x208, 8)                                                                  \
    X(psignw, "psignw", 0x209, 8)                                                                  \
    X(psignd, "psignd", 0x20a, 8)                                                                  \
    X(pmulhrsw, "pmulhrsw", 0x20b, 8)                                                              \
    X(pabsb, "pabsb", 0x21c, 8)                                                                    \
    X(pabsw, "pabsw", 0x21d, 8)                                                                    \
    X(pabsd, "pabsd", 0x21e, 8)

/* XMM-only rows: name, mnemonic, opcode, mandatory prefix, memory bytes, 16-byte aligned */
#define INT_XMM(X)                                                                                 \
    X(punpcklqdq, "punpcklqdq", 0x16c, MP_66, 16, 1)                                               \
    X(punpckhqdq, "punpckhqdq", 0x16d, MP_66, 16, 1)                                               \
    X(unpcklps, "unpcklps", 0x114, MP_NONE, 16, 1)                                                 \
    X(unpcklpd, "unpcklpd", 0x114, MP_66, 16, 1)                                                   \
    X(unpckhps, "unpckhps", 0x115, MP_NONE, 16, 1)                                                 \
    X(unpckhpd, "unpckhpd", 0x115, MP_66, 16, 1)                                                   \
    X(andps, "andps", 0x154, MP_NONE, 16, 1)                                                       \
    X(andpd, "andpd", 0x154, MP_66, 16, 1)                                                         \
    X(andnps, "andnps", 0x155, MP_NONE, 16, 1)                                                     \
    X(andnpd, "andnpd", 0x155, MP_66, 16, 1)                                                       \
    X(orps, "orps", 0x156, MP_NONE, 16, 1)                                                         \
    X(orpd, "orpd", 0x156, MP_66, 16, 1)                                                           \
    X(xorps, "xorps", 0x157, MP_NONE, 16, 1)                                                       \
    X(xorpd, "xorpd", 0x157, MP_66, 16, 1)                                                         \
    X(pmovsxbw, "pmovsxbw", 0x220, MP_66, 8, 0)                                                    \
    X(pmovsxbd, "pmovsxbd", 0x221, MP_66, 4, 0)                                                    \
    X(pmovsxbq, "pmovsxbq", 0x222, MP_66, 2, 0)                                                    \
    X(pmovsxwd, "pmovsxwd", 0x223, MP_66, 8, 0)                                                    \
    X(pmovsxwq, "pmovsxwq", 0x224, MP_66, 4, 0)                                                    \
    X(pmovsxdq, "pmovsxdq", 0x225, MP_66, 8, 0)                                                    \
    X(pmuldq, "pmuldq", 0x228, MP_66, 16, 1)                                                       \
    X(pcmpeqq, "pcmpeqq", 0x229, MP_66, 16, 1)                                                     \
    X(packusdw, "packusdw", 0x22b, MP_66, 16, 1)                                                   \
    X(pmovzxbw, "pmovzxbw", 0x230, MP_66, 8, 0)                                                    \
    X(pmovzxbd, "pmovzxbd", 0x231, MP_66, 4, 0)                                                    \
    X(pmovzxbq, "pmovzxbq", 0x232, MP_66, 2, 0)                                                    \
    X(pmovzxwd, "pmovzxwd", 0x233, MP_66, 8, 0)                                                    \
    X(pmovzxwq, "pmovzxwq", 0x234, MP_66, 4, 0)                                                    \
    X(pmovzxdq, "pmovzxdq", 0x235, MP_66, 8, 0)                                                    \
    X(pcmpgtq, "pcmpgtq", 0x237, MP_66, 16, 1)                                                     \
    X(pminsb, "pminsb", 0x238, MP_66, 16, 1)                                                       \
    X(pminsd, "pminsd", 0x239, MP_66, 16, 1)                                                       \
    X(pminuw, "pminuw", 0x23a, MP_66, 16, 1)                                                       \
    X(pminud, "pminud", 0x23b, MP_66, 16, 1)                                                       \
    X(pmaxsb, "pmaxsb", 0x23c, MP_66, 16, 1)                                                       \
    X(pmaxsd, "pmaxsd", 0x23d, MP_66, 16, 1)                                                       \
    X(pmaxuw, "pmaxuw", 0x23e, MP_66, 16, 1)                                                       \
    X(pmaxud, "pmaxud", 0x23f, MP_66, 16, 1)                                                       \
    X(pmulld, "pmulld", 0x240, MP_66, 16, 1)                                                       \
    X(phminposuw, "phminposuw", 0x241, MP_66, 16, 1)

typedef void (*sse_int_fn)(union xmm *d, const union xmm *s);
typedef uint64_t (*mmx_int_fn)(uint64_t d, uint64_t s);

static inline __attribute__((always_inline)) void sse_run(struct cpu *c, const struct insn *i,
                                                          sse_int_fn fn, unsigned n, bool align)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, n, align);
    fn(&c->xmm[i->reg], &s);
}

static inline __attribute__((always_inline)) void mmx_run(struct cpu *c, const struct insn *i,
                                                          mmx_int_fn fn, unsigned n)
{
    mmx_check(c);
    uint64_t s = mmx_src(c, i, n);
    mmx_mode(c);
    mm_set(c, i->reg, fn(mm_get(c, i->reg), s));
}

#define GEN_BOTH(name, mn, op, mmxn)                                                               \
    SSE_HOST_INT(hx_##name, mn)                                                                    \
    MMX_HOST(mx_##name, mn)                                                                        \
    static void x_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_run(c, i, hx_##name, 16, true);                                                        \
    }                                                                                              \
    static void m_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        mmx_run(c, i, mx_##name, mmxn);                                                            \
    }
INT_BOTH(GEN_BOTH)

#define GEN_XMM(name, mn, op, mp, n, align)                                                        \
    SSE_HOST_INT(hx_##name, mn)                                                                    \
    static void x_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_run(c, i, hx_##name, n, align);                                                        \
    }
INT_XMM(GEN_XMM)

/* ---- shifts by immediate: 0F 71/72/73 /digit ib, on the r/m register ---- */

#define SHIFT_IMM(X)                                                                               \
    X(psrlw, 0x171, 2)                                                                             \
    X(psraw, 0x171, 4)                                                                             \
    X(psllw, 0x171, 6)                                                                             \
    X(psrld, 0x172, 2)                                                                             \
    X(psrad, 0x172, 4)                                                                             \
    X(pslld, 0x172, 6)                                                                             \
    X(psrlq, 0x173, 2)                                                                             \
    X(psllq, 0x173, 6)

#define GEN_SHIFT(name, op, digit)                                                                 \
    static void xi_##name(struct cpu *c, const struct insn *i)                                     \
    {                                                                                              \
        sse_avail(c);                                                                              \
        union xmm cnt = {.q = {(uint8_t)i->imm, 0}};                                               \
        hx_##name(&c->xmm[i->rm], &cnt);                                                           \
    }                                                                                              \
    static void mi_##name(struct cpu *c, const struct insn *i)                                     \
    {                                                                                              \
        mmx_check(c);                                                                              \
        mmx_mode(c);                                                                               \
        mm_set(c, i->rm, mx_##name(mm_get(c, i->rm), (uint8_t)i->imm));                            \
    }
SHIFT_IMM(GEN_SHIFT)

/* psrldq / pslldq: whole-register byte shifts (66 0F 73 /3, /7). */
static void xi_psrldq(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    unsigned n = (uint8_t)i->imm;
    union xmm *r = &c->xmm[i->rm], v = {{0}};
    for (unsigned k = 0; k + n < 16; k++)
        v.b[k] = r->b[k + n];
    *r = v;
}

static void xi_pslldq(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    unsigned n = (uint8_t)i->imm;
    union xmm *r = &c->xmm[i->rm], v = {{0}};
    for (unsigned k = n; k < 16; k++)
        v.b[k] = r->b[k - n];
    *r = v;
}

#define ROW_BOTH(name, mn, op, mmxn)                                                               \
    {op, MP_66, SF_ANY, SF_MOD_ANY, x_##name}, {op, MP_NONE, SF_ANY, SF_MOD_ANY, m_##name},
#define ROW_XMM(name, mn, op, mp, n, align) {op, mp, SF_ANY, SF_MOD_ANY, x_##name},
#define ROW_SHIFT(name, op, digit)                                                                 \
    {op, MP_66, digit, SF_MOD_REG, xi_##name}, {op, MP_NONE, digit, SF_MOD_REG, mi_##name},

const struct sse_form sse_int_forms[] = {
    INT_BOTH(ROW_BOTH) INT_XMM(ROW_XMM)
        SHIFT_IMM(ROW_SHIFT){0x173, MP_66, 3, SF_MOD_REG, xi_psrldq},
    {0x173, MP_66, 7, SF_MOD_REG, xi_pslldq},
};
const unsigned sse_int_forms_count = sizeof sse_int_forms / sizeof sse_int_forms[0];
