/* forms_c32.c — 16- and 32-bit operand and address sizes checked against the host CPU.
 * forms_c32 runs as 32-bit code (DIFF_C32), natively in the host's compatibility-mode code
 * segment and in the engine with a 32-bit CS. It covers the default 32-bit sizes and their
 * 66/67 overrides (16-bit operands, 16-bit ModRM addressing through LEA, whose result is the
 * address itself, and through faulting accesses below 64 KiB, which nothing maps), the opcodes
 * that exist only outside 64-bit mode (INC/DEC at 40-4F, PUSHA/POPA, the BCD adjustments,
 * SALC, ARPL, BOUND, PUSH CS/SS), stack operations on a 32-bit stack and near branches with
 * 32- and 16-bit operand sizes. Memory forms address [ebx] in the data page. forms_c16 runs
 * in a 16-bit code segment (DIFF_C16): the default 16-bit sizes, their 66/67 overrides and
 * IP-relative branches. */
#include <string.h>

#include "cpu/core.h"
#include "diff.h"

#define LE32(x) (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), (uint8_t)((x) >> 24)
#define NB(...) (sizeof((uint8_t[]){__VA_ARGS__}))
#define FORM(n, fl, ud, pr, ...)                                                                   \
    {                                                                                              \
        .name = n, .bytes = {__VA_ARGS__}, .len = NB(__VA_ARGS__), .flags = (fl) | DIFF_C32,       \
        .undef = ud, .membase = R_RBX, .prep = pr                                                  \
    }
#define R(n, ...)      FORM(n, 0, 0, NULL, __VA_ARGS__)
#define M(n, ...)      FORM(n, DIFF_MEM, 0, NULL, __VA_ARGS__)
#define BR(n, pr, ...) FORM(n, DIFF_BRANCH, 0, pr, __VA_ARGS__)
#define REL8           DIFF_REL_TAKEN
#define REL32          LE32(DIFF_REL_TAKEN)

/* String instructions: ESI and EDI in the data page, a small ECX. */
static void prep_str(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                     struct diff_rng *r)
{
    (void)f, (void)d;
    s->gpr[R_RSI] = DIFF_DATA + 0x100 + diff_rand(r) % 0x600;
    s->gpr[R_RDI] = DIFF_DATA + 0x800 + diff_rand(r) % 0x600;
    s->gpr[R_RCX] = diff_rand(r) % 40;
}

/* Indirect branches: one of the landing pads on the stack and at [ebx]. */
static void prep_indirect(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                          struct diff_rng *r)
{
    uint32_t t = (uint32_t)diff_land(f, (int)(diff_rand(r) & 1));
    s->gpr[R_RAX] = t;
    if (f->flags & DIFF_MEM) memcpy(d + (s->gpr[R_RBX] - DIFF_DATA), &t, 4);
    memcpy(d + (DIFF_RSP - DIFF_DATA), &t, 4);
}

/* loop / jecxz: a counter that reaches zero now and then, at 16 and 32 bits. */
static void prep_count(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                       struct diff_rng *r)
{
    (void)f, (void)d;
    unsigned k = diff_rand(r) % 4;
    if (k == 0) s->gpr[R_RCX] = diff_rand(r) % 3;
    if (k == 1) s->gpr[R_RCX] = (s->gpr[R_RCX] & 0xffff0000u) | (diff_rand(r) % 3);
}

/* bound: limits around the register half of the time (both ways out otherwise). */
static void prep_bound(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                       struct diff_rng *r)
{
    (void)f;
    if (diff_rand(r) & 1) {
        int64_t v = (int32_t)s->gpr[R_RAX];
        int64_t lo64 = v - (int64_t)(diff_rand(r) % 3), hi64 = v + (int64_t)(diff_rand(r) % 3);
        int32_t lo = lo64 < INT32_MIN ? INT32_MIN : (int32_t)lo64;
        int32_t hi = hi64 > INT32_MAX ? INT32_MAX : (int32_t)hi64;
        memcpy(d + (s->gpr[R_RBX] - DIFF_DATA), &lo, 4);
        memcpy(d + (s->gpr[R_RBX] - DIFF_DATA) + 4, &hi, 4);
    }
}

/* aam/aad bases: mostly 10, sometimes anything (aam 0 is #DE). */
#define ADJ (F_OF | F_AF | F_CF)

const struct diff_form forms_c32[] = {
    /* default 32-bit and 66-prefixed 16-bit operands */
    R("c32 add eax, ebx", 0x01, 0xd8),
    R("c32 add ax, bx (66)", 0x66, 0x01, 0xd8),
    R("c32 add ah, bh", 0x00, 0xfc),
    M("c32 add [ebx], ecx", 0x01, 0x0b),
    M("c32 sub dx, [ebx] (66)", 0x66, 0x2b, 0x13),
    FORM("c32 imul ecx, edx, imm32", 0, F_SF | F_ZF | F_AF | F_PF, NULL, 0x69, 0xca, LE32(0x12345)),
    FORM("c32 imul ax, [ebx], 7", DIFF_MEM, F_SF | F_ZF | F_AF | F_PF, NULL, 0x66, 0x6b, 0x03,
         0x07),
    M("c32 mov eax, [ebx+8]", 0x8b, 0x43, 0x08),
    M("c32 mov [ebx], dx (66)", 0x66, 0x89, 0x13),
    R("c32 mov ecx, imm32", 0xb9, LE32(0x89abcdef)),
    R("c32 mov cx, imm16 (66)", 0x66, 0xb9, 0x34, 0x12),
    R("c32 movzx eax, bh", 0x0f, 0xb6, 0xc7),
    R("c32 movsx edx, cx", 0x0f, 0xbf, 0xd1),
    R("c32 xchg eax, esi", 0x96),
    M("c32 cmpxchg [ebx], ecx", 0x0f, 0xb1, 0x0b),
    R("c32 cwde", 0x98),
    R("c32 cbw (66)", 0x66, 0x98),
    R("c32 cdq", 0x99),
    R("c32 bswap edi", 0x0f, 0xcf),
    FORM("c32 shl ax, cl (66)", 0, F_OF | F_AF, NULL, 0x66, 0xd3, 0xe0),
    M("c32 xlatb", 0xd7),
    /* INC/DEC r at 40-4F */
    R("c32 inc eax (40)", 0x40),
    R("c32 dec edi (4f)", 0x4f),
    R("c32 inc cx (66 41)", 0x66, 0x41),
    R("c32 dec ebp (4d)", 0x4d),
    /* 16-bit addressing: LEA gives the address itself */
    R("c32 lea eax, [bx+si+0x12] (67)", 0x67, 0x8d, 0x40, 0x12),
    R("c32 lea ecx, [bp+di-3] (67)", 0x67, 0x8d, 0x4b, 0xfd),
    R("c32 lea edx, [0x1234] (67)", 0x67, 0x8d, 0x16, 0x34, 0x12),
    R("c32 lea ax, [bx+si] (66 67)", 0x66, 0x67, 0x8d, 0x00),
    R("c32 lea esi, [bp+0x7fff] (67)", 0x67, 0x8d, 0xb6, 0xff, 0x7f),
    R("c32 lea edi, [ebx+ecx*4+0x100]", 0x8d, 0xbc, 0x8b, LE32(0x100)),
    FORM("c32 mov eax, [bx+di] (67, below 64 KiB: #PF)", DIFF_FAULTS, 0, NULL, 0x67, 0x8b, 0x01),
    /* stack */
    R("c32 push ebx", 0x53),
    R("c32 push bx (66)", 0x66, 0x53),
    R("c32 pop ecx", 0x59),
    R("c32 pop cx (66)", 0x66, 0x59),
    R("c32 push imm32", 0x68, LE32(0x87654321)),
    R("c32 push imm8", 0x6a, 0x80),
    R("c32 pushfd", 0x9c),
    R("c32 push cs", 0x0e),
    R("c32 push ss", 0x16),
    M("c32 push [ebx]", 0xff, 0x33),
    M("c32 pop [ebx]", 0x8f, 0x03),
    R("c32 pusha", 0x60),
    R("c32 pushaw (66)", 0x66, 0x60),
    R("c32 popa", 0x61),
    R("c32 popaw (66)", 0x66, 0x61),
    /* BCD adjustments and salc */
    FORM("c32 daa", 0, F_OF, NULL, 0x27),
    FORM("c32 das", 0, F_OF, NULL, 0x2f),
    FORM("c32 aaa", 0, F_OF | F_SF | F_ZF | F_PF, NULL, 0x37),
    FORM("c32 aas", 0, F_OF | F_SF | F_ZF | F_PF, NULL, 0x3f),
    FORM("c32 aam 10", 0, ADJ, NULL, 0xd4, 0x0a),
    FORM("c32 aam 7", 0, ADJ, NULL, 0xd4, 0x07),
    FORM("c32 aam 0 (#DE)", DIFF_FAULTS, ADJ, NULL, 0xd4, 0x00),
    FORM("c32 aad 10", 0, ADJ, NULL, 0xd5, 0x0a),
    FORM("c32 aad 3", 0, ADJ, NULL, 0xd5, 0x03),
    R("c32 salc", 0xd6),
    /* system-ish instructions user code can run */
    R("c32 arpl ax, cx", 0x63, 0xc8),
    FORM("c32 bound eax, [ebx]", DIFF_MEM | DIFF_FAULTS, 0, prep_bound, 0x62, 0x03),
    FORM("c32 bound ax, [ebx] (66)", DIFF_MEM | DIFF_FAULTS, 0, prep_bound, 0x66, 0x62, 0x03),
    /* strings with 32-bit addresses */
    FORM("c32 movsd", 0, 0, prep_str, 0xa5),
    FORM("c32 rep movsb", 0, 0, prep_str, 0xf3, 0xa4),
    FORM("c32 rep stosw (66)", 0, 0, prep_str, 0x66, 0xf3, 0xab),
    FORM("c32 repe cmpsb", 0, 0, prep_str, 0xf3, 0xa6),
    FORM("c32 lodsd", 0, 0, prep_str, 0xad),
    FORM("c32 movsb (67: si/di below 64 KiB, #PF)", DIFF_FAULTS, 0, prep_str, 0x67, 0xa4),
    /* near branches */
    BR("c32 jmp rel8", NULL, 0xeb, REL8),
    BR("c32 jmp rel32", NULL, 0xe9, REL32),
    BR("c32 jz rel8", NULL, 0x74, REL8),
    BR("c32 jl rel32", NULL, 0x0f, 0x8c, REL32),
    BR("c32 call rel32", NULL, 0xe8, REL32),
    BR("c32 loop rel8", prep_count, 0xe2, REL8),
    BR("c32 loop rel8 (67: cx)", prep_count, 0x67, 0xe2, REL8),
    BR("c32 loopne rel8", prep_count, 0xe0, REL8),
    BR("c32 jecxz rel8", prep_count, 0xe3, REL8),
    BR("c32 jcxz rel8 (67)", prep_count, 0x67, 0xe3, REL8),
    BR("c32 ret", prep_indirect, 0xc3),
    BR("c32 ret imm16", prep_indirect, 0xc2, 0x08, 0x00),
    BR("c32 jmp eax", prep_indirect, 0xff, 0xe0),
    BR("c32 call eax", prep_indirect, 0xff, 0xd0),
    FORM("c32 call [ebx]", DIFF_BRANCH | DIFF_MEM, 0, prep_indirect, 0xff, 0x13),
    FORM("c32 jmp rel16 (66: ip wraps to 16 bits, #PF)", DIFF_BRANCH | DIFF_FAULTS, 0, NULL, 0x66,
         0xe9, 0x00, 0x00),
};
const unsigned forms_c32_count = sizeof(forms_c32) / sizeof(forms_c32[0]);

/* ---- 16-bit code (DIFF_C16): IP-relative branches wrap at 16 bits, IP is an offset in the
 * code segment at DIFF_CODE; the stack (SS) stays the flat 32-bit one, so pushes move ESP.
 * No memory forms: DS is flat and 16-bit addresses cannot reach the data page. ---- */
#define F16(n, fl, ud, pr, ...)                                                                    \
    {                                                                                              \
        .name = n, .bytes = {__VA_ARGS__}, .len = NB(__VA_ARGS__), .flags = (fl) | DIFF_C16,       \
        .undef = ud, .membase = R_RBX, .prep = pr                                                  \
    }
#define R16(n, ...)      F16(n, 0, 0, NULL, __VA_ARGS__)
#define BR16(n, pr, ...) F16(n, DIFF_BRANCH, 0, pr, __VA_ARGS__)
#define REL16            DIFF_REL_TAKEN, 0

/* ret / jmp r16 in 16-bit code: the target is an offset in the code segment */
static void prep_indirect16(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                            struct diff_rng *r)
{
    uint16_t t = (uint16_t)(diff_land(f, (int)(diff_rand(r) & 1)) - DIFF_CODE);
    s->gpr[R_RAX] = (s->gpr[R_RAX] & ~0xffffull) | t;
    memcpy(d + (DIFF_RSP - DIFF_DATA), &t, 2);
}

const struct diff_form forms_c16[] = {
    R16("c16 add ax, bx", 0x01, 0xd8),
    R16("c16 add eax, ebx (66)", 0x66, 0x01, 0xd8),
    R16("c16 sub cl, dh", 0x28, 0xf1),
    R16("c16 inc ax (40)", 0x40),
    R16("c16 dec di (4f)", 0x4f),
    R16("c16 inc edx (66 42)", 0x66, 0x42),
    R16("c16 mov ax, imm16", 0xb8, 0x34, 0x12),
    R16("c16 mov eax, imm32 (66)", 0x66, 0xb8, LE32(0x89abcdef)),
    F16("c16 imul ax, bx, imm16", 0, F_SF | F_ZF | F_AF | F_PF, NULL, 0x69, 0xc3, 0x34, 0x12),
    F16("c16 shl ax, cl", 0, F_OF | F_AF, NULL, 0xd3, 0xe0),
    R16("c16 cbw", 0x98),
    R16("c16 cwd", 0x99),
    R16("c16 cwde (66)", 0x66, 0x98),
    R16("c16 movzx ax, bl", 0x0f, 0xb6, 0xc3),
    R16("c16 xchg ax, si", 0x96),
    R16("c16 lea ax, [bx+si+0x12]", 0x8d, 0x40, 0x12),
    R16("c16 lea cx, [bp+di-3]", 0x8d, 0x4b, 0xfd),
    R16("c16 lea dx, [0x1234]", 0x8d, 0x16, 0x34, 0x12),
    R16("c16 lea eax, [bx+si] (66)", 0x66, 0x8d, 0x00),
    R16("c16 lea eax, [ebx+ecx*2+0x100] (66 67)", 0x66, 0x67, 0x8d, 0x84, 0x4b, LE32(0x100)),
    R16("c16 push ax", 0x50),
    R16("c16 push eax (66)", 0x66, 0x50),
    R16("c16 pop cx", 0x59),
    R16("c16 push imm16", 0x68, 0x34, 0x12),
    R16("c16 pushf", 0x9c),
    R16("c16 pusha", 0x60),
    R16("c16 popa", 0x61),
    R16("c16 pushad (66)", 0x66, 0x60),
    F16("c16 daa", 0, F_OF, NULL, 0x27),
    F16("c16 aam 10", 0, ADJ, NULL, 0xd4, 0x0a),
    F16("c16 aad 10", 0, ADJ, NULL, 0xd5, 0x0a),
    R16("c16 salc", 0xd6),
    BR16("c16 jmp rel8", NULL, 0xeb, REL8),
    BR16("c16 jmp rel16", NULL, 0xe9, REL16),
    BR16("c16 jnz rel16", NULL, 0x0f, 0x85, REL16),
    BR16("c16 call rel16", NULL, 0xe8, REL16),
    BR16("c16 call rel32 (66)", NULL, 0x66, 0xe8, REL32),
    BR16("c16 loop rel8 (cx)", prep_count, 0xe2, REL8),
    BR16("c16 loop rel8 (67: ecx)", prep_count, 0x67, 0xe2, REL8),
    BR16("c16 jcxz rel8", prep_count, 0xe3, REL8),
    BR16("c16 ret", prep_indirect16, 0xc3),
    BR16("c16 ret imm16", prep_indirect16, 0xc2, 0x06, 0x00),
    BR16("c16 jmp ax", prep_indirect16, 0xff, 0xe0),
    BR16("c16 call ax", prep_indirect16, 0xff, 0xd0),
    F16("c16 jmp rel16 (ip wraps below the pads: #PF)", DIFF_BRANCH | DIFF_FAULTS, 0, NULL, 0xe9,
        0x00, 0x80),
};
const unsigned forms_c16_count = sizeof(forms_c16) / sizeof(forms_c16[0]);
