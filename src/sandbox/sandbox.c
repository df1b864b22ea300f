/* sandbox.c — the per-thread seccomp allow-lists (sandbox.h). Each thread kind gets the
 * common calls every thread makes (memory, locks, time, polling, reading and writing
 * descriptors it already holds) plus what its job needs: files for the vCPU thread (snapshots,
 * a reboot reopens the kernel and disks), positional I/O for the block thread, sockets for the
 * network, API and migration threads. Nothing may execve, ptrace, mount, load modules or BPF,
 * a fork (clone without CLONE_THREAD) is refused with EPERM, and only the vCPU and display
 * threads may map executable memory (the translator's code cache, the window system's
 * libraries).
 *
 * A call outside the list raises SIGSYS (SCMP_ACT_TRAP) so the monitor can say which thread
 * kind made which call before it dies; the handler then makes a forbidden call again, which
 * with SIGSYS blocked in the handler the kernel turns into the default action: the process is
 * killed by SIGSYS.
 *
 * The test hook (docs/SANDBOX.md): with VESSEL_TEST_SANDBOX_PROBE=KIND:CALL[:PATH] in the
 * environment, signal SIGRTMIN+4 makes a thread of that kind attempt CALL (execve, open for
 * reading, or create a file) — the proof that a running, confined monitor cannot do it. */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "vessel/log.h"

#define SANDBOX_PROBE_SIGNAL (SIGRTMIN + 4)
/* libseccomp's SCMP_An macros leave datum_b out for one-operand comparisons, which clang's
 * -Wmissing-field-initializers rejects: spell every comparison out. */
#define SANDBOX_ARG(n, cmp, a, b)                                                                  \
    ((struct scmp_arg_cmp){                                                                        \
        .arg = (n), .op = (cmp), .datum_a = (scmp_datum_t)(a), .datum_b = (scmp_datum_t)(b)})
#define SANDBOX_MAX_NR 512 /* x86-64 system call numbers stay below this */

static bool sandbox_on;
static pid_t sandbox_pid;
static _Atomic pid_t sandbox_tid[SANDBOX_NKINDS];
static _Thread_local int sandbox_my_kind = -1;
/* Names resolved up front: the SIGSYS handler must not allocate. */
static char sandbox_names[SANDBOX_MAX_NR][24];
static struct {
    int kind;
    char call[16];
    char path[256];
} sandbox_probe = {.kind = -1};

static const char *const sandbox_kind_names[SANDBOX_NKINDS] = {"vcpu", "io",      "net",
                                                               "api",  "display", "migrate"};

const char *sandbox_kind_name(enum sandbox_kind kind)
{
    return (unsigned)kind < SANDBOX_NKINDS ? sandbox_kind_names[kind] : "?";
}

bool sandbox_enabled(void)
{
    return sandbox_on;
}

/* ---- the lists ---- */

/* Every thread: memory, locks, time, signals, exit, and I/O on descriptors it holds. */
static const char *const sandbox_base[] = {
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "close",
    "lseek",
    "fstat",
    "newfstatat",
    "fcntl",
    "dup",
    "futex",
    "futex_waitv",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "restart_syscall",
    "rt_sigreturn",
    "rt_sigprocmask",
    "rt_sigaction",
    "sigaltstack",
    "exit",
    "exit_group",
    "madvise",
    "munmap",
    "mremap",
    "brk",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    "getpid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getrandom",
    "sched_yield",
    "sched_getaffinity",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_ctl",
    "eventfd2",
    "prlimit64",
    "getrlimit",
    "membarrier",
    "seccomp", /* a thread started by a confined one adds its own, narrower list */
};
/* The block I/O thread: positional I/O, flushes, holes (discard, write-zeroes). */
static const char *const sandbox_io[] = {
    "preadv",    "pwritev",   "preadv2",   "pwritev2",        "fsync",
    "fdatasync", "fallocate", "ftruncate", "sync_file_range",
};
/* Threads that talk over sockets they make or accept. */
static const char *const sandbox_sockets[] = {
    "connect",    "bind",       "listen",      "accept",      "accept4",    "sendto",
    "recvfrom",   "sendmsg",    "recvmsg",     "sendmmsg",    "recvmmsg",   "shutdown",
    "getsockopt", "setsockopt", "getsockname", "getpeername", "socketpair",
};
/* Opening, making and replacing files: snapshots, memory files, a reboot reopening the
 * kernel and the disks. */
static const char *const sandbox_files[] = {
    "open",
    "openat",
    "creat",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "statx",
    "stat",
    "lstat",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents64",
    "getcwd",
    "fchmod",
    "fstatfs",
    "statfs",
    "memfd_create",
    "pipe2",
    "dup2",
    "dup3",
    "epoll_create1",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "msync",
    "mincore",
    "fadvise64",
    "copy_file_range",
    "sendfile",
    "flock",
    "umask",
    "uname",
    "sysinfo",
    "sched_getparam",
    "sched_getscheduler",
    "mlock",
    "munlock",
    "prctl",
};
/* The window system's libraries: shared memory with the X server; Mesa's render threads
 * place themselves on CPUs. */
static const char *const sandbox_display[] = {"shmget",
                                              "shmat",
                                              "shmdt",
                                              "shmctl",
                                              "uname",
                                              "getresuid",
                                              "getresgid",
                                              "sysinfo",
                                              "sched_setaffinity",
                                              "sched_setscheduler",
                                              "sched_setparam",
                                              "setpriority",
                                              "getpriority",
                                              "sched_get_priority_max",
                                              "sched_get_priority_min",
                                              "kcmp",
                                              "getppid",
                                              "get_mempolicy",
                                              "set_mempolicy"};

static int sandbox_add_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        int nr = seccomp_syscall_resolve_name(names[k]);
        if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0) return -1;
    }
    return 0;
}
#define SANDBOX_ADD(ctx, list) sandbox_add_names(ctx, list, sizeof(list) / sizeof(list[0]))

/* mmap and mprotect, with or without PROT_EXEC. */
static int sandbox_add_mmap(scmp_filter_ctx ctx, bool exec)
{
    if (exec)
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 0) |
               seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 0);
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                            SANDBOX_ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) |
           seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                            SANDBOX_ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
}

/* New threads only: clone must carry CLONE_THREAD, and clone3, whose flags sit in memory a
 * filter cannot read, answers ENOSYS so the C library falls back to clone. A fork is refused
 * (EPERM) rather than fatal: SDL's D-Bus library tries to fork dbus-launch when there is no
 * session bus, and does without. */
static int sandbox_add_threads(scmp_filter_ctx ctx)
{
#if defined(__SANITIZE_ADDRESS__)
    /* The leak checker stops the world at exit from a task it clones without CLONE_THREAD. */
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0) |
           seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
#endif
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                            SANDBOX_ARG(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) |
           seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                            SANDBOX_ARG(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)) |
           seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* Sockets of the Internet and Unix families only (no netlink, no raw packets). */
static int sandbox_add_socket(scmp_filter_ctx ctx)
{
    int rc = 0;
    static const int fams[] = {AF_UNIX, AF_INET, AF_INET6};
    for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                               SANDBOX_ARG(0, SCMP_CMP_EQ, (scmp_datum_t)fams[k], 0));
    return rc;
}

/* ioctl: the terminal (the console), non-blocking mode and pending byte counts (sockets). */
static int sandbox_add_ioctl(scmp_filter_ctx ctx, bool any)
{
    if (any) return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 0);
    static const unsigned long cmds[] = {TCGETS,     TCSETS,   TCSETSW, TCSETSF,
                                         TIOCGWINSZ, FIONREAD, FIONBIO};
    int rc = 0;
    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                               SANDBOX_ARG(1, SCMP_CMP_EQ, (scmp_datum_t)cmds[k], 0));
    return rc;
}

/* Signals only to this process's own threads (abort, the probe's forwarding). */
static int sandbox_add_tgkill(scmp_filter_ctx ctx)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                            SANDBOX_ARG(0, SCMP_CMP_EQ, (scmp_datum_t)sandbox_pid, 0));
}

/* Opening files for reading only (libslirp reads /etc/resolv.conf to find the DNS server). */
static int sandbox_add_open_ro(scmp_filter_ctx ctx)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                            SANDBOX_ARG(2, SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT, O_RDONLY)) |
           seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                            SANDBOX_ARG(1, SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT, O_RDONLY)) |
           sandbox_add_names(ctx, (const char *const[]){"stat", "statx"}, 2);
}

/* The direct engine's stubs (docs/DIRECT.md): the vCPU thread signals them through the pidfds
 * it got when it started them, before it was confined (it can open no other pidfd), with the
 * kick signal or SIGKILL only. */
static int sandbox_add_direct(scmp_filter_ctx ctx)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pidfd_send_signal), 1,
                            SANDBOX_ARG(1, SCMP_CMP_EQ, SIGUSR1, 0)) |
           seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pidfd_send_signal), 1,
                            SANDBOX_ARG(1, SCMP_CMP_EQ, SIGKILL, 0));
}

static int sandbox_build(scmp_filter_ctx ctx, enum sandbox_kind kind)
{
    int rc = SANDBOX_ADD(ctx, sandbox_base) | sandbox_add_tgkill(ctx);
    switch (kind) {
    case SANDBOX_VCPU:
        /* The main loop creates the other threads again on a reboot and starts the
         * migration thread, which inherit this list: it holds all of theirs. */
        rc |= sandbox_add_mmap(ctx, true) | sandbox_add_threads(ctx) |
              SANDBOX_ADD(ctx, sandbox_io) | SANDBOX_ADD(ctx, sandbox_files) |
              SANDBOX_ADD(ctx, sandbox_sockets) | SANDBOX_ADD(ctx, sandbox_display) |
              sandbox_add_socket(ctx) | sandbox_add_ioctl(ctx, true) | sandbox_add_direct(ctx);
        break;
    case SANDBOX_IO:
        /* log messages ask isatty(2): the terminal ioctls */
        rc |= sandbox_add_mmap(ctx, false) | SANDBOX_ADD(ctx, sandbox_io) |
              sandbox_add_ioctl(ctx, false);
        break;
    case SANDBOX_NET:
        rc |= sandbox_add_mmap(ctx, false) | SANDBOX_ADD(ctx, sandbox_sockets) |
              sandbox_add_socket(ctx) | sandbox_add_ioctl(ctx, false) | sandbox_add_open_ro(ctx);
        break;
    case SANDBOX_API:
        /* vessel inspect reads the guest kernel's vmlinux on this thread (docs/INSPECT.md) */
        rc |= sandbox_add_mmap(ctx, false) | SANDBOX_ADD(ctx, sandbox_sockets) |
              sandbox_add_ioctl(ctx, false) | sandbox_add_open_ro(ctx);
        break;
    case SANDBOX_MIGRATE:
        rc |= sandbox_add_mmap(ctx, false) | SANDBOX_ADD(ctx, sandbox_sockets) |
              sandbox_add_ioctl(ctx, false);
        break;
    case SANDBOX_DISPLAY:
        /* libvncserver starts a thread per client; SDL loads its video driver. */
        rc |= sandbox_add_mmap(ctx, true) | sandbox_add_threads(ctx) |
              SANDBOX_ADD(ctx, sandbox_sockets) | SANDBOX_ADD(ctx, sandbox_files) |
              SANDBOX_ADD(ctx, sandbox_display) | sandbox_add_socket(ctx) |
              sandbox_add_ioctl(ctx, true);
        break;
    default: return -1;
    }
#if defined(__SANITIZE_ADDRESS__)
    /* The leak checker at exit stops the world: its tracer task attaches to every thread and
     * reads /proc/self/task (with the old x86-64 open and getdents). */
    rc |= SANDBOX_ADD(
        ctx, ((const char *const[]){"ptrace", "wait4", "waitid", "kill", "open", "openat",
                                    "getdents", "getdents64", "prctl", "sched_yield", "getppid",
                                    "process_vm_readv", "readlink", "stat", "lstat"}));
#endif
    return rc;
}

/* ---- capabilities ---- */

static void sandbox_drop_caps(void)
{
    /* The bounding set needs CAP_SETPCAP to shrink; without it there is nothing to drop. */
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capset, &h, d) != 0) log_warn("sandbox: capset: %s", strerror(errno));
}

/* ---- SIGSYS: say who did what, then die by SIGSYS ---- */

static size_t sandbox_cat(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        buf[at++] = *s++;
    buf[at] = 0;
    return at;
}

static size_t sandbox_cat_num(char *buf, size_t at, size_t cap, long v)
{
    char tmp[24];
    int n = 0;
    unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) && n < 23);
    if (v < 0 && at + 1 < cap) buf[at++] = '-';
    while (n && at + 1 < cap)
        buf[at++] = tmp[--n];
    buf[at] = 0;
    return at;
}

static void sandbox_on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char msg[256];
    int nr = si->si_syscall;
    size_t at = sandbox_cat(msg, 0, sizeof(msg), "vessel: sandbox: the ");
    at = sandbox_cat(msg, at, sizeof(msg),
                     sandbox_my_kind >= 0 ? sandbox_kind_names[sandbox_my_kind] : "unconfined");
    at = sandbox_cat(msg, at, sizeof(msg), " thread (tid ");
    at = sandbox_cat_num(msg, at, sizeof(msg), (long)syscall(SYS_gettid));
    at = sandbox_cat(msg, at, sizeof(msg), ") made a forbidden system call: ");
    at = sandbox_cat(msg, at, sizeof(msg),
                     nr >= 0 && nr < SANDBOX_MAX_NR && sandbox_names[nr][0] ? sandbox_names[nr]
                                                                            : "?");
    at = sandbox_cat(msg, at, sizeof(msg), " (");
    at = sandbox_cat_num(msg, at, sizeof(msg), nr);
    at = sandbox_cat(msg, at, sizeof(msg), "); killing the monitor with SIGSYS\n");
    ssize_t w = write(2, msg, at);
    (void)w;
    /* Forbidden everywhere: traps again with SIGSYS blocked, and the kernel kills us. */
    syscall(SYS_execve, NULL, NULL, NULL);
    _exit(128 + SIGSYS);
}

/* ---- the test hook ---- */

static void sandbox_on_probe(int sig)
{
    int errno_saved = errno;
    if (sandbox_probe.kind < 0) return;
    if (sandbox_my_kind != sandbox_probe.kind) {
        /* Not the thread asked for: hand the signal to it. */
        pid_t t = atomic_load(&sandbox_tid[sandbox_probe.kind]);
        if (t > 0) syscall(SYS_tgkill, sandbox_pid, t, sig);
        errno = errno_saved;
        return;
    }
    char msg[512];
    size_t at = sandbox_cat(msg, 0, sizeof(msg), "vessel: sandbox test hook: the ");
    at = sandbox_cat(msg, at, sizeof(msg), sandbox_kind_names[sandbox_my_kind]);
    at = sandbox_cat(msg, at, sizeof(msg), " thread attempts ");
    at = sandbox_cat(msg, at, sizeof(msg), sandbox_probe.call);
    at = sandbox_cat(msg, at, sizeof(msg), " ");
    at = sandbox_cat(msg, at, sizeof(msg), sandbox_probe.path);
    at = sandbox_cat(msg, at, sizeof(msg), "\n");
    ssize_t w = write(2, msg, at);
    long rc;
    if (!strcmp(sandbox_probe.call, "execve")) {
        char *const argv[] = {sandbox_probe.path, NULL};
        rc = syscall(SYS_execve, sandbox_probe.path, argv, NULL);
    } else {
        int flags = !strcmp(sandbox_probe.call, "create") ? O_WRONLY | O_CREAT | O_EXCL : O_RDONLY;
        rc = syscall(SYS_openat, AT_FDCWD, sandbox_probe.path, flags | O_CLOEXEC, 0600);
        if (rc >= 0) close((int)rc);
    }
    at = sandbox_cat(msg, 0, sizeof(msg), "vessel: sandbox test hook: ");
    at = sandbox_cat(msg, at, sizeof(msg), sandbox_probe.call);
    at = sandbox_cat(msg, at, sizeof(msg), rc < 0 ? " refused: " : " succeeded");
    if (rc < 0) at = sandbox_cat(msg, at, sizeof(msg), strerror(errno));
    at = sandbox_cat(msg, at, sizeof(msg), "\n");
    w = write(2, msg, at);
    (void)w;
    errno = errno_saved;
}

static void sandbox_setup_probe(void)
{
    const char *p = getenv("VESSEL_TEST_SANDBOX_PROBE");
    if (!p || !*p) return;
    char kind[16] = "", call[16] = "", path[256] = "";
    if (sscanf(p, "%15[^:]:%15[^:]:%255s", kind, call, path) < 2) {
        log_warn("sandbox: VESSEL_TEST_SANDBOX_PROBE '%s' is not KIND:CALL[:PATH]", p);
        return;
    }
    for (int k = 0; k < SANDBOX_NKINDS; k++)
        if (!strcmp(kind, sandbox_kind_names[k])) sandbox_probe.kind = k;
    if (sandbox_probe.kind < 0 ||
        (strcmp(call, "execve") && strcmp(call, "open") && strcmp(call, "create"))) {
        log_warn("sandbox: VESSEL_TEST_SANDBOX_PROBE '%s': unknown thread kind or call", p);
        sandbox_probe.kind = -1;
        return;
    }
    snprintf(sandbox_probe.call, sizeof(sandbox_probe.call), "%s", call);
    snprintf(sandbox_probe.path, sizeof(sandbox_probe.path), "%s",
             path[0]                   ? path
             : !strcmp(call, "execve") ? "/bin/sh"
                                       : "/etc/passwd");
    struct sigaction sa = {.sa_handler = sandbox_on_probe, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SANDBOX_PROBE_SIGNAL, &sa, NULL);
    log_info("sandbox: test hook armed: signal %d makes the %s thread attempt %s %s",
             SANDBOX_PROBE_SIGNAL, kind, call, sandbox_probe.path);
}

/* ---- entry points ---- */

int sandbox_setup(bool on, char *err, size_t errlen)
{
    sandbox_pid = getpid();
    sandbox_setup_probe();
    if (!on) return 0;
    for (int nr = 0; nr < SANDBOX_MAX_NR; nr++) {
        char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (n) snprintf(sandbox_names[nr], sizeof(sandbox_names[nr]), "%s", n);
        free(n);
    }
    /* Check once, before any thread depends on it, that this kernel takes our filters. */
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx || sandbox_build(ctx, SANDBOX_VCPU) < 0) {
        if (ctx) seccomp_release(ctx);
        snprintf(err, errlen, "sandbox: cannot build the seccomp filters (libseccomp)");
        return -1;
    }
    seccomp_release(ctx);
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
        snprintf(err, errlen, "sandbox: this kernel has no seccomp (use --sandbox off)");
        return -1;
    }
    struct sigaction sa = {.sa_sigaction = sandbox_on_sigsys, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSYS, &sa, NULL);
    sandbox_on = true;
    return 0;
}

void sandbox_enter(enum sandbox_kind kind)
{
    /* Who is who, for the test hook, confined or not. */
    sandbox_my_kind = (int)kind;
    atomic_store(&sandbox_tid[kind], (pid_t)syscall(SYS_gettid));
    if (!sandbox_on) return;
    /* A thread started by a confined thread inherited its list and its empty capability
     * sets; the list may not allow capset, and there is nothing left to drop. */
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2) sandbox_drop_caps();
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    int rc = ctx ? sandbox_build(ctx, kind) : -1;
    /* no_new_privs (libseccomp's default) and this thread only: no TSYNC. */
    if (rc == 0) rc = seccomp_load(ctx);
    if (ctx) seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "vessel: sandbox: cannot confine the %s thread (%s); stopping\n",
                sandbox_kind_name(kind), strerror(rc < 0 ? -rc : EINVAL));
        _exit(1);
    }
    log_debug("sandbox: %s thread confined", sandbox_kind_name(kind));
}

void sandbox_close_inherited_fds(void)
{
    syscall(SYS_close_range, 3u, ~0u, 0u);
}
