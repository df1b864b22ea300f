/* msr.h — the model-specific registers the engine keeps itself, in one place: RDMSR/WRMSR
 * (sys_*.c) and the vcpu_get_msr/vcpu_set_msr API both go through msr_read/msr_write. Unknown
 * MSRs are offered to the platform (c->msr_ops: APIC base, kvmclock, ...). Owned by msr.c. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct cpu;

/* Guest TSC frequency: what CPUID leaf 0x15/0x40000010 and kvmclock report. */
#define CPU_TSC_HZ 2000000000ull

#define MSR_TSC               0x10
#define MSR_APIC_BASE         0x1b
#define MSR_BIOS_SIGN_ID      0x8b /* microcode revision: reads 0 */
#define MSR_MTRRCAP           0xfe
#define MSR_SYSENTER_CS       0x174
#define MSR_SYSENTER_ESP      0x175
#define MSR_SYSENTER_EIP      0x176
#define MSR_MCG_CAP           0x179
#define MSR_MCG_STATUS        0x17a
#define MSR_MISC_ENABLE       0x1a0
#define MSR_ARCH_CAPABILITIES 0x10a
/* An interpreter executes nothing speculatively: it is immune to Meltdown, SSB, MDS, TAA and
 * the MMIO/GDS/RFDS data-sampling families. Saying so spares the guest page-table isolation
 * (a CR3 reload and TLB flush on every system call) and buffer-clearing sequences. Bits:
 * RDCL_NO, SKIP_VMENTRY_L1DFLUSH, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO,
 * FBSDP_NO, PSDP_NO, GDS_NO, RFDS_NO. */
#define ARCH_CAPABILITIES_VALUE                                                                    \
    ((1ull << 0) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) | (1ull << 8) |           \
     (1ull << 13) | (1ull << 14) | (1ull << 15) | (1ull << 26) | (1ull << 27))
#define MSR_MTRR_PHYSBASE0 0x200 /* ..0x20f: 8 base/mask pairs */
#define MSR_MTRR_FIX64K    0x250
#define MSR_MTRR_FIX16K_0  0x258
#define MSR_MTRR_FIX16K_1  0x259
#define MSR_MTRR_FIX4K_0   0x268 /* ..0x26f */
#define MSR_PAT            0x277
#define MSR_MTRR_DEF_TYPE  0x2ff
#define MSR_EFER           0xc0000080
#define MSR_STAR           0xc0000081
#define MSR_LSTAR          0xc0000082
#define MSR_CSTAR          0xc0000083
#define MSR_SFMASK         0xc0000084
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX        0xc0000103

/* Read or write an MSR as RDMSR/WRMSR would. False: the guest gets #GP(0) (unknown MSR, or a
 * reserved bit / non-canonical value on write). msr_write may change the mode (EFER). */
bool msr_read(struct cpu *c, uint32_t msr, uint64_t *value);
bool msr_write(struct cpu *c, uint32_t msr, uint64_t value);

/* Guest TSC: clock_ns() scaled to tsc_hz, plus tsc_offset. */
uint64_t cpu_read_tsc(const struct cpu *c);
void cpu_write_tsc(struct cpu *c, uint64_t value);
