/* test_block.c — the decoded-block cache's memory (src/cpu/exec/block.c): an idle guest's
 * blocks are dropped and the arena's and table's pages given back (the idle trim, with its rule
 * shortened), the guest runs on unchanged after it and a stable working set is not trimmed
 * again; and the translator's code cache, far too small for the program, is flushed over and
 * over while the program computes the right result (blocks must forget translations a flush
 * took away; the crash this caused needed a real guest, `vessel run --jit-cache 4M` booting
 * Linux, and this program does not reproduce it). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "cpu/core.h"
#include "cpu/exec/block.h"
#include "cpu/jit/cache.h"
#include "cpu/jit/jit.h"
#include "vessel/cpu.h"

#define CODE   0x10000
#define NBLOCK 30000 /* "inc eax; jnz +0": ~190 bytes of arena each, 5.4 MiB in all */

static struct bus bus;
static struct vcpu *v;
static struct cpu *c;

static void setup(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    v = vcpu_create(&bus, 0);
    c = (struct cpu *)v;
    cpu_setup_flat64(c, 0);
    c->gpr[R_RSP] = 0x80000;
}

static void teardown(void)
{
    vcpu_destroy(v);
    bus_destroy(&bus);
}

/* NBLOCK blocks of "inc eax; jnz next" (a conditional branch ends a translation too), then "dec
 * ecx; jnz CODE; hlt". */
static void load_chain(void)
{
    uint8_t *p = bus.ram + CODE;
    for (unsigned k = 0; k < NBLOCK; k++) {
        static const uint8_t blk[] = {0xFF, 0xC0, 0x75, 0x00}; /* inc eax; jnz +0 */
        memcpy(p, blk, sizeof(blk));
        p += sizeof(blk);
    }
    int32_t back = CODE - (int32_t)(CODE + NBLOCK * 4 + 2 + 6);
    const uint8_t tail[] = {0xFF,
                            0xC9,
                            0x0F,
                            0x85,
                            (uint8_t)back,
                            (uint8_t)(back >> 8),
                            (uint8_t)(back >> 16),
                            (uint8_t)(back >> 24),
                            0xF4};
    memcpy(p, tail, sizeof(tail));
}

static size_t resident(const void *p, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg, r = 0;
    unsigned char *vec = calloc(n, 1);
    if (vec && mincore((void *)p, n * pg, vec) == 0)
        for (size_t k = 0; k < n; k++)
            r += vec[k] & 1;
    free(vec);
    return r;
}

static void run_chain(unsigned rounds)
{
    c->rip = CODE;
    c->halted = false;
    c->gpr[R_RAX] = 0;
    c->gpr[R_RCX] = rounds;
    CHECK_EQ(vcpu_run(v, 100000000), VCPU_EXIT_HLT);
    CHECK_EQ(c->gpr[R_RAX], (uint64_t)NBLOCK * rounds);
}

static void test_idle_trim(void)
{
    setup();
    struct block_cache *bc = c->blocks;
    bc->trim_quiet_ns = bc->trim_interval_ns = 0;
    load_chain();
    run_chain(1); /* HLT: the first idle check sees new blocks and waits */
    size_t used = bc->arena_used;
    CHECK(used > bc->trim_growth);
    CHECK(resident(bc->arena, used) * (size_t)sysconf(_SC_PAGESIZE) >= used - 4096);
    uint64_t gen = bc->generation;
    CHECK_EQ(bc->trims, 0);
    /* Still halted, nothing built since: quiet, grown past the rule: trimmed. */
    CHECK_EQ(vcpu_run(v, 1000), VCPU_EXIT_HLT);
    CHECK_EQ(bc->trims, 1);
    CHECK_EQ(bc->arena_used, 0);
    CHECK_EQ(bc->generation, gen + 1);
    CHECK_EQ(resident(bc->arena, used), 0);
    CHECK(resident(bc->bucket, (size_t)bc->ngroups * BLOCK_GROUP * sizeof(*bc->bucket)) == 0);
    /* The guest runs on; what it rebuilds is its working set, which is not trimmed again. */
    run_chain(2);
    CHECK_EQ(vcpu_run(v, 1000), VCPU_EXIT_HLT); /* quiet: the working set is measured */
    CHECK_EQ(vcpu_run(v, 1000), VCPU_EXIT_HLT);
    CHECK_EQ(bc->trims, 1);
    CHECK(bc->arena_used >= used - 4096);
    teardown();
}

static void test_small_code_cache(void)
{
    setup();
    CHECK_EQ(vcpu_set_engine(v, VCPU_ENGINE_JIT, JIT_CACHE_MIN), 0);
    load_chain();
    /* Each block is translated on its 16th run; the cache holds a few hundred of them. */
    run_chain(18);
    CHECK(c->jit && c->jit->st.flushes > 10);
    CHECK(c->jit->cache->released > 0);
    run_chain(3);
    teardown();
}

int main(void)
{
    RUN(test_idle_trim);
    RUN(test_small_code_cache);
    return check_done();
}
