/* sse_sse4.c — the rest of SSE4.1 and SSE4.2: variable blends (pblendvb, blendvps/pd on XMM0),
 * ptest, the rounding instructions (roundps/pd/ss/sd), immediate blends (blendps/pd, pblendw),
 * element extraction and insertion (pextrb/w/d/q, extractps, pinsrb/d/q, insertps), dot products
 * (dpps, dppd), mpsadbw, and the string compares (pcmpestri/m, pcmpistri/m). Arithmetic that
 * rounds or compares runs on the host under the guest's MXCSR (host.h); moves are plain C.
 * The string compares do not require an aligned memory operand; everything else with a
 * 128-bit memory operand does.
 */
#include "cpu/ops/sse/sse_common.h"

/* ---- XMM0-steered blends, ptest ---- */

SSE_HOST_INT_X0(hx_pblendvb, "pblendvb")
SSE_HOST_INT_X0(hx_blendvps, "blendvps")
SSE_HOST_INT_X0(hx_blendvpd, "blendvpd")

#define GEN_X0(name)                                                                               \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_avail(c);                                                                              \
        union xmm s;                                                                               \
        sse_src(c, i, &s, 16, true);                                                               \
        hx_##name(&c->xmm[i->reg], &s, &c->xmm[0]);                                                \
    }
GEN_X0(pblendvb)
GEN_X0(blendvps)
GEN_X0(blendvpd)

/* ptest: ZF = (d AND s) == 0, CF = (NOT d AND s) == 0, the other arithmetic flags cleared */
static void h_ptest(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    const union xmm *d = &c->xmm[i->reg];
    uint64_t f = 0;
    if (!((d->q[0] & s.q[0]) | (d->q[1] & s.q[1]))) f |= F_ZF;
    if (!((~d->q[0] & s.q[0]) | (~d->q[1] & s.q[1]))) f |= F_CF;
    c->rflags = (c->rflags & ~(uint64_t)F_ARITH) | f;
    c->lf.op = FL_NONE;
}

/* ---- rounding, dot products, mpsadbw: host, one asm statement per imm8 ---- */

#define SSE_HOST_FP_IMM_CASE_hx_roundps(k) SSE_HOST_FP_IMM_CASE("roundps", k)
#define SSE_HOST_FP_IMM_CASE_hx_roundpd(k) SSE_HOST_FP_IMM_CASE("roundpd", k)
#define SSE_HOST_FP_IMM_CASE_hx_roundss(k) SSE_HOST_FP_IMM_CASE("roundss", k)
#define SSE_HOST_FP_IMM_CASE_hx_roundsd(k) SSE_HOST_FP_IMM_CASE("roundsd", k)
#define SSE_HOST_FP_IMM_CASE_hx_dpps(k)    SSE_HOST_FP_IMM_CASE("dpps", k)
#define SSE_HOST_FP_IMM_CASE_hx_dppd(k)    SSE_HOST_FP_IMM_CASE("dppd", k)
SSE_HOST_FP_IMM(hx_roundps, "roundps")
SSE_HOST_FP_IMM(hx_roundpd, "roundpd")
SSE_HOST_FP_IMM(hx_roundss, "roundss")
SSE_HOST_FP_IMM(hx_roundsd, "roundsd")
SSE_HOST_FP_IMM(hx_dpps, "dpps")
SSE_HOST_FP_IMM(hx_dppd, "dppd")
#define SSE_HOST_INT_IMM_CASE_hx_mpsadbw(k) SSE_HOST_INT_IMM_CASE("mpsadbw", k)
SSE_HOST_INT_IMM(hx_mpsadbw, "mpsadbw")

/* name, memory bytes, aligned */
#define FP_IMM(X)                                                                                  \
    X(roundps, 16, true)                                                                           \
    X(roundpd, 16, true)                                                                           \
    X(roundss, 4, false)                                                                           \
    X(roundsd, 8, false)                                                                           \
    X(dpps, 16, true)                                                                              \
    X(dppd, 16, true)

#define GEN_FP_IMM(name, n, align)                                                                 \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        sse_avail(c);                                                                              \
        union xmm s, d = c->xmm[i->reg];                                                           \
        sse_src(c, i, &s, n, align);                                                               \
        uint32_t mx = hx_##name(&d, &s, (unsigned)i->imm, sse_mx_in(c));                           \
        sse_mx_commit(c, mx);                                                                      \
        c->xmm[i->reg] = d;                                                                        \
    }
FP_IMM(GEN_FP_IMM)

static void h_mpsadbw(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    hx_mpsadbw(&c->xmm[i->reg], &s, (unsigned)i->imm);
}

/* ---- immediate blends ---- */

static void h_blendps(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    for (unsigned k = 0; k < 4; k++)
        if ((i->imm >> k) & 1) c->xmm[i->reg].d[k] = s.d[k];
}

static void h_blendpd(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    for (unsigned k = 0; k < 2; k++)
        if ((i->imm >> k) & 1) c->xmm[i->reg].q[k] = s.q[k];
}

static void h_pblendw(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    for (unsigned k = 0; k < 8; k++)
        if ((i->imm >> k) & 1) c->xmm[i->reg].w[k] = s.w[k];
}

/* ---- extraction and insertion ---- */

/* pextrb/pextrw/pextrd/pextrq/extractps: element of xmm[reg] to r/m (a register destination
 * is written whole: zero-extended to 32 bits, or 64 for the REX.W forms) */
static void sse_extract(struct cpu *c, const struct insn *i, unsigned size)
{
    sse_avail(c);
    const union xmm *x = &c->xmm[i->reg];
    unsigned k = (unsigned)i->imm & (16 / size - 1);
    uint64_t v = 0;
    memcpy(&v, x->b + k * size, size);
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), v, size);
    else
        c->gpr[i->rm] = v;
}

static void h_pextrb(struct cpu *c, const struct insn *i)
{
    sse_extract(c, i, 1);
}

static void h_pextrw(struct cpu *c, const struct insn *i)
{
    sse_extract(c, i, 2);
}

static void h_pextrd(struct cpu *c, const struct insn *i)
{
    sse_extract(c, i, (i->flags & INSN_REXW) ? 8 : 4);
}

static void h_extractps(struct cpu *c, const struct insn *i)
{
    sse_extract(c, i, 4);
}

/* pinsrb/pinsrd/pinsrq: the low bits of a general register or memory into one element */
static void sse_insert(struct cpu *c, const struct insn *i, unsigned size)
{
    sse_avail(c);
    uint64_t v = (i->flags & INSN_MEM) ? mem_read_n(c, i->seg, insn_ea(c, i), size) : c->gpr[i->rm];
    unsigned k = (unsigned)i->imm & (16 / size - 1);
    memcpy(c->xmm[i->reg].b + k * size, &v, size);
}

static void h_pinsrb(struct cpu *c, const struct insn *i)
{
    sse_insert(c, i, 1);
}

static void h_pinsrd(struct cpu *c, const struct insn *i)
{
    sse_insert(c, i, (i->flags & INSN_REXW) ? 8 : 4);
}

/* insertps: a float from a register element (imm[7:6]) or memory into element imm[5:4], then
 * the elements in imm[3:0] zeroed */
static void h_insertps(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint32_t v;
    unsigned imm = (unsigned)i->imm;
    if (i->flags & INSN_MEM)
        v = (uint32_t)mem_read_n(c, i->seg, insn_ea(c, i), 4);
    else
        v = c->xmm[i->rm].d[(imm >> 6) & 3];
    union xmm *d = &c->xmm[i->reg];
    d->d[(imm >> 4) & 3] = v;
    for (unsigned k = 0; k < 4; k++)
        if ((imm >> k) & 1) d->d[k] = 0;
}

/* ---- SSE4.2 string compares ---- */

#define SSE_HOST_PCMPSTR_CASE_hx_pcmpestri(k) SSE_HOST_PCMPSTR_CASE("pcmpestri", k)
#define SSE_HOST_PCMPSTR_CASE_hx_pcmpestrm(k) SSE_HOST_PCMPSTR_CASE("pcmpestrm", k)
#define SSE_HOST_PCMPSTR_CASE_hx_pcmpistri(k) SSE_HOST_PCMPSTR_CASE("pcmpistri", k)
#define SSE_HOST_PCMPSTR_CASE_hx_pcmpistrm(k) SSE_HOST_PCMPSTR_CASE("pcmpistrm", k)
SSE_HOST_PCMPSTR(hx_pcmpestri, "pcmpestri")
SSE_HOST_PCMPSTR(hx_pcmpestrm, "pcmpestrm")
SSE_HOST_PCMPSTR(hx_pcmpistri, "pcmpistri")
SSE_HOST_PCMPSTR(hx_pcmpistrm, "pcmpistrm")

/* An explicit length as the host's 32-bit form sees it: |RAX| (|RDX|) saturated to the
 * element count, from 64 bits with REX.W, else from the low 32. */
static uint64_t sse_strlen_arg(const struct insn *i, uint64_t v)
{
    int64_t s = (i->flags & INSN_REXW) ? (int64_t)v : (int64_t)(int32_t)v;
    uint64_t m = s < 0 ? -(uint64_t)s : (uint64_t)s;
    return m > 16 ? 16 : m;
}

static void sse_pcmpstr(struct cpu *c, const struct insn *i, bool expl, bool index)
{
    sse_avail(c);
    union xmm s, mask;
    sse_src(c, i, &s, 16, false);
    uint64_t ax = expl ? sse_strlen_arg(i, c->gpr[R_RAX]) : 0;
    uint64_t dx = expl ? sse_strlen_arg(i, c->gpr[R_RDX]) : 0;
    uint32_t ecx;
    uint64_t fl;
    const union xmm *d = &c->xmm[i->reg];
    unsigned imm = (unsigned)i->imm;
    if (expl)
        fl = index ? hx_pcmpestri(d, &s, imm, ax, dx, &ecx, &mask)
                   : hx_pcmpestrm(d, &s, imm, ax, dx, &ecx, &mask);
    else
        fl = index ? hx_pcmpistri(d, &s, imm, ax, dx, &ecx, &mask)
                   : hx_pcmpistrm(d, &s, imm, ax, dx, &ecx, &mask);
    if (index)
        c->gpr[R_RCX] = ecx;
    else
        c->xmm[0] = mask;
    c->rflags = (c->rflags & ~(uint64_t)F_ARITH) | (fl & (F_CF | F_ZF | F_SF | F_OF));
    c->lf.op = FL_NONE;
}

static void h_pcmpestrm(struct cpu *c, const struct insn *i)
{
    sse_pcmpstr(c, i, true, false);
}

static void h_pcmpestri(struct cpu *c, const struct insn *i)
{
    sse_pcmpstr(c, i, true, true);
}

static void h_pcmpistrm(struct cpu *c, const struct insn *i)
{
    sse_pcmpstr(c, i, false, false);
}

static void h_pcmpistri(struct cpu *c, const struct insn *i)
{
    sse_pcmpstr(c, i, false, true);
}

const struct sse_form sse_sse4_forms[] = {
    {0x210, MP_66, SF_ANY, SF_MOD_ANY, h_pblendvb},
    {0x214, MP_66, SF_ANY, SF_MOD_ANY, h_blendvps},
    {0x215, MP_66, SF_ANY, SF_MOD_ANY, h_blendvpd},
    {0x217, MP_66, SF_ANY, SF_MOD_ANY, h_ptest},
    {0x308, MP_66, SF_ANY, SF_MOD_ANY, h_roundps},
    {0x309, MP_66, SF_ANY, SF_MOD_ANY, h_roundpd},
    {0x30a, MP_66, SF_ANY, SF_MOD_ANY, h_roundss},
    {0x30b, MP_66, SF_ANY, SF_MOD_ANY, h_roundsd},
    {0x30c, MP_66, SF_ANY, SF_MOD_ANY, h_blendps},
    {0x30d, MP_66, SF_ANY, SF_MOD_ANY, h_blendpd},
    {0x30e, MP_66, SF_ANY, SF_MOD_ANY, h_pblendw},
    {0x314, MP_66, SF_ANY, SF_MOD_ANY, h_pextrb},
    {0x315, MP_66, SF_ANY, SF_MOD_ANY, h_pextrw},
    {0x316, MP_66, SF_ANY, SF_MOD_ANY, h_pextrd},
    {0x317, MP_66, SF_ANY, SF_MOD_ANY, h_extractps},
    {0x320, MP_66, SF_ANY, SF_MOD_ANY, h_pinsrb},
    {0x321, MP_66, SF_ANY, SF_MOD_ANY, h_insertps},
    {0x322, MP_66, SF_ANY, SF_MOD_ANY, h_pinsrd},
    {0x340, MP_66, SF_ANY, SF_MOD_ANY, h_dpps},
    {0x341, MP_66, SF_ANY, SF_MOD_ANY, h_dppd},
    {0x342, MP_66, SF_ANY, SF_MOD_ANY, h_mpsadbw},
    {0x360, MP_66, SF_ANY, SF_MOD_ANY, h_pcmpestrm},
    {0x361, MP_66, SF_ANY, SF_MOD_ANY, h_pcmpestri},
    {0x362, MP_66, SF_ANY, SF_MOD_ANY, h_pcmpistrm},
    {0x363, MP_66, SF_ANY, SF_MOD_ANY, h_pcmpistri},
};
const unsigned sse_sse4_forms_count = sizeof sse_sse4_forms / sizeof sse_sse4_forms[0];
