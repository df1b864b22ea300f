/* test_mmu.c — the soft MMU against page tables built by hand in guest RAM: each page size,
 * every #PF error-code bit and CR2, NX, CR0.WP, Accessed/Dirty, INVLPG, CR3 switches with
 * global pages, non-canonical #GP/#SS, user/supervisor TLB separation, no half-written stores,
 * MMIO through the bus, code-page write notification and the write watch (every store to a
 * watched page reported with its RIP and linear address, through any mapping, whatever fast
 * entry was cached before). */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpu/core.h"
#include "cpu/exec/block.h"
#include "vessel/cpu.h"

#define P  0x1ull
#define RW 0x2ull
#define US 0x4ull
#define A  0x20ull
#define D  0x40ull
#define PS 0x80ull
#define G  0x100ull
#define NX (1ull << 63)

#define PML4 0x1000
#define PDPT 0x2000
#define PD   0x3000
#define PT   0x4000

static struct bus bus;
static struct cpu *c;

static uint64_t *ram64(uint64_t gpa)
{
    return (uint64_t *)(bus.ram + gpa);
}

/* PML4[0] -> PDPT; PDPT[0] -> PD; PDPT[1] = 1 GiB page at 0; PD[0] -> PT; PD[1] = 2 MiB page
 * at 0x600000; PT[i] identity for i < 16 (user, writable). Paging on, CPL 0. */
static void setup(void)
{
    CHECK_EQ(bus_init(&bus, 16 << 20), 0);
    c = (struct cpu *)vcpu_create(&bus, 0);
    CHECK(c != NULL);
    cpu_setup_flat64(c, 0);
    *ram64(PML4) = PDPT | P | RW | US;
    *ram64(PDPT) = PD | P | RW | US;
    *ram64(PDPT + 8) = 0 | P | RW | US | PS;
    *ram64(PD) = PT | P | RW | US;
    *ram64(PD + 8) = 0x600000 | P | RW | US | PS;
    for (unsigned k = 0; k < 16; k++)
        *ram64(PT + k * 8) = (k * 0x1000ull) | P | RW | US;
    c->cr3 = PML4;
    c->cr0 |= CR0_PG | CR0_WP;
    cpu_mode_changed(c);
}

static void teardown(void)
{
    vcpu_destroy((struct vcpu *)c);
    bus_destroy(&bus);
}

/* Run an access; -1 if it completed, else the vector (error code in c->exc_error). */
static int try_read(unsigned seg, uint64_t lin, unsigned size, uint64_t *v)
{
    if (_setjmp(c->fault_jmp)) return c->pending_exc;
    *v = mem_read_n(c, seg, lin, size);
    return -1;
}

static int try_write(unsigned seg, uint64_t lin, uint64_t v, unsigned size)
{
    if (_setjmp(c->fault_jmp)) return c->pending_exc;
    mem_write_n(c, seg, lin, v, size);
    return -1;
}

static int try_write_buf(uint64_t lin, const void *src, unsigned n)
{
    if (_setjmp(c->fault_jmp)) return c->pending_exc;
    mem_write(c, SEG_DS, lin, src, n);
    return -1;
}

static int try_fetch(uint64_t lin, uint64_t *gpa)
{
    if (_setjmp(c->fault_jmp)) return c->pending_exc;
    *gpa = mmu_translate_exec(c, lin);
    return -1;
}

static void set_cpl(unsigned cpl)
{
    c->seg[SEG_CS].sel = (uint16_t)((c->seg[SEG_CS].sel & ~3) | cpl);
    cpu_mode_changed(c);
}

static void test_paging_off(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    c = (struct cpu *)vcpu_create(&bus, 0);
    cpu_setup_flat64(c, 0);
    uint64_t v = 0;
    CHECK_EQ(try_write(SEG_DS, 0x1234, 0x1122334455667788ull, 8), -1);
    uint64_t got;
    memcpy(&got, bus.ram + 0x1234, 8);
    CHECK_EQ(got, 0x1122334455667788ull);
    CHECK_EQ(try_read(SEG_DS, 0x1236, 2, &v), -1);
    CHECK_EQ(v, 0x5566);
    /* Crossing a page boundary, and the byte-array forms. */
    CHECK_EQ(try_write(SEG_DS, 0x2ffd, 0xa1a2a3a4a5a6a7a8ull, 8), -1);
    CHECK_EQ(try_read(SEG_DS, 0x2ffd, 8, &v), -1);
    CHECK_EQ(v, 0xa1a2a3a4a5a6a7a8ull);
    uint8_t buf[32];
    if (!_setjmp(c->fault_jmp)) mem_read(c, SEG_DS, 0x2ff0, buf, 32);
    CHECK_EQ(buf[13], 0xa8);
    CHECK_EQ(buf[20], 0xa1);
    /* FS base applies in 64-bit mode, DS base does not. */
    c->seg[SEG_FS].base = 0x1000;
    c->seg[SEG_DS].base = 0x5000;
    CHECK_EQ(try_read(SEG_FS, 0x234, 8, &v), -1);
    CHECK_EQ(v, 0x1122334455667788ull);
    CHECK_EQ(try_read(SEG_DS, 0x1234, 8, &v), -1);
    CHECK_EQ(v, 0x1122334455667788ull);
    /* Outside RAM: unassigned MMIO reads all ones. */
    CHECK_EQ(try_read(SEG_DS, 0xF0000000, 4, &v), -1);
    CHECK_EQ(v, 0xffffffff);
    teardown();
}

static void test_page_sizes(void)
{
    setup();
    uint64_t v = 0;
    *ram64(0x5008) = 0x5555;
    *ram64(0x601238) = 0x2222;
    *ram64(0x9010) = 0x1111;
    CHECK_EQ(try_read(SEG_DS, 0x5008, 8, &v), -1); /* 4 KiB */
    CHECK_EQ(v, 0x5555);
    CHECK_EQ(try_read(SEG_DS, 0x201238, 8, &v), -1); /* 2 MiB at 0x600000 */
    CHECK_EQ(v, 0x2222);
    CHECK_EQ(try_read(SEG_DS, 0x40009010, 8, &v), -1); /* 1 GiB at 0 */
    CHECK_EQ(v, 0x1111);
    /* Remap a 4 KiB page elsewhere. */
    *ram64(PT + 7 * 8) = 0x9000 | P | RW;
    CHECK_EQ(try_read(SEG_DS, 0x7010, 8, &v), -1);
    CHECK_EQ(v, 0x1111);
    teardown();
}

static void test_accessed_dirty(void)
{
    setup();
    uint64_t v;
    CHECK_EQ(try_read(SEG_DS, 0x5000, 8, &v), -1);
    CHECK(*ram64(PML4) & A);
    CHECK(*ram64(PDPT) & A);
    CHECK(*ram64(PD) & A);
    CHECK(*ram64(PT + 5 * 8) & A);
    CHECK(!(*ram64(PT + 5 * 8) & D));
    CHECK(!(*ram64(PD) & D));
    CHECK_EQ(try_write(SEG_DS, 0x5000, 1, 1), -1);
    CHECK(*ram64(PT + 5 * 8) & D);
    CHECK(!(*ram64(PD) & D)); /* D only in the leaf */
    /* A large page gets D in the PDE itself. */
    CHECK_EQ(try_write(SEG_DS, 0x200000, 1, 1), -1);
    CHECK(*ram64(PD + 8) & D);
    teardown();
}

static void test_pf_error_codes(void)
{
    setup();
    uint64_t v;
    *ram64(PT + 8 * 8) = 0; /* not present */
    CHECK_EQ(try_read(SEG_DS, 0x8010, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 0);
    CHECK_EQ(c->cr2, 0x8010);
    CHECK_EQ(try_write(SEG_DS, 0x8020, 1, 1), EXC_PF);
    CHECK_EQ(c->exc_error, 2);
    CHECK_EQ(c->cr2, 0x8020);
    /* Instruction fetch with NXE: the I/D bit. */
    CHECK_EQ(try_fetch(0x8000, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 0x10);
    /* Supervisor page from user mode: P|U; write: P|W|U. */
    *ram64(PT + 9 * 8) = 0x9000 | P | RW;
    set_cpl(3);
    CHECK_EQ(try_read(SEG_DS, 0x9000, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 5);
    CHECK_EQ(try_write(SEG_DS, 0x9000, 1, 1), EXC_PF);
    CHECK_EQ(c->exc_error, 7);
    CHECK_EQ(try_read(SEG_DS, 0x8000, 8, &v), EXC_PF); /* not present from user: U */
    CHECK_EQ(c->exc_error, 4);
    /* User read-only page: reads fine, writes P|W|U. */
    *ram64(PT + 10 * 8) = 0xa000 | P | US;
    CHECK_EQ(try_read(SEG_DS, 0xa000, 8, &v), -1);
    CHECK_EQ(try_write(SEG_DS, 0xa000, 1, 1), EXC_PF);
    CHECK_EQ(c->exc_error, 7);
    /* U must be set at every level. */
    *ram64(PD) = PT | P | RW;
    tlb_flush_all(c);
    CHECK_EQ(try_read(SEG_DS, 0x5000, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 5);
    *ram64(PD) = PT | P | RW | US;
    set_cpl(0);
    tlb_flush_all(c);
    /* Reserved bits: above MAXPHYADDR, PS in a PML4E. */
    *ram64(PT + 11 * 8) = 0xb000 | P | RW | (1ull << 45);
    CHECK_EQ(try_read(SEG_DS, 0xb000, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 9);
    CHECK_EQ(try_write(SEG_DS, 0xb000, 1, 1), EXC_PF);
    CHECK_EQ(c->exc_error, 0xb);
    *ram64(PML4 + 8) = PDPT | P | RW | PS;
    CHECK_EQ(try_read(SEG_DS, 1ull << 39, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 9);
    CHECK_EQ(c->cr2, 1ull << 39);
    /* Reserved bits in a 2 MiB PDE (bit 13). */
    *ram64(PD + 16) = 0x800000 | P | RW | PS | (1ull << 13);
    CHECK_EQ(try_read(SEG_DS, 0x400000, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 9);
    teardown();
}

static void test_nx_wp(void)
{
    setup();
    uint64_t v;
    *ram64(PT + 12 * 8) = 0xc000 | P | RW | NX;
    CHECK_EQ(try_read(SEG_DS, 0xc000, 8, &v), -1);
    CHECK_EQ(try_fetch(0xc000, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 0x11);
    CHECK_EQ(try_fetch(0xd004, &v), -1);
    CHECK_EQ(v, 0xd004);
    /* NX set without EFER.NXE is a reserved bit (and no I/D bit). */
    c->efer &= ~EFER_NXE;
    cpu_mode_changed(c);
    CHECK_EQ(try_read(SEG_DS, 0xc000, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 9);
    CHECK_EQ(try_fetch(0xe000, &v), -1);
    c->efer |= EFER_NXE;
    cpu_mode_changed(c);
    /* CR0.WP: supervisor writes to read-only pages fault only with WP set. */
    *ram64(PT + 13 * 8) = 0xd000 | P | US;
    CHECK_EQ(try_write(SEG_DS, 0xd000, 0x77, 1), EXC_PF);
    CHECK_EQ(c->exc_error, 3);
    c->cr0 &= ~CR0_WP;
    cpu_mode_changed(c); /* flushes: WP changed */
    CHECK_EQ(try_write(SEG_DS, 0xd000, 0x77, 1), -1);
    CHECK_EQ(bus.ram[0xd000], 0x77);
    /* ...but the same page stays read-only for user mode (the entry is kernel-only). */
    set_cpl(3);
    CHECK_EQ(try_write(SEG_DS, 0xd000, 0x78, 1), EXC_PF);
    CHECK_EQ(c->exc_error, 7);
    CHECK_EQ(bus.ram[0xd000], 0x77);
    teardown();
}

static void test_user_kernel_tlb(void)
{
    setup();
    uint64_t v;
    *ram64(PT + 9 * 8) = 0x9000 | P | RW; /* supervisor only */
    *ram64(0x9000) = 0x4242;
    CHECK_EQ(try_read(SEG_DS, 0x9000, 8, &v), -1); /* cached for CPL 0 */
    CHECK_EQ(v, 0x4242);
    set_cpl(3);
    CHECK_EQ(try_read(SEG_DS, 0x9000, 8, &v), EXC_PF);
    CHECK_EQ(c->exc_error, 5);
    /* System accesses (descriptor tables) are supervisor even at CPL 3. */
    if (!_setjmp(c->fault_jmp)) {
        v = 0;
        mem_read_sys(c, 0x9000, &v, 8);
    }
    CHECK_EQ(v, 0x4242);
    teardown();
}

static void test_invlpg_cr3_global(void)
{
    setup();
    uint64_t v;
    *ram64(0x5000) = 0x55;
    *ram64(0x6000) = 0x66;
    *ram64(0x9000) = 0x99;
    c->cr4 |= CR4_PGE;
    cpu_mode_changed(c);
    *ram64(PT + 6 * 8) = 0x6000 | P | RW | G;
    CHECK_EQ(try_read(SEG_DS, 0x5000, 8, &v), -1);
    CHECK_EQ(try_read(SEG_DS, 0x6000, 8, &v), -1);
    /* A stale TLB is architectural until INVLPG. */
    *ram64(PT + 5 * 8) = 0x9000 | P | RW;
    CHECK_EQ(try_read(SEG_DS, 0x5000, 8, &v), -1);
    CHECK_EQ(v, 0x55);
    tlb_flush_page(c, 0x5000);
    CHECK_EQ(try_read(SEG_DS, 0x5000, 8, &v), -1);
    CHECK_EQ(v, 0x99);
    /* A second hierarchy: PML4' at 0xe000 sharing PDPT, with a new PD/PT. */
    for (unsigned k = 0; k < 512; k++)
        *ram64(0xe000 + k * 8) = *ram64(PML4 + k * 8);
    *ram64(0xe000) = 0xf000 | P | RW | US;   /* PDPT' */
    *ram64(0xf000) = 0x10000 | P | RW | US;  /* PD' */
    *ram64(0x10000) = 0x11000 | P | RW | US; /* PT' */
    for (unsigned k = 0; k < 16; k++)
        *ram64(0x11000 + k * 8) = 0x9000 | P | RW; /* everything -> 0x9000 */
    c->cr3 = 0xe000;
    tlb_flush_nonglobal(c);
    CHECK_EQ(try_read(SEG_DS, 0x5000, 8, &v), -1);
    CHECK_EQ(v, 0x99);
    CHECK_EQ(try_read(SEG_DS, 0x6000, 8, &v), -1);
    CHECK_EQ(v, 0x66); /* global: kept */
    /* Toggling CR4.PGE flushes everything. */
    c->cr4 &= ~CR4_PGE;
    cpu_mode_changed(c);
    CHECK_EQ(try_read(SEG_DS, 0x6000, 8, &v), -1);
    CHECK_EQ(v, 0x99);
    /* INVLPG of a large page drops all its pieces. */
    c->cr3 = PML4;
    tlb_flush_all(c);
    *ram64(0x600000) = 0xaa;
    *ram64(0x7ff000) = 0xbb;
    CHECK_EQ(try_read(SEG_DS, 0x200000, 8, &v), -1);
    CHECK_EQ(try_read(SEG_DS, 0x3ff000, 8, &v), -1);
    *ram64(PD + 8) = 0xa00000 | P | RW | PS;
    *ram64(0xa00000) = 0xcc;
    tlb_flush_page(c, 0x200000);
    CHECK_EQ(try_read(SEG_DS, 0x200000, 8, &v), -1);
    CHECK_EQ(v, 0xcc);
    CHECK_EQ(try_read(SEG_DS, 0x3ff000, 8, &v), -1);
    CHECK_EQ(v, 0);
    teardown();
}

static void test_noncanonical(void)
{
    setup();
    uint64_t v;
    CHECK_EQ(try_read(SEG_DS, 0x0000800000000000ull, 8, &v), EXC_GP);
    CHECK_EQ(c->exc_error, 0);
    CHECK_EQ(try_write(SEG_SS, 0xffff7fffffff0000ull, 1, 8), EXC_SS);
    /* Crossing from canonical into non-canonical. */
    CHECK_EQ(try_read(SEG_DS, 0x00007ffffffffffcull, 8, &v), EXC_GP);
    teardown();
}

static void test_no_half_store(void)
{
    setup();
    *ram64(PT + 8 * 8) = 0; /* 0x8000 not present */
    bus.ram[0x7fff] = 0x11;
    uint8_t src[4] = {1, 2, 3, 4};
    CHECK_EQ(try_write_buf(0x7ffe, src, 4), EXC_PF);
    CHECK_EQ(c->cr2, 0x8000);
    CHECK_EQ(c->exc_error, 2);
    CHECK_EQ(bus.ram[0x7fff], 0x11);
    CHECK_EQ(try_write(SEG_DS, 0x7ffc, 0x0102030405060708ull, 8), EXC_PF);
    CHECK_EQ(bus.ram[0x7fff], 0x11);
    /* mem_probe_write checks both pages too. */
    if (!_setjmp(c->fault_jmp)) {
        mem_probe_write(c, SEG_DS, 0x7ffc, 8);
        c->pending_exc = -1;
    }
    CHECK_EQ(c->pending_exc, EXC_PF);
    teardown();
}

static uint64_t mmio_last_off, mmio_last_val;
static unsigned mmio_last_size;
static uint64_t mmio_read(void *o, uint64_t off, unsigned size)
{
    mmio_last_off = off;
    mmio_last_size = size;
    return 0xfeedface;
}
static void mmio_write(void *o, uint64_t off, uint64_t v, unsigned size)
{
    mmio_last_off = off;
    mmio_last_val = v;
    mmio_last_size = size;
}
static const struct io_ops mmio_ops = {mmio_read, mmio_write};

static uint64_t code_hits;
static void code_hook(void *o, uint64_t gpa, uint64_t len)
{
    code_hits++;
}

static void test_mmio_and_code_pages(void)
{
    setup();
    uint64_t v;
    int dummy;
    CHECK_EQ(bus_add_mmio(&bus, 0xfee00000, 0x1000, &mmio_ops, &dummy, "dev"), 0);
    *ram64(PT + 14 * 8) = 0xfee00000 | P | RW; /* lin 0xe000 -> MMIO */
    CHECK_EQ(try_read(SEG_DS, 0xe0f0, 4, &v), -1);
    CHECK_EQ(v, 0xfeedface);
    CHECK_EQ(mmio_last_off, 0xf0);
    CHECK_EQ(mmio_last_size, 4);
    CHECK_EQ(try_write(SEG_DS, 0xe0b0, 0x1234, 4), -1);
    CHECK_EQ(mmio_last_val, 0x1234);
    CHECK_EQ(mmio_last_off, 0xb0);
    CHECK_EQ(try_write(SEG_DS, 0xe0b0, 0x5678, 4), -1); /* again: cached slow entry */
    CHECK_EQ(mmio_last_val, 0x5678);
    /* A page marked as holding code never gets a fast write pointer. */
    /* code_hook stands in for the engine's own listener, which would drop the code mark */
    bus_remove_code_write_listener(&bus, block_code_write, c);
    CHECK_EQ(bus_add_code_write_listener(&bus, code_hook, NULL), 0);
    CHECK_EQ(try_write(SEG_DS, 0x3000 + 0x100, 1, 1), -1); /* fast entry for page 3 */
    bus.page_flags[3] |= BUS_PAGE_CODE;
    tlb_protect_code(c, 0x3000);
    code_hits = 0;
    CHECK_EQ(try_write(SEG_DS, 0x3000 + 0x108, 2, 1), -1);
    CHECK_EQ(try_write(SEG_DS, 0x3000 + 0x110, 3, 1), -1);
    CHECK_EQ(code_hits, 2);
    CHECK(bus.page_flags[3] & BUS_PAGE_DIRTY);
    /* Once the page is no longer code, the fast path comes back. */
    bus.page_flags[3] &= (uint8_t)~BUS_PAGE_CODE;
    CHECK_EQ(try_write(SEG_DS, 0x3000 + 0x118, 4, 1), -1);
    CHECK_EQ(try_write(SEG_DS, 0x3000 + 0x120, 5, 1), -1);
    CHECK_EQ(code_hits, 2);
    CHECK_EQ(bus.ram[0x3120], 5);
    bus_remove_code_write_listener(&bus, code_hook, NULL);
    CHECK_EQ(bus_add_code_write_listener(&bus, block_code_write, c), 0);
    teardown();
}

static unsigned watch_calls;
static struct bus_writer watch_last;
static uint64_t watch_gpa, watch_len;

static void watch_hook(void *o, uint64_t gpa, uint64_t len, const struct bus_writer *w)
{
    watch_calls++;
    watch_gpa = gpa;
    watch_len = len;
    if (w) watch_last = *w;
}

static void test_write_watch(void)
{
    setup();
    uint64_t v;
    /* a fast write entry for page 5 before the watch */
    CHECK_EQ(try_write(SEG_DS, 0x5010, 1, 8), -1);
    bus_watch_range(&bus, 0x5008, 8, true);
    bus_set_write_watch(&bus, watch_hook, NULL);
    vcpu_rearm_dirty((struct vcpu *)c);
    c->rip = 0xabc0;
    CHECK_EQ(try_write(SEG_DS, 0x5010, 2, 8), -1);
    CHECK_EQ(watch_calls, 1);
    CHECK_EQ(watch_gpa, 0x5010);
    CHECK_EQ(watch_len, 8);
    CHECK_EQ(watch_last.rip, 0xabc0);
    CHECK_EQ(watch_last.lin, 0x5010);
    CHECK_EQ(watch_last.cpl, 0);
    CHECK_EQ(watch_last.cr3, PML4);
    CHECK_EQ(try_write(SEG_DS, 0x5018, 3, 8), -1); /* again: the slow entry stays slow */
    CHECK_EQ(watch_calls, 2);
    /* the same page through the 1 GiB mapping, and a store running into it from page 4 */
    CHECK_EQ(try_write(SEG_DS, 0x40005ff8, 4, 8), -1);
    CHECK_EQ(watch_calls, 3);
    CHECK_EQ(watch_last.lin, 0x40005ff8);
    CHECK_EQ(try_write(SEG_DS, 0x4ffc, 0x1122334455667788ull, 8), -1);
    CHECK_EQ(watch_calls, 4);
    CHECK_EQ(watch_gpa, 0x5000);
    CHECK_EQ(watch_len, 4);
    CHECK_EQ(watch_last.lin, 0x5000);
    CHECK_EQ(*ram64(0x5010), 2);                   /* the bytes landed */
    CHECK_EQ(try_read(SEG_DS, 0x5010, 8, &v), -1); /* reads are not watched */
    CHECK_EQ(watch_calls, 4);
    CHECK_EQ(v, 2);
    /* unwatched, the page's entry gets its fast path back */
    bus_watch_range(&bus, 0x5008, 8, false);
    CHECK_EQ(try_write(SEG_DS, 0x5010, 5, 8), -1);
    CHECK_EQ(try_write(SEG_DS, 0x5010, 6, 8), -1);
    CHECK_EQ(watch_calls, 4);
    CHECK_EQ(*ram64(0x5010), 6);
    bus_set_write_watch(&bus, NULL, NULL);
    teardown();
}

int main(void)
{
    RUN(test_paging_off);
    RUN(test_page_sizes);
    RUN(test_accessed_dirty);
    RUN(test_pf_error_codes);
    RUN(test_nx_wp);
    RUN(test_user_kernel_tlb);
    RUN(test_invlpg_cr3_global);
    RUN(test_noncanonical);
    RUN(test_no_half_store);
    RUN(test_mmio_and_code_pages);
    RUN(test_write_watch);
    return check_done();
}
