/* sys.h — internals shared by the system-instruction family (sys_*.c): descriptor-table access,
 * segment loading with protected-mode checks, and the handler prototypes sys_lookup() hands
 * out. The handlers here are the 64-bit ones; sys_legacy.c has the 16/32-bit versions where
 * they differ (docs/CPU-MODES.md). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "cpu/ops/ops.h"

/* Segment attribute fields (struct segcache.attr = descriptor bits 40..55). */
#define SA_TYPE(a)  ((a)&0xfu)
#define SA_S        0x0010u /* code/data (not system) */
#define SA_DPL(a)   (((a) >> 5) & 3u)
#define SA_P        0x0080u
#define SA_L        0x2000u
#define SA_DB       0x4000u
#define SA_G        0x8000u
#define ST_CODE     0x8u /* type bit 3: code segment */
#define ST_CONF     0x4u /* code: conforming */
#define ST_RW       0x2u /* code: readable; data: writable */
#define ST_ACCESSED 0x1u

/* System descriptor types (S = 0) in long mode. */
#define SYS_LDT      0x2u
#define SYS_TSS_AVL  0x9u
#define SYS_TSS_BUSY 0xbu

/* Flat segments used by SYSCALL/SYSRET (attr with P, S, accessed, G). */
#define ATTR_CODE64(dpl) (0xA09Bu | ((dpl) << 5))
#define ATTR_CODE32(dpl) (0xC09Bu | ((dpl) << 5))
#define ATTR_DATA(dpl)   (0xC093u | ((dpl) << 5))

static inline bool sys_canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a; /* shift unsigned: no signed overflow */
}

/* #GP(0) unless CPL 0. */
static inline void sys_need_cpl0(struct cpu *c)
{
    if (c->cpl != 0) cpu_fault_err(c, EXC_GP, 0);
}

/* CR4.UMIP: SGDT, SIDT, SLDT, SMSW and STR are #GP(0) above CPL 0. */
static inline void sys_umip_check(struct cpu *c)
{
    if ((c->cr4 & CR4_UMIP) && c->cpl > 0) cpu_fault_err(c, EXC_GP, 0);
}

static inline uint32_t sys_sel_err(uint16_t sel)
{
    return sel & 0xfffcu;
}

/* Linear address of a memory operand (64-bit mode: only FS/GS contribute a base; elsewhere
 * every segment does, wrapping at 32 bits). */
static inline uint64_t sys_linear(struct cpu *c, const struct insn *i)
{
    return mmu_linear(c, i->seg, insn_ea(c, i));
}

/* ---- descriptors (sys_desc.c) ---- */
/* Read the 8-byte descriptor for `sel` from the GDT or LDT. Returns false if the selector lies
 * beyond the table's limit (or names an unusable LDT); memory faults unwind as usual. */
bool sys_read_desc(struct cpu *c, uint16_t sel, uint64_t *desc);
/* Set the accessed bit of a code/data descriptor in memory (and in *desc). */
void sys_mark_accessed(struct cpu *c, uint16_t sel, uint64_t *desc);
/* Fill a segment cache from a selector and its descriptor. */
void sys_desc_to_seg(struct segcache *s, uint16_t sel, uint64_t desc);
/* Load DS/ES/FS/GS/SS with all protected-mode checks (#GP/#NP/#SS with selector error codes).
 * Nothing is committed when it faults. */
void sys_load_seg(struct cpu *c, unsigned seg, uint16_t sel);
/* Check a code-segment descriptor for a far transfer (far jmp/call/ret, iret) and return it
 * with its accessed bit set (in memory too, so committing it cannot fault); faults
 * #GP(sel)/#NP(sel). is_return: true for returns (RPL selects the new CPL). */
uint64_t sys_check_code(struct cpu *c, uint16_t sel, bool is_return);
/* Commit CS (and RIP) after sys_check_code; new CPL = RPL for returns else CPL. */
void sys_commit_cs(struct cpu *c, uint16_t sel, uint64_t desc, unsigned new_cpl);
/* sys_far.c, shared with sys_legacy.c: the target rip of a far transfer to `cs_desc` (canonical
 * for 64-bit code, else wrapped to 16/32 bits and within the limit); the SS of an outer return
 * (0 for a permitted null selector) and its commit; DS/ES/FS/GS the new CPL may not use
 * become null. */
uint64_t sys_check_target(struct cpu *c, uint64_t rip, uint64_t cs_desc);
uint64_t sys_check_ret_ss(struct cpu *c, uint16_t ss, unsigned new_cpl, bool to64);
void sys_commit_ss(struct cpu *c, uint16_t ss, uint64_t d, unsigned new_cpl);
void sys_scrub_data_segs(struct cpu *c);
/* Outside 64-bit mode (sys_legacy.c): asked before the 64-bit handlers. */
insn_fn sys_legacy_lookup(const struct insn *i);

/* ---- handlers ---- */
/* sys_desc.c */
void sys_mov_from_sreg(struct cpu *c, const struct insn *i);
void sys_mov_to_sreg(struct cpu *c, const struct insn *i);
void sys_push_fsgs(struct cpu *c, const struct insn *i);
void sys_pop_fsgs(struct cpu *c, const struct insn *i);
void sys_lxs(struct cpu *c, const struct insn *i);
void sys_grp6(struct cpu *c, const struct insn *i); /* 0F 00 */
void sys_lar_lsl(struct cpu *c, const struct insn *i);
void sys_lgdt_lidt(struct cpu *c, const struct insn *i);
void sys_sgdt_sidt(struct cpu *c, const struct insn *i);
/* sys_cr.c */
void sys_mov_from_cr(struct cpu *c, const struct insn *i);
void sys_mov_to_cr(struct cpu *c, const struct insn *i);
void sys_mov_from_dr(struct cpu *c, const struct insn *i);
void sys_mov_to_dr(struct cpu *c, const struct insn *i);
void sys_clts(struct cpu *c, const struct insn *i);
void sys_smsw(struct cpu *c, const struct insn *i);
void sys_lmsw(struct cpu *c, const struct insn *i);
void sys_invlpg(struct cpu *c, const struct insn *i);
void sys_invpcid(struct cpu *c, const struct insn *i);
void sys_swapgs(struct cpu *c, const struct insn *i);
void sys_clac_stac(struct cpu *c, const struct insn *i);
void sys_cache_nop(struct cpu *c, const struct insn *i); /* invd, wbinvd */
/* sys_far.c */
void sys_iret(struct cpu *c, const struct insn *i);
void sys_retf(struct cpu *c, const struct insn *i);
void sys_far_call(struct cpu *c, const struct insn *i);
void sys_far_jmp(struct cpu *c, const struct insn *i);
void sys_syscall(struct cpu *c, const struct insn *i);
void sys_sysret(struct cpu *c, const struct insn *i);
/* sys_io.c */
void sys_in(struct cpu *c, const struct insn *i);
void sys_out(struct cpu *c, const struct insn *i);
void sys_ins(struct cpu *c, const struct insn *i);
void sys_outs(struct cpu *c, const struct insn *i);
void sys_cli(struct cpu *c, const struct insn *i);
void sys_sti(struct cpu *c, const struct insn *i);
void sys_hlt(struct cpu *c, const struct insn *i);
/* sys_misc.c */
void sys_int3(struct cpu *c, const struct insn *i);
void sys_int1(struct cpu *c, const struct insn *i);
void sys_intn(struct cpu *c, const struct insn *i);
void sys_ud2(struct cpu *c, const struct insn *i);
void sys_cpuid(struct cpu *c, const struct insn *i);
void sys_rdtsc(struct cpu *c, const struct insn *i);
void sys_rdtscp(struct cpu *c, const struct insn *i);
void sys_rdmsr(struct cpu *c, const struct insn *i);
void sys_wrmsr(struct cpu *c, const struct insn *i);
void sys_clflush(struct cpu *c, const struct insn *i);
void sys_rdrand(struct cpu *c, const struct insn *i); /* rdrand and rdseed */
void sys_rdpid(struct cpu *c, const struct insn *i);
void sys_fsgsbase(struct cpu *c, const struct insn *i); /* rd/wr fs/gs base */
