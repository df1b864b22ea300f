/* avx.h — what the AVX family files share: the availability check (CR4.OSXSAVE, XCR0 with SSE
 * and AVX state, CR0.TS), YMM register access (the low halves are struct cpu's xmm[], the high
 * halves ymm_hi[]), vector memory operands, and the form table each file exports to
 * avx_lookup(). VEX.128 results zero bits 255:128 of the destination; VEX.256 write all 256.
 * The MXCSR helpers and the RCP/RSQRT rule are the SSE family's (sse_common.h), shared so the
 * two encodings of an instruction cannot drift apart.
 */
#pragma once
#include <string.h>

#include "cpu/ops/host.h"
#include "cpu/ops/ops.h"
#include "cpu/ops/sse/sse_common.h"

union ymm {
    uint8_t b[32];
    uint16_t w[16];
    uint32_t d[8];
    uint64_t q[4];
    union xmm x[2];
};

/* Which host extension (and so which CPUID feature) an instruction belongs to. AF_AVXI: an
 * integer instruction that AVX has in its 128-bit form and AVX2 extends to 256 bits. */
/* AF_BCAST: vbroadcastss/sd, AVX with a memory source and AVX2 with a register. */
enum { AF_AVX, AF_AVXI, AF_AVX2, AF_FMA, AF_F16C, AF_AES, AF_PCLMUL, AF_BCAST };
/* VEX.W requirement of a form */
enum { AW_ANY, AW_0, AW_1 };
#define AVX_ANY_DIGIT 0xff

struct avx_form {
    uint16_t op;   /* 0x5xx / 0x6xx / 0x7xx: VEX map 0F / 0F38 / 0F3A */
    uint8_t mp;    /* VEX.pp */
    uint8_t w;     /* AW_* */
    uint8_t feat;  /* AF_* */
    uint8_t digit; /* ModRM.reg for group opcodes, or AVX_ANY_DIGIT */
    insn_fn fn;
};

#define AVX_FORMS(name)                                                                            \
    extern const struct avx_form name[];                                                           \
    extern const unsigned name##_count
AVX_FORMS(avx_ops_forms);
AVX_FORMS(avx_move_forms);

/* #UD without CR4.OSXSAVE or with XCR0 lacking SSE or AVX state, #NM with CR0.TS */
static inline void avx_avail(struct cpu *c)
{
    if (__builtin_expect(!(c->cr4 & CR4_OSXSAVE) ||
                             (c->xcr0 & (XCR0_SSE | XCR0_AVX)) != (XCR0_SSE | XCR0_AVX),
                         0))
        cpu_fault(c, EXC_UD);
    if (__builtin_expect(c->cr0 & CR0_TS, 0)) cpu_fault(c, EXC_NM);
}

static inline bool avx_l(const struct insn *i)
{
    return (i->flags & INSN_VEXL) != 0;
}

static inline void avx_get(const struct cpu *c, unsigned n, union ymm *v)
{
    v->x[0] = c->xmm[n];
    v->x[1] = c->ymm_hi[n];
}

/* Write all 256 bits (a 128-bit result must already have its upper half zero). */
static inline void avx_set(struct cpu *c, unsigned n, const union ymm *v)
{
    c->xmm[n] = v->x[0];
    c->ymm_hi[n] = v->x[1];
}

/* Write a 128-bit result: bits 255:128 become zero. */
static inline void avx_set128(struct cpu *c, unsigned n, const union xmm *v)
{
    c->xmm[n] = *v;
    memset(&c->ymm_hi[n], 0, sizeof c->ymm_hi[n]);
}

/* The r/m operand: a whole register, or n bytes of memory zero-extended; `align` (16 or 32)
 * makes a misaligned linear address #GP(0), checked before the access. */
static inline void avx_src(struct cpu *c, const struct insn *i, union ymm *v, unsigned n,
                           unsigned align)
{
    if (!(i->flags & INSN_MEM)) {
        avx_get(c, i->rm, v);
        return;
    }
    uint64_t ea = insn_ea(c, i);
    if (align && (sse_lin(c, i, ea) & (align - 1))) cpu_fault_err(c, EXC_GP, 0);
    memset(v, 0, sizeof *v);
    mem_read(c, i->seg, ea, v, n);
}

/* Store n bytes to the memory operand (alignment as avx_src). */
static inline void avx_store(struct cpu *c, const struct insn *i, const void *v, unsigned n,
                             unsigned align)
{
    uint64_t ea = insn_ea(c, i);
    if (align && (sse_lin(c, i, ea) & (align - 1))) cpu_fault_err(c, EXC_GP, 0);
    mem_write(c, i->seg, ea, v, n);
}
