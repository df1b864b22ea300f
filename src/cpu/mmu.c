/* mmu.c — guest memory access for the engine: segment bases to linear addresses, the soft TLB,
 * the 4-level page walk (4 KiB / 2 MiB / 1 GiB pages, NX, U/S, R/W with CR0.WP, global pages,
 * Accessed/Dirty, reserved bits, SMEP and SMAP) and the RAM/MMIO access paths.
 *
 * The fast path is one TLB compare and a host load or store. Everything else (misses, MMIO,
 * page-crossing accesses, writes to pages holding decoded code or under a write watch) goes
 * through the slow path, which translates every page an access touches before it moves a
 * byte, so a faulting store never half-commits; its RAM stores tell the bus who wrote (RIP,
 * linear address, CR3, CPL) for the write watch. With paging off, linear = physical and the
 * same TLB caches it. */
#include <string.h>

#include <sched.h>

#include "cpu/core.h"
#include "cpu/exec/block.h"
#include "cpu/cpuid.h"
#include "cpu/direct/direct.h"

#define PG_P    0x1ull
#define PG_RW   0x2ull
#define PG_US   0x4ull
#define PG_A    0x20ull
#define PG_D    0x40ull
#define PG_PS   0x80ull
#define PG_G    0x100ull
#define PG_NX   (1ull << 63)
#define PG_MAX  ((1ull << CPUID_PHYS_ADDR_BITS) - 1)
#define PG_ADDR (PG_MAX & ~0xfffull)

/* #PF error code bits */
#define PF_P    0x1u
#define PF_W    0x2u
#define PF_U    0x4u
#define PF_RSVD 0x8u
#define PF_I    0x10u

#define PAGE_MASK (~0xfffull)

/* Pages whose writes must be seen one by one: decoded code, the write watch (bus.h). */
#define MMU_SLOW_WRITE (BUS_PAGE_CODE | BUS_PAGE_WATCH)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* One translated page of an access: where its bytes live. */
struct xlat {
    uint64_t gpa;  /* guest-physical address of the first byte used */
    uint8_t *host; /* RAM pointer for that byte, or NULL for MMIO */
};

/* Result of a walk. */
struct walk {
    uint64_t gpa; /* physical address of lin */
    bool user_ok; /* a CPL-3 access of this kind is permitted too */
    bool global;
    bool large;
    bool huge;  /* a 1 GiB page */
    bool upage; /* U/S set at every level */
};

static inline uint64_t tag_mask(bool user)
{
    return user ? ~0ull : ~TLB_KERNEL;
}

/* SMEP: a supervisor fetch may not use an entry of a user page (one without TLB_KERNEL in
 * the code TLB), so it misses and the walk raises the #PF. */
static inline bool mmu_smep_miss(const struct cpu *c, bool user, uint64_t tag)
{
    return !user && !(tag & TLB_KERNEL) && (c->cr4 & CR4_SMEP);
}

/* SMAP: whether a supervisor data access may not touch user pages. Implicit accesses (sys:
 * descriptor tables, the TSS) are always held to it; explicit ones unless RFLAGS.AC is set. */
static inline bool mmu_smap(const struct cpu *c, bool sys)
{
    return (c->cr4 & CR4_SMAP) && (sys || !(c->rflags & F_AC));
}

/* tlb_data_hit's `sub` for an explicit access at the current CPL and RFLAGS.AC. */
static inline uint64_t mmu_sup_sub(const struct cpu *c)
{
    return c->cpl != 3 && mmu_smap(c, false) ? TLB_KERNEL : 0;
}

static inline uint64_t mmu_lin(const struct cpu *c, unsigned seg, uint64_t off)
{
    if (seg == SEG_NONE) return c->mode == MODE_LONG64 ? off : (uint32_t)off;
    if (c->mode == MODE_LONG64)
        return (seg == SEG_FS || seg == SEG_GS) ? off + c->seg[seg].base : off;
    return (uint32_t)(off + c->seg[seg].base);
}

uint64_t mmu_linear(const struct cpu *c, unsigned seg, uint64_t off)
{
    return mmu_lin(c, seg, off);
}

static inline bool mmu_canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* ---- TLB maintenance ---- */

void tlb_flush_all(struct cpu *c)
{
    memset(c->tlb.e, 0xff, sizeof(c->tlb.e)); /* tag ~0: never matches an aligned page */
    c->tlb.has_large = false;
    c->tlb.epoch++;
    c->tlb.cr0 = c->cr0;
    c->tlb.cr4 = c->cr4;
    c->tlb.efer = c->efer;
    if (c->direct) direct_tlb_flush(c, DIRECT_FLUSH_ALL); /* the stub's shadow is a TLB too */
    c->tlb.sup_sub = (c->cr4 & CR4_SMAP) ? TLB_KERNEL : 0;
    for (unsigned s = 0; s < TLB_PCID_SLOTS; s++)
        c->tlb.slot[s].valid = false;
}

void tlb_flush_nonglobal(struct cpu *c)
{
    if (!(c->cr4 & CR4_PGE)) {
        tlb_flush_all(c);
        return;
    }
    for (unsigned k = 0; k < TLB_KINDS; k++)
        for (unsigned n = 0; n < TLB_ENTRIES; n++)
            if (!(c->tlb.gpa[k][n] & TLB_GLOBAL)) c->tlb.e[k][n].tag = ~0ull;
    c->tlb.epoch++;
}

void tlb_flush_page(struct cpu *c, uint64_t lin)
{
    uint64_t page = lin & PAGE_MASK;
    unsigned idx = (lin >> 12) & (TLB_ENTRIES - 1);
    c->tlb.epoch++;
    if (c->direct) direct_tlb_flush(c, lin);
    for (unsigned k = 0; k < TLB_KINDS; k++) {
        struct tlb_entry *e = &c->tlb.e[k][idx];
        if ((e->tag & PAGE_MASK) == page) e->tag = ~0ull;
    }
    /* A 2 MiB or 1 GiB page is cached in 4 KiB pieces: INVLPG anywhere in it drops them all.
     * We do not know its size any more, so drop every large-page piece in the same 1 GiB. */
    if (c->tlb.has_large) {
        uint64_t region = lin >> 30;
        for (unsigned k = 0; k < TLB_KINDS; k++)
            for (unsigned n = 0; n < TLB_ENTRIES; n++)
                if ((c->tlb.gpa[k][n] & TLB_LARGE) && (c->tlb.e[k][n].tag >> 30) == region)
                    c->tlb.e[k][n].tag = ~0ull;
    }
}

void tlb_check_controls(struct cpu *c)
{
    if (((c->cr0 ^ c->tlb.cr0) & (CR0_PG | CR0_WP)) ||
        ((c->cr4 ^ c->tlb.cr4) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP)) ||
        ((c->efer ^ c->tlb.efer) & (EFER_NXE | EFER_LMA)))
        tlb_flush_all(c);
    c->tlb.sup_sub = (c->cr4 & CR4_SMAP) ? TLB_KERNEL : 0; /* SMAP needs no flush */
}

static void tlb_protect_code_in(struct tlb_entry *w, uint8_t *host)
{
    for (unsigned n = 0; n < TLB_ENTRIES; n++) {
        struct tlb_entry *e = &w[n];
        if (e->tag == ~0ull || (e->tag & TLB_SLOW)) continue;
        if ((uintptr_t)((e->tag & PAGE_MASK) + e->addend) == (uintptr_t)host) e->tag = ~0ull;
    }
}

void tlb_drop_writes(struct cpu *c)
{
    for (unsigned n = 0; n < TLB_ENTRIES; n++)
        c->tlb.e[TLB_WRITE][n].tag = ~0ull;
}

void tlb_serve_write_requests(struct cpu *c)
{
    uint64_t req = __atomic_load_n(&c->tlb_write_req, __ATOMIC_ACQUIRE);
    if (req == __atomic_load_n(&c->tlb_write_done, __ATOMIC_RELAXED)) return;
    tlb_drop_writes(c);
    __atomic_store_n(&c->tlb_write_done, req, __ATOMIC_RELEASE);
}

void tlb_shootdown_writes(struct cpu *c)
{
    struct bus *b = c->bus;
    struct cpu *other[BUS_MAX_CODE_LISTENERS];
    uint64_t want[BUS_MAX_CODE_LISTENERS];
    unsigned n = 0;
    for (unsigned k = 0; k < b->ncode_listeners; k++) {
        struct cpu *o = b->code_listeners[k].opaque;
        if (b->code_listeners[k].fn != block_code_write || o == c) continue;
        want[n] = __atomic_add_fetch(&o->tlb_write_req, 1, __ATOMIC_SEQ_CST);
        other[n++] = o;
    }
    for (unsigned k = 0; k < n; k++) {
        struct cpu *o = other[k];
        if (__atomic_load_n(&o->tlb_write_done, __ATOMIC_ACQUIRE) >= want[k]) continue;
        /* out of chained translated code; one outside its run loop serves it on entry */
        if (__atomic_load_n(&o->in_run, __ATOMIC_SEQ_CST))
            __atomic_store_n(&o->exit_request, 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(&o->in_run, __ATOMIC_SEQ_CST) &&
               __atomic_load_n(&o->tlb_write_done, __ATOMIC_ACQUIRE) < want[k]) {
            tlb_serve_write_requests(c); /* o may be waiting for us the same way */
            sched_yield();
        }
    }
}

void tlb_protect_code(struct cpu *c, uint64_t gpa_page)
{
    uint8_t *host = bus_ram_ptr(c->bus, gpa_page, BUS_PAGE_SIZE);
    if (!host) return;
    tlb_protect_code_in(c->tlb.e[TLB_WRITE], host);
    for (unsigned s = 0; s < TLB_PCID_SLOTS; s++) /* the other PCIDs' fast writes too */
        if (c->tlb.slot[s].valid) tlb_protect_code_in(c->tlb.slot[s].e[TLB_WRITE], host);
}

/* ---- PCIDs ---- */

/* Drop the entries translating `lin` from a TLB's arrays: its 4 KiB piece, and every piece of
 * the same 2 MiB or 1 GiB page (TLB_HUGE says which); global ones stay if keep_global. */
static void tlb_drop_page_in(struct tlb_entry e[TLB_KINDS][TLB_ENTRIES],
                             uint64_t gpa[TLB_KINDS][TLB_ENTRIES], bool has_large, uint64_t lin,
                             bool keep_global)
{
    unsigned idx = (lin >> 12) & (TLB_ENTRIES - 1);
    for (unsigned k = 0; k < TLB_KINDS; k++)
        if ((e[k][idx].tag & PAGE_MASK) == (lin & PAGE_MASK) &&
            !(keep_global && (gpa[k][idx] & TLB_GLOBAL)))
            e[k][idx].tag = ~0ull;
    if (!has_large) return;
    for (unsigned k = 0; k < TLB_KINDS; k++)
        for (unsigned n = 0; n < TLB_ENTRIES; n++) {
            uint64_t g = gpa[k][n];
            if (!(g & TLB_LARGE) || (keep_global && (g & TLB_GLOBAL))) continue;
            if (((e[k][n].tag ^ lin) >> ((g & TLB_HUGE) ? 30 : 21)) == 0) e[k][n].tag = ~0ull;
        }
}

static struct tlb_pcid_slot *tlb_slot_of(struct cpu *c, uint16_t pcid)
{
    for (unsigned s = 0; s < TLB_PCID_SLOTS; s++)
        if (c->tlb.slot[s].valid && c->tlb.slot[s].pcid == pcid) return &c->tlb.slot[s];
    return NULL;
}

/* Keep the entries in use aside as `pcid`'s, in its slot, a free one, or the least recently
 * filled. */
static void tlb_stash(struct cpu *c, uint16_t pcid)
{
    struct tlb_pcid_slot *t = tlb_slot_of(c, pcid);
    for (unsigned s = 0; !t && s < TLB_PCID_SLOTS; s++)
        if (!c->tlb.slot[s].valid) t = &c->tlb.slot[s];
    if (!t) {
        t = &c->tlb.slot[0];
        for (unsigned s = 1; s < TLB_PCID_SLOTS; s++)
            if (c->tlb.slot[s].used < t->used) t = &c->tlb.slot[s];
    }
    /* Copied whole: its global entries are ignored when it is taken back (they stay with
     * the TLB in use, which INVLPG keeps current). */
    memcpy(t->e, c->tlb.e, sizeof t->e);
    memcpy(t->gpa, c->tlb.gpa, sizeof t->gpa);
    t->pcid = pcid;
    t->valid = true;
    t->has_large = c->tlb.has_large;
    t->used = ++c->tlb.pcid_clock;
}

void tlb_switch_pcid(struct cpu *c, uint16_t from, uint16_t to, bool keep)
{
    if (from == to) {
        if (!keep) tlb_flush_nonglobal(c);
        return;
    }
    tlb_stash(c, from);
    struct tlb_pcid_slot *t = tlb_slot_of(c, to);
    if (!keep || !t) {
        if (t) t->valid = false;
        tlb_flush_nonglobal(c); /* `from`'s entries are aside; the globals stay */
        return;
    }
    /* Back to `to`'s entries; where it has none, a global entry in use stays. */
    for (unsigned k = 0; k < TLB_KINDS; k++)
        for (unsigned n = 0; n < TLB_ENTRIES; n++) {
            struct tlb_entry *e = &c->tlb.e[k][n];
            if (t->e[k][n].tag != ~0ull && !(t->gpa[k][n] & TLB_GLOBAL)) {
                *e = t->e[k][n];
                c->tlb.gpa[k][n] = t->gpa[k][n];
            } else if (!(c->tlb.gpa[k][n] & TLB_GLOBAL)) {
                e->tag = ~0ull;
            }
        }
    c->tlb.has_large |= t->has_large;
    t->valid = false;
    c->tlb.epoch++;
}

void tlb_invpcid(struct cpu *c, unsigned type, uint16_t pcid, uint64_t lin)
{
    uint16_t cur = (c->cr4 & CR4_PCIDE) ? (uint16_t)(c->cr3 & 0xfff) : 0;
    struct tlb_pcid_slot *t = pcid == cur ? NULL : tlb_slot_of(c, pcid);
    switch (type) {
    case 0: /* one address of one PCID, not global translations */
        if (pcid == cur) {
            tlb_drop_page_in(c->tlb.e, c->tlb.gpa, c->tlb.has_large, lin, true);
            c->tlb.epoch++;
        } else if (t) {
            tlb_drop_page_in(t->e, t->gpa, t->has_large, lin, false);
        }
        break;
    case 1: /* one PCID, not global translations */
        if (pcid == cur)
            tlb_flush_nonglobal(c);
        else if (t)
            t->valid = false;
        break;
    case 2: tlb_flush_all(c); break; /* everything */
    default:                         /* 3: every PCID, not global translations */
        tlb_flush_nonglobal(c);
        for (unsigned s = 0; s < TLB_PCID_SLOTS; s++)
            c->tlb.slot[s].valid = false;
        break;
    }
}

/* ---- page walk ---- */

/* Read a paging-structure entry; returns its host pointer for A/D updates (NULL if not RAM). */
static uint64_t *mmu_pte_ptr(struct cpu *c, uint64_t gpa)
{
    return (uint64_t *)bus_ram_ptr(c->bus, gpa, 8);
}

static void mmu_set_bits(struct cpu *c, uint64_t *p, uint64_t gpa, uint64_t bits)
{
    if (p && (*p & bits) != bits) {
        *p |= bits;
        bus_note_write(c->bus, gpa, 8);
    }
}

/* Translate with the guest's page tables. Returns 0, or the #PF error code (never 0 for a
 * fault: a not-present fault always has at least one of W/U/I... so we return err | 0x80000000
 * and the caller strips it). */
#define WALK_FAULT 0x80000000u

static uint32_t mmu_walk(struct cpu *c, uint64_t lin, unsigned kind, bool user, bool smap,
                         struct walk *w)
{
    if (!(c->cr0 & CR0_PG)) {
        w->gpa = c->mode == MODE_LONG64 ? lin : (uint32_t)lin;
        w->user_ok = true;
        w->global = w->large = w->huge = w->upage = false;
        return 0;
    }
    uint32_t err = (kind == TLB_WRITE ? PF_W : 0) | (user ? PF_U : 0) |
                   (kind == TLB_EXEC && ((c->efer & EFER_NXE) || (c->cr4 & CR4_SMEP)) ? PF_I : 0);
    if (!(c->efer & EFER_LMA)) {
        /* Legacy 32-bit and PAE paging are not implemented: vessel enters long mode directly.
         * Report every access as a reserved-bit fault so the failure is visible, not silent. */
        return WALK_FAULT | err | PF_P | PF_RSVD;
    }
    uint64_t rsvd = ((1ull << 52) - 1) & ~PG_MAX;
    if (!(c->efer & EFER_NXE)) rsvd |= PG_NX;
    uint64_t table = c->cr3 & PG_ADDR;
    uint64_t *ptr[4], gpas[4];
    uint64_t all = PG_RW | PG_US, nx = 0, pte = 0;
    int level, n = 0;
    for (level = 3; level >= 0; level--) {
        unsigned shift = 12 + 9 * level;
        uint64_t gpa = table + ((lin >> shift) & 511) * 8;
        uint64_t *p = mmu_pte_ptr(c, gpa);
        pte = p ? *p : bus_mmio_read(c->bus, gpa, 8);
        ptr[n] = p;
        gpas[n++] = gpa;
        if (!(pte & PG_P)) return WALK_FAULT | err;
        uint64_t r = rsvd;
        if (level == 3)
            r |= PG_PS;
        else if (level == 2 && (pte & PG_PS))
            r |= 0x3fffe000ull; /* bits 29:13 of a 1 GiB entry */
        else if (level == 1 && (pte & PG_PS))
            r |= 0x1fe000ull; /* bits 20:13 of a 2 MiB entry */
        if (pte & r) return WALK_FAULT | err | PF_P | PF_RSVD;
        all &= pte;
        nx |= pte & PG_NX;
        if (level == 0 || ((level == 1 || level == 2) && (pte & PG_PS))) break;
        table = pte & PG_ADDR;
    }
    if (level < 0) level = 0;
    bool uok = (all & PG_US) != 0;
    if (kind == TLB_WRITE) uok = uok && (all & PG_RW);
    if (kind == TLB_EXEC && nx) return WALK_FAULT | err | PF_P;
    if (user && !uok) return WALK_FAULT | err | PF_P;
    if (!user && kind == TLB_EXEC && (all & PG_US) && (c->cr4 & CR4_SMEP))
        return WALK_FAULT | err | PF_P; /* SMEP: a supervisor fetch from a user page */
    if (smap && (all & PG_US)) return WALK_FAULT | err | PF_P; /* SMAP: data from a user page */
    if (!user && kind == TLB_WRITE && !(all & PG_RW) && (c->cr0 & CR0_WP))
        return WALK_FAULT | err | PF_P;
    /* The walk succeeded: set Accessed on every level, Dirty on the leaf for writes. */
    for (int k = 0; k < n - 1; k++)
        mmu_set_bits(c, ptr[k], gpas[k], PG_A);
    mmu_set_bits(c, ptr[n - 1], gpas[n - 1], kind == TLB_WRITE ? PG_A | PG_D : PG_A);
    uint64_t size_mask = (1ull << (12 + 9 * level)) - 1;
    w->gpa = ((pte & PG_ADDR) & ~size_mask) | (lin & size_mask);
    w->user_ok = uok;
    w->global = (pte & PG_G) && (c->cr4 & CR4_PGE);
    w->large = level > 0;
    w->huge = level == 2;
    w->upage = (all & PG_US) != 0;
    return 0;
}

/* Translate one page of an access, installing it in the TLB. Returns 0 or a fault:
 * WALK_FAULT|pf-error, or XLAT_NONCANON. Does not raise. */
#define XLAT_NONCANON 0x40000000u

static uint32_t mmu_xlat_nf(struct cpu *c, uint64_t lin, unsigned kind, bool sys, struct xlat *x)
{
    bool user = c->cpl == 3 && !sys;
    uint64_t page = lin & PAGE_MASK;
    unsigned idx = (lin >> 12) & (TLB_ENTRIES - 1);
    struct tlb_entry *e = &c->tlb.e[kind][idx];
    uint64_t *gslot = &c->tlb.gpa[kind][idx];
    bool smap = !user && kind != TLB_EXEC && mmu_smap(c, sys);
    if ((e->tag & tag_mask(user) & ~TLB_SLOW) == page &&
        !(kind == TLB_EXEC && mmu_smep_miss(c, user, e->tag)) && !(smap && (*gslot & TLB_UPAGE))) {
        x->gpa = (*gslot & PAGE_MASK) | (lin & 0xfff);
        if (!(e->tag & TLB_SLOW)) {
            x->host = (uint8_t *)(uintptr_t)(lin + e->addend);
            return 0;
        }
        x->host = bus_ram_ptr(c->bus, x->gpa, 1);
        /* A code page for writes: once its blocks are gone, give the entry its fast path
         * (unless it is slow for SMAP's sake, below). */
        if (x->host && kind == TLB_WRITE && !(c->dr[7] & DR7_EN) &&
            !((*gslot & TLB_UPAGE) && (e->tag & TLB_KERNEL))) {
            uint64_t off = bus_ram_offset(c->bus, x->gpa);
            if (!(__atomic_load_n(&c->bus->page_flags[off >> BUS_PAGE_SHIFT], __ATOMIC_RELAXED) &
                  MMU_SLOW_WRITE)) {
                e->addend = (uintptr_t)x->host - lin;
                e->tag &= ~TLB_SLOW;
                __atomic_fetch_or(&c->bus->page_flags[off >> BUS_PAGE_SHIFT], BUS_PAGE_WRITTEN,
                                  __ATOMIC_RELAXED);
            }
        }
        return 0;
    }
    c->stats.tlb_misses++;
    if ((c->efer & EFER_LMA) && c->mode == MODE_LONG64 && !mmu_canonical(lin)) return XLAT_NONCANON;
    struct walk w;
    uint32_t err = mmu_walk(c, lin, kind, user, smap, &w);
    if (err) return err;
    x->gpa = w.gpa;
    x->host = bus_ram_ptr(c->bus, w.gpa, 1);
    uint64_t tag = page | (w.user_ok ? 0 : TLB_KERNEL);
    *gslot = (w.gpa & PAGE_MASK) | (w.global ? TLB_GLOBAL : 0) | (w.large ? TLB_LARGE : 0) |
             (w.upage ? TLB_UPAGE : 0) | (w.huge ? TLB_HUGE : 0);
    if (w.large) c->tlb.has_large = true;
    if (x->host) {
        uint64_t off = bus_ram_offset(c->bus, w.gpa);
        uint8_t *flags = &c->bus->page_flags[off >> BUS_PAGE_SHIFT];
        if (kind == TLB_WRITE && (__atomic_load_n(flags, __ATOMIC_RELAXED) & MMU_SLOW_WRITE)) {
            tag |= TLB_SLOW;
        } else {
            e->addend = (uintptr_t)(x->host - (lin & 0xfff)) - page;
            if (kind == TLB_WRITE) /* fast writes will not report themselves; other vCPUs set
                                      bits of the same byte (atomic) */
                __atomic_fetch_or(flags, BUS_PAGE_WRITTEN, __ATOMIC_RELAXED);
        }
    } else {
        tag |= TLB_SLOW;
    }
    if (__builtin_expect(c->dr[7] & DR7_EN, 0) && kind != TLB_EXEC)
        tag |= TLB_SLOW; /* data breakpoints are looked for on the slow path only */
    /* A user page only the kernel may write (CR0.WP clear) carries TLB_KERNEL, which the fast
     * paths take for a supervisor page under SMAP: keep it on the slow path, which knows. */
    if (w.upage && (tag & TLB_KERNEL)) tag |= TLB_SLOW;
    e->tag = tag;
    return 0;
}

static _Noreturn void mmu_raise(struct cpu *c, uint32_t err, unsigned seg, uint64_t lin)
{
    if (err == XLAT_NONCANON) cpu_fault_err(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0);
    c->cr2 = lin;
    cpu_fault_err(c, EXC_PF, err & ~WALK_FAULT);
}

static void mmu_xlat(struct cpu *c, unsigned seg, uint64_t lin, unsigned kind, bool sys,
                     struct xlat *x)
{
    uint32_t err = mmu_xlat_nf(c, lin, kind, sys, x);
    if (unlikely(err)) mmu_raise(c, err, seg, lin);
}

/* ---- physical access ---- */

static void mmu_mmio_read(struct cpu *c, uint64_t gpa, uint8_t *dst, unsigned n)
{
    while (n) {
        unsigned s = n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
        uint64_t v = bus_mmio_read(c->bus, gpa, s);
        memcpy(dst, &v, s);
        gpa += s, dst += s, n -= s;
    }
}

static void mmu_mmio_write(struct cpu *c, uint64_t gpa, const uint8_t *src, unsigned n)
{
    while (n) {
        unsigned s = n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
        uint64_t v = 0;
        memcpy(&v, src, s);
        bus_mmio_write(c->bus, gpa, v, s);
        gpa += s, src += s, n -= s;
    }
}

/* Accesses go page by page; at most this many pages are translated up front. Longer
 * accesses (none of today's instructions) are done in chunks. */
#define MMU_MAX_PAGES 3

static void mmu_access_slow(struct cpu *c, unsigned seg, uint64_t lin, uint8_t *buf, unsigned n,
                            unsigned kind, bool sys)
{
    /* The whole access must be canonical before any page is looked at. */
    if (c->mode == MODE_LONG64 && (c->efer & EFER_LMA) &&
        (!mmu_canonical(lin) || !mmu_canonical(lin + n - 1)))
        mmu_raise(c, XLAT_NONCANON, seg, lin);
    if (__builtin_expect(c->dr[7] & DR7_EN, 0) && !sys)
        c->dr_hits |=
            (uint8_t)cpu_dr_match(c, lin, n, kind == TLB_WRITE ? DR_RW_WRITE : DR_RW_RDWR);
    while (n) {
        struct xlat x[MMU_MAX_PAGES];
        unsigned len[MMU_MAX_PAGES], np = 0, total = 0;
        uint64_t a = lin, at[MMU_MAX_PAGES];
        while (total < n && np < MMU_MAX_PAGES) {
            unsigned chunk = 0x1000 - (a & 0xfff);
            if (chunk > n - total) chunk = n - total;
            mmu_xlat(c, seg, a, kind, sys, &x[np]);
            at[np] = a;
            len[np++] = chunk;
            total += chunk;
            a += chunk;
            if (c->mode != MODE_LONG64) a = (uint32_t)a;
        }
        for (unsigned k = 0; k < np; k++) {
            if (kind == TLB_WRITE) {
                if (x[k].host) {
                    memcpy(x[k].host, buf, len[k]);
                    struct bus_writer w = {c->rip, at[k], c->cr3, (uint8_t)c->cpl};
                    bus_note_write_by(c->bus, x[k].gpa, len[k], &w);
                } else {
                    mmu_mmio_write(c, x[k].gpa, buf, len[k]);
                }
            } else {
                if (x[k].host)
                    memcpy(buf, x[k].host, len[k]);
                else
                    mmu_mmio_read(c, x[k].gpa, buf, len[k]);
            }
            buf += len[k];
        }
        n -= total;
        lin = a;
    }
}

/* The fast path: a host pointer if the whole access hits one RAM page in the TLB. */
static inline uint8_t *mmu_fast(struct cpu *c, uint64_t lin, unsigned n, unsigned kind)
{
    const struct tlb_entry *e = &c->tlb.e[kind][(lin >> 12) & (TLB_ENTRIES - 1)];
    if (likely(tlb_data_hit(e->tag, lin & PAGE_MASK, c->cpl == 3, mmu_sup_sub(c)) &&
               (lin & 0xfff) <= 0x1000u - n))
        return (uint8_t *)(uintptr_t)(lin + e->addend);
    return NULL;
}

void mem_read(struct cpu *c, unsigned seg, uint64_t off, void *dst, unsigned n)
{
    uint64_t lin = mmu_lin(c, seg, off);
    uint8_t *p = n <= 0x1000 ? mmu_fast(c, lin, n, TLB_READ) : NULL;
    if (likely(p != NULL))
        memcpy(dst, p, n);
    else
        mmu_access_slow(c, seg, lin, dst, n, TLB_READ, false);
}

void mem_write(struct cpu *c, unsigned seg, uint64_t off, const void *src, unsigned n)
{
    uint64_t lin = mmu_lin(c, seg, off);
    uint8_t *p = n <= 0x1000 ? mmu_fast(c, lin, n, TLB_WRITE) : NULL;
    if (likely(p != NULL))
        memcpy(p, src, n);
    else
        mmu_access_slow(c, seg, lin, (uint8_t *)src, n, TLB_WRITE, false);
}

uint64_t mem_read_n(struct cpu *c, unsigned seg, uint64_t off, unsigned size)
{
    uint64_t lin = mmu_lin(c, seg, off);
    uint8_t *p = mmu_fast(c, lin, size, TLB_READ);
    if (likely(p != NULL)) {
        switch (size) {
        case 1: return *p;
        case 2: {
            uint16_t v;
            memcpy(&v, p, 2);
            return v;
        }
        case 4: {
            uint32_t v;
            memcpy(&v, p, 4);
            return v;
        }
        default: {
            uint64_t v;
            memcpy(&v, p, 8);
            return v;
        }
        }
    }
    uint64_t v = 0;
    mmu_access_slow(c, seg, lin, (uint8_t *)&v, size, TLB_READ, false);
    return v;
}

void mem_write_n(struct cpu *c, unsigned seg, uint64_t off, uint64_t v, unsigned size)
{
    uint64_t lin = mmu_lin(c, seg, off);
    uint8_t *p = mmu_fast(c, lin, size, TLB_WRITE);
    if (likely(p != NULL)) {
        switch (size) {
        case 1: *p = (uint8_t)v; return;
        case 2: {
            uint16_t w = (uint16_t)v;
            memcpy(p, &w, 2);
            return;
        }
        case 4: {
            uint32_t w = (uint32_t)v;
            memcpy(p, &w, 4);
            return;
        }
        default: memcpy(p, &v, 8); return;
        }
    }
    mmu_access_slow(c, seg, lin, (uint8_t *)&v, size, TLB_WRITE, false);
}

uint8_t *mem_rmw_begin(struct cpu *c, unsigned seg, uint64_t off, unsigned n, struct mem_rmw *r)
{
    uint64_t lin = mmu_lin(c, seg, off);
    r->notify = false;
    if ((lin & 63) + n > 64 || (c->dr[7] & DR7_EN)) return NULL;
    uint8_t *p = mmu_fast(c, lin, n, TLB_WRITE);
    if (likely(p != NULL)) return p;
    if (c->mode == MODE_LONG64 && (c->efer & EFER_LMA) && !mmu_canonical(lin))
        mmu_raise(c, XLAT_NONCANON, seg, lin);
    struct xlat x;
    mmu_xlat(c, seg, lin, TLB_WRITE, false, &x);
    if (!x.host) return NULL;
    *r = (struct mem_rmw){.gpa = x.gpa, .lin = lin, .n = n, .notify = true};
    return x.host;
}

void mem_rmw_end(struct cpu *c, const struct mem_rmw *r)
{
    if (!r->notify) return;
    struct bus_writer w = {c->rip, r->lin, c->cr3, (uint8_t)c->cpl};
    bus_note_write_by(c->bus, r->gpa, r->n, &w);
}

void mem_read_sys(struct cpu *c, uint64_t lin, void *dst, unsigned n)
{
    mmu_access_slow(c, SEG_NONE, lin, dst, n, TLB_READ, true);
}

void mem_write_sys(struct cpu *c, uint64_t lin, const void *src, unsigned n)
{
    mmu_access_slow(c, SEG_NONE, lin, (uint8_t *)src, n, TLB_WRITE, true);
}

void mem_probe_write(struct cpu *c, unsigned seg, uint64_t off, unsigned n)
{
    uint64_t lin = mmu_lin(c, seg, off);
    if (n == 0 || mmu_fast(c, lin, n, TLB_WRITE)) return;
    struct xlat x;
    mmu_xlat(c, seg, lin, TLB_WRITE, false, &x);
    uint64_t last = lin + n - 1;
    if (c->mode != MODE_LONG64) last = (uint32_t)last;
    if ((last ^ lin) & PAGE_MASK) mmu_xlat(c, seg, last, TLB_WRITE, false, &x);
}

/* ---- instruction fetch ---- */

uint64_t mmu_translate_exec(struct cpu *c, uint64_t lin)
{
    const struct tlb_entry *e = &c->tlb.e[TLB_EXEC][(lin >> 12) & (TLB_ENTRIES - 1)];
    if (likely((e->tag & tag_mask(c->cpl == 3) & ~TLB_SLOW) == (lin & PAGE_MASK)) &&
        !mmu_smep_miss(c, c->cpl == 3, e->tag))
        return (c->tlb.gpa[TLB_EXEC][(lin >> 12) & (TLB_ENTRIES - 1)] & PAGE_MASK) | (lin & 0xfff);
    struct xlat x;
    mmu_xlat(c, SEG_CS, lin, TLB_EXEC, false, &x);
    return x.gpa;
}

bool mmu_probe_exec(struct cpu *c, uint64_t lin, uint64_t *gpa)
{
    struct xlat x;
    if (mmu_xlat_nf(c, lin, TLB_EXEC, false, &x)) return false;
    *gpa = x.gpa;
    return true;
}

static void mmu_fetch_phys(struct cpu *c, uint64_t gpa, uint8_t *buf, unsigned n)
{
    uint8_t *p = bus_ram_ptr(c->bus, gpa, n);
    if (p)
        memcpy(buf, p, n);
    else
        mmu_mmio_read(c, gpa, buf, n);
}

unsigned mmu_fetch(struct cpu *c, uint64_t lin, uint8_t *buf, unsigned n, uint64_t gpa[2])
{
    gpa[0] = mmu_translate_exec(c, lin);
    gpa[1] = ~0ull;
    unsigned first = 0x1000 - (lin & 0xfff);
    if (first >= n) {
        mmu_fetch_phys(c, gpa[0], buf, n);
        return n;
    }
    mmu_fetch_phys(c, gpa[0], buf, first);
    uint64_t next = lin + first;
    if (c->mode != MODE_LONG64) next = (uint32_t)next;
    if (!mmu_probe_exec(c, next, &gpa[1])) return first;
    mmu_fetch_phys(c, gpa[1], buf + first, n - first);
    return n;
}
