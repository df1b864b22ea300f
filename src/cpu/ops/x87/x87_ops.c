/* x87_ops.c — x87 instructions that compute: arithmetic (register, m32fp, m64fp, m16int,
 * m32int operands), compares (fcom/fucom/ficom families, fcomi/fucomi, ftst, fxam), loads and
 * stores in every format (with rounding, integer conversion and fisttp truncation), constants
 * and the transcendental / scaling / remainder group. Each runs on the host FPU under the
 * guest's control word (masks included: the flags are read and cleared with fnstsw/fnclex
 * right after the operation, before any waiting instruction could trap), so values, the
 * unmasked-exception responses (biased results), C1 and the flags are the hardware's; stack
 * faults are decided here. The host helpers themselves are instantiated from ops/host.h.
 */
#include "cpu/ops/host.h"
#include "cpu/ops/x87/x87_impl.h"

typedef uint16_t (*ar_reg_fn)(f80 *a, const f80 *b, uint16_t cw);
typedef uint16_t (*ar_mem_fn)(f80 *a, const void *m, uint16_t cw);

/* op, register form (ST0 op= ST1 on the host), m32fp, m64fp, m16int, m32int */
#define ARITH(X)                                                                                   \
    X(add, "fadd %%st(1), %%st", "fadds", "faddl", "fiadds", "fiaddl")                             \
    X(mul, "fmul %%st(1), %%st", "fmuls", "fmull", "fimuls", "fimull")                             \
    X(com, "fcom %%st(1)", "fcoms", "fcoml", "ficoms", "ficoml")                                   \
    X(sub, "fsub %%st(1), %%st", "fsubs", "fsubl", "fisubs", "fisubl")                             \
    X(subr, "fsubr %%st(1), %%st", "fsubrs", "fsubrl", "fisubrs", "fisubrl")                       \
    X(div, "fdiv %%st(1), %%st", "fdivs", "fdivl", "fidivs", "fidivl")                             \
    X(divr, "fdivr %%st(1), %%st", "fdivrs", "fdivrl", "fidivrs", "fidivrl")

#define GEN_AR(op, r, s, l, is, il)                                                                \
    X87_HOST_AR_REG(r_##op, r)                                                                     \
    X87_HOST_AR_MEM(s_##op, s, float)                                                              \
    X87_HOST_AR_MEM(l_##op, l, double)                                                             \
    X87_HOST_AR_MEM(is_##op, is, int16_t)                                                          \
    X87_HOST_AR_MEM(il_##op, il, int32_t)
ARITH(GEN_AR)
X87_HOST_AR_REG(r_ucom, "fucom %%st(1)")

/* indexed by ModRM.reg */
static const ar_reg_fn reg_ops[8] = {r_add, r_mul, r_com, r_com, r_sub, r_subr, r_div, r_divr};
static const ar_mem_fn mem_ops[4][8] = {
    {s_add, s_mul, s_com, s_com, s_sub, s_subr, s_div, s_divr},
    {l_add, l_mul, l_com, l_com, l_sub, l_subr, l_div, l_divr},
    {il_add, il_mul, il_com, il_com, il_sub, il_subr, il_div, il_divr},
    {is_add, is_mul, is_com, is_com, is_sub, is_subr, is_div, is_divr},
};
static const uint8_t mem_size[4] = {4, 8, 4, 2};

#define CMP_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)

/* ---- arithmetic and compares with a memory operand: D8 m32fp, DC m64fp, DA m32int,
 * DE m16int ---- */
static void mem_arith(struct cpu *c, const struct insn *i, unsigned src)
{
    x87_enter(c, i);
    uint64_t ea = insn_ea(c, i);
    uint64_t buf = 0;
    mem_read(c, i->seg, ea, &buf, mem_size[src]);
    x87_note(c, i, ea);
    unsigned r = (i->modrm >> 3) & 7;
    bool cmp = r == 2 || r == 3;
    if (x87_empty(c, 0)) {
        bool masked = x87_stack_fault(c, false);
        if (cmp) c->fpu.fsw |= FSW_C0 | FSW_C2 | FSW_C3;
        if (!masked) return;
        if (cmp) {
            c->fpu.fsw |= FSW_C0 | FSW_C2 | FSW_C3;
            if (r == 3) x87_pop(c);
        } else {
            x87_put(c, 0, &x87_indefinite);
        }
        return;
    }
    f80 a;
    x87_get(c, 0, &a);
    uint16_t sw = mem_ops[src][r](&a, &buf, x87_host_cw(c));
    bool ok = x87_raise(c, sw);
    if (cmp) {
        x87_cc(c, sw, CMP_CC);
        if (r == 3 && ok) x87_pop(c);
    } else if (ok) {
        x87_put(c, 0, &a);
        x87_cc(c, sw, FSW_C1);
    }
}

static void h_m32fp(struct cpu *c, const struct insn *i)
{
    mem_arith(c, i, 0);
}
static void h_m64fp(struct cpu *c, const struct insn *i)
{
    mem_arith(c, i, 1);
}
static void h_m32int(struct cpu *c, const struct insn *i)
{
    mem_arith(c, i, 2);
}
static void h_m16int(struct cpu *c, const struct insn *i)
{
    mem_arith(c, i, 3);
}

/* ---- register arithmetic: the host computes ST0 op ST(i) for every encoding; D8 stores to
 * ST0, DC to ST(i), DE to ST(i) and pops ---- */
static void reg_arith(struct cpu *c, const struct insn *i, bool to_sti, bool pop)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    unsigned j = i->modrm & 7, dst = to_sti ? j : 0;
    if (x87_empty(c, 0) || x87_empty(c, j)) {
        if (!x87_stack_fault(c, false)) return;
        x87_put(c, dst, &x87_indefinite);
    } else {
        f80 a, b;
        x87_get(c, 0, &a);
        x87_get(c, j, &b);
        uint16_t sw = reg_ops[(i->modrm >> 3) & 7](&a, &b, x87_host_cw(c));
        if (!x87_raise(c, sw)) return;
        x87_put(c, dst, &a);
        x87_cc(c, sw, FSW_C1);
    }
    if (pop) x87_pop(c);
}

static void h_d8_reg(struct cpu *c, const struct insn *i)
{
    reg_arith(c, i, false, false);
}
static void h_dc_reg(struct cpu *c, const struct insn *i)
{
    reg_arith(c, i, true, false);
}
static void h_de_reg(struct cpu *c, const struct insn *i)
{
    reg_arith(c, i, true, true);
}

/* ---- register compares ---- */
static void reg_compare(struct cpu *c, const struct insn *i, unsigned j, ar_reg_fn fn,
                        unsigned pops)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    if (x87_empty(c, 0) || x87_empty(c, j)) {
        bool masked = x87_stack_fault(c, false);
        c->fpu.fsw |= FSW_C0 | FSW_C2 | FSW_C3; /* unordered, masked or not */
        if (!masked) return;
    } else {
        f80 a, b;
        x87_get(c, 0, &a);
        x87_get(c, j, &b);
        uint16_t sw = fn(&a, &b, x87_host_cw(c));
        bool ok = x87_raise(c, sw);
        x87_cc(c, sw, CMP_CC);
        if (!ok) return;
    }
    while (pops--)
        x87_pop(c);
}

static void h_fcom(struct cpu *c, const struct insn *i)
{
    reg_compare(c, i, i->modrm & 7, r_com, 0);
}
static void h_fcomp(struct cpu *c, const struct insn *i)
{
    reg_compare(c, i, i->modrm & 7, r_com, 1);
}
static void h_fcompp(struct cpu *c, const struct insn *i)
{
    reg_compare(c, i, 1, r_com, 2);
}
static void h_fucom(struct cpu *c, const struct insn *i)
{
    reg_compare(c, i, i->modrm & 7, r_ucom, 0);
}
static void h_fucomp(struct cpu *c, const struct insn *i)
{
    reg_compare(c, i, i->modrm & 7, r_ucom, 1);
}
static void h_fucompp(struct cpu *c, const struct insn *i)
{
    reg_compare(c, i, 1, r_ucom, 2);
}

/* fcomi / fucomi: ZF PF CF from the compare, OF SF AF cleared, C1 cleared */
X87_HOST_COMI(x_fcomi, "fcomi %%st(1), %%st")
X87_HOST_COMI(x_fucomi, "fucomi %%st(1), %%st")

static void comi(struct cpu *c, const struct insn *i, bool unordered, bool pop)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    unsigned j = i->modrm & 7;
    uint64_t fl = F_ZF | F_PF | F_CF;
    bool ok;
    if (x87_empty(c, 0) || x87_empty(c, j)) {
        ok = x87_stack_fault(c, false);
    } else {
        f80 a, b;
        x87_get(c, 0, &a);
        x87_get(c, j, &b);
        uint16_t sw = (unordered ? x_fucomi : x_fcomi)(&a, &b, x87_host_cw(c), &fl);
        uint16_t c1 = c->fpu.fsw & FSW_C1; /* left alone, as the hardware does */
        ok = x87_raise(c, sw);
        c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~FSW_C1) | c1);
    }
    /* EFLAGS say unordered even when the invalid exception is unmasked */
    flags_write(c, (flags_read(c) & ~(uint64_t)F_ARITH) | (fl & (F_ZF | F_PF | F_CF)));
    if (pop && ok) x87_pop(c);
}

static void h_fcomi(struct cpu *c, const struct insn *i)
{
    comi(c, i, false, false);
}
static void h_fucomi(struct cpu *c, const struct insn *i)
{
    comi(c, i, true, false);
}
static void h_fcomip(struct cpu *c, const struct insn *i)
{
    comi(c, i, false, true);
}
static void h_fucomip(struct cpu *c, const struct insn *i)
{
    comi(c, i, true, true);
}

/* ---- loads ---- */
typedef uint16_t (*ld_fn)(f80 *r, const void *m, uint16_t cw);

X87_HOST_LD(ld_m32, "flds", float)
X87_HOST_LD(ld_m64, "fldl", double)
X87_HOST_LD(ld_i16, "filds", int16_t)
X87_HOST_LD(ld_i32, "fildl", int32_t)
X87_HOST_LD(ld_i64, "fildll", int64_t)

static void load(struct cpu *c, const struct insn *i, ld_fn fn, unsigned n)
{
    x87_enter(c, i);
    uint64_t ea = insn_ea(c, i);
    uint8_t buf[10] = {0};
    mem_read(c, i->seg, ea, buf, n);
    x87_note(c, i, ea);
    if (!x87_empty(c, 7)) {
        if (x87_stack_fault(c, true)) x87_push(c, &x87_indefinite);
        return;
    }
    f80 r;
    uint16_t sw = 0;
    if (fn)
        sw = fn(&r, buf, x87_host_cw(c));
    else
        memcpy(&r, buf, 10);
    /* the hardware pushes even when the load raises an unmasked exception */
    x87_raise(c, sw);
    c->fpu.fsw &= ~FSW_C1;
    x87_push(c, &r);
}

static void h_fld_m32(struct cpu *c, const struct insn *i)
{
    load(c, i, ld_m32, 4);
}
static void h_fld_m64(struct cpu *c, const struct insn *i)
{
    load(c, i, ld_m64, 8);
}
static void h_fld_m80(struct cpu *c, const struct insn *i)
{
    load(c, i, NULL, 10);
}
static void h_fild_m16(struct cpu *c, const struct insn *i)
{
    load(c, i, ld_i16, 2);
}
static void h_fild_m32(struct cpu *c, const struct insn *i)
{
    load(c, i, ld_i32, 4);
}
static void h_fild_m64(struct cpu *c, const struct insn *i)
{
    load(c, i, ld_i64, 8);
}

/* constants: rounded by RC like the hardware does */
X87_HOST_CONST(k_fld1, "fld1")
X87_HOST_CONST(k_fldl2t, "fldl2t")
X87_HOST_CONST(k_fldl2e, "fldl2e")
X87_HOST_CONST(k_fldpi, "fldpi")
X87_HOST_CONST(k_fldlg2, "fldlg2")
X87_HOST_CONST(k_fldln2, "fldln2")
X87_HOST_CONST(k_fldz, "fldz")
static const ld_fn consts[7] = {k_fld1, k_fldl2t, k_fldl2e, k_fldpi, k_fldlg2, k_fldln2, k_fldz};

static void h_fldconst(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    if (!x87_empty(c, 7)) {
        if (x87_stack_fault(c, true)) x87_push(c, &x87_indefinite);
        return;
    }
    f80 r;
    uint16_t sw = consts[(i->modrm & 7) % 7](&r, NULL, x87_host_cw(c));
    x87_raise(c, sw);
    c->fpu.fsw &= ~FSW_C1;
    x87_push(c, &r);
}

/* ---- stores ---- */
typedef uint16_t (*st_fn)(const f80 *a, void *m, uint16_t cw);

X87_HOST_ST_KEEP(st_m32, "fsts", float)
X87_HOST_ST_KEEP(st_m64, "fstl", double)
X87_HOST_ST_KEEP(st_i16, "fists", int16_t)
X87_HOST_ST_KEEP(st_i32, "fistl", int32_t)
X87_HOST_ST_POP(st_i64, "fistpll", int64_t)
X87_HOST_ST_POP(stt_i16, "fisttps", int16_t)
X87_HOST_ST_POP(stt_i32, "fisttpl", int32_t)
X87_HOST_ST_POP(stt_i64, "fisttpll", int64_t)

static void store(struct cpu *c, const struct insn *i, st_fn fn, unsigned n, bool pop)
{
    x87_enter(c, i);
    uint64_t ea = insn_ea(c, i);
    mem_probe_write(c, i->seg, ea, n);
    x87_note(c, i, ea);
    f80 a;
    if (x87_empty(c, 0)) {
        if (!x87_stack_fault(c, false)) return;
        a = x87_indefinite;
    } else {
        x87_get(c, 0, &a);
        c->fpu.fsw &= ~FSW_C1;
    }
    uint8_t buf[10];
    mem_read(c, i->seg, ea, buf, n); /* kept where an unmasked exception stores nothing */
    uint16_t sw = 0;
    if (fn)
        sw = fn(&a, buf, x87_host_cw(c));
    else
        memcpy(buf, &a, 10);
    /* an unmasked exception other than precision stores nothing and does not pop */
    if (!x87_raise(c, sw) || (sw & ~c->fpu.fcw & 0x1f)) return;
    mem_write(c, i->seg, ea, buf, n);
    if (fn) x87_cc(c, sw, FSW_C1);
    if (pop) x87_pop(c);
}

static void h_fst_m32(struct cpu *c, const struct insn *i)
{
    store(c, i, st_m32, 4, (i->modrm >> 3 & 7) == 3);
}
static void h_fst_m64(struct cpu *c, const struct insn *i)
{
    store(c, i, st_m64, 8, (i->modrm >> 3 & 7) == 3);
}
static void h_fstp_m80(struct cpu *c, const struct insn *i)
{
    store(c, i, NULL, 10, true);
}
static void h_fist_m16(struct cpu *c, const struct insn *i)
{
    store(c, i, st_i16, 2, (i->modrm >> 3 & 7) == 3);
}
static void h_fist_m32(struct cpu *c, const struct insn *i)
{
    store(c, i, st_i32, 4, (i->modrm >> 3 & 7) == 3);
}
static void h_fistp_m64(struct cpu *c, const struct insn *i)
{
    store(c, i, st_i64, 8, true);
}
static void h_fisttp_m16(struct cpu *c, const struct insn *i)
{
    store(c, i, stt_i16, 2, true);
}
static void h_fisttp_m32(struct cpu *c, const struct insn *i)
{
    store(c, i, stt_i32, 4, true);
}
static void h_fisttp_m64(struct cpu *c, const struct insn *i)
{
    store(c, i, stt_i64, 8, true);
}

/* ---- D9 E0..FF: one-operand, two-operand and pushing operations ---- */

X87_HOST_UNARY(u_fchs, "fchs")
X87_HOST_UNARY(u_fabs, "fabs")
X87_HOST_UNARY(u_f2xm1, "f2xm1")
X87_HOST_UNARY(u_fsqrt, "fsqrt")
X87_HOST_UNARY(u_frndint, "frndint")
X87_HOST_UNARY(u_fsin, "fsin")
X87_HOST_UNARY(u_fcos, "fcos")
X87_HOST_PREM(b_fprem, "fprem")
X87_HOST_PREM(b_fprem1, "fprem1")
X87_HOST_BINKEEP(b_fscale, "fscale")
X87_HOST_BINPOP(p_fyl2x, "fyl2x")
X87_HOST_BINPOP(p_fyl2xp1, "fyl2xp1")
X87_HOST_BINPOP(p_fpatan, "fpatan")
X87_HOST_PUSH2(q_fptan, "fptan")
X87_HOST_PUSH2(q_fxtract, "fxtract")
X87_HOST_PUSH2(q_fsincos, "fsincos")

typedef uint16_t (*stk_fn)(f80 *a, f80 *b, f80 *r, uint16_t cw);
enum { K_UNARY, K_BINKEEP, K_BINPOP, K_PUSH2 };

static void stack_op(struct cpu *c, const struct insn *i, stk_fn fn, unsigned kind, uint16_t cc)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    bool two = kind == K_BINKEEP || kind == K_BINPOP;
    if (x87_empty(c, 0) || (two && x87_empty(c, 1))) {
        bool masked = x87_stack_fault(c, false);
        c->fpu.fsw &= ~(cc & FSW_C2); /* "reduction incomplete" is cleared */
        if (!masked) return;
        if (kind == K_BINPOP) {
            x87_put(c, 1, &x87_indefinite);
            x87_pop(c);
        } else {
            x87_put(c, 0, &x87_indefinite);
            if (kind == K_PUSH2) x87_push(c, &x87_indefinite);
        }
        return;
    }
    if (kind == K_PUSH2 && !x87_empty(c, 7)) {
        bool masked = x87_stack_fault(c, true);
        c->fpu.fsw &= ~(cc & FSW_C2);
        if (masked) {
            x87_put(c, 0, &x87_indefinite);
            x87_push(c, &x87_indefinite);
        }
        return;
    }
    f80 a, b = {{0}}, r;
    x87_get(c, 0, &a);
    if (two) x87_get(c, 1, &b);
    uint16_t ccin = c->fpu.fsw & FSW_CC;
    memcpy(r.b, &ccin, 2); /* the guest's condition codes, for X87_HOST_PREM */
    uint16_t sw = fn(&a, &b, &r, x87_host_cw(c));
    if (!x87_raise(c, sw)) {
        c->fpu.fsw &= ~(cc & FSW_C2);
        return;
    }
    /* after an invalid operation only C1 (and C2 where defined) are written */
    if (sw & FSW_IE) cc &= FSW_C1 | FSW_C2;
    x87_cc(c, sw, cc);
    switch (kind) {
    case K_UNARY:
    case K_BINKEEP: x87_put(c, 0, &a); break;
    case K_BINPOP:
        x87_put(c, 1, &b);
        x87_pop(c);
        break;
    case K_PUSH2:
        if (b.b[0]) {
            x87_put(c, 0, &a);
            x87_push(c, &r);
        } else {
            x87_put(c, 0, &r);
        }
        break;
    }
}

#define C1  FSW_C1
#define C12 (FSW_C1 | FSW_C2)
static void h_d9_e(struct cpu *c, const struct insn *i)
{
    switch (i->modrm) {
    case 0xe0: stack_op(c, i, u_fchs, K_UNARY, C1); break;
    case 0xe1: stack_op(c, i, u_fabs, K_UNARY, C1); break;
    case 0xf0: stack_op(c, i, u_f2xm1, K_UNARY, C1); break;
    case 0xf1: stack_op(c, i, p_fyl2x, K_BINPOP, C1); break;
    case 0xf2: stack_op(c, i, q_fptan, K_PUSH2, C12); break;
    case 0xf3: stack_op(c, i, p_fpatan, K_BINPOP, C1); break;
    case 0xf4: stack_op(c, i, q_fxtract, K_PUSH2, C1); break;
    case 0xf5: stack_op(c, i, b_fprem1, K_BINKEEP, CMP_CC); break;
    case 0xf8: stack_op(c, i, b_fprem, K_BINKEEP, CMP_CC); break;
    case 0xf9: stack_op(c, i, p_fyl2xp1, K_BINPOP, C1); break;
    case 0xfa: stack_op(c, i, u_fsqrt, K_UNARY, C1); break;
    case 0xfb: stack_op(c, i, q_fsincos, K_PUSH2, C12); break;
    case 0xfc: stack_op(c, i, u_frndint, K_UNARY, C1); break;
    case 0xfd: stack_op(c, i, b_fscale, K_BINKEEP, C1); break;
    case 0xfe: stack_op(c, i, u_fsin, K_UNARY, C12); break;
    default: stack_op(c, i, u_fcos, K_UNARY, C12); break;
    }
}

/* ftst / fxam */
X87_HOST_EXAM(e_ftst, "ftst")
X87_HOST_EXAM(e_fxam, "fxam")

static void h_ftst(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    if (x87_empty(c, 0)) {
        x87_stack_fault(c, false);
        c->fpu.fsw |= FSW_C0 | FSW_C2 | FSW_C3; /* unordered, masked or not */
        return;
    }
    f80 a;
    x87_get(c, 0, &a);
    uint16_t sw = e_ftst(&a, x87_host_cw(c));
    x87_raise(c, sw);
    x87_cc(c, sw, CMP_CC);
}

static void h_fxam(struct cpu *c, const struct insn *i)
{
    x87_enter(c, i);
    x87_note(c, i, 0);
    f80 a;
    x87_get(c, 0, &a);
    if (x87_empty(c, 0)) {
        x87_cc(c, (uint16_t)(FSW_C3 | FSW_C0 | ((a.b[9] & 0x80) ? FSW_C1 : 0)), CMP_CC);
        return;
    }
    x87_cc(c, e_fxam(&a, x87_host_cw(c)), CMP_CC);
}

const x87_form x87_ops_forms[] = {
    /* memory operands */
    {0xd8, 0xff, 0xff, 1, h_m32fp},
    {0xdc, 0xff, 0xff, 1, h_m64fp},
    {0xda, 0xff, 0xff, 1, h_m32int},
    {0xde, 0xff, 0xff, 1, h_m16int},
    {0xd9, 0, 0xff, 1, h_fld_m32},
    {0xd9, 2, 0xff, 1, h_fst_m32},
    {0xd9, 3, 0xff, 1, h_fst_m32},
    {0xdd, 0, 0xff, 1, h_fld_m64},
    {0xdd, 1, 0xff, 1, h_fisttp_m64},
    {0xdd, 2, 0xff, 1, h_fst_m64},
    {0xdd, 3, 0xff, 1, h_fst_m64},
    {0xdb, 0, 0xff, 1, h_fild_m32},
    {0xdb, 1, 0xff, 1, h_fisttp_m32},
    {0xdb, 2, 0xff, 1, h_fist_m32},
    {0xdb, 3, 0xff, 1, h_fist_m32},
    {0xdb, 5, 0xff, 1, h_fld_m80},
    {0xdb, 7, 0xff, 1, h_fstp_m80},
    {0xdf, 0, 0xff, 1, h_fild_m16},
    {0xdf, 1, 0xff, 1, h_fisttp_m16},
    {0xdf, 2, 0xff, 1, h_fist_m16},
    {0xdf, 3, 0xff, 1, h_fist_m16},
    {0xdf, 5, 0xff, 1, h_fild_m64},
    {0xdf, 7, 0xff, 1, h_fistp_m64},
    /* register arithmetic and compares */
    {0xd8, 2, 0xff, 0, h_fcom},
    {0xd8, 3, 0xff, 0, h_fcomp},
    {0xd8, 0xff, 0xff, 0, h_d8_reg},
    {0xdc, 2, 0xff, 0, h_fcom},
    {0xdc, 3, 0xff, 0, h_fcomp},
    {0xdc, 0xff, 0xff, 0, h_dc_reg},
    {0xde, 3, 1, 0, h_fcompp},
    {0xde, 2, 0xff, 0, h_fcomp},
    {0xde, 0, 0xff, 0, h_de_reg},
    {0xde, 1, 0xff, 0, h_de_reg},
    {0xde, 4, 0xff, 0, h_de_reg},
    {0xde, 5, 0xff, 0, h_de_reg},
    {0xde, 6, 0xff, 0, h_de_reg},
    {0xde, 7, 0xff, 0, h_de_reg},
    {0xdd, 4, 0xff, 0, h_fucom},
    {0xdd, 5, 0xff, 0, h_fucomp},
    {0xda, 5, 1, 0, h_fucompp},
    {0xdb, 5, 0xff, 0, h_fucomi},
    {0xdb, 6, 0xff, 0, h_fcomi},
    {0xdf, 5, 0xff, 0, h_fucomip},
    {0xdf, 6, 0xff, 0, h_fcomip},
    /* D9 E0..FF */
    {0xd9, 4, 0, 0, h_d9_e},
    {0xd9, 4, 1, 0, h_d9_e},
    {0xd9, 4, 4, 0, h_ftst},
    {0xd9, 4, 5, 0, h_fxam},
    {0xd9, 5, 0, 0, h_fldconst},
    {0xd9, 5, 1, 0, h_fldconst},
    {0xd9, 5, 2, 0, h_fldconst},
    {0xd9, 5, 3, 0, h_fldconst},
    {0xd9, 5, 4, 0, h_fldconst},
    {0xd9, 5, 5, 0, h_fldconst},
    {0xd9, 5, 6, 0, h_fldconst},
    {0xd9, 6, 0, 0, h_d9_e},
    {0xd9, 6, 1, 0, h_d9_e},
    {0xd9, 6, 2, 0, h_d9_e},
    {0xd9, 6, 3, 0, h_d9_e},
    {0xd9, 6, 4, 0, h_d9_e},
    {0xd9, 6, 5, 0, h_d9_e},
    {0xd9, 7, 0xff, 0, h_d9_e},
};
const unsigned x87_ops_forms_count = sizeof x87_ops_forms / sizeof x87_ops_forms[0];
