/* emit.c — x86-64 instruction encoding for the translator (see emit.h). Every instruction goes
 * through one of two encoders, register-register or register-memory, which own the prefix,
 * REX, ModRM, SIB and displacement rules; the named emitters only pick opcodes and immediates. */
#include "emit.h"

#include <string.h>

/* Byte-register flags for the encoders: which ModRM fields name 8-bit registers (so 4..7
 * need an empty REX to mean SPL..DIL rather than AH..BH). */
#define BYTE_REG 1u
#define BYTE_RM  2u

void jit_emit_init(struct jit_emit *e, void *buf, uintptr_t rx, size_t cap)
{
    e->buf = buf;
    e->rx = rx;
    e->cap = cap;
    e->pos = 0;
    e->overflow = false;
}

void emit_bytes(struct jit_emit *e, const void *p, size_t n)
{
    if (e->overflow || n > e->cap - e->pos) {
        e->overflow = true;
        return;
    }
    memcpy(e->buf + e->pos, p, n);
    e->pos += n;
}

void emit_u8(struct jit_emit *e, uint8_t v)
{
    if (e->pos >= e->cap) {
        e->overflow = true;
        return;
    }
    if (!e->overflow) e->buf[e->pos++] = v;
}

void emit_u16(struct jit_emit *e, uint16_t v)
{
    emit_bytes(e, &v, 2);
}

void emit_u32(struct jit_emit *e, uint32_t v)
{
    emit_bytes(e, &v, 4);
}

void emit_u64(struct jit_emit *e, uint64_t v)
{
    emit_bytes(e, &v, 8);
}

void emit_align(struct jit_emit *e, unsigned align)
{
    /* The recommended multi-byte NOPs (Intel SDM vol. 2B, NOP). */
    static const uint8_t nops[9][9] = {
        {0x90},
        {0x66, 0x90},
        {0x0f, 0x1f, 0x00},
        {0x0f, 0x1f, 0x40, 0x00},
        {0x0f, 0x1f, 0x44, 0x00, 0x00},
        {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
        {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
        {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
        {0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
    };
    unsigned pad = (unsigned)(-(jit_emit_here(e)) & (align - 1));
    while (pad) {
        unsigned n = pad > 9 ? 9 : pad;
        emit_bytes(e, nops[n - 1], n);
        pad -= n;
    }
}

static inline bool fits8(int64_t v)
{
    return v >= -128 && v <= 127;
}

static inline bool fits32(int64_t v)
{
    return v >= INT32_MIN && v <= INT32_MAX;
}

static void emit_opcode(struct jit_emit *e, uint32_t op)
{
    if (op > 0xffff) emit_u8(e, (uint8_t)(op >> 16));
    if (op > 0xff) emit_u8(e, (uint8_t)(op >> 8));
    emit_u8(e, (uint8_t)op);
}

/* 66 for 16-bit operands, then REX if any extension bit, W, or a byte register 4..7 needs it. */
static void emit_prefixes(struct jit_emit *e, unsigned size, unsigned r, unsigned x, unsigned b,
                          bool force_rex)
{
    if (size == 2) emit_u8(e, 0x66);
    uint8_t rex =
        (uint8_t)(0x40 | (size == 8 ? 8 : 0) | (r & 8 ? 4 : 0) | (x & 8 ? 2 : 0) | (b & 8 ? 1 : 0));
    if (rex != 0x40 || force_rex) emit_u8(e, rex);
}

static bool byte_needs_rex(unsigned r)
{
    return r >= 4 && r < 8;
}

static void enc_rr(struct jit_emit *e, unsigned size, uint32_t op, unsigned reg, unsigned rm,
                   unsigned bytes)
{
    bool force =
        ((bytes & BYTE_REG) && byte_needs_rex(reg)) || ((bytes & BYTE_RM) && byte_needs_rex(rm));
    emit_prefixes(e, size, reg, 0, rm, force);
    emit_opcode(e, op);
    emit_u8(e, (uint8_t)(0xC0 | (reg & 7) << 3 | (rm & 7)));
}

/* ModRM/SIB/displacement for a memory operand. A RIP-relative disp is emitted as given: the
 * caller accounts for any immediate bytes that follow, as the CPU measures from the end. */
static void enc_modrm_mem(struct jit_emit *e, unsigned reg, struct jit_mem m)
{
    reg &= 7;
    if (m.base == HR_RIP) {
        emit_u8(e, (uint8_t)(reg << 3 | 5));
        emit_u32(e, (uint32_t)m.disp);
        return;
    }
    if (m.base == HR_NONE) {
        /* SIB with no base: [index << scale + disp32], or absolute disp32 with index 100. */
        emit_u8(e, (uint8_t)(reg << 3 | 4));
        unsigned idx = m.index == HR_NONE ? 4 : m.index & 7;
        emit_u8(e, (uint8_t)((m.scale & 3) << 6 | idx << 3 | 5));
        emit_u32(e, (uint32_t)m.disp);
        return;
    }
    unsigned mod = (m.disp == 0 && (m.base & 7) != 5) ? 0 : fits8(m.disp) ? 1 : 2;
    if (m.index != HR_NONE || (m.base & 7) == 4) {
        unsigned idx = m.index == HR_NONE ? 4 : m.index & 7;
        emit_u8(e, (uint8_t)(mod << 6 | reg << 3 | 4));
        emit_u8(e, (uint8_t)((m.scale & 3) << 6 | idx << 3 | (m.base & 7)));
    } else {
        emit_u8(e, (uint8_t)(mod << 6 | reg << 3 | (m.base & 7)));
    }
    if (mod == 1)
        emit_u8(e, (uint8_t)m.disp);
    else if (mod == 2)
        emit_u32(e, (uint32_t)m.disp);
}

static void enc_rm(struct jit_emit *e, unsigned size, uint32_t op, unsigned reg, struct jit_mem m,
                   unsigned bytes)
{
    if (m.base == HR_REG) { /* an empty REX is harmless where the operand is not a byte */
        enc_rr(e, size, op, reg, m.index, bytes | BYTE_RM);
        return;
    }
    unsigned x = m.index == HR_NONE ? 0 : m.index;
    unsigned b = (m.base == HR_NONE || m.base == HR_RIP) ? 0 : m.base;
    emit_prefixes(e, size, reg, x, b, (bytes & BYTE_REG) && byte_needs_rex(reg));
    emit_opcode(e, op);
    enc_modrm_mem(e, reg, m);
}

void emit_op_rr(struct jit_emit *e, unsigned size, uint32_t op, unsigned reg, unsigned rm)
{
    enc_rr(e, size, op, reg, rm, size == 1 ? BYTE_REG | BYTE_RM : 0);
}

void emit_op_rm(struct jit_emit *e, unsigned size, uint32_t op, unsigned reg, struct jit_mem m)
{
    enc_rm(e, size, op, reg, m, size == 1 ? BYTE_REG : 0);
}

static void emit_imm(struct jit_emit *e, unsigned size, int32_t imm)
{
    if (size == 1)
        emit_u8(e, (uint8_t)imm);
    else if (size == 2)
        emit_u16(e, (uint16_t)imm);
    else
        emit_u32(e, (uint32_t)imm);
}

/* ---- moves ---- */

void emit_mov_rr(struct jit_emit *e, unsigned size, unsigned dst, unsigned src)
{
    emit_op_rr(e, size, size == 1 ? 0x88 : 0x89, src, dst);
}

void emit_load(struct jit_emit *e, unsigned size, unsigned dst, struct jit_mem m)
{
    emit_op_rm(e, size, size == 1 ? 0x8A : 0x8B, dst, m);
}

void emit_store(struct jit_emit *e, unsigned size, struct jit_mem m, unsigned src)
{
    emit_op_rm(e, size, size == 1 ? 0x88 : 0x89, src, m);
}

void emit_store_imm(struct jit_emit *e, unsigned size, struct jit_mem m, int32_t imm)
{
    enc_rm(e, size, size == 1 ? 0xC6 : 0xC7, 0, m, 0);
    emit_imm(e, size, imm);
}

void emit_mov_ri(struct jit_emit *e, unsigned size, unsigned dst, uint64_t imm)
{
    if (size == 8 && imm > UINT32_MAX) {
        if (fits32((int64_t)imm)) {
            enc_rr(e, 8, 0xC7, 0, dst, 0);
            emit_u32(e, (uint32_t)imm);
        } else {
            emit_prefixes(e, 8, 0, 0, dst, false);
            emit_u8(e, (uint8_t)(0xB8 | (dst & 7)));
            emit_u64(e, imm);
        }
        return;
    }
    if (size == 8) size = 4; /* mov r32, imm32 zero-extends */
    emit_prefixes(e, size, 0, 0, dst, size == 1 && byte_needs_rex(dst));
    emit_u8(e, (uint8_t)((size == 1 ? 0xB0 : 0xB8) | (dst & 7)));
    emit_imm(e, size, (int32_t)imm);
}

void emit_movzx_rr(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst, unsigned src)
{
    if (ssize == 4) { /* a 32-bit move zero-extends */
        emit_mov_rr(e, 4, dst, src);
        return;
    }
    enc_rr(e, dsize, ssize == 1 ? 0x0FB6 : 0x0FB7, dst, src, ssize == 1 ? BYTE_RM : 0);
}

void emit_movzx_rm(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst,
                   struct jit_mem m)
{
    if (ssize == 4) {
        emit_load(e, 4, dst, m);
        return;
    }
    enc_rm(e, dsize, ssize == 1 ? 0x0FB6 : 0x0FB7, dst, m, 0);
}

void emit_movsx_rr(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst, unsigned src)
{
    if (ssize == 4)
        enc_rr(e, 8, 0x63, dst, src, 0);
    else
        enc_rr(e, dsize, ssize == 1 ? 0x0FBE : 0x0FBF, dst, src, ssize == 1 ? BYTE_RM : 0);
}

void emit_movsx_rm(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst,
                   struct jit_mem m)
{
    if (ssize == 4)
        enc_rm(e, 8, 0x63, dst, m, 0);
    else
        enc_rm(e, dsize, ssize == 1 ? 0x0FBE : 0x0FBF, dst, m, 0);
}

void emit_lea(struct jit_emit *e, unsigned size, unsigned dst, struct jit_mem m)
{
    if (m.base == HR_REG) { /* no such instruction: make the translation fail loudly */
        e->overflow = true;
        return;
    }
    enc_rm(e, size, 0x8D, dst, m, 0);
}

void emit_xchg_rr(struct jit_emit *e, unsigned size, unsigned a, unsigned b)
{
    emit_op_rr(e, size, size == 1 ? 0x86 : 0x87, a, b);
}

/* ---- arithmetic ---- */

void emit_alu_rr(struct jit_emit *e, enum jit_alu op, unsigned size, unsigned dst, unsigned src)
{
    emit_op_rr(e, size, (uint32_t)(op << 3 | (size == 1 ? 0 : 1)), src, dst);
}

void emit_alu_rm(struct jit_emit *e, enum jit_alu op, unsigned size, unsigned dst, struct jit_mem m)
{
    emit_op_rm(e, size, (uint32_t)(op << 3 | (size == 1 ? 2 : 3)), dst, m);
}

void emit_alu_mr(struct jit_emit *e, enum jit_alu op, unsigned size, struct jit_mem m, unsigned src)
{
    emit_op_rm(e, size, (uint32_t)(op << 3 | (size == 1 ? 0 : 1)), src, m);
}

void emit_alu_ri(struct jit_emit *e, enum jit_alu op, unsigned size, unsigned dst, int32_t imm)
{
    if (size == 1) {
        enc_rr(e, 1, 0x80, op, dst, BYTE_RM);
        emit_u8(e, (uint8_t)imm);
    } else if (fits8(imm)) {
        enc_rr(e, size, 0x83, op, dst, 0);
        emit_u8(e, (uint8_t)imm);
    } else {
        enc_rr(e, size, 0x81, op, dst, 0);
        emit_imm(e, size, imm);
    }
}

void emit_alu_mi(struct jit_emit *e, enum jit_alu op, unsigned size, struct jit_mem m, int32_t imm)
{
    if (size == 1) {
        enc_rm(e, 1, 0x80, op, m, 0);
        emit_u8(e, (uint8_t)imm);
    } else if (fits8(imm)) {
        enc_rm(e, size, 0x83, op, m, 0);
        emit_u8(e, (uint8_t)imm);
    } else {
        enc_rm(e, size, 0x81, op, m, 0);
        emit_imm(e, size, imm);
    }
}

void emit_test_rr(struct jit_emit *e, unsigned size, unsigned a, unsigned b)
{
    emit_op_rr(e, size, size == 1 ? 0x84 : 0x85, b, a);
}

void emit_test_ri(struct jit_emit *e, unsigned size, unsigned r, int32_t imm)
{
    enc_rr(e, size, size == 1 ? 0xF6 : 0xF7, 0, r, size == 1 ? BYTE_RM : 0);
    emit_imm(e, size, imm);
}

void emit_test_mi(struct jit_emit *e, unsigned size, struct jit_mem m, int32_t imm)
{
    enc_rm(e, size, size == 1 ? 0xF6 : 0xF7, 0, m, 0);
    emit_imm(e, size, imm);
}

void emit_shift_ri(struct jit_emit *e, enum jit_shift op, unsigned size, unsigned r, uint8_t n)
{
    unsigned bytes = size == 1 ? BYTE_RM : 0;
    if (n == 1) {
        enc_rr(e, size, size == 1 ? 0xD0 : 0xD1, op, r, bytes);
    } else {
        enc_rr(e, size, size == 1 ? 0xC0 : 0xC1, op, r, bytes);
        emit_u8(e, n);
    }
}

void emit_shift_rcl(struct jit_emit *e, enum jit_shift op, unsigned size, unsigned r)
{
    enc_rr(e, size, size == 1 ? 0xD2 : 0xD3, op, r, size == 1 ? BYTE_RM : 0);
}

void emit_imul_rr(struct jit_emit *e, unsigned size, unsigned dst, unsigned src)
{
    enc_rr(e, size, 0x0FAF, dst, src, 0);
}

void emit_imul_rri(struct jit_emit *e, unsigned size, unsigned dst, unsigned src, int32_t imm)
{
    if (fits8(imm)) {
        enc_rr(e, size, 0x6B, dst, src, 0);
        emit_u8(e, (uint8_t)imm);
    } else {
        enc_rr(e, size, 0x69, dst, src, 0);
        emit_imm(e, size, imm);
    }
}

static void emit_unary(struct jit_emit *e, uint32_t op8, unsigned digit, unsigned size, unsigned r)
{
    enc_rr(e, size, size == 1 ? op8 : op8 + 1, digit, r, size == 1 ? BYTE_RM : 0);
}

void emit_inc(struct jit_emit *e, unsigned size, unsigned r)
{
    emit_unary(e, 0xFE, 0, size, r);
}

void emit_dec(struct jit_emit *e, unsigned size, unsigned r)
{
    emit_unary(e, 0xFE, 1, size, r);
}

void emit_neg(struct jit_emit *e, unsigned size, unsigned r)
{
    emit_unary(e, 0xF6, 3, size, r);
}

void emit_not(struct jit_emit *e, unsigned size, unsigned r)
{
    emit_unary(e, 0xF6, 2, size, r);
}

void emit_bswap(struct jit_emit *e, unsigned size, unsigned r)
{
    emit_prefixes(e, size, 0, 0, r, false);
    emit_u8(e, 0x0F);
    emit_u8(e, (uint8_t)(0xC8 | (r & 7)));
}

/* ---- flags and conditions ---- */

void emit_setcc(struct jit_emit *e, enum jit_cc cc, unsigned r8)
{
    enc_rr(e, 4, 0x0F90u | cc, 0, r8, BYTE_RM);
}

void emit_cmov_rr(struct jit_emit *e, enum jit_cc cc, unsigned size, unsigned dst, unsigned src)
{
    enc_rr(e, size, 0x0F40u | cc, dst, src, 0);
}

void emit_pushfq(struct jit_emit *e)
{
    emit_u8(e, 0x9C);
}

void emit_popfq(struct jit_emit *e)
{
    emit_u8(e, 0x9D);
}

void emit_lahf(struct jit_emit *e)
{
    emit_u8(e, 0x9F);
}

void emit_sahf(struct jit_emit *e)
{
    emit_u8(e, 0x9E);
}

void emit_cmc(struct jit_emit *e)
{
    emit_u8(e, 0xF5);
}

void emit_clc(struct jit_emit *e)
{
    emit_u8(e, 0xF8);
}

void emit_stc(struct jit_emit *e)
{
    emit_u8(e, 0xF9);
}

/* ---- stack and control transfer ---- */

void emit_push(struct jit_emit *e, unsigned r)
{
    if (r & 8) emit_u8(e, 0x41);
    emit_u8(e, (uint8_t)(0x50 | (r & 7)));
}

void emit_pop(struct jit_emit *e, unsigned r)
{
    if (r & 8) emit_u8(e, 0x41);
    emit_u8(e, (uint8_t)(0x58 | (r & 7)));
}

void emit_ret(struct jit_emit *e)
{
    emit_u8(e, 0xC3);
}

void emit_jmp_r(struct jit_emit *e, unsigned r)
{
    enc_rr(e, 4, 0xFF, 4, r, 0);
}

void emit_jmp_m(struct jit_emit *e, struct jit_mem m)
{
    enc_rm(e, 4, 0xFF, 4, m, 0);
}

void emit_call_r(struct jit_emit *e, unsigned r)
{
    enc_rr(e, 4, 0xFF, 2, r, 0);
}

bool jit_rel32_ok(uintptr_t rx_field, uintptr_t target)
{
    return fits32((int64_t)(target - (rx_field + 4)));
}

void jit_patch_rel32(uint8_t *rw, uintptr_t rx_field, uintptr_t target)
{
    int32_t rel = (int32_t)(int64_t)(target - (rx_field + 4));
    memcpy(rw, &rel, 4);
}

/* Opcode bytes then a rel32 to `target`; returns the field's offset. */
static size_t emit_rel32_op(struct jit_emit *e, uint32_t op, uintptr_t target)
{
    emit_opcode(e, op);
    size_t field = e->pos;
    emit_u32(e, 0);
    if (!e->overflow) jit_patch_rel32(e->buf + field, e->rx + field, target);
    return field;
}

void emit_call_abs(struct jit_emit *e, const void *fn, unsigned scratch)
{
    uintptr_t target = (uintptr_t)fn;
    if (jit_rel32_ok(jit_emit_here(e) + 1, target)) {
        emit_rel32_op(e, 0xE8, target);
    } else {
        emit_mov_ri(e, 8, scratch, target);
        emit_call_r(e, scratch);
    }
}

size_t emit_jmp_abs(struct jit_emit *e, uintptr_t target)
{
    return emit_rel32_op(e, 0xE9, target);
}

size_t emit_jcc_abs(struct jit_emit *e, enum jit_cc cc, uintptr_t target)
{
    return emit_rel32_op(e, 0x0F80u | cc, target);
}

/* ---- labels ---- */

static size_t emit_label_ref(struct jit_emit *e, uint32_t op, struct jit_label *l)
{
    if (l->pos >= 0) return emit_rel32_op(e, op, e->rx + (uintptr_t)l->pos);
    emit_opcode(e, op);
    size_t field = e->pos;
    emit_u32(e, (uint32_t)l->head); /* link to the previous pending field */
    if (!e->overflow) l->head = (int32_t)field;
    return field;
}

size_t emit_jmp_label(struct jit_emit *e, struct jit_label *l)
{
    return emit_label_ref(e, 0xE9, l);
}

size_t emit_jcc_label(struct jit_emit *e, enum jit_cc cc, struct jit_label *l)
{
    return emit_label_ref(e, 0x0F80u | cc, l);
}

void jit_label_bind(struct jit_emit *e, struct jit_label *l)
{
    l->pos = (int32_t)e->pos;
    while (l->head >= 0) {
        int32_t field = l->head, prev;
        memcpy(&prev, e->buf + field, 4);
        jit_patch_rel32(e->buf + field, e->rx + (uintptr_t)field, e->rx + (uintptr_t)l->pos);
        l->head = prev;
    }
}
