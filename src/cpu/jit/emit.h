/* emit.h — an x86-64 machine-code emitter for the translator. It writes host instructions into
 * a byte buffer (the RW view of the code cache) while computing branch displacements against
 * the address the code will run at (the RX view), so relative calls and jumps are right in the
 * executable mapping. Only what a same-ISA translator needs is here: moves and extensions, LEA,
 * the eight ALU ops, shifts, IMUL, TEST, unary ops, SETcc/CMOVcc, stack and flag transfers, and
 * jumps/calls with labels and patchable rel32 fields.
 *
 * Operand sizes are given in bytes (1, 2, 4, 8) as in struct insn. Byte registers 4..7 always
 * mean SPL/BPL/SIL/DIL (a REX prefix is emitted); the emitter never produces AH..BH.
 * Running out of buffer sets `overflow` and stops writing; callers check once at the end. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Host registers in encoding order. */
enum jit_reg {
    HR_RAX,
    HR_RCX,
    HR_RDX,
    HR_RBX,
    HR_RSP,
    HR_RBP,
    HR_RSI,
    HR_RDI,
    HR_R8,
    HR_R9,
    HR_R10,
    HR_R11,
    HR_R12,
    HR_R13,
    HR_R14,
    HR_R15
};
#define HR_NONE 0xff /* no base / no index in a jit_mem */
#define HR_RIP  0xfe /* base: RIP-relative (disp is relative to the end of the instruction) */
#define HR_REG  0xfd /* base: not memory but the register in `index` (ModRM mod=3) */

/* ALU group 1 (opcode /digit order). */
enum jit_alu { JALU_ADD, JALU_OR, JALU_ADC, JALU_SBB, JALU_AND, JALU_SUB, JALU_XOR, JALU_CMP };
/* Shift group 2 (/digit order). */
enum jit_shift { JSH_ROL, JSH_ROR, JSH_RCL, JSH_RCR, JSH_SHL, JSH_SHR, JSH_SAL, JSH_SAR };
/* Condition codes (Jcc/SETcc/CMOVcc low nibble). */
enum jit_cc {
    JCC_O,
    JCC_NO,
    JCC_B,
    JCC_AE,
    JCC_E,
    JCC_NE,
    JCC_BE,
    JCC_A,
    JCC_S,
    JCC_NS,
    JCC_P,
    JCC_NP,
    JCC_L,
    JCC_GE,
    JCC_LE,
    JCC_G
};

/* A memory operand: [base + index << scale + disp]. With base HR_REG it is the register
 * `index` instead (jit_reg_op), so code written for a memory slot can be pointed at a host
 * register: every r/m form accepts it, except LEA. A register operand always gets a REX
 * prefix when it is 4..7, so byte forms name SPL..DIL. */
struct jit_mem {
    uint8_t base;  /* jit_reg, HR_RIP or HR_NONE */
    uint8_t index; /* jit_reg (not RSP) or HR_NONE */
    uint8_t scale; /* 0..3 */
    int32_t disp;
};

static inline struct jit_mem jit_mem(unsigned base, int32_t disp)
{
    return (struct jit_mem){(uint8_t)base, HR_NONE, 0, disp};
}
static inline struct jit_mem jit_mem_idx(unsigned base, unsigned index, unsigned scale,
                                         int32_t disp)
{
    return (struct jit_mem){(uint8_t)base, (uint8_t)index, (uint8_t)scale, disp};
}

static inline struct jit_mem jit_reg_op(unsigned reg)
{
    return (struct jit_mem){HR_REG, (uint8_t)reg, 0, 0};
}

struct jit_emit {
    uint8_t *buf; /* where bytes are written (RW view) */
    uintptr_t rx; /* address buf[0] will execute at (RX view) */
    size_t cap, pos;
    bool overflow; /* a write did not fit: the output is unusable */
};

/* A jump target inside one emitter. Unbound labels thread their pending rel32 fields into a
 * list through the fields themselves, so any number of jumps may precede the bind. */
struct jit_label {
    int32_t pos;  /* bound offset, or -1 */
    int32_t head; /* offset of the last pending rel32 field, or -1 */
};

void jit_emit_init(struct jit_emit *e, void *buf, uintptr_t rx, size_t cap);
static inline uintptr_t jit_emit_here(const struct jit_emit *e)
{
    return e->rx + e->pos;
}

void emit_u8(struct jit_emit *e, uint8_t v);
void emit_u16(struct jit_emit *e, uint16_t v);
void emit_u32(struct jit_emit *e, uint32_t v);
void emit_u64(struct jit_emit *e, uint64_t v);
void emit_bytes(struct jit_emit *e, const void *p, size_t n);
/* Pad with multi-byte NOPs to an `align` boundary of the RX address. */
void emit_align(struct jit_emit *e, unsigned align);

/* ---- generic encoders (prefixes, REX, ModRM/SIB/disp) ----
 * `op` is the opcode: one byte, or 0x0Fxx / 0x0F38xx for the escape maps. `size` selects 66
 * (2) and REX.W (8); size 1 only forces REX for byte registers 4..7. */
void emit_op_rr(struct jit_emit *e, unsigned size, uint32_t op, unsigned reg, unsigned rm);
void emit_op_rm(struct jit_emit *e, unsigned size, uint32_t op, unsigned reg, struct jit_mem m);

/* ---- moves ---- */
void emit_mov_rr(struct jit_emit *e, unsigned size, unsigned dst, unsigned src);
void emit_load(struct jit_emit *e, unsigned size, unsigned dst, struct jit_mem m);
void emit_store(struct jit_emit *e, unsigned size, struct jit_mem m, unsigned src);
/* Store a sign-extended imm32 (size 8), imm32, imm16 or imm8. */
void emit_store_imm(struct jit_emit *e, unsigned size, struct jit_mem m, int32_t imm);
/* dst = imm at the given size (32-bit forms zero-extend); the shortest encoding is chosen. */
void emit_mov_ri(struct jit_emit *e, unsigned size, unsigned dst, uint64_t imm);
/* Zero/sign extension of a 1- or 2-byte source to dsize (2, 4, 8); movsxd for ssize 4. */
void emit_movzx_rr(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst, unsigned src);
void emit_movzx_rm(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst,
                   struct jit_mem m);
void emit_movsx_rr(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst, unsigned src);
void emit_movsx_rm(struct jit_emit *e, unsigned dsize, unsigned ssize, unsigned dst,
                   struct jit_mem m);
void emit_lea(struct jit_emit *e, unsigned size, unsigned dst, struct jit_mem m);
void emit_xchg_rr(struct jit_emit *e, unsigned size, unsigned a, unsigned b);

/* ---- arithmetic ---- */
void emit_alu_rr(struct jit_emit *e, enum jit_alu op, unsigned size, unsigned dst, unsigned src);
void emit_alu_rm(struct jit_emit *e, enum jit_alu op, unsigned size, unsigned dst,
                 struct jit_mem m); /* dst op= [m] */
void emit_alu_mr(struct jit_emit *e, enum jit_alu op, unsigned size, struct jit_mem m,
                 unsigned src); /* [m] op= src */
void emit_alu_ri(struct jit_emit *e, enum jit_alu op, unsigned size, unsigned dst, int32_t imm);
void emit_alu_mi(struct jit_emit *e, enum jit_alu op, unsigned size, struct jit_mem m, int32_t imm);
void emit_test_rr(struct jit_emit *e, unsigned size, unsigned a, unsigned b);
void emit_test_ri(struct jit_emit *e, unsigned size, unsigned r, int32_t imm);
void emit_test_mi(struct jit_emit *e, unsigned size, struct jit_mem m, int32_t imm);
void emit_shift_ri(struct jit_emit *e, enum jit_shift op, unsigned size, unsigned r, uint8_t n);
void emit_shift_rcl(struct jit_emit *e, enum jit_shift op, unsigned size, unsigned r); /* by CL */
void emit_imul_rr(struct jit_emit *e, unsigned size, unsigned dst, unsigned src);
void emit_imul_rri(struct jit_emit *e, unsigned size, unsigned dst, unsigned src, int32_t imm);
void emit_inc(struct jit_emit *e, unsigned size, unsigned r);
void emit_dec(struct jit_emit *e, unsigned size, unsigned r);
void emit_neg(struct jit_emit *e, unsigned size, unsigned r);
void emit_not(struct jit_emit *e, unsigned size, unsigned r);
void emit_bswap(struct jit_emit *e, unsigned size, unsigned r);

/* ---- flags and conditions ---- */
void emit_setcc(struct jit_emit *e, enum jit_cc cc, unsigned r8);
void emit_cmov_rr(struct jit_emit *e, enum jit_cc cc, unsigned size, unsigned dst, unsigned src);
void emit_pushfq(struct jit_emit *e);
void emit_popfq(struct jit_emit *e);
void emit_lahf(struct jit_emit *e);
void emit_sahf(struct jit_emit *e);
void emit_cmc(struct jit_emit *e);
void emit_clc(struct jit_emit *e);
void emit_stc(struct jit_emit *e);

/* ---- stack and control transfer ---- */
void emit_push(struct jit_emit *e, unsigned r);
void emit_pop(struct jit_emit *e, unsigned r);
void emit_ret(struct jit_emit *e);
void emit_jmp_r(struct jit_emit *e, unsigned r);
void emit_jmp_m(struct jit_emit *e, struct jit_mem m);
void emit_call_r(struct jit_emit *e, unsigned r);
/* Call a host function: rel32 when it is within reach of the RX address, else through
 * `scratch` (mov scratch, imm64; call scratch). scratch must be caller-saved (RAX or R11). */
void emit_call_abs(struct jit_emit *e, const void *fn, unsigned scratch);
/* Jumps with a rel32 to an absolute RX address. Return the offset of the rel32 field (for
 * later patching with jit_patch_rel32). */
size_t emit_jmp_abs(struct jit_emit *e, uintptr_t target);
size_t emit_jcc_abs(struct jit_emit *e, enum jit_cc cc, uintptr_t target);

/* ---- labels ---- */
static inline struct jit_label jit_label_new(void)
{
    return (struct jit_label){-1, -1};
}
/* Emit a rel32 jump/jcc to label l (bound or not). Returns the rel32 field's offset. */
size_t emit_jmp_label(struct jit_emit *e, struct jit_label *l);
size_t emit_jcc_label(struct jit_emit *e, enum jit_cc cc, struct jit_label *l);
/* Bind l to the current position and resolve every pending jump to it. */
void jit_label_bind(struct jit_emit *e, struct jit_label *l);

/* Rewrite a rel32 field so the jump it ends goes to `target`. rw points at the field in the
 * writable view, rx_field at the same field in the executable view. One 4-byte aligned-or-not
 * store; callers patching live code must make sure no thread executes it concurrently. */
void jit_patch_rel32(uint8_t *rw, uintptr_t rx_field, uintptr_t target);
/* Whether `target` is reachable with a rel32 from the end of a 4-byte field at rx_field. */
bool jit_rel32_ok(uintptr_t rx_field, uintptr_t target);
