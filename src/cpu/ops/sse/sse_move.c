/* sse_move.c — data movement between XMM/MMX registers, general registers and memory: the
 * mov{u,a}p{s,d}, movs{s,d}, movl/h p{s,d}, movhlps/movlhps, movs{l,h}dup, movddup, movd/movq,
 * movdq{a,u}, lddqu, the non-temporal stores (caching hints are meaningless to an interpreter),
 * mask extraction (movmskp{s,d}, pmovmskb) and the byte-masked stores maskmovq/maskmovdqu.
 */
#include "cpu/ops/sse/sse_common.h"

/* ---- whole-register loads and stores ---- */

static void load128(struct cpu *c, const struct insn *i, bool align)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, align);
    c->xmm[i->reg] = s;
}

static void store128(struct cpu *c, const struct insn *i, bool align)
{
    sse_avail(c);
    if (!(i->flags & INSN_MEM)) {
        c->xmm[i->rm] = c->xmm[i->reg];
        return;
    }
    uint64_t ea = align ? sse_ea_aligned(c, i) : insn_ea(c, i);
    mem_write(c, i->seg, ea, &c->xmm[i->reg], 16);
}

static void h_movu_load(struct cpu *c, const struct insn *i)
{
    load128(c, i, false);
}
static void h_mova_load(struct cpu *c, const struct insn *i)
{
    load128(c, i, true);
}
static void h_movu_store(struct cpu *c, const struct insn *i)
{
    store128(c, i, false);
}
static void h_mova_store(struct cpu *c, const struct insn *i)
{
    store128(c, i, true);
}

/* ---- scalar moves: register-to-register merges the low element; a load zeroes the rest ---- */

static void movs_load(struct cpu *c, const struct insn *i, unsigned n)
{
    sse_avail(c);
    if (i->flags & INSN_MEM) {
        union xmm s;
        sse_src(c, i, &s, n, false);
        c->xmm[i->reg] = s;
    } else {
        memcpy(&c->xmm[i->reg], &c->xmm[i->rm], n);
    }
}

static void movs_store(struct cpu *c, const struct insn *i, unsigned n)
{
    sse_avail(c);
    if (i->flags & INSN_MEM)
        mem_write(c, i->seg, insn_ea(c, i), &c->xmm[i->reg], n);
    else
        memcpy(&c->xmm[i->rm], &c->xmm[i->reg], n);
}

static void h_movss_load(struct cpu *c, const struct insn *i)
{
    movs_load(c, i, 4);
}
static void h_movsd_load(struct cpu *c, const struct insn *i)
{
    movs_load(c, i, 8);
}
static void h_movss_store(struct cpu *c, const struct insn *i)
{
    movs_store(c, i, 4);
}
static void h_movsd_store(struct cpu *c, const struct insn *i)
{
    movs_store(c, i, 8);
}

/* ---- half-register moves ---- */

static uint64_t src_q(struct cpu *c, const struct insn *i, unsigned half)
{
    if (i->flags & INSN_MEM) return mem_read_n(c, i->seg, insn_ea(c, i), 8);
    return c->xmm[i->rm].q[half];
}

/* movlps/movlpd xmm, m64 and movhlps xmm, xmm (low <- m64 / high half of the source) */
static void h_movlps_load(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    c->xmm[i->reg].q[0] = src_q(c, i, 1);
}

/* movhps/movhpd xmm, m64 and movlhps xmm, xmm (high <- m64 / low half of the source) */
static void h_movhps_load(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    c->xmm[i->reg].q[1] = src_q(c, i, 0);
}

static void h_movlps_store(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    mem_write_n(c, i->seg, insn_ea(c, i), c->xmm[i->reg].q[0], 8);
}

static void h_movhps_store(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    mem_write_n(c, i->seg, insn_ea(c, i), c->xmm[i->reg].q[1], 8);
}

static void h_movsldup(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    c->xmm[i->reg] = (union xmm){.d = {s.d[0], s.d[0], s.d[2], s.d[2]}};
}

static void h_movshdup(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    union xmm s;
    sse_src(c, i, &s, 16, true);
    c->xmm[i->reg] = (union xmm){.d = {s.d[1], s.d[1], s.d[3], s.d[3]}};
}

static void h_movddup(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint64_t v = src_q(c, i, 0);
    c->xmm[i->reg] = (union xmm){.q = {v, v}};
}

/* ---- movd / movq ---- */

static unsigned gpr_size(const struct insn *i)
{
    return (i->flags & INSN_REXW) ? 8 : 4;
}

/* 66 0F 6E: movd/movq xmm, r/m32/64 */
static void h_movd_to_xmm(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint64_t v = rm_read(c, i, gpr_size(i));
    c->xmm[i->reg] = (union xmm){.q = {v, 0}};
}

/* 66 0F 7E: movd/movq r/m32/64, xmm */
static void h_movd_from_xmm(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    rm_write(c, i, gpr_size(i), c->xmm[i->reg].q[0]);
}

/* 0F 6E: movd/movq mm, r/m32/64 */
static void h_movd_to_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint64_t v = rm_read(c, i, gpr_size(i));
    mmx_mode(c);
    mm_set(c, i->reg, v);
}

/* 0F 7E: movd/movq r/m32/64, mm */
static void h_movd_from_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    rm_write(c, i, gpr_size(i), mm_get(c, i->reg));
    mmx_mode(c);
}

/* 0F 6F: movq mm, mm/m64 */
static void h_movq_to_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint64_t v = mmx_src(c, i, 8);
    mmx_mode(c);
    mm_set(c, i->reg, v);
}

/* 0F 7F / 0F E7: movq mm/m64, mm (movntq is its memory-only twin) */
static void h_movq_from_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), mm_get(c, i->reg), 8);
    else
        mm_set(c, i->rm, mm_get(c, i->reg));
    mmx_mode(c);
}

/* F3 0F 7E: movq xmm, xmm/m64 (zeroes the high half) */
static void h_movq_load(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint64_t v = src_q(c, i, 0);
    c->xmm[i->reg] = (union xmm){.q = {v, 0}};
}

/* 66 0F D6: movq xmm/m64, xmm (a register destination's high half is zeroed) */
static void h_movq_store(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), c->xmm[i->reg].q[0], 8);
    else
        c->xmm[i->rm] = (union xmm){.q = {c->xmm[i->reg].q[0], 0}};
}

/* F3 0F D6: movq2dq xmm, mm */
static void h_movq2dq(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    mmx_check(c);
    c->xmm[i->reg] = (union xmm){.q = {mm_get(c, i->rm), 0}};
    mmx_mode(c);
}

/* F2 0F D6: movdq2q mm, xmm */
static void h_movdq2q(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    mmx_check(c);
    mmx_mode(c);
    mm_set(c, i->reg, c->xmm[i->rm].q[0]);
}

/* 0F C3: movnti m32/64, r32/64 (a general-register store; no SSE state involved) */
static void h_movnti(struct cpu *c, const struct insn *i)
{
    unsigned n = gpr_size(i);
    mem_write_n(c, i->seg, insn_ea(c, i), c->gpr[i->reg] & size_mask(n), n);
}

/* ---- masks ---- */

static void h_movmskps(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    const union xmm *s = &c->xmm[i->rm];
    uint32_t m = 0;
    for (unsigned k = 0; k < 4; k++)
        m |= (s->d[k] >> 31) << k;
    c->gpr[i->reg] = m;
}

static void h_movmskpd(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    const union xmm *s = &c->xmm[i->rm];
    c->gpr[i->reg] = (s->q[0] >> 63) | ((s->q[1] >> 63) << 1);
}

static uint32_t byte_signs(const uint8_t *b, unsigned n)
{
    uint32_t m = 0;
    for (unsigned k = 0; k < n; k++)
        m |= (uint32_t)(b[k] >> 7) << k;
    return m;
}

static void h_pmovmskb_xmm(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    c->gpr[i->reg] = byte_signs(c->xmm[i->rm].b, 16);
}

static void h_pmovmskb_mm(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint64_t v = mm_get(c, i->rm);
    mmx_mode(c);
    c->gpr[i->reg] = byte_signs((const uint8_t *)&v, 8);
}

/* maskmovq / maskmovdqu: store the bytes whose mask byte has its top bit set, at DS:rDI
 * (segment overridable). Bytes are written one at a time, as a fault may leave part done. */
static void maskmov(struct cpu *c, const struct insn *i, const uint8_t *v, const uint8_t *m,
                    unsigned n)
{
    uint64_t base = c->gpr[R_RDI] & size_mask(i->addrsize);
    unsigned seg = (i->flags & INSN_SEGOVR) ? i->seg : SEG_DS;
    for (unsigned k = 0; k < n; k++)
        if (m[k] & 0x80) mem_write_n(c, seg, (base + k) & size_mask(i->addrsize), v[k], 1);
}

static void h_maskmovdqu(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    maskmov(c, i, c->xmm[i->reg].b, c->xmm[i->rm].b, 16);
}

static void h_maskmovq(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    uint64_t v = mm_get(c, i->reg), m = mm_get(c, i->rm);
    maskmov(c, i, (const uint8_t *)&v, (const uint8_t *)&m, 8);
    mmx_mode(c);
}

const struct sse_form sse_move_forms[] = {
    {0x110, MP_NONE, SF_ANY, SF_MOD_ANY, h_movu_load},
    {0x110, MP_66, SF_ANY, SF_MOD_ANY, h_movu_load},
    {0x110, MP_F3, SF_ANY, SF_MOD_ANY, h_movss_load},
    {0x110, MP_F2, SF_ANY, SF_MOD_ANY, h_movsd_load},
    {0x111, MP_NONE, SF_ANY, SF_MOD_ANY, h_movu_store},
    {0x111, MP_66, SF_ANY, SF_MOD_ANY, h_movu_store},
    {0x111, MP_F3, SF_ANY, SF_MOD_ANY, h_movss_store},
    {0x111, MP_F2, SF_ANY, SF_MOD_ANY, h_movsd_store},
    {0x112, MP_NONE, SF_ANY, SF_MOD_ANY, h_movlps_load}, /* movlps m64 / movhlps */
    {0x112, MP_66, SF_ANY, SF_MOD_MEM, h_movlps_load},   /* movlpd */
    {0x112, MP_F3, SF_ANY, SF_MOD_ANY, h_movsldup},
    {0x112, MP_F2, SF_ANY, SF_MOD_ANY, h_movddup},
    {0x113, MP_NONE, SF_ANY, SF_MOD_MEM, h_movlps_store},
    {0x113, MP_66, SF_ANY, SF_MOD_MEM, h_movlps_store},
    {0x116, MP_NONE, SF_ANY, SF_MOD_ANY, h_movhps_load}, /* movhps m64 / movlhps */
    {0x116, MP_66, SF_ANY, SF_MOD_MEM, h_movhps_load},   /* movhpd */
    {0x116, MP_F3, SF_ANY, SF_MOD_ANY, h_movshdup},
    {0x117, MP_NONE, SF_ANY, SF_MOD_MEM, h_movhps_store},
    {0x117, MP_66, SF_ANY, SF_MOD_MEM, h_movhps_store},
    {0x128, MP_NONE, SF_ANY, SF_MOD_ANY, h_mova_load},
    {0x128, MP_66, SF_ANY, SF_MOD_ANY, h_mova_load},
    {0x129, MP_NONE, SF_ANY, SF_MOD_ANY, h_mova_store},
    {0x129, MP_66, SF_ANY, SF_MOD_ANY, h_mova_store},
    {0x12b, MP_NONE, SF_ANY, SF_MOD_MEM, h_mova_store}, /* movntps */
    {0x12b, MP_66, SF_ANY, SF_MOD_MEM, h_mova_store},   /* movntpd */
    {0x150, MP_NONE, SF_ANY, SF_MOD_REG, h_movmskps},
    {0x150, MP_66, SF_ANY, SF_MOD_REG, h_movmskpd},
    {0x16e, MP_NONE, SF_ANY, SF_MOD_ANY, h_movd_to_mm},
    {0x16e, MP_66, SF_ANY, SF_MOD_ANY, h_movd_to_xmm},
    {0x16f, MP_NONE, SF_ANY, SF_MOD_ANY, h_movq_to_mm},
    {0x16f, MP_66, SF_ANY, SF_MOD_ANY, h_mova_load}, /* movdqa */
    {0x16f, MP_F3, SF_ANY, SF_MOD_ANY, h_movu_load}, /* movdqu */
    {0x17e, MP_NONE, SF_ANY, SF_MOD_ANY, h_movd_from_mm},
    {0x17e, MP_66, SF_ANY, SF_MOD_ANY, h_movd_from_xmm},
    {0x17e, MP_F3, SF_ANY, SF_MOD_ANY, h_movq_load},
    {0x17f, MP_NONE, SF_ANY, SF_MOD_ANY, h_movq_from_mm},
    {0x17f, MP_66, SF_ANY, SF_MOD_ANY, h_mova_store}, /* movdqa */
    {0x17f, MP_F3, SF_ANY, SF_MOD_ANY, h_movu_store}, /* movdqu */
    {0x1c3, MP_NONE, SF_ANY, SF_MOD_MEM, h_movnti},
    {0x1d6, MP_66, SF_ANY, SF_MOD_ANY, h_movq_store},
    {0x1d6, MP_F3, SF_ANY, SF_MOD_REG, h_movq2dq},
    {0x1d6, MP_F2, SF_ANY, SF_MOD_REG, h_movdq2q},
    {0x1d7, MP_NONE, SF_ANY, SF_MOD_REG, h_pmovmskb_mm},
    {0x1d7, MP_66, SF_ANY, SF_MOD_REG, h_pmovmskb_xmm},
    {0x1e7, MP_NONE, SF_ANY, SF_MOD_MEM, h_movq_from_mm}, /* movntq */
    {0x1e7, MP_66, SF_ANY, SF_MOD_MEM, h_mova_store},     /* movntdq */
    {0x1f0, MP_F2, SF_ANY, SF_MOD_MEM, h_movu_load},      /* lddqu */
    {0x1f7, MP_NONE, SF_ANY, SF_MOD_REG, h_maskmovq},
    {0x1f7, MP_66, SF_ANY, SF_MOD_REG, h_maskmovdqu},
    {0x22a, MP_66, SF_ANY, SF_MOD_MEM, h_mova_load}, /* movntdqa (SSE4.1) */
};
const unsigned sse_move_forms_count = sizeof sse_move_forms / sizeof sse_move_forms[0];
