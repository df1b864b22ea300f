/* mmu.h — the software TLB and page walker. A TLB hit turns a guest-linear page straight into a
 * host pointer (RAM) for the access kind; a miss walks the 4-level tables, sets A/D bits, checks
 * U/S, R/W with CR0.WP, NX, and raises #PF with the right error code and CR2. MMIO pages and
 * pages holding decoded code or under the write watch are never given a fast write pointer.
 * Owned by mmu.c.
 *
 * Privilege is part of every lookup rather than a reason to flush: an entry whose page a CPL-3
 * access may not use carries TLB_KERNEL in its tag, which only supervisor lookups mask away.
 * SMAP is part of the lookup too (tlb_data_hit): while it protects a supervisor data access,
 * only entries carrying TLB_KERNEL (supervisor pages) hit, so user pages take the slow path,
 * where mmu.c decides with RFLAGS.AC and whether the access is implicit. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define TLB_ENTRIES 1024 /* direct-mapped, per access kind */

/* Low tag bits (a tag is otherwise a page-aligned linear address; ~0 when empty). */
#define TLB_SLOW   0x1ull /* no host pointer: MMIO, or a code page for writes; gpa[] says where */
#define TLB_KERNEL 0x2ull /* a CPL-3 access may not use this entry */
/* Low bits of tlb.gpa[][] entries. */
#define TLB_GLOBAL 0x1ull /* kept across CR3 writes when CR4.PGE */
#define TLB_LARGE  0x2ull /* part of a 2 MiB / 1 GiB page (INVLPG must find it) */
#define TLB_UPAGE  0x4ull /* a user page (U/S set at every level), which SMAP guards */
#define TLB_HUGE   0x8ull /* with TLB_LARGE: part of a 1 GiB page (else 2 MiB) */

struct tlb_entry {
    uint64_t tag;     /* linear page | TLB_SLOW | TLB_KERNEL, or ~0 when empty */
    uintptr_t addend; /* host address = linear address + addend (RAM pages only) */
};

enum tlb_kind { TLB_READ, TLB_WRITE, TLB_EXEC, TLB_KINDS };

/* With CR4.PCIDE the TLB in use holds the current PCID's entries (and the global ones); the
 * non-global entries of up to TLB_PCID_SLOTS other PCIDs wait here, least recently used
 * first out, until a CR3 write with bit 63 comes back to their PCID (mmu.c). */
#define TLB_PCID_SLOTS 4

struct tlb_pcid_slot {
    struct tlb_entry e[TLB_KINDS][TLB_ENTRIES];
    uint64_t gpa[TLB_KINDS][TLB_ENTRIES];
    uint64_t used; /* tlb.pcid_clock when it was filled */
    uint16_t pcid;
    bool valid, has_large;
};

struct tlb {
    struct tlb_entry e[TLB_KINDS][TLB_ENTRIES];
    uint64_t gpa[TLB_KINDS][TLB_ENTRIES]; /* guest-physical page | TLB_GLOBAL | TLB_LARGE */
    bool has_large;                       /* some entry carries TLB_LARGE */
    uint64_t cr0, cr4, efer;              /* paging controls the entries were made under */
    uint64_t epoch; /* bumped by every flush and mode change: block links older than this die */
    /* TLB_KERNEL while CR4.SMAP is set, else 0: what supervisor lookups subtract from a tag
     * before masking TLB_KERNEL away (tlb_data_hit); the translator's inline check reads it. */
    uint64_t sup_sub;
    uint64_t pcid_clock;
    struct tlb_pcid_slot slot[TLB_PCID_SLOTS];
};

/* Whether a data TLB entry's tag serves an access to `page` (the page of its last byte for
 * the translator). User lookups (user) need the exact page. Supervisor lookups ignore
 * TLB_KERNEL unless `sub` is TLB_KERNEL (SMAP in force), when they need it: tag - sub then
 * equals page or page|TLB_KERNEL only for a tag of page|TLB_KERNEL, because the tag's low
 * bits are at most TLB_SLOW|TLB_KERNEL. */
static inline bool tlb_data_hit(uint64_t tag, uint64_t page, bool user, uint64_t sub)
{
    return user ? tag == page : ((tag - sub) & ~TLB_KERNEL) == page;
}

struct cpu;

/* Drop every entry (CR3 write without PCID, CR0/CR4 paging changes, mode/CPL changes). */
void tlb_flush_all(struct cpu *c);
/* Drop every entry not marked global (a CR3 write; equals tlb_flush_all without CR4.PGE). */
void tlb_flush_nonglobal(struct cpu *c);
/* Drop entries for one linear page (INVLPG). */
void tlb_flush_page(struct cpu *c, uint64_t lin);
/* A CR3 write with CR4.PCIDE, from PCID `from` to `to`: keep `from`'s entries aside; take
 * `to`'s back if `keep` (bit 63) and they are still there, else drop its non-global ones. */
void tlb_switch_pcid(struct cpu *c, uint16_t from, uint16_t to, bool keep);
/* INVPCID of `type` 0-3 for `pcid` (the current one is CR3[11:0]) and linear `lin`. */
void tlb_invpcid(struct cpu *c, unsigned type, uint16_t pcid, uint64_t lin);
/* Flush everything if CR0.PG/WP, CR4.PGE/PAE/PSE or EFER.NXE/LMA changed since the entries were
 * made (called by cpu_mode_changed, so CR writers need not remember). */
void tlb_check_controls(struct cpu *c);
/* Drop every fast write entry (the vCPU's own thread; others ask through tlb_write_req). */
void tlb_drop_writes(struct cpu *c);
/* Serve other threads' requests to drop the fast write entries (own thread, between blocks). */
void tlb_serve_write_requests(struct cpu *c);
/* Ask every other vCPU on c's bus to drop its fast write entries, and wait until each has (or
 * is outside its run loop, where it serves the request before running again). */
void tlb_shootdown_writes(struct cpu *c);
/* A block was decoded from RAM page `gpa_page`: remove fast write entries pointing into it. */
void tlb_protect_code(struct cpu *c, uint64_t gpa_page);
/* Guest-physical address of linear `lin` for fetching code (faults like an instruction fetch). */
uint64_t mmu_translate_exec(struct cpu *c, uint64_t lin);
/* The same without faulting: false if the fetch would fault. */
bool mmu_probe_exec(struct cpu *c, uint64_t lin, uint64_t *gpa);
/* Copy up to n (<= 16) instruction bytes at linear `lin` into buf. Bytes on a following page
 * that cannot be fetched are left out (the decoder then reports DECODE_SHORT); if not even the
 * first byte can be fetched the fetch faults. gpa[0] is the first byte's guest-physical
 * address; gpa[1] that of the next page (or ~0 if not reached). Returns bytes copied. */
unsigned mmu_fetch(struct cpu *c, uint64_t lin, uint8_t *buf, unsigned n, uint64_t gpa[2]);
/* Linear address of seg:off in the current mode (no checks). */
uint64_t mmu_linear(const struct cpu *c, unsigned seg, uint64_t off);
