/* test_jit_cache.c — the translator's code cache: the executable view is never writable and the
 * writable view never executable (checked in /proc/self/maps and by actually trying, in a
 * child process), both views alias the same bytes, space is bounded and handed out aligned,
 * a flush reclaims it and bumps the generation, gives the pages above the floor back to the host
 * and keeps the floor's code, the perf map is written on request, and --jit-cache sizes parse. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cpu/jit/cache.h"
#include "cpu/jit/emit.h"

/* The permission string of the mapping holding addr ("r-xs", ...), or "" if none. */
static void perms_of(uintptr_t addr, char out[5])
{
    out[0] = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char p[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && addr >= lo && addr < hi) {
            memcpy(out, p, 5);
            break;
        }
    }
    fclose(f);
}

/* Run fn(arg) in a child; true if the child died of SIGSEGV (or SIGBUS). */
static bool faults_in_child(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* not a sanitizer's report: the signal itself */
        signal(SIGBUS, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) return false;
    return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

static void write_byte(void *p)
{
    *(volatile uint8_t *)p = 0xC3;
}

static void call_it(void *p)
{
    ((void (*)(void))p)();
}

static void test_wx(void)
{
    struct jit_cache *jc = jit_cache_new(1 << 20);
    CHECK(jc != NULL);
    if (!jc) return;
    char prw[5], prx[5];
    perms_of((uintptr_t)jc->rw, prw);
    perms_of((uintptr_t)jc->rx, prx);
    CHECK(strcmp(prw, "rw-s") == 0);
    CHECK(strcmp(prx, "r-xs") == 0);
    CHECK((uintptr_t)jc->rw != (uintptr_t)jc->rx);

    /* a function written through one view runs through the other */
    uint8_t *rw;
    size_t avail;
    uintptr_t rx = jit_cache_begin(jc, &rw, &avail);
    struct jit_emit e;
    jit_emit_init(&e, rw, rx, avail);
    emit_mov_ri(&e, 4, HR_RAX, 42);
    emit_ret(&e);
    CHECK_EQ(jit_cache_commit(jc, e.pos, "answer"), rx);
    CHECK_EQ(((uint64_t(*)(void))rx)(), 42);
    CHECK_EQ(jit_cache_rw(jc, rx), (uintptr_t)rw);
    CHECK(jit_cache_contains(jc, rx));
    CHECK(!jit_cache_contains(jc, (uintptr_t)jc->rw));

    CHECK(faults_in_child(write_byte, (void *)rx));  /* RX view: no writes */
    CHECK(faults_in_child(call_it, (void *)jc->rw)); /* RW view: no execution */
    jit_cache_free(jc);
}

/* Resident pages of [p, p + len) (mincore: for the cache's shared memory, whether the page
 * exists at all). */
static size_t resident_pages(const void *p, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = len / pg, r = 0;
    unsigned char *v = calloc(n, 1);
    if (!v || mincore((void *)p, len, v) != 0) {
        free(v);
        return (size_t)-1;
    }
    for (size_t k = 0; k < n; k++)
        r += v[k] & 1;
    free(v);
    return r;
}

static void test_flush_releases(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), size = 1 << 20;
    struct jit_cache *jc = jit_cache_new(size);
    CHECK(jc != NULL);
    if (!jc) return;
    uint8_t *rw;
    size_t avail;
    jit_cache_begin(jc, &rw, &avail);
    memset(rw, 0xC3, 40);
    jit_cache_commit(jc, 40, "glue");
    jit_cache_set_floor(jc);
    for (unsigned k = 0; k < 64; k++) {
        jit_cache_begin(jc, &rw, &avail);
        memset(rw, 0xCC, 8000);
        jit_cache_commit(jc, 8000, NULL);
    }
    CHECK(resident_pages(jc->rx, size) >= 64 * 8000 / pg);
    jit_cache_flush(jc);
    /* the floor's page stays, with its code; nothing above it is left */
    CHECK_EQ(resident_pages(jc->rx, size), 1);
    CHECK_EQ(jc->rx[0], 0xC3);
    CHECK_EQ(jc->rx[39], 0xC3);
    CHECK_EQ(jc->rx[pg], 0);
    CHECK(jc->released >= 64 * 8000 - pg);
    /* written again, the space holds the new code */
    jit_cache_begin(jc, &rw, &avail);
    memset(rw, 0x90, 3 * pg);
    uintptr_t at = jit_cache_commit(jc, 3 * pg, NULL);
    CHECK_EQ(*(uint8_t *)(at + 2 * pg), 0x90);
    CHECK_EQ(jc->rx[0], 0xC3);
    jit_cache_flush(jc);
    CHECK_EQ(resident_pages(jc->rx, size), 1);
    jit_cache_free(jc);
}

static void test_bound_flush(void)
{
    struct jit_cache *jc = jit_cache_new(JIT_CACHE_MIN);
    CHECK(jc != NULL);
    if (!jc) return;
    CHECK_EQ(jc->size, JIT_CACHE_MIN);
    uint8_t *rw;
    size_t avail;
    uintptr_t first = jit_cache_begin(jc, &rw, &avail);
    CHECK_EQ(first, (uintptr_t)jc->rx);
    CHECK_EQ(avail, JIT_CACHE_MIN);
    /* regions are 16-byte aligned and never overlap; space runs out at the bound */
    uintptr_t prev_end = first;
    unsigned regions = 0;
    for (;;) {
        uintptr_t at = jit_cache_begin(jc, &rw, &avail);
        if (avail < 100) break;
        CHECK_EQ(at & 15, 0);
        CHECK(at >= prev_end);
        memset(rw, 0xCC, 100);
        CHECK_EQ(jit_cache_commit(jc, 100, NULL), at);
        prev_end = at + 100;
        regions++;
    }
    CHECK_EQ(regions, JIT_CACHE_MIN / 112);
    CHECK(jc->used <= jc->size);
    uint64_t gen = jc->generation;
    jit_cache_flush(jc);
    CHECK_EQ(jc->generation, gen + 1);
    CHECK_EQ(jc->used, 0);
    CHECK_EQ(jit_cache_begin(jc, &rw, &avail), first);
    CHECK_EQ(avail, JIT_CACHE_MIN);

    /* a floor survives flushes */
    jit_cache_begin(jc, &rw, &avail);
    jit_cache_commit(jc, 40, "trampoline");
    jit_cache_set_floor(jc);
    jit_cache_begin(jc, &rw, &avail);
    jit_cache_commit(jc, 100, NULL);
    jit_cache_flush(jc);
    CHECK_EQ(jc->used, 40);
    CHECK_EQ(jit_cache_begin(jc, &rw, &avail), first + 48);
    jit_cache_free(jc);

    /* sizes below the minimum are raised to it; sizes round up to pages */
    jc = jit_cache_new(1000);
    CHECK(jc && jc->size == JIT_CACHE_MIN);
    jit_cache_free(jc);
    jc = jit_cache_new(JIT_CACHE_MIN + 1);
    CHECK(jc && jc->size == JIT_CACHE_MIN + (size_t)sysconf(_SC_PAGESIZE));
    jit_cache_free(jc);
    jc = jit_cache_new(0);
    CHECK(jc && jc->size == JIT_CACHE_DEFAULT);
    jit_cache_free(jc);
}

static void test_perf_map(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    unlink(path);
    setenv("VESSEL_PERF_MAP", "1", 1);
    struct jit_cache *jc = jit_cache_new(JIT_CACHE_MIN);
    unsetenv("VESSEL_PERF_MAP");
    CHECK(jc && jc->perf_map);
    if (!jc) return;
    uint8_t *rw;
    size_t avail;
    jit_cache_begin(jc, &rw, &avail);
    rw[0] = 0xC3;
    uintptr_t rx = jit_cache_commit(jc, 1, "guest_0x1000");
    jit_cache_free(jc);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        char line[128], want[128];
        snprintf(want, sizeof want, "%lx 1 guest_0x1000\n", (unsigned long)rx);
        CHECK(fgets(line, sizeof line, f) && strcmp(line, want) == 0);
        fclose(f);
    }
    unlink(path);
    /* without the variable nothing is written */
    jc = jit_cache_new(JIT_CACHE_MIN);
    CHECK(jc && !jc->perf_map);
    jit_cache_free(jc);
}

static void test_parse_size(void)
{
    CHECK_EQ(jit_cache_parse_size("64M"), 64ull << 20);
    CHECK_EQ(jit_cache_parse_size("64MiB"), 64ull << 20);
    CHECK_EQ(jit_cache_parse_size("512k"), 512ull << 10);
    CHECK_EQ(jit_cache_parse_size("1G"), 1ull << 30);
    CHECK_EQ(jit_cache_parse_size("65536"), 65536);
    CHECK_EQ(jit_cache_parse_size("0"), 0);
    CHECK_EQ(jit_cache_parse_size("12Q"), 0);
    CHECK_EQ(jit_cache_parse_size("-5M"), 0);
    CHECK_EQ(jit_cache_parse_size(""), 0);
}

int main(void)
{
    RUN(test_wx);
    RUN(test_bound_flush);
    RUN(test_flush_releases);
    RUN(test_perf_map);
    RUN(test_parse_size);
    return check_done();
}
