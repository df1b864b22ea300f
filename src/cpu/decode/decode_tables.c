/* decode_tables.c — opcode attributes of the one-byte, 0F, 0F 38 and 0F 3A maps in 64-bit mode,
 * the group rows selected by ModRM.reg, and the x87 / 0F 01 register-form validity bitmaps.
 * Sources: Intel SDM vol. 2 appendix A (opcode maps). An absent entry is #UD; the semantic
 * families decide which of the decodable instructions they execute. */
#include <stddef.h>

#include "cpu/decode/decode_tables.h"

/* shorthands for the tables below */
#define O    DA_OK
#define E    (DA_OK | DA_MODRM)
#define EB   (E | DA_BYTE)
#define S    (E | DA_SSE) /* SSE/MMX: 66 selects the form, not the operand size */
#define LK   DA_LOCK
#define BR   DA_BRANCH
#define STR  DA_STRING
#define D64  DA_D64
#define F64  DA_F64
#define MEM  DA_MEMONLY
#define REG  DA_REGONLY
#define IB   DA_I(DI_B)
#define IBZ  DA_I(DI_BZ)
#define IW   DA_I(DI_W)
#define IZ   DA_I(DI_Z)
#define IZ32 DA_I(DI_Z32)
/* mandatory-prefix sets: which of none/66/F3/F2 are legal */
#define P_N      (DA_NO_66 | DA_NO_F3 | DA_NO_F2)
#define P_66     (DA_NO_NONE | DA_NO_F3 | DA_NO_F2)
#define P_F3     (DA_NO_NONE | DA_NO_66 | DA_NO_F2)
#define P_F2     (DA_NO_NONE | DA_NO_66 | DA_NO_F3)
#define P_N66    (DA_NO_F3 | DA_NO_F2)
#define P_N66_F3 DA_NO_F2
#define P_66F2   (DA_NO_NONE | DA_NO_F3)
#define P_NF3    (DA_NO_66 | DA_NO_F2)
#define P_NO_N   DA_NO_NONE

/* clang-format off */
/* the eight classic ALU opcodes at b..b+5: r/m,reg / reg,r/m / accumulator,imm */
#define ALU(b, lk) \
    [(b) + 0] = EB | (lk), [(b) + 1] = E | (lk), [(b) + 2] = EB, [(b) + 3] = E, \
    [(b) + 4] = O | DA_BYTE | IB, [(b) + 5] = O | IZ

/* one-byte map */
static const uint32_t map0[256] = {
    ALU(0x00, LK),
    ALU(0x08, LK),
    ALU(0x10, LK),
    ALU(0x18, LK),
    ALU(0x20, LK),
    ALU(0x28, LK),
    ALU(0x30, LK),
    ALU(0x38, 0),
    [0x50 ... 0x5f] = O | D64 | DA_PLUSR,   /* push r */
    [0x63] = E,                             /* movsxd */
    [0x68] = O | D64 | IZ,                  /* push imm */
    [0x69] = E | IZ,                        /* imul r, r/m, imm */
    [0x6a] = O | D64 | IB,                  /* push imm8 */
    [0x6b] = E | IB,                        /* imul r, r/m, imm8 */
    [0x6c] = O | DA_BYTE | BR | STR,        /* insb */
    [0x6d] = O | DA_DW | BR | STR,          /* ins */
    [0x6e] = O | DA_BYTE | BR | STR,        /* outsb */
    [0x6f] = O | DA_DW | BR | STR,          /* outs */
    [0x70 ... 0x7f] = O | F64 | BR | IB,    /* jcc rel8 */
    [0x80] = EB | IB | DA_G(DG_1),          /* group 1 */
    [0x81] = E | IZ | DA_G(DG_1),           /* group 1 */
    [0x83] = E | IB | DA_G(DG_1),           /* group 1 */
    [0x84] = EB,                            /* test */
    [0x85] = E,                             /* test */
    [0x86] = EB | LK,                       /* xchg */
    [0x87] = E | LK,                        /* xchg */
    [0x88] = EB,                            /* mov */
    [0x89] = E,                             /* mov */
    [0x8a] = EB,                            /* mov */
    [0x8b] = E,                             /* mov */
    [0x8c] = E | DA_G(DG_SEG),              /* mov r/m, sreg */
    [0x8d] = E | MEM,                       /* lea */
    [0x8e] = E | BR | DA_G(DG_MOVS),        /* mov sreg, r/m */
    [0x8f] = E | DA_G(DG_1A),               /* pop r/m */
    [0x90 ... 0x97] = O | DA_PLUSR,         /* nop / pause / xchg */
    [0x98 ... 0x99] = O,                    /* cbw/cwde/cdqe, cwd/cdq/cqo */
    [0x9b] = O,                             /* fwait */
    [0x9c] = O | D64,                       /* pushf */
    [0x9d] = O | D64 | BR,                  /* popf */
    [0x9e ... 0x9f] = O,                    /* sahf, lahf */
    [0xa0] = O | DA_BYTE | DA_I(DI_MOFFS),  /* mov al, moffs */
    [0xa1] = O | DA_I(DI_MOFFS),            /* mov rax, moffs */
    [0xa2] = O | DA_BYTE | DA_I(DI_MOFFS),  /* mov moffs, al */
    [0xa3] = O | DA_I(DI_MOFFS),            /* mov moffs, rax */
    [0xa4] = O | DA_BYTE | STR,             /* movsb */
    [0xa5] = O | STR,                       /* movs */
    [0xa6] = O | DA_BYTE | STR,             /* cmpsb */
    [0xa7] = O | STR,                       /* cmps */
    [0xa8] = O | DA_BYTE | IB,              /* test al, imm8 */
    [0xa9] = O | IZ,                        /* test rax, imm */
    [0xaa] = O | DA_BYTE | STR,             /* stosb */
    [0xab] = O | STR,                       /* stos */
    [0xac] = O | DA_BYTE | STR,             /* lodsb */
    [0xad] = O | STR,                       /* lods */
    [0xae] = O | DA_BYTE | STR,             /* scasb */
    [0xaf] = O | STR,                       /* scas */
    [0xb0 ... 0xb7] = O | DA_BYTE | DA_PLUSR | IB, /* mov r8, imm8 */
    [0xb8 ... 0xbf] = O | DA_PLUSR | DA_I(DI_V), /* mov r, imm */
    [0xc0] = EB | IBZ | DA_G(DG_2),         /* shift group 2, imm8 */
    [0xc1] = E | IBZ | DA_G(DG_2),          /* shift group 2, imm8 */
    [0xc2] = O | F64 | BR | IW,             /* ret imm16 */
    [0xc3] = O | F64 | BR,                  /* ret */
    [0xc6] = EB | IB | DA_G(DG_11),         /* mov r/m8, imm8 */
    [0xc7] = E | IZ | DA_G(DG_11),          /* mov r/m, imm */
    [0xc8] = O | D64 | DA_I(DI_WB),         /* enter */
    [0xc9] = O | D64,                       /* leave */
    [0xca] = O | BR | IW,                   /* retf imm16 */
    [0xcb] = O | BR,                        /* retf */
    [0xcc] = O | BR,                        /* int3 */
    [0xcd] = O | BR | IBZ,                  /* int imm8 */
    [0xcf] = O | BR,                        /* iret */
    [0xd0] = EB | DA_G(DG_2),               /* shift group 2, 1 */
    [0xd1] = E | DA_G(DG_2),                /* shift group 2, 1 */
    [0xd2] = EB | DA_G(DG_2),               /* shift group 2, cl */
    [0xd3] = E | DA_G(DG_2),                /* shift group 2, cl */
    [0xd7] = O,                             /* xlat */
    [0xd8 ... 0xdf] = E | DA_X87,           /* x87 */
    [0xe0 ... 0xe3] = O | F64 | BR | IB,    /* loop*, jrcxz */
    [0xe4] = O | DA_BYTE | BR | IBZ,        /* in al, imm8 */
    [0xe5] = O | DA_DW | BR | IBZ,          /* in eax, imm8 */
    [0xe6] = O | DA_BYTE | BR | IBZ,        /* out imm8, al */
    [0xe7] = O | DA_DW | BR | IBZ,          /* out imm8, eax */
    [0xe8 ... 0xe9] = O | F64 | BR | IZ32,  /* call rel32, jmp rel32 */
    [0xeb] = O | F64 | BR | IB,             /* jmp rel8 */
    [0xec] = O | DA_BYTE | BR,              /* in al, dx */
    [0xed] = O | DA_DW | BR,                /* in eax, dx */
    [0xee] = O | DA_BYTE | BR,              /* out dx, al */
    [0xef] = O | DA_DW | BR,                /* out dx, eax */
    [0xf1] = O | BR,                        /* int1 */
    [0xf4] = O | BR,                        /* hlt */
    [0xf5] = O,                             /* cmc */
    [0xf6] = EB | DA_G(DG_3B),              /* group 3 */
    [0xf7] = E | DA_G(DG_3V),               /* group 3 */
    [0xf8 ... 0xfa] = O,                    /* clc stc cli */
    [0xfb] = O | BR,                        /* sti */
    [0xfc ... 0xfd] = O,                    /* cld std */
    [0xfe] = EB | DA_G(DG_4),               /* group 4 */
    [0xff] = E | DA_G(DG_5),                /* group 5 */
};

/* 0F map */
static const uint32_t map1[256] = {
    [0x00] = E | BR | DA_G(DG_6),           /* group 6: sldt str lldt ltr verr verw */
    [0x01] = E | BR | DA_G(DG_7) | DA_CHECK, /* group 7: lgdt lidt invlpg swapgs ... */
    [0x02 ... 0x03] = E,                    /* lar, lsl */
    [0x05] = O | BR,                        /* syscall */
    [0x06] = O | BR,                        /* clts */
    [0x07] = O | BR,                        /* sysret */
    [0x08 ... 0x09] = O | BR,               /* invd wbinvd */
    [0x0b] = O | BR,                        /* ud2 */
    [0x0d] = E,                             /* prefetch(w), nop */
    [0x10 ... 0x11] = S,                    /* movups movss movupd movsd */
    [0x12] = S | DA_CHECK,                  /* movlps movhlps movlpd movddup movsldup */
    [0x13] = S | P_N66 | MEM,               /* movlps movlpd (store) */
    [0x14 ... 0x15] = S | P_N66,            /* unpcklps unpckhps (pd) */
    [0x16] = S | P_N66_F3 | DA_CHECK,       /* movhps movlhps movhpd movshdup */
    [0x17] = S | P_N66 | MEM,               /* movhps movhpd (store) */
    [0x18 ... 0x1f] = E,                    /* prefetch hints, reserved nops, endbr */
    [0x20 ... 0x21] = E | F64 | DA_CRDR | DA_CHECK, /* mov r, cr / dr */
    [0x22 ... 0x23] = E | F64 | DA_CRDR | BR | DA_CHECK, /* mov cr / dr, r */
    [0x28 ... 0x29] = S | P_N66,            /* movaps movapd */
    [0x2a] = S,                             /* cvtpi2ps cvtsi2ss ... */
    [0x2b] = S | P_N66 | MEM,               /* movntps movntpd */
    [0x2c ... 0x2d] = S,                    /* cvtt*2si, cvt*2si */
    [0x2e ... 0x2f] = S | P_N66,            /* ucomis comis */
    [0x30] = O | BR,                        /* wrmsr */
    [0x31] = O,                             /* rdtsc */
    [0x32] = O,                             /* rdmsr */
    [0x33] = O,                             /* rdpmc */
    [0x34 ... 0x35] = O | BR,               /* sysenter sysexit */
    [0x37] = O | BR | P_N,                  /* getsec */
    [0x40 ... 0x4f] = E,                    /* cmovcc */
    [0x50] = S | P_N66 | REG,               /* movmskps movmskpd */
    [0x51] = S,                             /* sqrt */
    [0x52 ... 0x53] = S | P_NF3,            /* rsqrt rcp */
    [0x54 ... 0x57] = S | P_N66,            /* and andn or xor (ps/pd) */
    [0x58 ... 0x5a] = S,                    /* add mul cvt */
    [0x5b] = S | P_N66_F3,                  /* cvtdq2ps cvtps2dq cvttps2dq */
    [0x5c ... 0x5f] = S,                    /* sub min div max */
    [0x60 ... 0x6b] = S | P_N66,            /* punpck* pack* pcmpgt* */
    [0x6c ... 0x6d] = S | P_66,             /* punpcklqdq punpckhqdq */
    [0x6e] = S | P_N66,                     /* movd/movq mm/xmm, r/m */
    [0x6f] = S | P_N66_F3,                  /* movq movdqa movdqu (load) */
    [0x70] = S | IBZ,                       /* pshufw pshufd pshufhw pshuflw */
    [0x71] = S | IBZ | P_N66 | REG | DA_G(DG_12), /* group 12: shift words by imm8 */
    [0x72] = S | IBZ | P_N66 | REG | DA_G(DG_13), /* group 13: shift dwords by imm8 */
    [0x73] = S | IBZ | P_N66 | REG | DA_G(DG_14), /* group 14: shift qwords/dqwords by imm8 */
    [0x74 ... 0x76] = S | P_N66,            /* pcmpeq* */
    [0x77] = O | P_N,                       /* emms */
    [0x78 ... 0x79] = E | F64 | P_N,        /* vmread vmwrite */
    [0x7c ... 0x7d] = S | P_66F2,           /* haddpd haddps hsubpd hsubps */
    [0x7e ... 0x7f] = S | P_N66_F3,         /* movd/movq r/m, mm/xmm; movq xmm (F3) */
    [0x80 ... 0x8f] = O | F64 | BR | IZ32,  /* jcc rel32 */
    [0x90 ... 0x9f] = EB,                   /* setcc */
    [0xa0] = O | D64,
    [0xa1] = O | D64,                       /* push/pop fs */
    [0xa2] = O | BR,                        /* cpuid */
    [0xa3] = E,                             /* bt */
    [0xa4] = E | IBZ,                       /* shld imm8 */
    [0xa5] = E,                             /* shld */
    [0xa8] = O | D64,
    [0xa9] = O | D64,
    [0xaa] = O | BR,                        /* rsm */
    [0xab] = E | LK,                        /* bts */
    [0xac] = E | IBZ,                       /* shrd imm8 */
    [0xad] = E,                             /* shrd */
    [0xae] = E | DA_G(DG_15),               /* group 15: fxsave ... fences */
    [0xaf] = E,                             /* imul r, r/m */
    [0xb0] = EB | LK,                       /* cmpxchg */
    [0xb1] = E | LK,                        /* cmpxchg */
    [0xb2] = E | MEM,                       /* lss */
    [0xb3] = E | LK,                        /* btr */
    [0xb4 ... 0xb5] = E | MEM,              /* lfs lgs */
    [0xb6] = E,                             /* movzx r, r/m8 */
    [0xb7] = E,                             /* movzx */
    [0xb8] = E | P_F3,                      /* popcnt */
    [0xb9] = E | BR,                        /* ud1 */
    [0xba] = E | IBZ | DA_G(DG_8),          /* group 8: bt bts btr btc imm8 */
    [0xbb] = E | LK,                        /* btc */
    [0xbc ... 0xbf] = E,                    /* bsf/tzcnt bsr/lzcnt movsx */
    [0xc0] = EB | LK,                       /* xadd */
    [0xc1] = E | LK,                        /* xadd */
    [0xc2] = S | IBZ,                       /* cmpps cmpss cmppd cmpsd */
    [0xc3] = E | P_N | MEM,                 /* movnti */
    [0xc4] = S | IBZ | P_N66,               /* pinsrw */
    [0xc5] = S | IBZ | P_N66 | REG,         /* pextrw */
    [0xc6] = S | IBZ | P_N66,               /* shufps shufpd */
    [0xc7] = E | DA_G(DG_9),                /* group 9: cmpxchg8b/16b rdrand rdseed ... */
    [0xc8 ... 0xcf] = O | DA_PLUSR,         /* bswap */
    [0xd0] = S | P_66F2,                    /* addsubpd addsubps */
    [0xd1 ... 0xd5] = S | P_N66,            /* psrl* padd* pmull* ... */
    [0xd6] = S | P_NO_N | DA_CHECK,         /* movq, movq2dq, movdq2q */
    [0xd7] = S | P_N66 | REG,               /* pmovmskb */
    [0xd8 ... 0xe5] = S | P_N66,            /* psubus* pmin* pand* ... */
    [0xe6] = S | P_NO_N,                    /* cvt*dq* */
    [0xe7] = S | P_N66 | MEM,               /* movntq movntdq */
    [0xe8 ... 0xef] = S | P_N66,            /* psubs* padds* por pxor ... */
    [0xf0] = S | P_F2 | MEM,                /* lddqu */
    [0xf1 ... 0xf6] = S | P_N66,            /* psll* pmul* psad* ... */
    [0xf7] = S | P_N66 | REG,               /* maskmovq maskmovdqu */
    [0xf8 ... 0xfe] = S | P_N66,            /* psub* padd* */
    [0xff] = E | BR,                        /* ud0 */
};

/* 0F 38 map */
static const uint32_t map2[256] = {
    [0x00 ... 0x0b] = S | P_N66,
    [0x10] = S | P_66,
    [0x14 ... 0x15] = S | P_66,
    [0x17] = S | P_66,
    [0x1c ... 0x1e] = S | P_N66,
    [0x20 ... 0x25] = S | P_66,
    [0x28 ... 0x29] = S | P_66,
    [0x2a] = S | P_66 | MEM,                /* movntdqa */
    [0x2b] = S | P_66,
    [0x30 ... 0x35] = S | P_66,
    [0x37 ... 0x41] = S | P_66,
    [0x80 ... 0x82] = E | F64 | P_66 | MEM, /* invept invvpid invpcid */
    [0xc8 ... 0xcd] = S | P_N,              /* sha */
    [0xcf] = S | P_66,                      /* gf2p8mulb */
    [0xdb ... 0xdf] = S | P_66,             /* aes */
    /* movbe (none/66, memory only) or crc32 (F2): checked in decode.c */
    [0xf0 ... 0xf1] = E | DA_NO_F3 | DA_CHECK,
    [0xf6] = S | DA_NO_NONE | DA_NO_F2,     /* adcx (66) adox (F3) */
};

/* 0F 3A map */
static const uint32_t map3[256] = {
    [0x08 ... 0x0e] = S | IBZ | P_66,
    [0x0f] = S | IBZ | P_N66,               /* palignr */
    [0x14 ... 0x17] = S | IBZ | P_66,
    [0x20 ... 0x22] = S | IBZ | P_66,
    [0x40 ... 0x42] = S | IBZ | P_66,
    [0x44] = S | IBZ | P_66,                /* pclmulqdq */
    [0x60 ... 0x63] = S | IBZ | P_66,
    [0xcc] = S | IBZ | P_N,
    [0xce ... 0xcf] = S | IBZ | P_66,
    [0xdf] = S | IBZ | P_66,
};

const uint32_t *const decode_map[4] = {map0, map1, map2, map3};

/* Outside 64-bit mode (SDM vol. 2 appendix A, the "i64" and "o64" marks). */
const uint32_t decode_legacy0[256] = {
    [0x06] = O, [0x07] = O | BR,            /* push es, pop es */
    [0x0e] = O,                             /* push cs */
    [0x16] = O, [0x17] = O | BR,            /* push ss, pop ss (interrupt shadow) */
    [0x1e] = O, [0x1f] = O | BR,            /* push ds, pop ds */
    [0x27] = O, [0x2f] = O,                 /* daa das */
    [0x37] = O, [0x3f] = O,                 /* aaa aas */
    [0x40 ... 0x4f] = O | DA_PLUSR,         /* inc r, dec r */
    [0x60 ... 0x61] = O,                    /* pusha popa */
    [0x62] = E | MEM,                       /* bound */
    [0x63] = E,                             /* arpl r/m16, r16 */
    [0x82] = EB | IB | DA_G(DG_1),          /* group 1 (alias of 80) */
    [0x9a] = O | BR | DA_I(DI_FAR),         /* call ptr16:16/32 */
    [0xc4 ... 0xc5] = E | MEM,              /* les lds (a register ModRM means VEX) */
    [0xce] = O | BR,                        /* into */
    [0xd4 ... 0xd5] = O | IBZ,              /* aam aad */
    [0xd6] = O,                             /* salc */
    [0xea] = O | BR | DA_I(DI_FAR),         /* jmp ptr16:16/32 */
};

/* ---- VEX (C4/C5) maps: AVX, AVX2, FMA, F16C, BMI1/BMI2 and the VEX forms of AES/PCLMULQDQ.
 * Every VEX instruction has a ModRM byte except vzeroupper/vzeroall (0F 77). NOV marks the
 * instructions that have no VEX.vvvv operand (it must be 1111b, as zydis and the SDM require);
 * L0/L1 the ones defined for one vector length only; W0/W1 the ones #UD with the other W. */
#define VX    (DA_OK | DA_MODRM)
#define NOV   VA_NOV
#define L0    VA_L0
#define L1    VA_L1
#define W0    VA_W0
#define W1    VA_W1
#define GPR   VA_GPR
#define P_66_F3 (DA_NO_NONE | DA_NO_F2)
#define P_F3F2  (DA_NO_NONE | DA_NO_66)
#define CHK   DA_CHECK

static const uint32_t vmap1[256] = {
    [0x10 ... 0x11] = VX | CHK,                   /* vmovups/upd/ss/sd */
    [0x12] = VX | CHK,                            /* vmovlps/hlps, vmovlpd, vmovsldup, vmovddup */
    [0x13] = VX | P_N66 | MEM | L0 | NOV,         /* vmovlps/lpd store */
    [0x14 ... 0x15] = VX | P_N66,                 /* vunpckl/h ps/pd */
    [0x16] = VX | CHK,                            /* vmovhps/lhps, vmovhpd, vmovshdup */
    [0x17] = VX | P_N66 | MEM | L0 | NOV,         /* vmovhps/hpd store */
    [0x28 ... 0x29] = VX | P_N66 | NOV,           /* vmovaps/apd */
    [0x2a] = VX | P_F3F2,                         /* vcvtsi2ss/sd */
    [0x2b] = VX | P_N66 | MEM | NOV,              /* vmovntps/pd */
    [0x2c ... 0x2d] = VX | P_F3F2 | NOV,          /* vcvtt/cvt ss/sd 2si */
    [0x2e ... 0x2f] = VX | P_N66 | NOV,           /* vucomis/vcomis */
    [0x50] = VX | P_N66 | REG | NOV,              /* vmovmskps/pd */
    [0x51] = VX | CHK,                            /* vsqrt */
    [0x52 ... 0x53] = VX | P_NF3 | CHK,           /* vrsqrt, vrcp */
    [0x54 ... 0x57] = VX | P_N66,                 /* vand vandn vor vxor */
    [0x58 ... 0x59] = VX,                         /* vadd vmul */
    [0x5a] = VX | CHK,                            /* vcvtps2pd pd2ps ss2sd sd2ss */
    [0x5b] = VX | P_N66_F3 | NOV,                 /* vcvtdq2ps ps2dq ttps2dq */
    [0x5c ... 0x5f] = VX,                         /* vsub vmin vdiv vmax */
    [0x60 ... 0x6d] = VX | P_66,                  /* vpunpck* vpack* vpcmpgt* */
    [0x6e] = VX | P_66 | L0 | NOV,                /* vmovd/q xmm, r/m */
    [0x6f] = VX | P_66_F3 | NOV,                  /* vmovdqa/u load */
    [0x70] = VX | P_NO_N | IBZ | NOV,             /* vpshufd/hw/lw */
    [0x71 ... 0x73] = VX | P_66 | IBZ | REG | CHK, /* shifts by imm8 (vvvv = destination) */
    [0x74 ... 0x76] = VX | P_66,                  /* vpcmpeq* */
    [0x77] = DA_OK | P_N | NOV,                   /* vzeroupper (L0), vzeroall (L1) */
    [0x7c ... 0x7d] = VX | P_66F2,                /* vhadd vhsub */
    [0x7e] = VX | P_66_F3 | L0 | NOV,             /* vmovd/q r/m, xmm; vmovq xmm, xmm/m64 */
    [0x7f] = VX | P_66_F3 | NOV,                  /* vmovdqa/u store */
    [0xae] = VX | P_N | MEM | L0 | NOV | CHK,     /* vldmxcsr /2, vstmxcsr /3 */
    [0xc2] = VX | IBZ,                            /* vcmp* */
    [0xc4] = VX | P_66 | IBZ | L0,                /* vpinsrw */
    [0xc5] = VX | P_66 | IBZ | REG | L0 | NOV,    /* vpextrw */
    [0xc6] = VX | P_N66 | IBZ,                    /* vshufps/pd */
    [0xd0] = VX | P_66F2,                         /* vaddsub */
    [0xd1 ... 0xd5] = VX | P_66,
    [0xd6] = VX | P_66 | L0 | NOV,                /* vmovq xmm/m64, xmm */
    [0xd7] = VX | P_66 | REG | NOV,               /* vpmovmskb */
    [0xd8 ... 0xe5] = VX | P_66,
    [0xe6] = VX | P_NO_N | NOV,                   /* vcvttpd2dq vcvtdq2pd vcvtpd2dq */
    [0xe7] = VX | P_66 | MEM | NOV,               /* vmovntdq */
    [0xe8 ... 0xef] = VX | P_66,
    [0xf0] = VX | P_F2 | MEM | NOV,               /* vlddqu */
    [0xf1 ... 0xf6] = VX | P_66,
    [0xf7] = VX | P_66 | REG | L0 | NOV,          /* vmaskmovdqu */
    [0xf8 ... 0xfe] = VX | P_66,
};

static const uint32_t vmap2[256] = {
    [0x00 ... 0x0b] = VX | P_66,                  /* vpshufb ... vpmulhrsw */
    [0x0c ... 0x0d] = VX | P_66 | W0,             /* vpermilps/pd */
    [0x0e ... 0x0f] = VX | P_66 | W0 | NOV,       /* vtestps/pd */
    [0x13] = VX | P_66 | W0 | NOV,                /* vcvtph2ps */
    [0x16] = VX | P_66 | W0 | L1,                 /* vpermps */
    [0x17] = VX | P_66 | NOV,                     /* vptest */
    [0x18] = VX | P_66 | W0 | NOV,                /* vbroadcastss */
    [0x19] = VX | P_66 | W0 | L1 | NOV,           /* vbroadcastsd */
    [0x1a] = VX | P_66 | W0 | L1 | NOV | MEM,     /* vbroadcastf128 */
    [0x1c ... 0x1e] = VX | P_66 | NOV,            /* vpabs* */
    [0x20 ... 0x25] = VX | P_66 | NOV,            /* vpmovsx* */
    [0x28 ... 0x29] = VX | P_66,                  /* vpmuldq vpcmpeqq */
    [0x2a] = VX | P_66 | NOV | MEM,               /* vmovntdqa */
    [0x2b] = VX | P_66,                           /* vpackusdw */
    [0x2c ... 0x2f] = VX | P_66 | W0 | MEM,       /* vmaskmovps/pd load, store */
    [0x30 ... 0x35] = VX | P_66 | NOV,            /* vpmovzx* */
    [0x36] = VX | P_66 | W0 | L1,                 /* vpermd */
    [0x37 ... 0x40] = VX | P_66,                  /* vpcmpgtq vpmin* vpmax* vpmulld */
    [0x41] = VX | P_66 | L0 | NOV,                /* vphminposuw */
    [0x45] = VX | P_66,                           /* vpsrlvd/q */
    [0x46] = VX | P_66 | W0,                      /* vpsravd */
    [0x47] = VX | P_66,                           /* vpsllvd/q */
    [0x58 ... 0x59] = VX | P_66 | W0 | NOV,       /* vpbroadcastd/q */
    [0x5a] = VX | P_66 | W0 | L1 | NOV | MEM,     /* vbroadcasti128 */
    [0x78 ... 0x79] = VX | P_66 | W0 | NOV,       /* vpbroadcastb/w */
    [0x8c] = VX | P_66 | MEM,                     /* vpmaskmovd/q load */
    [0x8e] = VX | P_66 | MEM,                     /* vpmaskmovd/q store */
    [0x90 ... 0x93] = VX | P_66 | MEM | VA_VSIB,  /* gathers */
    [0x96 ... 0x9f] = VX | P_66,                  /* FMA 132 */
    [0xa6 ... 0xaf] = VX | P_66,                  /* FMA 213 */
    [0xb6 ... 0xbf] = VX | P_66,                  /* FMA 231 */
    [0xdb] = VX | P_66 | L0 | NOV,                /* vaesimc */
    [0xdc ... 0xdf] = VX | P_66 | L0,             /* vaesenc ... vaesdeclast */
    [0xf2] = VX | P_N | L0 | GPR,                 /* andn */
    [0xf3] = VX | P_N | L0 | GPR | CHK,           /* blsr /1, blsmsk /2, blsi /3 */
    [0xf5] = VX | DA_NO_66 | L0 | GPR,            /* bzhi (NP), pext (F3), pdep (F2) */
    [0xf6] = VX | P_F2 | L0 | GPR,                /* mulx */
    [0xf7] = VX | L0 | GPR,                       /* bextr shlx sarx shrx */
};

static const uint32_t vmap3[256] = {
    [0x00 ... 0x01] = VX | P_66 | IBZ | W1 | L1 | NOV, /* vpermq vpermpd */
    [0x02] = VX | P_66 | IBZ | W0,                 /* vpblendd */
    [0x04 ... 0x05] = VX | P_66 | IBZ | W0 | NOV, /* vpermilps/pd imm */
    [0x06] = VX | P_66 | IBZ | W0 | L1,           /* vperm2f128 */
    [0x08 ... 0x09] = VX | P_66 | IBZ | NOV,      /* vroundps/pd */
    [0x0a ... 0x0f] = VX | P_66 | IBZ,            /* vroundss/sd vblend* vpblendw vpalignr */
    [0x14 ... 0x17] = VX | P_66 | IBZ | L0 | NOV, /* vpextrb/w/d/q vextractps */
    [0x18] = VX | P_66 | IBZ | W0 | L1,           /* vinsertf128 */
    [0x19] = VX | P_66 | IBZ | W0 | L1 | NOV,     /* vextractf128 */
    [0x1d] = VX | P_66 | IBZ | W0 | NOV,          /* vcvtps2ph */
    [0x20 ... 0x22] = VX | P_66 | IBZ | L0,       /* vpinsrb vinsertps vpinsrd/q */
    [0x38] = VX | P_66 | IBZ | W0 | L1,           /* vinserti128 */
    [0x39] = VX | P_66 | IBZ | W0 | L1 | NOV,     /* vextracti128 */
    [0x40] = VX | P_66 | IBZ,                     /* vdpps */
    [0x41] = VX | P_66 | IBZ | L0,                /* vdppd */
    [0x42] = VX | P_66 | IBZ,                     /* vmpsadbw */
    [0x44] = VX | P_66 | IBZ | L0,                /* vpclmulqdq */
    [0x46] = VX | P_66 | IBZ | W0 | L1,           /* vperm2i128 */
    [0x4a ... 0x4c] = VX | P_66 | IBZ | W0,       /* vblendvps/pd vpblendvb (is4) */
    [0x60 ... 0x63] = VX | P_66 | IBZ | L0 | NOV, /* vpcmpestrm/i vpcmpistrm/i */
    [0xdf] = VX | P_66 | IBZ | L0 | NOV,          /* vaeskeygenassist */
    [0xf0] = VX | P_F2 | IBZ | L0 | GPR | NOV,    /* rorx */
};

const uint32_t *const decode_vex_map[4] = {NULL, vmap1, vmap2, vmap3};
/* clang-format on */

/* clang-format off */
#define ROW8(x) {x, x, x, x, x, x, x, x}
/* clang-format on */

const uint32_t decode_group[DG_COUNT][2][8] = {
    /* add or adc sbb and sub xor: lockable; cmp is not */
    [DG_1] = {{O | LK, O | LK, O | LK, O | LK, O | LK, O | LK, O | LK, O}, ROW8(O)},
    [DG_1A] = {{O | D64}, {O | D64}}, /* pop r/m; /1../7 are XOP on AMD */
    /* rol ror rcl rcr shl shr sal(alias) sar */
    [DG_2] = {ROW8(O), ROW8(O)},
    /* test test(alias) not neg mul imul div idiv */
    [DG_3B] = {{O | IB, O | IB, O | LK, O | LK, O, O, O, O}, {O | IB, O | IB, O, O, O, O, O, O}},
    [DG_3V] = {{O | IZ, O | IZ, O | LK, O | LK, O, O, O, O}, {O | IZ, O | IZ, O, O, O, O, O, O}},
    [DG_4] = {{O | LK, O | LK}, {O, O}},
    /* inc dec call callf jmp jmpf push */
    [DG_5] = {{O | LK, O | LK, O | F64 | BR, O | BR, O | F64 | BR, O | BR, O | D64},
              {O, O, O | F64 | BR, 0, O | F64 | BR, 0, O | D64}},
    [DG_11] = {{O}, {O}}, /* mov r/m, imm; C6/C7 F8 xabort/xbegin unsupported */
    /* sldt str lldt ltr verr verw */
    [DG_6] = {{O, O, O, O, O, O}, {O, O, O, O, O, O}},
    /* memory: sgdt sidt lgdt lidt smsw - lmsw invlpg (a REP prefix is ignored, as on the CPU);
     * registers: see decode_0f01_reg */
    [DG_7] = {{O | F64, O | F64, O | F64, O | F64, O, 0, O, O}, ROW8(O)},
    /* bt bts btr btc */
    [DG_8] = {{0, 0, 0, 0, O, O | LK, O | LK, O | LK}, {0, 0, 0, 0, O, O, O, O}},
    /* memory: - cmpxchg8b/16b - xrstors xsavec xsaves vmptrld/vmclear/vmxon vmptrst;
     * registers: rdrand, rdseed / rdpid (F3) */
    [DG_9] = {{0, O | LK, 0, O | P_N, O | P_N, O | P_N, O | DA_NO_F2, O | P_N},
              {0, 0, 0, 0, 0, 0, O | P_N66, O | DA_NO_F2}},
    /* psrlw psraw psllw (and psrld.. psrlq psrldq psllq pslldq): register forms only */
    [DG_12] = {{0}, {0, 0, O, 0, O, 0, O, 0}},
    [DG_13] = {{0}, {0, 0, O, 0, O, 0, O, 0}},
    [DG_14] = {{0}, {0, 0, O, O | P_66, 0, 0, O, O | P_66}},
    /* memory: fxsave fxrstor ldmxcsr stmxcsr xsave xrstor xsaveopt/clwb clflush/clflushopt;
     * registers: rd/wr fs/gs base (F3), lfence mfence sfence */
    [DG_15] = {{O | P_N, O | P_N, O | P_N, O | P_N, O | P_N, O | P_N, O | P_N66, O | P_N66},
               {O | P_F3, O | P_F3, O | P_F3, O | P_F3, 0, O | P_N, O | P_N, O | P_N}},
    /* mov r/m, sreg: es cs ss ds fs gs */
    [DG_SEG] = {{O, O, O, O, O, O}, {O, O, O, O, O, O}},
    /* mov sreg, r/m: cs is not a destination */
    [DG_MOVS] = {{O, 0, O, O, O, O}, {O, 0, O, O, O, O}},
};

/* x87 memory forms by ModRM.reg: D9 /1, DB /4 /6 and DD /5 are undefined. */
const uint8_t decode_x87_mem[8] = {0xff, 0xfd, 0xff, 0xaf, 0xff, 0xdf, 0xff, 0xff};

/* bit n set: ModRM 0xC0 + n is defined for opcode D8 + index */
/* bits lo..hi set */
#define BITS(lo, hi) ((((hi) - (lo) == 63) ? ~0ull : ((1ull << ((hi) - (lo) + 1)) - 1)) << (lo))
const uint64_t decode_x87_reg[8] = {
    [0] = ~0ull,
    /* fld fxch fnop fstp1 fchs fabs ftst fxam constants, F0..FF */
    [1] = BITS(0x00, 0x10) | BITS(0x18, 0x1f) | BITS(0x20, 0x21) | BITS(0x24, 0x25) |
          BITS(0x28, 0x2e) | BITS(0x30, 0x3f),
    /* fcmov*, fucompp */
    [2] = BITS(0x00, 0x1f) | BITS(0x29, 0x29),
    /* fcmovn*, fneni fndisi fclex finit fsetpm, fucomi fcomi */
    [3] = BITS(0x00, 0x1f) | BITS(0x20, 0x24) | BITS(0x28, 0x37),
    [4] = ~0ull,
    /* ffree fxch4 fst fstp fucom fucomp */
    [5] = BITS(0x00, 0x2f),
    /* faddp fmulp fcomp5 fcompp fsubrp fsubp fdivrp fdivp */
    [6] = BITS(0x00, 0x0f) | BITS(0x10, 0x17) | BITS(0x19, 0x19) | BITS(0x20, 0x3f),
    /* ffreep fxch7 fstp8 fstp9 fnstsw ax, fucomip fcomip */
    [7] = BITS(0x00, 0x1f) | BITS(0x20, 0x20) | BITS(0x28, 0x37),
};

/* 0F 01 register forms: vmcall vmlaunch vmresume vmxoff, monitor mwait clac stac, xgetbv
 * xsetbv vmfunc xend xtest, SVM D8..DF, smsw E0..E7, serialize, rdpkru wrpkru, lmsw F0..F7, swapgs
 * rdtscp monitorx mwaitx clzero. */
const uint64_t decode_0f01_reg = BITS(0x01, 0x04) | BITS(0x08, 0x0b) | BITS(0x10, 0x11) |
                                 BITS(0x14, 0x16) | BITS(0x18, 0x1f) | BITS(0x20, 0x28) |
                                 BITS(0x2e, 0x2f) | BITS(0x30, 0x3c);
