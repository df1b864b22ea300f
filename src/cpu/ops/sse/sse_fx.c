/* sse_fx.c — whole-state instructions and helpers: fxsave/fxrstor (0F AE /0 /1), ldmxcsr /
 * stmxcsr (/2 /3), the fences (/5 /6 /7 with mod = 3: an interpreter that executes one
 * instruction at a time is already ordered), emms, and the FXSAVE image declared in sse_fx.h.
 * The register file's snapshot format is not here: it is part of section "cpu" (api.c).
 */
#include "cpu/ops/sse/sse_fx.h"
#include "cpu/ops/sse/sse_common.h"

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

void fx_save_image(const struct cpu *c, uint8_t *img)
{
    const struct fpu *f = &c->fpu;
    unsigned top = (f->fsw >> 11) & 7;
    memset(img, 0, 416);
    put16(img + 0, f->fcw);
    put16(img + 2, f->fsw);
    uint8_t tag = 0;
    for (unsigned r = 0; r < 8; r++)
        if (((f->ftw >> (2 * r)) & 3) != 3) tag |= 1u << r;
    img[4] = tag;
    put16(img + 6, f->fop);
    memcpy(img + 8, &f->fip, 8);
    memcpy(img + 16, &f->fdp, 8);
    memcpy(img + 24, &c->mxcsr, 4);
    uint32_t mask = MXCSR_WRITABLE;
    memcpy(img + 28, &mask, 4);
    for (unsigned k = 0; k < 8; k++)
        memcpy(img + 32 + 16 * k, &f->st[(top + k) & 7], 10);
    memcpy(img + 160, c->xmm, 256);
}

bool fx_restore_image(struct cpu *c, const uint8_t *img)
{
    uint32_t mxcsr;
    memcpy(&mxcsr, img + 24, 4);
    if (mxcsr & ~MXCSR_WRITABLE) return false;
    struct fpu *f = &c->fpu;
    f->fcw = (get16(img + 0) & 0x1f3f) | 0x40; /* reserved bits as FLDCW leaves them */
    f->fsw = get16(img + 2);
    unsigned top = (f->fsw >> 11) & 7;
    f->ftw = 0;
    for (unsigned r = 0; r < 8; r++)
        if (!(img[4] & (1u << r))) f->ftw |= 3u << (2 * r);
    f->fop = get16(img + 6) & 0x7ff;
    memcpy(&f->fip, img + 8, 8);
    memcpy(&f->fdp, img + 16, 8);
    c->mxcsr = mxcsr;
    for (unsigned k = 0; k < 8; k++) {
        uint8_t *p = (uint8_t *)&f->st[(top + k) & 7];
        memset(p, 0, sizeof f->st[0]);
        memcpy(p, img + 32 + 16 * k, 10);
    }
    memcpy(c->xmm, img + 160, 256);
    return true;
}

/* ---- instructions ---- */

static void fx_avail(struct cpu *c)
{
    if (c->cr0 & CR0_EM) cpu_fault(c, EXC_UD);
    if (c->cr0 & CR0_TS) cpu_fault(c, EXC_NM);
}

static void h_fxsave(struct cpu *c, const struct insn *i)
{
    fx_avail(c);
    uint64_t ea = sse_ea_aligned(c, i);
    uint8_t img[FX_IMAGE_SIZE];
    fx_save_image(c, img);
    /* the whole 512-byte area is checked before anything is written */
    mem_probe_write(c, i->seg, ea, FX_IMAGE_SIZE);
    if (!(i->flags & INSN_REXW)) {
        /* 32-bit format: FIP/FDP offsets with zero selectors */
        uint32_t fip = (uint32_t)c->fpu.fip, fdp = (uint32_t)c->fpu.fdp;
        memset(img + 8, 0, 16);
        memcpy(img + 8, &fip, 4);
        memcpy(img + 16, &fdp, 4);
    }
    mem_write(c, i->seg, ea, img, 416);
}

static void h_fxrstor(struct cpu *c, const struct insn *i)
{
    fx_avail(c);
    uint64_t ea = sse_ea_aligned(c, i);
    uint8_t img[FX_IMAGE_SIZE];
    mem_read(c, i->seg, ea, img, FX_IMAGE_SIZE);
    if (!(i->flags & INSN_REXW)) {
        uint32_t fip, fdp;
        memcpy(&fip, img + 8, 4);
        memcpy(&fdp, img + 16, 4);
        uint64_t f64 = fip, d64 = fdp;
        memcpy(img + 8, &f64, 8);
        memcpy(img + 16, &d64, 8);
    }
    if (!fx_restore_image(c, img)) cpu_fault_err(c, EXC_GP, 0);
}

static void h_ldmxcsr(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    uint32_t v = (uint32_t)mem_read_n(c, i->seg, insn_ea(c, i), 4);
    if (v & ~MXCSR_WRITABLE) cpu_fault_err(c, EXC_GP, 0);
    c->mxcsr = v;
}

static void h_stmxcsr(struct cpu *c, const struct insn *i)
{
    sse_avail(c);
    mem_write_n(c, i->seg, insn_ea(c, i), c->mxcsr, 4);
}

static void h_fence(struct cpu *c, const struct insn *i)
{
    (void)c, (void)i;
}

static void h_emms(struct cpu *c, const struct insn *i)
{
    mmx_check(c);
    c->fpu.fsw &= ~0x3800; /* the host clears TOP too */
    c->fpu.ftw = 0xffff;
}

const struct sse_form sse_fx_forms[] = {
    {0x1ae, MP_NONE, 0, SF_MOD_MEM, h_fxsave},  {0x1ae, MP_NONE, 1, SF_MOD_MEM, h_fxrstor},
    {0x1ae, MP_NONE, 2, SF_MOD_MEM, h_ldmxcsr}, {0x1ae, MP_NONE, 3, SF_MOD_MEM, h_stmxcsr},
    {0x1ae, MP_NONE, 5, SF_MOD_REG, h_fence},   {0x1ae, MP_NONE, 6, SF_MOD_REG, h_fence},
    {0x1ae, MP_NONE, 7, SF_MOD_REG, h_fence},   {0x177, MP_NONE, SF_ANY, SF_MOD_ANY, h_emms},
};
const unsigned sse_fx_forms_count = sizeof sse_fx_forms / sizeof sse_fx_forms[0];
