/* x87.c — the x87 unit's bookkeeping and the instructions that only move state around:
 * x87_lookup() over the D8..DF space (and FWAIT), the #NM / pending-#MF rules, exception
 * accumulation, and control (fninit, fnclex, fldcw/fnstcw, fnstsw, fnstenv/fldenv,
 * fnsave/frstor), stack manipulation (fld/fst/fstp ST(i), fxch, ffree, fincstp/fdecstp) and
 * fcmovcc. Arithmetic that needs the host FPU lives in x87_ops.c.
 */
#include "cpu/ops/x87/x87_impl.h"

const f80 x87_indefinite = {{0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff}};

void x87_enter_nowait(struct cpu *c)
{
    if (c->cr0 & (CR0_EM | CR0_TS)) cpu_fault(c, EXC_NM);
}

void x87_enter(struct cpu *c, const struct insn *i)
{
    (void)i;
    x87_enter_nowait(c);
    if ((c->fpu.fsw & FSW_ES) && (c->cr0 & CR0_NE)) cpu_fault(c, EXC_MF);
}

void x87_note(struct cpu *c, const struct insn *i, uint64_t ea)
{
    /* FOP is left alone: current processors update it only on unmasked exceptions */
    c->fpu.fip = c->rip;
    if (i->flags & INSN_MEM) c->fpu.fdp = ea;
}

void x87_update_es(struct cpu *c)
{
    if (c->fpu.fsw & ~c->fpu.fcw & 0x3f)
        c->fpu.fsw |= FSW_ES | FSW_B;
    else
        c->fpu.fsw &= ~(FSW_ES | FSW_B);
}

bool x87_raise(struct cpu *c, uint16_t sw)
{
    uint16_t raised = sw & 0x7f;
    c->fpu.fsw |= raised;
    uint16_t unmasked = raised & ~c->fpu.fcw & 0x3f;
    if (unmasked) c->fpu.fsw |= FSW_ES | FSW_B;
    if (unmasked & (FSW_IE | FSW_DE | FSW_ZE)) {
        c->fpu.fsw &= ~FSW_C1;
        return false;
    }
    return true;
}

bool x87_stack_fault(struct cpu *c, bool overflow)
{
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~FSW_C1) | FSW_IE | FSW_SF | (overflow ? FSW_C1 : 0));
    if (c->fpu.fcw & FSW_IE) return true;
    c->fpu.fsw |= FSW_ES | FSW_B;
    return false;
}

/* ---- control ---- */

static void h_fninit(struct cpu *c, const struct insn *i)
{
    x87_enter_nowait(c);
    c->fpu.fcw = 0x037f;
    c->fpu.fsw = 0;
    c->fpu.ftw = 0xffff;
    c->fpu.fop = 0;
    c->fpu.fip = c->fpu.fdp = 0;
}

static void h_fnclex(struct cpu *c, const struct insn *i)
{
    x87_enter_nowait(c);
    c->fpu.fsw &= ~(0xff | FSW_B);
}

static void h_fldcw(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    c->fpu.fcw = (uint16_t)(mem_read_n(c, i->seg, insn_ea(c, i), 2) & 0x1f3f) | 0x40;
    x87_update_es(c);
}

static void h_fnstcw(struct cpu *c, const struct insn *i)
{
    x87_enter_nowait(c);
    mem_write_n(c, i->seg, insn_ea(c, i), c->fpu.fcw, 2);
}

static void h_fnstsw_m(struct cpu *c, const struct insn *i)
{
    x87_enter_nowait(c);
    mem_write_n(c, i->seg, insn_ea(c, i), c->fpu.fsw, 2);
}

static void h_fnstsw_ax(struct cpu *c, const struct insn *i)
{
    x87_enter_nowait(c);
    c->gpr[R_RAX] = (c->gpr[R_RAX] & ~0xffffull) | c->fpu.fsw;
}

static void h_fwait(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
}

static void h_fnop(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
}

/* Full tag word as fnstenv reports it: valid 00, zero 01, special 10, empty 11. */
static uint16_t full_tags(const struct cpu *c)
{
    uint16_t t = 0;
    for (unsigned p = 0; p < 8; p++) {
        unsigned tag;
        if (((c->fpu.ftw >> (2 * p)) & 3) == 3) {
            tag = 3;
        } else {
            const uint8_t *b = (const uint8_t *)&c->fpu.st[p];
            uint64_t m;
            uint16_t e;
            memcpy(&m, b, 8);
            memcpy(&e, b + 8, 2);
            e &= 0x7fff;
            if (e == 0x7fff)
                tag = 2;
            else if (e == 0)
                tag = m ? 2 : 1;
            else
                tag = (m >> 63) ? 0 : 2;
        }
        t |= (uint16_t)(tag << (2 * p));
    }
    return t;
}

/* Environment image: 28 bytes (32-bit operand size) or 14 bytes (16-bit). */
static unsigned env_store(const struct cpu *c, const struct insn *i, uint8_t *env)
{
    uint16_t tags = full_tags(c);
    if (i->opsize == 2) {
        uint16_t w[7] = {c->fpu.fcw, c->fpu.fsw,           tags, (uint16_t)c->fpu.fip,
                         0,          (uint16_t)c->fpu.fdp, 0};
        memcpy(env, w, 14);
        return 14;
    }
    uint32_t d[7] = {0xffff0000u | c->fpu.fcw,
                     0xffff0000u | c->fpu.fsw,
                     0xffff0000u | tags,
                     (uint32_t)c->fpu.fip,
                     (uint32_t)c->fpu.fop << 16,
                     (uint32_t)c->fpu.fdp,
                     0xffff0000u};
    memcpy(env, d, 28);
    return 28;
}

static unsigned env_load(struct cpu *c, const struct insn *i, const uint8_t *env)
{
    uint16_t cw, sw, tw;
    unsigned n;
    if (i->opsize == 2) {
        memcpy(&cw, env, 2), memcpy(&sw, env + 2, 2), memcpy(&tw, env + 4, 2);
        n = 14;
    } else {
        memcpy(&cw, env, 2), memcpy(&sw, env + 4, 2), memcpy(&tw, env + 8, 2);
        uint32_t fip, fdp, fop;
        memcpy(&fip, env + 12, 4), memcpy(&fop, env + 16, 4), memcpy(&fdp, env + 20, 4);
        c->fpu.fip = fip, c->fpu.fdp = fdp, c->fpu.fop = (uint16_t)((fop >> 16) & 0x7ff);
        n = 28;
    }
    c->fpu.fcw = (cw & 0x1f3f) | 0x40;
    c->fpu.fsw = sw;
    c->fpu.ftw = 0;
    for (unsigned p = 0; p < 8; p++)
        if (((tw >> (2 * p)) & 3) == 3) c->fpu.ftw |= 3u << (2 * p);
    x87_update_es(c);
    return n;
}

static void h_fnstenv(struct cpu *c, const struct insn *i)
{
    x87_enter_nowait(c);
    uint8_t env[28];
    unsigned n = env_store(c, i, env);
    mem_write(c, i->seg, insn_ea(c, i), env, n);
    c->fpu.fcw |= 0x3f; /* fnstenv masks every exception (so nothing stays pending) */
    x87_update_es(c);
}

static void h_fldenv(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    uint8_t env[28];
    mem_read(c, i->seg, insn_ea(c, i), env, i->opsize == 2 ? 14 : 28);
    env_load(c, i, env);
}

static void h_fnsave(struct cpu *c, const struct insn *i)
{
    x87_enter_nowait(c);
    uint8_t img[108];
    unsigned n = env_store(c, i, img);
    for (unsigned k = 0; k < 8; k++)
        memcpy(img + n + 10 * k, &c->fpu.st[x87_phys(c, k)], 10);
    mem_write(c, i->seg, insn_ea(c, i), img, n + 80);
    h_fninit(c, i);
}

static void h_frstor(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    uint8_t img[108];
    unsigned n = i->opsize == 2 ? 14 : 28;
    mem_read(c, i->seg, insn_ea(c, i), img, n + 80);
    env_load(c, i, img);
    for (unsigned k = 0; k < 8; k++)
        memcpy(&c->fpu.st[x87_phys(c, k)], img + n + 10 * k, 10);
}

/* ---- stack ---- */

static unsigned sti(const struct insn *i)
{
    return i->modrm & 7;
}

/* D9 C0+i: fld ST(i) (no conversion, so no invalid for SNaNs) */
static void h_fld_st(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    f80 v;
    if (x87_empty(c, sti(i))) {
        if (!x87_stack_fault(c, false)) return;
        v = x87_indefinite;
    } else if (!x87_empty(c, 7)) {
        if (!x87_stack_fault(c, true)) return;
        v = x87_indefinite;
    } else {
        x87_get(c, sti(i), &v);
        c->fpu.fsw &= ~FSW_C1;
    }
    x87_push(c, &v);
}

/* DD D0+i / DD D8+i: fst / fstp ST(i) */
static void fst_st(struct cpu *c, const struct insn *i, bool pop)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    f80 v;
    if (x87_empty(c, 0)) {
        if (!x87_stack_fault(c, false)) return;
        v = x87_indefinite;
    } else {
        x87_get(c, 0, &v);
        c->fpu.fsw &= ~FSW_C1;
    }
    x87_put(c, sti(i), &v);
    if (pop) x87_pop(c);
}

static void h_fst_st(struct cpu *c, const struct insn *i)
{
    fst_st(c, i, false);
}
static void h_fstp_st(struct cpu *c, const struct insn *i)
{
    fst_st(c, i, true);
}

/* D9 C8+i: fxch; an empty register reads as the indefinite (masked underflow) */
static void h_fxch(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    f80 a, b;
    if (x87_empty(c, 0) || x87_empty(c, sti(i))) {
        if (!x87_stack_fault(c, false)) return;
        a = b = x87_indefinite;
        if (!x87_empty(c, 0)) x87_get(c, 0, &a);
        if (!x87_empty(c, sti(i))) x87_get(c, sti(i), &b);
    } else {
        x87_get(c, 0, &a);
        x87_get(c, sti(i), &b);
        c->fpu.fsw &= ~FSW_C1;
    }
    x87_put(c, 0, &b);
    x87_put(c, sti(i), &a);
}

/* DD C0+i ffree; DF C0+i ffreep */
static void h_ffree(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    c->fpu.ftw |= 3u << (2 * x87_phys(c, sti(i)));
    c->fpu.fsw &= ~FSW_C1;
}

static void h_ffreep(struct cpu *c, const struct insn *i)
{
    h_ffree(c, i);
    x87_pop(c);
}

static void h_fincstp(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    c->fpu.fsw &= ~FSW_C1;
    x87_set_top(c, x87_top(c) + 1);
}

static void h_fdecstp(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    c->fpu.fsw &= ~FSW_C1;
    x87_set_top(c, x87_top(c) - 1);
}

/* DA/DB C0..DF: fcmovcc ST(0), ST(i). Condition codes as Jcc: B E BE U, then negated. */
static void h_fcmov(struct cpu *c, const struct insn *i)
{
    static const uint8_t cc[4] = {2, 4, 6, 10};
    x87_enter(c, i);
    x87_note(c, i, 0);
    bool take = cond_test(c, cc[(i->modrm >> 3) & 3] | (i->op == 0xdb));
    if (x87_empty(c, 0) || x87_empty(c, sti(i))) {
        if (!x87_stack_fault(c, false)) return;
        x87_put(c, 0, &x87_indefinite); /* whatever the condition */
        return;
    }
    if (take) {
        f80 v;
        x87_get(c, sti(i), &v);
        x87_put(c, 0, &v);
    }
}

const x87_form x87_ctl_forms[] = {
    {0xdb, 4, 3, 0, h_fninit},      {0xdb, 4, 2, 0, h_fnclex},      {0xd9, 5, 0xff, 1, h_fldcw},
    {0xd9, 7, 0xff, 1, h_fnstcw},   {0xdd, 7, 0xff, 1, h_fnstsw_m}, {0xdf, 4, 0, 0, h_fnstsw_ax},
    {0x9b, 0xff, 0xff, 2, h_fwait}, {0xd9, 2, 0, 0, h_fnop},        {0xd9, 6, 0xff, 1, h_fnstenv},
    {0xd9, 4, 0xff, 1, h_fldenv},   {0xdd, 6, 0xff, 1, h_fnsave},   {0xdd, 4, 0xff, 1, h_frstor},
    {0xd9, 0, 0xff, 0, h_fld_st},   {0xdd, 2, 0xff, 0, h_fst_st},   {0xdd, 3, 0xff, 0, h_fstp_st},
    {0xd9, 1, 0xff, 0, h_fxch},     {0xdd, 0, 0xff, 0, h_ffree},    {0xdf, 0, 0xff, 0, h_ffreep},
    {0xd9, 6, 7, 0, h_fincstp},     {0xd9, 6, 6, 0, h_fdecstp},     {0xda, 0, 0xff, 0, h_fcmov},
    {0xda, 1, 0xff, 0, h_fcmov},    {0xda, 2, 0xff, 0, h_fcmov},    {0xda, 3, 0xff, 0, h_fcmov},
    {0xdb, 0, 0xff, 0, h_fcmov},    {0xdb, 1, 0xff, 0, h_fcmov},    {0xdb, 2, 0xff, 0, h_fcmov},
    {0xdb, 3, 0xff, 0, h_fcmov},
};
const unsigned x87_ctl_forms_count = sizeof x87_ctl_forms / sizeof x87_ctl_forms[0];

static bool x87_match(const x87_form *f, const struct insn *i)
{
    if (f->op != i->op) return false;
    if (f->mem == 2) return true;
    bool mem = (i->flags & INSN_MEM) != 0;
    if (mem != (f->mem == 1)) return false;
    if (f->reg != 0xff && f->reg != ((i->modrm >> 3) & 7)) return false;
    if (!mem && f->rm != 0xff && f->rm != (i->modrm & 7)) return false;
    return true;
}

insn_fn x87_lookup(const struct insn *i)
{
    if (!((i->op >= 0xd8 && i->op <= 0xdf) || i->op == 0x9b)) return NULL;
    for (unsigned k = 0; k < x87_ops_forms_count; k++)
        if (x87_match(&x87_ops_forms[k], i)) return x87_ops_forms[k].fn;
    for (unsigned k = 0; k < x87_ctl_forms_count; k++)
        if (x87_match(&x87_ctl_forms[k], i)) return x87_ctl_forms[k].fn;
    return NULL;
}
