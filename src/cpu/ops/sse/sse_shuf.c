/* sse_shuf.c — shuffles steered by an immediate: pshufw/pshufd/pshufhw/pshuflw, shufps/shufpd,
 * pinsrw/pextrw and palignr (MMX and XMM forms). Plain C: each is a few byte moves.
 */
#include "cpu/ops/sse/sse_common.h"

static void h_pshufd(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s, r;
    sse_src(c, i, &s, 16, true);
    for (unsigned k = 0; k < 4; k++)
        r.d[k] = s.d[(i->imm >> (2 * k)) & 3];
    c->xmm[i->reg] = r;
}

static void h_pshufhw(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s, r;
    sse_src(c, i, &s, 16, true);
    r.q[0] = s.q[0];
    for (unsigned k = 0; k < 4; k++)
        r.w[4 + k] = s.w[4 + ((i->imm >> (2 * k)) & 3)];
    c->xmm[i->reg] = r;
}

static void h_pshuflw(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s, r;
    sse_src(c, i, &s, 16, true);
    r.q[1] = s.q[1];
    for (unsigned k = 0; k < 4; k++)
        r.w[k] = s.w[(i->imm >> (2 * k)) & 3];
    c->xmm[i->reg] = r;
}

static void h_pshufw(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint64_t s = mmx_src(c, i, 8), r = 0;
    mmx_mode(c);
    for (unsigned k = 0; k < 4; k++)
        r |= ((s >> (16 * ((i->imm >> (2 * k)) & 3))) & 0xffff) << (16 * k);
    mm_set(c, i->reg, r);
}

static void h_shufps(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s, r, d = c->xmm[i->reg];
    sse_src(c, i, &s, 16, true);
    r.d[0] = d.d[i->imm & 3];
    r.d[1] = d.d[(i->imm >> 2) & 3];
    r.d[2] = s.d[(i->imm >> 4) & 3];
    r.d[3] = s.d[(i->imm >> 6) & 3];
    c->xmm[i->reg] = r;
}

static void h_shufpd(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s, r, d = c->xmm[i->reg];
    sse_src(c, i, &s, 16, true);
    r.q[0] = d.q[i->imm & 1];
    r.q[1] = s.q[(i->imm >> 1) & 1];
    c->xmm[i->reg] = r;
}

/* pinsrw xmm/mm, r32/m16, imm8 */
static uint16_t pinsrw_src(struct cpu *c, const struct insn *i)
{
    if (i->flags & INSN_MEM) return (uint16_t)mem_read_n(c, i->seg, insn_ea(c, i), 2);
    return (uint16_t)c->gpr[i->rm];
}

static void h_pinsrw_xmm(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint16_t v = pinsrw_src(c, i);
    c->xmm[i->reg].w[i->imm & 7] = v;
}

static void h_pinsrw_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint16_t v = pinsrw_src(c, i);
    unsigned sh = 16 * (i->imm & 3);
    uint64_t d = mm_get(c, i->reg);
    mmx_mode(c);
    mm_set(c, i->reg, (d & ~(0xffffull << sh)) | ((uint64_t)v << sh));
}

/* pextrw r32, xmm/mm, imm8 (register source only) */
static void h_pextrw_xmm(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    c->gpr[i->reg] = c->xmm[i->rm].w[i->imm & 7];
}

static void h_pextrw_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint64_t s = mm_get(c, i->rm);
    mmx_mode(c);
    c->gpr[i->reg] = (s >> (16 * (i->imm & 3))) & 0xffff;
}

/* palignr: (dst:src) shifted right by imm8 bytes, low half kept; bytes past the pair are 0. */
static void h_palignr_xmm(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s, r;
    sse_src(c, i, &s, 16, true);
    uint8_t cat[32];
    memcpy(cat, s.b, 16);
    memcpy(cat + 16, c->xmm[i->reg].b, 16);
    unsigned n = (uint8_t)i->imm;
    for (unsigned k = 0; k < 16; k++)
        r.b[k] = (k + n < 32) ? cat[k + n] : 0;
    c->xmm[i->reg] = r;
}

static void h_palignr_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint64_t s = mmx_src(c, i, 8), d = mm_get(c, i->reg);
    mmx_mode(c);
    uint8_t cat[16], r[8];
    memcpy(cat, &s, 8);
    memcpy(cat + 8, &d, 8);
    unsigned n = (uint8_t)i->imm;
    for (unsigned k = 0; k < 8; k++)
        r[k] = (k + n < 16) ? cat[k + n] : 0;
    uint64_t v;
    memcpy(&v, r, 8);
    mm_set(c, i->reg, v);
}

const struct sse_form sse_shuf_forms[] = {
    {0x170, MP_NONE, SF_ANY, SF_MOD_ANY, h_pshufw},
    {0x170, MP_66, SF_ANY, SF_MOD_ANY, h_pshufd},
    {0x170, MP_F3, SF_ANY, SF_MOD_ANY, h_pshufhw},
    {0x170, MP_F2, SF_ANY, SF_MOD_ANY, h_pshuflw},
    {0x1c4, MP_NONE, SF_ANY, SF_MOD_ANY, h_pinsrw_mm},
    {0x1c4, MP_66, SF_ANY, SF_MOD_ANY, h_pinsrw_xmm},
    {0x1c5, MP_NONE, SF_ANY, SF_MOD_REG, h_pextrw_mm},
    {0x1c5, MP_66, SF_ANY, SF_MOD_REG, h_pextrw_xmm},
    {0x1c6, MP_NONE, SF_ANY, SF_MOD_ANY, h_shufps},
    {0x1c6, MP_66, SF_ANY, SF_MOD_ANY, h_shufpd},
    {0x30f, MP_NONE, SF_ANY, SF_MOD_ANY, h_palignr_mm},
    {0x30f, MP_66, SF_ANY, SF_MOD_ANY, h_palignr_xmm},
};
const unsigned sse_shuf_forms_count = sizeof sse_shuf_forms / sizeof sse_shuf_forms[0];
