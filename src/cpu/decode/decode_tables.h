/* decode_tables.h — the opcode attribute tables the decoder runs on. One 32-bit word per opcode
 * of each map says what follows the opcode (ModRM, which immediate), how the operand size is
 * chosen, which prefixes and ModRM forms are legal, and whether it ends a block. Opcodes whose
 * meaning depends on ModRM.reg (the "groups") point at a group row whose per-/r word is OR-ed
 * into the opcode's word. Private to decode.c and decode_tables.c. */
#pragma once
#include <stdint.h>

/* attribute bits */
#define DA_OK      (1u << 0)  /* defined in 64-bit mode (a zero word is #UD) */
#define DA_MODRM   (1u << 1)  /* a ModRM byte follows */
#define DA_BYTE    (1u << 2)  /* byte operands: opsize 1 */
#define DA_D64     (1u << 3)  /* default operand size 64 (66 selects 16) */
#define DA_F64     (1u << 4)  /* operand size always 64 (66 ignored, as Intel CPUs do) */
#define DA_BRANCH  (1u << 5)  /* ends a block: INSN_BRANCH */
#define DA_LOCK    (1u << 6)  /* LOCK allowed (with a memory operand) */
#define DA_PLUSR   (1u << 7)  /* register in the low 3 opcode bits */
#define DA_MEMONLY (1u << 8)  /* ModRM must name memory */
#define DA_REGONLY (1u << 9)  /* ModRM must name a register */
#define DA_DW      (1u << 10) /* operand size 16 or 32 only (REX.W ignored): in/out, ins/outs */
#define DA_CRDR    (1u << 11) /* mov to/from CR/DR: ModRM.mod ignored, always registers */
#define DA_X87     (1u << 12) /* D8..DF: validity from the x87 tables */
#define DA_STRING                                                                                  \
    (1u << 13) /* string instruction: with F3/F2 it restarts itself (INSN_RESTART)                 \
                */

/* immediate kind, bits 14..17 */
#define DA_IMM_SHIFT 14
#define DA_IMM_MASK  (0xfu << DA_IMM_SHIFT)
enum {
    DI_NONE,
    DI_B,     /* imm8, sign-extended */
    DI_BZ,    /* imm8, zero-extended */
    DI_W,     /* imm16, zero-extended */
    DI_Z,     /* imm16 (opsize 2) or imm32, sign-extended */
    DI_Z32,   /* imm32 sign-extended regardless of 66 (rel32 of near branches) */
    DI_V,     /* imm16/32/64 by operand size (mov r, imm) */
    DI_WB,    /* imm16 then imm8 (ENTER) */
    DI_MOFFS, /* absolute address of address size (mov moffs) */
    DI_FAR,   /* ptr16:16 / ptr16:32 of far jmp/call (9A, EA): imm = offset, disp = selector */
};
#define DA_I(k) ((uint32_t)(k) << DA_IMM_SHIFT)

/* mandatory-prefix classes (MP_NONE, MP_66, MP_F3, MP_F2) under which the opcode is #UD,
 * bits 18..21 */
#define DA_NOMP_SHIFT 18
#define DA_NO_NONE    (1u << (DA_NOMP_SHIFT + 0))
#define DA_NO_66      (1u << (DA_NOMP_SHIFT + 1))
#define DA_NO_F3      (1u << (DA_NOMP_SHIFT + 2))
#define DA_NO_F2      (1u << (DA_NOMP_SHIFT + 3))

/* SSE/MMX opcode: 66 is a mandatory prefix, not an operand-size override (opsize 4, or 8
 * with REX.W, for the general-register operand of movd/movq/pextrw/cvtsi2ss...) */
#define DA_SSE (1u << 22)
/* legality depends on more than the table says: decode.c's decode_special_ok() decides */
#define DA_CHECK (1u << 23)

/* group row, bits 24..31 (0 = not a group) */
#define DA_GRP_SHIFT 24
#define DA_G(n)      ((uint32_t)(n) << DA_GRP_SHIFT)
enum {
    DG_NONE,
    DG_1,    /* 80 81 83 */
    DG_1A,   /* 8F */
    DG_2,    /* C0 C1 D0..D3 */
    DG_3B,   /* F6 */
    DG_3V,   /* F7 */
    DG_4,    /* FE */
    DG_5,    /* FF */
    DG_11,   /* C6 C7 */
    DG_6,    /* 0F 00 */
    DG_7,    /* 0F 01 */
    DG_8,    /* 0F BA */
    DG_9,    /* 0F C7 */
    DG_12,   /* 0F 71 */
    DG_13,   /* 0F 72 */
    DG_14,   /* 0F 73 */
    DG_15,   /* 0F AE */
    DG_SEG,  /* 8C: segment register source */
    DG_MOVS, /* 8E: segment register destination */
    DG_COUNT
};

/* VEX-only attribute bits (the VEX tables have no group rows, so bits 24..31 are free there):
 * what VEX.L, VEX.W and VEX.vvvv must be, and the special operand kinds. */
#define VA_L0   (1u << 24) /* VEX.L must be 0 (128-bit or scalar-only instruction) */
#define VA_L1   (1u << 25) /* VEX.L must be 1 (256-bit-only instruction) */
#define VA_NOV  (1u << 26) /* VEX.vvvv must be 1111b: no register operand there */
#define VA_W0   (1u << 27) /* VEX.W must be 0 */
#define VA_W1   (1u << 28) /* VEX.W must be 1 */
#define VA_VSIB (1u << 29) /* VSIB memory operand (gathers): SIB required, index is a vector */
#define VA_GPR  (1u << 30) /* general-register instruction (BMI): opsize 4, or 8 with VEX.W */

/* Opcode words per map: 0 = one-byte, 1 = 0F, 2 = 0F 38, 3 = 0F 3A. */
extern const uint32_t *const decode_map[4];
/* One-byte opcodes whose meaning differs outside 64-bit mode (0 = same as decode_map[0]):
 * push/pop ES CS SS DS, BCD adjustments, INC/DEC r (40-4F), PUSHA/POPA, BOUND, ARPL, 82,
 * far CALL/JMP ptr16:16/32, LES/LDS (C4/C5 with a memory ModRM), INTO, AAM/AAD, SALC. */
extern const uint32_t decode_legacy0[256];
/* VEX opcode words per VEX.m-mmmm: 1 = 0F, 2 = 0F 38, 3 = 0F 3A (index 0 unused). */
extern const uint32_t *const decode_vex_map[4];
/* Group words: [group][mod == 3][ModRM.reg]; OR-ed into the opcode word, DA_OK required. */
extern const uint32_t decode_group[DG_COUNT][2][8];
/* x87: memory forms valid per ModRM.reg (bit r), per opcode D8..DF. */
extern const uint8_t decode_x87_mem[8];
/* x87 register forms valid per ModRM low 6 bits (bit n), per opcode D8..DF. */
extern const uint64_t decode_x87_reg[8];
/* 0F 01 register forms (ModRM C0..FF) valid without a mandatory prefix, bit (modrm & 63). */
extern const uint64_t decode_0f01_reg;
