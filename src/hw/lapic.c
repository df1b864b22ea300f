/* lapic.c — the local APIC of a vCPU (xAPIC register page, IRR/ISR/TMR, priorities, EOI
 * broadcast, LVTs, the timer in one-shot, periodic and TSC-deadline modes) and the APIC bus that
 * joins several: IPIs from the ICR and MSIs to physical, logical (flat, cluster) and shorthand
 * destinations, and the INIT/SIPI start-up protocol, whose events the vCPU thread takes.
 *
 * Locking: each LAPIC has its own lock; a sender never holds its lock while delivering to
 * another LAPIC (the message is computed under the sender's lock and sent after it is dropped),
 * so two CPUs sending each other IPIs cannot deadlock.
 *
 * The APIC bus runs at 1 GHz, so one timer tick before the divider is one host nanosecond (as
 * under KVM). The CPU asks for a deliverable vector at every instruction boundary where it may
 * take one, so that answer is kept precomputed in an atomic and read without the lock. */
#include "hw/lapic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/log.h"
#include "vessel/state.h"

/* 2: the start-up state appended (wait-for-SIPI, pending start-up event, pending NMI) */
#define STATE_VERSION 2

enum {
    R_ID = 0x20,
    R_VERSION = 0x30,
    R_TPR = 0x80,
    R_APR = 0x90,
    R_PPR = 0xa0,
    R_EOI = 0xb0,
    R_RRD = 0xc0,
    R_LDR = 0xd0,
    R_DFR = 0xe0,
    R_SVR = 0xf0,
    R_ISR = 0x100,
    R_TMR = 0x180,
    R_IRR = 0x200,
    R_ESR = 0x280,
    R_CMCI = 0x2f0,
    R_ICR_LO = 0x300,
    R_ICR_HI = 0x310,
    R_LVT0 = 0x320, /* timer, thermal, perf, LINT0, LINT1, error */
    R_TIMER_INIT = 0x380,
    R_TIMER_CUR = 0x390,
    R_TIMER_DIV = 0x3e0,
};

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define LVT_MASKED       (1u << 16)
#define LVT_DM_EXTINT    (7u << 8)
#define LVT_TIMER_MODE   (3u << 17)
#define TIMER_ONESHOT    0
#define TIMER_PERIODIC   (1u << 17)
#define TIMER_TSC_DL     (2u << 17)
#define SVR_ENABLE       (1u << 8)
#define ESR_SEND_ILLEGAL 0x20
#define ESR_RECV_ILLEGAL 0x40

/* Writable bits per LVT (vector, delivery mode, polarity, trigger, mask, timer mode). */
static const uint32_t lvt_wmask[LVT_COUNT] = {
    0x000700ff, /* timer: vector, mask, mode */
    0x000107ff, /* thermal */
    0x000107ff, /* perf */
    0x0001a7ff, /* LINT0 */
    0x0001a7ff, /* LINT1 */
    0x000100ff, /* error */
};

struct lapic {
    pthread_mutex_t lock;
    struct lapic_config cfg;
    struct bus *bus;

    uint64_t apic_base;
    uint32_t id, tpr, ldr, dfr, svr, esr, esr_pending, icr_lo, icr_hi, cmci;
    uint32_t irr[8], isr[8], tmr[8];
    uint32_t lvt[LVT_COUNT];
    uint32_t timer_init, timer_div;
    uint64_t timer_start;    /* host ns when the current count was (re)loaded */
    uint64_t timer_deadline; /* host ns of the next expiry, UINT64_MAX if none */
    uint64_t tsc_deadline;   /* IA32_TSC_DEADLINE, 0 if disarmed */

    _Atomic int deliverable; /* cached answer of pending() */
    _Atomic bool extint;     /* the PIC's INTR (lapic_set_extint) */

    struct apic_bus *ab; /* NULL: standalone */
    /* start-up protocol (under the lock) */
    bool wait_sipi;
    uint8_t su_kind; /* enum lapic_startup */
    uint64_t su_vector;
    bool nmi_pending;
};

struct apic_bus {
    struct bus *bus;
    struct lapic *cpu[LAPIC_MAX_CPUS]; /* filled at creation, read without a lock after */
    unsigned n;
    _Atomic unsigned rr; /* lowest-priority arbitration's rotation */
};

/* The LAPIC the calling thread's MMIO accesses go to (apic_bus). */
static _Thread_local struct lapic *lapic_current;

static uint64_t now_ns(const struct lapic *l)
{
    return l->cfg.now ? l->cfg.now() : clock_ns();
}

static bool hw_enabled(const struct lapic *l)
{
    return (l->apic_base & APICBASE_ENABLE) != 0;
}

static int highest(const uint32_t *v)
{
    for (int w = 7; w >= 0; w--)
        if (v[w]) return w * 32 + 31 - __builtin_clz(v[w]);
    return -1;
}

static void set_bit(uint32_t *v, unsigned vec)
{
    v[vec >> 5] |= 1u << (vec & 31);
}
static void clear_bit(uint32_t *v, unsigned vec)
{
    v[vec >> 5] &= ~(1u << (vec & 31));
}
static bool test_bit(const uint32_t *v, unsigned vec)
{
    return (v[vec >> 5] >> (vec & 31)) & 1;
}

static uint32_t ppr(const struct lapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (l->tpr & 0xf0) >= isr_class ? l->tpr & 0xff : isr_class;
}

/* Recompute the cached deliverable vector; call with the lock held after IRR/ISR/TPR change. */
static void refresh(struct lapic *l)
{
    int v = -1;
    if (hw_enabled(l)) {
        int irrv = highest(l->irr);
        if (irrv >= 0 && ((uint32_t)irrv & 0xf0) > (ppr(l) & 0xf0)) v = irrv;
    }
    atomic_store_explicit(&l->deliverable, v, memory_order_release);
}

/* Record an error for ESR and raise the error LVT; returns true if that made a vector pending. */
static bool signal_error(struct lapic *l, uint32_t bits)
{
    l->esr_pending |= bits;
    uint32_t lvt = l->lvt[LVT_ERROR];
    if ((lvt & LVT_MASKED) || (lvt & 0xff) < 16) return false;
    set_bit(l->irr, lvt & 0xff);
    clear_bit(l->tmr, lvt & 0xff);
    refresh(l);
    return true;
}

/* Accept a fixed interrupt; returns true if something became pending (the caller kicks). */
static bool accept(struct lapic *l, unsigned vector, bool level)
{
    if (!hw_enabled(l)) return false;
    if (vector < 16) return signal_error(l, ESR_RECV_ILLEGAL);
    set_bit(l->irr, vector);
    if (level)
        set_bit(l->tmr, vector);
    else
        clear_bit(l->tmr, vector);
    refresh(l);
    return true;
}

static unsigned timer_divide(const struct lapic *l)
{
    unsigned v = (l->timer_div & 3) | ((l->timer_div & 8) >> 1);
    return v == 7 ? 1 : 2u << v;
}

static uint32_t timer_mode(const struct lapic *l)
{
    return l->lvt[LVT_TIMER] & LVT_TIMER_MODE;
}

static uint64_t timer_period(const struct lapic *l)
{
    return (uint64_t)l->timer_init * timer_divide(l);
}

/* Host ns at which the guest TSC reaches `tsc`. The TSC is sampled before the clock and the
 * division rounds up, so the timer never fires before the guest can see its deadline passed. */
static uint64_t tsc_to_ns(const struct lapic *l, uint64_t tsc)
{
    if (!l->cfg.read_tsc || !l->cfg.tsc_hz) return UINT64_MAX;
    uint64_t cur = l->cfg.read_tsc(l->cfg.tsc_opaque);
    uint64_t now = now_ns(l);
    if (tsc <= cur) return now;
    unsigned __int128 delta =
        ((unsigned __int128)(tsc - cur) * 1000000000u + l->cfg.tsc_hz - 1) / l->cfg.tsc_hz;
    return delta > UINT64_MAX - now ? UINT64_MAX - 1 : now + (uint64_t)delta;
}

static void timer_arm_tsc(struct lapic *l)
{
    l->timer_deadline = l->tsc_deadline ? tsc_to_ns(l, l->tsc_deadline) : UINT64_MAX;
}

static void timer_start_count(struct lapic *l, uint64_t now)
{
    l->timer_start = now;
    l->timer_deadline = l->timer_init ? now + timer_period(l) : UINT64_MAX;
}

static uint32_t timer_current(const struct lapic *l, uint64_t now)
{
    if (timer_mode(l) == TIMER_TSC_DL || !l->timer_init || l->timer_deadline == UINT64_MAX)
        return 0;
    uint64_t period = timer_period(l), elapsed = now - l->timer_start;
    if (now < l->timer_start) elapsed = 0;
    if (elapsed >= period) {
        if (timer_mode(l) != TIMER_PERIODIC) return 0;
        elapsed %= period;
    }
    return l->timer_init - (uint32_t)(elapsed / timer_divide(l));
}

/* Fire the timer if due; returns true if an interrupt became pending. */
static bool timer_fire(struct lapic *l, uint64_t now)
{
    if (l->timer_deadline == UINT64_MAX || now < l->timer_deadline) return false;
    switch (timer_mode(l)) {
    case TIMER_PERIODIC: {
        uint64_t period = timer_period(l);
        if (!period) {
            l->timer_deadline = UINT64_MAX;
            break;
        }
        /* Missed periods collapse into one interrupt, as the IRR bit would anyway. */
        uint64_t n = (now - l->timer_start) / period;
        l->timer_start += n * period;
        l->timer_deadline = l->timer_start + period;
        break;
    }
    case TIMER_TSC_DL:
        l->tsc_deadline = 0;
        l->timer_deadline = UINT64_MAX;
        break;
    default: l->timer_deadline = UINT64_MAX; break;
    }
    uint32_t lvt = l->lvt[LVT_TIMER];
    if (lvt & LVT_MASKED) return false;
    return accept(l, lvt & 0xff, false);
}

static bool dest_matches(const struct lapic *l, uint8_t dest, bool logical)
{
    if (!logical) return dest == 0xff || dest == (l->id & 0xff);
    uint8_t ldr = (uint8_t)(l->ldr >> 24);
    if (dest == 0xff) return true;
    if ((l->dfr >> 28) == 0xf) /* flat */
        return (ldr & dest) != 0;
    /* cluster: high nibble the cluster, low nibble a member mask */
    return ((dest >> 4) == (ldr >> 4) || (dest >> 4) == 0xf) && (dest & ldr & 0x0f);
}

/* Deliver an interrupt message (from MSI, the IOAPIC or the ICR). Returns true to kick.
 * assert: the INIT level bit (an INIT with it clear is the old level de-assert, ignored). */
static bool deliver(struct lapic *l, unsigned mode, unsigned vector, bool level, bool assert)
{
    switch (mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST: return accept(l, vector, level);
    case APIC_DM_NMI: l->nmi_pending = true; return true;
    case APIC_DM_INIT:
        if (!assert) return false;
        l->wait_sipi = true;
        l->su_kind = LAPIC_SU_INIT;
        return true;
    case APIC_DM_STARTUP:
        if (!l->wait_sipi) return false; /* a SIPI is only taken in wait-for-SIPI */
        l->wait_sipi = false;
        l->su_kind = LAPIC_SU_SIPI;
        l->su_vector = vector & 0xff;
        return true;
    default:
        /* SMI, ExtINT: no SMM and no PIC on this board. */
        log_debug("lapic: ignoring delivery mode %u vector %#x", mode, vector);
        return false;
    }
}

static void mask_all_lvts(struct lapic *l)
{
    for (int k = 0; k < LVT_COUNT; k++)
        l->lvt[k] |= LVT_MASKED;
    l->cmci |= LVT_MASKED;
}

static void reset_locked(struct lapic *l)
{
    l->id = l->cfg.id;
    l->tpr = l->ldr = l->esr = l->esr_pending = l->icr_lo = l->icr_hi = 0;
    l->dfr = 0xffffffff;
    l->svr = 0xff;
    memset(l->irr, 0, sizeof(l->irr));
    memset(l->isr, 0, sizeof(l->isr));
    memset(l->tmr, 0, sizeof(l->tmr));
    for (int k = 0; k < LVT_COUNT; k++)
        l->lvt[k] = LVT_MASKED;
    if (l->cfg.extint_ack && l->cfg.id == 0) l->lvt[LVT_LINT0] = LVT_DM_EXTINT;
    l->cmci = LVT_MASKED;
    l->timer_init = l->timer_div = 0;
    l->timer_start = 0;
    l->timer_deadline = UINT64_MAX;
    l->tsc_deadline = 0;
    refresh(l);
}

static uint32_t reg_read(struct lapic *l, unsigned reg)
{
    if (reg >= R_ISR && reg < R_ISR + 0x80) return l->isr[(reg - R_ISR) >> 4];
    if (reg >= R_TMR && reg < R_TMR + 0x80) return l->tmr[(reg - R_TMR) >> 4];
    if (reg >= R_IRR && reg < R_IRR + 0x80) return l->irr[(reg - R_IRR) >> 4];
    if (reg >= R_LVT0 && reg < R_LVT0 + LVT_COUNT * 0x10) return l->lvt[(reg - R_LVT0) >> 4];
    switch (reg) {
    case R_ID: return l->id << 24;
    case R_VERSION: return LAPIC_VERSION;
    case R_TPR: return l->tpr;
    case R_APR: return 0;
    case R_PPR: return ppr(l);
    case R_LDR: return l->ldr;
    case R_DFR: return l->dfr;
    case R_SVR: return l->svr;
    case R_ESR: return l->esr;
    case R_CMCI: return l->cmci;
    case R_ICR_LO: return l->icr_lo & ~(1u << 12); /* delivery status: always idle */
    case R_ICR_HI: return l->icr_hi;
    case R_TIMER_INIT: return l->timer_init;
    case R_TIMER_CUR: return timer_current(l, now_ns(l));
    case R_TIMER_DIV: return l->timer_div;
    default: return 0;
    }
}

/* An interrupt message on the APIC bus. */
struct apic_msg {
    bool valid;
    uint8_t dest, mode, vector, shorthand;
    bool logical, level, assert;
};

struct after {
    bool kick;
    bool timer;     /* the timer's deadline moved */
    int eoi_vector; /* level-triggered EOI to broadcast, or -1 */
    struct apic_msg ipi;
};

static void icr_send(struct lapic *l, struct after *a)
{
    uint32_t lo = l->icr_lo;
    unsigned vector = lo & 0xff, mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3;
    bool logical = (lo >> 11) & 1;
    bool to_self;
    if (l->ab) {
        if (mode == APIC_DM_FIXED && vector < 16) {
            a->kick |= signal_error(l, ESR_SEND_ILLEGAL);
            return;
        }
        a->ipi = (struct apic_msg){true,
                                   (uint8_t)(l->icr_hi >> 24),
                                   (uint8_t)mode,
                                   (uint8_t)vector,
                                   (uint8_t)shorthand,
                                   logical,
                                   (lo >> 15) & 1,
                                   (lo >> 14) & 1};
        return;
    }
    switch (shorthand) {
    case 1:                         /* self */
    case 2: to_self = true; break;  /* all including self */
    case 3: to_self = false; break; /* all excluding self: nobody else exists */
    default: to_self = dest_matches(l, (uint8_t)(l->icr_hi >> 24), logical); break;
    }
    if (mode == APIC_DM_FIXED && vector < 16) {
        a->kick |= signal_error(l, ESR_SEND_ILLEGAL);
        return;
    }
    if (to_self && deliver(l, mode, vector, false, (lo >> 14) & 1)) a->kick = true;
}

static void reg_write(struct lapic *l, unsigned reg, uint32_t v, struct after *a)
{
    if (reg >= R_LVT0 && reg < R_LVT0 + LVT_COUNT * 0x10) {
        unsigned k = (reg - R_LVT0) >> 4;
        uint32_t old = l->lvt[k];
        v &= lvt_wmask[k];
        if (!(l->svr & SVR_ENABLE)) v |= LVT_MASKED;
        l->lvt[k] = v;
        if (k == LVT_TIMER &&
            ((old & LVT_TIMER_MODE) == TIMER_TSC_DL) != ((v & LVT_TIMER_MODE) == TIMER_TSC_DL)) {
            /* Entering or leaving TSC-deadline mode disarms the timer (SDM 10.5.4.1). */
            l->timer_deadline = UINT64_MAX;
            l->tsc_deadline = 0;
            l->timer_init = 0;
        }
        if (k == LVT_TIMER) a->timer = true;
        return;
    }
    switch (reg) {
    case R_ID: l->id = v >> 24; break;
    case R_TPR:
        l->tpr = v & 0xff;
        refresh(l);
        break;
    case R_EOI: {
        int vec = highest(l->isr);
        if (vec < 0) break;
        clear_bit(l->isr, (unsigned)vec);
        if (test_bit(l->tmr, (unsigned)vec)) a->eoi_vector = vec;
        refresh(l);
        break;
    }
    case R_LDR: l->ldr = v & 0xff000000; break;
    case R_DFR: l->dfr = v | 0x0fffffff; break;
    case R_SVR:
        l->svr = v & 0x13ff;
        if (!(l->svr & SVR_ENABLE)) mask_all_lvts(l);
        break;
    case R_ESR:
        /* A write latches the errors seen since the last write (SDM 10.5.3). */
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        break;
    case R_CMCI: l->cmci = (v & 0x000107ff) | (l->svr & SVR_ENABLE ? 0 : LVT_MASKED); break;
    case R_ICR_HI: l->icr_hi = v & 0xff000000; break;
    case R_ICR_LO:
        l->icr_lo = v & 0x000ccfff;
        icr_send(l, a);
        break;
    case R_TIMER_INIT:
        if (timer_mode(l) == TIMER_TSC_DL) break; /* ignored in TSC-deadline mode */
        l->timer_init = v;
        timer_start_count(l, now_ns(l));
        a->timer = true;
        break;
    case R_TIMER_DIV: {
        uint64_t now = now_ns(l);
        uint32_t cur = timer_current(l, now);
        l->timer_div = v & 0xb;
        /* Keep the remaining count, now at the new rate. */
        if (l->timer_deadline != UINT64_MAX && timer_mode(l) != TIMER_TSC_DL) {
            l->timer_start = now - (uint64_t)(l->timer_init - cur) * timer_divide(l);
            l->timer_deadline = now + (uint64_t)cur * timer_divide(l);
        }
        a->timer = true;
        break;
    }
    default: break; /* read-only or reserved: ignored */
    }
}

static void apic_bus_send(struct apic_bus *ab, struct lapic *src, const struct apic_msg *m);

static void after_unlock(struct lapic *l, const struct after *a)
{
    if (a->eoi_vector >= 0 && l->cfg.eoi) l->cfg.eoi(l->cfg.eoi_opaque, (uint8_t)a->eoi_vector);
    if (a->kick && l->cfg.kick) l->cfg.kick(l->cfg.kick_opaque);
    if (a->timer && l->cfg.timer_armed) l->cfg.timer_armed(l->cfg.kick_opaque);
    if (a->ipi.valid && l->ab) apic_bus_send(l->ab, l, &a->ipi);
}

static uint64_t lapic_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct lapic *l = opaque;
    pthread_mutex_lock(&l->lock);
    uint64_t v = 0;
    if (hw_enabled(l)) {
        uint32_t r = reg_read(l, (unsigned)(off & 0xff0));
        v = (uint64_t)r >> (8 * (off & 3));
        if (size < 4) v &= (1ull << (8 * size)) - 1;
    }
    pthread_mutex_unlock(&l->lock);
    return v;
}

static void lapic_mmio_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct lapic *l = opaque;
    struct after a = {.eoi_vector = -1};
    /* Registers are 32 bits wide and 16-byte aligned; other writes are ignored. */
    if ((off & 0xf) || size < 4) return;
    pthread_mutex_lock(&l->lock);
    if (hw_enabled(l)) reg_write(l, (unsigned)off & 0xff0, (uint32_t)value, &a);
    pthread_mutex_unlock(&l->lock);
    after_unlock(l, &a);
}

static const struct io_ops lapic_ops = {lapic_mmio_read, lapic_mmio_write};

/* The APIC bus's page: the calling vCPU thread's LAPIC (CPU 0's for any other thread). */
static struct lapic *apic_bus_target(struct apic_bus *ab)
{
    struct lapic *l = lapic_current;
    return l && l->ab == ab ? l : ab->cpu[0];
}

static uint64_t apic_bus_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct lapic *l = apic_bus_target(opaque);
    return l ? lapic_mmio_read(l, off, size) : 0;
}

static void apic_bus_mmio_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct lapic *l = apic_bus_target(opaque);
    if (l) lapic_mmio_write(l, off, value, size);
}

static const struct io_ops apic_bus_ops = {apic_bus_mmio_read, apic_bus_mmio_write};

struct apic_bus *apic_bus_create(struct bus *bus)
{
    struct apic_bus *ab = calloc(1, sizeof(*ab));
    if (!ab) return NULL;
    ab->bus = bus;
    if (bus && bus_add_mmio(bus, LAPIC_BASE, LAPIC_SIZE, &apic_bus_ops, ab, "lapic") != 0) {
        free(ab);
        return NULL;
    }
    return ab;
}

void apic_bus_destroy(struct apic_bus *ab)
{
    if (!ab) return;
    if (ab->bus) bus_move_mmio(ab->bus, &apic_bus_ops, ab, 0, 0);
    free(ab);
}

struct lapic *apic_bus_find(struct apic_bus *ab, unsigned id)
{
    for (unsigned k = 0; k < ab->n; k++) {
        struct lapic *l = ab->cpu[k];
        pthread_mutex_lock(&l->lock);
        bool hit = l->id == id;
        pthread_mutex_unlock(&l->lock);
        if (hit) return l;
    }
    return NULL;
}

void lapic_bind_thread(struct lapic *l)
{
    lapic_current = l;
}

/* Does `m` (with shorthand 0) name l? Called with l's lock held. */
static bool msg_matches(const struct lapic *l, const struct apic_msg *m)
{
    return hw_enabled(l) && dest_matches(l, m->dest, m->logical);
}

/* Deliver to one LAPIC and kick it. */
static void deliver_to(struct lapic *l, const struct apic_msg *m)
{
    struct after a = {.eoi_vector = -1};
    pthread_mutex_lock(&l->lock);
    a.kick = deliver(l, m->mode, m->vector, m->level, m->assert);
    pthread_mutex_unlock(&l->lock);
    after_unlock(l, &a);
}

/* Send a message from `src` (NULL: an MSI) to every LAPIC it names. Lowest priority goes to one
 * of them: the one with the lowest TPR, ties taken in turn. */
static void apic_bus_send(struct apic_bus *ab, struct lapic *src, const struct apic_msg *m)
{
    struct lapic *pick = NULL;
    uint32_t pick_tpr = 0;
    unsigned n = ab->n, start = m->mode == APIC_DM_LOWEST ? atomic_fetch_add(&ab->rr, 1) : 0;
    for (unsigned j = 0; j < n; j++) {
        struct lapic *l = ab->cpu[(start + j) % n];
        bool hit;
        switch (m->shorthand) {
        case 1: hit = l == src; break;
        case 2: hit = true; break;
        case 3: hit = l != src; break;
        default:
            pthread_mutex_lock(&l->lock);
            hit = msg_matches(l, m);
            if (hit && m->mode == APIC_DM_LOWEST && (!pick || (l->tpr & 0xf0) < pick_tpr)) {
                pick = l;
                pick_tpr = l->tpr & 0xf0;
            }
            pthread_mutex_unlock(&l->lock);
            if (m->mode == APIC_DM_LOWEST) continue;
            break;
        }
        if (hit) deliver_to(l, m);
    }
    if (pick) deliver_to(pick, m);
}

static void apic_bus_msi(void *opaque, uint64_t addr, uint32_t data)
{
    if ((addr >> 20) != 0xfee) return;
    struct apic_msg m = {.valid = true,
                         .dest = (uint8_t)(addr >> 12),
                         .logical = (addr >> 2) & 1,
                         .mode = (uint8_t)((data >> 8) & 7),
                         .vector = (uint8_t)data,
                         .level = (data >> 15) & 1,
                         .assert = true};
    apic_bus_send(opaque, NULL, &m);
}

struct msi_sink apic_bus_msi_sink(struct apic_bus *ab)
{
    return (struct msi_sink){apic_bus_msi, ab};
}

enum lapic_startup lapic_startup_take(struct lapic *l, uint64_t *vector)
{
    pthread_mutex_lock(&l->lock);
    enum lapic_startup k = l->su_kind;
    *vector = l->su_vector;
    l->su_kind = LAPIC_SU_NONE;
    pthread_mutex_unlock(&l->lock);
    return k;
}

bool lapic_waiting_for_sipi(struct lapic *l)
{
    pthread_mutex_lock(&l->lock);
    bool w = l->wait_sipi;
    pthread_mutex_unlock(&l->lock);
    return w;
}

bool lapic_startup_pending(struct lapic *l)
{
    pthread_mutex_lock(&l->lock);
    bool p = l->su_kind != LAPIC_SU_NONE || l->nmi_pending;
    pthread_mutex_unlock(&l->lock);
    return p;
}

bool lapic_mp_wake(struct lapic *l, uint64_t entry)
{
    struct after a = {.eoi_vector = -1};
    pthread_mutex_lock(&l->lock);
    bool ok = l->wait_sipi && l->su_kind == LAPIC_SU_NONE;
    if (ok) {
        l->wait_sipi = false;
        l->su_kind = LAPIC_SU_WAKE64;
        l->su_vector = entry;
        a.kick = true;
    }
    pthread_mutex_unlock(&l->lock);
    after_unlock(l, &a);
    return ok;
}

void lapic_park(struct lapic *l)
{
    pthread_mutex_lock(&l->lock);
    l->wait_sipi = true;
    pthread_mutex_unlock(&l->lock);
}

bool lapic_nmi_take(struct lapic *l)
{
    pthread_mutex_lock(&l->lock);
    bool n = l->nmi_pending;
    l->nmi_pending = false;
    pthread_mutex_unlock(&l->lock);
    return n;
}

struct lapic *lapic_create(struct bus *bus, const struct lapic_config *cfg)
{
    struct lapic *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    pthread_mutex_init(&l->lock, NULL);
    l->cfg = *cfg;
    l->bus = bus;
    l->ab = cfg->apic_bus;
    l->wait_sipi = cfg->ap;
    l->apic_base = LAPIC_BASE | APICBASE_ENABLE | (cfg->id == 0 ? APICBASE_BSP : 0);
    reset_locked(l);
    if (l->ab) {
        if (l->ab->n == LAPIC_MAX_CPUS) {
            pthread_mutex_destroy(&l->lock);
            free(l);
            return NULL;
        }
        l->ab->cpu[l->ab->n++] = l;
    } else if (bus && bus_add_mmio(bus, LAPIC_BASE, LAPIC_SIZE, &lapic_ops, l, "lapic") != 0) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    return l;
}

void lapic_destroy(struct lapic *l)
{
    if (!l) return;
    if (l->ab) {
        for (unsigned k = 0; k < l->ab->n; k++)
            if (l->ab->cpu[k] == l) l->ab->cpu[k] = l->ab->cpu[--l->ab->n];
    } else if (l->bus) {
        bus_move_mmio(l->bus, &lapic_ops, l, 0, 0);
    }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* The PIC's vector if its INTR is up and gets through LINT0 (vCPU thread: the LVT changes
 * only there), else -1. Below any deliverable APIC vector. */
static int extint_pending(struct lapic *l)
{
    if (!atomic_load_explicit(&l->extint, memory_order_acquire) || !l->cfg.extint_vector) return -1;
    uint32_t lint0 = l->lvt[LVT_LINT0];
    if (hw_enabled(l) && ((lint0 & LVT_MASKED) || (lint0 & (7u << 8)) != LVT_DM_EXTINT)) return -1;
    return l->cfg.extint_vector(l->cfg.extint_opaque);
}

static int intc_pending(void *opaque)
{
    struct lapic *l = opaque;
    int v = atomic_load_explicit(&l->deliverable, memory_order_acquire);
    return v >= 0 ? v : extint_pending(l);
}

void lapic_set_extint(struct lapic *l, bool level)
{
    atomic_store_explicit(&l->extint, level, memory_order_release);
    if (level && l->cfg.kick) l->cfg.kick(l->cfg.kick_opaque);
}

static void intc_ack(void *opaque, int vector)
{
    struct lapic *l = opaque;
    if (vector < 0 || vector > 255) return;
    /* Other threads only add APIC requests, so a vector pending() gave while none was
     * deliverable, or one not requested at the APIC, was the PIC's. */
    pthread_mutex_lock(&l->lock);
    if (l->cfg.extint_ack && (atomic_load_explicit(&l->deliverable, memory_order_relaxed) < 0 ||
                              !test_bit(l->irr, (unsigned)vector))) {
        pthread_mutex_unlock(&l->lock);
        l->cfg.extint_ack(l->cfg.extint_opaque);
        return;
    }
    if (test_bit(l->irr, (unsigned)vector)) {
        clear_bit(l->irr, (unsigned)vector);
        set_bit(l->isr, (unsigned)vector);
    }
    refresh(l);
    pthread_mutex_unlock(&l->lock);
}

static void intc_set_tpr(void *opaque, uint8_t cr8)
{
    struct lapic *l = opaque;
    pthread_mutex_lock(&l->lock);
    l->tpr = (uint32_t)(cr8 & 0xf) << 4;
    refresh(l);
    pthread_mutex_unlock(&l->lock);
}

static uint8_t intc_get_tpr(void *opaque)
{
    struct lapic *l = opaque;
    pthread_mutex_lock(&l->lock);
    uint8_t v = (uint8_t)((l->tpr >> 4) & 0xf);
    pthread_mutex_unlock(&l->lock);
    return v;
}

const struct vcpu_intc_ops lapic_intc_ops = {intc_pending, intc_ack, intc_set_tpr, intc_get_tpr};

void lapic_msi(struct lapic *l, uint64_t addr, uint32_t data)
{
    if ((addr >> 20) != 0xfee) return; /* not an interrupt message (a DMA write elsewhere) */
    if (l->ab) {
        apic_bus_msi(l->ab, addr, data);
        return;
    }
    uint8_t dest = (uint8_t)(addr >> 12);
    bool logical = (addr >> 2) & 1;
    unsigned mode = (data >> 8) & 7;
    bool level = (data >> 15) & 1;
    struct after a = {.eoi_vector = -1};
    pthread_mutex_lock(&l->lock);
    /* Lowest priority with one CPU: that CPU, whatever the destination says. */
    if (mode == APIC_DM_LOWEST || dest_matches(l, dest, logical))
        a.kick = deliver(l, mode, data & 0xff, level, true);
    pthread_mutex_unlock(&l->lock);
    after_unlock(l, &a);
}

static void msi_send_cb(void *opaque, uint64_t addr, uint32_t data)
{
    lapic_msi(opaque, addr, data);
}

struct msi_sink lapic_msi_sink(struct lapic *l)
{
    return (struct msi_sink){msi_send_cb, l};
}

void lapic_set_irq(struct lapic *l, uint8_t vector, bool level_triggered)
{
    struct after a = {.eoi_vector = -1};
    pthread_mutex_lock(&l->lock);
    a.kick = accept(l, vector, level_triggered);
    pthread_mutex_unlock(&l->lock);
    after_unlock(l, &a);
}

bool lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value)
{
    bool ok = true;
    pthread_mutex_lock(&l->lock);
    if (msr == MSR_IA32_APICBASE)
        *value = l->apic_base;
    else if (msr == MSR_IA32_TSC_DEADLINE)
        *value = timer_mode(l) == TIMER_TSC_DL ? l->tsc_deadline : 0;
    else
        ok = false;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

bool lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value)
{
    bool ok = true, armed = false;
    pthread_mutex_lock(&l->lock);
    if (msr == MSR_IA32_APICBASE) {
        /* Reserved bits and x2APIC enable (not offered) fault; the base stays fixed. */
        if (value & (0xffull | (1ull << 9) | (1ull << 10) | 0xfff0000000000000ull)) {
            ok = false;
        } else {
            bool was = hw_enabled(l);
            l->apic_base = LAPIC_BASE | (value & APICBASE_ENABLE) | (l->apic_base & APICBASE_BSP);
            if (was && !hw_enabled(l)) reset_locked(l); /* hardware disable loses all state */
            refresh(l);
        }
    } else if (msr == MSR_IA32_TSC_DEADLINE) {
        if (timer_mode(l) == TIMER_TSC_DL && hw_enabled(l)) {
            l->tsc_deadline = value;
            timer_arm_tsc(l);
            armed = true;
        }
    } else {
        ok = false;
    }
    pthread_mutex_unlock(&l->lock);
    if (armed && l->cfg.timer_armed) l->cfg.timer_armed(l->cfg.kick_opaque);
    return ok;
}

uint64_t lapic_next_deadline(struct lapic *l)
{
    pthread_mutex_lock(&l->lock);
    uint64_t d = l->timer_deadline;
    pthread_mutex_unlock(&l->lock);
    return d;
}

void lapic_update(struct lapic *l, uint64_t now)
{
    struct after a = {.eoi_vector = -1};
    pthread_mutex_lock(&l->lock);
    a.kick = timer_fire(l, now);
    pthread_mutex_unlock(&l->lock);
    after_unlock(l, &a);
}

/* Section "lapic": u64 APIC base; u32 id, tpr, ldr, dfr, svr, esr, esr pending, icr low, icr
 * high, cmci, timer initial count, timer divide; then irr[k], isr[k], tmr[k] for k = 0..7; u32
 * per LVT entry; u8 timer running, u64 ns since the count was loaded (host clocks differ between
 * runs: the timer is saved relative to now); u64 TSC deadline. Every register is masked to
 * what the guest could have written. */
struct lapic_state_ctx {
    uint64_t now;
    bool running;
    uint64_t elapsed;
};
static void lapic_put_timer(struct state_writer *w, const void *obj, void *ctx)
{
    const struct lapic *l = obj;
    uint64_t now = ((const struct lapic_state_ctx *)ctx)->now;
    bool running = l->timer_deadline != UINT64_MAX && timer_mode(l) != TIMER_TSC_DL;
    state_put_u8(w, running);
    state_put_u64(w, running ? now - l->timer_start : 0);
}
static const char *lapic_get_timer(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)tmp;
    (void)live;
    struct lapic_state_ctx *c = ctx;
    c->running = state_get_u8(r) != 0;
    c->elapsed = state_get_u64(r);
    return NULL;
}
static void lapic_commit_lvt(void *live, const void *tmp, void *ctx)
{
    (void)ctx;
    struct lapic *l = live;
    for (int k = 0; k < LVT_COUNT; k++)
        l->lvt[k] = ((const struct lapic *)tmp)->lvt[k] & lvt_wmask[k];
}
static const struct state_field lapic_row_fields[] = {
    STATE_U32(struct lapic, irr[0]),
    STATE_U32(struct lapic, isr[0]),
    STATE_U32(struct lapic, tmr[0]),
};
static const struct state_desc lapic_row_desc = STATE_DESC(struct lapic, lapic_row_fields, NULL);
#define LAPIC_FIELDS_V1                                                                            \
    STATE_UINT_X(struct lapic, apic_base, 8, APICBASE_ENABLE | APICBASE_BSP, LAPIC_BASE, 0,        \
                 UINT64_MAX),                                                                      \
        STATE_UINT_M(struct lapic, id, 4, 0xff), STATE_UINT_M(struct lapic, tpr, 4, 0xff),         \
        STATE_UINT_M(struct lapic, ldr, 4, 0xff000000),                                            \
        STATE_UINT_X(struct lapic, dfr, 4, UINT64_MAX, 0x0fffffff, 0, UINT64_MAX),                 \
        STATE_UINT_M(struct lapic, svr, 4, 0x13ff), STATE_U32(struct lapic, esr),                  \
        STATE_U32(struct lapic, esr_pending), STATE_UINT_M(struct lapic, icr_lo, 4, 0x000ccfff),   \
        STATE_UINT_M(struct lapic, icr_hi, 4, 0xff000000),                                         \
        STATE_UINT_M(struct lapic, cmci, 4, 0x000107ff), STATE_U32(struct lapic, timer_init),      \
        STATE_UINT_M(struct lapic, timer_div, 4, 0xb),                                             \
        STATE_ROWS("irr/isr/tmr", 8, sizeof(uint32_t), &lapic_row_desc),                           \
        {.name = "lvt",                                                                            \
         .kind = STATE_UINT,                                                                       \
         .wsize = 4,                                                                               \
         .csize = 4,                                                                               \
         .count = LVT_COUNT,                                                                       \
         .offset = offsetof(struct lapic, lvt),                                                    \
         .mask = UINT64_MAX,                                                                       \
         .max = UINT64_MAX,                                                                        \
         .commit = lapic_commit_lvt},                                                              \
        STATE_CUSTOM("timer", lapic_put_timer, lapic_get_timer, NULL),                             \
        STATE_U64(struct lapic, tsc_deadline)
static const struct state_field lapic_fields[] = {LAPIC_FIELDS_V1};
static const struct state_desc lapic_desc_v1 = STATE_DESC(struct lapic, lapic_fields, NULL);
/* Version 2 appends the start-up state: u8 waiting for SIPI, u8 pending start-up event (enum
 * lapic_startup), u64 its vector or entry, u8 NMI pending. */
static const struct state_field lapic_fields_v2[] = {
    LAPIC_FIELDS_V1,
    STATE_BOOL(struct lapic, wait_sipi),
    STATE_UINT_X(struct lapic, su_kind, 1, UINT64_MAX, 0, 0, LAPIC_SU_WAKE64),
    STATE_U64(struct lapic, su_vector),
    STATE_BOOL(struct lapic, nmi_pending),
};
static const struct state_desc lapic_desc = STATE_DESC(struct lapic, lapic_fields_v2, NULL);

void lapic_save(struct lapic *l, struct state_writer *w)
{
    pthread_mutex_lock(&l->lock);
    struct lapic_state_ctx c = {.now = now_ns(l)};
    state_save_section(w, "lapic", STATE_VERSION, &lapic_desc, l, &c);
    pthread_mutex_unlock(&l->lock);
}

int lapic_load(struct lapic *l, struct state_reader *r)
{
    pthread_mutex_lock(&l->lock);
    struct lapic_state_ctx c = {.now = now_ns(l)};
    uint32_t version = STATE_VERSION;
    struct state_reader probe = *r;
    if (!state_section_find(&probe, "lapic", &version)) version = STATE_VERSION;
    /* a version 1 state (one CPU) keeps this LAPIC's start-up state as it is */
    int rc = version == 1 ? state_load_section(r, "lapic", 1, &lapic_desc_v1, l, &c)
                          : state_load_section(r, "lapic", STATE_VERSION, &lapic_desc, l, &c);
    if (rc == 0 && state_committing(r)) {
        if (timer_mode(l) == TIMER_TSC_DL) {
            timer_arm_tsc(l);
        } else if (c.running && l->timer_init) {
            l->timer_start = c.now - (c.elapsed < c.now ? c.elapsed : c.now);
            l->timer_deadline = l->timer_start + timer_period(l);
        } else {
            l->timer_deadline = UINT64_MAX;
        }
        refresh(l);
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}
