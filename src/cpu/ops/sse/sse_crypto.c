/* sse_crypto.c — AES-NI (aesenc, aesenclast, aesdec, aesdeclast, aesimc, aeskeygenassist),
 * PCLMULQDQ and the SHA extensions (sha1rnds4, sha1nexte, sha1msg1/2, sha256rnds2 with XMM0,
 * sha256msg1/2), legacy-encoded. Each runs on the host's own unit, so it is offered only when
 * the CPU model offers it (cpuid_model_ext(): a subset of what the host has):
 * sse_crypto_lookup() answers NULL otherwise, and CPUID, which probes the lookups, then does not
 * advertise the feature. Memory operands are 128
 * bits and must be 16-byte aligned. */
#include "cpu/cpuid.h"
#include "cpu/ops/sse/sse_common.h"

SSE_HOST_INT(hx_aesenc, "aesenc")
SSE_HOST_INT(hx_aesenclast, "aesenclast")
SSE_HOST_INT(hx_aesdec, "aesdec")
SSE_HOST_INT(hx_aesdeclast, "aesdeclast")
SSE_HOST_INT(hx_aesimc, "aesimc")
SSE_HOST_INT(hx_sha1nexte, "sha1nexte")
SSE_HOST_INT(hx_sha1msg1, "sha1msg1")
SSE_HOST_INT(hx_sha1msg2, "sha1msg2")
SSE_HOST_INT(hx_sha256msg1, "sha256msg1")
SSE_HOST_INT(hx_sha256msg2, "sha256msg2")
SSE_HOST_INT_X0(hx_sha256rnds2, "sha256rnds2")
#define SSE_HOST_INT_IMM_CASE_hx_aeskeygenassist(k) SSE_HOST_INT_IMM_CASE("aeskeygenassist", k)
#define SSE_HOST_INT_IMM_CASE_hx_pclmulqdq(k)       SSE_HOST_INT_IMM_CASE("pclmulqdq", k)
#define SSE_HOST_INT_IMM_CASE_hx_sha1rnds4(k)       SSE_HOST_INT_IMM_CASE("sha1rnds4", k)
SSE_HOST_INT_IMM(hx_aeskeygenassist, "aeskeygenassist")
SSE_HOST_INT_IMM(hx_pclmulqdq, "pclmulqdq")
SSE_HOST_INT_IMM(hx_sha1rnds4, "sha1rnds4")

#define GEN2(name)                                                                                 \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_avail(c);                                                                              \
        union xmm s;                                                                               \
        sse_src(c, i, &s, 16, true);                                                               \
        hx_##name(&c->xmm[i->reg], &s);                                                            \
    }
#define GEN_IMM(name)                                                                              \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_avail(c);                                                                              \
        union xmm s;                                                                               \
        sse_src(c, i, &s, 16, true);                                                               \
        hx_##name(&c->xmm[i->reg], &s, (unsigned)i->imm);                                          \
    }
GEN2(aesenc)
GEN2(aesenclast)
GEN2(aesdec)
GEN2(aesdeclast)
GEN2(sha1nexte)
GEN2(sha1msg1)
GEN2(sha1msg2)
GEN2(sha256msg1)
GEN2(sha256msg2)
GEN_IMM(aeskeygenassist)
GEN_IMM(pclmulqdq)
GEN_IMM(sha1rnds4)

/* aesimc and aeskeygenassist replace the destination: the host's result does not depend on it */
static void h_aesimc(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    hx_aesimc(&c->xmm[i->reg], &s);
}

static void h_sha256rnds2(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    hx_sha256rnds2(&c->xmm[i->reg], &s, &c->xmm[0]);
}

insn_fn sse_crypto_lookup(const struct insn *i)
{
    const unsigned e = cpuid_model_ext();
    if (i->op == 0x344 && i->mp == MP_66) return (e & HOST_PCLMUL) ? h_pclmulqdq : NULL;
    if ((e & HOST_AES) && i->mp == MP_66) {
        switch (i->op) {
        case 0x2db: return h_aesimc;
        case 0x2dc: return h_aesenc;
        case 0x2dd: return h_aesenclast;
        case 0x2de: return h_aesdec;
        case 0x2df: return h_aesdeclast;
        case 0x3df: return h_aeskeygenassist;
        }
    }
    if ((e & HOST_SHA) && i->mp == MP_NONE) {
        switch (i->op) {
        case 0x2c8: return h_sha1nexte;
        case 0x2c9: return h_sha1msg1;
        case 0x2ca: return h_sha1msg2;
        case 0x2cb: return h_sha256rnds2;
        case 0x2cc: return h_sha256msg1;
        case 0x2cd: return h_sha256msg2;
        case 0x3cc: return h_sha1rnds4;
        }
    }
    return NULL;
}
