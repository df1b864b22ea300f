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

void sys_int1(struct cpu *c, const struct insn *i)
{
    cpu_soft_int(c, EXC_DB);
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
