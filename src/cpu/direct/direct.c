/* direct.c — vessel's side of direct execution (docs/DIRECT.md). One stub process per vCPU
 * (stub.c) runs the guest's ring-3 64-bit code natively; every way it leaves (a trapped system
 * call, a fault, vessel's kick signal) lands in the stub's signal handler, whose frame lies in a
 * region both processes map, so this file reads and writes the guest's registers and XSAVE image
 * in place and hands back with a futex.
 *
 * Exits are not emulated here: the registers go back into struct cpu with rip at the
 * instruction that trapped, and the run loop executes that one instruction in the engine
 * (DIRECT_STEP), which raises exactly the guest exception (a #PF with its error code and CR2, a
 * #UD, a #GP) or performs the SYSCALL through MSR_LSTAR. Only one exit is handled here: a
 * shadow miss, a host page fault at a user address the guest's page tables permit, which maps
 * the guest-physical page from the RAM memfd at the guest-virtual address (read-only until the
 * guest PTE is dirty, executable only without NX, Accessed and Dirty set as the CPU would),
 * with neighbours already accessed mapped in the same batch (fault-around). The soft MMU's
 * flushes (CR3, INVLPG, INVPCID, CR0/CR4) drop shadows: they are a TLB. */
#include "cpu/direct/direct.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpu/core.h"
#include "cpu/cpuid.h"
#include "cpu/direct/direct_proto.h"
#include "cpu/msr.h"
#include "cpu/ops/sse/sse_fx.h"
#include "vessel/log.h"

extern const unsigned char direct_stub_image[];
extern const unsigned direct_stub_image_len;

/* Host signal numbers (x86-64 Linux); <signal.h> would bring REG_* names core.h uses. */
enum {
    H_SIGILL = 4,
    H_SIGTRAP = 5,
    H_SIGBUS = 7,
    H_SIGFPE = 8,
    H_SIGKILL = 9,
    H_SIGSEGV = 11,
    H_SIGCHLD = 17,
    H_SIGSYS = 31
};

#define PG_P    0x1ull
#define PG_RW   0x2ull
#define PG_US   0x4ull
#define PG_A    0x20ull
#define PG_D    0x40ull
#define PG_PS   0x80ull
#define PG_NX   (1ull << 63)
#define PG_ADDR (((1ull << CPUID_PHYS_ADDR_BITS) - 1) & ~0xfffull)

/* Guest flags that live in the host's RFLAGS while code runs natively. */
#define DIRECT_FLAGS (F_ARITH | F_DF | F_AC | F_ID)
/* Time charged per retired instruction while native (the run loop's budget is instructions):
 * about the translator's rate, so a slice lasts as long natively as translated. */
#define DIRECT_NS_PER_INSN  5
#define DIRECT_FAULT_AROUND 16 /* pages each side of a miss, same page table */

struct direct_stub {
    int cpu; /* the host CPU it is pinned to (the vCPU thread's last), -1: none */
    pid_t pid;
    int pidfd, sock;
    uint8_t *region; /* the control region in vessel */
    struct direct_ctl *ctl;
    bool busy;
};

/* Host XSAVE components beyond what the guest kernel manages (AVX-512: opmask, ZMM_Hi256,
 * Hi16_ZMM). Guest user code sees the host's CPUID and uses them (glibc's EVEX memcpy), but the
 * guest kernel cannot switch them between its threads: vessel keeps them per guest thread, keyed
 * by address space and FS base (each Linux thread's TLS). */
#define DIRECT_XSTASH      64
#define DIRECT_XEXTRA_MASK 0xe0ull
#define DIRECT_XEXTRA_MAX  2048
struct direct_xstash {
    uint64_t cr3, fs, bv, used;
    uint8_t data[DIRECT_XEXTRA_MAX];
};

/* The governor: per guest address space, the mean native run between exits. Below what an exit
 * costs on this host the translator is faster, so that address space runs translated for a
 * while (doubling while it stays exit-heavy) and is then tried natively again. */
#define DIRECT_GOV_SLOTS    32
#define DIRECT_GOV_MIN_RUN  40000ull /* ns of native run per exit worth having */
#define DIRECT_GOV_SAMPLES  64
#define DIRECT_GOV_BACKOFF  20000000ull /* first stay in the translator: 20 ms */
#define DIRECT_GOV_MAX_STAY 2000000000ull
struct direct_gov {
    uint64_t cr3, until, stay, run_ns, exits, used;
    uint64_t native_until; /* hit an instruction only the host has: stays native until then */
};
#define DIRECT_GOV_PIN 1000000000ull

/* An address space's shadow: with CR4.PCIDE one per PCID, as the TLB tags its entries (Linux
 * switches address spaces with CR3's no-flush bit and flushes a PCID when it reuses it); without,
 * one, emptied by every CR3 write. Each has its own stub process. */
#define DIRECT_SPACES 8
struct direct_space {
    struct direct_stub *stub;
    uint64_t pcid, used;
    bool flush_pending; /* drop every shadow before the next entry */
    bool large_seen;    /* some shadow came from a 2 MiB / 1 GiB guest page */
    uint64_t fs_cur, gs_cur;
};

struct direct {
    struct cpu *c;
    struct direct_space spaces[DIRECT_SPACES];
    struct direct_space *sp; /* the current address space's */
    uint64_t space_clock;
    struct direct_gov gov[DIRECT_GOV_SLOTS];
    uint64_t gov_clock;
    unsigned fault_repeats;
    struct direct_xstash *xstash; /* DIRECT_XSTASH entries, NULL without AVX-512 */
    uint32_t xoff, xlen;          /* the extra components' span in the standard format */
    uint64_t xclock;
    struct direct_stub *stub;
    int ram_fd;
    bool ram_ok, ram_checked, refused_logged;
    uint64_t collide_cr3; /* the address space that collided with the stub (runs translated) */
    bool collided;
    bool dead;   /* the stub failed: everything runs translated */
    bool single; /* run one instruction natively (TF), then return */
    uint64_t last_trapno;
    uint64_t last_fault, last_fault_rip;
    /* statistics (VESSEL_DIRECT_STATS=1 prints them when the vCPU goes) */
    uint64_t gov_moves, gov_pins, last_guest_ns;
    uint64_t entries, exit_sys, exit_fault, exit_kick, exit_other, fills, pages, flushes;
    uint64_t native_ns, handoff_ns;
    /* host TSC ticks: vessel's RUN to the stub seeing it, the stub's mapping work, guest code,
     * the stub's exit to vessel seeing it */
    uint64_t tk_wake, tk_ops, tk_guest, tk_exit;
};

/* ---- the stub pool: stubs are spawned before the vCPU thread is confined and reused ---- */

#define DIRECT_MAX_STUBS 16
static struct direct_stub direct_stubs[DIRECT_MAX_STUBS];
static pthread_mutex_t direct_lock = PTHREAD_MUTEX_INITIALIZER;

static int direct_stub_exe(void)
{
    int fd = memfd_create("vessel-direct-stub", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < direct_stub_image_len) {
        ssize_t n = write(fd, direct_stub_image + done, direct_stub_image_len - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return fd;
}

static bool direct_wait_state(struct direct_stub *s, uint32_t want, int ms)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    uint64_t deadline =
        (uint64_t)end.tv_sec * 1000000000ull + (uint64_t)end.tv_nsec + (uint64_t)ms * 1000000ull;
    for (;;) {
        uint32_t v = __atomic_load_n(&s->ctl->state, __ATOMIC_ACQUIRE);
        if (v == want) return true;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t t = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
        if (t >= deadline) return false;
        struct timespec ts = {0, 1000000};
        syscall(SYS_futex, &s->ctl->state, FUTEX_WAIT, v, &ts, NULL, 0);
    }
}

static bool direct_stub_spawn(struct direct_stub *s)
{
    int ctl = memfd_create("vessel-direct-ctl", MFD_CLOEXEC);
    int sv[2] = {-1, -1};
    int exe = direct_stub_exe();
    if (ctl < 0 || exe < 0 || ftruncate(ctl, DIRECT_CTL_SIZE) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        goto fail;
    s->region = mmap(NULL, DIRECT_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ctl, 0);
    if (s->region == MAP_FAILED) goto fail;
    s->ctl = (struct direct_ctl *)s->region;
    memset(s->region, 0, DIRECT_CTL_SIZE);
    s->ctl->state = DIRECT_ST_GUEST;
    int pidfd = -1;
    struct clone_args {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } ca = {.flags = CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&pidfd, .exit_signal = H_SIGCHLD};
    pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) goto fail;
    if (pid == 0) {
        /* The child: only system calls until execveat. Descriptors 3 and 4 as the stub
         * expects, nothing else open, gone with vessel. */
        prctl(PR_SET_PDEATHSIG, H_SIGKILL);
        int e = fcntl(exe, F_DUPFD_CLOEXEC, 10);
        if (dup2(ctl, DIRECT_FD_CTL) < 0 || dup2(sv[1], DIRECT_FD_SOCK) < 0) _exit(126);
        syscall(SYS_close_range, 5u, 9u, 0u);
        syscall(SYS_close_range, 10u, ~0u, CLOSE_RANGE_CLOEXEC);
        char *argv[] = {(char *)"vessel-direct-stub", NULL}, *envp[] = {NULL};
        syscall(SYS_execveat, e, "", argv, envp, AT_EMPTY_PATH);
        _exit(127);
    }
    close(ctl);
    close(exe);
    close(sv[1]);
    s->pid = pid;
    s->cpu = -1;
    s->pidfd = pidfd;
    s->sock = sv[0];
    if (!direct_wait_state(s, DIRECT_ST_EXIT, 2000)) {
        log_error("direct: the stub did not start");
        syscall(SYS_pidfd_send_signal, pidfd, H_SIGKILL, NULL, 0);
        syscall(SYS_wait4, pid, NULL, 0, NULL);
        close(pidfd);
        close(s->sock);
        munmap(s->region, DIRECT_CTL_SIZE);
        return false;
    }
    return true;
fail:
    log_error("direct: cannot start a stub: %s", strerror(errno));
    if (ctl >= 0) close(ctl);
    if (exe >= 0) close(exe);
    if (sv[0] >= 0) close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
    return false;
}

static struct direct_stub *direct_stub_get(void)
{
    pthread_mutex_lock(&direct_lock);
    struct direct_stub *s = NULL;
    for (unsigned k = 0; k < DIRECT_MAX_STUBS && !s; k++)
        if (direct_stubs[k].pid && !direct_stubs[k].busy) s = &direct_stubs[k];
    for (unsigned k = 0; k < DIRECT_MAX_STUBS && !s; k++)
        if (!direct_stubs[k].pid && direct_stub_spawn(&direct_stubs[k])) s = &direct_stubs[k];
    if (s) s->busy = true;
    pthread_mutex_unlock(&direct_lock);
    return s;
}

/* ---- time ---- */

static uint64_t direct_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The host TSC's rate: native RDTSC reads it, so the guest's TSC must be the same clock. */
static uint64_t direct_host_tsc_hz(void)
{
    static uint64_t hz;
    if (hz) return hz;
    uint64_t t0 = direct_now(), c0 = __builtin_ia32_rdtsc();
    while (direct_now() - t0 < 20000000ull) {
    }
    uint64_t t1 = direct_now(), c1 = __builtin_ia32_rdtsc();
    hz = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
    hz = (hz + 500000) / 1000000 * 1000000; /* MHz: what firmware would report */
    return hz;
}

/* VESSEL_DIRECT_GOVERNOR=off: every ring-3 instruction natively (tests, measurements). */
static bool getenv_direct_nogov;
/* Pause-loop turns before sleeping on the futex (VESSEL_DIRECT_SPIN): spinning pays only when
 * the stub has a CPU of its own. */
static unsigned direct_spin = 100;
/* VESSEL_DIRECT_PIN=0: let the host place the stubs. */
static bool direct_pin = true;

/* ---- setup ---- */

struct direct *direct_new(struct cpu *c)
{
    struct bus *b = c->bus;
    if (!b || b->ram_fd < 0 || !b->ram_file) {
        log_warn("direct: guest RAM is not backed by a descriptor: user code stays translated");
        return NULL;
    }
    struct direct *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    for (unsigned k = 0; k < DIRECT_SPACES; k++) {
        struct direct_space *sp = &d->spaces[k];
        sp->stub = direct_stub_get();
        if (!sp->stub) {
            for (unsigned j = 0; j < k; j++)
                d->spaces[j].stub->busy = false;
            free(d);
            log_warn("direct: no stub: user code stays translated");
            return NULL;
        }
        sp->flush_pending = true;
        sp->fs_cur = sp->gs_cur = ~0ull;
        sp->pcid = ~0ull;
    }
    d->sp = &d->spaces[0];
    d->c = c;
    d->ram_fd = b->ram_fd;
    const char *gv = getenv("VESSEL_DIRECT_GOVERNOR");
    getenv_direct_nogov = gv && !strcmp(gv, "off");
    const char *sp = getenv("VESSEL_DIRECT_SPIN");
    if (sp) direct_spin = (unsigned)strtoul(sp, NULL, 10);
    const char *pn = getenv("VESSEL_DIRECT_PIN");
    direct_pin = !pn || strcmp(pn, "0");
    unsigned a, bb, cc, dd;
    __asm__("xgetbv" : "=a"(a), "=d"(dd) : "c"(0));
    if (a & DIRECT_XEXTRA_MASK) {
        /* the components' standard-format offsets and sizes (CPUID 0xD) */
        uint32_t lo = ~0u, hi = 0;
        for (unsigned k = 5; k <= 7; k++) {
            if (!(a & (1u << k))) continue;
            __asm__("cpuid" : "=a"(a), "=b"(bb), "=c"(cc), "=d"(dd) : "a"(0xd), "c"(k));
            if (bb < lo) lo = bb;
            if (bb + a > hi) hi = bb + a;
            __asm__("xgetbv" : "=a"(a), "=d"(dd) : "c"(0));
        }
        if (hi > lo && hi - lo <= DIRECT_XEXTRA_MAX && hi <= DIRECT_CTL_SIZE - DIRECT_ALT_OFF) {
            d->xoff = lo;
            d->xlen = hi - lo;
            d->xstash = calloc(DIRECT_XSTASH, sizeof(struct direct_xstash));
        }
    }
    /* Native RDTSC reads the host's counter: make the guest's TSC that counter. */
    c->tsc_hz = direct_host_tsc_hz();
    cpu_write_tsc(c, __builtin_ia32_rdtsc());
    return d;
}

void direct_free(struct direct *d)
{
    if (!d) return;
    if (getenv("VESSEL_DIRECT_STATS"))
        fprintf(stderr,
                "vessel: direct: %llu entries, exits: %llu syscall %llu fault %llu kick %llu "
                "other; %llu shadow fills (%llu pages), %llu flushes; native %.3f s, "
                "hand-off %.3f s (%.1f us per exit); governor: %llu moves to the translator, "
                "%llu back for host-only instructions\n",
                (unsigned long long)d->entries, (unsigned long long)d->exit_sys,
                (unsigned long long)d->exit_fault, (unsigned long long)d->exit_kick,
                (unsigned long long)d->exit_other, (unsigned long long)d->fills,
                (unsigned long long)d->pages, (unsigned long long)d->flushes,
                (double)d->native_ns / 1e9, (double)d->handoff_ns / 1e9,
                d->entries ? (double)d->handoff_ns / 1e3 / (double)d->entries : 0.0,
                (unsigned long long)d->gov_moves, (unsigned long long)d->gov_pins);
    if (getenv("VESSEL_DIRECT_STATS") && d->entries) {
        double us = (double)direct_host_tsc_hz() / 1e6, n = (double)d->entries;
        fprintf(stderr,
                "vessel: direct: per entry (us): wake %.1f, stub mapping %.1f, guest %.1f, "
                "exit %.1f; per shadow page mapped %.2f us\n",
                (double)d->tk_wake / us / n, (double)d->tk_ops / us / n,
                (double)d->tk_guest / us / n, (double)d->tk_exit / us / n,
                d->pages ? (double)d->tk_ops / us / (double)d->pages : 0.0);
    }
    /* The stubs go back to the pool; the next vCPU's first entries empty their shadows. */
    free(d->xstash);
    pthread_mutex_lock(&direct_lock);
    for (unsigned k = 0; k < DIRECT_SPACES; k++) {
        struct direct_stub *s = d->spaces[k].stub;
        s->busy = false;
        if (d->dead) s->pid = 0; /* killed: a new one is spawned when needed */
    }
    pthread_mutex_unlock(&direct_lock);
    free(d);
}

void direct_kick(struct direct *d)
{
    struct direct_space *sp = __atomic_load_n(&d->sp, __ATOMIC_ACQUIRE);
    syscall(SYS_futex, &sp->stub->ctl->state, FUTEX_WAKE, 1, NULL, NULL, 0);
}

void direct_recheck(struct direct *d)
{
    d->ram_checked = false;
    for (unsigned k = 0; k < DIRECT_SPACES; k++)
        d->spaces[k].flush_pending = true;
}

/* The shadow of the address space tagged pcid (the current one without CR4.PCIDE): an idle one
 * is taken over, emptied, when pcid has none. */
static struct direct_space *direct_space(struct direct *d, uint64_t pcid, bool make)
{
    struct direct_space *lru = &d->spaces[0];
    for (unsigned k = 0; k < DIRECT_SPACES; k++) {
        struct direct_space *sp = &d->spaces[k];
        if (sp->pcid == pcid) return sp;
        if (sp->used < lru->used) lru = sp;
    }
    if (!make) return NULL;
    lru->pcid = pcid;
    lru->flush_pending = true;
    return lru;
}

static uint64_t direct_pcid(const struct cpu *c, uint64_t cr3)
{
    return (c->cr4 & CR4_PCIDE) ? cr3 & 0xfff : 0;
}

/* Guest RAM must be one shared mapping of ram_fd, as the stub sees it: --share and a snapshot's
 * lazily mapped layers put private pages over it, and then the two views differ. */
static bool direct_ram_coherent(struct direct *d)
{
    if (d->ram_checked) return d->ram_ok;
    d->ram_checked = true;
    d->ram_ok = false;
    struct bus *b = d->c->bus;
    if (b->ram_remap_discard) return false;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return false;
    uintptr_t lo = (uintptr_t)b->ram, hi = lo + b->ram_size;
    char line[512];
    bool ok = true;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s", &s, &e, perm) != 3) continue;
        if (e <= lo || s >= hi) continue;
        if (perm[3] != 's') ok = false;
    }
    fclose(f);
    d->ram_ok = ok;
    return ok;
}

/* ---- shadow mappings ---- */

static void direct_queue(struct direct *d, uint32_t kind, uint64_t addr, uint64_t len, uint64_t off,
                         uint32_t prot)
{
    struct direct_ctl *ctl = d->sp->stub->ctl;
    if (d->sp->flush_pending && kind == DIRECT_OP_UNMAP) return; /* all of it goes anyway */
    if (ctl->nops >= DIRECT_MAX_OPS) {
        d->sp->flush_pending = true;
        return;
    }
    ctl->ops[ctl->nops++] = (struct direct_op){addr, len, off, kind, prot};
    if (kind == DIRECT_OP_MAP) ctl->need_fd = 1;
}

static void direct_tlb_flush_page(struct direct *d, uint64_t lin)
{
    uint64_t page = lin & ~0xfffull, len = 4096;
    if (d->sp->large_seen) { /* INVLPG anywhere in a large page drops all of it */
        page = lin & ~0x1fffffull;
        len = 0x200000;
    }
    if (page < DIRECT_STUB_HI && page + len > DIRECT_STUB_LO) return;
    direct_queue(d, DIRECT_OP_UNMAP, page, len, 0, 0);
}

void direct_tlb_flush(struct cpu *c, uint64_t lin)
{
    struct direct *d = c->direct;
    if (!d) return;
    d->flushes++;
    d->last_fault = 0; /* a fault after a flush is a new miss */
    if (lin == DIRECT_FLUSH_ALL) {
        for (unsigned k = 0; k < DIRECT_SPACES; k++)
            d->spaces[k].flush_pending = true;
        d->collided = false;
        return;
    }
    if (lin >= DIRECT_USER_TOP) return;
    /* INVLPG: the current PCID's entry */
    struct direct_space *cur = d->sp;
    d->sp = direct_space(d, direct_pcid(c, c->cr3), true);
    direct_tlb_flush_page(d, lin);
    d->sp = cur;
}

void direct_cr3_write(struct cpu *c, uint64_t v)
{
    struct direct *d = c->direct;
    d->last_fault = 0;
    d->collided = false;
    if (!(c->cr4 & CR4_PCIDE)) {
        direct_tlb_flush(c, DIRECT_FLUSH_ALL);
        return;
    }
    if (v >> 63) return; /* keep this PCID's entries */
    struct direct_space *sp = direct_space(d, v & 0xfff, false);
    if (sp) sp->flush_pending = true;
}

void direct_invpcid(struct cpu *c, uint64_t type, uint64_t pcid, uint64_t lin)
{
    struct direct *d = c->direct;
    d->last_fault = 0;
    struct direct_space *sp = direct_space(d, pcid, false);
    if (type >= 2) {
        direct_tlb_flush(c, DIRECT_FLUSH_ALL);
    } else if (sp && type == 1) {
        sp->flush_pending = true;
    } else if (sp && lin < DIRECT_USER_TOP) {
        struct direct_space *cur = d->sp;
        d->sp = sp;
        direct_tlb_flush_page(d, lin);
        d->sp = cur;
    }
}

/* A CPL-3 walk of lin. set: also set Accessed (and Dirty when write) as the CPU does on an
 * access; otherwise only look (fault-around maps only pages already accessed). Returns 0, or
 * the guest #PF error code | DIRECT_WALK_FAULT when the guest forbids the access, or
 * DIRECT_WALK_FAULT alone when the page is fine for the guest but cannot be shadowed (not RAM,
 * not accessed yet for a look). */
#define DIRECT_WALK_FAULT 0x80000000u
#define PF_P              0x1u
#define PF_W              0x2u
#define PF_U              0x4u
#define PF_RSVD           0x8u
#define PF_I              0x10u
struct direct_walk {
    uint64_t gpa; /* of the 4 KiB page */
    int prot;     /* what the shadow may allow now */
    bool large;
};

static uint32_t direct_walk(struct cpu *c, uint64_t lin, int kind, bool set, struct direct_walk *w)
{
    uint32_t err = PF_U | (kind == TLB_WRITE ? PF_W : 0) |
                   (kind == TLB_EXEC && ((c->efer & EFER_NXE) || (c->cr4 & CR4_SMEP)) ? PF_I : 0);
    if (!(c->cr0 & CR0_PG) || !(c->efer & EFER_LMA)) return DIRECT_WALK_FAULT;
    uint64_t table = c->cr3 & PG_ADDR;
    uint64_t *ptr[4];
    uint64_t gpas[4], all = PG_RW | PG_US, nx = 0, pte = 0;
    uint64_t rsvd = ~(PG_ADDR | PG_NX | 0xfffull | (0x7full << 52));
    if (!(c->efer & EFER_NXE)) rsvd |= PG_NX;
    int level, n = 0;
    for (level = 3; level >= 0; level--) {
        unsigned shift = 12 + 9 * level;
        uint64_t gpa = table + ((lin >> shift) & 511) * 8;
        uint64_t *p = (uint64_t *)bus_ram_ptr(c->bus, gpa, 8);
        if (!p) return DIRECT_WALK_FAULT; /* tables in MMIO: let the engine do it */
        pte = __atomic_load_n(p, __ATOMIC_RELAXED);
        ptr[n] = p;
        gpas[n++] = gpa;
        if (!(pte & PG_P)) return DIRECT_WALK_FAULT | err;
        uint64_t r = rsvd;
        if (level == 3)
            r |= PG_PS;
        else if (level == 2 && (pte & PG_PS))
            r |= 0x3fffe000ull;
        else if (level == 1 && (pte & PG_PS))
            r |= 0x1fe000ull;
        if (pte & r) return DIRECT_WALK_FAULT | err | PF_P | PF_RSVD;
        all &= pte;
        nx |= pte & PG_NX;
        if ((level == 1 || level == 2) && (pte & PG_PS)) break;
        if (level == 0) break;
        table = pte & PG_ADDR;
    }
    if (level < 0) level = 0;
    if (!(all & PG_US)) return DIRECT_WALK_FAULT | err | PF_P;
    if (kind == TLB_WRITE && !(all & PG_RW)) return DIRECT_WALK_FAULT | err | PF_P;
    if (kind == TLB_EXEC && nx) return DIRECT_WALK_FAULT | err | PF_P;
    if (!set) {
        for (int k = 0; k < n; k++)
            if (!(*ptr[k] & PG_A)) return DIRECT_WALK_FAULT;
    } else {
        for (int k = 0; k < n; k++) {
            uint64_t bits = PG_A | (k == n - 1 && kind == TLB_WRITE ? PG_D : 0);
            if ((*ptr[k] & bits) != bits) {
                __atomic_fetch_or(ptr[k], bits, __ATOMIC_RELAXED);
                bus_note_write(c->bus, gpas[k], 8);
            }
        }
        pte = *ptr[n - 1];
    }
    uint64_t size_mask = (1ull << (12 + 9 * level)) - 1;
    uint64_t gpa = ((pte & PG_ADDR) & ~size_mask) | (lin & size_mask & ~0xfffull);
    uint64_t off = bus_ram_offset(c->bus, gpa);
    if (off == UINT64_MAX) return DIRECT_WALK_FAULT;
    w->gpa = gpa;
    w->large = level > 0;
    w->prot = PROT_READ | (nx ? 0 : PROT_EXEC);
    uint8_t flags = c->bus->page_flags[off >> BUS_PAGE_SHIFT];
    if ((all & PG_RW) && (pte & PG_D) && !(flags & BUS_PAGE_WATCH)) w->prot |= PROT_WRITE;
    return 0;
}

static void direct_map(struct direct *d, uint64_t lin, const struct direct_walk *w)
{
    struct bus *b = d->c->bus;
    uint64_t off = bus_ram_offset(b, w->gpa);
    if (w->prot & PROT_WRITE) {
        /* Stores will bypass the soft MMU: mark the page written now (dirty logging, decoded
         * blocks on it dropped). vcpu_rearm_dirty flushes the shadows, so it happens again. */
        bus_note_write(b, w->gpa, BUS_PAGE_SIZE);
    }
    direct_queue(d, DIRECT_OP_MAP, lin & ~0xfffull, 4096, off, (uint32_t)w->prot);
    if (w->large) d->sp->large_seen = true;
    d->pages++;
}

/* A host page fault at a user address: a shadow miss (map and retry) or a guest #PF (false:
 * the engine re-executes the instruction and raises it). */
static bool direct_fill(struct direct *d, uint64_t addr, uint64_t err)
{
    struct cpu *c = d->c;
    if (addr >= DIRECT_USER_TOP || addr < 0x10000) return false;
    if (addr >= DIRECT_STUB_LO && addr < DIRECT_STUB_HI) return false;
    int kind = (err & 0x10) ? TLB_EXEC : (err & 2) ? TLB_WRITE : TLB_READ;
    /* The same fault again and again: the mapping does not help (the stub refused it). */
    if (addr == d->last_fault && c->rip == d->last_fault_rip) {
        if (++d->fault_repeats > 4) return false;
    } else {
        d->fault_repeats = 0;
    }
    d->last_fault = addr;
    d->last_fault_rip = c->rip;
    struct direct_walk w;
    uint32_t f = direct_walk(c, addr, kind, true, &w);
    if (f & ~DIRECT_WALK_FAULT) {
        /* The guest forbids it: its #PF, raised here (the engine might not even decode the
         * instruction: AVX-512 code runs natively). */
        d->last_fault = 0;
        d->single = false;
        c->cr2 = addr;
        cpu_fault_err(c, EXC_PF, f & ~DIRECT_WALK_FAULT);
    }
    if (f) return false;
    /* A read miss gets write permission only if the guest PTE is dirty already. */
    direct_map(d, addr, &w);
    d->fills++;
    uint64_t page = addr & ~0xfffull;
    uint64_t lo = page & ~0x1fffffull, hi = lo + 0x200000;
    for (int k = -DIRECT_FAULT_AROUND; k <= DIRECT_FAULT_AROUND; k++) {
        uint64_t p = page + (uint64_t)((int64_t)k * 4096);
        if (k == 0 || p < lo || p >= hi || p < 0x10000) continue;
        if (p >= DIRECT_STUB_LO && p < DIRECT_STUB_HI) continue;
        if (d->sp->stub->ctl->nops >= DIRECT_MAX_OPS - 4) break;
        struct direct_walk n;
        if (!direct_walk(c, p, TLB_READ, false, &n)) direct_map(d, p, &n);
    }
    return true;
}

/* ---- state in the signal frame ---- */

/* The ucontext and XSAVE image of the last exit, checked to lie inside the region: guest code
 * shares the stub's address space and may have written anything there. */
static struct direct_ucontext *direct_frame(struct direct *d, struct direct_stub *s, uint8_t **fp)
{
    uint64_t need = d && d->xstash ? d->xoff + d->xlen : 0;
    if (need < 576 + 256) need = 576 + 256;
    uint64_t uc = s->ctl->uc, base = DIRECT_CTL_ADDR + DIRECT_ALT_OFF,
             end = DIRECT_CTL_ADDR + DIRECT_CTL_SIZE;
    if (uc < base || uc > end - sizeof(struct direct_ucontext) || (uc & 7)) return NULL;
    struct direct_ucontext *u = (struct direct_ucontext *)(s->region + (uc - DIRECT_CTL_ADDR));
    uint64_t f = u->mc.fpstate;
    if (f < base || f > end - need || (f & 63)) return NULL;
    *fp = s->region + (f - DIRECT_CTL_ADDR);
    return u;
}

static void direct_put_regs(struct cpu *c, struct direct_ucontext *u, uint8_t *fp)
{
    struct direct_sigcontext *m = &u->mc;
    const uint64_t *g = c->gpr;
    m->rax = g[R_RAX], m->rcx = g[R_RCX], m->rdx = g[R_RDX], m->rbx = g[R_RBX];
    m->rsp = g[R_RSP], m->rbp = g[R_RBP], m->rsi = g[R_RSI], m->rdi = g[R_RDI];
    m->r8 = g[R_R8], m->r9 = g[R_R9], m->r10 = g[R_R10], m->r11 = g[R_R11];
    m->r12 = g[R_R12], m->r13 = g[R_R13], m->r14 = g[R_R14], m->r15 = g[R_R15];
    m->rip = c->rip;
    m->eflags = (m->eflags & ~(uint64_t)(DIRECT_FLAGS | F_TF)) | (flags_read(c) & DIRECT_FLAGS);
    fx_save_image(c, fp); /* bytes 416..511 (the kernel's software area) stay */
    uint64_t bv;
    memcpy(&bv, fp + 512, 8);
    bv |= XCR0_X87 | XCR0_SSE | XCR0_AVX;
    memcpy(fp + 512, &bv, 8);
    memcpy(fp + 576, c->ymm_hi, 256);
}

static void direct_get_regs(struct cpu *c, const struct direct_ucontext *u, const uint8_t *fp)
{
    const struct direct_sigcontext *m = &u->mc;
    uint64_t *g = c->gpr;
    g[R_RAX] = m->rax, g[R_RCX] = m->rcx, g[R_RDX] = m->rdx, g[R_RBX] = m->rbx;
    g[R_RSP] = m->rsp, g[R_RBP] = m->rbp, g[R_RSI] = m->rsi, g[R_RDI] = m->rdi;
    g[R_R8] = m->r8, g[R_R9] = m->r9, g[R_R10] = m->r10, g[R_R11] = m->r11;
    g[R_R12] = m->r12, g[R_R13] = m->r13, g[R_R14] = m->r14, g[R_R15] = m->r15;
    c->rip = c->next_rip = m->rip;
    flags_write(c, (flags_read(c) & ~(uint64_t)DIRECT_FLAGS) | (m->eflags & DIRECT_FLAGS));
    uint8_t img[FX_IMAGE_SIZE];
    memcpy(img, fp, sizeof img);
    fx_restore_image(c, img);
    uint64_t bv;
    memcpy(&bv, fp + 512, 8);
    if (bv & XCR0_AVX)
        memcpy(c->ymm_hi, fp + 576, 256);
    else
        memset(c->ymm_hi, 0, 256);
}

/* The AVX-512 state of the guest thread leaving native code goes to the stash; the entering
 * thread's comes back (or the initial state, for a thread not seen before). */
static struct direct_xstash *direct_xfind(struct direct *d, uint64_t cr3, uint64_t fs, bool make)
{
    struct direct_xstash *lru = &d->xstash[0];
    for (unsigned k = 0; k < DIRECT_XSTASH; k++) {
        struct direct_xstash *e = &d->xstash[k];
        if (e->used && e->cr3 == cr3 && e->fs == fs) return e;
        if (e->used < lru->used) lru = e;
    }
    if (!make) return NULL;
    lru->cr3 = cr3;
    lru->fs = fs;
    return lru;
}

static void direct_xsave_extra(struct direct *d, const uint8_t *fp)
{
    if (!d->xstash) return;
    uint64_t bv;
    memcpy(&bv, fp + 512, 8);
    struct cpu *c = d->c;
    uint64_t cr3 = c->cr3 & ~0xfffull, fs = c->seg[SEG_FS].base;
    struct direct_xstash *e = direct_xfind(d, cr3, fs, (bv & DIRECT_XEXTRA_MASK) != 0);
    if (!e) return;
    e->used = ++d->xclock;
    e->bv = bv & DIRECT_XEXTRA_MASK;
    if (e->bv) memcpy(e->data, fp + d->xoff, d->xlen);
}

static void direct_xload_extra(struct direct *d, uint8_t *fp)
{
    if (!d->xstash) return;
    struct cpu *c = d->c;
    struct direct_xstash *e = direct_xfind(d, c->cr3 & ~0xfffull, c->seg[SEG_FS].base, false);
    uint64_t bv;
    memcpy(&bv, fp + 512, 8);
    bv &= ~DIRECT_XEXTRA_MASK;
    if (e && e->bv) {
        bv |= e->bv;
        memcpy(fp + d->xoff, e->data, d->xlen);
    }
    memcpy(fp + 512, &bv, 8);
}

/* ---- running ---- */

static bool direct_send_fd(struct direct *d)
{
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &d->ram_fd, sizeof(int));
    return sendmsg(d->sp->stub->sock, &m, MSG_NOSIGNAL) == 1;
}

static uint8_t direct_guest_byte(struct cpu *c, uint64_t lin, bool *ok)
{
    struct direct_walk w;
    *ok = false;
    if (direct_walk(c, lin, TLB_READ, false, &w) && direct_walk(c, lin, TLB_READ, true, &w))
        return 0;
    uint8_t *p = bus_ram_ptr(c->bus, w.gpa | (lin & 0xfff), 1);
    if (!p) return 0;
    *ok = true;
    return *p;
}

/* Hand the registers to the stub, let guest code run, take them back. Returns false when the
 * stub is gone or its frame is unusable. */
static bool direct_enter(struct direct *d, uint64_t budget_ns)
{
    struct cpu *c = d->c;
    struct direct_stub *s = d->sp->stub;
    struct direct_ctl *ctl = s->ctl;
    uint8_t *fp;
    struct direct_ucontext *u = direct_frame(d, s, &fp);
    if (!u) return false;
    if (d->sp->flush_pending) {
        /* Everything of the guest's user half, around the stub's own window. */
        ctl->nops = 0;
        ctl->need_fd = 0;
        d->sp->flush_pending = false;
        direct_queue(d, DIRECT_OP_UNMAP, 0x10000, DIRECT_STUB_LO - 0x10000, 0, 0);
        direct_queue(d, DIRECT_OP_UNMAP, DIRECT_STUB_HI, DIRECT_USER_TOP - 4096 - DIRECT_STUB_HI, 0,
                     0);
        d->sp->large_seen = false;
    }
    direct_put_regs(c, u, fp);
    if (d->single) u->mc.eflags |= F_TF;
    direct_xload_extra(d, fp);
    uint64_t fs = c->seg[SEG_FS].base, gs = c->seg[SEG_GS].base;
    if (fs != d->sp->fs_cur) {
        ctl->set_fs = 1;
        ctl->fs_base = d->sp->fs_cur = fs;
    }
    if (gs != d->sp->gs_cur) {
        ctl->set_gs = 1;
        ctl->gs_base = d->sp->gs_cur = gs;
    }
    if (ctl->need_fd && !direct_send_fd(d)) return false;
    if (direct_pin) {
        /* The stub follows the vCPU thread's CPU: a hand-off on one CPU is a switch, across
         * two a wake-up of a sleeping CPU (several times dearer here). */
        int cpu = sched_getcpu();
        if (cpu >= 0 && cpu != s->cpu) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            if (sched_setaffinity(s->pid, sizeof set, &set) == 0) s->cpu = cpu;
        }
    }
    uint64_t t0 = direct_now(), k0 = __builtin_ia32_rdtsc();
    __atomic_store_n(&ctl->state, DIRECT_ST_RUN, __ATOMIC_RELEASE);
    syscall(SYS_futex, &ctl->state, FUTEX_WAKE, 1, NULL, NULL, 0);
    d->entries++;
    bool kicked = false;
    uint64_t deadline = t0 + budget_ns;
    for (unsigned spin = 0;; spin++) {
        uint32_t v = __atomic_load_n(&ctl->state, __ATOMIC_ACQUIRE);
        if (v == DIRECT_ST_EXIT) break;
        if (spin < direct_spin) {
            __builtin_ia32_pause();
            continue;
        }
        uint64_t now = direct_now();
        if (!kicked && (now >= deadline || __atomic_load_n(&c->exit_request, __ATOMIC_ACQUIRE))) {
            kicked = true;
            if (syscall(SYS_pidfd_send_signal, s->pidfd, DIRECT_KICK_SIGNAL, NULL, 0) < 0)
                return false;
            continue;
        }
        uint64_t wait = kicked ? 2000000ull : (deadline > now ? deadline - now : 0);
        if (wait > 2000000ull) wait = 2000000ull;
        struct timespec ts = {0, (long)wait};
        syscall(SYS_futex, &ctl->state, FUTEX_WAIT, v, &ts, NULL, 0);
        if (kicked && direct_now() - now > 1000000000ull) return false; /* the stub is stuck */
    }
    uint64_t t1 = direct_now(), k1 = __builtin_ia32_rdtsc();
    d->native_ns += t1 - t0;
    uint64_t te = ctl->t_exit, tr = ctl->t_run, ts = ctl->t_resume; /* guest-writable: sanity */
    if (k0 <= tr && tr <= ts && ts <= te && te <= k1) {
        d->tk_wake += tr - k0;
        d->tk_ops += ts - tr;
        d->tk_guest += te - ts;
        d->tk_exit += k1 - te;
        d->last_guest_ns = (te - ts) * 1000 / (direct_host_tsc_hz() / 1000000);
    } else {
        d->last_guest_ns = t1 - t0;
    }
    c->stats.insns += (t1 - t0) / DIRECT_NS_PER_INSN;
    u = direct_frame(d, s, &fp);
    if (!u) return false;
    direct_get_regs(c, u, fp);
    direct_xsave_extra(d, fp);
    if (ctl->op_error) {
        /* A mapping the stub could not make: start over with an empty shadow. */
        ctl->op_error = 0;
        d->sp->flush_pending = true;
    }
    d->handoff_ns += direct_now() - t1;
    return true;
}

static enum direct_result direct_run_gov(struct cpu *c, uint64_t budget_end, struct direct_gov *g);

static enum direct_result direct_run_one(struct cpu *c)
{
    return direct_run_gov(c, c->stats.insns + 2000000, NULL); /* 10 ms: no kick */
}

static struct direct_gov *direct_gov(struct direct *d, uint64_t cr3)
{
    struct direct_gov *lru = &d->gov[0];
    for (unsigned k = 0; k < DIRECT_GOV_SLOTS; k++) {
        struct direct_gov *g = &d->gov[k];
        if (g->used && g->cr3 == cr3) {
            g->used = ++d->gov_clock;
            return g;
        }
        if (g->used < lru->used) lru = g;
    }
    *lru = (struct direct_gov){.cr3 = cr3, .used = ++d->gov_clock};
    return lru;
}

static void direct_gov_account(struct direct *d, struct direct_gov *g, uint64_t run_ns,
                               uint64_t now)
{
    g->run_ns += run_ns;
    if (++g->exits < DIRECT_GOV_SAMPLES) return;
    if (g->run_ns / g->exits < DIRECT_GOV_MIN_RUN && now >= g->native_until) {
        g->stay = g->stay ? g->stay * 2 : DIRECT_GOV_BACKOFF;
        if (g->stay > DIRECT_GOV_MAX_STAY) g->stay = DIRECT_GOV_MAX_STAY;
        g->until = now + g->stay;
        d->gov_moves++;
    } else {
        g->stay = 0;
    }
    g->run_ns = g->exits = 0;
}

enum direct_result direct_run(struct cpu *c, uint64_t budget_end)
{
    struct direct *d = c->direct;
    if (d->dead) return DIRECT_OFF;
    struct direct_gov *g = NULL;
    if (!getenv_direct_nogov) {
        g = direct_gov(d, c->cr3 & ~0xfffull);
        if (g->until && direct_now() < g->until) return DIRECT_OFF;
        g->until = 0;
    }
    if (d->collided && d->collide_cr3 == c->cr3) return DIRECT_OFF;
    return direct_run_gov(c, budget_end, g);
}

static enum direct_result direct_run_gov(struct cpu *c, uint64_t budget_end, struct direct_gov *g)
{
    struct direct *d = c->direct;
    struct direct_space *sp = direct_space(d, direct_pcid(c, c->cr3), true);
    sp->used = ++d->space_clock;
    __atomic_store_n(&d->sp, sp, __ATOMIC_RELEASE);
    if (c->rip >= DIRECT_STUB_LO && c->rip < DIRECT_STUB_HI) {
        d->collided = true;
        d->collide_cr3 = c->cr3;
        return DIRECT_OFF;
    }
    if (!direct_ram_coherent(d)) {
        if (!d->refused_logged)
            log_warn("direct: guest RAM is not one shared mapping (--share or a snapshot's "
                     "layers): user code stays translated");
        d->refused_logged = true;
        return DIRECT_OFF;
    }
    uint64_t left = budget_end > c->stats.insns ? budget_end - c->stats.insns : 0;
    uint64_t budget_ns = left * DIRECT_NS_PER_INSN;
    if (budget_ns < 20000) budget_ns = 20000;
    if (!direct_enter(d, budget_ns)) {
        log_error("direct: the stub failed; user code stays translated from here on");
        d->dead = true;
        syscall(SYS_pidfd_send_signal, d->sp->stub->pidfd, H_SIGKILL, NULL, 0);
        return DIRECT_OFF;
    }
    struct direct_ctl *ctl = d->sp->stub->ctl;
    if (g && ctl->signo != DIRECT_KICK_SIGNAL)
        direct_gov_account(d, g, d->last_guest_ns, direct_now());
    int sig = ctl->signo;
    struct direct_ucontext *u;
    uint8_t *fp;
    u = direct_frame(d, d->sp->stub, &fp);
    uint64_t trapno = u ? u->mc.trapno : ~0ull, err = u ? u->mc.err : 0;
    d->last_trapno = trapno;
    bool ok;
    switch (sig) {
    case DIRECT_KICK_SIGNAL: d->exit_kick++; return DIRECT_AGAIN;
    case H_SIGSYS:
        d->exit_sys++;
        c->rip -= 2; /* back to the SYSCALL: the engine executes it (MSR_LSTAR) */
        c->next_rip = c->rip;
        return DIRECT_STEP;
    case H_SIGSEGV:
    case H_SIGBUS:
        d->exit_fault++;
        if (sig == H_SIGSEGV && trapno == 14 && direct_fill(d, ctl->addr, err)) return DIRECT_AGAIN;
        return DIRECT_STEP;
    case H_SIGTRAP:
        d->exit_other++;
        if (d->single && trapno == 1) {
            flags_write(c, flags_read(c) & ~(uint64_t)F_TF);
            d->single = false;
            return DIRECT_AGAIN;
        }
        if (trapno == 3) { /* INT3 (CC) or INT 3 (CD 03) trapped after the instruction */
            uint8_t b = direct_guest_byte(c, c->rip - 1, &ok);
            c->rip -= ok && b == 0xcc ? 1 : 2;
        } else if (trapno == 1) {
            uint8_t b = direct_guest_byte(c, c->rip - 1, &ok);
            if (ok && b == 0xf1) c->rip -= 1; /* INT1 */
        }
        c->next_rip = c->rip;
        return DIRECT_STEP;
    case H_SIGILL:
        d->exit_other++;
        if (d->single) {
            d->single = false;
            flags_write(c, flags_read(c) & ~(uint64_t)F_TF);
            cpu_fault(c, EXC_UD); /* the host cannot either */
        }
        return DIRECT_STEP;
    default: d->exit_other++; return DIRECT_STEP;
    }
}

bool direct_native_one(struct cpu *c)
{
    struct direct *d = c->direct;
    if (d->dead) return false;
    c->pending_exc = -1;
    c->exc_has_error = false;
    if (!getenv_direct_nogov) {
        /* The governor sent this address space to the translator, but its code was chosen
         * for the host CPU (AVX-512): the translator cannot run it, so it runs natively. */
        struct direct_gov *g = direct_gov(d, c->cr3 & ~0xfffull);
        uint64_t now = direct_now();
        g->native_until = now + DIRECT_GOV_PIN;
        if (g->until && now < g->until) {
            g->until = 0;
            d->gov_pins++;
            return true; /* the run loop enters it natively at this instruction */
        }
    }
    d->single = true;
    /* Misses along the way are filled; anything else the instruction raises is delivered. */
    for (unsigned k = 0; k < 64 && d->single; k++) {
        enum direct_result r = direct_run_one(c);
        if (r == DIRECT_OFF || r == DIRECT_STEP) {
            if (getenv("VESSEL_DIRECT_DEBUG"))
                fprintf(stderr, "direct: native step at %llx: signal %d trap %d\n",
                        (unsigned long long)c->rip, d->sp->stub->ctl->signo, (int)d->last_trapno);
            break;
        }
    }
    bool done = !d->single;
    d->single = false;
    if (!done) {
        flags_write(c, flags_read(c) & ~(uint64_t)F_TF);
        c->pending_exc = EXC_UD;
        c->exc_raise_kind = EV_EXC;
    }
    return done;
}
