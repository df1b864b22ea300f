/* sse_xsave.c — the XSAVE feature set: XGETBV/XSETBV (0F 01 D0/D1), XSAVE (0F AE /4), XRSTOR
 * (/5), XSAVEOPT (/6) and XSAVEC (0F C7 /4), each with its REX.W (64-bit x87 pointer) form.
 * The user state components are x87 (0), SSE (1) and, when the model offers AVX, the upper
 * halves of YMM0-15 (2); cpuid_xcr0_supported() says which (leaf 0xD reports the same sizes and
 * offsets as xsave_layout below). There is no supervisor component, so no XSAVES/XRSTORS.
 *
 * XINUSE (the processor's "component is not in its initial configuration" bitmap, which XSAVEC
 * and XSAVEOPT use to skip components and which XGETBV(1) returns) is not tracked: it is
 * computed from the state when needed, so a component is in use exactly when it differs from
 * its initial configuration. The manuals allow that; real CPUs report "in use" more often
 * (docs/CPU-MODEL.md, rule xinuse). XSAVEOPT's modified optimization is not used: it always
 * writes what XSAVE would, minus the components not in use.
 *
 * Faults come before any write: every byte an instruction will store is probed first, and
 * XRSTOR reads and checks everything before it changes a register. */
#include "cpu/cpuid.h"
#include "cpu/ops/sse/sse_common.h"
#include "cpu/ops/sse/sse_fx.h"

#define XS_LEGACY   512u /* legacy region (the FXSAVE image) */
#define XS_HEADER   512u /* offset of the 64-byte XSAVE header */
#define XS_AVX_OFF  576u /* standard-format offset of component 2 */
#define XS_AVX_SIZE 256u
#define XS_MAX      (XS_AVX_OFF + XS_AVX_SIZE)
#define XCOMP_FORM  (1ull << 63) /* XCOMP_BV[63]: the compacted format */

/* The x87 state in its initial configuration (FNINIT plus zeroed registers and pointers). */
static bool xs_x87_init(const struct cpu *c)
{
    const struct fpu *f = &c->fpu;
    if (f->fcw != 0x37f || f->fsw != 0 || f->ftw != 0xffff || f->fop || f->fip || f->fdp)
        return false;
    static const uint8_t zero[10];
    for (unsigned r = 0; r < 8; r++)
        if (memcmp(&f->st[r], zero, 10)) return false;
    return true;
}

static bool xs_zero(const union xmm *v)
{
    for (unsigned r = 0; r < 16; r++)
        if (v[r].q[0] | v[r].q[1]) return false;
    return true;
}

uint64_t xsave_xinuse(const struct cpu *c)
{
    uint64_t u = 0;
    if (!xs_x87_init(c)) u |= XCR0_X87;
    if (!xs_zero(c->xmm)) u |= XCR0_SSE; /* XINUSE[1] covers the XMM registers, not MXCSR */
    if (!xs_zero(c->ymm_hi)) u |= XCR0_AVX;
    return u;
}

/* #UD without CR4.OSXSAVE, #NM with CR0.TS. */
static void xs_avail(struct cpu *c)
{
    if (!(c->cr4 & CR4_OSXSAVE)) cpu_fault(c, EXC_UD);
    if (c->cr0 & CR0_TS) cpu_fault(c, EXC_NM);
}

/* The area's offset, 64-byte aligned (by linear address) or #GP(0). */
static uint64_t xs_area(struct cpu *c, const struct insn *i)
{
    uint64_t ea = insn_ea(c, i);
    if (sse_lin(c, i, ea) & 63) cpu_fault_err(c, EXC_GP, 0);
    return ea;
}

static uint64_t xs_rfbm(const struct cpu *c)
{
    return ((c->gpr[R_RDX] << 32) | (uint32_t)c->gpr[R_RAX]) & c->xcr0;
}

/* Byte ranges of the area an instruction stores, probed together before any is written. */
struct xs_store {
    unsigned n;
    struct {
        uint16_t off, len;
    } r[8];
};

static void xs_add(struct xs_store *s, unsigned off, unsigned len)
{
    s->r[s->n].off = (uint16_t)off;
    s->r[s->n].len = (uint16_t)len;
    s->n++;
}

static void xs_commit(struct cpu *c, const struct insn *i, uint64_t ea, const struct xs_store *s,
                      const uint8_t *img)
{
    for (unsigned k = 0; k < s->n; k++)
        mem_probe_write(c, i->seg, ea + s->r[k].off, s->r[k].len);
    for (unsigned k = 0; k < s->n; k++)
        mem_write(c, i->seg, ea + s->r[k].off, img + s->r[k].off, s->r[k].len);
}

/* The legacy region as this form stores it: FXSAVE64 layout, or the 32-bit pointer format
 * (offsets only, zero selectors) without REX.W. */
static void xs_legacy_image(const struct cpu *c, const struct insn *i, uint8_t *img)
{
    fx_save_image(c, img);
    if (!(i->flags & INSN_REXW)) {
        uint32_t fip = (uint32_t)c->fpu.fip, fdp = (uint32_t)c->fpu.fdp;
        memset(img + 8, 0, 16);
        memcpy(img + 8, &fip, 4);
        memcpy(img + 16, &fdp, 4);
    }
}

enum { XS_STD, XS_OPT, XS_COMPACT };

static void xs_save(struct cpu *c, const struct insn *i, unsigned kind)
{
    xs_avail(c);
    uint64_t ea = xs_area(c, i), rfbm = xs_rfbm(c);
    uint64_t inuse = xsave_xinuse(c) & rfbm;
    uint64_t save = kind == XS_STD ? rfbm : inuse; /* components whose data is stored */
    uint8_t img[XS_MAX];
    memset(img, 0, sizeof img);
    xs_legacy_image(c, i, img);
    struct xs_store st = {0};
    if (save & XCR0_X87) {
        xs_add(&st, 0, 24);
        xs_add(&st, 32, 128);
    }
    /* MXCSR and MXCSR_MASK go with SSE; XSAVE and XSAVEOPT also store them for AVX alone */
    if ((rfbm & XCR0_SSE) || (kind != XS_COMPACT && (rfbm & XCR0_AVX))) xs_add(&st, 24, 8);
    if (save & XCR0_SSE) xs_add(&st, 160, 256);
    uint64_t bv;
    if (kind == XS_COMPACT) {
        bv = inuse;
        uint64_t comp = rfbm | XCOMP_FORM;
        memcpy(img + XS_HEADER, &bv, 8);
        memcpy(img + XS_HEADER + 8, &comp, 8);
        xs_add(&st, XS_HEADER, 16);
    } else {
        /* the rest of XSTATE_BV is read and written back unchanged */
        mem_read(c, i->seg, ea + XS_HEADER, &bv, 8);
        bv = (bv & ~rfbm) | inuse;
        memcpy(img + XS_HEADER, &bv, 8);
        xs_add(&st, XS_HEADER, 8);
    }
    if (save & XCR0_AVX) {
        /* the first (and only) extended component: offset 576 in both formats */
        memcpy(img + XS_AVX_OFF, c->ymm_hi, XS_AVX_SIZE);
        xs_add(&st, XS_AVX_OFF, XS_AVX_SIZE);
    }
    xs_commit(c, i, ea, &st, img);
}

static void h_xsave(struct cpu *c, const struct insn *i)
{
    xs_save(c, i, XS_STD);
}

static void h_xsaveopt(struct cpu *c, const struct insn *i)
{
    xs_save(c, i, XS_OPT);
}

static void h_xsavec(struct cpu *c, const struct insn *i)
{
    xs_save(c, i, XS_COMPACT);
}

static void h_xrstor(struct cpu *c, const struct insn *i)
{
    xs_avail(c);
    uint64_t ea = xs_area(c, i), rfbm = xs_rfbm(c);
    uint8_t hdr[64];
    mem_read(c, i->seg, ea + XS_HEADER, hdr, 64);
    uint64_t bv, comp;
    memcpy(&bv, hdr, 8);
    memcpy(&comp, hdr + 8, 8);
    const bool compact = (comp & XCOMP_FORM) != 0;
    static const uint8_t zero[48];
    if (compact) {
        if ((comp & ~XCOMP_FORM & ~c->xcr0) || (bv & ~(comp & ~XCOMP_FORM)) ||
            memcmp(hdr + 16, zero, 48))
            cpu_fault_err(c, EXC_GP, 0);
    } else {
        if ((bv & ~c->xcr0) || memcmp(hdr + 8, zero, 16)) cpu_fault_err(c, EXC_GP, 0);
    }
    /* Build the new legacy image from the current state plus what is loaded or initialised,
     * then install it as FXRSTOR64 would. */
    uint8_t img[XS_LEGACY], mem[XS_LEGACY];
    fx_save_image(c, img);
    if ((rfbm & XCR0_X87) && (bv & XCR0_X87)) {
        mem_read(c, i->seg, ea, mem, 24);
        mem_read(c, i->seg, ea + 32, mem + 32, 128);
        if (!(i->flags & INSN_REXW)) { /* 32-bit pointer format: offsets only */
            uint64_t fip = 0, fdp = 0;
            memcpy(&fip, mem + 8, 4);
            memcpy(&fdp, mem + 16, 4);
            memcpy(mem + 8, &fip, 8);
            memcpy(mem + 16, &fdp, 8);
        }
        memcpy(img, mem, 24);
        memcpy(img + 32, mem + 32, 128);
    } else if (rfbm & XCR0_X87) {
        static const uint8_t x87_init[24] = {0x7f, 0x03};
        memcpy(img, x87_init, 24);
        memset(img + 32, 0, 128);
    }
    bool mx_mem = compact ? (rfbm & bv & XCR0_SSE) != 0 : (rfbm & (XCR0_SSE | XCR0_AVX)) != 0;
    uint32_t mxcsr = c->mxcsr;
    if (mx_mem) {
        mem_read(c, i->seg, ea + 24, &mxcsr, 4);
        if (mxcsr & ~MXCSR_WRITABLE) cpu_fault_err(c, EXC_GP, 0);
    } else if (compact && (rfbm & XCR0_SSE)) {
        mxcsr = 0x1f80;
    }
    memcpy(img + 24, &mxcsr, 4);
    if (rfbm & XCR0_SSE) {
        if (bv & XCR0_SSE)
            mem_read(c, i->seg, ea + 160, img + 160, 256);
        else
            memset(img + 160, 0, 256);
    }
    union xmm hi[16];
    memcpy(hi, c->ymm_hi, sizeof hi);
    if (rfbm & XCR0_AVX) {
        if (bv & XCR0_AVX)
            mem_read(c, i->seg, ea + XS_AVX_OFF, hi, XS_AVX_SIZE);
        else
            memset(hi, 0, sizeof hi);
    }
    /* everything is read and checked: commit */
    fx_restore_image(c, img);
    memcpy(c->ymm_hi, hi, sizeof hi);
}

/* XGETBV: ECX = 0 reads XCR0, ECX = 1 the in-use bitmap; any CPL. */
static void h_xgetbv(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!(c->cr4 & CR4_OSXSAVE)) cpu_fault(c, EXC_UD);
    uint64_t v;
    switch ((uint32_t)c->gpr[R_RCX]) {
    case 0: v = c->xcr0; break;
    case 1: v = xsave_xinuse(c) & c->xcr0; break;
    default: cpu_fault_err(c, EXC_GP, 0);
    }
    c->gpr[R_RAX] = (uint32_t)v;
    c->gpr[R_RDX] = v >> 32;
}

/* XSETBV: XCR0 only, at CPL 0; x87 always on, AVX only with SSE, nothing unsupported. */
static void h_xsetbv(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!(c->cr4 & CR4_OSXSAVE)) cpu_fault(c, EXC_UD);
    if (c->cpl != 0 || (uint32_t)c->gpr[R_RCX] != 0) cpu_fault_err(c, EXC_GP, 0);
    uint64_t v = (c->gpr[R_RDX] << 32) | (uint32_t)c->gpr[R_RAX];
    if (!(v & XCR0_X87) || (v & ~cpuid_xcr0_supported()) || ((v & XCR0_AVX) && !(v & XCR0_SSE)))
        cpu_fault_err(c, EXC_GP, 0);
    c->xcr0 = v;
}

static void h_xcr(struct cpu *c, const struct insn *i)
{
    if ((i->modrm & 7) == 0)
        h_xgetbv(c, i);
    else
        h_xsetbv(c, i);
}

const struct sse_form sse_xsave_forms[] = {
    {0x1ae, MP_NONE, 4, SF_MOD_MEM, h_xsave},
    {0x1ae, MP_NONE, 5, SF_MOD_MEM, h_xrstor},
    {0x1ae, MP_NONE, 6, SF_MOD_MEM, h_xsaveopt},
    {0x1c7, MP_NONE, 4, SF_MOD_MEM, h_xsavec},
};
const unsigned sse_xsave_forms_count = sizeof sse_xsave_forms / sizeof sse_xsave_forms[0];

/* XGETBV/XSETBV are 0F 01 register forms told apart by the whole ModRM byte. */
insn_fn sse_xcr_lookup(const struct insn *i)
{
    if (i->op == 0x101 && !(i->flags & INSN_MEM) && i->mp == MP_NONE &&
        (i->modrm == 0xd0 || i->modrm == 0xd1))
        return h_xcr;
    return NULL;
}
