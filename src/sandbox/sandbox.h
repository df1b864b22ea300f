/* sandbox.h — confining vessel's own threads once the machine is set up (docs/SANDBOX.md).
 * Every thread vessel creates says what kind it is when it starts its loop; with the sandbox
 * on, that call drops the thread's capabilities, sets no_new_privs and loads a seccomp-bpf
 * allow-list of the system calls that kind needs (libseccomp). A call outside the list traps:
 * the monitor logs the thread kind and the call and is killed by SIGSYS. With the sandbox off
 * (the library's default, for unit tests and `--sandbox off`) every call here does nothing.
 *
 * Filters are per thread and inherited by the threads a thread creates, so a thread created by
 * an already confined thread runs under both lists (the vCPU thread's list therefore holds
 * every other kind's calls). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum sandbox_kind {
    SANDBOX_VCPU,    /* the main loop: vCPU, device timers, console, control requests, snapshots */
    SANDBOX_IO,      /* a virtio-blk I/O thread */
    SANDBOX_NET,     /* a network back-end thread (libslirp or tap) */
    SANDBOX_API,     /* the control API server */
    SANDBOX_DISPLAY, /* a display front end (VNC server, SDL window) */
    SANDBOX_MIGRATE, /* the live-migration sending thread */
    SANDBOX_NKINDS
};

/* Set the sandbox up for this process (main.c, before the machine is built): with `on`, the
 * SIGSYS reporter and confinement in every later sandbox_enter; either way the test hook if
 * its environment variable is set. 0, or -1 with a message. */
int sandbox_setup(bool on, char *err, size_t errlen);
bool sandbox_enabled(void);
/* Confine the calling thread as `kind` (a no-op with the sandbox off). A thread that cannot be
 * confined ends the process: running unconfined when confinement was asked for is worse. */
void sandbox_enter(enum sandbox_kind kind);
const char *sandbox_kind_name(enum sandbox_kind kind);

/* Close every descriptor from 3 up: what the process inherited from whoever started it. */
void sandbox_close_inherited_fds(void);

/* The jailer (jail.c): new mount, PID, IPC and UTS namespaces (and a user namespace when not
 * root, or a network namespace when asked), pivot_root into dir, then an unprivileged
 * uid/gid. The calling process stays outside as the jail's parent, waits, and exits with the
 * jailed monitor's status; only the jailed child returns (0). -1 with a message if the host
 * forbids it. */
struct sandbox_jail {
    const char *dir;
    bool netns;          /* a network namespace of its own (no network but loopback) */
    long uid, gid;       /* who runs inside (when started as root; -1: 65534) */
    const char *cpu_max; /* cgroup v2 cpu.max, e.g. "50000 100000"; NULL: none */
    const char *mem_max; /* cgroup v2 memory.max, e.g. "512M"; NULL: none */
};
int sandbox_jail_enter(const struct sandbox_jail *j, char *err, size_t errlen);
