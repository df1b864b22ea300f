/* core.h — the engine's internal contract: architectural state (struct cpu), the decoded
 * instruction record (struct insn), and the few primitives every instruction family uses
 * (register and operand access, effective addresses, memory access, faults, flags).
 *
 * Ownership: decode/ fills struct insn; the families in ops/ (int, sse, x87, sys) provide
 * handlers found through exec_lookup() (ops/ops.h); mmu.c implements memory access and the TLB;
 * cpu.c raises faults and resets; exec/ caches blocks, runs them and delivers events. Faults
 * unwind with longjmp to whichever executor set fault_jmp, so a handler must finish all its
 * reads (and any access that can fault) before it commits state. Layers and what each may
 * include: docs/ARCHITECTURE.md.
 */
#pragma once
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "vessel/bus.h"
#include "vessel/cpu.h"

#include "cpu/flags.h"
#include "cpu/mmu.h"

enum gpr {
    R_RAX,
    R_RCX,
    R_RDX,
    R_RBX,
    R_RSP,
    R_RBP,
    R_RSI,
    R_RDI,
    R_R8,
    R_R9,
    R_R10,
    R_R11,
    R_R12,
    R_R13,
    R_R14,
    R_R15
};
#define REG_NONE 0xff /* no base / no index */
#define REG_RIP  0x10 /* base = RIP-relative (disp added to the next instruction's address) */

/* Segment registers in encoding order (same as enum vcpu_seg). */
enum seg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };
#define SEG_NONE 0xff /* linear address: no segment base (system structures) */

/* RFLAGS bits */
#define F_CF    0x0001u
#define F_PF    0x0004u
#define F_AF    0x0010u
#define F_ZF    0x0040u
#define F_SF    0x0080u
#define F_TF    0x0100u
#define F_IF    0x0200u
#define F_DF    0x0400u
#define F_OF    0x0800u
#define F_IOPL  0x3000u
#define F_NT    0x4000u
#define F_RF    0x10000u
#define F_VM    0x20000u
#define F_AC    0x40000u
#define F_VIF   0x80000u
#define F_VIP   0x100000u
#define F_ID    0x200000u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* Control registers and EFER */
#define CR0_PE         0x1ull
#define CR0_MP         0x2ull
#define CR0_EM         0x4ull
#define CR0_TS         0x8ull
#define CR0_ET         0x10ull
#define CR0_NE         0x20ull
#define CR0_WP         0x10000ull
#define CR0_AM         0x40000ull
#define CR0_NW         0x20000000ull
#define CR0_CD         0x40000000ull
#define CR0_PG         0x80000000ull
#define CR4_VME        0x1ull
#define CR4_PVI        0x2ull
#define CR4_TSD        0x4ull
#define CR4_DE         0x8ull
#define CR4_PSE        0x10ull
#define CR4_PAE        0x20ull
#define CR4_MCE        0x40ull
#define CR4_PGE        0x80ull
#define CR4_PCE        0x100ull
#define CR4_OSFXSR     0x200ull
#define CR4_OSXMMEXCPT 0x400ull
#define CR4_UMIP       0x800ull
#define CR4_FSGSBASE   0x10000ull
#define CR4_PCIDE      0x20000ull
#define CR4_OSXSAVE    0x40000ull
#define CR4_SMEP       0x100000ull
#define CR4_SMAP       0x200000ull

/* DR6 status bits (debug registers, SDM Vol. 3A 17.2) */
#define DR6_BD 0x2000ull /* debug register access detected */
#define DR6_BS 0x4000ull /* single step */
#define DR6_BT 0x8000ull /* task switch */
#define DR7_EN 0xffull   /* L0 G0 .. L3 G3: any breakpoint enabled */
#define DR7_GD 0x2000ull /* general detect: MOV DR raises #DB */
enum { DR_RW_EXEC, DR_RW_WRITE, DR_RW_IO, DR_RW_RDWR };

#define EFER_SCE 0x1ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull
#define EFER_NXE 0x800ull

/* What this CPU model lets software set (MOV to CR0/CR4, WRMSR EFER) and so what a loaded state
 * may hold. CR0.ET is hardwired to 1. CR4 has only bits backed by what CPUID advertises (no
 * VME/PVI, SMAP); MCE is accepted as a harmless no-op. */
#define CR0_KNOWN                                                                                  \
    (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD |     \
     CR0_PG)
#define CR4_KNOWN                                                                                  \
    (CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR |             \
     CR4_OSXMMEXCPT | CR4_FSGSBASE | CR4_OSXSAVE | CR4_SMEP | CR4_SMAP | CR4_UMIP | CR4_PCIDE)
#define EFER_KNOWN (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

/* XCR0 state components (XSETBV, the XSAVE family: ops/sse/sse_xsave.c) */
#define XCR0_X87 0x1ull
#define XCR0_SSE 0x2ull
#define XCR0_AVX 0x4ull

/* Exception vectors */
enum {
    EXC_DE = 0,
    EXC_DB = 1,
    EXC_NMI = 2,
    EXC_BP = 3,
    EXC_OF = 4,
    EXC_BR = 5,
    EXC_UD = 6,
    EXC_NM = 7,
    EXC_DF = 8,
    EXC_TS = 10,
    EXC_NP = 11,
    EXC_SS = 12,
    EXC_GP = 13,
    EXC_PF = 14,
    EXC_MF = 16,
    EXC_AC = 17,
    EXC_MC = 18,
    EXC_XM = 19
};

/* Decoding mode: CR0.PE, EFER.LMA, CS.L and CS.D (docs/CPU-MODES.md). */
enum cpu_mode { MODE_REAL, MODE_PROT16, MODE_PROT32, MODE_COMPAT16, MODE_COMPAT32, MODE_LONG64 };

struct segcache {
    uint16_t sel;
    uint64_t base;
    uint32_t limit;
    uint16_t attr; /* as struct vcpu_segment.attr */
};

union xmm {
    uint8_t b[16];
    uint16_t w[8];
    uint32_t d[4];
    uint64_t q[2];
    int8_t sb[16];
    int16_t sw[8];
    int32_t sd[4];
    int64_t sq[2];
    float f[4];
    double fd[2];
};

/* x87: physical registers R0..R7 kept as host long double (80-bit extended on x86-64 hosts),
 * so arithmetic is the host FPU's own. ST(i) = st[(top + i) & 7]. */
#define MXCSR_WRITABLE 0xffffu /* MXCSR_MASK as fxsave reports it: other bits are #GP */

struct fpu {
    long double st[8];
    uint16_t fcw, fsw; /* fsw bits 13:11 hold TOP */
    uint16_t ftw;      /* full tag word, 2 bits per physical register (11 = empty) */
    uint16_t fop;
    uint64_t fip, fdp;
    uint64_t mm_raw[8]; /* unused unless MMX aliasing needs the raw mantissa */
};

/* Event kinds: how an event was raised and is being delivered (the IDT gate's DPL check and
 * the frame's return address differ for software interrupts; external events set EXT). */
enum { EV_EXC, EV_SOFT, EV_EXT };

struct insn;
struct cpu;
typedef void (*insn_fn)(struct cpu *c, const struct insn *i);

/* struct insn flags */
#define INSN_MEM    0x0001 /* ModRM names memory (mod != 3) */
#define INSN_REX    0x0002 /* a REX prefix was present (selects SPL/BPL/SIL/DIL over AH..BH) */
#define INSN_REXW   0x0004
#define INSN_LOCK   0x0008
#define INSN_REP    0x0010 /* F3 */
#define INSN_REPNE  0x0020 /* F2 */
#define INSN_OPSZ   0x0040 /* 66 */
#define INSN_ADSZ   0x0080 /* 67 */
#define INSN_BRANCH 0x0100 /* may transfer control or change mode: ends a block */
#define INSN_SEGOVR 0x0200 /* a segment override prefix was present */
/* Re-executes itself (next_rip = rip) until done, in chunks: a rep string instruction. Like a
 * branch it must be the last instruction of its block; unlike one it stays in the block's mode
 * and page. Set by the decoder, so every executor agrees. */
#define INSN_RESTART 0x0400
/* VEX-encoded (C4/C5): op's map is 5, 6 or 7 (4 + VEX.m-mmmm), vreg holds VEX.vvvv (the
 * register it names, 0..15), INSN_VEXL is VEX.L and INSN_REXW is VEX.W. */
#define INSN_VEX  0x0800
#define INSN_VEXL 0x1000

/* Mandatory-prefix class for SSE opcodes: the last of 66/F3/F2 that selects the form. */
enum { MP_NONE, MP_66, MP_F3, MP_F2 };

/* One decoded instruction. Operand fields are resolved (REX applied); handlers never look at
 * instruction bytes. */
struct insn {
    insn_fn fn;       /* handler, from exec_lookup() when the block is built */
    uint64_t imm;     /* first immediate, sign- or zero-extended as the opcode defines */
    int32_t disp;     /* memory displacement (sign-extended) */
    uint16_t op;      /* opcode: map << 8 | byte; maps 0 = one-byte, 1 = 0F, 2 = 0F38, 3 = 0F3A */
    uint16_t flags;   /* INSN_* */
    uint8_t len;      /* bytes, 1..15 */
    uint8_t opsize;   /* effective operand size in bytes: 1, 2, 4 or 8 */
    uint8_t addrsize; /* effective address size in bytes: 2, 4 or 8 */
    uint8_t modrm;    /* raw ModRM byte (0 if none) */
    uint8_t reg;   /* ModRM.reg | REX.R << 3 (or the low opcode bits | REX.B << 3 for +r forms) */
    uint8_t rm;    /* ModRM.rm | REX.B << 3; a register operand when !(flags & INSN_MEM) */
    uint8_t base;  /* memory base register, REG_RIP, or REG_NONE */
    uint8_t index; /* memory index register or REG_NONE */
    uint8_t scale; /* index shift, 0..3 */
    uint8_t seg;   /* segment of the memory operand (override or default) */
    uint8_t mp;    /* MP_* */
    uint8_t imm2;  /* second immediate (ENTER's nesting level) */
    uint8_t vreg;  /* VEX.vvvv as a register number (0 without VEX) */
    uint8_t mode;  /* enum cpu_mode it was decoded in (16/32-bit-only forms look at it) */
};

struct cpu {
    /* hot state */
    uint64_t gpr[16];
    uint64_t rip;      /* start of the executing instruction (fault address) */
    uint64_t next_rip; /* set to rip + len before a handler runs; branches overwrite it */
    uint64_t rflags;   /* arithmetic bits valid only while lf.op == FL_NONE; use flags_read() */
    struct lazy_flags lf;
    struct tlb tlb;

    struct segcache seg[8]; /* ES CS SS DS FS GS LDTR TR */
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint64_t cr0, cr2, cr3, cr4, efer;
    uint64_t dr[8];
    uint8_t dr_hits; /* DR6.B0-B3 of data breakpoints the current instruction hit (exec.c) */
    unsigned cpl;
    enum cpu_mode mode;

    union xmm xmm[16];
    union xmm ymm_hi[16]; /* bits 255:128 of YMM0-15 (the AVX state component) */
    uint64_t xcr0;        /* XFEATURE_ENABLED_MASK (XSETBV); bit 0 always set */
    uint32_t mxcsr;
    struct fpu fpu;

    /* MSRs the engine keeps */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux, pat, misc_enable;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t tsc_offset; /* guest TSC = host-derived TSC + tsc_offset */
    uint64_t tsc_hz;
    uint64_t mtrr_def_type, mtrr_fixed[11], mtrr_var[16];

    /* events */
    bool halted;
    bool intr_shadow;   /* STI / MOV SS: no interrupt before the next instruction retires */
    int exc_vector;     /* vector being delivered (for #DF escalation), or -1 */
    uint32_t exc_error; /* error code for the fault being raised (if any) */
    bool exc_has_error;
    int pending_exc;         /* raised by cpu_fault, delivered by the loop; -1 if none */
    unsigned exc_raise_kind; /* EV_* of pending_exc */
    int exc_deliver_kind;    /* EV_* of the event being delivered (exc_vector), -1 if none */
    jmp_buf fault_jmp;       /* set by the run loop; cpu_fault longjmps here */
    volatile int exit_request;
    /* Several vCPUs on one bus (docs/SMP.md): another thread asks this vCPU to drop its fast
     * write mappings (a page became code, or dirty tracking re-armed) by bumping tlb_write_req;
     * the vCPU's own thread does it between blocks and publishes the request it served in
     * tlb_write_done. in_run: the vCPU is inside exec_run (a vCPU outside serves requests on
     * entry, so nobody waits for it). All atomic. */
    uint64_t tlb_write_req, tlb_write_done;
    int in_run;
    enum vcpu_exit exit;
    char exit_why[160];

    const struct vcpu_intc_ops *intc;
    void *intc_opaque;
    const struct vcpu_msr_ops *msr_ops;
    void *msr_opaque;

    struct bus *bus;
    struct block_cache *blocks; /* decoded-block cache (exec/block.c) */
    struct exec_state *exec;    /* the interpreter's state (exec/exec.c) */
    struct jit *jit;            /* the translator (jit/), or NULL to interpret only */
    struct direct *direct;      /* ring-3 code natively (direct/), or NULL */
    unsigned id;
    struct vcpu_stats stats;
    uint64_t recent_rip[16]; /* ring of recently executed instruction addresses, for dumps */
    unsigned recent_pos;
};

/* ---- faults (cpu.c) ---- */
/* Abort the current instruction and deliver `vector` (without / with an error code).
 * rip still points at the faulting instruction. */
_Noreturn void cpu_fault(struct cpu *c, unsigned vector);
_Noreturn void cpu_fault_err(struct cpu *c, unsigned vector, uint32_t error);
/* Trap-style software interrupt (INT n, INT3, INTO): delivered with rip = next_rip. */
_Noreturn void cpu_soft_int(struct cpu *c, unsigned vector);
/* Recompute cpl/mode and flush what depends on them after CS, CR0, CR4 or EFER change. */
void cpu_mode_changed(struct cpu *c);

/* ---- debug registers ---- */
/* DR6.B0-B3 bits of the enabled DR0-DR3 breakpoints of type `rw` (a DR_RW_*; DR_RW_WRITE also
 * matches read/write ones, DR_RW_RDWR only those) that [lin, lin + n) touches. The address is
 * aligned down to the breakpoint's length (1, 2, 8 or 4 bytes for LEN 0-3). */
static inline unsigned cpu_dr_match(const struct cpu *c, uint64_t lin, unsigned n, unsigned rw)
{
    unsigned hits = 0;
    uint64_t dr7 = c->dr[7];
    for (unsigned k = 0; k < 4; k++) {
        if (!((dr7 >> (2 * k)) & 3)) continue;
        unsigned t = (dr7 >> (16 + 4 * k)) & 3, lenc = (dr7 >> (18 + 4 * k)) & 3;
        if (rw == DR_RW_EXEC) {
            if (t == DR_RW_EXEC && c->dr[k] == lin) hits |= 1u << k;
            continue;
        }
        if (t != DR_RW_RDWR && !(t == DR_RW_WRITE && rw == DR_RW_WRITE)) continue;
        uint64_t len = lenc == 2 ? 8 : lenc + 1u, a = c->dr[k] & ~(len - 1);
        if (lin < a + len && a < lin + n) hits |= 1u << k;
    }
    return hits;
}

/* ---- registers ---- */
static inline uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* Read register r at size bytes. For size 1 without REX, r = 4..7 name AH, CH, DH, BH. */
static inline uint64_t reg_read(const struct cpu *c, const struct insn *i, unsigned r,
                                unsigned size)
{
    if (size == 1 && !(i->flags & INSN_REX) && r >= 4 && r < 8) return (c->gpr[r - 4] >> 8) & 0xff;
    return c->gpr[r] & size_mask(size);
}

/* Write with x86-64 semantics: 32-bit writes zero the upper half; 8/16-bit writes merge. */
static inline void reg_write(struct cpu *c, const struct insn *i, unsigned r, unsigned size,
                             uint64_t v)
{
    switch (size) {
    case 1:
        if (!(i->flags & INSN_REX) && r >= 4 && r < 8)
            c->gpr[r - 4] = (c->gpr[r - 4] & ~0xff00ull) | ((v & 0xff) << 8);
        else
            c->gpr[r] = (c->gpr[r] & ~0xffull) | (v & 0xff);
        break;
    case 2: c->gpr[r] = (c->gpr[r] & ~0xffffull) | (v & 0xffff); break;
    case 4: c->gpr[r] = (uint32_t)v; break;
    default: c->gpr[r] = v; break;
    }
}

/* ---- effective addresses ---- */
/* Offset of the memory operand (before the segment base), truncated to the address size. */
static inline uint64_t insn_ea(const struct cpu *c, const struct insn *i)
{
    uint64_t ea = (uint64_t)(int64_t)i->disp;
    if (i->base == REG_RIP)
        ea += c->next_rip;
    else if (i->base != REG_NONE)
        ea += c->gpr[i->base];
    if (i->index != REG_NONE) ea += c->gpr[i->index] << i->scale;
    if (i->addrsize == 4)
        ea = (uint32_t)ea;
    else if (i->addrsize == 2)
        ea = (uint16_t)ea;
    return ea;
}

/* ---- memory (mmu.c) ----
 * seg is a SEG_* (its base is added: FS/GS only in long mode) or SEG_NONE for linear addresses.
 * All of these fault (longjmp) on #PF/#GP/#SS; accesses may cross pages and hit MMIO. */
void mem_read(struct cpu *c, unsigned seg, uint64_t off, void *dst, unsigned n);
void mem_write(struct cpu *c, unsigned seg, uint64_t off, const void *src, unsigned n);
uint64_t mem_read_n(struct cpu *c, unsigned seg, uint64_t off, unsigned size); /* 1,2,4,8 */
void mem_write_n(struct cpu *c, unsigned seg, uint64_t off, uint64_t v, unsigned size);
/* Supervisor-privilege accesses regardless of CPL (descriptor tables, TSS, IDT). */
void mem_read_sys(struct cpu *c, uint64_t lin, void *dst, unsigned n);
void mem_write_sys(struct cpu *c, uint64_t lin, const void *src, unsigned n);
/* Check that a write of n bytes at seg:off would succeed (for instructions that must not
 * half-commit, e.g. before popping a value whose destination is memory). Faults if not. */
void mem_probe_write(struct cpu *c, unsigned seg, uint64_t off, unsigned n);

/* Locked read-modify-write (mmu.c): a host pointer to the n bytes at seg:off for an update
 * with host atomics, translated as a write (faults like one), or NULL when they cross a cache
 * line or page, are not RAM, or a data breakpoint is armed (the caller then updates under
 * mem_lock_fallback). mem_rmw_end reports the write (dirty, code, write watch) after it. */
struct mem_rmw {
    uint64_t gpa, lin;
    unsigned n;
    bool notify;
};
uint8_t *mem_rmw_begin(struct cpu *c, unsigned seg, uint64_t off, unsigned n, struct mem_rmw *r);
void mem_rmw_end(struct cpu *c, const struct mem_rmw *r);

/* ---- operands ---- */
/* The r/m operand at `size` bytes: register or memory. */
static inline uint64_t rm_read(struct cpu *c, const struct insn *i, unsigned size)
{
    if (i->flags & INSN_MEM) return mem_read_n(c, i->seg, insn_ea(c, i), size);
    return reg_read(c, i, i->rm, size);
}
static inline void rm_write(struct cpu *c, const struct insn *i, unsigned size, uint64_t v)
{
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), v, size);
    else
        reg_write(c, i, i->rm, size, v);
}

/* Stack: push/pop `size` bytes. The stack pointer is RSP in 64-bit mode, else ESP or SP as
 * SS.B says (cpu_sp_mask); a 16-bit stack keeps the upper bits of ESP. */
void stack_push(struct cpu *c, uint64_t v, unsigned size);
uint64_t stack_pop(struct cpu *c, unsigned size);

static inline uint64_t cpu_sp_mask(const struct cpu *c)
{
    if (c->mode == MODE_LONG64) return ~0ull;
    return (c->seg[SEG_SS].attr & 0x4000) ? 0xffffffffull : 0xffffull;
}
/* Set the stack pointer's `mask` bits (from cpu_sp_mask) to sp. */
static inline void cpu_sp_set(struct cpu *c, uint64_t sp, uint64_t mask)
{
    c->gpr[R_RSP] = (c->gpr[R_RSP] & ~mask) | (sp & mask);
}

/* ---- lifecycle (cpu.c) and stepping (exec/exec.c) ---- */
/* Architectural reset state (real mode at F000:FFF0), RAM from `bus`. */
void cpu_reset(struct cpu *c, struct bus *bus);
/* Test and direct-boot helper: 64-bit mode, flat segments at the given CPL, paging as set by
 * cr0/cr3 afterwards. With CR0.PG clear the MMU maps linear = physical (a state real hardware
 * cannot be in, used by the differential tests to run without page tables). */
void cpu_setup_flat64(struct cpu *c, unsigned cpl);
/* Execute exactly one instruction at rip, bypassing the block cache. Returns -1 if it retired,
 * or the vector of the exception it raised. With deliver=false the exception is not delivered
 * (state is as the fault left it: rip at the instruction); with deliver=true it is. */
int cpu_step(struct cpu *c, bool deliver);
