/* sys_misc.c — software interrupts (INT3, INT1, INT n), UD2, CPUID, RDTSC/RDTSCP, RDMSR/WRMSR
 * (the MSR logic itself lives in msr.c, shared with the vCPU API), CLFLUSH and RDRAND/RDSEED
 * (host getrandom). */
#include <sys/random.h>

#include "cpu/cpuid.h"
#include "cpu/msr.h"
#include "cpu/ops/sys/sys.h"

void sys_int3(struct cpu *c, const struct insn *i)
{
    cpu_soft_int(c, EXC_BP);
}

/* F1: INT1 (ICEBP) is a #DB trap delivered like a hardware exception: the gate's DPL is not
 * checked, and rip is past the instruction. */
void sys_int1(struct cpu *c, const struct insn *i)
{
    c->rip = c->next_rip;
    cpu_fault(c, EXC_DB);
}

void sys_intn(struct cpu *c, const struct insn *i)
{
    cpu_soft_int(c, (unsigned)(i->imm & 0xff));
}

void sys_ud2(struct cpu *c, const struct insn *i)
{
    cpu_fault(c, EXC_UD);
}

void sys_cpuid(struct cpu *c, const struct insn *i)
{
    struct cpuid_regs r;
    cpuid_query(c, (uint32_t)c->gpr[R_RAX], (uint32_t)c->gpr[R_RCX], &r);
    c->gpr[R_RAX] = r.eax;
    c->gpr[R_RBX] = r.ebx;
    c->gpr[R_RCX] = r.ecx;
    c->gpr[R_RDX] = r.edx;
}

static void sys_tsc_check(struct cpu *c)
{
    if ((c->cr4 & CR4_TSD) && c->cpl != 0) cpu_fault_err(c, EXC_GP, 0);
}

static void sys_put_edx_eax(struct cpu *c, uint64_t v)
{
    c->gpr[R_RAX] = (uint32_t)v;
    c->gpr[R_RDX] = v >> 32;
}

void sys_rdtsc(struct cpu *c, const struct insn *i)
{
    sys_tsc_check(c);
    sys_put_edx_eax(c, cpu_read_tsc(c));
}

void sys_rdtscp(struct cpu *c, const struct insn *i)
{
    sys_tsc_check(c);
    sys_put_edx_eax(c, cpu_read_tsc(c));
    c->gpr[R_RCX] = (uint32_t)c->tsc_aux;
}

void sys_rdmsr(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint64_t v;
    if (!msr_read(c, (uint32_t)c->gpr[R_RCX], &v)) cpu_fault_err(c, EXC_GP, 0);
    sys_put_edx_eax(c, v);
}

void sys_wrmsr(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint32_t msr = (uint32_t)c->gpr[R_RCX];
    uint64_t v = (c->gpr[R_RDX] << 32) | (uint32_t)c->gpr[R_RAX];
    if (!msr_write(c, msr, v)) cpu_fault_err(c, EXC_GP, 0);
}

void sys_clflush(struct cpu *c, const struct insn *i)
{
    /* No caches to flush; the operand's address is not even touched (reading it could have
     * MMIO side effects). */
}

void sys_rdrand(struct cpu *c, const struct insn *i)
{
    uint64_t v = 0;
    bool ok = getrandom(&v, i->opsize, GRND_NONBLOCK) == (ssize_t)i->opsize;
    if (!ok) v = 0;
    reg_write(c, i, i->rm, i->opsize, v);
    uint64_t f = flags_read(c) & ~(uint64_t)F_ARITH;
    flags_write(c, f | (ok ? F_CF : 0));
}

/* rdpid r64 (F3 0F C7 /7): IA32_TSC_AUX, any CPL */
void sys_rdpid(struct cpu *c, const struct insn *i)
{
    c->gpr[i->rm] = (uint32_t)c->tsc_aux;
}

/* rdfsbase / rdgsbase / wrfsbase / wrgsbase (F3 0F AE /0-/3, register): 32 bits, or 64 with
 * REX.W (a 32-bit write zero-extends); #UD unless CR4.FSGSBASE, #GP(0) for a non-canonical
 * 64-bit base */
void sys_fsgsbase(struct cpu *c, const struct insn *i)
{
    if (c->mode != MODE_LONG64 || !(c->cr4 & CR4_FSGSBASE)) cpu_fault(c, EXC_UD);
    const unsigned digit = (i->modrm >> 3) & 7, seg = (digit & 1) ? SEG_GS : SEG_FS;
    const bool w = (i->flags & INSN_REXW) != 0;
    if (digit < 2) {
        uint64_t b = c->seg[seg].base;
        c->gpr[i->rm] = w ? b : (uint32_t)b;
        return;
    }
    uint64_t v = w ? c->gpr[i->rm] : (uint32_t)c->gpr[i->rm];
    if (!sys_canonical(v)) cpu_fault_err(c, EXC_GP, 0);
    c->seg[seg].base = v;
}
