/* decode.c — turns instruction bytes into a struct insn. One pass: legacy prefixes and REX,
 * the opcode (through the 0F / 0F 38 / 0F 3A escapes) looked up in decode_tables.c, then
 * ModRM/SIB/displacement and the immediate the table names. The few encodings whose legality
 * does not fit the table (CR/DR numbers, x87 and 0F 01 register forms, movbe/crc32, movq2dq)
 * are checked here. Runs when blocks are built, so it reads each byte once and never allocates.
 * Every mode decodes: outside 64-bit mode the default sizes come from CS.D (docs/CPU-MODES.md),
 * 16-bit ModRM addressing applies with a 2-byte address size, and decode_legacy0 overrides the
 * one-byte opcodes that differ. */
#include <string.h>

#include "cpu/decode/decode.h"
#include "cpu/decode/decode_tables.h"

/* Little-endian load of n (1, 2, 4 or 8) bytes, sign-extended to 64 bits. */
static inline uint64_t decode_sext(const uint8_t *p, unsigned n)
{
    switch (n) {
    case 1: return (uint64_t)(int64_t)(int8_t)p[0];
    case 2: {
        int16_t v;
        memcpy(&v, p, 2);
        return (uint64_t)(int64_t)v;
    }
    case 4: {
        int32_t v;
        memcpy(&v, p, 4);
        return (uint64_t)(int64_t)v;
    }
    default: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    }
}

static inline uint64_t decode_zext(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    memcpy(&v, p, n); /* little-endian host */
    return v;
}

/* Register forms that the attribute words cannot express. Returns false for #UD. */
static bool decode_special_ok(unsigned map, unsigned op, unsigned modrm, unsigned reg, unsigned mp,
                              bool mem)
{
    if (map == 1) {
        switch (op) {
        case 0x01: /* 0F 01 register forms: per ModRM byte; only smsw/lmsw take 66 */
            if (mem) return true;
            if (!((decode_0f01_reg >> (modrm & 63)) & 1)) return false;
            if ((modrm & 0xf0) == 0xe0 && (modrm & 0x0f) < 8) return mp == MP_NONE || mp == MP_66;
            if ((modrm & 0xf8) == 0xf0) return mp == MP_NONE || mp == MP_66;
            return mp == MP_NONE;
        case 0x20:
        case 0x22: return reg == 0 || reg == 2 || reg == 3 || reg == 4 || reg == 8;
        case 0x21:
        case 0x23: return reg < 8;
        case 0x12:
        case 0x16: return mp != MP_66 || mem;  /* movlpd / movhpd need memory */
        case 0xd6: return mp == MP_66 || !mem; /* movq2dq / movdq2q are register-only */
        }
    } else if (map == 2 && (op == 0xf0 || op == 0xf1)) {
        return mp == MP_F2 || mem; /* movbe needs memory; crc32 takes either */
    }
    return true;
}

/* VEX encodings whose legality the table cannot express (DA_CHECK). Returns false for #UD. */
static bool decode_vex_ok(unsigned map, unsigned op, unsigned modrm, unsigned mp, bool mem,
                          unsigned vvvv, bool l)
{
    const unsigned digit = (modrm >> 3) & 7;
    const bool packed = mp == MP_NONE || mp == MP_66;
    if (map == 1) {
        switch (op) {
        case 0x10:
        case 0x11: /* vmovups/upd: two operands; vmovss/sd: three with registers, two with memory */
            return (packed || mem) ? vvvv == 0 : true;
        case 0x12: /* vmovlps/vmovhlps (NP), vmovlpd (66, memory), vmovsldup (F3), vmovddup (F2) */
        case 0x16: /* vmovhps/vmovlhps (NP), vmovhpd (66, memory), vmovshdup (F3) */
            if (mp == MP_NONE) return !l;
            if (mp == MP_66) return mem && !l;
            if (op == 0x16 && mp == MP_F2) return false;
            return vvvv == 0;
        case 0x51: /* vsqrtps/pd: two operands; vsqrtss/sd: three */
        case 0x52:
        case 0x53:
        case 0x5a: /* vcvtps2pd / vcvtpd2ps: two operands; vcvtss2sd / vcvtsd2ss: three */
            return packed ? vvvv == 0 : true;
        case 0x71:
        case 0x72: return digit == 2 || digit == 4 || digit == 6;
        case 0x73: return digit == 2 || digit == 3 || digit == 6 || digit == 7;
        case 0xae: return digit == 2 || digit == 3; /* vldmxcsr, vstmxcsr */
        }
    } else if (map == 2 && op == 0xf3) {
        return digit >= 1 && digit <= 3; /* blsr, blsmsk, blsi */
    }
    return true;
}

int decode_insn(struct insn *out, const uint8_t *bytes, unsigned avail, enum cpu_mode mode)
{
    /* Outside 64-bit mode: no REX (40-4F are INC/DEC), default sizes from CS.D, every segment
     * override counts, and a few opcodes mean something else (decode_legacy0). */
    const bool m64 = mode == MODE_LONG64;
    const bool def32 = mode == MODE_PROT32 || mode == MODE_COMPAT32;

    /* Bytes beyond the 15th can never be part of an instruction. */
    const unsigned lim = avail < DECODE_MAXLEN ? avail : DECODE_MAXLEN;
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if (p + (n) > lim) return p + (n) > DECODE_MAXLEN ? DECODE_UD : DECODE_SHORT;              \
    } while (0)

    unsigned p = 0, flags = 0, rex = 0, rep_mp = MP_NONE, seg = SEG_NONE;
    for (;;) {
        NEED(1);
        unsigned c = bytes[p];
        if ((c & 0xf0) == 0x40 && m64) { /* REX: only counts if the opcode follows directly */
            rex = c;
            p++;
            continue;
        }
        switch (c) {
        case 0xf0: flags |= INSN_LOCK; break;
        case 0xf2:
            flags |= INSN_REPNE;
            rep_mp = MP_F2;
            break;
        case 0xf3:
            flags |= INSN_REP;
            rep_mp = MP_F3;
            break;
        case 0x66: flags |= INSN_OPSZ; break;
        case 0x67: flags |= INSN_ADSZ; break;
        case 0x26:
        case 0x2e:
        case 0x36:
        case 0x3e: /* ES/CS/SS/DS overrides are ignored in 64-bit mode */
            if (!m64) seg = (c >> 3) & 3;
            break;
        case 0x64: seg = SEG_FS; break;
        case 0x65: seg = SEG_GS; break;
        default: goto opcode;
        }
        rex = 0;
        p++;
    }

opcode:;
    unsigned map = 0, op = bytes[p++], mp, vvvv = 0;
    uint32_t a;
    /* Outside 64-bit mode C4/C5 are LES/LDS unless the next byte looks like a register ModRM
     * (and always in real mode, where VEX does not exist). */
    bool legacy_les = false;
    if (!m64 && (op == 0xc4 || op == 0xc5)) {
        if (mode != MODE_REAL) NEED(1);
        legacy_les = mode == MODE_REAL || bytes[p] < 0xc0;
    }
    if ((op == 0xc4 || op == 0xc5) && !legacy_les) {
        /* VEX: in 64-bit mode C4/C5 are always VEX (LES/LDS do not exist). A REX, 66, F2, F3
         * or LOCK prefix before it is #UD; its own fields stand in for them. */
        if (rex || (flags & (INSN_OPSZ | INSN_REP | INSN_REPNE | INSN_LOCK))) return DECODE_UD;
        unsigned b1, b2;
        if (op == 0xc5) {
            NEED(1);
            b1 = bytes[p++];
            b2 = b1 & 0x7f; /* W = 0, then vvvv L pp as in the third byte of C4 */
            rex = 0x40 | (~b1 & 0x80) >> 5;
            map = 1;
        } else {
            NEED(2);
            b1 = bytes[p++];
            b2 = bytes[p++];
            rex = 0x40 | (~b1 & 0xe0) >> 5 | (b2 & 0x80) >> 4;
            if (!m64) rex &= ~1u; /* VEX.B is ignored outside 64-bit mode */
            map = b1 & 0x1f;
            if (map < 1 || map > 3) return DECODE_UD;
        }
        vvvv = (~b2 >> 3) & (m64 ? 15 : 7);
        mp = b2 & 3; /* pp: none, 66, F3, F2 = MP_NONE, MP_66, MP_F3, MP_F2 */
        flags |= INSN_VEX | ((b2 & 4) ? INSN_VEXL : 0);
        NEED(1);
        op = bytes[p++];
        a = decode_vex_map[map][op];
        if (!(a & DA_OK)) return DECODE_UD;
        if ((a & VA_NOV) && vvvv) return DECODE_UD;
        if ((a & VA_L0) && (b2 & 4)) return DECODE_UD;
        if ((a & VA_L1) && !(b2 & 4)) return DECODE_UD;
        if ((a & VA_W0) && (rex & 8)) return DECODE_UD;
        if ((a & VA_W1) && !(rex & 8)) return DECODE_UD;
    } else {
        if (op == 0x0f) {
            NEED(1);
            op = bytes[p++];
            map = 1;
            if (op == 0x38 || op == 0x3a) {
                map = op == 0x38 ? 2 : 3;
                NEED(1);
                op = bytes[p++];
            }
        }
        a = decode_map[map][op];
        if (!m64 && map == 0 && decode_legacy0[op]) a = decode_legacy0[op];
        if (!(a & DA_OK)) return DECODE_UD;
        mp = rep_mp != MP_NONE ? rep_mp : (flags & INSN_OPSZ) ? MP_66 : MP_NONE;
    }
    const bool vex = (flags & INSN_VEX) != 0;
    if (rex) {
        flags |= INSN_REX;
        if (rex & 8) flags |= INSN_REXW;
    }
    const unsigned rex_r = (rex & 4) << 1, rex_x = (rex & 2) << 2, rex_b = (rex & 1) << 3;

    /* one block copy instead of a dozen byte stores: this runs for every decoded instruction */
    static const struct insn blank = {.base = REG_NONE, .index = REG_NONE};
    *out = blank;
    if (m64)
        out->addrsize = (flags & INSN_ADSZ) ? 4 : 8;
    else
        out->addrsize = def32 ^ !!(flags & INSN_ADSZ) ? 4 : 2;
    out->mode = (uint8_t)mode;
    out->mp = mp;
    if (a & DA_PLUSR) out->reg = out->rm = (op & 7) | rex_b;

    bool mem = false;
    if (a & DA_MODRM) {
        NEED(1);
        const unsigned modrm = bytes[p++];
        const unsigned mod = modrm >> 6, rm = modrm & 7;
        out->modrm = modrm;
        out->reg = ((modrm >> 3) & 7) | rex_r;
        out->rm = rm | rex_b;
        mem = mod != 3 && !(a & DA_CRDR);

        if (!vex && (a & (0xffu << DA_GRP_SHIFT))) {
            const uint32_t g = decode_group[a >> DA_GRP_SHIFT][!mem][(modrm >> 3) & 7];
            if (!(g & DA_OK)) return DECODE_UD;
            a |= g;
        }
        if (a & DA_X87) {
            const unsigned x = op - 0xd8;
            if (mem ? !((decode_x87_mem[x] >> ((modrm >> 3) & 7)) & 1)
                    : !((decode_x87_reg[x] >> (modrm & 63)) & 1))
                return DECODE_UD;
        }
        if ((a & DA_MEMONLY) && !mem) return DECODE_UD;
        if ((a & DA_REGONLY) && mem) return DECODE_UD;
        if ((a & DA_CHECK) &&
            !(vex ? decode_vex_ok(map, op, modrm, mp, mem, vvvv, (flags & INSN_VEXL) != 0)
                  : decode_special_ok(map, op, modrm, out->reg, mp, mem)))
            return DECODE_UD;
        if (vex && (a & VA_VSIB)) {
            /* VSIB: a SIB byte is required and its index (never "none") names a vector */
            if (!mem || rm != 4) return DECODE_UD;
        }

        if (mem && out->addrsize == 2) {
            /* 16-bit addressing: bx+si bx+di bp+si bp+di si di bp/disp16 bx */
            static const uint8_t b16[8] = {R_RBX, R_RBX, R_RBP, R_RBP, R_RSI, R_RDI, R_RBP, R_RBX};
            static const uint8_t x16[8] = {R_RSI,    R_RDI,    R_RSI,    R_RDI,
                                           REG_NONE, REG_NONE, REG_NONE, REG_NONE};
            out->base = b16[rm];
            out->index = x16[rm];
            if (mod == 0 && rm == 6) {
                out->base = REG_NONE;
                NEED(2);
                out->disp = (int16_t)decode_zext(bytes + p, 2);
                p += 2;
            } else if (mod == 1) {
                NEED(1);
                out->disp = (int8_t)bytes[p++];
            } else if (mod == 2) {
                NEED(2);
                out->disp = (int16_t)decode_zext(bytes + p, 2);
                p += 2;
            }
            flags |= INSN_MEM;
        } else if (mem) {
            unsigned base = rm;
            if (rm == 4) {
                NEED(1);
                const unsigned sib = bytes[p++];
                const unsigned idx = ((sib >> 3) & 7) | rex_x;
                base = sib & 7;
                out->scale = sib >> 6;
                if (idx != 4 || (vex && (a & VA_VSIB))) out->index = idx;
                if (base == 5 && mod == 0) {
                    out->base = REG_NONE;
                    NEED(4);
                    out->disp = (int32_t)decode_sext(bytes + p, 4);
                    p += 4;
                } else {
                    out->base = base | rex_b;
                }
            } else if (rm == 5 && mod == 0) {
                out->base = m64 ? REG_RIP : REG_NONE; /* disp32 alone outside 64-bit mode */
                NEED(4);
                out->disp = (int32_t)decode_sext(bytes + p, 4);
                p += 4;
            } else {
                out->base = rm | rex_b;
            }
            if (mod == 1) {
                NEED(1);
                out->disp = (int8_t)bytes[p++];
            } else if (mod == 2) {
                NEED(4);
                out->disp = (int32_t)decode_sext(bytes + p, 4);
                p += 4;
            }
            flags |= INSN_MEM;
        }
    }

    /* Register forms that exist in 64-bit mode only: swapgs, rd/wr fs/gs base. */
    if (!m64 && map == 1 && !vex &&
        ((op == 0x01 && out->modrm == 0xf8) ||
         (op == 0xae && mp == MP_F3 && !mem && ((out->modrm >> 3) & 7) < 4)))
        return DECODE_UD;
    /* Mandatory-prefix legality, after the group row had its say. */
    if ((a >> DA_NOMP_SHIFT) & (1u << mp)) return DECODE_UD;
    /* LOCK needs a lockable read-modify-write instruction with a memory destination. */
    if ((flags & INSN_LOCK) && (!(a & DA_LOCK) || !mem)) return DECODE_UD;

    unsigned opsize;
    if (vex)
        opsize = (flags & INSN_REXW) && m64 ? 8 : 4; /* the general-register operand's size */
    else if (a & DA_BYTE)
        opsize = 1;
    else if (!m64)
        /* CS.D's size, the other one with 66 (never for SSE's mandatory 66). Near branches,
         * stack operations and CR/DR moves follow it too: no 64-bit operands exist here. */
        opsize = def32 ^ ((flags & INSN_OPSZ) && !(a & DA_SSE)) ? 4 : 2;
    else if (a & DA_F64)
        opsize = 8;
    else if (a & DA_D64)
        opsize = (flags & (INSN_OPSZ | INSN_REXW)) == INSN_OPSZ ? 2 : 8;
    else if (flags & INSN_REXW)
        opsize = (a & DA_DW) ? 4 : 8; /* REX.W beats 66; in/out stop at 32 bits */
    else
        opsize = (flags & INSN_OPSZ) && !(a & DA_SSE) ? 2 : 4;
    out->opsize = opsize;

    if (seg != SEG_NONE) {
        flags |= INSN_SEGOVR;
        out->seg = seg;
    } else {
        out->seg = (out->base == R_RSP || out->base == R_RBP) ? SEG_SS : SEG_DS;
    }

    switch ((a & DA_IMM_MASK) >> DA_IMM_SHIFT) {
    case DI_NONE: break;
    case DI_B:
        NEED(1);
        out->imm = decode_sext(bytes + p, 1);
        p += 1;
        break;
    case DI_BZ:
        NEED(1);
        out->imm = bytes[p];
        p += 1;
        break;
    case DI_W:
        NEED(2);
        out->imm = decode_zext(bytes + p, 2);
        p += 2;
        break;
    case DI_Z: {
        const unsigned n = opsize == 2 ? 2 : 4;
        NEED(n);
        out->imm = decode_sext(bytes + p, n);
        p += n;
        break;
    }
    case DI_Z32: {
        const unsigned n = m64 || opsize == 4 ? 4 : 2; /* rel16 with a 16-bit operand size */
        NEED(n);
        out->imm = decode_sext(bytes + p, n);
        p += n;
        break;
    }
    case DI_V:
        NEED(opsize);
        out->imm = decode_sext(bytes + p, opsize);
        p += opsize;
        break;
    case DI_WB:
        NEED(3);
        out->imm = decode_zext(bytes + p, 2);
        out->imm2 = bytes[p + 2];
        p += 3;
        break;
    case DI_MOFFS:
        NEED(out->addrsize);
        out->imm = decode_zext(bytes + p, out->addrsize);
        p += out->addrsize;
        break;
    case DI_FAR:
        NEED(opsize + 2);
        out->imm = decode_zext(bytes + p, opsize);
        out->disp = (int32_t)decode_zext(bytes + p + opsize, 2);
        p += opsize + 2;
        break;
    }
#undef NEED

    if (!vex && (a & DA_BRANCH)) flags |= INSN_BRANCH;
    if (!vex && (a & DA_STRING) && (flags & (INSN_REP | INSN_REPNE))) flags |= INSN_RESTART;
    /* gathers: destination, index and mask must be three different registers (#UD) */
    if (vex && (a & VA_VSIB) && (out->reg == vvvv || out->reg == out->index || out->index == vvvv))
        return DECODE_UD;
    if (!m64 && map == 0 && op == 0x82) op = 0x80; /* the same instruction: one set of handlers */
    out->op = (uint16_t)((vex ? map + 4 : map) << 8 | op);
    out->vreg = (uint8_t)vvvv;
    out->flags = (uint16_t)flags;
    out->len = (uint8_t)p;
    return (int)p;
}
