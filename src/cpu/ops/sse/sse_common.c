/* sse_common.c — the slow paths behind sse_common.h: raising #UD/#NM when SSE is unavailable,
 * SIMD floating-point faults (#XM, or #UD without CR4.OSXMMEXCPT) and pending x87 errors (#MF).
 */
#include "cpu/ops/sse/sse_common.h"

void sse_unavail(struct cpu *c)
{
    if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR)) cpu_fault(c, EXC_UD);
    cpu_fault(c, EXC_NM);
}

void sse_mx_fault(struct cpu *c, uint32_t raised)
{
    /* The faulting instruction writes no destination but its exception flags stick; an
     * unmasked invalid, denormal or divide-by-zero stops before any result is rounded, so
     * only those pre-computation flags are recorded then. */
    if (raised & ~(c->mxcsr >> 7) & 0x7) raised &= 0x7;
    c->mxcsr |= raised & MXCSR_FLAGS;
    cpu_fault(c, (c->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD);
}

void x87_check_pending(struct cpu *c)
{
    /* FSW.ES: an unmasked x87 exception is waiting for the next waiting instruction. With
     * CR0.NE clear the PC would signal FERR# to the PIC instead; vessel's guests set NE. */
    if ((c->fpu.fsw & 0x80) && (c->cr0 & CR0_NE)) cpu_fault(c, EXC_MF);
}
