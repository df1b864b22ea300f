/* direct.h — the direct-execution engine (docs/DIRECT.md): guest ring-3 64-bit code runs natively
 * in a host stub process (stub.c) while the guest kernel stays in the translator. The run loop
 * (exec/exec.c) hands CPL-3 long-mode code to direct_run; the soft MMU's flush points call
 * direct_tlb_flush so the stub's shadow mappings stay a TLB of the guest's page tables. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct cpu;
struct direct;

/* What the run loop does after direct_run. */
enum direct_result {
    DIRECT_AGAIN, /* state moved on (or an exit request / interrupt is due): loop again */
    DIRECT_STEP,  /* the engine must execute the one instruction at c->rip (it may fault) */
    DIRECT_OFF,   /* not runnable natively now: run this code in the engine */
};

/* A direct engine for c: spawns (or reuses) a stub. NULL with a logged reason when the host or
 * the machine cannot (no memfd-backed RAM, no stub); the caller keeps the translator. Must run
 * before the vCPU thread is confined (it forks and execs the stub). */
struct direct *direct_new(struct cpu *c);
void direct_free(struct direct *d);
/* Run c's ring-3 code natively until it leaves, or budget_end's share of time has passed. */
enum direct_result direct_run(struct cpu *c, uint64_t budget_end);
/* The engine raised #UD at c->rip in ring 3: run that one instruction natively instead (the
 * guest chose it from the host's CPUID). True when it ran (or faulted and was delivered); false
 * to deliver the #UD. May raise guest exceptions (longjmp). */
bool direct_native_one(struct cpu *c);
/* Guest TLB flush: lin = a page (INVLPG) or DIRECT_FLUSH_ALL. */
#define DIRECT_FLUSH_ALL (~0ull)
void direct_tlb_flush(struct cpu *c, uint64_t lin);
/* The flush points that know the PCID (ops/sys/sys_cr.c): a CR3 write (v with its no-flush bit)
 * and INVPCID (type, PCID, address). */
void direct_cr3_write(struct cpu *c, uint64_t v);
void direct_invpcid(struct cpu *c, uint64_t type, uint64_t pcid, uint64_t lin);
/* Thread-safe: wake the vCPU thread waiting for the stub (vcpu_request_exit). */
void direct_kick(struct direct *d);
/* The RAM mapping may have changed under the engine (a snapshot was loaded): check it again. */
void direct_recheck(struct direct *d);
