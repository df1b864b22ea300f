/* exec.h — the interpreter's own state and entry points (exec.c): what runs blocks, as opposed
 * to the block cache that holds them (block.h). Block chaining lives here: a block's links and
 * the jump cache say which block came next, checked against the TLB epoch. */
#pragma once
#include <stdint.h>

#include "cpu/exec/block.h"

#define EXEC_JUMP_CACHE 4096

struct exec_state {
    struct block_link jump[EXEC_JUMP_CACHE]; /* by linear rip: where chaining missed */
    uint64_t cur_rip;                        /* linear address of the running block's first insn */
    uint64_t budget_end;                     /* stats.insns value at which vcpu_run returns */
    struct block *recent[16]; /* blocks entered, parallel to cpu.recent_rip (for dumps) */
    uint64_t recent_gen[16];  /* the cache generation each was entered in */
    /* VESSEL_TRACE=PATH[,LO-HI] (a debugging aid, off by default): one line per instruction
     * whose linear address lies in [LO, HI] — CS:EIP, the linear address and the eight
     * 32-bit registers — run one at a time. See docs/FIRMWARE.md. */
    void *trace;
    uint64_t trace_lo, trace_hi;
};

struct exec_state *exec_state_new(void);
void exec_state_free(struct exec_state *ex);
/* The run loop: run for `budget` instructions (or until halt, an exit request or shutdown). */
enum vcpu_exit exec_run(struct cpu *c, uint64_t budget);
