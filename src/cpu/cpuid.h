/* cpuid.h — the CPU model vessel presents: CPUID leaves built from what the engine really
 * implements (feature bits probed through the decoder and exec_lookup), plus the fixed platform
 * facts the MMU and the rest of the engine must agree with. Owned by the system family. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Address widths reported by CPUID 0x80000008; the MMU's reserved-bit checks use the same. */
#define CPUID_PHYS_ADDR_BITS   40
#define CPUID_LINEAR_ADDR_BITS 48

struct cpu;

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

/* CPUID for `leaf`/`subleaf` as vCPU `c` sees it. */
void cpuid_query(const struct cpu *c, uint32_t leaf, uint32_t subleaf, struct cpuid_regs *out);
/* The XCR0 bits (user state components) this model supports: x87 and SSE, and AVX when
 * CPUID advertises it. XSETBV accepts nothing else; leaf 0xD describes exactly these. */
uint64_t cpuid_xcr0_supported(void);
