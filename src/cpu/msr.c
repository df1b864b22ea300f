/* msr.c — RDMSR/WRMSR semantics for the MSRs the engine keeps (EFER, SYSCALL targets, segment
 * bases, PAT, MTRRs, TSC, ...), with reserved-bit and canonical checks, the guest TSC, and
 * kvmclock (its structures only need guest memory and the TSC, both the engine's). The
 * platform's MSRs (APIC base, TSC deadline) are passed on to c->msr_ops.
 *
 * kvmclock: the guest TSC is a fixed linear function of the host monotonic clock, so one
 * pvclock record written when the guest registers it stays exact (PVCLOCK_TSC_STABLE). Guest
 * system time is defined as the guest TSC converted to nanoseconds. */
#include "msr.h"

#include <string.h>

#include "core.h"
#include "cpuid.h"
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

#define PVCLOCK_TSC_STABLE 0x1

/* The guest TSC in nanoseconds: tsc * 2^32 / (tsc_hz / 1e9) as the mul/shift pair below. */
static void msr_kvmclock_scale(const struct cpu *c, uint32_t *mul, int8_t *shift)
{
    /* ns = ((tsc << shift) * mul) >> 32 with mul < 2^32: pick shift so that mul fits. */
    int s = 0;
    uint64_t hz = c->tsc_hz;
    while (hz > 2000000000ull && s > -31) /* mul = 1e9 * 2^32 / (hz >> -s) */
        hz >>= 1, s--;
    while (hz < 500000000ull && s < 31)
        hz <<= 1, s++;
    *mul = (uint32_t)(((unsigned __int128)1000000000u << 32) / hz);
    *shift = (int8_t)s;
}

static uint64_t msr_kvmclock_ns(const struct cpu *c, uint64_t tsc)
{
    return (uint64_t)((unsigned __int128)tsc * 1000000000u / c->tsc_hz);
}

void msr_kvmclock_update(struct cpu *c)
{
    if (c->kvm_system_time & 1) {
        uint8_t *p = bus_ram_ptr(c->bus, c->kvm_system_time & ~1ull, 32);
        if (p) {
            uint32_t version;
            memcpy(&version, p, 4);
            version = (version | 1) + 1; /* even: a complete record */
            uint64_t tsc = cpu_read_tsc(c), ns = msr_kvmclock_ns(c, tsc);
            uint32_t mul;
            int8_t shift;
            msr_kvmclock_scale(c, &mul, &shift);
            uint8_t rec[32] = {0};
            memcpy(rec, &version, 4);
            memcpy(rec + 8, &tsc, 8);
            memcpy(rec + 16, &ns, 8);
            memcpy(rec + 24, &mul, 4);
            memcpy(rec + 28, &shift, 1);
            rec[29] = PVCLOCK_TSC_STABLE;
            memcpy(p, rec, 32);
            bus_note_write(c->bus, c->kvm_system_time & ~1ull, 32);
        }
    }
}

/* The wall clock at guest system time 0. */
static void msr_kvmclock_wall(struct cpu *c, uint64_t gpa)
{
    uint8_t *p = bus_ram_ptr(c->bus, gpa, 12);
    if (!p) return;
    uint64_t boot = clock_wall_ns() - msr_kvmclock_ns(c, cpu_read_tsc(c));
    uint32_t version, sec = (uint32_t)(boot / 1000000000u), nsec = (uint32_t)(boot % 1000000000u);
    memcpy(&version, p, 4);
    version = (version | 1) + 1;
    memcpy(p, &version, 4);
    memcpy(p + 4, &sec, 4);
    memcpy(p + 8, &nsec, 4);
    bus_note_write(c->bus, gpa, 12);
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
    case MSR_KVM_SYSTEM_TIME:
    case MSR_KVM_SYSTEM_TIME_NEW: *value = c->kvm_system_time; return true;
    case MSR_KVM_WALL_CLOCK:
    case MSR_KVM_WALL_CLOCK_NEW: *value = c->kvm_wall_clock; return true;
    }
    if (c->msr_ops && c->msr_ops->read) return c->msr_ops->read(c->msr_opaque, msr, value);
    return false;
}

static bool msr_write_efer(struct cpu *c, uint64_t v)
{
    if (v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) return false;
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
    case MSR_TSC:
        cpu_write_tsc(c, v);
        msr_kvmclock_update(c);
        return true;
    case MSR_KVM_SYSTEM_TIME:
    case MSR_KVM_SYSTEM_TIME_NEW:
        c->kvm_system_time = v;
        msr_kvmclock_update(c);
        return true;
    case MSR_KVM_WALL_CLOCK:
    case MSR_KVM_WALL_CLOCK_NEW:
        c->kvm_wall_clock = v;
        msr_kvmclock_wall(c, v);
        return true;
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
