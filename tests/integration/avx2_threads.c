/* avx2_threads.c — the AVX2 workload of test_selftests.py (issue #17): two threads each keep
 * a 256-bit state in thirteen YMM registers (plus a permutation index in a fourteenth) through
 * long register-only loops of VPADDD/VPSLLD/VPSRLD/VPOR/VPXOR/VPERMD, while the main thread
 * sends both SIGUSR1 every few hundred microseconds and the handler overwrites every YMM
 * register with AVX2 work of its own. The two threads share one vCPU, so the guest kernel
 * switches between them too. Any YMM byte not saved and restored across a context switch or
 * a signal frame changes the result: each thread's state is compared with a scalar
 * reference computed without vector code, and the checksums are printed so the test can
 * compare them with a host run of the same binary.
 * Usage: avx2_threads [CALLS]; exits 0 when both threads match the reference. */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NREG  13
#define LANES 8
#define ITERS 20000 /* rounds per asm call: long enough to be interrupted inside */

static const uint32_t perm_idx[LANES] = {3, 0, 7, 2, 5, 1, 6, 4};

struct worker {
    pthread_t tid;
    uint32_t seed;
    int calls;
    uint32_t st[NREG][LANES] __attribute__((aligned(32)));
    volatile int signals;
};

static struct worker workers[2];
static __thread struct worker *self_worker; /* set by each worker for the handler */

/* One round over register a: a += b; a ^= rotl(c, 7); a = permd(a, idx). */
#define R(a, b, c)                                                                                 \
    "vpaddd %%ymm" #b ", %%ymm" #a ", %%ymm" #a "\n\t"                                             \
    "vpslld $7, %%ymm" #c ", %%ymm14\n\t"                                                          \
    "vpsrld $25, %%ymm" #c ", %%ymm15\n\t"                                                         \
    "vpor %%ymm15, %%ymm14, %%ymm14\n\t"                                                           \
    "vpxor %%ymm14, %%ymm" #a ", %%ymm" #a "\n\t"                                                  \
    "vpermd %%ymm" #a ", %%ymm13, %%ymm" #a "\n\t"

#define LOAD(i)  "vmovdqa " #i "*32(%0), %%ymm" #i "\n\t"
#define STORE(i) "vmovdqa %%ymm" #i ", " #i "*32(%0)\n\t"

#define LOAD_ALL                                                                                   \
    LOAD(0)                                                                                        \
    LOAD(1)                                                                                        \
    LOAD(2) LOAD(3) LOAD(4) LOAD(5) LOAD(6) LOAD(7) LOAD(8) LOAD(9) LOAD(10) LOAD(11) LOAD(12)
#define STORE_ALL                                                                                  \
    STORE(0)                                                                                       \
    STORE(1)                                                                                       \
    STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7) STORE(8) STORE(9) STORE(10) STORE(11)    \
        STORE(12)
#define ALL_ROUNDS                                                                                 \
    R(0, 1, 5)                                                                                     \
    R(1, 2, 6)                                                                                     \
    R(2, 3, 7) R(3, 4, 8) R(4, 5, 9) R(5, 6, 10) R(6, 7, 11) R(7, 8, 12) R(8, 9, 0) R(9, 10, 1)    \
        R(10, 11, 2) R(11, 12, 3) R(12, 0, 4)

static void vector_rounds(uint32_t st[NREG][LANES])
{
    __asm__ volatile(LOAD_ALL "vmovdqu (%1), %%ymm13\n\t"
                              "mov %2, %%ecx\n\t"
                              "1:\n\t" ALL_ROUNDS "dec %%ecx\n\t"
                              "jnz 1b\n\t" STORE_ALL "vzeroupper\n\t"
                     :
                     : "r"(st), "r"(perm_idx), "i"(ITERS)
                     : "rcx", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
                       "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                       "xmm15");
}

/* The same rounds in plain C, kept scalar so the reference does not use what it checks. */
__attribute__((optimize("no-tree-vectorize"))) static void scalar_rounds(uint32_t st[NREG][LANES])
{
    for (int it = 0; it < ITERS; it++) {
        for (int a = 0; a < NREG; a++) {
            int b = (a + 1) % NREG, c = (a + 5) % NREG;
            uint32_t t[LANES];
            for (int l = 0; l < LANES; l++) {
                uint32_t x = st[a][l] + st[b][l];
                x ^= (st[c][l] << 7) | (st[c][l] >> 25);
                t[l] = x;
            }
            for (int l = 0; l < LANES; l++)
                st[a][l] = t[perm_idx[l]];
        }
    }
}

static void seed_state(uint32_t st[NREG][LANES], uint32_t seed)
{
    uint32_t x = seed;
    for (int r = 0; r < NREG; r++)
        for (int l = 0; l < LANES; l++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            st[r][l] = x;
        }
}

static uint32_t checksum(uint32_t st[NREG][LANES])
{
    uint32_t h = 2166136261u;
    for (int r = 0; r < NREG; r++)
        for (int l = 0; l < LANES; l++)
            h = (h ^ st[r][l]) * 16777619u;
    return h;
}

/* Overwrites all sixteen YMM registers with values of its own and computes with them. */
static void on_signal(int sig)
{
    (void)sig;
    static const uint32_t junk[LANES]
        __attribute__((aligned(32))) = {0xdeadbeef, 0x01234567, 0x89abcdef, 0xfeedface,
                                        0x0badf00d, 0xcafebabe, 0x55aa55aa, 0x12481248};
    uint32_t out[LANES] __attribute__((aligned(32)));
    __asm__ volatile("vmovdqa (%1), %%ymm0\n\t"
                     "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"
                     "vpaddd %%ymm0, %%ymm1, %%ymm2\n\t"
                     "vpxor %%ymm2, %%ymm0, %%ymm3\n\t"
                     "vpermd %%ymm3, %%ymm0, %%ymm4\n\t"
                     "vpaddd %%ymm4, %%ymm3, %%ymm5\n\t"
                     "vpslld $3, %%ymm5, %%ymm6\n\t"
                     "vpsrld $2, %%ymm6, %%ymm7\n\t"
                     "vpor %%ymm7, %%ymm6, %%ymm8\n\t"
                     "vpxor %%ymm8, %%ymm5, %%ymm9\n\t"
                     "vpaddd %%ymm9, %%ymm8, %%ymm10\n\t"
                     "vpermd %%ymm10, %%ymm9, %%ymm11\n\t"
                     "vpxor %%ymm11, %%ymm10, %%ymm12\n\t"
                     "vpaddd %%ymm12, %%ymm11, %%ymm13\n\t"
                     "vpxor %%ymm13, %%ymm12, %%ymm14\n\t"
                     "vpaddd %%ymm14, %%ymm13, %%ymm15\n\t"
                     "vmovdqa %%ymm15, (%0)\n\t"
                     :
                     : "r"(out), "r"(junk)
                     : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    pthread_t self = pthread_self();
    for (int i = 0; i < 2; i++)
        if (pthread_equal(self, workers[i].tid)) workers[i].signals++;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    self_worker = w;
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (int i = 0; i < w->calls; i++)
        vector_rounds(w->st);
    return NULL;
}

int main(int argc, char **argv)
{
    int calls = argc > 1 ? atoi(argv[1]) : 20;
    uint32_t expect[2];
    for (int i = 0; i < 2; i++) {
        uint32_t ref[NREG][LANES];
        workers[i].seed = 0x9e3779b9u * (uint32_t)(i + 1);
        workers[i].calls = calls;
        seed_state(workers[i].st, workers[i].seed);
        memcpy(ref, workers[i].st, sizeof ref);
        for (int k = 0; k < calls; k++)
            scalar_rounds(ref);
        expect[i] = checksum(ref);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    /* Only the workers take the signal: the main thread keeps it blocked. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&workers[i].tid, NULL, work, &workers[i]) != 0) {
            perror("avx2_threads: pthread_create");
            return 1;
        }
    int done[2] = {0, 0}, sent = 0;
    while (!done[0] || !done[1]) {
        for (int i = 0; i < 2; i++)
            if (!done[i]) {
                if (pthread_tryjoin_np(workers[i].tid, NULL) == 0)
                    done[i] = 1;
                else if (pthread_kill(workers[i].tid, SIGUSR1) == 0)
                    sent++;
            }
        struct timespec ts = {0, 300 * 1000};
        nanosleep(&ts, NULL);
    }
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        uint32_t got = checksum(workers[i].st);
        int match = got == expect[i];
        ok &= match;
        printf("avx2_threads: thread %d checksum %08x reference %08x %s signals %d\n", i, got,
               expect[i], match ? "match" : "MISMATCH", workers[i].signals);
    }
    printf("avx2_threads: %s (%d signals sent)\n", ok ? "ok" : "FAILED", sent);
    return ok ? 0 : 1;
}
