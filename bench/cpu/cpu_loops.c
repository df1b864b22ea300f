/* cpu_loops.c — guest instructions per second of the CPU engine on three bare-metal loops
 * (integer ALU, memory copy, call/return, a SHA-256 round), run through the public engine API
 * exactly as the machine runs a guest. The loop code (loops.S) is linked into this program only to
 * be copied into guest RAM; the host never executes it. Usage: cpu_loops [iterations-per-loop]
 * (default 20,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/cpu.h"

extern const unsigned char int_loop[], copy_loop[], call_loop[], sha_loop[], loops_end[];

#define CODE_GPA  0x100000ull
#define SRC_GPA   0x200000ull
#define DST_GPA   0x400000ull
#define STACK_TOP 0x90000ull
#define PML4_GPA  0x1000ull

static void build_identity_map(struct bus *b)
{
    uint64_t *pml4 = (uint64_t *)bus_ram_ptr(b, PML4_GPA, 4096);
    uint64_t *pdpt = (uint64_t *)bus_ram_ptr(b, PML4_GPA + 0x1000, 4096);
    uint64_t *pd = (uint64_t *)bus_ram_ptr(b, PML4_GPA + 0x2000, 4096);
    pml4[0] = (PML4_GPA + 0x1000) | 3;
    pdpt[0] = (PML4_GPA + 0x2000) | 3;
    for (uint64_t k = 0; k < 512; k++)
        pd[k] = (k << 21) | 0x83; /* present, writable, 2 MiB */
}

static void enter_long_mode(struct vcpu *v, uint64_t rip, uint64_t rcx)
{
    struct vcpu_sregs s;
    vcpu_get_sregs(v, &s);
    struct vcpu_segment code = {.selector = 0x8, .base = 0, .limit = 0xffffffff, .attr = 0xA09B};
    struct vcpu_segment data = {.selector = 0x10, .base = 0, .limit = 0xffffffff, .attr = 0xC093};
    s.seg[VSEG_CS] = code;
    s.seg[VSEG_DS] = s.seg[VSEG_ES] = s.seg[VSEG_SS] = s.seg[VSEG_FS] = s.seg[VSEG_GS] = data;
    s.cr0 = 0x80000031; /* PE ET NE PG */
    s.cr3 = PML4_GPA;
    s.cr4 = 0x620;  /* PAE OSFXSR OSXMMEXCPT */
    s.efer = 0x500; /* LME LMA */
    vcpu_set_sregs(v, &s);
    struct vcpu_regs r = {0};
    r.rip = rip;
    r.rflags = 2;
    r.gpr[4] = STACK_TOP;
    r.gpr[1] = rcx;
    r.gpr[6] = SRC_GPA;
    r.gpr[7] = DST_GPA;
    vcpu_set_regs(v, &r);
}

int main(int argc, char **argv)
{
    uint64_t iters = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000000;
    static const struct {
        const char *name;
        const unsigned char *entry;
    } loops[] = {{"integer", int_loop},
                 {"memcopy", copy_loop},
                 {"callret", call_loop},
                 {"sha256", sha_loop}};

    struct bus bus;
    if (bus_init(&bus, 64ull << 20) != 0) {
        fprintf(stderr, "cpu_loops: cannot allocate guest RAM\n");
        return 1;
    }
    build_identity_map(&bus);
    size_t code_len = (size_t)(loops_end - int_loop);
    memcpy(bus_ram_ptr(&bus, CODE_GPA, code_len), int_loop, code_len);

    printf("%-8s %14s %10s %12s\n", "loop", "guest insns", "seconds", "M insns/s");
    int rc = 0;
    for (size_t k = 0; k < sizeof(loops) / sizeof(loops[0]); k++) {
        if (argc > 2 && strcmp(argv[2], loops[k].name) != 0) continue;
        struct vcpu *v = vcpu_create(&bus, 0);
        if (!v) {
            fprintf(stderr, "cpu_loops: vcpu_create failed\n");
            return 1;
        }
        enter_long_mode(v, CODE_GPA + (uint64_t)(loops[k].entry - int_loop), iters);
        uint64_t t0 = clock_ns();
        enum vcpu_exit e;
        do
            e = vcpu_run(v, 1ull << 40);
        while (e == VCPU_EXIT_BUDGET || e == VCPU_EXIT_REQUEST);
        uint64_t t1 = clock_ns();
        struct vcpu_stats st;
        vcpu_get_stats(v, &st);
        struct vcpu_regs r;
        vcpu_get_regs(v, &r);
        if (e != VCPU_EXIT_HLT || r.gpr[1] != 0) {
            fprintf(stderr, "cpu_loops: %s loop did not finish (exit %d, rcx %#llx)\n",
                    loops[k].name, (int)e, (unsigned long long)r.gpr[1]);
            vcpu_dump(v, stderr);
            rc = 1;
        }
        double secs = (double)(t1 - t0) / 1e9;
        printf("%-8s %14llu %10.3f %12.1f\n", loops[k].name, (unsigned long long)st.insns, secs,
               (double)st.insns / secs / 1e6);
        vcpu_destroy(v);
    }
    bus_destroy(&bus);
    return rc;
}
