/* test_decode.c — hand-checked encodings for the decoder: REX/66/67 combinations, SIB and
 * RIP-relative addressing, segment defaults and overrides, moffs and imm64, group opcodes,
 * mandatory prefixes, immediate extension rules, LOCK legality, block-ending flags, the
 * 15-byte limit and DECODE_SHORT. Expected values come from the Intel SDM, not from the
 * decoder. */
#include <string.h>

#include "check.h"
#include "cpu/decode/decode.h"

static uint8_t buf[32];

/* Decode the instruction written as hex bytes ("48 8b 05 ..."), with exactly those bytes
 * available. The record is pre-filled with junk so that unset fields show. */
static enum cpu_mode dec_mode = MODE_LONG64;

static int dec_n(struct insn *i, const char *hex, unsigned avail_cut)
{
    unsigned n = 0;
    for (const char *p = hex; *p && n < sizeof buf;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        if (sscanf(p, "%2x", &v) != 1) break;
        buf[n++] = (uint8_t)v;
        p += 2;
    }
    memset(i, 0xa5, sizeof *i);
    return decode_insn(i, buf, n - avail_cut, dec_mode);
}

static int dec(struct insn *i, const char *hex)
{
    return dec_n(i, hex, 0);
}

static void test_registers_and_sizes(void)
{
    struct insn i;
    CHECK_EQ(dec(&i, "48 89 d8"), 3); /* mov rax, rbx */
    CHECK(i.fn == NULL);
    CHECK_EQ(i.op, 0x89);
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(i.addrsize, 8);
    CHECK_EQ(i.modrm, 0xd8);
    CHECK_EQ(i.reg, R_RBX);
    CHECK_EQ(i.rm, R_RAX);
    CHECK_EQ(i.flags, INSN_REX | INSN_REXW);
    CHECK_EQ(i.mp, MP_NONE);

    CHECK_EQ(dec(&i, "66 41 89 c8"), 4); /* mov r8w, cx */
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(i.rm, R_R8);
    CHECK_EQ(i.reg, R_RCX);
    CHECK_EQ(i.flags, INSN_REX | INSN_OPSZ);
    CHECK_EQ(i.mp, MP_66);

    CHECK_EQ(dec(&i, "66 4c 89 c8"), 4); /* mov rax, r9: REX.W beats 66 */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(i.reg, R_R9);

    CHECK_EQ(dec(&i, "48 66 89 c8"), 4); /* REX before a legacy prefix is ignored */
    CHECK_EQ(i.opsize, 2);
    CHECK(!(i.flags & INSN_REX));

    CHECK_EQ(dec(&i, "40 88 e0"), 3); /* mov al, spl: REX selects SPL */
    CHECK_EQ(i.opsize, 1);
    CHECK_EQ(i.flags, INSN_REX);
    CHECK_EQ(i.reg, R_RSP);

    CHECK_EQ(dec(&i, "48 0f b6 c0"), 4); /* movzx rax, al: destination size */
    CHECK_EQ(i.op, 0x1b6);
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "66 0f be c0"), 4); /* movsx ax, al */
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(dec(&i, "48 63 c1"), 3); /* movsxd rax, ecx */
    CHECK_EQ(i.opsize, 8);

    /* default-64 and fixed-64 */
    CHECK_EQ(dec(&i, "41 55"), 2); /* push r13 */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(i.reg, R_R13);
    CHECK_EQ(i.rm, R_R13);
    CHECK_EQ(dec(&i, "66 50"), 2); /* push ax */
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(dec(&i, "66 48 50"), 3); /* REX.W wins over 66 for push too */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "ff 30"), 2); /* push qword [rax] */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "66 ff d0"), 3); /* call rax: 66 ignored (Intel) */
    CHECK_EQ(i.opsize, 8);
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "9c"), 1); /* pushf */
    CHECK_EQ(i.opsize, 8);
    CHECK(!(i.flags & INSN_BRANCH));

    /* in/out: data size, REX.W ignored */
    CHECK_EQ(dec(&i, "48 e5 10"), 3);
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(i.imm, 0x10);
    CHECK_EQ(dec(&i, "66 ef"), 2); /* out dx, ax */
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(dec(&i, "ec"), 1);
    CHECK_EQ(i.opsize, 1);
    CHECK(i.flags & INSN_BRANCH);

    /* +r forms */
    CHECK_EQ(dec(&i, "49 0f cc"), 3); /* bswap r12 */
    CHECK_EQ(i.op, 0x1cc);
    CHECK_EQ(i.reg, R_R12);
    CHECK_EQ(i.rm, R_R12);
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "41 90"), 2); /* xchg r8d, eax */
    CHECK_EQ(i.reg, R_R8);
    CHECK_EQ(dec(&i, "f3 90"), 2); /* pause */
    CHECK_EQ(i.op, 0x90);
    CHECK_EQ(i.mp, MP_F3);
    CHECK_EQ(i.reg, 0);
}

static void test_memory_operands(void)
{
    struct insn i;
    CHECK_EQ(dec(&i, "48 8b 05 10 00 00 00"), 7); /* mov rax, [rip+0x10] */
    CHECK_EQ(i.flags & INSN_MEM, INSN_MEM);
    CHECK_EQ(i.base, REG_RIP);
    CHECK_EQ(i.index, REG_NONE);
    CHECK_EQ(i.disp, 0x10);
    CHECK_EQ(i.seg, SEG_DS);

    CHECK_EQ(dec(&i, "67 8b 04 25 78 56 34 92"), 8); /* mov eax, [0x92345678] (addr32) */
    CHECK_EQ(i.addrsize, 4);
    CHECK_EQ(i.base, REG_NONE);
    CHECK_EQ(i.index, REG_NONE);
    CHECK_EQ((uint32_t)i.disp, 0x92345678u);
    CHECK(i.flags & INSN_ADSZ);

    CHECK_EQ(dec(&i, "42 8b 04 a5 00 01 00 00"), 8); /* mov eax, [r12*4+0x100] */
    CHECK_EQ(i.base, REG_NONE);
    CHECK_EQ(i.index, R_R12);
    CHECK_EQ(i.scale, 2);
    CHECK_EQ(i.disp, 0x100);

    CHECK_EQ(dec(&i, "4a 8b 44 a5 f0"), 5); /* mov rax, [rbp+r12*4-0x10] */
    CHECK_EQ(i.base, R_RBP);
    CHECK_EQ(i.index, R_R12);
    CHECK_EQ(i.scale, 2);
    CHECK_EQ(i.disp, -16);
    CHECK_EQ(i.seg, SEG_SS);
    CHECK_EQ(i.rm, 4);

    CHECK_EQ(dec(&i, "43 8b 44 25 00"), 5); /* mov eax, [r13+r12*1+0]: r13 is not rbp */
    CHECK_EQ(i.base, R_R13);
    CHECK_EQ(i.index, R_R12);
    CHECK_EQ(i.seg, SEG_DS);

    CHECK_EQ(dec(&i, "8b 44 24 08"), 4); /* mov eax, [rsp+8] */
    CHECK_EQ(i.base, R_RSP);
    CHECK_EQ(i.index, REG_NONE);
    CHECK_EQ(i.seg, SEG_SS);
    CHECK_EQ(i.disp, 8);

    CHECK_EQ(dec(&i, "41 8b 45 f0"), 4); /* mov eax, [r13-0x10] */
    CHECK_EQ(i.base, R_R13);
    CHECK_EQ(i.disp, -16);

    CHECK_EQ(dec(&i, "41 8b 04 24"), 4); /* mov eax, [r12]: SIB, index rsp means none */
    CHECK_EQ(i.base, R_R12);
    CHECK_EQ(i.index, REG_NONE);

    CHECK_EQ(dec(&i, "8b 84 c8 00 00 00 80"), 7); /* mov eax, [rax+rcx*8-0x80000000] */
    CHECK_EQ(i.base, R_RAX);
    CHECK_EQ(i.index, R_RCX);
    CHECK_EQ(i.scale, 3);
    CHECK_EQ((int64_t)i.disp, -0x80000000ll);

    CHECK_EQ(dec(&i, "64 48 8b 04 25 28 00 00 00"), 9); /* mov rax, fs:[0x28] */
    CHECK_EQ(i.seg, SEG_FS);
    CHECK(i.flags & INSN_SEGOVR);
    CHECK_EQ(dec(&i, "65 8b 45 00"), 4); /* gs:[rbp] */
    CHECK_EQ(i.seg, SEG_GS);
    CHECK_EQ(dec(&i, "2e 8b 00"), 3); /* cs override: ignored in 64-bit mode */
    CHECK_EQ(i.seg, SEG_DS);
    CHECK(!(i.flags & INSN_SEGOVR));
    CHECK_EQ(dec(&i, "64 3e 8b 00"), 4); /* a later ds does not cancel fs */
    CHECK_EQ(i.seg, SEG_FS);

    /* moffs: absolute address in imm, no memory-operand flag */
    CHECK_EQ(dec(&i, "48 a1 88 77 66 55 44 33 22 11"), 10);
    CHECK_EQ(i.op, 0xa1);
    CHECK_EQ(i.imm, 0x1122334455667788ull);
    CHECK_EQ(i.disp, 0);
    CHECK(!(i.flags & INSN_MEM));
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "67 a2 44 33 22 91"), 6); /* mov [0x91223344], al (addr32) */
    CHECK_EQ(i.imm, 0x91223344ull);
    CHECK_EQ(i.opsize, 1);
    CHECK_EQ(i.addrsize, 4);

    CHECK_EQ(dec(&i, "8d c0"), DECODE_UD); /* lea with a register source */
    /* mov cr: mod ignored, never memory */
    CHECK_EQ(dec(&i, "0f 20 00"), 3); /* mov rax, cr0 */
    CHECK(!(i.flags & INSN_MEM));
    CHECK_EQ(i.base, REG_NONE);
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(i.reg, 0);
    CHECK_EQ(i.rm, 0);
}

static void test_immediates(void)
{
    struct insn i;
    CHECK_EQ(dec(&i, "48 b8 88 77 66 55 44 33 22 11"), 10); /* mov rax, imm64 */
    CHECK_EQ(i.imm, 0x1122334455667788ull);
    CHECK_EQ(i.reg, R_RAX);
    CHECK_EQ(dec(&i, "41 b8 ff ff ff ff"), 6); /* mov r8d, 0xffffffff */
    CHECK_EQ(i.imm, ~0ull);
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(i.rm, R_R8);
    CHECK_EQ(dec(&i, "66 b8 34 12"), 4);
    CHECK_EQ(i.imm, 0x1234);
    CHECK_EQ(dec(&i, "b4 80"), 2); /* mov ah, 0x80 */
    CHECK_EQ(i.opsize, 1);
    CHECK_EQ(i.reg, 4);
    CHECK_EQ(i.imm, 0xffffffffffffff80ull);

    CHECK_EQ(dec(&i, "48 83 c0 ff"), 4); /* add rax, -1 */
    CHECK_EQ(i.imm, ~0ull);
    CHECK_EQ(dec(&i, "48 81 c0 00 00 00 80"), 7);
    CHECK_EQ(i.imm, 0xffffffff80000000ull);
    CHECK_EQ(dec(&i, "66 81 c0 00 80"), 5); /* add ax, 0x8000 */
    CHECK_EQ(i.imm, 0xffffffffffff8000ull);
    CHECK_EQ(dec(&i, "48 69 c0 10 00 00 00"), 7); /* imul rax, rax, 16 */
    CHECK_EQ(i.imm, 16);
    CHECK_EQ(dec(&i, "6a 80"), 2); /* push -128 */
    CHECK_EQ(i.imm, 0xffffffffffffff80ull);
    CHECK_EQ(dec(&i, "66 68 34 12"), 4); /* push imm16 */
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(i.imm, 0x1234);

    /* zero-extended */
    CHECK_EQ(dec(&i, "c0 e0 80"), 3); /* shl al, 0x80 */
    CHECK_EQ(i.imm, 0x80);
    CHECK_EQ(dec(&i, "e4 80"), 2); /* in al, 0x80 */
    CHECK_EQ(i.imm, 0x80);
    CHECK_EQ(dec(&i, "cd 80"), 2);
    CHECK_EQ(i.imm, 0x80);
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "c2 08 80"), 3); /* ret 0x8008 */
    CHECK_EQ(i.imm, 0x8008);
    CHECK_EQ(dec(&i, "c8 10 80 01"), 4); /* enter 0x8010, 1 */
    CHECK_EQ(i.imm, 0x8010);
    CHECK_EQ(i.imm2, 1);
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "0f ba e0 ff"), 4); /* bt eax, 0xff */
    CHECK_EQ(i.imm, 0xff);
    CHECK_EQ(dec(&i, "0f a4 c0 80"), 4); /* shld eax, eax, 0x80 */
    CHECK_EQ(i.imm, 0x80);
    CHECK_EQ(dec(&i, "66 0f 3a 0f c1 80"), 6); /* palignr xmm0, xmm1, 0x80 */
    CHECK_EQ(i.op, 0x30f);
    CHECK_EQ(i.imm, 0x80);

    /* branches */
    CHECK_EQ(dec(&i, "e8 00 00 00 80"), 5);
    CHECK_EQ(i.imm, 0xffffffff80000000ull);
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "66 e8 00 00 00 00"), 6); /* 66 does not shrink rel32 (Intel) */
    CHECK_EQ(dec(&i, "eb fe"), 2);
    CHECK_EQ(i.imm, (uint64_t)-2);
    CHECK_EQ(dec(&i, "0f 84 fa ff ff ff"), 6);
    CHECK_EQ(i.op, 0x184);
    CHECK_EQ(i.imm, (uint64_t)-6);
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "e3 10"), 2); /* jrcxz */
    CHECK(i.flags & INSN_BRANCH);
}

static void test_groups(void)
{
    struct insn i;
    CHECK_EQ(dec(&i, "80 38 05"), 3); /* cmp byte [rax], 5 */
    CHECK_EQ(i.op, 0x80);
    CHECK_EQ(i.reg, 7);
    CHECK_EQ(i.imm, 5);
    CHECK_EQ(i.opsize, 1);
    CHECK_EQ(dec(&i, "f7 00 78 56 34 12"), 6); /* test dword [rax], imm32 */
    CHECK_EQ(i.imm, 0x12345678);
    CHECK_EQ(dec(&i, "f6 c0 80"), 3); /* test al, 0x80 */
    CHECK_EQ(i.imm, 0xffffffffffffff80ull);
    CHECK_EQ(dec(&i, "f7 d0"), 2);    /* not eax: no immediate */
    CHECK_EQ(dec(&i, "48 f7 f1"), 3); /* div rcx */
    CHECK_EQ(i.reg, 6);
    CHECK_EQ(dec(&i, "ff 38"), DECODE_UD); /* FF /7 */
    CHECK_EQ(dec(&i, "fe 10"), DECODE_UD); /* FE /2 */
    CHECK_EQ(dec(&i, "ff d8"), DECODE_UD); /* far call needs memory */
    CHECK_EQ(dec(&i, "ff 18"), 2);
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "8f 00"), 2); /* pop [rax] */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "8f 08"), DECODE_UD);
    CHECK_EQ(dec(&i, "c6 00 12"), 3);
    CHECK_EQ(dec(&i, "c6 08 12"), DECODE_UD);
    CHECK_EQ(dec(&i, "0f ba 20 01"), 4); /* bt [rax], 1 */
    CHECK_EQ(dec(&i, "0f ba 00 01"), DECODE_UD);
    CHECK_EQ(dec(&i, "0f 01 10"), 3); /* lgdt [rax] */
    CHECK(i.flags & INSN_BRANCH);
    CHECK(i.flags & INSN_MEM);
    CHECK_EQ(dec(&i, "0f 01 f8"), 3); /* swapgs */
    CHECK_EQ(i.op, 0x101);
    CHECK_EQ(i.modrm, 0xf8);
    CHECK(!(i.flags & INSN_MEM));
    CHECK_EQ(dec(&i, "0f 01 d1"), 3); /* xsetbv */
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "0f 01 ff"), DECODE_UD);
    CHECK_EQ(dec(&i, "0f 00 d8"), 3); /* ltr ax */
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "0f ae e8"), 3);       /* lfence */
    CHECK_EQ(dec(&i, "0f ae 00"), 3);       /* fxsave [rax] */
    CHECK_EQ(dec(&i, "f3 48 0f ae d0"), 5); /* wrfsbase rax */
    CHECK_EQ(dec(&i, "0f ae d0"), DECODE_UD);
    CHECK_EQ(dec(&i, "48 0f c7 08"), 4); /* cmpxchg16b [rax] */
    CHECK_EQ(dec(&i, "0f c7 c8"), DECODE_UD);
    CHECK_EQ(dec(&i, "0f c7 f0"), 3);            /* rdrand eax */
    CHECK_EQ(dec(&i, "66 0f 73 d8 04"), 5);      /* psrldq xmm0, 4 */
    CHECK_EQ(dec(&i, "0f 73 d8 04"), DECODE_UD); /* no MMX form */
    CHECK_EQ(dec(&i, "0f 71 10 04"), DECODE_UD); /* register only */
    CHECK_EQ(dec(&i, "0f 18 08"), 3);            /* prefetcht0 [rax] */
    CHECK_EQ(dec(&i, "0f 1f 44 00 00"), 5);      /* nopl */
    CHECK_EQ(dec(&i, "66 2e 0f 1f 84 00 00 00 00 00"), 10);
    CHECK_EQ(dec(&i, "f3 0f 1e fa"), 4); /* endbr64 */
    CHECK_EQ(dec(&i, "8e d0"), 2);       /* mov ss, ax */
    CHECK(i.flags & INSN_BRANCH);
    CHECK_EQ(dec(&i, "8e c8"), DECODE_UD); /* mov cs, ax */
    CHECK_EQ(dec(&i, "8c f0"), DECODE_UD); /* sreg 6 */

    /* x87 */
    CHECK_EQ(dec(&i, "d9 e8"), 2); /* fld1 */
    CHECK_EQ(dec(&i, "d9 d1"), DECODE_UD);
    CHECK_EQ(dec(&i, "dd 28"), DECODE_UD); /* DD /5 memory */
    CHECK_EQ(dec(&i, "de d9"), 2);         /* fcompp */
    CHECK_EQ(dec(&i, "de da"), DECODE_UD);
    CHECK_EQ(dec(&i, "db 2c 24"), 3); /* fld tbyte [rsp] */
    CHECK_EQ(i.seg, SEG_SS);
}

static void test_mandatory_prefixes(void)
{
    struct insn i;
    CHECK_EQ(dec(&i, "66 0f 6f c1"), 4); /* movdqa */
    CHECK_EQ(i.mp, MP_66);
    CHECK_EQ(i.op, 0x16f);
    CHECK_EQ(dec(&i, "f3 0f 6f c1"), 4); /* movdqu */
    CHECK_EQ(i.mp, MP_F3);
    CHECK_EQ(dec(&i, "0f 6f c1"), 3); /* movq mm0, mm1 */
    CHECK_EQ(i.mp, MP_NONE);
    CHECK_EQ(dec(&i, "f2 0f 6f c1"), DECODE_UD);
    CHECK_EQ(dec(&i, "f3 66 0f 6f c1"), 5); /* F3 beats 66 in either order */
    CHECK_EQ(i.mp, MP_F3);
    CHECK_EQ(dec(&i, "66 f3 0f 6f c1"), 5);
    CHECK_EQ(i.mp, MP_F3);
    CHECK_EQ(i.opsize, 4); /* 66 is never an operand-size prefix on SSE opcodes */
    CHECK(i.flags & INSN_OPSZ);
    CHECK_EQ(dec(&i, "66 0f 7e c0"), 4); /* movd eax, xmm0: 32-bit despite 66 */
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(i.mp, MP_66);
    CHECK_EQ(dec(&i, "66 48 0f 7e c0"), 5); /* movq rax, xmm0 */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "66 0f 38 f1 00"), 5); /* movbe [rax], ax: here 66 is the size */
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(dec(&i, "66 0f 38 82 04 24"), 6); /* invpcid rax, [rsp]: always 64 */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "f3 f2 0f 10 c1"), 5); /* last of F2/F3 wins: movsd */
    CHECK_EQ(i.mp, MP_F2);
    CHECK_EQ(i.flags & (INSN_REP | INSN_REPNE), INSN_REP | INSN_REPNE);
    CHECK_EQ(dec(&i, "f2 f3 0f 10 c1"), 5);
    CHECK_EQ(i.mp, MP_F3);
    CHECK_EQ(dec(&i, "66 48 0f 6e c0"), 5); /* movq xmm0, rax */
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(i.mp, MP_66);
    CHECK_EQ(dec(&i, "66 0f 38 00 c1"), 5); /* pshufb */
    CHECK_EQ(i.op, 0x200);
    CHECK_EQ(dec(&i, "f3 0f 38 00 c1"), DECODE_UD);
    CHECK_EQ(dec(&i, "f3 48 0f b8 c1"), 5); /* popcnt */
    CHECK_EQ(dec(&i, "0f b8 c1"), DECODE_UD);
    CHECK_EQ(dec(&i, "0f 70 c1 80"), 4); /* pshufw */
    CHECK_EQ(i.imm, 0x80);
    CHECK_EQ(dec(&i, "66 0f 12 c1"), DECODE_UD); /* movlpd needs memory */
    CHECK_EQ(dec(&i, "0f 12 c1"), 3);            /* movhlps */
    CHECK_EQ(dec(&i, "0f 38 f0 00"), 4);         /* movbe eax, [rax] */
    CHECK_EQ(dec(&i, "0f 38 f0 c0"), DECODE_UD);
    CHECK_EQ(dec(&i, "f2 48 0f 38 f1 c1"), 6); /* crc32 rax, rcx */
    CHECK_EQ(dec(&i, "0f d7 c1"), 3);          /* pmovmskb eax, mm1 */
    CHECK_EQ(dec(&i, "0f d7 01"), DECODE_UD);
    CHECK_EQ(dec(&i, "0f e7 c1"), DECODE_UD); /* movntq needs memory */
}

static void test_lock(void)
{
    struct insn i;
    CHECK_EQ(dec(&i, "f0 01 00"), 3);
    CHECK(i.flags & INSN_LOCK);
    CHECK_EQ(dec(&i, "f0 01 c0"), DECODE_UD);       /* register destination */
    CHECK_EQ(dec(&i, "f0 89 00"), DECODE_UD);       /* mov is not lockable */
    CHECK_EQ(dec(&i, "f0 80 38 01"), DECODE_UD);    /* cmp */
    CHECK_EQ(dec(&i, "f0 80 30 01"), 4);            /* xor */
    CHECK_EQ(dec(&i, "f0 87 00"), 3);               /* xchg */
    CHECK_EQ(dec(&i, "f0 48 0f c7 08"), 5);         /* cmpxchg16b */
    CHECK_EQ(dec(&i, "f0 0f ba 28 01"), 5);         /* bts */
    CHECK_EQ(dec(&i, "f0 0f ba 20 01"), DECODE_UD); /* bt */
    CHECK_EQ(dec(&i, "f0 0f c1 08"), 4);            /* xadd */
    CHECK_EQ(dec(&i, "f0 f6 18"), 3);               /* neg byte [rax] */
    CHECK_EQ(dec(&i, "f0 f6 20"), DECODE_UD);       /* mul */
    CHECK_EQ(dec(&i, "f0 ff 00"), 3);               /* inc */
    CHECK_EQ(dec(&i, "f0 ff 30"), DECODE_UD);       /* push */
    CHECK_EQ(dec(&i, "f0 0f 22 c0"), DECODE_UD);    /* AMD's lock mov cr0 = cr8 alias */
    CHECK_EQ(dec(&i, "f0 90"), DECODE_UD);
}

static void test_branch_flags(void)
{
    struct insn i;
    static const char *const ends[] = {
        "0f 22 d8", "0f 23 c0", "0f 30",    "fb",       "9d",    "0f a2", "f4",    "cf",
        "48 cf",    "c3",       "cb",       "cc",       "f1",    "0f 05", "0f 07", "0f 34",
        "0f 35",    "0f 0b",    "0f ff 00", "0f b9 00", "0f 09", "0f 08", "0f 06", "0f aa",
        "6c",       "6f",       "e6 80",    "ee",       "e2 fe", "ff e0", "ff 28", "ff 10",
        "0f 01 38", "0f 00 10", "0f 01 d1", "0f 01 f8",
    };
    for (unsigned k = 0; k < sizeof ends / sizeof ends[0]; k++) {
        int n = dec(&i, ends[k]);
        if (n <= 0 || !(i.flags & INSN_BRANCH)) {
            fprintf(stderr, "# %s: len %d flags %#x\n", ends[k], n, n > 0 ? i.flags : 0);
            CHECK(0);
        }
    }
    static const char *const plain[] = {
        "01 c0", "0f 31", "0f 32",    "9c",       "0f 20 c0", "8c d8", "0f ae e8",
        "90",    "a4",    "0f 1f 00", "f3 48 ab", "d9 e8",    "0f a1",
    };
    for (unsigned k = 0; k < sizeof plain / sizeof plain[0]; k++) {
        int n = dec(&i, plain[k]);
        if (n <= 0 || (i.flags & INSN_BRANCH)) {
            fprintf(stderr, "# %s: len %d flags %#x\n", plain[k], n, n > 0 ? i.flags : 0);
            CHECK(0);
        }
    }
}

/* VEX: map, pp, L, W, vvvv and the REX-like bits land where the handlers look */
static void test_vex(void)
{
    struct insn i;
    CHECK_EQ(dec(&i, "c5 f9 6f c1"), 4); /* vmovdqa xmm0, xmm1 */
    CHECK_EQ(i.op, 0x56f);
    CHECK_EQ(i.mp, MP_66);
    CHECK((i.flags & INSN_VEX) && !(i.flags & INSN_VEXL));
    CHECK_EQ(i.reg, 0);
    CHECK_EQ(i.rm, 1);
    CHECK_EQ(dec(&i, "c5 7d 6f c9"), 4); /* vmovdqa ymm9, ymm1 (C5 R) */
    CHECK(i.flags & INSN_VEXL);
    CHECK_EQ(i.reg, 9);
    CHECK_EQ(dec(&i, "c4 41 34 58 c2"), 5); /* vaddps ymm8, ymm9, ymm10 */
    CHECK_EQ(i.op, 0x558);
    CHECK_EQ(i.mp, MP_NONE);
    CHECK_EQ(i.reg, 8);
    CHECK_EQ(i.vreg, 9);
    CHECK_EQ(i.rm, 10);
    CHECK_EQ(dec(&i, "c4 e2 f8 f2 c1"), 5); /* andn rax, rax, rcx (W1) */
    CHECK_EQ(i.op, 0x6f2);
    CHECK_EQ(i.opsize, 8);
    CHECK_EQ(dec(&i, "c4 e2 78 f2 c1"), 5); /* andn eax, eax, ecx */
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(dec(&i, "c4 e3 fd 00 c1 1b"), 6); /* vpermq ymm0, ymm1, 0x1b */
    CHECK_EQ(i.op, 0x700);
    CHECK_EQ(i.imm, 0x1b);
    CHECK_EQ(dec(&i, "c4 a2 71 92 04 e0"), 6); /* vgatherdpd xmm0, [rax + xmm12*8], xmm1 */
    CHECK(i.flags & INSN_MEM);
    CHECK_EQ(i.index, 12);
    CHECK_EQ(i.scale, 3);
    CHECK_EQ(dec(&i, "c4 e2 71 92 04 20"), 6); /* index 4 names xmm4 under VSIB */
    CHECK_EQ(i.index, 4);
    CHECK_EQ(dec(&i, "c4 e2 79 92 04 20"), DECODE_UD); /* mask = destination */
    CHECK_EQ(dec(&i, "c5 f8 77"), 3);                  /* vzeroupper */
    CHECK_EQ(i.op, 0x577);
    CHECK_EQ(dec(&i, "c4 e3 69 4a c3 40"), 6); /* vblendvps xmm0, xmm2, xmm3, xmm4 */
    CHECK_EQ(i.vreg, 2);
    CHECK_EQ(i.imm, 0x40);
}

static void test_invalid(void)
{
    struct insn i;
    static const char *const bad[] = {
        "06",
        "07",
        "0e",
        "16",
        "17",
        "1e",
        "1f",
        "27",
        "2f",
        "37",
        "3f",
        "60",
        "61",
        "62 00 00 00 00 00",
        "82 c0 01",
        "9a 00 00 00 00 00 00",
        "c4 e4 79 00 c0",    /* VEX map 4 */
        "c4 e0 79 00 c0",    /* VEX map 0 */
        "66 c5 f8 77",       /* 66 before VEX */
        "48 c5 f8 77",       /* REX before VEX */
        "f0 c5 f8 77",       /* LOCK before VEX */
        "c5 f9 77",          /* vzeroupper with pp = 66 */
        "c5 f0 28 c1",       /* vmovaps with vvvv != 1111 */
        "c4 e2 f9 0c c1",    /* vpermilps with W1 */
        "c4 e3 79 00 c1 00", /* vpermq with L0 */
        "c4 e3 7d 00 c1 00", /* vpermq with W0 */
        "c4 e2 7c f2 c1",    /* andn with L1 */
        "c4 e2 78 f3 c1",    /* blsr group: /0 */
        "c4 e2 79 92 c1",    /* gather without memory */
        "c4 e2 79 92 00",    /* gather without SIB */
        "d4 0a",
        "d5 0a",
        "d6",
        "ea 00 00 00 00 00 00",
        "ce",
        "0f 0f c1 b4",
        "0f 04",
        "0f 0a",
        "0f 22 c8",
        "0f 22 e8",
        "44 0f 23 c0",
        "0f 24 c0",
        "0f 38 50 c0",
        "0f 3a 00 c0 00",
        "0f 01 c0",
    };
    for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int n = dec(&i, bad[k]);
        if (n != DECODE_UD) {
            fprintf(stderr, "# %s: decoded, len %d\n", bad[k], n);
            CHECK(0);
        }
    }
    CHECK_EQ(dec(&i, "44 0f 20 c0"), 4); /* mov rax, cr8 */
    CHECK_EQ(i.reg, 8);
    CHECK_EQ(dec(&i, "0f 21 f8"), 3); /* mov rax, dr7 */
    CHECK_EQ(i.reg, 7);

    uint8_t b[4] = {0x06}; /* push es: not in 64-bit mode */
    CHECK_EQ(decode_insn(&i, b, 1, MODE_PROT32), 1);
    CHECK_EQ(decode_insn(&i, b, 1, MODE_LONG64), DECODE_UD);
}

/* Decoding outside 64-bit mode: default sizes from CS.D, 66/67 toggling them, 16-bit ModRM
 * addressing, disp32 without RIP, no REX (40-4F), segment overrides, the legacy-only opcodes,
 * LES/LDS against VEX. */
static void test_legacy_modes(void)
{
    struct insn i;
    dec_mode = MODE_COMPAT32;
    CHECK_EQ(dec(&i, "40"), 1); /* inc eax */
    CHECK_EQ(i.op, 0x40);
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(i.mode, MODE_COMPAT32);
    CHECK_EQ(dec(&i, "48 89 d8"), 1); /* dec eax, not REX.W */
    CHECK_EQ(i.op, 0x48);
    CHECK_EQ(dec(&i, "8b 04 24"), 3); /* mov eax, [esp] */
    CHECK_EQ(i.base, R_RSP);
    CHECK_EQ(i.seg, SEG_SS);
    CHECK_EQ(i.addrsize, 4);
    CHECK_EQ(dec(&i, "8b 05 78 56 34 12"), 6); /* mov eax, [0x12345678]: no RIP-relative */
    CHECK_EQ(i.base, REG_NONE);
    CHECK_EQ(i.disp, 0x12345678);
    CHECK_EQ(dec(&i, "67 8b 42 08"), 4); /* mov eax, [bp+si+8] */
    CHECK_EQ(i.addrsize, 2);
    CHECK_EQ(i.base, R_RBP);
    CHECK_EQ(i.index, R_RSI);
    CHECK_EQ(i.disp, 8);
    CHECK_EQ(i.seg, SEG_SS);
    CHECK_EQ(dec(&i, "26 8b 00"), 3); /* mov eax, es:[eax] */
    CHECK_EQ(i.seg, SEG_ES);
    CHECK(i.flags & INSN_SEGOVR);
    CHECK_EQ(dec(&i, "66 e8 fe ff"), 4); /* call rel16 */
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(i.imm, (uint64_t)-2);
    CHECK_EQ(dec(&i, "e8 00 00 00 00"), 5);
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(dec(&i, "50"), 1);
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(dec(&i, "66 50"), 2);
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(dec(&i, "ea 78 56 34 12 08 00"), 7); /* jmp 0x8:0x12345678 */
    CHECK_EQ(i.imm, 0x12345678);
    CHECK_EQ(i.disp, 8);
    CHECK_EQ(dec(&i, "a1 44 33 22 11"), 5); /* mov eax, [moffs32] */
    CHECK_EQ(i.imm, 0x11223344);
    CHECK_EQ(dec(&i, "82 c0 01"), 3); /* add al, 1 through 82: one set of handlers with 80 */
    CHECK_EQ(i.op, 0x80);
    CHECK_EQ(dec(&i, "63 c8"), 2); /* arpl ax, cx */
    CHECK_EQ(i.op, 0x63);
    CHECK_EQ(dec(&i, "c4 06"), 2); /* les eax, [esi] */
    CHECK(!(i.flags & INSN_VEX));
    CHECK_EQ(dec(&i, "c5 f8 77"), 3); /* vzeroupper: a register ModRM means VEX */
    CHECK(i.flags & INSN_VEX);
    CHECK_EQ(dec(&i, "0f 20 c0"), 3); /* mov eax, cr0 */
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(dec(&i, "0f 34"), 2); /* sysenter */
    CHECK_EQ(dec(&i, "d5 0a"), 2); /* aad */
    CHECK_EQ(dec(&i, "62 00"), 2); /* bound eax, [eax] */
    CHECK_EQ(dec(&i, "62 c0"), DECODE_UD);
    dec_mode = MODE_REAL;
    CHECK_EQ(dec(&i, "8b 06 34 12"), 4); /* mov ax, [0x1234] */
    CHECK_EQ(i.base, REG_NONE);
    CHECK_EQ(i.disp, 0x1234);
    CHECK_EQ(i.seg, SEG_DS);
    CHECK_EQ(i.opsize, 2);
    CHECK_EQ(dec(&i, "8b 00"), 2); /* mov ax, [bx+si] */
    CHECK_EQ(i.base, R_RBX);
    CHECK_EQ(i.index, R_RSI);
    CHECK_EQ(dec(&i, "66 8b 46 fe"), 4); /* mov eax, [bp-2] */
    CHECK_EQ(i.opsize, 4);
    CHECK_EQ(i.disp, -2);
    CHECK_EQ(i.seg, SEG_SS);
    CHECK_EQ(dec(&i, "ea 34 12 00 f0"), 5); /* jmp 0xf000:0x1234 */
    CHECK_EQ(i.imm, 0x1234);
    CHECK_EQ(i.disp, 0xf000);
    CHECK_EQ(dec(&i, "a1 34 12"), 3);
    CHECK_EQ(dec(&i, "c5 f8"), DECODE_UD); /* lds with a register: no VEX in real mode */
    CHECK_EQ(dec(&i, "c5"), DECODE_SHORT);
    dec_mode = MODE_LONG64;
    CHECK_EQ(dec(&i, "26 8b 00"), 3); /* ES override ignored in 64-bit mode */
    CHECK_EQ(i.seg, SEG_DS);
    CHECK(!(i.flags & INSN_SEGOVR));
}

static void test_length_limit(void)
{
    struct insn i;
    uint8_t b[32];
    memset(b, 0x66, sizeof b);
    b[14] = 0x90; /* 14 prefixes + nop = 15 bytes */
    CHECK_EQ(decode_insn(&i, b, sizeof b, MODE_LONG64), 15);
    CHECK_EQ(i.len, 15);
    b[14] = 0x66;
    b[15] = 0x90; /* 16 bytes */
    CHECK_EQ(decode_insn(&i, b, sizeof b, MODE_LONG64), DECODE_UD);
    memset(b, 0x66, sizeof b);
    b[12] = 0xb8; /* mov ax, imm16: 12 + 1 + 2 = 15 */
    CHECK_EQ(decode_insn(&i, b, sizeof b, MODE_LONG64), 15);
    b[12] = 0x66;
    b[13] = 0xb8; /* 16 */
    CHECK_EQ(decode_insn(&i, b, sizeof b, MODE_LONG64), DECODE_UD);
    /* too long even though the bytes run out first: still #UD, not SHORT */
    CHECK_EQ(decode_insn(&i, b, 14, MODE_LONG64), DECODE_UD);
    memset(b, 0x2e, sizeof b);
    b[10] = 0x48;
    b[11] = 0x81;
    b[12] = 0x84; /* add [rax+rax*1+disp32], imm32: 11 + 2 + 1 + 4 + 4 = 22 */
    b[13] = 0x00;
    CHECK_EQ(decode_insn(&i, b, sizeof b, MODE_LONG64), DECODE_UD);
}

static void test_short(void)
{
    struct insn i;
    CHECK_EQ(dec_n(&i, "48 8b 05 10 00 00 00", 1), DECODE_SHORT);
    CHECK_EQ(dec_n(&i, "48 8b 05 10 00 00 00", 5), DECODE_SHORT);
    CHECK_EQ(dec_n(&i, "e8 00 00 00 00", 2), DECODE_SHORT);
    CHECK_EQ(dec_n(&i, "0f 38 00 c1", 2), DECODE_SHORT);
    CHECK_EQ(dec_n(&i, "66 90", 1), DECODE_SHORT);
    CHECK_EQ(dec_n(&i, "8b 04 24", 1), DECODE_SHORT); /* SIB missing */
    CHECK_EQ(dec_n(&i, "c8 10 80 01", 1), DECODE_SHORT);
    CHECK_EQ(dec_n(&i, "48 b8 88 77 66 55 44 33 22 11", 1), DECODE_SHORT);
    CHECK_EQ(dec_n(&i, "90", 1), DECODE_SHORT); /* nothing at all */
    /* an invalid opcode is #UD as soon as it is seen, even if more bytes would follow */
    CHECK_EQ(dec_n(&i, "06 00", 1), DECODE_UD);
}

int main(void)
{
    RUN(test_registers_and_sizes);
    RUN(test_memory_operands);
    RUN(test_immediates);
    RUN(test_groups);
    RUN(test_mandatory_prefixes);
    RUN(test_lock);
    RUN(test_branch_flags);
    RUN(test_vex);
    RUN(test_invalid);
    RUN(test_length_limit);
    RUN(test_short);
    RUN(test_legacy_modes);
    return check_done();
}
