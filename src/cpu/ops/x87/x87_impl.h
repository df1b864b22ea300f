/* x87_impl.h — shared by the x87 files: the register stack over struct fpu (TOP in FSW 13:11,
 * 2-bit tags with 11 = empty, 80-bit values in the low 10 bytes of each long double slot,
 * always moved as bytes), stack-fault and exception bookkeeping, and the host-execution frame
 * (the host FPU runs each operation under the guest's precision and rounding control with
 * every exception masked; the guest's masks are applied afterwards).
 */
#pragma once
#include <string.h>

#include "cpu/ops/ops.h"

#define FSW_IE 0x0001u
#define FSW_DE 0x0002u
#define FSW_ZE 0x0004u
#define FSW_SF 0x0040u
#define FSW_ES 0x0080u
#define FSW_C0 0x0100u
#define FSW_C1 0x0200u
#define FSW_C2 0x0400u
#define FSW_C3 0x4000u
#define FSW_B  0x8000u
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)

typedef struct {
    uint8_t b[10];
} f80;

extern const f80 x87_indefinite;

static inline unsigned x87_top(const struct cpu *c)
{
    return (c->fpu.fsw >> 11) & 7;
}
static inline unsigned x87_phys(const struct cpu *c, unsigned i)
{
    return (x87_top(c) + i) & 7;
}
static inline bool x87_empty(const struct cpu *c, unsigned i)
{
    return ((c->fpu.ftw >> (2 * x87_phys(c, i))) & 3) == 3;
}
static inline void x87_get(const struct cpu *c, unsigned i, f80 *v)
{
    memcpy(v, &c->fpu.st[x87_phys(c, i)], 10);
}
static inline void x87_put(struct cpu *c, unsigned i, const f80 *v)
{
    unsigned p = x87_phys(c, i);
    memcpy(&c->fpu.st[p], v, 10);
    c->fpu.ftw &= ~(3u << (2 * p));
}
static inline void x87_set_top(struct cpu *c, unsigned t)
{
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~0x3800u) | ((t & 7) << 11));
}
static inline void x87_push(struct cpu *c, const f80 *v)
{
    x87_set_top(c, x87_top(c) - 1);
    x87_put(c, 0, v);
}
static inline void x87_pop(struct cpu *c)
{
    c->fpu.ftw |= 3u << (2 * x87_top(c));
    x87_set_top(c, x87_top(c) + 1);
}
/* Condition codes: replace the bits in `mask` with those of `sw`. */
static inline void x87_cc(struct cpu *c, uint16_t sw, uint16_t mask)
{
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~mask) | (sw & mask));
}
/* The control word the host runs under: the guest's own (see x87_ops.c). */
static inline uint16_t x87_host_cw(const struct cpu *c)
{
    return c->fpu.fcw;
}

/* x87.c */
/* Waiting instructions: #NM (CR0.EM or TS), then a pending unmasked exception (#MF). */
void x87_enter(struct cpu *c, const struct insn *i);
/* Non-waiting (FN*) instructions: #NM only. */
void x87_enter_nowait(struct cpu *c);
/* Record FOP/FIP/FDP for a non-control instruction. */
void x87_note(struct cpu *c, const struct insn *i, uint64_t ea);
/* Accumulate raised exception flags (sw bits 0..6); sets ES/B for unmasked ones. Returns
 * false if the result must not be stored (unmasked invalid, denormal or divide-by-zero). */
bool x87_raise(struct cpu *c, uint16_t sw);
/* Stack underflow / overflow: IE|SF, C1 = 0 / 1. True if masked (store the indefinite). */
bool x87_stack_fault(struct cpu *c, bool overflow);
/* Recompute ES/B from the flags and the masks (after fldcw, fldenv, frstor, fnclex). */
void x87_update_es(struct cpu *c);

typedef struct x87_form {
    uint16_t op; /* 0xD8..0xDF (map 0), or 0x9B */
    uint8_t reg; /* ModRM.reg, or 0xff */
    uint8_t rm;  /* for mod = 3: ModRM.rm, or 0xff for all eight */
    uint8_t mem; /* 1: memory form, 0: register form */
    insn_fn fn;
} x87_form;

extern const x87_form x87_ops_forms[];
extern const unsigned x87_ops_forms_count;
extern const x87_form x87_ctl_forms[];
extern const unsigned x87_ctl_forms_count;
