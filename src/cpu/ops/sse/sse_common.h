/* sse_common.h — what the SSE / MMX / x87 family files share: the availability checks
 * (CR0.EM/TS, CR4.OSFXSR, pending x87 errors), XMM and MMX register access, memory operands
 * of 32/64/128 bits with the 16-byte alignment rule, the MXCSR exception-commit rule, and the
 * form tables each file exports to sse_lookup(). Arithmetic runs on the host's own SSE unit
 * under the guest's MXCSR, which makes results and exception flags bit-exact: those helpers
 * live in ops/host.h. Owned by the sse family; not part of the engine contract.
 */
#pragma once
#include <string.h>

#include "cpu/ops/host.h"
#include "cpu/ops/ops.h"

/* ---- form tables ---- */
#define MP_ANY 0xff /* the form ignores 66/F3/F2 */
#define SF_ANY 0xff /* any ModRM.reg */
enum { SF_MOD_ANY, SF_MOD_MEM, SF_MOD_REG };

struct sse_form {
    uint16_t op; /* map << 8 | byte, as struct insn */
    uint8_t mp;  /* MP_* or MP_ANY */
    uint8_t reg; /* ModRM.reg digit (0..7) or SF_ANY */
    uint8_t mod; /* SF_MOD_* */
    insn_fn fn;
};

#define SSE_FORMS(name)                                                                            \
    extern const struct sse_form name[];                                                           \
    extern const unsigned name##_count
SSE_FORMS(sse_int_forms);
SSE_FORMS(sse_fp_forms);
SSE_FORMS(sse_move_forms);
SSE_FORMS(sse_shuf_forms);
SSE_FORMS(sse_cvt_forms);
SSE_FORMS(sse_fx_forms);
SSE_FORMS(sse_approx_forms);
SSE_FORMS(sse_xsave_forms);
SSE_FORMS(sse_sse4_forms);
/* AES-NI, PCLMULQDQ, SHA where the host has them, or NULL: sse_crypto.c */
insn_fn sse_crypto_lookup(const struct insn *i);
/* XGETBV / XSETBV (0F 01 D0 / D1), or NULL: sse_xsave.c */
insn_fn sse_xcr_lookup(const struct insn *i);
/* XINUSE: the state components not in their initial configuration (sse_xsave.c) */
uint64_t xsave_xinuse(const struct cpu *c);
/* vessel's RCP/RSQRT approximations of one float (bits in, bits out): sse_approx.c */
uint32_t sse_rcp_approx(uint32_t x);
uint32_t sse_rsqrt_approx(uint32_t x);

/* Match one form against a decoded instruction. */
static inline bool sse_form_match(const struct sse_form *f, const struct insn *i)
{
    if (f->op != i->op) return false;
    if (f->mp != MP_ANY && f->mp != i->mp) return false;
    if (f->reg != SF_ANY && f->reg != ((i->modrm >> 3) & 7)) return false;
    if (f->mod == SF_MOD_MEM && !(i->flags & INSN_MEM)) return false;
    if (f->mod == SF_MOD_REG && (i->flags & INSN_MEM)) return false;
    return true;
}

/* ---- availability (sse_common.c) ---- */
_Noreturn void sse_unavail(struct cpu *c);
_Noreturn void sse_mx_fault(struct cpu *c, uint32_t raised);
/* x87 error pending (FSW.ES) when a waiting instruction runs: #MF. */
void x87_check_pending(struct cpu *c);

/* SSE instructions: #UD if CR0.EM or !CR4.OSFXSR, #NM if CR0.TS. */
static inline void sse_avail(struct cpu *c)
{
    if (__builtin_expect((c->cr0 & (CR0_EM | CR0_TS)) || !(c->cr4 & CR4_OSFXSR), 0)) sse_unavail(c);
}

/* MMX instructions: #UD if CR0.EM, #NM if CR0.TS, #MF for a pending x87 error. */
static inline void mmx_check(struct cpu *c)
{
    if (c->cr0 & CR0_EM) cpu_fault(c, EXC_UD);
    if (c->cr0 & CR0_TS) cpu_fault(c, EXC_NM);
    x87_check_pending(c);
}

/* After an MMX instruction's operands are read: the x87 unit is in MMX mode (TOP = 0, every
 * register valid). */
static inline void mmx_mode(struct cpu *c)
{
    c->fpu.fsw &= ~0x3800;
    c->fpu.ftw = 0;
}

/* ---- MMX registers: the low 64 bits of physical x87 register n; writes set the exponent to
 * all ones. ---- */
static inline uint64_t mm_get(const struct cpu *c, unsigned n)
{
    uint64_t v;
    memcpy(&v, &c->fpu.st[n & 7], 8);
    return v;
}

static inline void mm_set(struct cpu *c, unsigned n, uint64_t v)
{
    uint8_t *p = (uint8_t *)&c->fpu.st[n & 7];
    memcpy(p, &v, 8);
    p[8] = 0xff;
    p[9] = 0xff;
}

/* ---- memory operands ---- */
/* Low bits of the linear address (for the alignment rule): FS/GS bases always count, the
 * others only outside 64-bit mode. */
static inline uint64_t sse_lin(const struct cpu *c, const struct insn *i, uint64_t ea)
{
    if (i->seg < 6 && (c->mode != MODE_LONG64 || i->seg == SEG_FS || i->seg == SEG_GS))
        ea += c->seg[i->seg].base;
    return ea;
}

static inline uint64_t sse_ea_aligned(struct cpu *c, const struct insn *i)
{
    uint64_t ea = insn_ea(c, i);
    if (sse_lin(c, i, ea) & 15) cpu_fault_err(c, EXC_GP, 0);
    return ea;
}

/* Source operand xmm/mem: a register is copied whole; memory reads `n` bytes (zero-extended);
 * 16-byte reads of aligned forms check alignment. */
static inline void sse_src(struct cpu *c, const struct insn *i, union xmm *out, unsigned n,
                           bool aligned)
{
    if (!(i->flags & INSN_MEM)) {
        *out = c->xmm[i->rm];
        return;
    }
    uint64_t ea = aligned ? sse_ea_aligned(c, i) : insn_ea(c, i);
    out->q[0] = out->q[1] = 0;
    mem_read(c, i->seg, ea, out, n);
}

/* Source operand mm/mem (n = 4 or 8 bytes). */
static inline uint64_t mmx_src(struct cpu *c, const struct insn *i, unsigned n)
{
    if (!(i->flags & INSN_MEM)) return mm_get(c, i->rm);
    uint64_t v = 0;
    mem_read(c, i->seg, insn_ea(c, i), &v, n);
    return v;
}

/* ---- MXCSR ---- */
#define MXCSR_FLAGS 0x3fu
#define MXCSR_MASKS 0x1f80u

/* The MXCSR the host runs a guest operation under: guest rounding/DAZ/FTZ, flags cleared,
 * every exception masked (the guest's masks are applied afterwards by sse_mx_commit). */
static inline uint32_t sse_mx_in(const struct cpu *c)
{
    return (c->mxcsr & ~MXCSR_FLAGS) | MXCSR_MASKS;
}

/* Accumulate the flags the operation raised; unmasked ones fault before anything commits. */
static inline void sse_mx_commit(struct cpu *c, uint32_t mx_out)
{
    uint32_t raised = mx_out & MXCSR_FLAGS;
    if (raised & ~(c->mxcsr >> 7)) sse_mx_fault(c, raised);
    c->mxcsr |= raised;
}

/* [V][U]COMISS/SD of the 16 bytes at dst and src on the host under the guest's MXCSR: ZF PF CF
 * from the compare, OF SF AF cleared. A macro because `mn` is part of the host instruction (and
 * SSE_HOST_COMI names its asm operands after its arguments: keep a and b). */
#define SSE_COMI(c, dst, src, mn)                                                                  \
    do {                                                                                           \
        sse_v2 a, b;                                                                               \
        uint32_t mx = sse_mx_in(c), host = 0;                                                      \
        uint64_t fl;                                                                               \
        memcpy(&a, (dst), 16);                                                                     \
        memcpy(&b, (src), 16);                                                                     \
        SSE_HOST_COMI(mn, a, b, mx, host, fl);                                                     \
        sse_mx_commit(c, mx);                                                                      \
        flags_write(c, (flags_read(c) & ~(uint64_t)F_ARITH) | (fl & (F_ZF | F_PF | F_CF)));        \
    } while (0)
