/* avx_move.c — the VEX instructions that move data rather than compute: loads, stores and
 * register moves (vmov*), vmovss/sd and the 64-bit half moves, vmovd/q, broadcasts, 128-bit lane
 * inserts and extracts, element inserts and extracts, masked moves (vmaskmov, vpmaskmov,
 * vmaskmovdqu), gathers, vzeroupper/vzeroall, vldmxcsr/vstmxcsr; and the ones with a
 * general-register or flags result: vmovmskps/pd, vpmovmskb, vptest/vtestps/pd, [u]comis,
 * conversions to and from general registers, the string compares, vcvtps2ph and the RCP/RSQRT
 * approximations (the SSE family's rule). Plain C except where an arithmetic result is the
 * host's (conversions, compares). Only the aligned moves (vmovaps/apd/dqa, vmovnt*) check
 * alignment: 16 bytes for VEX.128, 32 for VEX.256.
 */
#include "cpu/ops/avx/avx.h"

#define N(i) (avx_l(i) ? 32u : 16u)

/* ---- whole-register loads and stores ---- */

static void mov_load(struct cpu *c, const struct insn *i, bool aligned)
{
    avx_avail(c);
    union ymm v;
    avx_src(c, i, &v, N(i), aligned ? N(i) : 0);
    if (!avx_l(i)) memset(&v.x[1], 0, 16);
    avx_set(c, i->reg, &v);
}

static void mov_store(struct cpu *c, const struct insn *i, bool aligned)
{
    avx_avail(c);
    union ymm v;
    avx_get(c, i->reg, &v);
    if (i->flags & INSN_MEM) {
        avx_store(c, i, &v, N(i), aligned ? N(i) : 0);
        return;
    }
    if (!avx_l(i)) memset(&v.x[1], 0, 16);
    avx_set(c, i->rm, &v);
}

static void h_movu_load(struct cpu *c, const struct insn *i)
{
    mov_load(c, i, false);
}

static void h_mova_load(struct cpu *c, const struct insn *i)
{
    mov_load(c, i, true);
}

static void h_movu_store(struct cpu *c, const struct insn *i)
{
    mov_store(c, i, false);
}

static void h_mova_store(struct cpu *c, const struct insn *i)
{
    mov_store(c, i, true);
}

/* ---- scalar and half moves ---- */

/* vmovss/vmovsd (10/11, F3/F2): a memory load zero-extends; a store writes the element; the
 * register form merges the element into the rest of VEX.vvvv */
static void movs(struct cpu *c, const struct insn *i, unsigned n, bool store)
{
    avx_avail(c);
    if (i->flags & INSN_MEM) {
        if (store) {
            avx_store(c, i, &c->xmm[i->reg], n, 0);
        } else {
            union ymm v;
            avx_src(c, i, &v, n, 0);
            avx_set128(c, i->reg, &v.x[0]);
        }
        return;
    }
    unsigned dst = store ? i->rm : i->reg, src = store ? i->reg : i->rm;
    union xmm r = c->xmm[i->vreg];
    memcpy(r.b, c->xmm[src].b, n);
    avx_set128(c, dst, &r);
}

static void h_movss_load(struct cpu *c, const struct insn *i)
{
    movs(c, i, 4, false);
}

static void h_movsd_load(struct cpu *c, const struct insn *i)
{
    movs(c, i, 8, false);
}

static void h_movss_store(struct cpu *c, const struct insn *i)
{
    movs(c, i, 4, true);
}

static void h_movsd_store(struct cpu *c, const struct insn *i)
{
    movs(c, i, 8, true);
}

/* 12: vmovlps/vmovlpd xmm, vvvv, m64 (low half from memory) or vmovhlps (register: the high
 * half of r/m); 16: vmovhps/vmovhpd (high half from memory) or vmovlhps */
static void h_movlp(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union xmm r = c->xmm[i->vreg];
    if (i->flags & INSN_MEM)
        mem_read(c, i->seg, insn_ea(c, i), &r.q[0], 8);
    else
        r.q[0] = c->xmm[i->rm].q[1];
    avx_set128(c, i->reg, &r);
}

static void h_movhp(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union xmm r = c->xmm[i->vreg];
    if (i->flags & INSN_MEM)
        mem_read(c, i->seg, insn_ea(c, i), &r.q[1], 8);
    else
        r.q[1] = c->xmm[i->rm].q[0];
    avx_set128(c, i->reg, &r);
}

/* 13 / 17: store the low / high half */
static void h_movlp_store(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    avx_store(c, i, &c->xmm[i->reg].q[0], 8, 0);
}

static void h_movhp_store(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    avx_store(c, i, &c->xmm[i->reg].q[1], 8, 0);
}

/* vmovsldup / vmovshdup (per 128-bit lane), vmovddup (VEX.128 reads 8 bytes of memory) */
static void dup32(struct cpu *c, const struct insn *i, unsigned odd)
{
    avx_avail(c);
    union ymm s, r = {{0}};
    avx_src(c, i, &s, N(i), 0);
    for (unsigned k = 0; k < (avx_l(i) ? 8u : 4u); k += 2)
        r.d[k] = r.d[k + 1] = s.d[k + odd];
    avx_set(c, i->reg, &r);
}

static void h_movsldup(struct cpu *c, const struct insn *i)
{
    dup32(c, i, 0);
}

static void h_movshdup(struct cpu *c, const struct insn *i)
{
    dup32(c, i, 1);
}

static void h_movddup(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm s, r = {{0}};
    avx_src(c, i, &s, avx_l(i) ? 32 : 8, 0);
    r.q[0] = r.q[1] = s.q[0];
    if (avx_l(i)) r.q[2] = r.q[3] = s.q[2];
    avx_set(c, i->reg, &r);
}

/* ---- vmovd / vmovq ---- */

/* 6E: vmovd/q xmm, r/m32/64 */
static void h_movd_load(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    unsigned n = (i->flags & INSN_REXW) ? 8 : 4;
    union xmm r = {{0}};
    uint64_t v = (i->flags & INSN_MEM) ? mem_read_n(c, i->seg, insn_ea(c, i), n) : c->gpr[i->rm];
    memcpy(r.b, &v, n);
    avx_set128(c, i->reg, &r);
}

/* 7E (66): vmovd/q r/m32/64, xmm */
static void h_movd_store(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    unsigned n = (i->flags & INSN_REXW) ? 8 : 4;
    uint64_t v = 0;
    memcpy(&v, c->xmm[i->reg].b, n);
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), v, n);
    else
        c->gpr[i->rm] = v;
}

/* 7E (F3): vmovq xmm, xmm/m64; D6: vmovq xmm/m64, xmm — the upper 64 bits become zero */
static void h_movq_load(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm s;
    avx_src(c, i, &s, 8, 0);
    union xmm r = {.q = {s.q[0], 0}};
    avx_set128(c, i->reg, &r);
}

static void h_movq_store(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    if (i->flags & INSN_MEM) {
        avx_store(c, i, &c->xmm[i->reg].q[0], 8, 0);
        return;
    }
    union xmm r = {.q = {c->xmm[i->reg].q[0], 0}};
    avx_set128(c, i->rm, &r);
}

/* ---- vzeroupper / vzeroall, vldmxcsr / vstmxcsr ---- */

static void h_vzero(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    memset(c->ymm_hi, 0, sizeof c->ymm_hi);
    if (avx_l(i)) memset(c->xmm, 0, sizeof c->xmm);
}

static void h_ldstmxcsr(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    uint64_t ea = insn_ea(c, i);
    if (((i->modrm >> 3) & 7) == 3) {
        mem_write_n(c, i->seg, ea, c->mxcsr, 4);
        return;
    }
    uint32_t v = (uint32_t)mem_read_n(c, i->seg, ea, 4);
    if (v & ~MXCSR_WRITABLE) cpu_fault_err(c, EXC_GP, 0);
    c->mxcsr = v;
}

/* ---- broadcasts ---- */

/* the source element: the low `n` bytes of an XMM register or of memory */
static void bcast(struct cpu *c, const struct insn *i, unsigned n)
{
    avx_avail(c);
    union ymm s, r;
    avx_src(c, i, &s, n, 0);
    unsigned total = N(i);
    for (unsigned k = 0; k < total; k += n)
        memcpy(r.b + k, s.b, n);
    if (total == 16) memset(&r.x[1], 0, 16);
    avx_set(c, i->reg, &r);
}

static void h_bcast1(struct cpu *c, const struct insn *i)
{
    bcast(c, i, 1);
}

static void h_bcast2(struct cpu *c, const struct insn *i)
{
    bcast(c, i, 2);
}

static void h_bcast4(struct cpu *c, const struct insn *i)
{
    bcast(c, i, 4);
}

static void h_bcast8(struct cpu *c, const struct insn *i)
{
    bcast(c, i, 8);
}

static void h_bcast16(struct cpu *c, const struct insn *i)
{
    bcast(c, i, 16);
}

/* ---- 128-bit lanes ---- */

/* vinsertf128 / vinserti128 ymm, ymm(vvvv), xmm/m128, imm */
static void h_insert128(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm a, s;
    avx_src(c, i, &s, 16, 0);
    avx_get(c, i->vreg, &a);
    a.x[i->imm & 1] = s.x[0];
    avx_set(c, i->reg, &a);
}

/* vextractf128 / vextracti128 xmm/m128, ymm, imm */
static void h_extract128(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union xmm v = (i->imm & 1) ? c->ymm_hi[i->reg] : c->xmm[i->reg];
    if (i->flags & INSN_MEM)
        avx_store(c, i, &v, 16, 0);
    else
        avx_set128(c, i->rm, &v);
}

/* ---- element inserts and extracts ---- */

static void extract(struct cpu *c, const struct insn *i, unsigned size)
{
    avx_avail(c);
    unsigned k = (unsigned)i->imm & (16 / size - 1);
    uint64_t v = 0;
    memcpy(&v, c->xmm[i->reg].b + k * size, size);
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), v, size);
    else
        c->gpr[i->rm] = v;
}

static void h_pextrb(struct cpu *c, const struct insn *i)
{
    extract(c, i, 1);
}

static void h_pextrw(struct cpu *c, const struct insn *i)
{
    extract(c, i, 2);
}

static void h_pextrd(struct cpu *c, const struct insn *i)
{
    extract(c, i, (i->flags & INSN_REXW) ? 8 : 4);
}

static void h_extractps(struct cpu *c, const struct insn *i)
{
    extract(c, i, 4);
}

/* vpextrw r32, xmm, imm (0F C5: register only, ModRM.reg is the destination) */
static void h_pextrw_c5(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    c->gpr[i->reg] = c->xmm[i->rm].w[i->imm & 7];
}

static void insert(struct cpu *c, const struct insn *i, unsigned size)
{
    avx_avail(c);
    uint64_t v = (i->flags & INSN_MEM) ? mem_read_n(c, i->seg, insn_ea(c, i), size) : c->gpr[i->rm];
    union xmm r = c->xmm[i->vreg];
    memcpy(r.b + ((unsigned)i->imm & (16 / size - 1)) * size, &v, size);
    avx_set128(c, i->reg, &r);
}

static void h_pinsrb(struct cpu *c, const struct insn *i)
{
    insert(c, i, 1);
}

static void h_pinsrw(struct cpu *c, const struct insn *i)
{
    insert(c, i, 2);
}

static void h_pinsrd(struct cpu *c, const struct insn *i)
{
    insert(c, i, (i->flags & INSN_REXW) ? 8 : 4);
}

static void h_insertps(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    unsigned imm = (unsigned)i->imm;
    uint32_t v = (i->flags & INSN_MEM) ? (uint32_t)mem_read_n(c, i->seg, insn_ea(c, i), 4)
                                       : c->xmm[i->rm].d[(imm >> 6) & 3];
    union xmm r = c->xmm[i->vreg];
    r.d[(imm >> 4) & 3] = v;
    for (unsigned k = 0; k < 4; k++)
        if ((imm >> k) & 1) r.d[k] = 0;
    avx_set128(c, i->reg, &r);
}

/* ---- sign-bit masks ---- */

static uint32_t signs(const union ymm *v, unsigned size, unsigned n)
{
    uint32_t m = 0;
    for (unsigned k = 0; k < n; k++)
        m |= (uint32_t)((v->b[k * size + size - 1] >> 7) & 1) << k;
    return m;
}

static void h_movmskps(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm v;
    avx_get(c, i->rm, &v);
    c->gpr[i->reg] = signs(&v, 4, avx_l(i) ? 8 : 4);
}

static void h_movmskpd(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm v;
    avx_get(c, i->rm, &v);
    c->gpr[i->reg] = signs(&v, 8, avx_l(i) ? 4 : 2);
}

static void h_pmovmskb(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm v;
    avx_get(c, i->rm, &v);
    c->gpr[i->reg] = signs(&v, 1, avx_l(i) ? 32 : 16);
}

/* ---- tests: vptest (all bits), vtestps/pd (sign bits) ---- */

static void test_flags(struct cpu *c, const struct insn *i, unsigned size)
{
    avx_avail(c);
    union ymm a, b;
    avx_src(c, i, &b, N(i), 0);
    avx_get(c, i->reg, &a);
    bool zf = true, cf = true;
    for (unsigned k = 0; k < N(i); k++) {
        uint8_t m = size == 1 ? 0xff : (k % size == size - 1 ? 0x80 : 0);
        if (a.b[k] & b.b[k] & m) zf = false;
        if (~a.b[k] & b.b[k] & m) cf = false;
    }
    flags_write(c, (flags_read(c) & ~(uint64_t)F_ARITH) | (zf ? F_ZF : 0) | (cf ? F_CF : 0));
}

static void h_ptest(struct cpu *c, const struct insn *i)
{
    test_flags(c, i, 1);
}

static void h_testps(struct cpu *c, const struct insn *i)
{
    test_flags(c, i, 4);
}

static void h_testpd(struct cpu *c, const struct insn *i)
{
    test_flags(c, i, 8);
}

/* ---- [u]comiss/sd, conversions with general registers ---- */

#define GEN_COMI(name, mn, n)                                                                      \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_avail(c);                                                                              \
        union ymm s;                                                                               \
        avx_src(c, i, &s, n, 0);                                                                   \
        SSE_COMI(c, &c->xmm[i->reg], &s, mn);                                                      \
    }
GEN_COMI(ucomiss, "vucomiss", 4)
GEN_COMI(comiss, "vcomiss", 4)
GEN_COMI(ucomisd, "vucomisd", 8)
GEN_COMI(comisd, "vcomisd", 8)

AVX_HOST_SI2F(si2ss32, "vcvtsi2ssl", uint32_t)
AVX_HOST_SI2F(si2ss64, "vcvtsi2ssq", uint64_t)
AVX_HOST_SI2F(si2sd32, "vcvtsi2sdl", uint32_t)
AVX_HOST_SI2F(si2sd64, "vcvtsi2sdq", uint64_t)

static void h_cvtsi2s(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    bool w = (i->flags & INSN_REXW) != 0, dbl = i->mp == MP_F2;
    uint64_t v = rm_read(c, i, w ? 8 : 4);
    union xmm d;
    uint32_t mx = sse_mx_in(c);
    if (dbl)
        mx = w ? si2sd64(&d, &c->xmm[i->vreg], v, mx)
               : si2sd32(&d, &c->xmm[i->vreg], (uint32_t)v, mx);
    else
        mx = w ? si2ss64(&d, &c->xmm[i->vreg], v, mx)
               : si2ss32(&d, &c->xmm[i->vreg], (uint32_t)v, mx);
    sse_mx_commit(c, mx);
    avx_set128(c, i->reg, &d);
}

SSE_HOST_F2SI(ss2si32, "vcvtss2si", uint32_t)
SSE_HOST_F2SI(ss2si64, "vcvtss2si", uint64_t)
SSE_HOST_F2SI(tss2si32, "vcvttss2si", uint32_t)
SSE_HOST_F2SI(tss2si64, "vcvttss2si", uint64_t)
SSE_HOST_F2SI(sd2si32, "vcvtsd2si", uint32_t)
SSE_HOST_F2SI(sd2si64, "vcvtsd2si", uint64_t)
SSE_HOST_F2SI(tsd2si32, "vcvttsd2si", uint32_t)
SSE_HOST_F2SI(tsd2si64, "vcvttsd2si", uint64_t)

typedef uint32_t (*f2si32_fn)(const union xmm *s, uint32_t *out, uint32_t mx);
typedef uint32_t (*f2si64_fn)(const union xmm *s, uint64_t *out, uint32_t mx);

static inline __attribute__((always_inline)) void f2si(struct cpu *c, const struct insn *i,
                                                       unsigned n, f2si32_fn f32, f2si64_fn f64)
{
    avx_avail(c);
    union ymm s;
    avx_src(c, i, &s, n, 0);
    uint32_t mx = sse_mx_in(c);
    if (i->flags & INSN_REXW) {
        uint64_t r;
        mx = f64(&s.x[0], &r, mx);
        sse_mx_commit(c, mx);
        c->gpr[i->reg] = r;
    } else {
        uint32_t r;
        mx = f32(&s.x[0], &r, mx);
        sse_mx_commit(c, mx);
        c->gpr[i->reg] = r;
    }
}

static void h_cvt2si(struct cpu *c, const struct insn *i)
{
    bool trunc = (i->op & 0xff) == 0x2c;
    if (i->mp == MP_F3)
        f2si(c, i, 4, trunc ? tss2si32 : ss2si32, trunc ? tss2si64 : ss2si64);
    else
        f2si(c, i, 8, trunc ? tsd2si32 : sd2si32, trunc ? tsd2si64 : sd2si64);
}

/* ---- vcvtps2ph (F16C) ---- */

AVX_HOST_PS2PH(hx_ps2ph)

static void h_cvtps2ph(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm s, d;
    avx_get(c, i->reg, &s);
    uint32_t mx = hx_ps2ph(&d, &s, avx_l(i), (unsigned)i->imm, sse_mx_in(c));
    if (!(i->flags & INSN_MEM)) {
        sse_mx_commit(c, mx);
        avx_set(c, i->rm, &d);
        return;
    }
    /* the store's #PF comes before an unmasked exception (as the hardware the suite ran on
     * does), and leaves MXCSR as it was */
    mem_probe_write(c, i->seg, insn_ea(c, i), avx_l(i) ? 16 : 8);
    sse_mx_commit(c, mx);
    avx_store(c, i, &d, avx_l(i) ? 16 : 8, 0);
}

/* ---- RCP / RSQRT: vessel's rule (sse_approx.c) ---- */

static void approx(struct cpu *c, const struct insn *i, uint32_t (*fn)(uint32_t), bool scalar)
{
    avx_avail(c);
    union ymm s, r;
    if (scalar) {
        avx_src(c, i, &s, 4, 0);
        r.x[0] = c->xmm[i->vreg];
        r.d[0] = fn(s.d[0]);
        memset(&r.x[1], 0, 16);
    } else {
        avx_src(c, i, &s, N(i), 0);
        memset(&r, 0, sizeof r);
        for (unsigned k = 0; k < N(i) / 4; k++)
            r.d[k] = fn(s.d[k]);
    }
    avx_set(c, i->reg, &r);
}

static void h_rsqrt(struct cpu *c, const struct insn *i)
{
    approx(c, i, sse_rsqrt_approx, i->mp == MP_F3);
}

static void h_rcp(struct cpu *c, const struct insn *i)
{
    approx(c, i, sse_rcp_approx, i->mp == MP_F3);
}

/* ---- the SSE4.2 string compares, VEX.128 (vpcmpXstrm zeroes bits 255:128 of YMM0) ---- */

#define SSE_HOST_PCMPSTR_CASE_hv_pcmpestri(k) SSE_HOST_PCMPSTR_CASE("vpcmpestri", k)
#define SSE_HOST_PCMPSTR_CASE_hv_pcmpestrm(k) SSE_HOST_PCMPSTR_CASE("vpcmpestrm", k)
#define SSE_HOST_PCMPSTR_CASE_hv_pcmpistri(k) SSE_HOST_PCMPSTR_CASE("vpcmpistri", k)
#define SSE_HOST_PCMPSTR_CASE_hv_pcmpistrm(k) SSE_HOST_PCMPSTR_CASE("vpcmpistrm", k)
SSE_HOST_PCMPSTR(hv_pcmpestri, "vpcmpestri")
SSE_HOST_PCMPSTR(hv_pcmpestrm, "vpcmpestrm")
SSE_HOST_PCMPSTR(hv_pcmpistri, "vpcmpistri")
SSE_HOST_PCMPSTR(hv_pcmpistrm, "vpcmpistrm")

static uint64_t strlen_arg(const struct insn *i, uint64_t v)
{
    int64_t s = (i->flags & INSN_REXW) ? (int64_t)v : (int64_t)(int32_t)v;
    uint64_t m = s < 0 ? -(uint64_t)s : (uint64_t)s;
    return m > 16 ? 16 : m;
}

static void h_pcmpstr(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    union ymm s;
    avx_src(c, i, &s, 16, 0);
    unsigned k = i->op & 3; /* 60 estrm, 61 estri, 62 istrm, 63 istri */
    bool expl = k < 2, index = k & 1;
    uint64_t ax = expl ? strlen_arg(i, c->gpr[R_RAX]) : 0;
    uint64_t dx = expl ? strlen_arg(i, c->gpr[R_RDX]) : 0;
    uint32_t ecx;
    union xmm mask;
    const union xmm *d = &c->xmm[i->reg];
    unsigned imm = (unsigned)i->imm;
    static uint64_t (*const fns[4])(const union xmm *, const union xmm *, unsigned, uint64_t,
                                    uint64_t, uint32_t *, union xmm *) = {
        hv_pcmpestrm, hv_pcmpestri, hv_pcmpistrm, hv_pcmpistri};
    uint64_t fl = fns[k](d, &s.x[0], imm, ax, dx, &ecx, &mask);
    if (index)
        c->gpr[R_RCX] = ecx;
    else
        avx_set128(c, 0, &mask);
    flags_write(c, (flags_read(c) & ~(uint64_t)F_ARITH) | (fl & (F_CF | F_ZF | F_SF | F_OF)));
}

/* ---- masked loads and stores: only the enabled elements are accessed (and can fault) ---- */

static bool elem_on(const union ymm *m, unsigned k, unsigned size)
{
    return (m->b[k * size + size - 1] & 0x80) != 0;
}

static void maskmov_load(struct cpu *c, const struct insn *i, unsigned size)
{
    avx_avail(c);
    union ymm m, r = {{0}};
    avx_get(c, i->vreg, &m);
    uint64_t ea = insn_ea(c, i);
    for (unsigned k = 0; k < N(i) / size; k++)
        if (elem_on(&m, k, size)) mem_read(c, i->seg, ea + k * size, r.b + k * size, size);
    avx_set(c, i->reg, &r);
}

static void maskmov_store(struct cpu *c, const struct insn *i, unsigned size)
{
    avx_avail(c);
    union ymm m, v;
    avx_get(c, i->vreg, &m);
    avx_get(c, i->reg, &v);
    uint64_t ea = insn_ea(c, i);
    for (unsigned k = 0; k < N(i) / size; k++)
        if (elem_on(&m, k, size)) mem_probe_write(c, i->seg, ea + k * size, size);
    for (unsigned k = 0; k < N(i) / size; k++)
        if (elem_on(&m, k, size)) mem_write(c, i->seg, ea + k * size, v.b + k * size, size);
}

static void h_maskmovps_load(struct cpu *c, const struct insn *i)
{
    maskmov_load(c, i, 4);
}

static void h_maskmovpd_load(struct cpu *c, const struct insn *i)
{
    maskmov_load(c, i, 8);
}

static void h_maskmovps_store(struct cpu *c, const struct insn *i)
{
    maskmov_store(c, i, 4);
}

static void h_maskmovpd_store(struct cpu *c, const struct insn *i)
{
    maskmov_store(c, i, 8);
}

static void h_pmaskmov_load(struct cpu *c, const struct insn *i)
{
    maskmov_load(c, i, (i->flags & INSN_REXW) ? 8 : 4);
}

static void h_pmaskmov_store(struct cpu *c, const struct insn *i)
{
    maskmov_store(c, i, (i->flags & INSN_REXW) ? 8 : 4);
}

/* vmaskmovdqu xmm1, xmm2: the bytes of xmm1 whose mask byte (xmm2) has its top bit set go to
 * DS:rDI */
static void h_maskmovdqu(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    const union xmm *v = &c->xmm[i->reg], *m = &c->xmm[i->rm];
    uint64_t ea = c->gpr[R_RDI];
    if (i->addrsize == 4) ea = (uint32_t)ea;
    unsigned seg = (i->flags & INSN_SEGOVR) ? i->seg : SEG_DS;
    for (unsigned k = 0; k < 16; k++)
        if (m->b[k] & 0x80) mem_probe_write(c, seg, ea + k, 1);
    for (unsigned k = 0; k < 16; k++)
        if (m->b[k] & 0x80) mem_write(c, seg, ea + k, &v->b[k], 1);
}

/* ---- gathers (AVX2): element by element, lowest first; each element loaded clears its mask
 * bit, so a fault leaves the instruction restartable with the earlier elements done ---- */

static void gather(struct cpu *c, const struct insn *i)
{
    avx_avail(c);
    const unsigned op = i->op & 0xff;
    const bool w = (i->flags & INSN_REXW) != 0, l = avx_l(i);
    const unsigned esize = w ? 8 : 4, isize = (op & 1) ? 8 : 4;
    /* elements: by the wider of index and data, over 128 or 256 bits */
    const unsigned n = (l ? 32u : 16u) / (esize > isize ? esize : isize);
    union ymm idx, dst, msk;
    avx_get(c, i->index, &idx);
    avx_get(c, i->reg, &dst);
    avx_get(c, i->vreg, &msk);
    uint64_t base = (uint64_t)(int64_t)i->disp;
    if (i->base == REG_RIP)
        base += c->next_rip;
    else if (i->base != REG_NONE)
        base += c->gpr[i->base];
    for (unsigned k = 0; k < n; k++) {
        /* every element is retired in order, active or not: its mask element becomes zero */
        if (elem_on(&msk, k, esize)) {
            int64_t ix = isize == 8 ? (int64_t)idx.q[k] : (int64_t)(int32_t)idx.d[k];
            uint64_t ea = base + ((uint64_t)ix << i->scale);
            if (i->addrsize == 4) ea = (uint32_t)ea;
            mem_read(c, i->seg, ea, dst.b + k * esize, esize);
            avx_set(c, i->reg, &dst);
        }
        memset(msk.b + k * esize, 0, esize);
        avx_set(c, i->vreg, &msk); /* committed before the next access can fault */
    }
    /* done: the mask is all zero, and what lies above the elements is cleared (VEX.128 forms,
     * and the 256-bit ones with a 128-bit destination) */
    const unsigned dbytes = n * esize;
    if (dbytes < 32) memset(dst.b + dbytes, 0, 32 - dbytes);
    memset(&msk, 0, sizeof msk);
    avx_set(c, i->reg, &dst);
    avx_set(c, i->vreg, &msk);
}

#define A(op, mp, w, feat, fn)                                                                     \
    {                                                                                              \
        op, mp, w, feat, AVX_ANY_DIGIT, fn                                                         \
    }

const struct avx_form avx_move_forms[] = {
    A(0x510, MP_NONE, AW_ANY, AF_AVX, h_movu_load),
    A(0x510, MP_66, AW_ANY, AF_AVX, h_movu_load),
    A(0x510, MP_F3, AW_ANY, AF_AVX, h_movss_load),
    A(0x510, MP_F2, AW_ANY, AF_AVX, h_movsd_load),
    A(0x511, MP_NONE, AW_ANY, AF_AVX, h_movu_store),
    A(0x511, MP_66, AW_ANY, AF_AVX, h_movu_store),
    A(0x511, MP_F3, AW_ANY, AF_AVX, h_movss_store),
    A(0x511, MP_F2, AW_ANY, AF_AVX, h_movsd_store),
    A(0x512, MP_NONE, AW_ANY, AF_AVX, h_movlp),
    A(0x512, MP_66, AW_ANY, AF_AVX, h_movlp),
    A(0x512, MP_F3, AW_ANY, AF_AVX, h_movsldup),
    A(0x512, MP_F2, AW_ANY, AF_AVX, h_movddup),
    A(0x513, MP_NONE, AW_ANY, AF_AVX, h_movlp_store),
    A(0x513, MP_66, AW_ANY, AF_AVX, h_movlp_store),
    A(0x516, MP_NONE, AW_ANY, AF_AVX, h_movhp),
    A(0x516, MP_66, AW_ANY, AF_AVX, h_movhp),
    A(0x516, MP_F3, AW_ANY, AF_AVX, h_movshdup),
    A(0x517, MP_NONE, AW_ANY, AF_AVX, h_movhp_store),
    A(0x517, MP_66, AW_ANY, AF_AVX, h_movhp_store),
    A(0x528, MP_NONE, AW_ANY, AF_AVX, h_mova_load),
    A(0x528, MP_66, AW_ANY, AF_AVX, h_mova_load),
    A(0x529, MP_NONE, AW_ANY, AF_AVX, h_mova_store),
    A(0x529, MP_66, AW_ANY, AF_AVX, h_mova_store),
    A(0x52a, MP_F3, AW_ANY, AF_AVX, h_cvtsi2s),
    A(0x52a, MP_F2, AW_ANY, AF_AVX, h_cvtsi2s),
    A(0x52b, MP_NONE, AW_ANY, AF_AVX, h_mova_store),
    A(0x52b, MP_66, AW_ANY, AF_AVX, h_mova_store),
    A(0x52c, MP_F3, AW_ANY, AF_AVX, h_cvt2si),
    A(0x52c, MP_F2, AW_ANY, AF_AVX, h_cvt2si),
    A(0x52d, MP_F3, AW_ANY, AF_AVX, h_cvt2si),
    A(0x52d, MP_F2, AW_ANY, AF_AVX, h_cvt2si),
    A(0x52e, MP_NONE, AW_ANY, AF_AVX, h_ucomiss),
    A(0x52e, MP_66, AW_ANY, AF_AVX, h_ucomisd),
    A(0x52f, MP_NONE, AW_ANY, AF_AVX, h_comiss),
    A(0x52f, MP_66, AW_ANY, AF_AVX, h_comisd),
    A(0x550, MP_NONE, AW_ANY, AF_AVX, h_movmskps),
    A(0x550, MP_66, AW_ANY, AF_AVX, h_movmskpd),
    A(0x552, MP_NONE, AW_ANY, AF_AVX, h_rsqrt),
    A(0x552, MP_F3, AW_ANY, AF_AVX, h_rsqrt),
    A(0x553, MP_NONE, AW_ANY, AF_AVX, h_rcp),
    A(0x553, MP_F3, AW_ANY, AF_AVX, h_rcp),
    A(0x56e, MP_66, AW_ANY, AF_AVX, h_movd_load),
    A(0x56f, MP_66, AW_ANY, AF_AVX, h_mova_load),
    A(0x56f, MP_F3, AW_ANY, AF_AVX, h_movu_load),
    A(0x577, MP_NONE, AW_ANY, AF_AVX, h_vzero),
    A(0x57e, MP_66, AW_ANY, AF_AVX, h_movd_store),
    A(0x57e, MP_F3, AW_ANY, AF_AVX, h_movq_load),
    A(0x57f, MP_66, AW_ANY, AF_AVX, h_mova_store),
    A(0x57f, MP_F3, AW_ANY, AF_AVX, h_movu_store),
    A(0x5ae, MP_NONE, AW_ANY, AF_AVX, h_ldstmxcsr),
    A(0x5c4, MP_66, AW_ANY, AF_AVX, h_pinsrw),
    A(0x5c5, MP_66, AW_ANY, AF_AVX, h_pextrw_c5),
    A(0x5d6, MP_66, AW_ANY, AF_AVX, h_movq_store),
    A(0x5d7, MP_66, AW_ANY, AF_AVXI, h_pmovmskb),
    A(0x5e7, MP_66, AW_ANY, AF_AVX, h_mova_store),
    A(0x5f0, MP_F2, AW_ANY, AF_AVX, h_movu_load),
    A(0x5f7, MP_66, AW_ANY, AF_AVX, h_maskmovdqu),
    A(0x60e, MP_66, AW_0, AF_AVX, h_testps),
    A(0x60f, MP_66, AW_0, AF_AVX, h_testpd),
    A(0x617, MP_66, AW_ANY, AF_AVX, h_ptest),
    A(0x618, MP_66, AW_0, AF_BCAST, h_bcast4),
    A(0x619, MP_66, AW_0, AF_BCAST, h_bcast8),
    A(0x61a, MP_66, AW_0, AF_AVX, h_bcast16),
    A(0x62a, MP_66, AW_ANY, AF_AVXI, h_mova_load),
    A(0x62c, MP_66, AW_0, AF_AVX, h_maskmovps_load),
    A(0x62d, MP_66, AW_0, AF_AVX, h_maskmovpd_load),
    A(0x62e, MP_66, AW_0, AF_AVX, h_maskmovps_store),
    A(0x62f, MP_66, AW_0, AF_AVX, h_maskmovpd_store),
    A(0x658, MP_66, AW_0, AF_AVX2, h_bcast4),
    A(0x659, MP_66, AW_0, AF_AVX2, h_bcast8),
    A(0x65a, MP_66, AW_0, AF_AVX2, h_bcast16),
    A(0x678, MP_66, AW_0, AF_AVX2, h_bcast1),
    A(0x679, MP_66, AW_0, AF_AVX2, h_bcast2),
    A(0x68c, MP_66, AW_ANY, AF_AVX2, h_pmaskmov_load),
    A(0x68e, MP_66, AW_ANY, AF_AVX2, h_pmaskmov_store),
    A(0x690, MP_66, AW_ANY, AF_AVX2, gather),
    A(0x691, MP_66, AW_ANY, AF_AVX2, gather),
    A(0x692, MP_66, AW_ANY, AF_AVX2, gather),
    A(0x693, MP_66, AW_ANY, AF_AVX2, gather),
    A(0x714, MP_66, AW_ANY, AF_AVX, h_pextrb),
    A(0x715, MP_66, AW_ANY, AF_AVX, h_pextrw),
    A(0x716, MP_66, AW_ANY, AF_AVX, h_pextrd),
    A(0x717, MP_66, AW_ANY, AF_AVX, h_extractps),
    A(0x718, MP_66, AW_0, AF_AVX, h_insert128),
    A(0x719, MP_66, AW_0, AF_AVX, h_extract128),
    A(0x71d, MP_66, AW_0, AF_F16C, h_cvtps2ph),
    A(0x720, MP_66, AW_ANY, AF_AVX, h_pinsrb),
    A(0x721, MP_66, AW_ANY, AF_AVX, h_insertps),
    A(0x722, MP_66, AW_ANY, AF_AVX, h_pinsrd),
    A(0x738, MP_66, AW_0, AF_AVX2, h_insert128),
    A(0x739, MP_66, AW_0, AF_AVX2, h_extract128),
    A(0x760, MP_66, AW_ANY, AF_AVX, h_pcmpstr),
    A(0x761, MP_66, AW_ANY, AF_AVX, h_pcmpstr),
    A(0x762, MP_66, AW_ANY, AF_AVX, h_pcmpstr),
    A(0x763, MP_66, AW_ANY, AF_AVX, h_pcmpstr),
};
const unsigned avx_move_forms_count = sizeof avx_move_forms / sizeof avx_move_forms[0];
