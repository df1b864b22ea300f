/* integrity.c — the integrity watch (integrity.h, docs/INTEGRITY.md).
 *
 * Arming waits for the end of the kernel's boot: pid 1 has exec'd its init program, which the
 * kernel does only after free_initmem and mark_rodata_ro, so everything watched is final (text
 * patched by alternatives, tables read-only). Then the ranges are found in the running kernel:
 * sys_call_table and the ia32/x32 tables where the kernel has them (kallsyms, KASLR applied;
 * a table ends at the next symbol or at its first entry that is not a pointer into kernel
 * text), the IDT the vCPU's IDTR points at, and [_stext, _etext). Each is split into runs of
 * guest-physical pages, copied (`base`, the trusted contents) and its pages marked
 * BUS_PAGE_WATCH, which sends every CPU store to them
 * through the engine's slow path (interpreter and translated code alike: both go through the
 * TLB, whose write entries for such pages are slow) and every device write through
 * bus_note_write.
 *
 * The bus tells us after the bytes are in RAM. Blocking a write copies the old bytes back
 * from `base` before the vCPU executes anything else (a device's DMA is undone the moment the
 * device reports it), so RAM equals `base` before every write. Reporting one lets RAM move
 * away from `base`: the piece then gets a second copy, `shadow`, the contents as last seen,
 * where the old bytes of its later writes come from (made at its first reported write, so the
 * usual case, nothing written, costs one copy). The kernel's own text patching (jump labels, static
 * calls, ftrace, kprobes: all through text_poke) writes through `poking_mm`, a temporary address
 * space mapping the text page at a user-half address; such writes (CPL 0, a lower-half linear
 * address, CR3 = poking_mm's page directory when that is known) are accepted as the new
 * trusted contents and only counted. Anything else is reported.
 *
 * Locking: the loop thread arms and reports (vCPU stopped); the vCPU thread (the same thread)
 * and device threads call the watch; one mutex covers the state. No system call happens in the
 * watch but the log line, and no allocation but a piece's first `shadow`. */
#include "introspect/integrity.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "introspect/introspect.h"
#include "vessel/bus.h"
#include "vessel/cpu.h"
#include "vessel/log.h"

#define INTEG_RETRY_NS       (100ull * 1000 * 1000)  /* between looks at a booting guest */
#define INTEG_IMAGE_RETRY_NS (5000ull * 1000 * 1000) /* after an unreadable kernel image */
#define INTEG_MAX_TABLE      1024                    /* entries of a system call table, at most */
#define INTEG_MAX_PIECES     64
#define INTEG_LOG_EVENTS     64 /* writes logged one by one; later ones are summarised */
#define INTEG_LOG_EVERY      1000
#define INTEG_PA_MASK        0x000ffffffffff000ull
#define INTEG_USER_TOP       0x0000800000000000ull /* above: the kernel half */
#define INTEG_KERNEL_HALF    0xffff800000000000ull

/* A run of watched bytes contiguous in both guest-virtual and guest-physical memory. */
struct integ_piece {
    uint64_t gpa, va, len;
    unsigned range;
    uint8_t *base;   /* the trusted contents: as armed, plus the kernel's own patches */
    uint8_t *shadow; /* report policy, once a write was let through: RAM as last seen */
};

struct integ_range {
    char name[INTEG_NAME_LEN];
    uint64_t va, len, writes;
    bool text; /* the kernel's text: its own patching path is allowed */
};

/* The kernel symbols the watch needs (link-time addresses, looked up before the guest runs:
 * decoding kallsyms' names takes milliseconds per symbol). */
enum { S_STEXT, S_ETEXT, S_POKING, S_TABLES };
static const char *const integ_syms[] = {
    "_stext", "_etext", "poking_mm", "sys_call_table", "ia32_sys_call_table", "x32_sys_call_table"};
#define INTEG_NSYMS (sizeof(integ_syms) / sizeof(integ_syms[0]))

static struct {
    pthread_mutex_t lock;
    enum integ_policy policy;
    char vmlinux[4096];
    bool have_syms;
    uint64_t sym[INTEG_NSYMS], sym_end[INTEG_NSYMS];
    struct bus *bus; /* the bus watched (valid while bus->watch_opaque is &integ) */
    bool armed;
    uint64_t next_try_ns;
    char state[256];
    bool said_state;     /* the current reason for not watching was logged */
    uint64_t poking_pgd; /* guest-physical page directory of poking_mm, 0 unknown */
    uint64_t arm_us;
    struct integ_range ranges[INTEG_MAX_RANGES];
    unsigned nranges;
    struct integ_piece pieces[INTEG_MAX_PIECES];
    unsigned npieces;
    uint64_t seq, kernel_patches, page_writes;
    struct integ_event events[INTEG_MAX_EVENTS]; /* a ring: seq % INTEG_MAX_EVENTS */
} integ = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const integ_policy_names[] = {"off", "report", "block"};

int integ_parse_policy(const char *s, char *err, size_t errlen)
{
    for (int p = INTEG_OFF; p <= INTEG_BLOCK; p++)
        if (!strcmp(s, integ_policy_names[p])) {
            integ.policy = (enum integ_policy)p;
            return 0;
        }
    snprintf(err, errlen, "--integrity-watch: '%s' is not off, report or block", s);
    return -1;
}

enum integ_policy integ_get_policy(void)
{
    return integ.policy;
}

const char *integ_policy_name(enum integ_policy p)
{
    return p <= INTEG_BLOCK ? integ_policy_names[p] : "?";
}

static uint64_t integ_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void integ_prepare(const char *booted_kernel)
{
    if (integ.policy != INTEG_OFF)
        insp_default_vmlinux(booted_kernel, integ.vmlinux, sizeof(integ.vmlinux));
}

/* Reading the kernel image (a 50 MB parse and six kallsyms searches, ~0.3 s) happens on a
 * helper thread while the guest boots, not before it starts nor with it stopped. The helper is
 * started from the loop thread once that is confined, so it runs under the loop's seccomp
 * list (filters are inherited), and the loop looks at the symbols only after it has finished. */
static pthread_t integ_reader;
static atomic_int integ_reader_state; /* 0 not started, 1 running, 2 finished, 3 joined */

static void *integ_read_image(void *arg)
{
    (void)arg;
    char why[512];
    bool ok = insp_kernel_lookup(integ.vmlinux, integ_syms, INTEG_NSYMS, integ.sym, integ.sym_end,
                                 why, sizeof(why)) == 0;
    integ.have_syms = ok;
    if (!ok) log_warn("integrity watch: %s (the watch waits for a readable kernel image)", why);
    atomic_store_explicit(&integ_reader_state, 2, memory_order_release);
    return NULL;
}

/* True once the image has been read (started here on the first call). */
static bool integ_image_read(void)
{
    int st = atomic_load_explicit(&integ_reader_state, memory_order_acquire);
    if (st == 3) return true;
    if (st == 0) {
        atomic_store(&integ_reader_state, 1);
        if (pthread_create(&integ_reader, NULL, integ_read_image, NULL) != 0) {
            integ_read_image(NULL); /* no thread: read it here */
            atomic_store(&integ_reader_state, 3);
            return true;
        }
        return false;
    }
    if (st == 1) return false;
    pthread_join(integ_reader, NULL);
    atomic_store(&integ_reader_state, 3);
    return true;
}

/* Drop the ranges and copies (the bus they were on is gone or is being let go). */
static void integ_drop_locked(void)
{
    for (unsigned i = 0; i < integ.npieces; i++) {
        free(integ.pieces[i].base);
        free(integ.pieces[i].shadow);
    }
    integ.npieces = integ.nranges = 0;
    integ.armed = false;
    integ.bus = NULL;
    integ.poking_pgd = 0;
    integ.seq = integ.kernel_patches = integ.page_writes = 0;
    integ.said_state = false;
    integ.next_try_ns = 0;
}

void integ_reset(void)
{
    if (atomic_load(&integ_reader_state) == 1 || atomic_load(&integ_reader_state) == 2)
        pthread_join(integ_reader, NULL);
    atomic_store(&integ_reader_state, 0);
    integ.have_syms = false;
    pthread_mutex_lock(&integ.lock);
    if (integ.bus && integ.bus->watch_opaque == &integ) {
        for (unsigned i = 0; i < integ.npieces; i++)
            bus_watch_range(integ.bus, integ.pieces[i].gpa, integ.pieces[i].len, false);
        bus_set_write_watch(integ.bus, NULL, NULL);
    }
    integ_drop_locked();
    integ.state[0] = 0;
    pthread_mutex_unlock(&integ.lock);
}

static void integ_hex(char *out, const uint8_t *b, uint32_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (uint32_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static void integ_log_event(const struct integ_event *e)
{
    uint32_t n = e->len < INTEG_EVENT_BYTES ? e->len : INTEG_EVENT_BYTES;
    char old[2 * INTEG_EVENT_BYTES + 1], new_[2 * INTEG_EVENT_BYTES + 1];
    integ_hex(old, e->old, n);
    integ_hex(new_, e->new_, n);
    if (e->cpu)
        log_warn("integrity: write to %s+%#llx (va %#llx, gpa %#llx) by rip %#llx (cpl %u, cr3 "
                 "%#llx, at %#llx), %u bytes: old %s new %s%s: %s",
                 e->range, (unsigned long long)e->offset, (unsigned long long)e->va,
                 (unsigned long long)e->gpa, (unsigned long long)e->rip, e->cpl,
                 (unsigned long long)e->cr3, (unsigned long long)e->lin, e->len, old, new_,
                 e->len > n ? "..." : "", e->blocked ? "blocked" : "reported");
    else
        log_warn("integrity: write to %s+%#llx (va %#llx, gpa %#llx) by a device, %u bytes: old "
                 "%s new %s%s: %s",
                 e->range, (unsigned long long)e->offset, (unsigned long long)e->va,
                 (unsigned long long)e->gpa, e->len, old, new_, e->len > n ? "..." : "",
                 e->blocked ? "blocked" : "reported");
}

/* The kernel's text_poke: a CPL-0 store through poking_mm's user-half mapping. */
static bool integ_kernel_patch(const struct integ_range *r, const struct bus_writer *w)
{
    if (!r->text || !w || w->cpl != 0 || w->lin >= INTEG_USER_TOP) return false;
    return !integ.poking_pgd || (w->cr3 & INTEG_PA_MASK) == integ.poking_pgd;
}

/* The bus's write watch: [gpa, gpa+len) has just been written (bus.h bus_watch_fn). */
static void integ_on_write(void *opaque, uint64_t gpa, uint64_t len, const struct bus_writer *w)
{
    (void)opaque;
    pthread_mutex_lock(&integ.lock);
    bool hit = false;
    for (unsigned i = 0; integ.armed && i < integ.npieces; i++) {
        struct integ_piece *p = &integ.pieces[i];
        uint64_t lo = gpa > p->gpa ? gpa : p->gpa;
        uint64_t hi = gpa + len < p->gpa + p->len ? gpa + len : p->gpa + p->len;
        if (lo >= hi) continue;
        hit = true;
        uint64_t off = lo - p->gpa, n = hi - lo;
        uint8_t *ram = bus_ram_ptr(integ.bus, lo, n);
        if (!ram) continue;
        struct integ_range *r = &integ.ranges[p->range];
        if (integ_kernel_patch(r, w)) {
            if (p->shadow) memcpy(p->shadow + off, ram, n);
            memcpy(p->base + off, ram, n);
            integ.kernel_patches++;
            continue;
        }
        struct integ_event *e = &integ.events[integ.seq % INTEG_MAX_EVENTS];
        memset(e, 0, sizeof(*e));
        e->seq = ++integ.seq;
        memcpy(e->range, r->name, sizeof(e->range)); /* both NUL-padded, same size */
        e->va = p->va + off;
        e->offset = e->va - r->va;
        e->gpa = lo;
        e->cpu = w != NULL;
        if (w) {
            e->lin = w->lin + (lo - gpa);
            e->rip = w->rip;
            e->cr3 = w->cr3;
            e->cpl = w->cpl;
        }
        e->len = (uint32_t)n;
        uint32_t keep = n < INTEG_EVENT_BYTES ? (uint32_t)n : INTEG_EVENT_BYTES;
        e->blocked = integ.policy == INTEG_BLOCK;
        if (!e->blocked && !p->shadow && (p->shadow = malloc(p->len)))
            memcpy(p->shadow, p->base, p->len); /* RAM was base until now */
        const uint8_t *old = p->shadow ? p->shadow : p->base;
        memcpy(e->old, old + off, keep);
        memcpy(e->new_, ram, keep);
        if (e->blocked)
            memcpy(ram, p->base + off, n);
        else if (p->shadow)
            memcpy(p->shadow + off, ram, n);
        r->writes++;
        if (e->seq <= INTEG_LOG_EVENTS)
            integ_log_event(e);
        else if (e->seq % INTEG_LOG_EVERY == 0)
            log_warn("integrity: %llu writes to watched kernel memory so far (latest: %s+%#llx "
                     "by rip %#llx)",
                     (unsigned long long)e->seq, e->range, (unsigned long long)e->offset,
                     (unsigned long long)e->rip);
    }
    if (!hit) integ.page_writes++;
    pthread_mutex_unlock(&integ.lock);
}

/* ---- arming ---- */

static void integ_wait(const char *what, const char *detail)
{
    char s[sizeof(integ.state)];
    snprintf(s, sizeof(s), "%s%.200s", what, detail);
    memcpy(integ.state, s, sizeof(s));
}

/* Has the kernel finished booting: is pid 1 running its own program? */
static bool integ_booted(const struct insp_guest *g)
{
    struct insp_report r;
    char why[512];
    if (insp_list(integ.vmlinux, g, INSP_PROCESSES, &r, why, sizeof(why)) < 0) {
        integ_wait("waiting for the guest kernel: ", why);
        return false;
    }
    bool done = false;
    for (size_t i = 0; i < r.n; i++)
        if (r.procs[i].pid == 1) done = strncmp(r.procs[i].comm, "swapper", 7) != 0;
    insp_report_free(&r);
    if (!done) integ_wait("waiting for the guest kernel to finish booting (pid 1 to exec)", "");
    return done;
}

static int integ_add_range(const char *name, uint64_t va, uint64_t len, bool text)
{
    if (integ.nranges == INTEG_MAX_RANGES || !len) return -1;
    struct integ_range *r = &integ.ranges[integ.nranges++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->va = va;
    r->len = len;
    r->text = text;
    return (int)integ.nranges - 1;
}

/* Split range ri into physically contiguous pieces; false if a page is not mapped RAM. */
static bool integ_map_range(const struct insp_guest *g, unsigned ri)
{
    struct integ_range *r = &integ.ranges[ri];
    uint64_t va = r->va, end = r->va + r->len;
    struct integ_piece *cur = NULL;
    while (va < end) {
        uint64_t chunk = 4096 - (va & 0xfff);
        if (chunk > end - va) chunk = end - va;
        uint64_t pa = insp_translate(g, va);
        if (pa == UINT64_MAX || !bus_ram_ptr(g->bus, pa, chunk)) return false;
        if (cur && cur->gpa + cur->len == pa && cur->va + cur->len == va) {
            cur->len += chunk;
        } else {
            if (integ.npieces == INTEG_MAX_PIECES) return false;
            cur = &integ.pieces[integ.npieces++];
            *cur = (struct integ_piece){.gpa = pa, .va = va, .len = chunk, .range = ri};
        }
        va += chunk;
    }
    return true;
}

/* Entries of the system call table at va (up to end) that point into kernel text. */
static uint64_t integ_table_len(const struct insp_guest *g, uint64_t va, uint64_t end,
                                uint64_t stext, uint64_t etext)
{
    uint64_t n = 0;
    for (; n < INTEG_MAX_TABLE && va + 8 * (n + 1) <= end; n++) {
        uint64_t e;
        if (!insp_read_virt(g, va + 8 * n, &e, 8) || e < stext || e >= etext) break;
    }
    return 8 * n;
}

/* poking_mm->pgd as a guest-physical address, 0 if it cannot be found. */
static uint64_t integ_poking_pgd(const struct insp_guest *g, uint64_t poking_mm)
{
    uint64_t mm, pgd, off;
    if (!poking_mm || insp_kernel_member(integ.vmlinux, "mm_struct", "pgd", &off) < 0 ||
        !insp_read_virt(g, poking_mm, &mm, 8) || mm < INTEG_KERNEL_HALF ||
        !insp_read_virt(g, mm + off, &pgd, 8) || pgd < INTEG_KERNEL_HALF)
        return 0;
    uint64_t pa = insp_translate(g, pgd);
    return pa == UINT64_MAX ? 0 : pa & INTEG_PA_MASK;
}

static void integ_arm_locked(struct bus *bus, struct vcpu *v)
{
    uint64_t t0 = integ_now_us();
    struct insp_guest g;
    insp_guest_of(bus, v, &g);
    if (!g.lstar) {
        integ_wait("waiting for the guest kernel to start", "");
        return;
    }
    if (!integ_booted(&g)) return;
    char why[512];
    if (!integ.have_syms)
        integ.have_syms = insp_kernel_lookup(integ.vmlinux, integ_syms, INTEG_NSYMS, integ.sym,
                                             integ.sym_end, why, sizeof(why)) == 0;
    uint64_t slide;
    if (!integ.have_syms) {
        integ_wait("cannot read the guest kernel image: ", why);
        integ.next_try_ns += INTEG_IMAGE_RETRY_NS; /* parsing is not free: not ten times a second */
        return;
    }
    if (insp_kernel_slide(integ.vmlinux, &g, &slide, why, sizeof(why)) < 0) {
        integ_wait("waiting for the guest kernel: ", why);
        return;
    }
    uint64_t addr[INTEG_NSYMS], end[INTEG_NSYMS];
    for (unsigned i = 0; i < INTEG_NSYMS; i++) {
        addr[i] = integ.sym[i] ? integ.sym[i] + slide : 0;
        end[i] = integ.sym[i] ? integ.sym_end[i] + slide : 0;
    }
    if (!addr[S_STEXT] || addr[S_ETEXT] <= addr[S_STEXT]) {
        integ_wait("the guest kernel's kallsyms has no _stext/_etext", "");
        return;
    }
    integ.nranges = integ.npieces = 0;
    bool ok = true;
    for (unsigned i = S_TABLES; i < INTEG_NSYMS; i++) {
        if (!addr[i]) continue;
        uint64_t len = integ_table_len(&g, addr[i], end[i], addr[S_STEXT], addr[S_ETEXT]);
        int ri = integ_add_range(integ_syms[i], addr[i], len, false);
        if (ri >= 0) ok &= integ_map_range(&g, (unsigned)ri);
    }
    struct vcpu_sregs s;
    vcpu_get_sregs(v, &s);
    int ri = integ_add_range("idt", s.idt_base, (uint64_t)s.idt_limit + 1, false);
    if (ri >= 0) ok &= integ_map_range(&g, (unsigned)ri);
    ri = integ_add_range("kernel_text", addr[S_STEXT], addr[S_ETEXT] - addr[S_STEXT], true);
    if (ri >= 0) ok &= integ_map_range(&g, (unsigned)ri);
    for (unsigned i = 0; ok && i < integ.npieces; i++) {
        struct integ_piece *p = &integ.pieces[i];
        p->base = malloc(p->len);
        ok = p->base != NULL;
        if (ok) memcpy(p->base, bus_ram_ptr(bus, p->gpa, p->len), p->len);
    }
    if (!ok) {
        integ_drop_locked();
        snprintf(integ.state, sizeof(integ.state),
                 "not watching: a watched range is not mapped guest RAM (or out of memory)");
        integ.next_try_ns = UINT64_MAX; /* a kernel this odd will not change its mind */
        log_warn("integrity watch: %s", integ.state);
        return;
    }
    integ.poking_pgd = integ_poking_pgd(&g, addr[S_POKING]);
    for (unsigned i = 0; i < integ.npieces; i++)
        bus_watch_range(bus, integ.pieces[i].gpa, integ.pieces[i].len, true);
    bus_set_write_watch(bus, integ_on_write, &integ);
    vcpu_rearm_dirty(v); /* no fast write mapping made before may stay */
    integ.bus = bus;
    integ.armed = true;
    integ.arm_us = integ_now_us() - t0;
    snprintf(integ.state, sizeof(integ.state), "watching");
    char list[512] = "";
    size_t o = 0;
    for (unsigned i = 0; i < integ.nranges && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s %llu bytes at %#llx", i ? ", " : "",
                              integ.ranges[i].name, (unsigned long long)integ.ranges[i].len,
                              (unsigned long long)integ.ranges[i].va);
    log_info("integrity watch (%s): %s; kernel patching through poking_mm %s (%llu us)",
             integ_policy_name(integ.policy), list,
             integ.poking_pgd ? "recognised by its page tables" : "recognised by address only",
             (unsigned long long)integ.arm_us);
}

void integ_poll(struct bus *bus, struct vcpu *v, uint64_t now_ns)
{
    if (integ.policy == INTEG_OFF) return;
    /* Armed and still on this machine's bus: nothing to do (read without the lock: only this
     * thread changes either). A rebuilt machine has a fresh bus with no watcher. */
    if (integ.armed && bus == integ.bus && bus->watch_opaque == &integ) return;
    if (!integ.armed && now_ns < integ.next_try_ns) return;
    if (!integ_image_read()) return;
    pthread_mutex_lock(&integ.lock);
    if (integ.armed) integ_drop_locked(); /* the machine was rebuilt: start over */
    integ.next_try_ns = now_ns + INTEG_RETRY_NS;
    char before[sizeof(integ.state)];
    memcpy(before, integ.state, sizeof(before));
    integ_arm_locked(bus, v);
    if (!integ.armed && strcmp(before, integ.state)) log_debug("integrity watch: %s", integ.state);
    pthread_mutex_unlock(&integ.lock);
}

struct integ_status *integ_status_take(struct bus *bus)
{
    struct integ_status *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    pthread_mutex_lock(&integ.lock);
    s->policy = integ.policy;
    bool live = integ.armed && bus && bus == integ.bus && bus->watch_opaque == &integ;
    s->armed = live;
    if (integ.policy == INTEG_OFF)
        snprintf(s->state, sizeof(s->state), "off (vessel run --integrity-watch report|block)");
    else if (integ.armed && !live)
        snprintf(s->state, sizeof(s->state), "the machine was rebuilt: arming again");
    else
        snprintf(s->state, sizeof(s->state), "%s", integ.state[0] ? integ.state : "starting");
    s->arm_us = integ.arm_us;
    s->writes = integ.seq;
    s->kernel_patches = integ.kernel_patches;
    s->page_writes = integ.page_writes;
    s->poking_pgd = live ? integ.poking_pgd : 0;
    s->nranges = live ? integ.nranges : 0;
    for (size_t i = 0; i < s->nranges; i++) {
        struct integ_range_status *rs = &s->ranges[i];
        snprintf(rs->name, sizeof(rs->name), "%s", integ.ranges[i].name);
        rs->va = integ.ranges[i].va;
        rs->len = integ.ranges[i].len;
        rs->writes = integ.ranges[i].writes;
    }
    for (unsigned i = 0; live && i < integ.npieces; i++) {
        const struct integ_piece *p = &integ.pieces[i];
        const uint8_t *ram = bus_ram_ptr(bus, p->gpa, p->len);
        if (!ram || !memcmp(ram, p->base, p->len)) continue;
        uint64_t n = 0;
        for (uint64_t k = 0; k < p->len; k++)
            n += ram[k] != p->base[k];
        s->ranges[p->range].modified += n;
    }
    uint64_t first = integ.seq > INTEG_MAX_EVENTS ? integ.seq - INTEG_MAX_EVENTS : 0;
    for (uint64_t q = first; q < integ.seq; q++)
        s->events[s->nevents++] = integ.events[q % INTEG_MAX_EVENTS];
    pthread_mutex_unlock(&integ.lock);
    return s;
}
