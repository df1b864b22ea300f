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
    s->fx.mxcsr = 0x1f80 | (uint32_t)(diff_rand(r) & 0x603f);
}

/* RBX: a 64-byte aligned area, sometimes running past the data page (#PF), sometimes
 * misaligned (#GP); EAX: x87 and SSE in any combination, EDX: anything (no component above
 * bit 31 exists on either side). */
static uint64_t xs_place(struct diff_state *s, struct diff_rng *r)
{
    uint64_t off = 64 * (diff_rand(r) % 8 ? diff_rand(r) % 56 : 56 + diff_rand(r) % 8);
    if (diff_rand(r) % 12 == 0) off += 8 * (1 + diff_rand(r) % 7);
    s->gpr[R_RBX] = DIFF_DATA + off;
    s->gpr[R_RAX] = (diff_rand(r) & ~7ull) << 32 | (diff_rand(r) & 3);
    if (diff_rand(r) % 8 == 0) s->gpr[R_RAX] |= 3;
    s->gpr[R_RDX] = diff_rand(r) % 2 ? 0 : diff_rand(r);
    return off;
}

static void prep_xsave(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                       struct diff_rng *r)
{
    (void)f;
    xs_random_regs(s, r);
    uint64_t off = xs_place(s, r);
    if (off + 520 <= DIFF_DATA_SIZE && diff_rand(r) % 2) {
        /* XSTATE_BV bits outside RFBM must survive XSAVE */
        uint64_t bv = diff_rand(r) & 0x3;
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
    if (off + 576 > DIFF_DATA_SIZE) return;
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
    uint64_t bv = diff_rand(r) & 3, comp = 0;
    if (diff_rand(r) % 2) comp = (1ull << 63) | bv | (diff_rand(r) & 3);
    switch (diff_rand(r) % 16) {
    case 0: bv |= 1ull << (int[]){8, 62, 63}[diff_rand(r) % 3]; break;
    case 1: comp |= 1ull << (int[]){8, 62}[diff_rand(r) % 2]; break;
    case 2: comp = (comp & ~3ull) | (diff_rand(r) & 3); break; /* XSTATE_BV beyond XCOMP_BV */
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

#define XS DIFF_SSE | DIFF_X87 | DIFF_MEM | DIFF_FAULTS

const struct diff_form forms_ext[] = {
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
