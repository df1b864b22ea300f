/* msr.c — RDMSR/WRMSR semantics for the MSRs the engine keeps (EFER, SYSCALL targets, segment
 * bases, PAT, MTRRs, TSC, ...), with reserved-bit and canonical checks, and the guest TSC. The
 * platform's MSRs (APIC base, TSC deadline, kvmclock) are passed on to c->msr_ops: the board
 * owns kvmclock (src/hw/kvmclock.c). */
#include "cpu/msr.h"

#include "cpu/core.h"
#include "cpu/cpuid.h"
#include "vessel/clock.h"

static bool msr_canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Host nanoseconds scaled to the guest TSC rate, without overflowing for centuries. */
static uint64_t msr_tsc_raw(const struct cpu *c)
{
    uint64_t ns = clock_ns();
    return (uint64_t)((unsigned __int128)ns * c->tsc_hz / 1000000000u);
}

uint64_t cpu_read_tsc(const struct cpu *c)
{
    return msr_tsc_raw(c) + c->tsc_offset;
}

void cpu_write_tsc(struct cpu *c, uint64_t value)
{
    c->tsc_offset = value - msr_tsc_raw(c);
}

/* MTRR memory types 0, 1, 4, 5, 6 are valid; 2, 3, 7+ reserved. */
static bool msr_mtrr_type_ok(uint64_t t)
{
    return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

static bool msr_pat_ok(uint64_t v)
{
    for (unsigned k = 0; k < 8; k++) {
        uint64_t t = (v >> (k * 8)) & 0xff;
        if (t != 7 && !msr_mtrr_type_ok(t)) return false;
    }
    return true;
}

static uint64_t *msr_fixed_mtrr(struct cpu *c, uint32_t msr)
{
    if (msr == MSR_MTRR_FIX64K) return &c->mtrr_fixed[0];
    if (msr == MSR_MTRR_FIX16K_0 || msr == MSR_MTRR_FIX16K_1)
        return &c->mtrr_fixed[1 + msr - MSR_MTRR_FIX16K_0];
    if (msr >= MSR_MTRR_FIX4K_0 && msr <= MSR_MTRR_FIX4K_0 + 7)
        return &c->mtrr_fixed[3 + msr - MSR_MTRR_FIX4K_0];
    return NULL;
}

bool msr_read(struct cpu *c, uint32_t msr, uint64_t *value)
{
    uint64_t *fixed = msr_fixed_mtrr(c, msr);
    if (fixed) {
        *value = *fixed;
        return true;
    }
    if (msr >= MSR_MTRR_PHYSBASE0 && msr < MSR_MTRR_PHYSBASE0 + 16) {
        *value = c->mtrr_var[msr - MSR_MTRR_PHYSBASE0];
        return true;
    }
    switch (msr) {
    case MSR_TSC: *value = cpu_read_tsc(c); return true;
    case MSR_BIOS_SIGN_ID: *value = 0; return true;
    case MSR_MTRRCAP: *value = 0x508; return true; /* 8 variable, fixed, WC */
    case MSR_SYSENTER_CS: *value = c->sysenter_cs; return true;
    case MSR_SYSENTER_ESP: *value = c->sysenter_esp; return true;
    case MSR_SYSENTER_EIP: *value = c->sysenter_eip; return true;
    case MSR_MCG_CAP: *value = 0; return true;
    case MSR_MCG_STATUS: *value = 0; return true;
    case MSR_MISC_ENABLE: *value = c->misc_enable; return true;
    case MSR_ARCH_CAPABILITIES: *value = ARCH_CAPABILITIES_VALUE; return true;
    case MSR_PAT: *value = c->pat; return true;
    case MSR_MTRR_DEF_TYPE: *value = c->mtrr_def_type; return true;
    case MSR_EFER: *value = c->efer; return true;
    case MSR_STAR: *value = c->star; return true;
    case MSR_LSTAR: *value = c->lstar; return true;
    case MSR_CSTAR: *value = c->cstar; return true;
    case MSR_SFMASK: *value = c->sfmask; return true;
    case MSR_FS_BASE: *value = c->seg[SEG_FS].base; return true;
    case MSR_GS_BASE: *value = c->seg[SEG_GS].base; return true;
    case MSR_KERNEL_GS_BASE: *value = c->kernel_gs_base; return true;
    case MSR_TSC_AUX: *value = c->tsc_aux; return true;
    }
    if (c->msr_ops && c->msr_ops->read) return c->msr_ops->read(c->msr_opaque, msr, value);
    return false;
}

static bool msr_write_efer(struct cpu *c, uint64_t v)
{
    if (v & ~EFER_KNOWN) return false;
    /* LMA is read-only; LME may not change while paging is on. */
    v = (v & ~EFER_LMA) | (c->efer & EFER_LMA);
    if ((c->cr0 & CR0_PG) && ((v ^ c->efer) & EFER_LME)) return false;
    c->efer = v;
    cpu_mode_changed(c);
    return true;
}

bool msr_write(struct cpu *c, uint32_t msr, uint64_t v)
{
    uint64_t *fixed = msr_fixed_mtrr(c, msr);
    if (fixed) {
        for (unsigned k = 0; k < 8; k++)
            if (!msr_mtrr_type_ok((v >> (k * 8)) & 0xff)) return false;
        *fixed = v;
        return true;
    }
    if (msr >= MSR_MTRR_PHYSBASE0 && msr < MSR_MTRR_PHYSBASE0 + 16) {
        uint64_t rsvd = ~((1ull << CPUID_PHYS_ADDR_BITS) - 1);
        bool base = !((msr - MSR_MTRR_PHYSBASE0) & 1);
        rsvd |= base ? 0xf00ull : 0x7ffull;
        if ((v & rsvd) || (base && !msr_mtrr_type_ok(v & 0xff))) return false;
        c->mtrr_var[msr - MSR_MTRR_PHYSBASE0] = v;
        return true;
    }
    switch (msr) {
    case MSR_TSC: cpu_write_tsc(c, v); return true;
    case MSR_SYSENTER_CS: c->sysenter_cs = v & 0xffff; return true;
    case MSR_SYSENTER_ESP:
        if (!msr_canonical(v)) return false;
        c->sysenter_esp = v;
        return true;
    case MSR_SYSENTER_EIP:
        if (!msr_canonical(v)) return false;
        c->sysenter_eip = v;
        return true;
    case MSR_BIOS_SIGN_ID: return true; /* writing asks for the revision: there is none */
    case MSR_MCG_STATUS: return v == 0;
    case MSR_MISC_ENABLE: c->misc_enable = v; return true;
    case MSR_PAT:
        if (!msr_pat_ok(v)) return false;
        c->pat = v;
        return true;
    case MSR_MTRR_DEF_TYPE:
        if ((v & ~0xcffull) || !msr_mtrr_type_ok(v & 0xff)) return false;
        c->mtrr_def_type = v;
        return true;
    case MSR_EFER: return msr_write_efer(c, v);
    case MSR_STAR: c->star = v; return true;
    case MSR_LSTAR:
    case MSR_CSTAR:
        if (!msr_canonical(v)) return false;
        *(msr == MSR_LSTAR ? &c->lstar : &c->cstar) = v;
        return true;
    case MSR_SFMASK: c->sfmask = v & 0xffffffffull; return true;
    case MSR_FS_BASE:
    case MSR_GS_BASE:
        if (!msr_canonical(v)) return false;
        c->seg[msr == MSR_FS_BASE ? SEG_FS : SEG_GS].base = v;
        return true;
    case MSR_KERNEL_GS_BASE:
        if (!msr_canonical(v)) return false;
        c->kernel_gs_base = v;
        return true;
    case MSR_TSC_AUX: c->tsc_aux = v & 0xffffffffull; return true;
    }
    if (c->msr_ops && c->msr_ops->write) return c->msr_ops->write(c->msr_opaque, msr, v);
    return false;
}
