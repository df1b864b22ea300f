/* mmu.h — the software TLB and page walker. A TLB hit turns a guest-linear page straight into a
 * host pointer (RAM) for the access kind; a miss walks the 4-level tables, sets A/D bits, checks
 * U/S, R/W with CR0.WP, NX, and raises #PF with the right error code and CR2. MMIO pages and
 * pages holding decoded code are never given a fast write pointer. Owned by mmu.c. */
#pragma once
#include <stdint.h>

#define TLB_ENTRIES 1024 /* direct-mapped, per access kind */

struct tlb_entry {
    uint64_t tag;    /* linear page number | valid, or ~0 when empty */
    uintptr_t addend;/* host address = linear address + addend (RAM pages only) */
};

enum tlb_kind { TLB_READ, TLB_WRITE, TLB_EXEC, TLB_KINDS };

struct tlb {
    struct tlb_entry e[TLB_KINDS][TLB_ENTRIES];
};

struct cpu;

/* Drop every entry (CR3 write without PCID, CR0/CR4 paging changes, mode/CPL changes). */
void tlb_flush_all(struct cpu *c);
/* Drop entries for one linear page (INVLPG). */
void tlb_flush_page(struct cpu *c, uint64_t lin);
/* Guest-physical address of linear `lin` for fetching code (faults like an instruction fetch). */
uint64_t mmu_translate_exec(struct cpu *c, uint64_t lin);
