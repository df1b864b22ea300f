/* direct_proto.h — the contract between vessel and its direct-execution stub (stub.c): where the
 * stub lives in its own address space, the layout of the control region both map (a memfd), and
 * the kernel's x86-64 signal-frame structures, spelled out here because the stub is built
 * without a C library. Everything the stub writes into the region is guest-controlled data to
 * vessel: guest code runs in the same address space and can scribble on it, so vessel checks
 * every value it reads back (docs/DIRECT.md, "Security"). */
#pragma once
#include <stdint.h>

/* The stub's image and control region sit in one 16 MiB window of the host address space; guest
 * addresses inside it cannot be shadowed (the process falls back to the translator). */
#define DIRECT_STUB_LO   0x3f0000000000ull
#define DIRECT_STUB_HI   0x3f0001000000ull
#define DIRECT_STUB_TEXT 0x3f0000000000ull /* -Ttext-segment of the stub */
#define DIRECT_CTL_ADDR  0x3f0000800000ull /* the control region in the stub */
#define DIRECT_CTL_SIZE  (256u << 10)      /* control block, then the signal stack */
#define DIRECT_ALT_OFF   (64u << 10)       /* sigaltstack: [ALT_OFF, CTL_SIZE) */
#define DIRECT_USER_TOP  0x800000000000ull /* end of the 47-bit user half */

/* Descriptors the stub finds at start: the control region and the socket that carries the
 * guest-RAM memfd for one mapping batch at a time. */
#define DIRECT_FD_CTL  3
#define DIRECT_FD_SOCK 4

/* The signal vessel sends to make the stub leave guest code (a pending interrupt, the end of a
 * slice). SIGUSR1 in the stub; its handler is the common one. */
#define DIRECT_KICK_SIGNAL 10

/* ctl.state: the futex word of the hand-off. */
enum { DIRECT_ST_GUEST = 0, DIRECT_ST_EXIT = 1, DIRECT_ST_RUN = 2 };

/* One mapping operation, performed by the stub before it resumes guest code. */
enum { DIRECT_OP_MAP = 1, DIRECT_OP_UNMAP = 2 };
struct direct_op {
    uint64_t addr, len, off; /* off: into the guest-RAM memfd (MAP) */
    uint32_t kind, prot;
};
#define DIRECT_MAX_OPS 512

struct direct_ctl {
    uint32_t state; /* DIRECT_ST_* (futex) */
    uint32_t pad0;
    /* written by the stub's handler on each exit */
    int32_t signo, code, nr, pad1; /* signal, si_code, si_syscall (SIGSYS) */
    uint64_t addr;                 /* si_addr */
    uint64_t uc;                   /* the stub address of the ucontext on the signal stack */
    uint64_t exits;                /* how many times the handler ran */
    /* host TSC stamps: the handler's entry, seeing DIRECT_ST_RUN, returning to guest code */
    uint64_t t_exit, t_run, t_resume;
    /* written by vessel before DIRECT_ST_RUN */
    uint32_t nops;
    uint32_t need_fd; /* receive the memfd for this batch */
    uint32_t set_fs, set_gs;
    uint64_t fs_base, gs_base;
    int64_t op_error; /* the first failing operation's -errno (the stub's report) */
    uint32_t quit;
    uint32_t pad2;
    struct direct_op ops[DIRECT_MAX_OPS];
};

/* struct sigcontext (x86-64) as the kernel lays it out. */
struct direct_sigcontext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2;
    uint64_t fpstate; /* pointer to the XSAVE image (standard format) */
    uint64_t reserved1[8];
};

struct direct_ucontext {
    uint64_t uc_flags;
    uint64_t uc_link;
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
    struct direct_sigcontext mc;
    uint64_t sigmask;
};

_Static_assert(sizeof(struct direct_ctl) <= DIRECT_ALT_OFF, "control block overlaps the stack");
