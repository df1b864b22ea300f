/* direct_probe.c — a static guest program for test_direct.py: the behaviours direct execution
 * must keep (docs/DIRECT.md), each printed as one line so that runs under --engine jit and
 * --engine direct can be compared: fork and copy-on-write, mprotect and munmap then access
 * (SIGSEGV in the guest), threads, a signal handler that clobbers FPU/SSE registers, and an
 * attempt to reach the host through the stub's system-call instruction (it must fault in the
 * guest: that address is not mapped there). */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

static sigjmp_buf probe_jb;

static void probe_segv(int sig)
{
    siglongjmp(probe_jb, sig);
}

static int probe_touch(volatile char *p, int write)
{
    int sig = sigsetjmp(probe_jb, 1);
    if (sig) return sig;
    if (write)
        *p = 1;
    else
        (void)*p;
    return 0;
}

static void *probe_thread(void *arg)
{
    uint64_t *v = arg, s = 0;
    for (uint64_t k = 0; k < 2000000; k++)
        s += k * k ^ (s >> 3);
    *v = s;
    return NULL;
}

static volatile double probe_fpu_sink;
static void probe_alarm(int sig)
{
    (void)sig;
    volatile double x = 1.0;
    for (int k = 0; k < 1000; k++)
        x = x * 1.0001 + 3.0;
    probe_fpu_sink = x;
}

int main(void)
{
    struct sigaction sa = {.sa_handler = probe_segv};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    /* fork and copy-on-write */
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(page, "parent");
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(page, "child");
        _exit(strcmp(page, "child") ? 1 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("fork-cow: parent sees '%s', child exit %d\n", page, WEXITSTATUS(st));
    /* mprotect / munmap then access */
    mprotect(page, 4096, PROT_READ);
    printf("mprotect-ro write: signal %d\n", probe_touch(page, 1));
    printf("mprotect-ro read: signal %d\n", probe_touch(page, 0));
    mprotect(page, 4096, PROT_NONE);
    printf("mprotect-none read: signal %d\n", probe_touch(page, 0));
    munmap(page, 4096);
    printf("munmap read: signal %d\n", probe_touch(page, 0));
    /* threads */
    pthread_t th[3];
    uint64_t r[3];
    for (int k = 0; k < 3; k++)
        pthread_create(&th[k], NULL, probe_thread, &r[k]);
    for (int k = 0; k < 3; k++)
        pthread_join(th[k], NULL);
    printf("threads: %llx %d\n", (unsigned long long)r[0], r[0] == r[1] && r[1] == r[2]);
    /* signals interrupt FPU work; the interrupted computation's registers survive */
    struct sigaction al = {.sa_handler = probe_alarm};
    sigaction(SIGALRM, &al, NULL);
    double acc = 0;
    for (int round = 0; round < 20; round++) {
        alarm(0);
        ualarm(2000, 0);
        for (int k = 1; k < 200000; k++)
            acc += 1.0 / (double)k;
    }
    printf("fpu under signals: %.10f\n", acc);
    /* reaching the host: the stub's system-call instruction sits at a fixed host address
     * (DIRECT_STUB_TEXT + 0x1017 in this build, any address in the window will do) */
    int sig = sigsetjmp(probe_jb, 1);
    if (!sig) {
        long ret;
        __asm__ volatile("mov $39, %%eax\n call *%1"
                         : "=a"(ret)
                         : "r"(0x3f0000001017ull)
                         : "rcx", "r11", "memory");
        printf("stub call returned %ld (must not happen)\n", ret);
    } else {
        printf("stub call: signal %d\n", sig);
    }
    /* a host system call number the guest kernel lacks */
    printf("syscall 1000: %ld\n", syscall(1000));
    fflush(stdout);
    return 0;
}
