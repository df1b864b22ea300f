/* test_decode_zydis.c — cross-checks the decoder against libzydis, an independent decoder.
 * (a) a million deterministic pseudo-random byte strings, biased toward prefixes, REX and the
 *     escape maps: every string we decode must be valid for zydis with the same length, ModRM,
 *     displacement, immediate values, address and operand size, register and memory operands
 *     (base, index, scale, segment), and INSN_BRANCH on every branch, interrupt and I/O
 *     instruction; a truncated copy must be DECODE_SHORT.
 * (b) strings zydis accepts but we reject are counted per opcode and reported as TAP comments
 *     (#UD for what vessel does not implement, e.g. VEX/EVEX, is allowed).
 * (exhaustive) every opcode of the four maps x every ModRM byte x none/66/F3/F2 x four REX
 *     values, with the same agreement required as in (a).
 * (c) with VESSEL_VMLINUX naming an uncompressed vmlinux, its executable sections are walked
 *     with zydis marking the instruction boundaries; every instruction we decode must match
 *     zydis in length, and where zydis sees no valid instruction we must reject too. */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Zydis/Zydis.h>

#include "check.h"
#include "cpu/decode/decode.h"

static ZydisDecoder zdec;

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Rejections by zydis's view of the opcode: legacy maps 0..3 by byte, then one bucket per
 * non-legacy encoding (VEX, EVEX, XOP, 3DNow!). */
enum { REJ_VEX = 4 * 256, REJ_EVEX, REJ_XOP, REJ_3DNOW, REJ_OTHER, REJ_COUNT };
struct rejects {
    uint64_t n[REJ_COUNT];
    uint8_t sample[REJ_COUNT][15]; /* first example seen, for the report */
    uint8_t sample_len[REJ_COUNT];
};

static void rejects_add(struct rejects *r, const ZydisDecodedInstruction *zi, const uint8_t *b)
{
    unsigned k;
    switch (zi->encoding) {
    case ZYDIS_INSTRUCTION_ENCODING_LEGACY:
        k = zi->opcode_map <= ZYDIS_OPCODE_MAP_0F3A ? zi->opcode_map * 256u + zi->opcode
                                                    : REJ_OTHER;
        break;
    case ZYDIS_INSTRUCTION_ENCODING_VEX: k = REJ_VEX; break;
    case ZYDIS_INSTRUCTION_ENCODING_EVEX: k = REJ_EVEX; break;
    case ZYDIS_INSTRUCTION_ENCODING_XOP: k = REJ_XOP; break;
    case ZYDIS_INSTRUCTION_ENCODING_3DNOW: k = REJ_3DNOW; break;
    default: k = REJ_OTHER; break;
    }
    if (!r->n[k]++) {
        memcpy(r->sample[k], b, zi->length);
        r->sample_len[k] = zi->length;
    }
}

static void rejects_report(const char *what, const struct rejects *r)
{
    static const char *const names[] = {"VEX", "EVEX", "XOP", "3DNow!", "other"};
    uint64_t total = 0;
    for (unsigned k = 0; k < REJ_COUNT; k++)
        total += r->n[k];
    printf("# %s: %" PRIu64 " encodings zydis accepts and vessel rejects (#UD)\n", what, total);
    for (unsigned k = 0; k < REJ_COUNT; k++) {
        if (!r->n[k]) continue;
        char hex[64] = "";
        for (unsigned j = 0; j < r->sample_len[k]; j++)
            snprintf(hex + 3 * j, sizeof hex - 3 * j, "%02x ", r->sample[k][j]);
        if (k < REJ_VEX)
            printf("#   %s%02x: %8" PRIu64 "  e.g. %s\n",
                   (const char *[]){"", "0f ", "0f38 ", "0f3a "}[k >> 8], k & 0xff, r->n[k], hex);
        else
            printf("#   %s: %8" PRIu64 "  e.g. %s\n", names[k - REJ_VEX], r->n[k], hex);
    }
}

static void hexdump(const char *why, const uint8_t *b, unsigned n)
{
    fprintf(stderr, "# %s:", why);
    for (unsigned j = 0; j < n; j++)
        fprintf(stderr, " %02x", b[j]);
    fprintf(stderr, "\n");
}

/* Opcodes whose operand size zydis reports differently, for reasons that do not matter:
 * - ins/outs (6C..6F) with REX.W: zydis gives the effective operand size 64; vessel's opsize
 *   is the data size moved, which stops at 32 bits (REX.W is ignored, as for in/out).
 * - 0F 01 (invlpg and friends), 0F 05/07 (syscall/sysret), 0F 0D and 0F 18..1F (prefetch and
 *   hint NOPs), 0F AE (fences, clflush, xsave), 0F C7 (cmpxchg8b/16b, rdrand, vmptrld...):
 *   their operand size is fixed by the instruction or selected by REX.W alone, never by 66;
 *   handlers look at INSN_REXW. */
static bool opsize_exempt(const struct insn *in)
{
    switch (in->op) {
    case 0x06c:
    case 0x06d:
    case 0x06e:
    case 0x06f:
    case 0x101:
    case 0x105:
    case 0x107:
    case 0x10d:
    case 0x1ae:
    case 0x1c7: return true;
    default: return in->op >= 0x118 && in->op <= 0x11f;
    }
}

/* Compare our record with zydis's raw fields for an instruction both decoded. Returns 0 if they
 * agree. */
static int compare_fields(const struct insn *in, const ZydisDecodedInstruction *zi)
{
    const ZydisDecodedInstructionRaw *raw = &zi->raw;
    if (zi->attributes & ZYDIS_ATTRIB_HAS_MODRM) {
        unsigned m = raw->modrm.mod << 6 | raw->modrm.reg << 3 | raw->modrm.rm;
        if (m != in->modrm) return 1;
    }
    /* (MPX 0F 1A/1B: zydis reports 64-bit addressing despite 67; vessel decodes hint NOPs) */
    if (zi->address_width != in->addrsize * 8 && in->op != 0x11a && in->op != 0x11b) return 2;
    uint64_t disp = raw->disp.size ? (uint64_t)raw->disp.value : 0;
    const bool moffs = in->op >= 0xa0 && in->op <= 0xa3;
    if (moffs) {
        /* zydis keeps the absolute address of mov moffs as a displacement; we keep it in imm */
        /* zydis sign-extends a 32-bit (67-prefixed) address; it is an address-size value */
        const uint64_t amask = in->addrsize == 8 ? ~0ull : 0xffffffffull;
        if ((disp & amask) != in->imm || in->disp != 0 || (in->flags & INSN_MEM)) return 3;
    } else if ((uint64_t)(int64_t)in->disp != disp) {
        return 3;
    }
    /* VEX: opsize is the general-register operand's size (BMI, vmovd/q, vcvtsi2ss...); zydis
     * gives the vector width for the rest */
    const bool vex_vec = (in->flags & INSN_VEX) && zi->operand_width > 64;
    if (zi->operand_width != in->opsize * 8 && !opsize_exempt(in) && !vex_vec &&
        !((in->flags & INSN_VEX) && zi->operand_width < 32))
        return 6;
    if (in->flags & INSN_VEX) {
        if (zi->encoding != ZYDIS_INSTRUCTION_ENCODING_VEX) return 8;
        if (!!(in->flags & INSN_VEXL) != (raw->vex.L != 0)) return 9;
        if ((in->op >> 8) - 4 != raw->vex.m_mmmm) return 8;
        if (in->mp != raw->vex.pp) return 8;
    }
    /* control transfers and I/O must end a block */
    switch (zi->meta.category) {
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET:
    case ZYDIS_CATEGORY_IO:
    case ZYDIS_CATEGORY_IOSTRINGOP:
        if (!(in->flags & INSN_BRANCH)) return 7;
        break;
    default: break;
    }
    if (raw->imm[0].size && !moffs) {
        /* the full 64-bit value: zydis's signedness matches our sign/zero-extension rules */
        uint64_t mask = raw->imm[0].size >= 64 ? ~0ull : (1ull << raw->imm[0].size) - 1;
        uint64_t want =
            raw->imm[0].is_signed ? (uint64_t)raw->imm[0].value.s : raw->imm[0].value.u & mask;
        if (want != in->imm) return 4;
        if (raw->imm[1].size && raw->imm[1].value.u != in->imm2) return 5;
    }
    return 0;
}

/* Our register number for a zydis register operand: 0..15 for general, XMM and MMX
 * registers, 4..7 for AH..BH, REG_RIP, REG_NONE; -1 for classes we do not compare. */
static int zreg(ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE) return REG_NONE;
    if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP) return REG_RIP;
    if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return 4 + (r - ZYDIS_REGISTER_AH);
    switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
    case ZYDIS_REGCLASS_GPR16:
    case ZYDIS_REGCLASS_GPR32:
    case ZYDIS_REGCLASS_GPR64:
        return ZydisRegisterGetId(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r));
    case ZYDIS_REGCLASS_XMM:
    case ZYDIS_REGCLASS_YMM: return ZydisRegisterGetId(r);
    default: return -1;
    }
}

/* Compare the explicit operands zydis found with ours: the ModRM memory operand (base, index,
 * scale, segment), the ModRM register operands and +r registers. Returns 0 if they agree. */
static int compare_operands(const struct insn *in, const ZydisDecodedInstruction *zi,
                            const ZydisDecodedOperand *ops)
{
    bool zmem = false;
    for (unsigned k = 0; k < zi->operand_count_visible; k++) {
        const ZydisDecodedOperand *o = &ops[k];
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_RM) {
            zmem = true;
            if (!(in->flags & INSN_MEM)) return 10;
            if (in->op == 0x11a || in->op == 0x11b)
                continue; /* MPX: vessel decodes hint NOPs (see zydis_quirk) */
            /* Zydis quirk: with 67 and REX.B, the SIB no-base form (mod 00, base 101) is
             * reported as base r13d although zydis does consume the disp32 that replaces the
             * base (Intel SDM Table 2-5: REX.B does not matter for this encoding). */
            const bool r13d_quirk =
                in->addrsize == 4 && in->base == REG_NONE && o->mem.base == ZYDIS_REGISTER_R13D;
            if (zreg(o->mem.base) != in->base && !r13d_quirk) return 11;
            if (zreg(o->mem.index) != in->index) return 12;
            if (in->index != REG_NONE && o->mem.scale != 1u << in->scale) return 13;
            /* zydis names an ignored CS/DS/ES/SS override as the segment; only FS/GS and the
             * default matter in 64-bit mode */
            if (o->mem.type != ZYDIS_MEMOP_TYPE_MEM)
                continue; /* lea computes an address: no segment */
            const ZydisRegister zs = o->mem.segment;
            const unsigned want = zs == ZYDIS_REGISTER_FS   ? SEG_FS
                                  : zs == ZYDIS_REGISTER_GS ? SEG_GS
                                  : zs == ZYDIS_REGISTER_SS ? SEG_SS
                                                            : SEG_DS;
            if (want != in->seg && (zi->attributes & ZYDIS_ATTRIB_HAS_SEGMENT) == 0) return 14;
            if ((zs == ZYDIS_REGISTER_FS || zs == ZYDIS_REGISTER_GS) && want != in->seg) return 14;
        } else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            const int r = zreg(o->reg.value);
            if (r < 0) continue;
            if (o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG && r != in->reg) return 15;
            if (o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_RM && r != in->rm) return 16;
            if (o->encoding == ZYDIS_OPERAND_ENCODING_OPCODE && r != in->reg) return 17;
            if (o->encoding == ZYDIS_OPERAND_ENCODING_NDSNDD && r != in->vreg) return 19;
            if (o->encoding == ZYDIS_OPERAND_ENCODING_IS4 && r != (int)((in->imm >> 4) & 15))
                return 20;
        }
    }
    if ((in->flags & INSN_MEM) && !zmem) return 18;
    return 0;
}

/* Zydis quirks tolerated when we decode something it rejects. Each entry says why. */
static bool zydis_quirk(const struct insn *in)
{
    switch (in->op) {
    case 0x11a:
    case 0x11b:
        /* 0F 1A / 0F 1B: zydis decodes these as MPX (bndldx, bndcl, ...) and rejects bound
         * register numbers above 3 and forms MPX leaves undefined. CPUs without MPX (all
         * current ones, and the CPU vessel models) execute every 0F 1A/1B /r as a hint NOP,
         * so vessel decodes them all. */
        return true;
    default: return false;
    }
}

static void test_random(void)
{
    static const uint8_t pfx[] = {0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e,
                                  0x26, 0x64, 0x65, 0x36, 0x66, 0xf3, 0xf2};
    static struct rejects rej;
    uint64_t ours = 0, agree = 0, bad = 0, shown = 0, fields_bad = 0;
    const unsigned count = 1000000;
    for (unsigned n = 0; n < count; n++) {
        uint8_t b[15];
        for (unsigned j = 0; j < 15; j += 8) {
            uint64_t r = rng();
            memcpy(b + j, &r, 15 - j < 8 ? 15 - j : 8);
        }
        uint64_t r = rng();
        if (r & 7) { /* 1 in 8 stays fully random */
            unsigned p = 0, npfx = (r >> 3) % 5;
            if (npfx == 4) npfx = 1;
            for (unsigned j = 0; j < npfx; j++)
                b[p++] = pfx[(r >> (8 + 4 * j)) % sizeof pfx];
            if ((r >> 30) & 1) b[p++] = 0x40 | ((r >> 31) & 15);
            switch ((r >> 36) % 6) {
            case 0:
            case 1: break; /* one-byte opcode */
            case 2:
            case 3: b[p] = 0x0f; break;
            case 4:
                b[p] = 0x0f;
                b[p + 1] = 0x38;
                break;
            default:
                b[p] = 0x0f;
                b[p + 1] = 0x3a;
                break;
            }
            /* register-form ModRM is rare in random bytes for mod==3 groups; nudge half */
            if ((r >> 40) & 1) b[p + 3] |= 0xc0;
        }

        struct insn in;
        int len = decode_insn(&in, b, sizeof b, MODE_LONG64);
        ZydisDecodedInstruction zi;
        ZydisDecoderContext zctx;
        bool zok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&zdec, &zctx, b, sizeof b, &zi));
        if (len > 0) {
            ours++;
            int why = 0;
            if (!zok) {
                if (zydis_quirk(&in)) continue;
                why = 100;
            } else if (zi.length != len) {
                why = 101;
            } else if ((why = compare_fields(&in, &zi)) != 0) {
                fields_bad++;
            } else {
                ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                if (!ZYAN_SUCCESS(ZydisDecoderDecodeOperands(&zdec, &zctx, &zi, ops,
                                                             ZYDIS_MAX_OPERAND_COUNT)))
                    why = 102;
                else
                    why = compare_operands(&in, &zi, ops);
                if (why) fields_bad++;
            }
            if (why) {
                bad++;
                if (shown++ < 40) {
                    char w[64];
                    snprintf(w, sizeof w, "mismatch %d (ours len %d, zydis %s len %d)", why, len,
                             zok ? "ok" : "invalid", zok ? zi.length : 0);
                    hexdump(w, b, sizeof b);
                }
                continue;
            }
            agree++;
            struct insn tmp;
            if (decode_insn(&tmp, b, (unsigned)len - 1, MODE_LONG64) != DECODE_SHORT) {
                bad++;
                if (shown++ < 40) hexdump("truncated copy is not DECODE_SHORT", b, (unsigned)len);
            }
        } else if (zok) {
            rejects_add(&rej, &zi, b);
        }
    }
    printf("# random: %u strings, %" PRIu64 " decoded by vessel, %" PRIu64 " agree, %" PRIu64
           " disagree (%" PRIu64 " in fields)\n",
           count, ours, agree, bad, fields_bad);
    rejects_report("random", &rej);
    CHECK_EQ(bad, 0);
    CHECK(ours > count / 4); /* the generator must exercise the decoder, not just #UD paths */
}

/* Every opcode of the four maps with every ModRM byte, under each mandatory-prefix class and a
 * few REX values (trailing bytes fixed): the same agreement as test_random, exhaustively over
 * the opcode/ModRM space. */
static void test_exhaustive(void)
{
    static const uint8_t mps[] = {0, 0x66, 0xf3, 0xf2};
    static const uint8_t rexs[] = {0, 0x48, 0x44, 0x43};
    static const uint8_t tails[] = {0x00, 0x85};
    static struct rejects rej;
    uint64_t ours = 0, bad = 0, shown = 0;
    for (unsigned map = 0; map < 4; map++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned m = 0; m < 4; m++)
                for (unsigned r = 0; r < 4; r++)
                    for (unsigned t = 0; t < 2; t++)
                        for (unsigned modrm = 0; modrm < 256; modrm++) {
                            uint8_t b[15];
                            memset(b, tails[t], sizeof b);
                            unsigned p = 0;
                            if (mps[m]) b[p++] = mps[m];
                            if (rexs[r]) b[p++] = rexs[r];
                            if (map) b[p++] = 0x0f;
                            if (map >= 2) b[p++] = map == 2 ? 0x38 : 0x3a;
                            b[p++] = (uint8_t)op;
                            b[p++] = (uint8_t)modrm;
                            struct insn in;
                            int len = decode_insn(&in, b, sizeof b, MODE_LONG64);
                            ZydisDecodedInstruction zi;
                            ZydisDecoderContext zctx;
                            bool zok = ZYAN_SUCCESS(
                                ZydisDecoderDecodeInstruction(&zdec, &zctx, b, sizeof b, &zi));
                            if (len <= 0) {
                                if (zok && len == DECODE_UD) rejects_add(&rej, &zi, b);
                                continue;
                            }
                            ours++;
                            int why = 0;
                            ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                            if (!zok)
                                why = zydis_quirk(&in) ? 0 : 100;
                            else if (zi.length != len)
                                why = 101;
                            else if ((why = compare_fields(&in, &zi)) == 0)
                                why = ZYAN_SUCCESS(ZydisDecoderDecodeOperands(
                                          &zdec, &zctx, &zi, ops, ZYDIS_MAX_OPERAND_COUNT))
                                          ? compare_operands(&in, &zi, ops)
                                          : 102;
                            if (why) {
                                bad++;
                                if (shown++ < 40) {
                                    char w[64];
                                    snprintf(w, sizeof w, "exhaustive mismatch %d", why);
                                    hexdump(w, b, (unsigned)len);
                                }
                            }
                        }
    printf("# exhaustive: %" PRIu64 " encodings decoded by vessel, %" PRIu64 " disagree\n", ours,
           bad);
    rejects_report("exhaustive", &rej);
    CHECK_EQ(bad, 0);
    CHECK(ours > 1000000);
}

/* Every VEX opcode of the three maps with every ModRM byte, under each pp, L and W, with
 * VEX.vvvv 1111b and 0000b (register 15), through both the C4 and (map 0F, W0) the C5 form,
 * with the REX-like bits clear and set: the same agreement as above. Encodings zydis accepts
 * and vessel rejects are counted per map/opcode/pp, so a table slip that refuses real code
 * shows up as a row that is not in vessel's list of unimplemented VEX instructions. */
static void test_vex_exhaustive(void)
{
    static const uint8_t tails[] = {0x00, 0x85};
    uint64_t ours = 0, bad = 0, shown = 0, rej = 0;
    static uint32_t rej_op[4][256][4];
    for (unsigned map = 1; map <= 3; map++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned pp = 0; pp < 4; pp++)
                for (unsigned lw = 0; lw < 4; lw++)
                    for (unsigned v = 0; v < 2; v++)
                        for (unsigned form = 0; form < 3; form++) {
                            const unsigned l = lw & 1, w = lw >> 1;
                            if (form == 2 && (map != 1 || w)) continue; /* C5: 0F, W0 only */
                            for (unsigned t = 0; t < 2; t++)
                                for (unsigned modrm = 0; modrm < 256; modrm++) {
                                    uint8_t b[15];
                                    memset(b, tails[t], sizeof b);
                                    unsigned p = 0;
                                    const uint8_t vb = (uint8_t)((v ? 0 : 15) << 3 | l << 2 | pp);
                                    if (form == 2) {
                                        b[p++] = 0xc5;
                                        b[p++] = (uint8_t)(0x80 | vb);
                                    } else {
                                        b[p++] = 0xc4;
                                        b[p++] = (uint8_t)((form ? 0x00 : 0xe0) | map);
                                        b[p++] = (uint8_t)(w << 7 | vb);
                                    }
                                    b[p++] = (uint8_t)op;
                                    b[p++] = (uint8_t)modrm;
                                    struct insn in;
                                    int len = decode_insn(&in, b, sizeof b, MODE_LONG64);
                                    ZydisDecodedInstruction zi;
                                    ZydisDecoderContext zctx;
                                    bool zok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(
                                        &zdec, &zctx, b, sizeof b, &zi));
                                    if (len <= 0) {
                                        if (zok && len == DECODE_UD) {
                                            rej++;
                                            rej_op[map][op][pp]++;
                                        }
                                        continue;
                                    }
                                    ours++;
                                    int why = 0;
                                    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                                    if (!zok)
                                        why = 100;
                                    else if (zi.length != len)
                                        why = 101;
                                    else if ((why = compare_fields(&in, &zi)) == 0)
                                        why = ZYAN_SUCCESS(ZydisDecoderDecodeOperands(
                                                  &zdec, &zctx, &zi, ops, ZYDIS_MAX_OPERAND_COUNT))
                                                  ? compare_operands(&in, &zi, ops)
                                                  : 102;
                                    if (why) {
                                        bad++;
                                        if (shown++ < 40) {
                                            char w2[64];
                                            snprintf(w2, sizeof w2, "vex mismatch %d", why);
                                            hexdump(w2, b, len > 0 ? (unsigned)len : 8);
                                        }
                                    }
                                }
                        }
    printf("# vex: %" PRIu64 " encodings decoded by vessel, %" PRIu64 " disagree, %" PRIu64
           " accepted by zydis only\n",
           ours, bad, rej);
    static const char *const mpn[4] = {"", "66 ", "f3 ", "f2 "};
    for (unsigned map = 1; map <= 3; map++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned pp = 0; pp < 4; pp++)
                if (rej_op[map][op][pp])
                    printf("#   vex %s%s%02x: %u\n", mpn[pp],
                           (const char *[]){"", "0f ", "0f38 ", "0f3a "}[map], op,
                           rej_op[map][op][pp]);
    CHECK_EQ(bad, 0);
    CHECK(ours > 1000000);
}

static void test_vmlinux(const char *path)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    if (fd < 0) return;
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    const uint8_t *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    CHECK(img != MAP_FAILED);
    if (img == MAP_FAILED) return;
    const size_t size = (size_t)st.st_size;
    const Elf64_Ehdr *eh = (const void *)img;
    CHECK(size >= sizeof *eh && !memcmp(eh->e_ident, ELFMAG, SELFMAG) &&
          eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_shentsize == sizeof(Elf64_Shdr) &&
          eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) <= size);
    if (check_failed_now) goto out;

    static struct rejects rej;
    uint64_t zinsns = 0, ours = 0, bad = 0, shown = 0, sections = 0;
    const Elf64_Shdr *sh = (const void *)(img + eh->e_shoff);
    for (unsigned s = 0; s < eh->e_shnum; s++) {
        if (sh[s].sh_type != SHT_PROGBITS || !(sh[s].sh_flags & SHF_EXECINSTR)) continue;
        if (sh[s].sh_offset > size || sh[s].sh_size > size - sh[s].sh_offset) continue;
        sections++;
        const uint8_t *text = img + sh[s].sh_offset;
        const size_t n = sh[s].sh_size;
        for (size_t off = 0; off < n;) {
            const size_t left = n - off;
            const unsigned avail = left > 15 ? 15 : (unsigned)left;
            ZydisDecodedInstruction zi;
            ZydisDecoderContext zctx;
            bool zok =
                ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&zdec, &zctx, text + off, avail, &zi));
            struct insn in;
            int len = decode_insn(&in, text + off, avail, MODE_LONG64);
            if (zok) zinsns++;
            if (len > 0) {
                ours++;
                ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                if (!zok || zi.length != len || compare_fields(&in, &zi) ||
                    !ZYAN_SUCCESS(ZydisDecoderDecodeOperands(&zdec, &zctx, &zi, ops,
                                                             ZYDIS_MAX_OPERAND_COUNT)) ||
                    compare_operands(&in, &zi, ops)) {
                    bad++;
                    if (shown++ < 40) {
                        char w[96];
                        snprintf(w, sizeof w, "vmlinux section %u +%#zx: ours %d zydis %d", s, off,
                                 len, zok ? zi.length : -1);
                        hexdump(w, text + off, avail);
                    }
                }
            } else if (zok) {
                rejects_add(&rej, &zi, text + off);
            }
            off += zok ? zi.length : 1;
        }
    }
    printf("# vmlinux: %" PRIu64 " executable sections, %" PRIu64 " zydis instructions, %" PRIu64
           " decoded by vessel, %" PRIu64 " disagree\n",
           sections, zinsns, ours, bad);
    rejects_report("vmlinux", &rej);
    CHECK(sections > 0);
    CHECK(zinsns > 100000);
    CHECK_EQ(bad, 0);
out:
    munmap((void *)img, size);
}

/* 16- and 32-bit code: every opcode of the four maps with every ModRM byte under no prefix,
 * 66, 67 and F3, in each non-64-bit decoding mode, against a zydis decoder for that mode.
 * Lengths must agree wherever both decode; an encoding only one side accepts is listed (up to
 * a few) and counted: in protected and compatibility mode vessel must not accept what zydis
 * calls invalid, except the MPX hint NOPs (zydis_quirk). In real mode the protected-mode-only
 * instructions zydis rejects (ARPL, the 0F 00 group, LAR/LSL, SYSENTER/SYSEXIT, VMX...) decode
 * and fault in their handlers (#UD or, as the SDM says for SYSENTER, #GP), so only lengths
 * count there. Fields are compared in 64-bit mode only (test_random). */
static void test_legacy_lengths(void)
{
    static const struct {
        enum cpu_mode mode;
        ZydisMachineMode zmode;
        ZydisStackWidth width;
        const char *name;
    } modes[] = {
        {MODE_COMPAT32, ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32, "compat32"},
        {MODE_PROT16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16, "prot16"},
        {MODE_REAL, ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16, "real"},
    };
    static const uint8_t pfx[] = {0, 0x66, 0x67, 0xf3};
    for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        ZydisDecoder zd;
        if (!ZYAN_SUCCESS(ZydisDecoderInit(&zd, modes[m].zmode, modes[m].width))) {
            CHECK(false);
            continue;
        }
        uint64_t ours = 0, len_bad = 0, ours_only = 0, shown = 0;
        for (unsigned map = 0; map < 4; map++)
            for (unsigned op = 0; op < 256; op++)
                for (unsigned modrm = 0; modrm < 256; modrm++)
                    for (unsigned k = 0; k < sizeof pfx; k++) {
                        uint8_t b[16];
                        memset(b, 0x11, sizeof b);
                        unsigned p = 0;
                        if (pfx[k]) b[p++] = pfx[k];
                        if (map) b[p++] = 0x0f;
                        if (map == 2) b[p++] = 0x38;
                        if (map == 3) b[p++] = 0x3a;
                        b[p++] = (uint8_t)op;
                        b[p] = (uint8_t)modrm;
                        struct insn in;
                        int len = decode_insn(&in, b, sizeof b, modes[m].mode);
                        ZydisDecodedInstruction zi;
                        ZydisDecoderContext zctx;
                        bool zok = ZYAN_SUCCESS(
                            ZydisDecoderDecodeInstruction(&zd, &zctx, b, sizeof b, &zi));
                        if (len <= 0) continue;
                        ours++;
                        const char *why = NULL;
                        if (!zok && !zydis_quirk(&in)) {
                            ours_only++;
                            why = "vessel decodes, zydis rejects";
                        } else if (zok && zi.length != len) {
                            len_bad++;
                            why = "lengths differ";
                        }
                        if (why && modes[m].mode != MODE_REAL && shown++ < 20) {
                            char w[96];
                            snprintf(w, sizeof w, "%s %s (vessel len %d, zydis %d)", modes[m].name,
                                     why, len, zok ? zi.length : 0);
                            hexdump(w, b, (unsigned)p + 6);
                        }
                    }
        printf("# %s: %" PRIu64 " encodings decoded by vessel, %" PRIu64 " with another length, "
               "%" PRIu64 " zydis rejects\n",
               modes[m].name, ours, len_bad, ours_only);
        CHECK_EQ(len_bad, 0);
        if (modes[m].mode != MODE_REAL) CHECK_EQ(ours_only, 0);
        CHECK(ours > 100000);
    }
}

int main(void)
{
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&zdec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64))) {
        printf("Bail out! ZydisDecoderInit failed\n");
        return 1;
    }
    RUN(test_random);
    RUN(test_exhaustive);
    RUN(test_vex_exhaustive);
    RUN(test_legacy_lengths);
    const char *vmlinux = getenv("VESSEL_VMLINUX");
    if (vmlinux && *vmlinux) {
        check_failed_now = 0;
        test_vmlinux(vmlinux);
        check_count++;
        printf("%s %d - test_vmlinux\n", check_failed_now ? "not ok" : "ok", check_count);
        if (check_failed_now) check_failed_total++;
    } else {
        check_count++;
        printf("ok %d - test_vmlinux # SKIP VESSEL_VMLINUX not set\n", check_count);
    }
    return check_done();
}
