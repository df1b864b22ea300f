/* kvmclock.c — publishes pvclock structures into guest RAM. The scale computation follows
 * KVM's kvm_get_time_scale: find a shift that brings the TSC frequency within a factor of two
 * of 1 GHz in 32 bits, then a 32.32 fixed-point multiplier. Writes go through bus_dma_write,
 * so an address outside RAM is simply not written. */
#include "hw/kvmclock.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define STATE_VERSION 1
#define NS            1000000000ull

struct kvmclock {
    pthread_mutex_t lock;
    struct bus *bus;
    struct kvmclock_config cfg;
    uint64_t boot_ns;         /* host monotonic ns at guest boot */
    uint64_t system_time_msr; /* last value written (gpa | enable) */
    uint64_t wall_clock_msr;  /* last gpa written */
    uint32_t time_version, wall_version;
};

static uint64_t mono(const struct kvmclock *k)
{
    return k->cfg.now ? k->cfg.now() : clock_ns();
}

static uint64_t wall(const struct kvmclock *k)
{
    return k->cfg.wall ? k->cfg.wall() : clock_wall_ns();
}

void kvmclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift)
{
    uint64_t scaled = NS, tps64 = tsc_hz ? tsc_hz : NS;
    int s = 0;
    while (tps64 > scaled * 2 || (tps64 & 0xffffffff00000000ull)) {
        tps64 >>= 1;
        s--;
    }
    uint32_t tps32 = (uint32_t)tps64;
    while (tps32 <= scaled || (scaled & 0xffffffff00000000ull)) {
        if ((scaled & 0xffffffff00000000ull) || (tps32 & 0x80000000u))
            scaled >>= 1;
        else
            tps32 <<= 1;
        s++;
    }
    *shift = (int8_t)s;
    *mul = (uint32_t)((scaled << 32) / tps32);
}

/* Write one field of the structure at gpa+off; false if outside RAM. */
static bool put(struct kvmclock *k, uint64_t gpa, size_t off, const void *p, size_t n)
{
    return bus_dma_write(k->bus, gpa + off, p, n);
}

static void publish_time(struct kvmclock *k, uint8_t flags)
{
    if (!(k->system_time_msr & 1) || !k->bus) return;
    uint64_t gpa = k->system_time_msr & ~1ull;
    if (!bus_ram_ptr(k->bus, gpa, sizeof(struct pvclock_vcpu_time_info)))
        return; /* not RAM: ignore, as the guest gets what it asked for */
    struct pvclock_vcpu_time_info ti = {0};
    kvmclock_scale(k->cfg.tsc_hz, &ti.tsc_to_system_mul, &ti.tsc_shift);
    ti.flags = PVCLOCK_TSC_STABLE_BIT | flags;
    /* Sample the TSC and the clock as close together as we can. */
    uint64_t now = mono(k);
    ti.tsc_timestamp = k->cfg.read_tsc ? k->cfg.read_tsc(k->cfg.tsc_opaque) : 0;
    ti.system_time = now > k->boot_ns ? now - k->boot_ns : 0;
    /* Odd version while the fields change, even when they are consistent. */
    uint32_t v = (k->time_version & ~1u) + 1;
    put(k, gpa, offsetof(struct pvclock_vcpu_time_info, version), &v, 4);
    ti.version = v;
    put(k, gpa, 4, (const uint8_t *)&ti + 4, sizeof(ti) - 4);
    v++;
    k->time_version = v;
    put(k, gpa, 0, &v, 4);
}

static void publish_wall(struct kvmclock *k, uint64_t gpa)
{
    if (!k->bus || !bus_ram_ptr(k->bus, gpa, sizeof(struct pvclock_wall_clock))) return;
    /* Wall time at system_time 0: now minus the time since boot. */
    uint64_t since_boot = mono(k) - k->boot_ns, w = wall(k);
    uint64_t boot_wall = w > since_boot ? w - since_boot : 0;
    struct pvclock_wall_clock wc;
    wc.version = (k->wall_version & ~1u) + 1;
    put(k, gpa, 0, &wc.version, 4);
    wc.sec = (uint32_t)(boot_wall / NS);
    wc.nsec = (uint32_t)(boot_wall % NS);
    put(k, gpa, 4, &wc.sec, 8);
    k->wall_version = wc.version + 1;
    put(k, gpa, 0, &k->wall_version, 4);
}

struct kvmclock *kvmclock_create(struct bus *bus, const struct kvmclock_config *cfg)
{
    struct kvmclock *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    pthread_mutex_init(&k->lock, NULL);
    k->bus = bus;
    k->cfg = *cfg;
    k->boot_ns = mono(k);
    return k;
}

void kvmclock_destroy(struct kvmclock *k)
{
    if (!k) return;
    pthread_mutex_destroy(&k->lock);
    free(k);
}

void kvmclock_sync_boot(struct kvmclock *k, struct kvmclock *from)
{
    pthread_mutex_lock(&from->lock);
    uint64_t boot = from->boot_ns;
    pthread_mutex_unlock(&from->lock);
    pthread_mutex_lock(&k->lock);
    k->boot_ns = boot;
    publish_time(k, 0);
    pthread_mutex_unlock(&k->lock);
}

void kvmclock_guest_stopped(struct kvmclock *k)
{
    pthread_mutex_lock(&k->lock);
    publish_time(k, PVCLOCK_GUEST_STOPPED);
    pthread_mutex_unlock(&k->lock);
}

bool kvmclock_msr_read(struct kvmclock *k, uint32_t msr, uint64_t *value)
{
    bool ok = true;
    pthread_mutex_lock(&k->lock);
    switch (msr) {
    case MSR_KVM_SYSTEM_TIME:
    case MSR_KVM_SYSTEM_TIME_NEW: *value = k->system_time_msr; break;
    case MSR_KVM_WALL_CLOCK:
    case MSR_KVM_WALL_CLOCK_NEW: *value = k->wall_clock_msr; break;
    default: ok = false; break;
    }
    pthread_mutex_unlock(&k->lock);
    return ok;
}

bool kvmclock_msr_write(struct kvmclock *k, uint32_t msr, uint64_t value)
{
    bool ok = true;
    pthread_mutex_lock(&k->lock);
    switch (msr) {
    case MSR_KVM_SYSTEM_TIME:
    case MSR_KVM_SYSTEM_TIME_NEW:
        k->system_time_msr = value;
        publish_time(k, 0);
        break;
    case MSR_KVM_WALL_CLOCK:
    case MSR_KVM_WALL_CLOCK_NEW:
        k->wall_clock_msr = value;
        publish_wall(k, value);
        break;
    default: ok = false; break;
    }
    pthread_mutex_unlock(&k->lock);
    return ok;
}

/* Section "kvmclock": u64 guest ns since boot (host clocks differ between runs, so the boot
 * time is saved relative to now), u64 system-time MSR, u64 wall-clock MSR, u32 time version,
 * u32 wall version. */
static void kvmclock_put_since_boot(struct state_writer *w, const void *obj, void *ctx)
{
    const struct kvmclock *k = obj;
    state_put_u64(w, *(const uint64_t *)ctx - k->boot_ns);
}
static const char *kvmclock_get_since_boot(struct state_reader *r, void *tmp, const void *live,
                                           void *ctx)
{
    (void)live;
    uint64_t now = *(const uint64_t *)ctx, since_boot = state_get_u64(r);
    ((struct kvmclock *)tmp)->boot_ns = now - (since_boot < now ? since_boot : now);
    return NULL;
}
static const struct state_field kvmclock_fields[] = {
    STATE_CUSTOM("since_boot", kvmclock_put_since_boot, kvmclock_get_since_boot, NULL),
    STATE_SHADOW(struct kvmclock, boot_ns),
    STATE_U64(struct kvmclock, system_time_msr),
    STATE_U64(struct kvmclock, wall_clock_msr),
    STATE_U32(struct kvmclock, time_version),
    STATE_U32(struct kvmclock, wall_version),
};
static const struct state_desc kvmclock_desc = STATE_DESC(struct kvmclock, kvmclock_fields, NULL);

void kvmclock_save(struct kvmclock *k, struct state_writer *w)
{
    pthread_mutex_lock(&k->lock);
    uint64_t now = mono(k);
    state_save_section(w, "kvmclock", STATE_VERSION, &kvmclock_desc, k, &now);
    pthread_mutex_unlock(&k->lock);
}

int kvmclock_load(struct kvmclock *k, struct state_reader *r)
{
    pthread_mutex_lock(&k->lock);
    uint64_t now = mono(k);
    int rc = state_load_section(r, "kvmclock", STATE_VERSION, &kvmclock_desc, k, &now);
    if (rc == 0 && state_committing(r))
        publish_time(k, 0); /* the host TSC/clock relation is new after a restore */
    pthread_mutex_unlock(&k->lock);
    return rc;
}
