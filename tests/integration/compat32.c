/* compat32.c — the 32-bit program test_compat32.py runs in the 64-bit Debian guest (built with
 * gcc -m32 -static on the host, so it runs in compatibility mode under the guest kernel's IA-32
 * emulation). It prints results that do not depend on the word size, so the same source built
 * -m64 and run on the host gives the expected output, line for line, except the `bits=` line:
 * integer and 64-bit arithmetic (long long in 32-bit code goes through register pairs and
 * libgcc's division), floating point (x87 in 32-bit code), string functions, a signal handler
 * for a raised signal and for a page fault (SIGSEGV, left with siglongjmp), the vDSO clock,
 * and a fork/exec loop of the program itself. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#ifdef __i386__
#include <sys/auxv.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1;
static sigjmp_buf segv_jmp;

static void on_usr1(int sig)
{
    got_usr1 = sig;
}

static void on_segv(int sig)
{
    siglongjmp(segv_jmp, sig);
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void integers(void)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 100000; i++)
        h = (h ^ (uint32_t)i) * 16777619u;
    int32_t s = 0;
    for (int i = -5000; i < 5000; i++)
        s += (i * 7) / 3 - (i % 11);
    printf("int: fnv=%08x sum=%d\n", h, s);

    uint64_t x = 1, acc = 0;
    for (int i = 0; i < 1000; i++) {
        x = mix(x);
        acc += x / ((x >> 40) | 1) + x % 1000003u;
        acc ^= (acc << 13) | (acc >> 51);
    }
    int64_t d = -(int64_t)0x123456789abcdefll;
    printf("u64: mix=%016llx acc=%016llx div=%lld mod=%lld sar=%lld\n", (unsigned long long)x,
           (unsigned long long)acc, (long long)(d / 1000), (long long)(d % 1000),
           (long long)(d >> 17));
}

static void floats(void)
{
    double sum = 0, prod = 1;
    for (int k = 1; k <= 1000; k++) {
        sum += 1.0 / k;
        prod *= 1.0 + 1.0 / (k * (double)k);
    }
    float f = 0;
    for (int k = 0; k < 100; k++)
        f += 0.25f * (float)k;
    printf("fp: harmonic=%.10f prod=%.10f sqrt2=%.12f sin1=%.10f exp1=%.10f log10=%.10f "
           "f=%.2f\n",
           sum, prod, sqrt(2.0), sin(1.0), exp(1.0), log(10.0), f);
    printf("fp: conv=%lld %d %.3f\n", (long long)(1e15 / 3), (int)-2.75, (double)(1ll << 53));
}

static void strings(void)
{
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,", i * i);
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * 31 + (unsigned char)buf[i];
    char copy[4096];
    memcpy(copy, buf, n + 1);
    memmove(copy + 1, copy, n);
    const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "kiwi", "date"};
    qsort(words, 7, sizeof words[0], cmp_str);
    printf("str: len=%zu hash=%08x strlen=%zu cmp=%d tok=%ld first=%s last=%s chr=%td\n", n, h,
           strlen(copy), memcmp(buf, copy + 1, n) == 0, strtol("-12345xyz", NULL, 10), words[0],
           words[6], strchr(buf, '9') - buf);
}

static void signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, NULL);
    int r = sigsetjmp(segv_jmp, 1);
    if (r == 0) {
        volatile uintptr_t addr = 16;
        *(volatile int *)addr = 1; /* a page fault in this code: SIGSEGV */
        r = -1;
    }
    printf("sig: usr1=%d segv=%d\n", (int)got_usr1, r);
}

static void clock_check(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    printf("time: %s\n", tv.tv_sec > 1600000000 ? "ok" : "wrong");
}

/* How the kernel's 32-bit vDSO enters it (__kernel_vsyscall: SYSENTER on Intel, SYSCALL on
 * AMD, else INT 0x80), and INT 0x80 itself. The -m64 build prints "entry=native". */
static void entries(void)
{
#ifdef __i386__
    const unsigned char *k = (const unsigned char *)getauxval(AT_SYSINFO);
    const char *how = "none";
    for (int i = 0; k && i < 64; i++) {
        if (k[i] == 0x0f && k[i + 1] == 0x34) {
            how = "sysenter";
            break;
        }
        if (k[i] == 0x0f && k[i + 1] == 0x05) {
            how = "syscall";
            break;
        }
        if (k[i] == 0xcd && k[i + 1] == 0x80) {
            how = "int80";
            break;
        }
    }
    printf("entry=%s\n", how);
    int pid;
    __asm__ volatile("int $0x80" : "=a"(pid) : "a"(20)); /* getpid */
    printf("int80: %s\n", pid == getpid() ? "ok" : "wrong");
#else
    printf("entry=native\n");
    printf("int80: ok\n");
#endif
}

static int child(int n)
{
    uint64_t x = (uint64_t)n;
    for (int i = 0; i < 1000; i++)
        x = mix(x);
    printf("child %d: %016llx\n", n, (unsigned long long)x);
    return n;
}

static void fork_exec(const char *self)
{
    int sum = 0, ok = 0;
    for (int i = 0; i < 10; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char arg[16];
            snprintf(arg, sizeof arg, "%d", i);
            execl(self, self, "child", arg, (char *)NULL);
            _exit(127);
        }
        int st = 0;
        if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st)) {
            sum += WEXITSTATUS(st);
            ok++;
        }
    }
    printf("fork-exec: ok=%d sum=%d\n", ok, sum);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0) return child(atoi(argv[2]));
    printf("bits=%d\n", (int)(8 * sizeof(void *)));
    integers();
    floats();
    strings();
    signals();
    clock_check();
    entries();
    fork_exec(argc > 1 ? argv[1] : "/proc/self/exe");
    printf("done\n");
    return 0;
}
