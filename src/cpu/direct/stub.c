/* stub.c — the direct-execution stub: a tiny static program without a C library that vessel
 * starts (one per vCPU) and in which guest ring-3 code runs natively. It maps the control region
 * it shares with vessel, unmaps everything else it was given (stack, vDSO), installs one signal
 * handler on a signal stack inside the shared region, and confines itself with a seccomp filter
 * that lets only the one system-call instruction of this file through, and only for the calls
 * below; every other system call traps (SIGSYS), which is how guest system calls leave.
 *
 * The handler is the whole protocol: it records why it ran, wakes vessel (futex), waits to be
 * told to go on, performs the mapping operations vessel queued (receiving the guest-RAM memfd
 * for that batch only, and closing it), sets FS/GS bases, and returns through rt_sigreturn into
 * whatever registers vessel left in the signal frame. Built with -nostdlib -ffreestanding
 * (src/cpu/direct/meson.build); vessel embeds the binary and runs it from a memfd. */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "direct_proto.h"

#define NR_close        3
#define NR_mmap         9
#define NR_mprotect     10
#define NR_munmap       11
#define NR_rt_sigaction 13
#define NR_rt_sigret    15
#define NR_recvmsg      47
#define NR_exit         60
#define NR_sigaltstack  131
#define NR_prctl        157
#define NR_arch_prctl   158
#define NR_futex        202
#define NR_exit_group   231
#define NR_seccomp      317

long stub_syscall(long nr, long a, long b, long c, long d, long e, long f);
void stub_start(void);
void stub_restorer(void);
void stub_main(void);
extern char stub_stack[];
extern char stub_sys_ret[], _end[];

/* The one system-call instruction: the seccomp filter allows calls whose return address is
 * stub_sys_ret. The restorer enters the same instruction with rt_sigreturn's number. */
__asm__(".text\n"
        ".globl stub_syscall\n"
        "stub_syscall:\n"
        "  mov %rdi, %rax\n"
        "  mov %rsi, %rdi\n"
        "  mov %rdx, %rsi\n"
        "  mov %rcx, %rdx\n"
        "  mov %r8, %r10\n"
        "  mov %r9, %r8\n"
        "  mov 8(%rsp), %r9\n"
        "stub_sys_insn:\n"
        "  syscall\n"
        ".globl stub_sys_ret\n"
        "stub_sys_ret:\n"
        "  ret\n"
        ".globl stub_restorer\n"
        "stub_restorer:\n"
        "  mov $15, %eax\n"
        "  jmp stub_sys_insn\n"
        ".globl _start\n"
        "_start:\n"
        "  lea stub_stack+16384(%rip), %rsp\n"
        "  call stub_main\n"
        "  ud2\n");

char stub_stack[16384] __attribute__((aligned(64), used));

#define CTL ((volatile struct direct_ctl *)DIRECT_CTL_ADDR)

static void stub_die(void)
{
    stub_syscall(NR_exit_group, 127, 0, 0, 0, 0, 0);
    for (;;)
        __builtin_trap();
}

struct stub_iovec {
    void *base;
    uint64_t len;
};
struct stub_msghdr {
    void *name;
    uint32_t namelen, pad0;
    struct stub_iovec *iov;
    uint64_t iovlen;
    void *control;
    uint64_t controllen;
    int32_t flags, pad1;
};

/* The guest-RAM memfd for this batch (SCM_RIGHTS), or -1. */
static int stub_recv_fd(void)
{
    char byte;
    struct stub_iovec iov = {&byte, 1};
    uint64_t cbuf[4] = {0};
    struct stub_msghdr m = {0};
    m.iov = &iov;
    m.iovlen = 1;
    m.control = cbuf;
    m.controllen = 24; /* CMSG_SPACE(sizeof(int)) */
    long n =
        stub_syscall(NR_recvmsg, DIRECT_FD_SOCK, (long)&m, 0x40000000 /* CMSG_CLOEXEC */, 0, 0, 0);
    if (n <= 0) return -1;
    /* struct cmsghdr: len (8), level (4), type (4), then the int */
    const int32_t *h = (const int32_t *)cbuf;
    if (h[2] != 1 /* SOL_SOCKET */ || h[3] != 1 /* SCM_RIGHTS */) return -1;
    return h[4];
}

static void stub_run_ops(void)
{
    int fd = -1;
    uint32_t n = CTL->nops;
    if (n > DIRECT_MAX_OPS) n = DIRECT_MAX_OPS;
    if (CTL->need_fd) fd = stub_recv_fd();
    long err = 0;
    for (uint32_t k = 0; k < n; k++) {
        volatile struct direct_op *op = &CTL->ops[k];
        long r;
        if (op->kind == DIRECT_OP_MAP)
            r = stub_syscall(NR_mmap, (long)op->addr, (long)op->len, (long)op->prot,
                             0x01 | 0x10 /* MAP_SHARED | MAP_FIXED */, fd, (long)op->off);
        else
            r = stub_syscall(NR_munmap, (long)op->addr, (long)op->len, 0, 0, 0, 0);
        if (r < 0 && r > -4096 && !err) err = r;
    }
    if (fd >= 0) stub_syscall(NR_close, fd, 0, 0, 0, 0, 0);
    CTL->op_error = err;
    CTL->nops = 0;
    CTL->need_fd = 0;
    if (CTL->set_fs) stub_syscall(NR_arch_prctl, 0x1002, (long)CTL->fs_base, 0, 0, 0, 0);
    if (CTL->set_gs) stub_syscall(NR_arch_prctl, 0x1001, (long)CTL->gs_base, 0, 0, 0, 0);
    CTL->set_fs = CTL->set_gs = 0;
}

struct stub_siginfo {
    int32_t signo, err, code, pad;
    uint64_t addr;    /* si_addr, or si_call_addr for SIGSYS */
    int32_t syscall_; /* SIGSYS */
    uint32_t arch;
};

static void stub_handler(int sig, struct stub_siginfo *si, void *uc)
{
    volatile struct direct_ctl *ctl = CTL;
    ctl->t_exit = __builtin_ia32_rdtsc();
    ctl->signo = sig;
    ctl->code = si->code;
    ctl->addr = si->addr;
    ctl->nr = si->syscall_;
    ctl->uc = (uint64_t)uc;
    ctl->exits++;
    for (;;) {
        __atomic_store_n(&ctl->state, DIRECT_ST_EXIT, __ATOMIC_RELEASE);
        stub_syscall(NR_futex, (long)&ctl->state, 1 /* FUTEX_WAKE */, 1, 0, 0, 0);
        for (unsigned spin = 0;; spin++) {
            if (__atomic_load_n(&ctl->state, __ATOMIC_ACQUIRE) == DIRECT_ST_RUN) break;
            if (spin < 100)
                __asm__ volatile("pause");
            else
                stub_syscall(NR_futex, (long)&ctl->state, 0 /* FUTEX_WAIT */, DIRECT_ST_EXIT, 0, 0,
                             0);
        }
        if (ctl->quit) stub_die();
        ctl->t_run = __builtin_ia32_rdtsc();
        stub_run_ops();
        ctl->t_resume = __builtin_ia32_rdtsc();
        __atomic_store_n(&ctl->state, DIRECT_ST_GUEST, __ATOMIC_RELEASE);
        return; /* into the frame vessel wrote */
    }
}

struct stub_sigaction {
    void *handler;
    uint64_t flags;
    void *restorer;
    uint64_t mask;
};

static void stub_filter(void)
{
    uint32_t ret_lo = (uint32_t)(uintptr_t)stub_sys_ret;
    uint32_t ret_hi = (uint32_t)((uintptr_t)stub_sys_ret >> 32);
    /* Allowed, and only from stub_sys_ret: what the handler does after start-up. */
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 14),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ret_hi, 0, 12),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ret_lo, 0, 10),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_futex, 7, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_mmap, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_munmap, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_recvmsg, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_close, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_rt_sigret, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_arch_prctl, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_exit_group, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};
    if (stub_syscall(NR_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0, 0) < 0) stub_die();
    if (stub_syscall(NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0) < 0) stub_die();
}

void stub_main(void)
{
    long p = stub_syscall(NR_mmap, DIRECT_CTL_ADDR, DIRECT_CTL_SIZE, 3 /* PROT_READ|WRITE */,
                          0x01 | 0x10, DIRECT_FD_CTL, 0);
    if (p != (long)DIRECT_CTL_ADDR) stub_die();
    stub_syscall(NR_close, DIRECT_FD_CTL, 0, 0, 0, 0, 0);
    /* Everything else the kernel gave us (the initial stack, the vDSO and vvar) goes: guest
     * addresses must be free. The image and the control region stay. */
    uint64_t end = ((uint64_t)(uintptr_t)_end + 4095) & ~4095ull;
    stub_syscall(NR_munmap, 0x10000, (long)(DIRECT_STUB_LO - 0x10000), 0, 0, 0, 0);
    stub_syscall(NR_munmap, (long)end, (long)(DIRECT_CTL_ADDR - end), 0, 0, 0, 0);
    uint64_t ctl_end = DIRECT_CTL_ADDR + DIRECT_CTL_SIZE;
    stub_syscall(NR_munmap, (long)ctl_end, (long)(DIRECT_USER_TOP - 4096 - ctl_end), 0, 0, 0, 0);
    struct {
        uint64_t sp;
        int32_t flags, pad;
        uint64_t size;
    } ss = {DIRECT_CTL_ADDR + DIRECT_ALT_OFF, 0, 0, DIRECT_CTL_SIZE - DIRECT_ALT_OFF};
    if (stub_syscall(NR_sigaltstack, (long)&ss, 0, 0, 0, 0, 0) < 0) stub_die();
    struct stub_sigaction sa = {(void *)stub_handler,
                                0x04000000 | 0x08000000 | 0x4 /* RESTORER ONSTACK SIGINFO */,
                                (void *)stub_restorer, ~0ull};
    static const int sigs[] = {
        4, 5, 7, 8, 11, 31, DIRECT_KICK_SIGNAL}; /* ILL TRAP BUS FPE SEGV SYS */
    for (unsigned k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
        if (stub_syscall(NR_rt_sigaction, sigs[k], (long)&sa, 0, 8, 0, 0) < 0) stub_die();
    stub_filter();
    /* The first exit tells vessel the stub is ready; it then writes the guest's registers. */
    __asm__ volatile("ud2");
    stub_die();
}
