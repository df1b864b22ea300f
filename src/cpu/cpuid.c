/* cpuid.c — the CPUID instruction's answers. The model is a plain GenuineIntel family-6 CPU
 * named "vessel virtual CPU", one core, one thread, with the KVM paravirtual leaves so Linux
 * uses kvmclock. Optional instruction-set features are advertised only if every representative
 * instruction of the feature decodes and has a handler (exec_lookup), so CPUID can never claim
 * more than the engine executes; platform basics (paging features, APIC, MSRs, SYSCALL...) are
 * fixed because the engine and the board provide them. */
#include <stdio.h>
#include <string.h>

#include "cpu/cpuid.h"
#include "cpu/decode/decode.h"
#include "cpu/ops/host.h"
#include "cpu/ops/ops.h"
#include "vessel/log.h"

/* One representative instruction: optional legacy prefix, opcode map (0 one-byte, 1 0F,
 * 2 0F38, 3 0F3A), opcode, ModRM, and whether an imm8 follows. A ModRM of 0xC1 is the register
 * form (xmm0/mm0, xmm1/mm1); 0x07/0x0F are memory forms for memory-only instructions. */
struct cpuid_probe {
    uint8_t where, bit;
    uint8_t pfx, map, op, modrm, imm;
};

#define REG 0xC1
#define MEM 0x07
/* A feature is advertised iff all of its lines here decode and have a handler. */
static const struct cpuid_probe cpuid_probes[] = {
    /* SSE3 (leaf 1 ECX 0) */
    {P_1ECX, 0, 0xF3, 1, 0x16, REG, 0},
    {P_1ECX, 0, 0xF3, 1, 0x12, REG, 0},
    {P_1ECX, 0, 0xF2, 1, 0x12, REG, 0},
    {P_1ECX, 0, 0x66, 1, 0xD0, REG, 0},
    {P_1ECX, 0, 0xF2, 1, 0xD0, REG, 0},
    {P_1ECX, 0, 0x66, 1, 0x7C, REG, 0},
    {P_1ECX, 0, 0xF2, 1, 0x7C, REG, 0},
    {P_1ECX, 0, 0x66, 1, 0x7D, REG, 0},
    {P_1ECX, 0, 0xF2, 1, 0x7D, REG, 0},
    {P_1ECX, 0, 0xF2, 1, 0xF0, MEM, 0},
    {P_1ECX, 0, 0, 0, 0xDB, 0x0F, 0}, /* fisttp m32 */
    /* PCLMULQDQ (1), AES (25) */
    {P_1ECX, 1, 0x66, 3, 0x44, REG, 1},
    {P_1ECX, 25, 0x66, 2, 0xDB, REG, 0},
    {P_1ECX, 25, 0x66, 2, 0xDC, REG, 0},
    {P_1ECX, 25, 0x66, 2, 0xDD, REG, 0},
    {P_1ECX, 25, 0x66, 2, 0xDE, REG, 0},
    {P_1ECX, 25, 0x66, 2, 0xDF, REG, 0},
    {P_1ECX, 25, 0x66, 3, 0xDF, REG, 1},
/* SSSE3 (9): xmm and mm forms of 0F38 00-0B, 1C-1E, and palignr */
#define SSSE3(op)                                                                                  \
    {P_1ECX, 9, 0x66, 2, op, REG, 0},                                                              \
    {                                                                                              \
        P_1ECX, 9, 0, 2, op, REG, 0                                                                \
    }
    SSSE3(0x00),
    SSSE3(0x01),
    SSSE3(0x02),
    SSSE3(0x03),
    SSSE3(0x04),
    SSSE3(0x05),
    SSSE3(0x06),
    SSSE3(0x07),
    SSSE3(0x08),
    SSSE3(0x09),
    SSSE3(0x0A),
    SSSE3(0x0B),
    SSSE3(0x1C),
    SSSE3(0x1D),
    SSSE3(0x1E),
    {P_1ECX, 9, 0x66, 3, 0x0F, REG, 1},
    {P_1ECX, 9, 0, 3, 0x0F, REG, 1},
    /* CX16 (13): cmpxchg16b (REX.W is added for this line) */
    {P_1ECX, 13, 0x48, 1, 0xC7, 0x0F, 0},
/* SSE4.1 (19) */
#define SSE41(map, op, imm)                                                                        \
    {                                                                                              \
        P_1ECX, 19, 0x66, map, op, REG, imm                                                        \
    }
    SSE41(2, 0x10, 0),
    SSE41(2, 0x14, 0),
    SSE41(2, 0x15, 0),
    SSE41(2, 0x17, 0),
    SSE41(2, 0x20, 0),
    SSE41(2, 0x21, 0),
    SSE41(2, 0x22, 0),
    SSE41(2, 0x23, 0),
    SSE41(2, 0x24, 0),
    SSE41(2, 0x25, 0),
    SSE41(2, 0x28, 0),
    SSE41(2, 0x29, 0),
    SSE41(2, 0x2B, 0),
    SSE41(2, 0x30, 0),
    SSE41(2, 0x31, 0),
    SSE41(2, 0x32, 0),
    SSE41(2, 0x33, 0),
    SSE41(2, 0x34, 0),
    SSE41(2, 0x35, 0),
    SSE41(2, 0x38, 0),
    SSE41(2, 0x39, 0),
    SSE41(2, 0x3A, 0),
    SSE41(2, 0x3B, 0),
    SSE41(2, 0x3C, 0),
    SSE41(2, 0x3D, 0),
    SSE41(2, 0x3E, 0),
    SSE41(2, 0x3F, 0),
    SSE41(2, 0x40, 0),
    SSE41(2, 0x41, 0),
    SSE41(3, 0x08, 1),
    SSE41(3, 0x09, 1),
    SSE41(3, 0x0A, 1),
    SSE41(3, 0x0B, 1),
    SSE41(3, 0x0C, 1),
    SSE41(3, 0x0D, 1),
    SSE41(3, 0x0E, 1),
    SSE41(3, 0x14, 1),
    SSE41(3, 0x15, 1),
    SSE41(3, 0x16, 1),
    SSE41(3, 0x17, 1),
    SSE41(3, 0x20, 1),
    SSE41(3, 0x21, 1),
    SSE41(3, 0x22, 1),
    SSE41(3, 0x40, 1),
    SSE41(3, 0x41, 1),
    SSE41(3, 0x42, 1),
    {P_1ECX, 19, 0x66, 2, 0x2A, MEM, 0}, /* movntdqa */
    /* SSE4.2 (20) */
    {P_1ECX, 20, 0x66, 2, 0x37, REG, 0},
    {P_1ECX, 20, 0x66, 3, 0x60, REG, 1},
    {P_1ECX, 20, 0x66, 3, 0x61, REG, 1},
    {P_1ECX, 20, 0x66, 3, 0x62, REG, 1},
    {P_1ECX, 20, 0x66, 3, 0x63, REG, 1},
    {P_1ECX, 20, 0xF2, 2, 0xF0, REG, 0},
    {P_1ECX, 20, 0xF2, 2, 0xF1, REG, 0},
    /* XSAVE (26): xsave, xrstor (either pointer format), xgetbv, xsetbv */
    {P_1ECX, 26, 0, 1, 0xAE, 0x27, 0},
    {P_1ECX, 26, 0, 1, 0xAE, 0x2F, 0},
    {P_1ECX, 26, 0x48, 1, 0xAE, 0x27, 0},
    {P_1ECX, 26, 0x48, 1, 0xAE, 0x2F, 0},
    {P_1ECX, 26, 0, 1, 0x01, 0xD0, 0},
    {P_1ECX, 26, 0, 1, 0x01, 0xD1, 0},
    /* leaf 0xD sub 1 EAX: XSAVEOPT (0), XSAVEC (1), XGETBV with ECX = 1 (2) */
    {P_D1EAX, 0, 0, 1, 0xAE, 0x37, 0},
    {P_D1EAX, 1, 0, 1, 0xC7, 0x27, 0},
    {P_D1EAX, 2, 0, 1, 0x01, 0xD0, 0},
    /* MOVBE (22), POPCNT (23), RDRAND (30) */
    {P_1ECX, 22, 0, 2, 0xF0, MEM, 0},
    {P_1ECX, 22, 0, 2, 0xF1, MEM, 0},
    {P_1ECX, 23, 0xF3, 1, 0xB8, REG, 0},
    {P_1ECX, 30, 0, 1, 0xC7, 0xF0, 0},
    /* leaf 7: ERMS (EBX 9) and FSRM (EDX 4): rep movsb; RDSEED (EBX 18); ADX (EBX 19) */
    {P_7EBX, 9, 0xF3, 0, 0xA4, 0, 0xFF},
    {P_7EDX, 4, 0xF3, 0, 0xA4, 0, 0xFF},
    {P_7EBX, 18, 0, 1, 0xC7, 0xF8, 0},
    {P_7EBX, 19, 0x66, 2, 0xF6, REG, 0},
    {P_7EBX, 19, 0xF3, 2, 0xF6, REG, 0},
    /* FSGSBASE (EBX 0): rdfsbase rdgsbase wrfsbase wrgsbase; RDPID (ECX 22) */
    {P_7EBX, 0, 0xF3, 1, 0xAE, 0xC0, 0},
    {P_7EBX, 0, 0xF3, 1, 0xAE, 0xC8, 0},
    {P_7EBX, 0, 0xF3, 1, 0xAE, 0xD0, 0},
    {P_7EBX, 0, 0xF3, 1, 0xAE, 0xD8, 0},
    {P_7ECX, 22, 0xF3, 1, 0xC7, 0xF8, 0},
    /* SHA (EBX 29) */
    {P_7EBX, 29, 0, 2, 0xC8, REG, 0},
    {P_7EBX, 29, 0, 2, 0xC9, REG, 0},
    {P_7EBX, 29, 0, 2, 0xCA, REG, 0},
    {P_7EBX, 29, 0, 2, 0xCB, REG, 0},
    {P_7EBX, 29, 0, 2, 0xCC, REG, 0},
    {P_7EBX, 29, 0, 2, 0xCD, REG, 0},
    {P_7EBX, 29, 0, 3, 0xCC, REG, 1},
    /* 0x80000001 ECX: LAHF/SAHF (0), ABM/LZCNT (5), PREFETCHW (8) */
    {P_X1ECX, 0, 0, 0, 0x9F, 0, 0xFF},
    {P_X1ECX, 0, 0, 0, 0x9E, 0, 0xFF},
    {P_X1ECX, 5, 0xF3, 1, 0xBD, REG, 0},
    {P_X1ECX, 8, 0, 1, 0x0D, 0x08, 0},
};

/* VEX-encoded representatives, as raw bytes (register forms; W0 and W1 where both exist). */
struct cpuid_raw_probe {
    uint8_t where, bit, len;
    uint8_t b[7];
};
static const struct cpuid_raw_probe cpuid_raw_probes[] = {
    /* BMI1 (leaf 7 EBX 3): andn, bextr, blsr, blsmsk, blsi (32 and 64 bits), and tzcnt */
    {P_7EBX, 3, 5, {0xc4, 0xe2, 0x78, 0xf2, 0xc1}},
    {P_7EBX, 3, 5, {0xc4, 0xe2, 0xf8, 0xf2, 0xc1}},
    {P_7EBX, 3, 5, {0xc4, 0xe2, 0x78, 0xf7, 0xc1}},
    {P_7EBX, 3, 5, {0xc4, 0xe2, 0xf8, 0xf7, 0xc1}},
    {P_7EBX, 3, 5, {0xc4, 0xe2, 0x78, 0xf3, 0xc9}},
    {P_7EBX, 3, 5, {0xc4, 0xe2, 0x78, 0xf3, 0xd1}},
    {P_7EBX, 3, 5, {0xc4, 0xe2, 0x78, 0xf3, 0xd9}},
    {P_7EBX, 3, 4, {0xf3, 0x0f, 0xbc, 0xc1}},
    /* BMI2 (leaf 7 EBX 8): bzhi, pext, pdep, mulx, rorx, shlx, sarx, shrx */
    {P_7EBX, 8, 5, {0xc4, 0xe2, 0x78, 0xf5, 0xc1}},
    {P_7EBX, 8, 5, {0xc4, 0xe2, 0x7a, 0xf5, 0xc1}},
    {P_7EBX, 8, 5, {0xc4, 0xe2, 0x7b, 0xf5, 0xc1}},
    {P_7EBX, 8, 5, {0xc4, 0xe2, 0x7b, 0xf6, 0xc1}},
    {P_7EBX, 8, 6, {0xc4, 0xe3, 0x7b, 0xf0, 0xc1, 0x01}},
    {P_7EBX, 8, 5, {0xc4, 0xe2, 0x79, 0xf7, 0xc1}},
    {P_7EBX, 8, 5, {0xc4, 0xe2, 0x7a, 0xf7, 0xc1}},
    {P_7EBX, 8, 5, {0xc4, 0xe2, 0x7b, 0xf7, 0xc1}},
    /* AVX: vzeroupper, vzeroall */
    {P_1ECX, 28, 3, {0xc5, 0xf8, 0x77}},
    {P_1ECX, 28, 3, {0xc5, 0xfc, 0x77}},
/* AVX2 gathers: vpgatherdd/dq/qd/qq, vgatherdps/dpd/qps/qpd, 128 and 256 bits */
#define GATHER(op)                                                                                 \
    {P_7EBX, 5, 6, {0xc4, 0xe2, 0x71, op, 0x04, 0x20}},                                            \
        {P_7EBX, 5, 6, {0xc4, 0xe2, 0x75, op, 0x04, 0x20}},                                        \
        {P_7EBX, 5, 6, {0xc4, 0xe2, 0xf1, op, 0x04, 0x20}},                                        \
    {                                                                                              \
        P_7EBX, 5, 6,                                                                              \
        {                                                                                          \
            0xc4, 0xe2, 0xf5, op, 0x04, 0x20                                                       \
        }                                                                                          \
    }
    GATHER(0x90),
    GATHER(0x91),
    GATHER(0x92),
    GATHER(0x93),
#undef GATHER
};

/* VEX vector instructions, one line per opcode / pp / W / L (and register or memory form)
 * that the feature defines (generated from the avx family's tables and the SDM's VEX maps):
 * VEX.vvvv is 1111b, ModRM 0xC1 a register form, 0x07 (or 0x17/0x1F for vldmxcsr/vstmxcsr)
 * memory at [rdi], an imm8 where the opcode takes one. AVX (leaf 1 ECX 28), F16C (29), FMA
 * (12), AVX2 (leaf 7 EBX 5). */
struct cpuid_vex_probe {
    uint8_t where, bit, map, pp, op, w, l, modrm;
};
static const struct cpuid_vex_probe cpuid_vex_probes[] = {
    {P_1ECX, 28, 1, 0, 0x10, 0, 0, 0x07}, {P_1ECX, 28, 1, 0, 0x10, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 0, 0x10, 0, 1, 0x07}, {P_1ECX, 28, 1, 0, 0x10, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x11, 0, 0, 0x07}, {P_1ECX, 28, 1, 0, 0x11, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 0, 0x11, 0, 1, 0x07}, {P_1ECX, 28, 1, 0, 0x11, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x12, 0, 0, 0x07}, {P_1ECX, 28, 1, 0, 0x12, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 0, 0x13, 0, 0, 0x07}, {P_1ECX, 28, 1, 0, 0x14, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 0, 0x14, 0, 1, 0xc1}, {P_1ECX, 28, 1, 0, 0x15, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 0, 0x15, 0, 1, 0xc1}, {P_1ECX, 28, 1, 0, 0x16, 0, 0, 0x07},
    {P_1ECX, 28, 1, 0, 0x16, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x17, 0, 0, 0x07},
    {P_1ECX, 28, 1, 0, 0x28, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x28, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x29, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x29, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x2b, 0, 0, 0x07}, {P_1ECX, 28, 1, 0, 0x2b, 0, 1, 0x07},
    {P_1ECX, 28, 1, 0, 0x2e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x2f, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 0, 0x50, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x50, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x51, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x51, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x52, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x52, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x53, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x53, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x54, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x54, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x55, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x55, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x56, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x56, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x57, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x57, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x58, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x58, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x59, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x59, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x5a, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x5a, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x5b, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x5b, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x5c, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x5c, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x5d, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x5d, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x5e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x5e, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0x5f, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0x5f, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0xae, 0, 0, 0x17}, {P_1ECX, 28, 1, 0, 0xae, 0, 0, 0x1f},
    {P_1ECX, 28, 1, 0, 0xc2, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0xc2, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 0, 0xc6, 0, 0, 0xc1}, {P_1ECX, 28, 1, 0, 0xc6, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x10, 0, 0, 0x07}, {P_1ECX, 28, 1, 1, 0x10, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x10, 0, 1, 0x07}, {P_1ECX, 28, 1, 1, 0x10, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x11, 0, 0, 0x07}, {P_1ECX, 28, 1, 1, 0x11, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x11, 0, 1, 0x07}, {P_1ECX, 28, 1, 1, 0x11, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x12, 0, 0, 0x07}, {P_1ECX, 28, 1, 1, 0x13, 0, 0, 0x07},
    {P_1ECX, 28, 1, 1, 0x14, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x14, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x15, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x15, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x16, 0, 0, 0x07}, {P_1ECX, 28, 1, 1, 0x17, 0, 0, 0x07},
    {P_1ECX, 28, 1, 1, 0x28, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x28, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x29, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x29, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x2b, 0, 0, 0x07}, {P_1ECX, 28, 1, 1, 0x2b, 0, 1, 0x07},
    {P_1ECX, 28, 1, 1, 0x2e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x2f, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x50, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x50, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x51, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x51, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x54, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x54, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x55, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x55, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x56, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x56, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x57, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x57, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x58, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x58, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x59, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x59, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x5a, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x5a, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x5b, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x5b, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x5c, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x5c, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x5d, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x5d, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x5e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x5e, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x5f, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x5f, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x60, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x61, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x62, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x63, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x64, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x65, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x66, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x67, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x68, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x69, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x6a, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x6b, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x6c, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x6d, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x6e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x6e, 1, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x6f, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x6f, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x70, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x71, 0, 0, 0xd1},
    {P_1ECX, 28, 1, 1, 0x71, 0, 0, 0xe1}, {P_1ECX, 28, 1, 1, 0x71, 0, 0, 0xf1},
    {P_1ECX, 28, 1, 1, 0x72, 0, 0, 0xd1}, {P_1ECX, 28, 1, 1, 0x72, 0, 0, 0xe1},
    {P_1ECX, 28, 1, 1, 0x72, 0, 0, 0xf1}, {P_1ECX, 28, 1, 1, 0x73, 0, 0, 0xd1},
    {P_1ECX, 28, 1, 1, 0x73, 0, 0, 0xd9}, {P_1ECX, 28, 1, 1, 0x73, 0, 0, 0xf1},
    {P_1ECX, 28, 1, 1, 0x73, 0, 0, 0xf9}, {P_1ECX, 28, 1, 1, 0x74, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x75, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x76, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x7c, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x7c, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x7d, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x7d, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0x7e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x7e, 1, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0x7f, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0x7f, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0xc2, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xc2, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0xc4, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xc5, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xc6, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xc6, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0xd0, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xd0, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 1, 0xd1, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xd2, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xd3, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xd4, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xd5, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xd6, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xd7, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xd8, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xd9, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xda, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xdb, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xdc, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xdd, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xde, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xdf, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xe0, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xe1, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xe2, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xe3, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xe4, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xe5, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xe6, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xe6, 0, 1, 0xc1}, {P_1ECX, 28, 1, 1, 0xe7, 0, 0, 0x07},
    {P_1ECX, 28, 1, 1, 0xe7, 0, 1, 0x07}, {P_1ECX, 28, 1, 1, 0xe8, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xe9, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xea, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xeb, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xec, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xed, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xee, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xef, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xf1, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xf2, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xf3, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xf4, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xf5, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xf6, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xf7, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xf8, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xf9, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xfa, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xfb, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xfc, 0, 0, 0xc1}, {P_1ECX, 28, 1, 1, 0xfd, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 1, 0xfe, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x10, 0, 0, 0x07},
    {P_1ECX, 28, 1, 2, 0x10, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x11, 0, 0, 0x07},
    {P_1ECX, 28, 1, 2, 0x11, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x12, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x12, 0, 1, 0xc1}, {P_1ECX, 28, 1, 2, 0x16, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x16, 0, 1, 0xc1}, {P_1ECX, 28, 1, 2, 0x2a, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x2a, 1, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x2c, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x2d, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x51, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x52, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x53, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x58, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x59, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x5a, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x5b, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x5b, 0, 1, 0xc1}, {P_1ECX, 28, 1, 2, 0x5c, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x5d, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x5e, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x5f, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x6f, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x6f, 0, 1, 0xc1}, {P_1ECX, 28, 1, 2, 0x70, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x7e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0x7f, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0x7f, 0, 1, 0xc1}, {P_1ECX, 28, 1, 2, 0xc2, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 2, 0xe6, 0, 0, 0xc1}, {P_1ECX, 28, 1, 2, 0xe6, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 3, 0x10, 0, 0, 0x07}, {P_1ECX, 28, 1, 3, 0x10, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x11, 0, 0, 0x07}, {P_1ECX, 28, 1, 3, 0x11, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x12, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x12, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 3, 0x2a, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x2a, 1, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x2c, 1, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x2d, 1, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x51, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x58, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x59, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x5a, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x5c, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x5d, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x5e, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x5f, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x70, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0x7c, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x7c, 0, 1, 0xc1}, {P_1ECX, 28, 1, 3, 0x7d, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0x7d, 0, 1, 0xc1}, {P_1ECX, 28, 1, 3, 0xc2, 0, 0, 0xc1},
    {P_1ECX, 28, 1, 3, 0xd0, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0xd0, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 3, 0xe6, 0, 0, 0xc1}, {P_1ECX, 28, 1, 3, 0xe6, 0, 1, 0xc1},
    {P_1ECX, 28, 1, 3, 0xf0, 0, 0, 0x07}, {P_1ECX, 28, 1, 3, 0xf0, 0, 1, 0x07},
    {P_1ECX, 28, 2, 1, 0x00, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x01, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x02, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x03, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x04, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x05, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x06, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x07, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x08, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x09, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x0a, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x0b, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x0c, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x0c, 0, 1, 0xc1},
    {P_1ECX, 28, 2, 1, 0x0d, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x0d, 0, 1, 0xc1},
    {P_1ECX, 28, 2, 1, 0x0e, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x0e, 0, 1, 0xc1},
    {P_1ECX, 28, 2, 1, 0x0f, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x0f, 0, 1, 0xc1},
    {P_1ECX, 28, 2, 1, 0x17, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x17, 0, 1, 0xc1},
    {P_1ECX, 28, 2, 1, 0x18, 0, 0, 0x07}, {P_1ECX, 28, 2, 1, 0x18, 0, 1, 0x07},
    {P_1ECX, 28, 2, 1, 0x19, 0, 1, 0x07}, {P_1ECX, 28, 2, 1, 0x1a, 0, 1, 0x07},
    {P_1ECX, 28, 2, 1, 0x1c, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x1d, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x1e, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x20, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x21, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x22, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x23, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x24, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x25, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x28, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x29, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x2a, 0, 0, 0x07},
    {P_1ECX, 28, 2, 1, 0x2b, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x2c, 0, 0, 0x07},
    {P_1ECX, 28, 2, 1, 0x2c, 0, 1, 0x07}, {P_1ECX, 28, 2, 1, 0x2d, 0, 0, 0x07},
    {P_1ECX, 28, 2, 1, 0x2d, 0, 1, 0x07}, {P_1ECX, 28, 2, 1, 0x2e, 0, 0, 0x07},
    {P_1ECX, 28, 2, 1, 0x2e, 0, 1, 0x07}, {P_1ECX, 28, 2, 1, 0x2f, 0, 0, 0x07},
    {P_1ECX, 28, 2, 1, 0x2f, 0, 1, 0x07}, {P_1ECX, 28, 2, 1, 0x30, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x31, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x32, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x33, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x34, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x35, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x37, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x38, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x39, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x3a, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x3b, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x3c, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x3d, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x3e, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x3f, 0, 0, 0xc1},
    {P_1ECX, 28, 2, 1, 0x40, 0, 0, 0xc1}, {P_1ECX, 28, 2, 1, 0x41, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x04, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x04, 0, 1, 0xc1},
    {P_1ECX, 28, 3, 1, 0x05, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x05, 0, 1, 0xc1},
    {P_1ECX, 28, 3, 1, 0x06, 0, 1, 0xc1}, {P_1ECX, 28, 3, 1, 0x08, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x08, 0, 1, 0xc1}, {P_1ECX, 28, 3, 1, 0x09, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x09, 0, 1, 0xc1}, {P_1ECX, 28, 3, 1, 0x0a, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x0b, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x0c, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x0c, 0, 1, 0xc1}, {P_1ECX, 28, 3, 1, 0x0d, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x0d, 0, 1, 0xc1}, {P_1ECX, 28, 3, 1, 0x0e, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x0f, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x14, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x15, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x16, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x16, 1, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x17, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x18, 0, 1, 0xc1}, {P_1ECX, 28, 3, 1, 0x19, 0, 1, 0xc1},
    {P_1ECX, 28, 3, 1, 0x20, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x21, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x22, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x22, 1, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x40, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x40, 0, 1, 0xc1},
    {P_1ECX, 28, 3, 1, 0x41, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x42, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x4a, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x4a, 0, 1, 0xc1},
    {P_1ECX, 28, 3, 1, 0x4b, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x4b, 0, 1, 0xc1},
    {P_1ECX, 28, 3, 1, 0x4c, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x60, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x61, 0, 0, 0xc1}, {P_1ECX, 28, 3, 1, 0x62, 0, 0, 0xc1},
    {P_1ECX, 28, 3, 1, 0x63, 0, 0, 0xc1}, {P_7EBX, 5, 1, 1, 0x60, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x61, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x62, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x63, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x64, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x65, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x66, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x67, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x68, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x69, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x6a, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x6b, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x6c, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x6d, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x70, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x71, 0, 1, 0xd1},  {P_7EBX, 5, 1, 1, 0x71, 0, 1, 0xe1},
    {P_7EBX, 5, 1, 1, 0x71, 0, 1, 0xf1},  {P_7EBX, 5, 1, 1, 0x72, 0, 1, 0xd1},
    {P_7EBX, 5, 1, 1, 0x72, 0, 1, 0xe1},  {P_7EBX, 5, 1, 1, 0x72, 0, 1, 0xf1},
    {P_7EBX, 5, 1, 1, 0x73, 0, 1, 0xd1},  {P_7EBX, 5, 1, 1, 0x73, 0, 1, 0xd9},
    {P_7EBX, 5, 1, 1, 0x73, 0, 1, 0xf1},  {P_7EBX, 5, 1, 1, 0x73, 0, 1, 0xf9},
    {P_7EBX, 5, 1, 1, 0x74, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0x75, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0x76, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xd1, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xd2, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xd3, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xd4, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xd5, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xd7, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xd8, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xd9, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xda, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xdb, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xdc, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xdd, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xde, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xdf, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xe0, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xe1, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xe2, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xe3, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xe4, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xe5, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xe8, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xe9, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xea, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xeb, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xec, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xed, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xee, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xef, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xf1, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xf2, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xf3, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xf4, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xf5, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xf6, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xf8, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xf9, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xfa, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xfb, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xfc, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 1, 0xfd, 0, 1, 0xc1},  {P_7EBX, 5, 1, 1, 0xfe, 0, 1, 0xc1},
    {P_7EBX, 5, 1, 2, 0x70, 0, 1, 0xc1},  {P_7EBX, 5, 1, 3, 0x70, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x00, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x01, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x02, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x03, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x04, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x05, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x06, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x07, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x08, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x09, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x0a, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x0b, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x16, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x18, 0, 0, 0xc1},
    {P_7EBX, 5, 2, 1, 0x18, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x19, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x1c, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x1d, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x1e, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x20, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x21, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x22, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x23, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x24, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x25, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x28, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x29, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x2a, 0, 1, 0x07},
    {P_7EBX, 5, 2, 1, 0x2b, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x30, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x31, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x32, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x33, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x34, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x35, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x36, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x37, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x38, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x39, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x3a, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x3b, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x3c, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x3d, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x3e, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x3f, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x40, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x45, 0, 0, 0xc1},  {P_7EBX, 5, 2, 1, 0x45, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x45, 1, 0, 0xc1},  {P_7EBX, 5, 2, 1, 0x45, 1, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x46, 0, 0, 0xc1},  {P_7EBX, 5, 2, 1, 0x46, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x47, 0, 0, 0xc1},  {P_7EBX, 5, 2, 1, 0x47, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x47, 1, 0, 0xc1},  {P_7EBX, 5, 2, 1, 0x47, 1, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x58, 0, 0, 0xc1},  {P_7EBX, 5, 2, 1, 0x58, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x59, 0, 0, 0xc1},  {P_7EBX, 5, 2, 1, 0x59, 0, 1, 0xc1},
    {P_7EBX, 5, 2, 1, 0x5a, 0, 1, 0x07},  {P_7EBX, 5, 2, 1, 0x78, 0, 0, 0xc1},
    {P_7EBX, 5, 2, 1, 0x78, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x79, 0, 0, 0xc1},
    {P_7EBX, 5, 2, 1, 0x79, 0, 1, 0xc1},  {P_7EBX, 5, 2, 1, 0x8c, 0, 0, 0x07},
    {P_7EBX, 5, 2, 1, 0x8c, 0, 1, 0x07},  {P_7EBX, 5, 2, 1, 0x8c, 1, 0, 0x07},
    {P_7EBX, 5, 2, 1, 0x8c, 1, 1, 0x07},  {P_7EBX, 5, 2, 1, 0x8e, 0, 0, 0x07},
    {P_7EBX, 5, 2, 1, 0x8e, 0, 1, 0x07},  {P_7EBX, 5, 2, 1, 0x8e, 1, 0, 0x07},
    {P_7EBX, 5, 2, 1, 0x8e, 1, 1, 0x07},  {P_7EBX, 5, 3, 1, 0x00, 1, 1, 0xc1},
    {P_7EBX, 5, 3, 1, 0x01, 1, 1, 0xc1},  {P_7EBX, 5, 3, 1, 0x02, 0, 0, 0xc1},
    {P_7EBX, 5, 3, 1, 0x02, 0, 1, 0xc1},  {P_7EBX, 5, 3, 1, 0x0e, 0, 1, 0xc1},
    {P_7EBX, 5, 3, 1, 0x0f, 0, 1, 0xc1},  {P_7EBX, 5, 3, 1, 0x38, 0, 1, 0xc1},
    {P_7EBX, 5, 3, 1, 0x39, 0, 1, 0xc1},  {P_7EBX, 5, 3, 1, 0x42, 0, 1, 0xc1},
    {P_7EBX, 5, 3, 1, 0x46, 0, 1, 0xc1},  {P_7EBX, 5, 3, 1, 0x4c, 0, 1, 0xc1},
    {P_1ECX, 29, 2, 1, 0x13, 0, 0, 0xc1}, {P_1ECX, 29, 2, 1, 0x13, 0, 1, 0xc1},
    {P_1ECX, 29, 3, 1, 0x1d, 0, 0, 0xc1}, {P_1ECX, 29, 3, 1, 0x1d, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x96, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x96, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x96, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x96, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x97, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x97, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x97, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x97, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x98, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x98, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x98, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x98, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x99, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x99, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9a, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9a, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9a, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9a, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9b, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9b, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9c, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9c, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9c, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9c, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9d, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9d, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9e, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9e, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9e, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9e, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0x9f, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0x9f, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xa6, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xa6, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xa6, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xa6, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xa7, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xa7, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xa7, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xa7, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xa8, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xa8, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xa8, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xa8, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xa9, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xa9, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xaa, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xaa, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xaa, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xaa, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xab, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xab, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xac, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xac, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xac, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xac, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xad, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xad, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xae, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xae, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xae, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xae, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xaf, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xaf, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xb6, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xb6, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xb6, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xb6, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xb7, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xb7, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xb7, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xb7, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xb8, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xb8, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xb8, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xb8, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xb9, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xb9, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xba, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xba, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xba, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xba, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xbb, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xbb, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xbc, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xbc, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xbc, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xbc, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xbd, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xbd, 1, 0, 0xc1},
    {P_1ECX, 12, 2, 1, 0xbe, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xbe, 0, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xbe, 1, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xbe, 1, 1, 0xc1},
    {P_1ECX, 12, 2, 1, 0xbf, 0, 0, 0xc1}, {P_1ECX, 12, 2, 1, 0xbf, 1, 0, 0xc1},
};

/* Assemble a probe's bytes; imm 0xFF marks an opcode without ModRM. */
static unsigned cpuid_probe_bytes(const struct cpuid_probe *p, uint8_t *b)
{
    unsigned n = 0;
    if (p->pfx) b[n++] = p->pfx;
    if (p->map >= 1) b[n++] = 0x0F;
    if (p->map == 2) b[n++] = 0x38;
    if (p->map == 3) b[n++] = 0x3A;
    b[n++] = p->op;
    if (p->imm == 0xFF) return n;
    b[n++] = p->modrm;
    if (p->imm) b[n++] = 0;
    return n;
}

static bool cpuid_insn_ok(const struct cpuid_probe *p)
{
    struct insn in;
    uint8_t b[8];
    int n = (int)cpuid_probe_bytes(p, b);
    memset(&in, 0, sizeof(in));
    if (decode_insn(&in, b, (unsigned)n, MODE_LONG64) != n) return false;
    return exec_lookup(&in) != NULL;
}

/* ---- CPU models (docs/CPU-MODEL.md) ----
 * A model is a name and the host-backed extensions (HOST_* of ops/host.h) it offers; everything
 * else the engine computes itself and offers under every model. The model is one per process
 * (the lookups that build blocks consult it), selected before the first vCPU is created or by
 * restoring a snapshot's "cpu" section. */
static const struct cpuid_model_def {
    const char *name;
    unsigned ext; /* HOST_* bits; for "host", whatever host_ext() has */
} cpuid_models[] = {
    {"x86-64-v2", 0},
    {"x86-64-v3", HOST_AVX | HOST_AVX2 | HOST_FMA | HOST_F16C},
    {"host", 0},
};
#define CPUID_MODEL_DEFAULT "x86-64-v2"

static const char *cpuid_model_cur = CPUID_MODEL_DEFAULT;
static unsigned cpuid_model_ext_bits;
/* While a snapshot's model is checked, the probes of the loading thread ask for its extensions
 * instead of the process's (cpuid_words_for): other threads are not disturbed. */
static _Thread_local int cpuid_ext_override = -1;

/* Probed feature words, for the model's extensions; computed once per model (deterministic, so a
 * racing recomputation is harmless). */
static uint32_t cpuid_probed[P_NREGS];
static int cpuid_probed_done;

unsigned cpuid_model_ext(void)
{
    return cpuid_ext_override >= 0 ? (unsigned)cpuid_ext_override : cpuid_model_ext_bits;
}

const char *cpuid_model_name(void)
{
    return cpuid_model_cur;
}

static const char *const cpuid_ext_names[] = {"AES-NI", "PCLMULQDQ", "SHA", "AVX",
                                              "AVX2",   "FMA",       "F16C"};

/* "AVX2, FMA": the names of the HOST_* bits in `bits` */
static void cpuid_ext_list(unsigned bits, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned k = 0; k < sizeof cpuid_ext_names / sizeof cpuid_ext_names[0]; k++)
        if ((bits & (1u << k)) && n < len)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", cpuid_ext_names[k]);
}

static void cpuid_model_set(const char *name, unsigned ext)
{
    cpuid_model_cur = name;
    cpuid_model_ext_bits = ext;
    __atomic_store_n(&cpuid_probed_done, 0, __ATOMIC_RELEASE);
}

static const struct cpuid_model_def *cpuid_model_find(const char *name)
{
    for (unsigned k = 0; k < sizeof cpuid_models / sizeof cpuid_models[0]; k++)
        if (!strcmp(cpuid_models[k].name, name)) return &cpuid_models[k];
    return NULL;
}

int cpuid_model_select(const char *name, char *err, size_t errlen)
{
    if (!name || !*name) name = CPUID_MODEL_DEFAULT;
    const struct cpuid_model_def *m = cpuid_model_find(name);
    if (!m) {
        snprintf(err, errlen, "unknown CPU model '%s' (x86-64-v2, x86-64-v3 or host)", name);
        return -1;
    }
    const unsigned have = host_ext();
    char list[96];
    if (!strcmp(m->name, "host")) {
        cpuid_model_set(m->name, have);
        cpuid_ext_list(~have & ((1u << 7) - 1), list, sizeof list);
        if (*list)
            log_info("cpu: model host: this host CPU lacks %s, so the guest's CPU does not "
                     "offer them (their instructions run on the host's own units)",
                     list);
        return 0;
    }
    if (m->ext & ~have) {
        cpuid_ext_list(m->ext & ~have, list, sizeof list);
        snprintf(err, errlen,
                 "CPU model %s: this host CPU lacks %s, which the model needs (vessel runs those "
                 "instructions on the host's own units); use --cpu x86-64-v2 (the default) or "
                 "--cpu host",
                 m->name, list);
        return -1;
    }
    cpuid_model_set(m->name, m->ext);
    return 0;
}

static const uint32_t *cpuid_features(void);

/* The feature words a model with extensions `ext` would report (this thread only). */
static void cpuid_words_for(unsigned ext, uint32_t w[P_NREGS])
{
    cpuid_ext_override = (int)ext;
    cpuid_probe_words(w);
    cpuid_ext_override = -1;
}

/* The snapshot record of the model: its name, its extensions and the feature words the guest
 * saw. */
void cpuid_model_record(struct cpuid_model_rec *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", cpuid_model_cur);
    r->ext = cpuid_model_ext_bits;
    memcpy(r->words, cpuid_features(), sizeof r->words);
}

const char *cpuid_model_check(const struct cpuid_model_rec *r, char *buf, size_t len)
{
    if (!cpuid_model_find(r->name)) {
        snprintf(buf, len, "the snapshot's CPU model '%.*s' is not one this vessel knows",
                 (int)sizeof r->name, r->name);
        return buf;
    }
    if (r->ext & ~((1u << 7) - 1)) {
        snprintf(buf, len, "unknown extension bits 0x%x", r->ext);
        return buf;
    }
    const unsigned missing = r->ext & ~host_ext();
    if (missing) {
        char list[96];
        cpuid_ext_list(missing, list, sizeof list);
        snprintf(buf, len,
                 "the snapshot's CPU model %s offers %s, which this host CPU lacks: it cannot "
                 "be restored here",
                 r->name, list);
        return buf;
    }
    uint32_t w[P_NREGS];
    cpuid_words_for(r->ext, w);
    static const char *const regs[P_NREGS] = {"1.ECX", "7.EBX",        "7.ECX",
                                              "7.EDX", "80000001.ECX", "0xD/1.EAX"};
    for (unsigned k = 0; k < P_NREGS; k++)
        if (r->words[k] & ~w[k]) {
            snprintf(buf, len,
                     "the snapshot's CPU model %s offers CPUID %s bits 0x%x, which this "
                     "vessel's engine does not implement",
                     r->name, regs[k], r->words[k] & ~w[k]);
            return buf;
        }
    return NULL;
}

void cpuid_model_adopt(const struct cpuid_model_rec *r)
{
    const struct cpuid_model_def *m = cpuid_model_find(r->name);
    if (m) cpuid_model_set(m->name, r->ext);
}

void cpuid_probe_words(uint32_t out[P_NREGS])
{
    uint32_t yes[P_NREGS] = {0}, no[P_NREGS] = {0};
    for (unsigned k = 0; k < sizeof(cpuid_probes) / sizeof(cpuid_probes[0]); k++) {
        const struct cpuid_probe *p = &cpuid_probes[k];
        if (cpuid_insn_ok(p))
            yes[p->where] |= 1u << p->bit;
        else
            no[p->where] |= 1u << p->bit;
    }
    for (unsigned k = 0; k < sizeof(cpuid_raw_probes) / sizeof(cpuid_raw_probes[0]); k++) {
        const struct cpuid_raw_probe *p = &cpuid_raw_probes[k];
        struct insn in;
        memset(&in, 0, sizeof(in));
        bool ok = decode_insn(&in, p->b, p->len, MODE_LONG64) == p->len && exec_lookup(&in);
        if (ok)
            yes[p->where] |= 1u << p->bit;
        else
            no[p->where] |= 1u << p->bit;
    }
    for (unsigned k = 0; k < sizeof(cpuid_vex_probes) / sizeof(cpuid_vex_probes[0]); k++) {
        const struct cpuid_vex_probe *p = &cpuid_vex_probes[k];
        const uint8_t b[8] = {0xc4,
                              (uint8_t)(0xe0 | p->map),
                              (uint8_t)(p->w << 7 | 0x78 | p->l << 2 | p->pp),
                              p->op,
                              p->modrm,
                              0,
                              0,
                              0};
        struct insn in;
        memset(&in, 0, sizeof(in));
        bool ok = decode_insn(&in, b, sizeof b, MODE_LONG64) > 0 && exec_lookup(&in);
        if (ok)
            yes[p->where] |= 1u << p->bit;
        else
            no[p->where] |= 1u << p->bit;
    }
    for (unsigned r = 0; r < P_NREGS; r++)
        out[r] = yes[r] & ~no[r];
}

static const uint32_t *cpuid_features(void)
{
    if (__atomic_load_n(&cpuid_probed_done, __ATOMIC_ACQUIRE)) return cpuid_probed;
    uint32_t w[P_NREGS];
    cpuid_probe_words(w);
    for (unsigned r = 0; r < P_NREGS; r++)
        __atomic_store_n(&cpuid_probed[r], w[r], __ATOMIC_RELAXED);
    __atomic_store_n(&cpuid_probed_done, 1, __ATOMIC_RELEASE);
    return cpuid_probed;
}

#define CPUID_MAX_BASIC 0x16u
#define CPUID_MAX_EXT   0x80000008u
#define CPUID_KVM_BASE  0x40000000u
#define CPUID_FAMILY    6u
#define CPUID_MODEL     0x2Fu /* plain number: >= 15 so Linux keeps PAT and constant TSC */
#define CPUID_STEPPING  1u

/* Leaf 1 EDX: fpu de pse tsc msr pae cx8 apic sep mtrr pge cmov pat pse36 clflush mmx fxsr
 * sse sse2. */
#define CPUID_1_EDX                                                                                \
    ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |           \
     (1u << 9) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) |     \
     (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
#define CPUID_1_ECX_XSAVE   (1u << 26)
#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define CPUID_1_ECX_AVX     (1u << 28)
/* Leaf 1 ECX fixed part: tsc-deadline (the LAPIC implements it) and hypervisor. */
#define CPUID_1_ECX ((1u << 24) | (1u << 31))
/* 0x80000001 EDX: syscall, nx, pdpe1gb, rdtscp, lm. */
#define CPUID_X1_EDX ((1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29))

#define KVM_FEATURE_CLOCKSOURCE2           3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24

static void cpuid_str(struct cpuid_regs *r, const char s[16])
{
    memcpy(&r->eax, s, 4);
    memcpy(&r->ebx, s + 4, 4);
    memcpy(&r->ecx, s + 8, 4);
    memcpy(&r->edx, s + 12, 4);
}

/* Leaf 4: L1d 32K 8-way, L1i 32K 8-way, L2 1M 16-way, all 64-byte lines, one core. */
static void cpuid_cache_leaf(uint32_t sub, struct cpuid_regs *r)
{
    static const struct {
        uint8_t type, level, ways;
        uint32_t sets;
    } caches[] = {{1, 1, 8, 64}, {2, 1, 8, 64}, {3, 2, 16, 1024}};
    if (sub >= sizeof(caches) / sizeof(caches[0])) return;
    r->eax = caches[sub].type | (caches[sub].level << 5) | (1u << 8); /* self-initialising */
    r->ebx = (63u) | (0u << 12) | ((uint32_t)(caches[sub].ways - 1) << 22);
    r->ecx = caches[sub].sets - 1;
    r->edx = 0;
}

uint64_t cpuid_xcr0_supported(void)
{
    const uint32_t *f = cpuid_features();
    if (!(f[P_1ECX] & CPUID_1_ECX_XSAVE)) return XCR0_X87;
    return XCR0_X87 | XCR0_SSE | ((f[P_1ECX] & CPUID_1_ECX_AVX) ? XCR0_AVX : 0);
}

/* Size of the standard-format XSAVE area for the components in `xcr0` (the legacy region and
 * header, 576 bytes, then AVX at 576..831); the compacted format has the same size while AVX
 * is the only extended component. */
static uint32_t cpuid_xsave_size(uint64_t xcr0)
{
    return 576u + ((xcr0 & XCR0_AVX) ? 256u : 0u);
}

/* Leaf 0xD: the XSAVE feature set (ops/sse/sse_xsave.c). */
static void cpuid_xsave_leaf(const struct cpu *c, uint32_t sub, struct cpuid_regs *r)
{
    const uint64_t sup = cpuid_xcr0_supported();
    if (!(sup & XCR0_SSE)) return; /* no XSAVE */
    switch (sub) {
    case 0:
        r->eax = (uint32_t)sup;
        r->ebx = cpuid_xsave_size(c->xcr0);
        r->ecx = cpuid_xsave_size(sup);
        r->edx = (uint32_t)(sup >> 32);
        break;
    case 1:
        r->eax = cpuid_features()[P_D1EAX];
        r->ebx = cpuid_xsave_size(c->xcr0); /* XCR0 | IA32_XSS, compacted; no XSS bits */
        break;
    case 2:
        if (sup & XCR0_AVX) {
            r->eax = 256;
            r->ebx = 576;
        }
        break;
    default: break;
    }
}

void cpuid_query(const struct cpu *c, uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    const uint32_t *f = cpuid_features();
    uint64_t tsc_hz = c->tsc_hz ? c->tsc_hz : 2000000000ull;
    *r = (struct cpuid_regs){0};
    switch (leaf) {
    case 0:
        r->eax = CPUID_MAX_BASIC;
        memcpy(&r->ebx, "Genu", 4);
        memcpy(&r->edx, "ineI", 4);
        memcpy(&r->ecx, "ntel", 4);
        break;
    case 1:
        r->eax = CPUID_STEPPING | ((CPUID_MODEL & 0xf) << 4) | (CPUID_FAMILY << 8) |
                 ((CPUID_MODEL >> 4) << 16);
        r->ebx = (8u << 8) | (1u << 16) | ((uint32_t)(c->id & 0xff) << 24);
        r->ecx = CPUID_1_ECX | f[P_1ECX];
        r->ecx |= 1u << 17; /* PCID (sys_cr.c) */
        if ((r->ecx & CPUID_1_ECX_XSAVE) && (c->cr4 & CR4_OSXSAVE)) r->ecx |= CPUID_1_ECX_OSXSAVE;
        r->edx = CPUID_1_EDX;
        break;
    case 2: r->eax = 0xff01; break; /* one round; descriptor 0xFF: "see leaf 4" */
    case 4: cpuid_cache_leaf(sub, r); break;
    case 6: r->eax = 1u << 2; break; /* ARAT: the APIC timer never stops */
    case 7:
        if (sub == 0) {
            r->ebx = f[P_7EBX];
            r->ecx = f[P_7ECX];
            r->edx = f[P_7EDX] | 1u << 29; /* IA32_ARCH_CAPABILITIES (msr.h) */
            /* privilege features of the engine itself (tests/guest/smep.S) */
            r->ebx |= 1u << 7 | 1u << 20;             /* SMEP, SMAP (mmu.c) */
            r->ecx |= 1u << 2;                        /* UMIP */
            r->ebx |= 1u << 10 | 1u << 23 | 1u << 24; /* INVPCID, CLFLUSHOPT, CLWB */
        }
        break;
    case 0xD: cpuid_xsave_leaf(c, sub, r); break;
    case 0xB:
        /* One thread in one core: level 0 = SMT, level 1 = core, both with one CPU. */
        if (sub < 2) {
            r->eax = 0;
            r->ebx = 1;
            r->ecx = sub | ((sub + 1) << 8);
        } else {
            r->ecx = sub;
        }
        r->edx = c->id;
        break;
    case 0x15:
        /* TSC = crystal * EBX / EAX; report the TSC itself as the crystal. */
        r->eax = 1;
        r->ebx = 1;
        while (tsc_hz > 0xffffffffull) {
            tsc_hz /= 2;
            r->ebx *= 2;
        }
        r->ecx = (uint32_t)tsc_hz;
        break;
    case 0x16:
        r->eax = r->ebx = (uint32_t)((c->tsc_hz ? c->tsc_hz : tsc_hz) / 1000000);
        r->ecx = 100;
        break;
    case CPUID_KVM_BASE:
        r->eax = CPUID_KVM_BASE + 1;
        memcpy(&r->ebx, "KVMK", 4);
        memcpy(&r->ecx, "VMKV", 4);
        memcpy(&r->edx, "M\0\0\0", 4);
        break;
    case CPUID_KVM_BASE + 1:
        r->eax = (1u << KVM_FEATURE_CLOCKSOURCE2) | (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
        break;
    case 0x80000000: r->eax = CPUID_MAX_EXT; break;
    case 0x80000001:
        r->ecx = f[P_X1ECX];
        r->edx = CPUID_X1_EDX;
        break;
    case 0x80000002: cpuid_str(r, "vessel virtual C"); break;
    case 0x80000003: cpuid_str(r, "PU\0\0\0\0\0\0\0\0\0\0\0\0\0\0"); break;
    case 0x80000004: break;
    case 0x80000006: r->ecx = (1024u << 16) | (6u << 12) | 64u; break; /* 1M, 16-way */
    case 0x80000007:
        r->edx = 1u << 8; /* invariant TSC */
        break;
    case 0x80000008: r->eax = CPUID_PHYS_ADDR_BITS | (CPUID_LINEAR_ADDR_BITS << 8); break;
    default: break;
    }
}
