/* test_exec.c — the run loop and event delivery with real instruction bytes: retiring and
 * budgets, self-modifying code (across blocks and inside the running block), INT n with the
 * CPL3 -> CPL0 stack switch through TSS.RSP0, IST stacks, gate DPL checks, #DF escalation and
 * the triple-fault exit, external interrupts with HLT wake-up and the STI shadow, #UD for
 * undecodable bytes, cpu_step, MSRs and save/load round-trip; the write watch under the JIT. */
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpu/core.h"
#include "cpu/jit/jit.h"
#include "cpu/msr.h"
#include "vessel/cpu.h"
#include "vessel/state.h"

#define GDT   0x1000
#define IDT   0x2000
#define TSS   0x3000
#define CODE  0x10000
#define KSTK  0x40000 /* RSP0 */
#define IST1  0x50000
#define USTK  0x60000
#define HANDL 0x70000 /* handler for vector v at HANDL + v * 16: "hlt" */

static struct bus bus;
static struct vcpu *v;
static struct cpu *c;

static uint64_t *ram64(uint64_t gpa)
{
    return (uint64_t *)(bus.ram + gpa);
}

static void set_gate(unsigned vec, uint64_t target, unsigned type, unsigned dpl, unsigned ist,
                     bool present)
{
    uint64_t lo = (target & 0xffff) | (0x10ull << 16) | ((uint64_t)ist << 32) |
                  ((uint64_t)type << 40) | ((uint64_t)dpl << 45) | ((uint64_t)present << 47) |
                  (((target >> 16) & 0xffff) << 48);
    *ram64(IDT + vec * 16) = lo;
    *ram64(IDT + vec * 16 + 8) = target >> 32;
}

/* Paging off, 64-bit, GDT with kernel/user segments, a TSS, and every IDT vector pointing at
 * its own "hlt" stub (interrupt gates, DPL 0). */
static void setup(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    v = vcpu_create(&bus, 0);
    c = (struct cpu *)v;
    cpu_setup_flat64(c, 0);
    *ram64(GDT + 0x10) = 0x00AF9B000000FFFFull; /* kernel code64 */
    *ram64(GDT + 0x18) = 0x00CF93000000FFFFull; /* kernel data */
    *ram64(GDT + 0x28) = 0x00CFF3000000FFFFull; /* user data */
    *ram64(GDT + 0x30) = 0x00AFFB000000FFFFull; /* user code64 */
    c->gdt_base = GDT;
    c->gdt_limit = 0x4f;
    c->idt_base = IDT;
    c->idt_limit = 256 * 16 - 1;
    c->seg[SEG_TR] = (struct segcache){0x40, TSS, 0x67, 0x8b};
    uint64_t rsp0 = KSTK, ist1 = IST1 + 8; /* IST1 misaligned on purpose: delivery aligns */
    memcpy(bus.ram + TSS + 4, &rsp0, 8);
    memcpy(bus.ram + TSS + 0x24, &ist1, 8);
    for (unsigned k = 0; k < 256; k++) {
        bus.ram[HANDL + k * 16] = 0xF4;
        set_gate(k, HANDL + k * 16, 0xE, 0, 0, true);
    }
    c->gpr[R_RSP] = 0x80000;
}

static void teardown(void)
{
    vcpu_destroy(v);
    bus_destroy(&bus);
}

static void load_code(uint64_t at, const void *bytes, size_t n)
{
    memcpy(bus.ram + at, bytes, n);
    c->rip = at;
    c->halted = false;
}

static void test_run_and_budget(void)
{
    setup();
    static const uint8_t prog[] = {0xB8, 5, 0, 0, 0, 0x83, 0xC0, 7, 0xF4}; /* mov;add;hlt */
    load_code(CODE, prog, sizeof(prog));
    CHECK_EQ(vcpu_run(v, 1000), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 12);
    CHECK_EQ(c->rip, CODE + sizeof(prog));
    struct vcpu_stats st;
    vcpu_get_stats(v, &st);
    CHECK_EQ(st.insns, 3);
    CHECK(vcpu_halted(v));
    /* Halted with nothing pending stays halted. */
    CHECK_EQ(vcpu_run(v, 1000), VCPU_EXIT_HLT);
    /* An endless loop ends on the budget. */
    static const uint8_t loop[] = {0xFF, 0xC1, 0xEB, 0xFC}; /* inc ecx; jmp -4 */
    load_code(CODE + 0x100, loop, sizeof(loop));
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 10000), VCPU_EXIT_BUDGET);
    vcpu_get_stats(v, &st);
    CHECK(st.insns >= 10003 && st.insns < 10003 + 64);
    CHECK_EQ(c->gpr[R_RCX], (st.insns - 3) / 2);
    CHECK(st.blocks_built >= 2);
    /* vcpu_request_exit makes the next run return at once. */
    vcpu_request_exit(v);
    CHECK_EQ(vcpu_run(v, 10000), VCPU_EXIT_REQUEST);
    teardown();
}

static unsigned watch_calls;
static uint64_t watch_rip;

static void watch_hook(void *o, uint64_t gpa, uint64_t len, const struct bus_writer *w)
{
    watch_calls++;
    watch_rip = w ? w->rip : 0;
}

/* A store in a hot loop, translated by the JIT, still reaches the write watch each time, with
 * the storing instruction's RIP. */
static void test_write_watch_jit(void)
{
    setup();
    CHECK_EQ(vcpu_set_engine(v, VCPU_ENGINE_JIT, 0), 0);
    /* loop: mov [rdi], rax; inc rax; dec ecx; jnz loop; hlt */
    static const uint8_t prog[] = {0x48, 0x89, 0x07, 0x48, 0xFF, 0xC0,
                                   0xFF, 0xC9, 0x75, 0xF6, 0xF4};
    load_code(CODE, prog, sizeof(prog));
    c->gpr[R_RDI] = 0x30008;
    c->gpr[R_RCX] = 1000;
    c->gpr[R_RAX] = 0;
    bus_watch_range(&bus, 0x30000, 8, true); /* the page, not the bytes written, is watched */
    bus_set_write_watch(&bus, watch_hook, NULL);
    vcpu_rearm_dirty(v);
    CHECK_EQ(vcpu_run(v, 100000), VCPU_EXIT_HLT);
    CHECK_EQ(*ram64(0x30008), 999);
    CHECK_EQ(watch_calls, 1000);
    CHECK_EQ(watch_rip, CODE);
    CHECK(c->jit && c->jit->st.translated > 0 && c->jit->st.entries > 0);
    bus_set_write_watch(&bus, NULL, NULL);
    teardown();
}

static void *dma_thread(void *arg)
{
    uint8_t four = 4;
    bus_dma_write(&bus, CODE + 1, &four, 1);
    return NULL;
}

static void test_self_modifying(void)
{
    setup();
    static const uint8_t a[] = {0xB8, 1, 0, 0, 0, 0xF4}; /* mov eax, 1; hlt */
    load_code(CODE, a, sizeof(a));
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 1);
    CHECK(bus.page_flags[CODE >> 12] & BUS_PAGE_CODE);
    /* Guest code elsewhere rewrites the immediate: mov byte [0x10001], 2; hlt */
    static const uint8_t w[] = {0xC6, 0x04, 0x25, 0x01, 0x00, 0x01, 0x00, 0x02, 0xF4};
    load_code(CODE + 0x1000, w, sizeof(w));
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    c->rip = CODE;
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 2);
    /* A DMA write (device) invalidates too. */
    uint8_t three = 3;
    CHECK(bus_dma_write(&bus, CODE + 1, &three, 1));
    c->rip = CODE;
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 3);
    /* From another thread (an I/O thread's DMA) the drop is queued for the vCPU thread. */
    struct vcpu_stats st0, st1;
    vcpu_get_stats(v, &st0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, dma_thread, NULL), 0);
    pthread_join(t, NULL);
    vcpu_get_stats(v, &st1);
    CHECK_EQ(st1.blocks_flushed, st0.blocks_flushed);
    c->rip = CODE;
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 4);
    /* The running block rewrites its own next instruction: mov byte [rip+1], 9; mov al, 1; hlt */
    static const uint8_t s[] = {0xC6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x09, 0xB0, 0x01, 0xF4};
    load_code(CODE + 0x2000, s, sizeof(s));
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX] & 0xff, 9);
    struct vcpu_stats st;
    vcpu_get_stats(v, &st);
    CHECK(st.blocks_flushed >= 3);
    teardown();
}

/* Two vCPUs on one bus both hold blocks from the same page: a code write reaches both caches
 * (each is its own listener on the bus; neither replaces the other). */
static void test_smc_two_vcpus(void)
{
    setup();
    struct vcpu *v2 = vcpu_create(&bus, 1);
    struct cpu *c2 = (struct cpu *)v2;
    cpu_setup_flat64(c2, 0);
    static const uint8_t a[] = {0xB8, 1, 0, 0, 0, 0xF4}; /* mov eax, 1; hlt */
    load_code(CODE, a, sizeof(a));
    c2->rip = CODE;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(vcpu_run(v2, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 1);
    CHECK_EQ(c2->gpr[R_RAX], 1);
    uint8_t five = 5;
    CHECK(bus_dma_write(&bus, CODE + 1, &five, 1));
    c->rip = c2->rip = CODE;
    c->halted = c2->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(vcpu_run(v2, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 5);
    CHECK_EQ(c2->gpr[R_RAX], 5);
    vcpu_destroy(v2);
    teardown();
}

static void test_int_user_to_kernel(void)
{
    setup();
    cpu_setup_flat64(c, 3);
    set_gate(0x80, HANDL + 0x80 * 16, 0xE, 3, 0, true);
    static const uint8_t u[] = {0xCD, 0x80}; /* int 0x80 */
    load_code(CODE, u, sizeof(u));
    c->gpr[R_RSP] = USTK - 8;
    c->rflags = 0x202 | F_TF; /* IF on: an interrupt gate clears it; TF is cleared too */
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->cpl, 0);
    CHECK_EQ(c->seg[SEG_CS].sel, 0x10);
    CHECK_EQ(c->seg[SEG_SS].sel, 0); /* null SS with RPL = new CPL */
    CHECK_EQ(c->gpr[R_RSP], KSTK - 40);
    CHECK_EQ(*ram64(KSTK - 40), CODE + 2);     /* RIP: after INT */
    CHECK_EQ(*ram64(KSTK - 32), 0x33);         /* CS */
    CHECK_EQ(*ram64(KSTK - 24), 0x202 | F_TF); /* RFLAGS */
    CHECK_EQ(*ram64(KSTK - 16), USTK - 8);     /* RSP */
    CHECK_EQ(*ram64(KSTK - 8), 0x2b);          /* SS */
    CHECK(!(c->rflags & (F_IF | F_TF)));
    CHECK_EQ(c->rip, HANDL + 0x80 * 16 + 1);
    /* A DPL-0 gate is off limits to INT n from CPL 3: #GP(vec*8+2) instead. */
    cpu_setup_flat64(c, 3);
    static const uint8_t u2[] = {0xCD, 0x81};
    load_code(CODE + 0x100, u2, sizeof(u2));
    c->gpr[R_RSP] = USTK;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, HANDL + 13 * 16 + 1);
    CHECK_EQ(*ram64(KSTK - 48), 0x81 * 8 + 2); /* error code */
    CHECK_EQ(*ram64(KSTK - 40), CODE + 0x100); /* the INT itself */
    teardown();
}

static void test_ist_and_error_code(void)
{
    setup();
    set_gate(13, HANDL + 13 * 16, 0xF, 0, 1, true); /* trap gate on IST1 */
    /* mov rax, [0x0000800000000000] -> #GP(0) */
    static const uint8_t g[] = {0x48, 0xA1, 0, 0, 0, 0, 0, 0x80, 0, 0};
    load_code(CODE, g, sizeof(g));
    c->rflags = 0x202;
    c->gpr[R_RSP] = 0x80000 - 0x18;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, HANDL + 13 * 16 + 1);
    CHECK_EQ(c->gpr[R_RSP], IST1 - 48);
    CHECK_EQ(*ram64(IST1 - 48), 0);    /* error code */
    CHECK_EQ(*ram64(IST1 - 40), CODE); /* faulting RIP */
    CHECK_EQ(*ram64(IST1 - 32), 0x10);
    CHECK_EQ(*ram64(IST1 - 16), 0x80000 - 0x18);
    CHECK_EQ(*ram64(IST1 - 8), 0x18);
    CHECK(c->rflags & F_IF); /* trap gate keeps IF */
    struct vcpu_stats st;
    vcpu_get_stats(v, &st);
    CHECK_EQ(st.exceptions, 1);
    teardown();
}

static void test_double_and_triple_fault(void)
{
    setup();
    set_gate(13, HANDL + 13 * 16, 0xE, 0, 0, false); /* #GP handler not present */
    static const uint8_t g[] = {0x48, 0xA1, 0, 0, 0, 0, 0, 0x80, 0, 0};
    load_code(CODE, g, sizeof(g));
    c->gpr[R_RSP] = 0x80000;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, HANDL + 8 * 16 + 1); /* #GP -> #NP during delivery -> #DF */
    CHECK_EQ(*ram64(0x80000 - 48), 0);    /* #DF error code */
    CHECK_EQ(*ram64(0x80000 - 40), CODE);
    /* And with no #DF handler either: shutdown. */
    set_gate(8, HANDL + 8 * 16, 0xE, 0, 0, false);
    c->rip = CODE;
    c->halted = false;
    c->gpr[R_RSP] = 0x80000;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_SHUTDOWN);
    CHECK(strstr(vcpu_exit_reason(v), "triple fault") != NULL);
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_SHUTDOWN); /* dead stays dead */
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    vcpu_dump(v, f);
    fclose(f);
    CHECK(strstr(dump, "triple fault") != NULL);
    CHECK(strstr(dump, "rip=") != NULL);
    CHECK(strstr(dump, "0000000000010000: 48 a1 00 00 00 00 00 80") != NULL);
    free(dump);
    teardown();
}

static int intc_vector = -1, intc_acked = -1;
static int intc_pending(void *o)
{
    return intc_vector;
}
static void intc_ack(void *o, int vec)
{
    intc_acked = vec;
    intc_vector = -1;
}
static const struct vcpu_intc_ops intc_ops = {intc_pending, intc_ack, NULL, NULL};

static void test_interrupts(void)
{
    setup();
    vcpu_set_intc(v, &intc_ops, NULL);
    intc_vector = 0x30;
    /* cli; sti; hlt with 0x30 pending all along: the STI shadow covers the HLT, so the
     * interrupt arrives after it (frame RIP = after HLT) and wakes the vCPU. */
    static const uint8_t p[] = {0xFA, 0xFB, 0xF4, 0x90, 0xF4};
    load_code(CODE, p, sizeof(p));
    c->rflags = 0x2;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(intc_acked, 0x30);
    CHECK_EQ(c->rip, HANDL + 0x30 * 16 + 1);
    CHECK_EQ(*ram64(0x80000 - 40), CODE + 3);
    struct vcpu_stats st;
    vcpu_get_stats(v, &st);
    CHECK_EQ(st.interrupts, 1);
    /* Halted with IF set: nothing pending -> HLT exit; pending -> delivered, un-halted. */
    static const uint8_t h[] = {0xFB, 0x90, 0xF4, 0x90, 0xF4};
    load_code(CODE + 0x100, h, sizeof(h));
    c->halted = false;
    c->gpr[R_RSP] = 0x80000;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, CODE + 0x103);
    CHECK(vcpu_halted(v));
    intc_vector = 0x31;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(intc_acked, 0x31);
    CHECK_EQ(*ram64(0x80000 - 40), CODE + 0x103);
    CHECK_EQ(c->rip, HANDL + 0x31 * 16 + 1);
    /* IF clear: nothing is taken. */
    intc_vector = 0x32;
    load_code(CODE + 0x200, (const uint8_t[]){0xFA, 0xF4}, 2);
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, CODE + 0x202);
    CHECK_EQ(intc_acked, 0x31);
    teardown();
}

static void test_shadow_at_block_end(void)
{
    setup();
    vcpu_set_intc(v, &intc_ops, NULL);
    intc_vector = 0x33;
    /* STI is the last byte of a page (so the last instruction of its block), HLT follows on
     * the next page: the shadow must still cover the HLT. */
    bus.ram[CODE + 0xfff] = 0xFB;
    bus.ram[CODE + 0x1000] = 0xF4;
    c->rip = CODE + 0xfff;
    c->rflags = 0x2;
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(intc_acked, 0x33);
    CHECK_EQ(*ram64(0x80000 - 40), CODE + 0x1001);
    teardown();
}

/* Identity-map the first 2 MiB with 4 KiB pages (tables at 0x4000..0x7fff), paging on. */
static void setup_paging(void)
{
    *ram64(0x4000) = 0x5000 | 3;
    *ram64(0x5000) = 0x6000 | 3;
    *ram64(0x6000) = 0x7000 | 3;
    for (unsigned k = 0; k < 512; k++)
        *ram64(0x7000 + k * 8) = (k * 0x1000ull) | 3;
    c->cr3 = 0x4000;
    c->cr0 |= CR0_PG;
    cpu_mode_changed(c);
}

static void test_cross_page_fetch(void)
{
    setup();
    setup_paging();
    /* inc ecx at 0x11ffb, then mov eax, 0x44332211 at 0x11ffd running into page 0x12000. */
    static const uint8_t p[] = {0x90, 0x90, 0xFF, 0xC1, 0x90, 0xB8, 0x11, 0x22, 0x33, 0x44, 0xF4};
    memcpy(bus.ram + 0x11ff8, p, sizeof(p));
    *ram64(0x7000 + 0x12 * 8) = 0; /* page 0x12000 not present */
    c->rip = 0x11ff8;
    c->gpr[R_RSP] = 0x80000;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, HANDL + 14 * 16 + 1);
    CHECK_EQ(c->cr2, 0x12000);
    CHECK_EQ(*ram64(0x80000 - 48), 0x10); /* I/D: fetch, not present, supervisor */
    CHECK_EQ(*ram64(0x80000 - 40), 0x11ffd);
    CHECK_EQ(c->gpr[R_RCX], 1); /* the instructions before it retired */
    /* Map it: the instruction runs, its block spans both pages. */
    *ram64(0x7000 + 0x12 * 8) = 0x12000 | 3;
    tlb_flush_page(c, 0x12000);
    c->rip = 0x11ff8;
    c->halted = false;
    c->gpr[R_RSP] = 0x80000;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, 0x12003);
    CHECK_EQ(c->gpr[R_RAX], 0x44332211);
    CHECK(bus.page_flags[0x12] & BUS_PAGE_CODE);
    /* Writing the second page drops the block that runs into it. */
    uint8_t b = 0x55;
    CHECK(bus_dma_write(&bus, 0x12000, &b, 1));
    c->rip = 0x11ff8;
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 0x44552211);
    /* Remapping the second page elsewhere (same first page) is noticed too. */
    memcpy(bus.ram + 0x13000, (const uint8_t[]){0x66, 0x77, 0xF4}, 3);
    *ram64(0x7000 + 0x12 * 8) = 0x13000 | 3;
    tlb_flush_page(c, 0x12000);
    c->rip = 0x11ff8;
    c->halted = false;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], 0x77662211);
    teardown();
}

static void test_ud_and_step(void)
{
    setup();
    static const uint8_t bad[] = {0x0F, 0x04}; /* invalid opcode */
    load_code(CODE, bad, sizeof(bad));
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->rip, HANDL + 6 * 16 + 1);
    CHECK_EQ(*ram64(0x80000 - 40), CODE);
    struct vcpu_stats st;
    vcpu_get_stats(v, &st);
    CHECK_EQ(st.ud, 1);
    /* cpu_step: one instruction; a fault with deliver=false leaves rip at the instruction. */
    static const uint8_t s[] = {0xB8, 7, 0, 0, 0, 0x48, 0xA1, 0, 0, 0, 0, 0, 0x80, 0, 0};
    load_code(CODE + 0x100, s, sizeof(s));
    c->halted = false;
    CHECK_EQ(cpu_step(c, false), -1);
    CHECK_EQ(c->gpr[R_RAX], 7);
    CHECK_EQ(c->rip, CODE + 0x105);
    CHECK_EQ(cpu_step(c, false), EXC_GP);
    CHECK_EQ(c->rip, CODE + 0x105);
    c->gpr[R_RSP] = 0x80000;
    CHECK_EQ(cpu_step(c, true), EXC_GP);
    CHECK_EQ(c->rip, HANDL + 13 * 16);
    teardown();
}

static uint64_t plat_msr;
static bool plat_read(void *o, uint32_t msr, uint64_t *val)
{
    if (msr != 0x1b) return false;
    *val = plat_msr;
    return true;
}
static bool plat_write(void *o, uint32_t msr, uint64_t val)
{
    if (msr != 0x1b) return false;
    plat_msr = val;
    return true;
}
static const struct vcpu_msr_ops msr_ops = {plat_read, plat_write};

static void test_msrs(void)
{
    setup();
    uint64_t x;
    CHECK(vcpu_set_msr(v, MSR_LSTAR, 0xffffffff81000000ull));
    CHECK(vcpu_get_msr(v, MSR_LSTAR, &x));
    CHECK_EQ(x, 0xffffffff81000000ull);
    CHECK(!vcpu_set_msr(v, MSR_LSTAR, 0x0000800000000000ull)); /* non-canonical */
    CHECK(!vcpu_set_msr(v, MSR_EFER, 1ull << 20));             /* reserved */
    CHECK(!vcpu_get_msr(v, 0x12345678, &x));
    CHECK(!vcpu_get_msr(v, 0x1b, &x));
    vcpu_set_msr_ops(v, &msr_ops, NULL);
    CHECK(vcpu_set_msr(v, 0x1b, 0xfee00900));
    CHECK(vcpu_get_msr(v, 0x1b, &x));
    CHECK_EQ(x, 0xfee00900);
    CHECK(vcpu_set_msr(v, MSR_GS_BASE, 0x1234000));
    CHECK_EQ(c->seg[SEG_GS].base, 0x1234000);
    CHECK(!vcpu_set_msr(v, MSR_PAT, 0x0202020202020202ull)); /* type 2 is reserved */
    /* The TSC runs forward from what was written. */
    CHECK(vcpu_set_msr(v, MSR_TSC, 1000000));
    uint64_t t1 = vcpu_read_tsc(v), t2 = vcpu_read_tsc(v);
    CHECK(t1 >= 1000000 && t2 >= t1);
    CHECK_EQ(vcpu_tsc_hz(v), CPU_TSC_HZ);
    /* kvmclock is the board's (src/hw/kvmclock.c, through msr_ops): tests/unit/test_pc.c. */
    /* RDMSR/WRMSR from guest code use the same table: wrmsr STAR; rdmsr; hlt */
    static const uint8_t p[] = {0x0F, 0x30, 0x0F, 0x32, 0xF4};
    load_code(CODE, p, sizeof(p));
    c->gpr[R_RCX] = MSR_STAR;
    c->gpr[R_RAX] = 0x11112222;
    c->gpr[R_RDX] = 0x00230010;
    CHECK_EQ(vcpu_run(v, 100), VCPU_EXIT_HLT);
    CHECK_EQ(c->star, 0x0023001011112222ull);
    CHECK_EQ(c->gpr[R_RAX], 0x11112222);
    teardown();
}

static void test_save_load(void)
{
    setup();
    struct vcpu_regs r;
    vcpu_get_regs(v, &r);
    for (unsigned k = 0; k < 16; k++)
        r.gpr[k] = 0x1000 * k + 7;
    r.rip = 0x123456;
    r.rflags = 0x2 | F_CF | F_ZF | F_IF;
    vcpu_set_regs(v, &r);
    struct vcpu_sregs s;
    vcpu_get_sregs(v, &s);
    s.cr0 |= CR0_PG; /* long mode proper: a load refuses LMA without paging */
    s.cr3 = 0x7000;
    s.cr2 = 0xdead;
    s.seg[VSEG_FS].base = 0xffff888000000000ull;
    vcpu_set_sregs(v, &s);
    CHECK(vcpu_set_msr(v, MSR_KERNEL_GS_BASE, 0xffff888000001000ull));
    CHECK(vcpu_set_msr(v, MSR_TSC, 5000000000ull));
    c->xmm[3].q[1] = 0x0123456789abcdefull;
    c->mxcsr = 0x1fa0;
    c->fpu.st[2] = 3.25L;
    c->fpu.fcw = 0x27f;
    c->halted = true;

    struct state_writer w;
    state_writer_init(&w);
    vcpu_save(v, &w);
    CHECK(!w.error);

    struct bus bus2;
    CHECK_EQ(bus_init(&bus2, 1 << 20), 0);
    struct vcpu *v2 = vcpu_create(&bus2, 1);
    struct state_reader rd;
    CHECK(state_reader_init(&rd, w.data, w.len));
    CHECK_EQ(vcpu_load(v2, &rd), 0);
    struct cpu *c2 = (struct cpu *)v2;
    struct vcpu_regs r2;
    vcpu_get_regs(v2, &r2);
    CHECK(memcmp(r.gpr, r2.gpr, sizeof(r.gpr)) == 0);
    CHECK_EQ(r2.rip, 0x123456);
    CHECK_EQ(r2.rflags, r.rflags);
    struct vcpu_sregs s2;
    vcpu_get_sregs(v2, &s2);
    for (unsigned k = 0; k < 8; k++) {
        CHECK_EQ(s2.seg[k].selector, s.seg[k].selector);
        CHECK_EQ(s2.seg[k].base, s.seg[k].base);
        CHECK_EQ(s2.seg[k].limit, s.seg[k].limit);
        CHECK_EQ(s2.seg[k].attr, s.seg[k].attr);
    }
    CHECK_EQ(s2.gdt_base, s.gdt_base);
    CHECK_EQ(s2.gdt_limit, s.gdt_limit);
    CHECK_EQ(s2.idt_base, s.idt_base);
    CHECK_EQ(s2.idt_limit, s.idt_limit);
    CHECK_EQ(s2.cr0, s.cr0);
    CHECK_EQ(s2.cr2, 0xdead);
    CHECK_EQ(s2.cr3, 0x7000);
    CHECK_EQ(s2.cr4, s.cr4);
    CHECK_EQ(s2.efer, s.efer);
    CHECK_EQ(s2.seg[VSEG_FS].base, 0xffff888000000000ull);
    uint64_t x;
    CHECK(vcpu_get_msr(v2, MSR_KERNEL_GS_BASE, &x));
    CHECK_EQ(x, 0xffff888000001000ull);
    CHECK(vcpu_get_msr(v2, MSR_TSC, &x));
    CHECK(x >= 5000000000ull && x < 5000000000ull + 2000000000ull * 10);
    CHECK_EQ(c2->xmm[3].q[1], 0x0123456789abcdefull);
    CHECK_EQ(c2->mxcsr, 0x1fa0);
    CHECK(c2->fpu.st[2] == 3.25L);
    CHECK_EQ(c2->fpu.fcw, 0x27f);
    CHECK(vcpu_halted(v2));
    CHECK_EQ(c2->mode, MODE_LONG64);

    /* A truncated section is refused and changes nothing. */
    struct state_writer w2;
    state_writer_init(&w2);
    state_section_begin(&w2, "cpu", 1);
    state_put_u64(&w2, 42);
    state_section_end(&w2);
    CHECK(state_reader_init(&rd, w2.data, w2.len));
    CHECK_EQ(vcpu_load(v2, &rd), -1);
    CHECK_EQ(c2->gpr[0], 7);
    /* So is an unknown version. */
    state_writer_free(&w2);
    state_writer_init(&w2);
    state_section_begin(&w2, "cpu", 99);
    state_section_end(&w2);
    CHECK(state_reader_init(&rd, w2.data, w2.len));
    CHECK_EQ(vcpu_load(v2, &rd), -1);
    state_writer_free(&w2);
    state_writer_free(&w);
    vcpu_destroy(v2);
    bus_destroy(&bus2);
    teardown();
}

int main(void)
{
    RUN(test_run_and_budget);
    RUN(test_self_modifying);
    RUN(test_smc_two_vcpus);
    RUN(test_int_user_to_kernel);
    RUN(test_ist_and_error_code);
    RUN(test_double_and_triple_fault);
    RUN(test_interrupts);
    RUN(test_shadow_at_block_end);
    RUN(test_cross_page_fetch);
    RUN(test_ud_and_step);
    RUN(test_msrs);
    RUN(test_save_load);
    RUN(test_write_watch_jit);
    return check_done();
}
