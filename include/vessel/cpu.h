/* cpu.h — the execution-engine API. The machine creates a vCPU over a bus, gives it an
 * interrupt controller to ask for pending vectors, and runs it for a budget of instructions.
 * Nothing outside src/cpu/ sees the engine's internals; a KVM back-end would implement the
 * same functions (src/accel/). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bus;
struct vcpu;
struct state_writer;
struct state_reader;

/* How guest instructions run. DEFAULT is JIT on x86-64 hosts unless the environment variable
 * VESSEL_ENGINE (jit|interp|direct) says otherwise (the tests run every engine that way). */
enum vcpu_engine {
    VCPU_ENGINE_DEFAULT,
    VCPU_ENGINE_INTERP, /* the interpreter over decoded blocks */
    VCPU_ENGINE_JIT,    /* hot blocks translated to host code; the interpreter for the rest */
    /* guest ring-3 64-bit code natively in a host stub process, the kernel as JIT
     * (docs/DIRECT.md); needs memfd-backed RAM and the host CPU model */
    VCPU_ENGINE_DIRECT,
};

enum vcpu_exit {
    VCPU_EXIT_BUDGET,   /* ran the requested number of instructions */
    VCPU_EXIT_HLT,      /* halted with nothing pending: sleep until an event, then run again */
    VCPU_EXIT_REQUEST,  /* vcpu_request_exit() was called */
    VCPU_EXIT_SHUTDOWN, /* triple fault: the VM is dead; vcpu_dump() says why */
    VCPU_EXIT_INTERNAL, /* engine error (a bug, not guest behaviour); vcpu_dump() says why */
};

/* The local interrupt controller as the CPU sees it (the LAPIC in a PC). */
struct vcpu_intc_ops {
    /* Highest-priority deliverable vector (already masked by TPR/PPR), or -1. */
    int (*pending)(void *opaque);
    /* The CPU is taking `vector` now (moves it from IRR to ISR). */
    void (*ack)(void *opaque, int vector);
    /* CR8 is TPR[7:4]. */
    void (*set_tpr)(void *opaque, uint8_t tpr);
    uint8_t (*get_tpr)(void *opaque);
};

/* MSRs the engine does not implement itself (APIC base, kvmclock, ...) are offered to the
 * platform; return true if handled, false to make the guest take #GP. */
struct vcpu_msr_ops {
    bool (*read)(void *opaque, uint32_t msr, uint64_t *value);
    bool (*write)(void *opaque, uint32_t msr, uint64_t value);
};

struct vcpu_regs {
    uint64_t gpr[16]; /* rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
    uint64_t rip, rflags;
};

struct vcpu_segment {
    uint16_t selector;
    uint64_t base;
    uint32_t limit; /* byte granular, already scaled */
    uint16_t attr; /* descriptor bits 40..55: type(4) s dpl(2) p | limit19:16(ignored) avl l db g */
};

enum vcpu_seg { VSEG_ES, VSEG_CS, VSEG_SS, VSEG_DS, VSEG_FS, VSEG_GS, VSEG_LDTR, VSEG_TR };

struct vcpu_sregs {
    struct vcpu_segment seg[8]; /* indexed by enum vcpu_seg */
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint64_t cr0, cr2, cr3, cr4, efer;
};

struct vcpu_stats {
    uint64_t insns;          /* guest instructions retired */
    uint64_t blocks_built;   /* decoded blocks created */
    uint64_t blocks_flushed; /* blocks dropped by self-modifying code or flushes */
    uint64_t exceptions;     /* exceptions delivered */
    uint64_t interrupts;     /* external interrupts delivered */
    uint64_t ud;             /* #UD raised for undecodable/unsupported instructions */
    uint64_t tlb_misses;
};

/* A vCPU in its reset state over `bus`. NULL (with a message on stderr naming the reason) when
 * memory runs out or the host CPU lacks an instruction-set extension the engine executes on the
 * host (SSE3, SSSE3, SSE4.1, SSE4.2: src/cpu/ops/host.c). */
struct vcpu *vcpu_create(struct bus *bus, unsigned id);
/* The CPU model the guest sees (docs/CPU-MODEL.md): one per process, chosen before the first
 * vCPU is created: "x86-64-v2" (the default, also for NULL or ""), "x86-64-v3" or "host".
 * Returns 0, or -1 with a message in err for an unknown name or a model this host CPU cannot
 * provide. Restoring a "cpu" section adopts the model it records. */
int vcpu_model_select(const char *name, char *err, size_t errlen);
const char *vcpu_model_name(void);
void vcpu_destroy(struct vcpu *v);
void vcpu_set_intc(struct vcpu *v, const struct vcpu_intc_ops *ops, void *opaque);
void vcpu_set_msr_ops(struct vcpu *v, const struct vcpu_msr_ops *ops, void *opaque);
/* Select the engine (between runs). jit_cache is the translator's code cache in bytes (0: the
 * default, 64 MiB). Returns 0, or -1 if the host cannot run translated code (the interpreter
 * is used then). */
int vcpu_set_engine(struct vcpu *v, enum vcpu_engine e, size_t jit_cache);
enum vcpu_engine vcpu_get_engine(const struct vcpu *v);
/* The engine DEFAULT stands for here (VESSEL_ENGINE), and whether engine e needs guest RAM in a
 * descriptor (memfd) that a host stub process can map: DIRECT does. */
enum vcpu_engine vcpu_engine_resolve(enum vcpu_engine e);

/* Run until `budget` instructions retired, HLT, shutdown, or an exit request. */
enum vcpu_exit vcpu_run(struct vcpu *v, uint64_t budget);
/* Thread-safe: make vcpu_run return soon (also wakes nothing; the caller owns sleeping). */
void vcpu_request_exit(struct vcpu *v);
/* Whether the vCPU is halted (HLT executed, waiting for an interrupt). */
bool vcpu_halted(const struct vcpu *v);
/* Re-arm RAM dirty tracking: forget the engine's fast write mappings, so the next store to any
 * page marks it dirty again (BUS_PAGE_WRITTEN) (a caller that cleared dirty bits it consumed, such
 * as the framebuffer scan, calls this). Between vcpu_run calls; from a thread other than the one
 * running the vCPU it is a request, carried out before the vCPU next runs a block. */
void vcpu_rearm_dirty(struct vcpu *v);
/* INIT (a start-up IPI or the ACPI mailbox follows): the architectural reset state (real mode
 * at F000:FFF0), keeping the TSC, the platform hooks and the engine's caches. The vCPU's own
 * thread, between runs. */
void vcpu_init_reset(struct vcpu *v);
/* v's TSC reads as from's (several vCPUs of one machine share one TSC). */
void vcpu_sync_tsc(struct vcpu *v, const struct vcpu *from);

void vcpu_get_regs(const struct vcpu *v, struct vcpu_regs *r);
void vcpu_set_regs(struct vcpu *v, const struct vcpu_regs *r);
void vcpu_get_sregs(const struct vcpu *v, struct vcpu_sregs *s);
void vcpu_set_sregs(struct vcpu *v, const struct vcpu_sregs *s);
/* Engine-implemented MSRs only; returns false for unknown ones. */
bool vcpu_get_msr(const struct vcpu *v, uint32_t msr, uint64_t *value);
bool vcpu_set_msr(struct vcpu *v, uint32_t msr, uint64_t value);
/* Guest TSC frequency in Hz (what kvmclock and CPUID report). */
uint64_t vcpu_tsc_hz(const struct vcpu *v);
uint64_t vcpu_read_tsc(const struct vcpu *v);

void vcpu_get_stats(const struct vcpu *v, struct vcpu_stats *s);
/* Registers, control state, last instructions, exit reason: for crash diagnostics. */
void vcpu_dump(const struct vcpu *v, FILE *out);
const char *vcpu_exit_reason(const struct vcpu *v);

/* Versioned state, section "cpu". Load returns 0 or -1 with a logged reason. */
void vcpu_save(const struct vcpu *v, struct state_writer *w);
int vcpu_load(struct vcpu *v, struct state_reader *r);
