/* forms_ext.c — differential forms for the extensions beyond the SSE/x87 table: the XSAVE
 * family (xsave, xrstor, xsaveopt, xsavec in both pointer formats), MOVBE, ADX and CRC32, and
 * the VEX-encoded families as they arrive. Memory forms place their operand anywhere in the
 * data page, including across its end (the next page is unmapped: #PF on both sides), and the
 * XSAVE forms sometimes misalign the area (#GP). Prep hooks steer EDX:EAX to the state
 * components both the host and vessel's model enable (x87 and SSE), and build XSAVE areas that
 * XRSTOR accepts most of the time, with the header, MXCSR and format faults in a minority.
 */
#include <string.h>

#include "cpu/core.h"
#include "diff.h"

#define NB(...) (sizeof((uint8_t[]){__VA_ARGS__}))
#define F(n, fl, pr, ...)                                                                          \
    {                                                                                              \
        .name = n, .bytes = {__VA_ARGS__}, .len = NB(__VA_ARGS__), .flags = fl, .membase = R_RBX,  \
        .prep = pr                                                                                 \
    }

/* ---- the XSAVE family ---- */

/* A random x87 state (sometimes the initial configuration) and XMM file (sometimes all zero):
 * the in-use rule (docs/CPU-MODEL.md) then sees both answers. */
static void xs_random_regs(struct diff_state *s, struct diff_rng *r)
{
    if (diff_rand(r) % 4) {
        s->fx.fcw = (uint16_t)(0x037f | (diff_rand(r) & 0x0f00));
        s->fx.fsw = (uint16_t)(diff_rand(r) & 0x7f00); /* TOP, condition codes; ES clear */
        s->fx.ftw = (uint8_t)diff_rand(r);
        s->fx.fop = (uint16_t)(diff_rand(r) & 0x7ff);
        s->fx.fip = diff_rand(r) >> (diff_rand(r) % 2 ? 16 : 32);
        s->fx.fdp = diff_rand(r) >> (diff_rand(r) % 2 ? 16 : 32);
        for (unsigned k = 0; k < 8; k++) {
            uint64_t m = diff_rand(r);
            uint16_t e = (uint16_t)diff_rand(r);
            memset(s->fx.st[k], 0, 16);
            memcpy(s->fx.st[k], &m, 8);
            memcpy(s->fx.st[k] + 8, &e, 2);
        }
    }
    if (diff_rand(r) % 4 == 0) memset(s->fx.xmm, 0, sizeof s->fx.xmm);
    if (diff_rand(r) % 4 == 0) memset(s->ymmh, 0, sizeof s->ymmh);
    s->fx.mxcsr = 0x1f80 | (uint32_t)(diff_rand(r) & 0x603f);
}

/* RBX: a 64-byte aligned area, sometimes running past the data page (#PF), sometimes
 * misaligned (#GP); EAX: x87, SSE and AVX (where the host has it) in any combination, EDX: anything
 * (no component above bit 31 exists on either side). */
static uint64_t xs_place(struct diff_state *s, struct diff_rng *r)
{
    uint64_t off = 64 * (diff_rand(r) % 8 ? diff_rand(r) % 56 : 56 + diff_rand(r) % 8);
    if (diff_rand(r) % 12 == 0) off += 8 * (1 + diff_rand(r) % 7);
    s->gpr[R_RBX] = DIFF_DATA + off;
    s->gpr[R_RAX] = (diff_rand(r) & ~7ull) << 32 | (diff_rand(r) & (diff_host_avx() ? 7 : 3));
    if (diff_rand(r) % 8 == 0) s->gpr[R_RAX] |= diff_host_avx() ? 7 : 3;
    s->gpr[R_RDX] = diff_rand(r) % 2 ? 0 : diff_rand(r);
    return off;
}

static void prep_xsave(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                       struct diff_rng *r)
{
    (void)f;
    xs_random_regs(s, r);
    uint64_t off = xs_place(s, r);
    /* an AVX region running off the page: keep the AVX state in use, so whether it is
     * written (and faults) does not depend on the host's XINUSE tracking */
    if (off + 832 > DIFF_DATA_SIZE && off + 576 <= DIFF_DATA_SIZE) s->ymmh[5][3] |= 1;
    if (off + 520 <= DIFF_DATA_SIZE && diff_rand(r) % 2) {
        /* XSTATE_BV bits outside RFBM must survive XSAVE */
        uint64_t bv = diff_rand(r) & 0x7;
        memcpy(data + off + 512, &bv, 8);
    }
}

/* An XSAVE area as XSAVE or XSAVEC would have written it, with faults mixed in: reserved
 * MXCSR bits, XSTATE_BV / XCOMP_BV naming components no XCR0 has (bits 8, 62, 63) and
 * non-zero reserved header bytes. */
static void prep_xrstor(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                        struct diff_rng *r)
{
    (void)f;
    xs_random_regs(s, r);
    uint64_t off = xs_place(s, r);
    if (off + 832 > DIFF_DATA_SIZE) return;
    uint8_t *m = data + off;
    struct diff_state t;
    memset(&t, 0, sizeof t);
    xs_random_regs(&t, r);
    for (unsigned k = 0; k < 16; k++)
        for (unsigned b = 0; b < 16; b += 8) {
            uint64_t v = diff_rand(r);
            memcpy(&t.fx.xmm[k][b], &v, 8);
        }
    if (diff_rand(r) % 10 == 0) t.fx.mxcsr |= 1u << (16 + diff_rand(r) % 16);
    t.fx.mxcsr_mask = (uint32_t)diff_rand(r);
    memcpy(m, &t.fx, 464);
    uint8_t hdr[64] = {0};
    const uint64_t all = diff_host_avx() ? 7 : 3;
    for (unsigned k = 0; k < 256; k += 8) {
        uint64_t v = diff_rand(r);
        memcpy(m + 576 + k, &v, 8);
    }
    uint64_t bv = diff_rand(r) & all, comp = 0;
    if (diff_rand(r) % 2) comp = (1ull << 63) | bv | (diff_rand(r) & all);
    switch (diff_rand(r) % 16) {
    case 0: bv |= 1ull << (int[]){8, 62, 63}[diff_rand(r) % 3]; break;
    case 1: comp |= 1ull << (int[]){8, 62}[diff_rand(r) % 2]; break;
    case 2: comp = (comp & ~all) | (diff_rand(r) & all); break; /* XSTATE_BV beyond XCOMP_BV */
    default: break;
    }
    memcpy(hdr, &bv, 8);
    memcpy(hdr + 8, &comp, 8);
    if (diff_rand(r) % 16 == 0) hdr[8 + diff_rand(r) % 56] ^= (uint8_t)(1 + diff_rand(r) % 255);
    memcpy(m + 512, hdr, 64);
}

/* ---- scalar integer extensions ---- */

/* RBX anywhere in the data page at any alignment, one case in eight running over its end (the
 * operand straddles into the unmapped page: #PF) */
static void prep_mem_edge(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                          struct diff_rng *r)
{
    (void)f, (void)data;
    if (diff_rand(r) % 8 == 0)
        s->gpr[R_RBX] = DIFF_DATA + DIFF_DATA_SIZE - 1 - diff_rand(r) % 7;
    else
        s->gpr[R_RBX] = DIFF_DATA + diff_rand(r) % (DIFF_DATA_SIZE - 8);
}

#define M DIFF_MEM | DIFF_FAULTS

/* BMI: the VEX.vvvv operand is EDX/RDX (or R10); index, control and count bytes small half
 * the time so bzhi/bextr/shifts see both sides of the operand width */
static void prep_bmi(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                     struct diff_rng *r)
{
    if (f->flags & DIFF_MEM) prep_mem_edge(f, s, data, r);
    for (unsigned g = R_RDX; g <= R_R10; g += R_R10 - R_RDX)
        if (diff_rand(r) % 2)
            s->gpr[g] = (s->gpr[g] & ~0xffffull) | (diff_rand(r) % 72) | (diff_rand(r) % 72) << 8;
}

#define BMI(n, fl, ...) F(n, fl, prep_bmi, __VA_ARGS__)
#define BMI_UNDEF(n, fl, u, ...)                                                                   \
    {                                                                                              \
        .name = n, .bytes = {__VA_ARGS__}, .len = NB(__VA_ARGS__), .flags = fl, .undef = u,        \
        .membase = R_RBX, .prep = prep_bmi                                                         \
    }

/* ---- SSE4.1 / SSE4.2 ---- */

static const uint64_t fp_special[] = {
    0x0000000000000000, 0x8000000000000000, 0x7ff0000000000000, 0xfff0000000000000,
    0x7ff8000000000000, 0x7ff4000000000000, 0x0000000000000001, 0x800fffffffffffff,
    0x3ff0000000000000, 0xbff8000000000000, 0x3fe0000000000000, 0x4330000000000000,
    0x7f8000003f800000, 0xff800000bf000000, 0x7fc0000000000001, 0x3fc000003f000000,
    0x007fffff80000001, 0x4b0000003fc00000, 0x3effffff3f000001, 0xcb400000bfc00000,
};

static void fill_vec(uint8_t *p, struct diff_rng *r)
{
    for (unsigned k = 0; k < 16; k += 8) {
        uint64_t v = diff_rand(r);
        switch (diff_rand(r) % 4) {
        case 0: v = fp_special[diff_rand(r) % (sizeof fp_special / 8)]; break;
        case 1: v = fp_special[diff_rand(r) % (sizeof fp_special / 8)] + diff_rand(r) % 3; break;
        case 2: v &= 0x80ff00ff80ff00ffull; break; /* small magnitudes and zeros */
        default: break;
        }
        memcpy(p + k, &v, 8);
    }
}

/* RBX: 16-byte aligned mostly, sometimes misaligned (#GP for aligned forms) or running off the
 * end of the data page (#PF) */
static void place_vec(struct diff_state *s, struct diff_rng *r)
{
    uint64_t off = (diff_rand(r) % (DIFF_DATA_SIZE - 32)) & ~15ull;
    switch (diff_rand(r) % 10) {
    case 0: off += 1 + diff_rand(r) % 15; break;
    case 1: off = DIFF_DATA_SIZE - 1 - diff_rand(r) % 15; break;
    default: break;
    }
    s->gpr[R_RBX] = DIFF_DATA + off;
}

static void prep_vec(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                     struct diff_rng *r)
{
    (void)f;
    for (unsigned k = 0; k < 16; k++)
        if (diff_rand(r) % 4) fill_vec(s->fx.xmm[k], r);
    if (diff_rand(r) % 8 == 0) memcpy(s->fx.xmm[2], s->fx.xmm[1], 16);
    place_vec(s, r);
    uint64_t off = s->gpr[R_RBX] - DIFF_DATA;
    if (off + 16 <= DIFF_DATA_SIZE && diff_rand(r) % 4) fill_vec(data + off, r);
    uint32_t mx = 0x1f80 | (uint32_t)(diff_rand(r) & 0x6000);
    if (diff_rand(r) % 8 == 0) mx |= 0x40;
    if (diff_rand(r) % 8 == 0) mx |= 0x8000;
    if (diff_rand(r) % 4 == 0) mx |= (uint32_t)diff_rand(r) & 0x3f;
    /* unmasked invalid / denormal / divide / precision (not overflow/underflow: see
     * forms_sse.c) */
    if (diff_rand(r) % 16 == 0) mx &= ~((uint32_t)diff_rand(r) & 0x1380);
    s->fx.mxcsr = mx;
}

/* dpps/dppd run in stages (products, then sums): with an unmasked exception the flags the
 * host records at the fault depend on the stage, which the engine does not model (it runs the
 * whole instruction masked, then faults): masked exceptions only (docs/CPU-MODEL.md) */
static void prep_vec_masked(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                            struct diff_rng *r)
{
    prep_vec(f, s, data, r);
    s->fx.mxcsr |= 0x1f80;
}

/* strings for the SSE4.2 compares: bytes from a small alphabet with zeros (implicit ends), and
 * explicit lengths in RAX/RDX around and beyond the element counts, either sign */
static void prep_str(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                     struct diff_rng *r)
{
    prep_vec(f, s, data, r);
    static const char alpha[] = "aAbB09 \0\0";
    uint8_t *bufs[3] = {s->fx.xmm[1], s->fx.xmm[2], NULL};
    uint64_t off = s->gpr[R_RBX] - DIFF_DATA;
    if (off + 16 <= DIFF_DATA_SIZE) bufs[2] = data + off;
    for (unsigned b = 0; b < 3; b++)
        if (bufs[b] && diff_rand(r) % 4)
            for (unsigned k = 0; k < 16; k++)
                bufs[b][k] = (uint8_t)alpha[diff_rand(r) % (sizeof alpha - 1)];
    for (unsigned g = R_RAX; g <= R_RDX; g += R_RDX - R_RAX) {
        switch (diff_rand(r) % 4) {
        case 0: s->gpr[g] = diff_rand(r) % 18; break;
        case 1: s->gpr[g] = (uint64_t) - (int64_t)(diff_rand(r) % 18); break;
        case 2: s->gpr[g] = (diff_rand(r) % 18) | (diff_rand(r) << 32); break;
        default: s->gpr[g] = diff_rand_edge(r, 64); break;
        }
    }
}

#define V   DIFF_SSE
#define VM  DIFF_SSE | DIFF_MEM | DIFF_FAULTS
#define VI  DIFF_SSE | DIFF_IMM8
#define VIM DIFF_SSE | DIFF_MEM | DIFF_FAULTS | DIFF_IMM8
/* register and memory forms of a 66 0F 38 op */
#define F38(n, op)                                                                                 \
    F(n " xmm1, xmm2", V, prep_vec, 0x66, 0x0f, 0x38, op, 0xca),                                   \
        F(n " xmm9, xmm14", V, prep_vec, 0x66, 0x45, 0x0f, 0x38, op, 0xce),                        \
        F(n " xmm3, [rbx]", VM, prep_vec, 0x66, 0x0f, 0x38, op, 0x1b)
/* register and memory forms of a 66 0F 3A op with a random imm8 */
#define F3A(n, op, pr)                                                                             \
    F(n " xmm1, xmm2, imm8", VI, pr, 0x66, 0x0f, 0x3a, op, 0xca, 0),                               \
        F(n " xmm9, xmm14, imm8", VI, pr, 0x66, 0x45, 0x0f, 0x3a, op, 0xce, 0),                    \
        F(n " xmm3, [rbx], imm8", VIM, pr, 0x66, 0x0f, 0x3a, op, 0x1b, 0)

#define XS DIFF_SSE | DIFF_X87 | DIFF_MEM | DIFF_FAULTS

/* register and memory forms of an NP 0F 38 op */
#define N38(n, op)                                                                                 \
    F(n " xmm1, xmm2", V, prep_vec, 0x0f, 0x38, op, 0xca),                                         \
        F(n " xmm9, xmm14", V, prep_vec, 0x45, 0x0f, 0x38, op, 0xce),                              \
        F(n " xmm3, [rbx]", VM, prep_vec, 0x0f, 0x38, op, 0x1b)

const struct diff_form forms_ext[] = {
    BMI_UNDEF("andn ecx, edx, ebx", 0, F_AF | F_PF, 0xc4, 0xe2, 0x68, 0xf2, 0xcb),
    BMI_UNDEF("andn rcx, rdx, rbx", 0, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf2, 0xcb),
    BMI_UNDEF("andn r9, r10, r11", 0, F_AF | F_PF, 0xc4, 0x42, 0xa8, 0xf2, 0xcb),
    BMI_UNDEF("andn ecx, edx, [rbx]", M, F_AF | F_PF, 0xc4, 0xe2, 0x68, 0xf2, 0x0b),
    BMI_UNDEF("andn rcx, rdx, [rbx]", M, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf2, 0x0b),
    BMI_UNDEF("blsr edx, ebx", 0, F_AF | F_PF, 0xc4, 0xe2, 0x68, 0xf3, 0xcb),
    BMI_UNDEF("blsr rdx, rbx", 0, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf3, 0xcb),
    BMI_UNDEF("blsr rdx, [rbx]", M, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf3, 0x0b),
    BMI_UNDEF("blsmsk edx, ebx", 0, F_AF | F_PF, 0xc4, 0xe2, 0x68, 0xf3, 0xd3),
    BMI_UNDEF("blsmsk rdx, rbx", 0, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf3, 0xd3),
    BMI_UNDEF("blsmsk edx, [rbx]", M, F_AF | F_PF, 0xc4, 0xe2, 0x68, 0xf3, 0x13),
    BMI_UNDEF("blsi edx, ebx", 0, F_AF | F_PF, 0xc4, 0xe2, 0x68, 0xf3, 0xdb),
    BMI_UNDEF("blsi rdx, rbx", 0, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf3, 0xdb),
    BMI_UNDEF("blsi r10, r11", 0, F_AF | F_PF, 0xc4, 0xc2, 0xa8, 0xf3, 0xdb),
    BMI_UNDEF("blsi rdx, [rbx]", M, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf3, 0x1b),
    BMI_UNDEF("bextr ecx, ebx, edx", 0, F_AF | F_SF | F_PF, 0xc4, 0xe2, 0x68, 0xf7, 0xcb),
    BMI_UNDEF("bextr rcx, rbx, rdx", 0, F_AF | F_SF | F_PF, 0xc4, 0xe2, 0xe8, 0xf7, 0xcb),
    BMI_UNDEF("bextr r9, r11, r10", 0, F_AF | F_SF | F_PF, 0xc4, 0x42, 0xa8, 0xf7, 0xcb),
    BMI_UNDEF("bextr ecx, [rbx], edx", M, F_AF | F_SF | F_PF, 0xc4, 0xe2, 0x68, 0xf7, 0x0b),
    BMI_UNDEF("bzhi ecx, ebx, edx", 0, F_AF | F_PF, 0xc4, 0xe2, 0x68, 0xf5, 0xcb),
    BMI_UNDEF("bzhi rcx, rbx, rdx", 0, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf5, 0xcb),
    BMI_UNDEF("bzhi rcx, [rbx], rdx", M, F_AF | F_PF, 0xc4, 0xe2, 0xe8, 0xf5, 0x0b),
    BMI("pext ecx, edx, ebx", 0, 0xc4, 0xe2, 0x6a, 0xf5, 0xcb),
    BMI("pext rcx, rdx, rbx", 0, 0xc4, 0xe2, 0xea, 0xf5, 0xcb),
    BMI("pext r9, r10, r11", 0, 0xc4, 0x42, 0xaa, 0xf5, 0xcb),
    BMI("pext rcx, rdx, [rbx]", M, 0xc4, 0xe2, 0xea, 0xf5, 0x0b),
    BMI("pdep ecx, edx, ebx", 0, 0xc4, 0xe2, 0x6b, 0xf5, 0xcb),
    BMI("pdep rcx, rdx, rbx", 0, 0xc4, 0xe2, 0xeb, 0xf5, 0xcb),
    BMI("pdep ecx, edx, [rbx]", M, 0xc4, 0xe2, 0x6b, 0xf5, 0x0b),
    BMI("mulx ecx, edx, ebx", 0, 0xc4, 0xe2, 0x6b, 0xf6, 0xcb),
    BMI("mulx rcx, rdx, rbx", 0, 0xc4, 0xe2, 0xeb, 0xf6, 0xcb),
    BMI("mulx rdx, rdx, rbx (same)", 0, 0xc4, 0xe2, 0xeb, 0xf6, 0xd3),
    BMI("mulx r9, r10, r11", 0, 0xc4, 0x42, 0xab, 0xf6, 0xcb),
    BMI("mulx rcx, rdx, [rbx]", M, 0xc4, 0xe2, 0xeb, 0xf6, 0x0b),
    BMI("shlx ecx, ebx, edx", 0, 0xc4, 0xe2, 0x69, 0xf7, 0xcb),
    BMI("shlx rcx, rbx, rdx", 0, 0xc4, 0xe2, 0xe9, 0xf7, 0xcb),
    BMI("shlx rcx, [rbx], rdx", M, 0xc4, 0xe2, 0xe9, 0xf7, 0x0b),
    BMI("sarx ecx, ebx, edx", 0, 0xc4, 0xe2, 0x6a, 0xf7, 0xcb),
    BMI("sarx rcx, rbx, rdx", 0, 0xc4, 0xe2, 0xea, 0xf7, 0xcb),
    BMI("sarx ecx, [rbx], edx", M, 0xc4, 0xe2, 0x6a, 0xf7, 0x0b),
    BMI("shrx ecx, ebx, edx", 0, 0xc4, 0xe2, 0x6b, 0xf7, 0xcb),
    BMI("shrx rcx, rbx, rdx", 0, 0xc4, 0xe2, 0xeb, 0xf7, 0xcb),
    BMI("shrx r9, r11, r10", 0, 0xc4, 0x42, 0xab, 0xf7, 0xcb),
    BMI("shrx rcx, [rbx], rdx", M, 0xc4, 0xe2, 0xeb, 0xf7, 0x0b),
    F("rorx ecx, ebx, imm8", DIFF_IMM8, NULL, 0xc4, 0xe3, 0x7b, 0xf0, 0xcb, 0),
    F("rorx rcx, rbx, imm8", DIFF_IMM8, NULL, 0xc4, 0xe3, 0xfb, 0xf0, 0xcb, 0),
    F("rorx r9, r11, imm8", DIFF_IMM8, NULL, 0xc4, 0x43, 0xfb, 0xf0, 0xcb, 0),
    F("rorx rcx, [rbx], imm8", M | DIFF_IMM8, prep_mem_edge, 0xc4, 0xe3, 0xfb, 0xf0, 0x0b, 0),
    F38("aesimc", 0xdb),
    F38("aesenc", 0xdc),
    F38("aesenclast", 0xdd),
    F38("aesdec", 0xde),
    F38("aesdeclast", 0xdf),
    F3A("aeskeygenassist", 0xdf, prep_vec),
    F3A("pclmulqdq", 0x44, prep_vec),
    N38("sha1nexte", 0xc8),
    N38("sha1msg1", 0xc9),
    N38("sha1msg2", 0xca),
    N38("sha256rnds2", 0xcb),
    N38("sha256msg1", 0xcc),
    N38("sha256msg2", 0xcd),
    F("sha1rnds4 xmm1, xmm2, imm8", VI, prep_vec, 0x0f, 0x3a, 0xcc, 0xca, 0),
    F("sha1rnds4 xmm9, xmm14, imm8", VI, prep_vec, 0x45, 0x0f, 0x3a, 0xcc, 0xce, 0),
    F("sha1rnds4 xmm3, [rbx], imm8", VIM, prep_vec, 0x0f, 0x3a, 0xcc, 0x1b, 0),
    F38("pblendvb", 0x10),
    F38("blendvps", 0x14),
    F38("blendvpd", 0x15),
    F38("ptest", 0x17),
    F3A("roundps", 0x08, prep_vec),
    F3A("roundpd", 0x09, prep_vec),
    F3A("roundss", 0x0a, prep_vec),
    F3A("roundsd", 0x0b, prep_vec),
    F3A("blendps", 0x0c, prep_vec),
    F3A("blendpd", 0x0d, prep_vec),
    F3A("pblendw", 0x0e, prep_vec),
    F3A("dpps", 0x40, prep_vec_masked),
    F3A("dppd", 0x41, prep_vec_masked),
    F3A("mpsadbw", 0x42, prep_vec),
    F3A("pcmpestrm", 0x60, prep_str),
    F3A("pcmpestri", 0x61, prep_str),
    F3A("pcmpistrm", 0x62, prep_str),
    F3A("pcmpistri", 0x63, prep_str),
    F("pcmpestri64 xmm1, xmm2, imm8", VI, prep_str, 0x66, 0x48, 0x0f, 0x3a, 0x61, 0xca, 0),
    F("pcmpestrm64 xmm3, [rbx], imm8", VIM, prep_str, 0x66, 0x48, 0x0f, 0x3a, 0x60, 0x1b, 0),
    F("pextrb ecx, xmm1, imm8", VI, prep_vec, 0x66, 0x0f, 0x3a, 0x14, 0xc9, 0),
    F("pextrb r64, xmm1, imm8 (rex.w)", VI, prep_vec, 0x66, 0x48, 0x0f, 0x3a, 0x14, 0xc9, 0),
    F("pextrb [rbx], xmm1, imm8", VIM, prep_vec, 0x66, 0x0f, 0x3a, 0x14, 0x0b, 0),
    F("pextrw ecx, xmm1, imm8 (0f 3a)", VI, prep_vec, 0x66, 0x0f, 0x3a, 0x15, 0xc9, 0),
    F("pextrw [rbx], xmm1, imm8", VIM, prep_vec, 0x66, 0x0f, 0x3a, 0x15, 0x0b, 0),
    F("pextrd ecx, xmm1, imm8", VI, prep_vec, 0x66, 0x0f, 0x3a, 0x16, 0xc9, 0),
    F("pextrd [rbx], xmm1, imm8", VIM, prep_vec, 0x66, 0x0f, 0x3a, 0x16, 0x0b, 0),
    F("pextrq rcx, xmm1, imm8", VI, prep_vec, 0x66, 0x48, 0x0f, 0x3a, 0x16, 0xc9, 0),
    F("pextrq r13, xmm9, imm8", VI, prep_vec, 0x66, 0x4d, 0x0f, 0x3a, 0x16, 0xcd, 0),
    F("pextrq [rbx], xmm1, imm8", VIM, prep_vec, 0x66, 0x48, 0x0f, 0x3a, 0x16, 0x0b, 0),
    F("extractps ecx, xmm1, imm8", VI, prep_vec, 0x66, 0x0f, 0x3a, 0x17, 0xc9, 0),
    F("extractps rcx, xmm1, imm8 (rex.w)", VI, prep_vec, 0x66, 0x48, 0x0f, 0x3a, 0x17, 0xc9, 0),
    F("extractps [rbx], xmm1, imm8", VIM, prep_vec, 0x66, 0x0f, 0x3a, 0x17, 0x0b, 0),
    F("pinsrb xmm1, ecx, imm8", VI, prep_vec, 0x66, 0x0f, 0x3a, 0x20, 0xc9, 0),
    F("pinsrb xmm1, [rbx], imm8", VIM, prep_vec, 0x66, 0x0f, 0x3a, 0x20, 0x0b, 0),
    F("pinsrd xmm1, ecx, imm8", VI, prep_vec, 0x66, 0x0f, 0x3a, 0x22, 0xc9, 0),
    F("pinsrd xmm1, [rbx], imm8", VIM, prep_vec, 0x66, 0x0f, 0x3a, 0x22, 0x0b, 0),
    F("pinsrq xmm1, rcx, imm8", VI, prep_vec, 0x66, 0x48, 0x0f, 0x3a, 0x22, 0xc9, 0),
    F("pinsrq xmm12, r9, imm8", VI, prep_vec, 0x66, 0x4d, 0x0f, 0x3a, 0x22, 0xe1, 0),
    F("pinsrq xmm1, [rbx], imm8", VIM, prep_vec, 0x66, 0x48, 0x0f, 0x3a, 0x22, 0x0b, 0),
    F("insertps xmm1, xmm2, imm8", VI, prep_vec, 0x66, 0x0f, 0x3a, 0x21, 0xca, 0),
    F("insertps xmm9, xmm14, imm8", VI, prep_vec, 0x66, 0x45, 0x0f, 0x3a, 0x21, 0xce, 0),
    F("insertps xmm1, [rbx], imm8", VIM, prep_vec, 0x66, 0x0f, 0x3a, 0x21, 0x0b, 0),
    F("movbe r32, m32", M, prep_mem_edge, 0x0f, 0x38, 0xf0, 0x13),
    F("movbe r16, m16", M, prep_mem_edge, 0x66, 0x0f, 0x38, 0xf0, 0x13),
    F("movbe r64, m64", M, prep_mem_edge, 0x48, 0x0f, 0x38, 0xf0, 0x13),
    F("movbe r15, m64", M, prep_mem_edge, 0x4c, 0x0f, 0x38, 0xf0, 0x3b),
    F("movbe m32, r32", M, prep_mem_edge, 0x0f, 0x38, 0xf1, 0x13),
    F("movbe m16, r16", M, prep_mem_edge, 0x66, 0x0f, 0x38, 0xf1, 0x13),
    F("movbe m64, r64", M, prep_mem_edge, 0x48, 0x0f, 0x38, 0xf1, 0x13),
    F("crc32 r32, r/m8", 0, NULL, 0xf2, 0x0f, 0x38, 0xf0, 0xd1),
    F("crc32 r32, r/m8 (sil)", 0, NULL, 0xf2, 0x40, 0x0f, 0x38, 0xf0, 0xd6),
    F("crc32 r32, r/m8 (ah)", 0, NULL, 0xf2, 0x0f, 0x38, 0xf0, 0xd4),
    F("crc32 r64, r/m8", 0, NULL, 0xf2, 0x48, 0x0f, 0x38, 0xf0, 0xd1),
    F("crc32 r32, r/m16", 0, NULL, 0x66, 0xf2, 0x0f, 0x38, 0xf1, 0xd1),
    F("crc32 r32, r/m32", 0, NULL, 0xf2, 0x0f, 0x38, 0xf1, 0xd1),
    F("crc32 r64, r/m64", 0, NULL, 0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xd1),
    F("crc32 r9, r/m64 (r14)", 0, NULL, 0xf2, 0x4d, 0x0f, 0x38, 0xf1, 0xce),
    F("crc32 r32, m8", M, prep_mem_edge, 0xf2, 0x0f, 0x38, 0xf0, 0x13),
    F("crc32 r32, m16", M, prep_mem_edge, 0x66, 0xf2, 0x0f, 0x38, 0xf1, 0x13),
    F("crc32 r32, m32", M, prep_mem_edge, 0xf2, 0x0f, 0x38, 0xf1, 0x13),
    F("crc32 r64, m64", M, prep_mem_edge, 0xf2, 0x48, 0x0f, 0x38, 0xf1, 0x13),
    F("adcx r32, r32", 0, NULL, 0x66, 0x0f, 0x38, 0xf6, 0xd1),
    F("adcx r64, r64", 0, NULL, 0x66, 0x48, 0x0f, 0x38, 0xf6, 0xd1),
    F("adcx r32, r32 (same)", 0, NULL, 0x66, 0x0f, 0x38, 0xf6, 0xc0),
    F("adcx r64, m64", M, prep_mem_edge, 0x66, 0x48, 0x0f, 0x38, 0xf6, 0x13),
    F("adcx r32, m32", M, prep_mem_edge, 0x66, 0x0f, 0x38, 0xf6, 0x13),
    F("adox r32, r32", 0, NULL, 0xf3, 0x0f, 0x38, 0xf6, 0xd1),
    F("adox r64, r64", 0, NULL, 0xf3, 0x48, 0x0f, 0x38, 0xf6, 0xd1),
    F("adox r64, r64 (r8, r13)", 0, NULL, 0xf3, 0x4d, 0x0f, 0x38, 0xf6, 0xc5),
    F("adox r64, m64", M, prep_mem_edge, 0xf3, 0x48, 0x0f, 0x38, 0xf6, 0x13),
    F("adox r32, m32", M, prep_mem_edge, 0xf3, 0x0f, 0x38, 0xf6, 0x13),
    F("xsave [rbx]", XS, prep_xsave, 0x0f, 0xae, 0x23),
    F("xsave64 [rbx]", XS, prep_xsave, 0x48, 0x0f, 0xae, 0x23),
    F("xsaveopt [rbx]", XS, prep_xsave, 0x0f, 0xae, 0x33),
    F("xsaveopt64 [rbx]", XS, prep_xsave, 0x48, 0x0f, 0xae, 0x33),
    F("xsavec [rbx]", XS, prep_xsave, 0x0f, 0xc7, 0x23),
    F("xsavec64 [rbx]", XS, prep_xsave, 0x48, 0x0f, 0xc7, 0x23),
    F("xrstor [rbx]", XS, prep_xrstor, 0x0f, 0xae, 0x2b),
    F("xrstor64 [rbx]", XS, prep_xrstor, 0x48, 0x0f, 0xae, 0x2b),
};
const unsigned forms_ext_count = sizeof forms_ext / sizeof forms_ext[0];
