/* test_kvmclock.c — the pvclock structures as a Linux guest reads them: contents and version
 * protocol after the MSR writes, guest time computed from the structure with Linux's formula at
 * many TSC values (several TSC frequencies, from microseconds to a day later) against the
 * board's clock, the wall clock of boot, addresses outside RAM, and a save/load round trip that
 * republishes for a new host clock. */
#include "check.h"
#include "hw/kvmclock.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static uint64_t fake_now = 7000000000ull;
static uint64_t fake_wall = 1700000000ull * 1000000000ull + 123456789ull;
static uint64_t tsc_hz;
static uint64_t tsc_base; /* host ns at which the guest TSC was 0 */
static uint64_t mono_clock(void)
{
    return fake_now;
}
static uint64_t wall_clock(void)
{
    return fake_wall;
}
/* The guest TSC as a CPU engine derives it from the host clock. */
static uint64_t tsc_at(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)(ns - tsc_base) * tsc_hz / 1000000000u);
}
static uint64_t read_tsc(void *opaque)
{
    return tsc_at(fake_now);
}

/* Linux's pvclock_scale_delta and __pvclock_read_cycles. */
static uint64_t guest_ns(const struct pvclock_vcpu_time_info *ti, uint64_t tsc)
{
    uint64_t delta = tsc - ti->tsc_timestamp;
    if (ti->tsc_shift < 0)
        delta >>= -ti->tsc_shift;
    else
        delta <<= ti->tsc_shift;
    return ti->system_time + (uint64_t)(((unsigned __int128)delta * ti->tsc_to_system_mul) >> 32);
}

static struct bus bus;
static struct kvmclock *mk(uint64_t hz)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    tsc_hz = hz;
    struct kvmclock_config cfg = {read_tsc, NULL, hz, mono_clock, wall_clock};
    struct kvmclock *k = kvmclock_create(&bus, &cfg);
    CHECK(k != NULL);
    return k;
}
static void done(struct kvmclock *k)
{
    kvmclock_destroy(k);
    bus_destroy(&bus);
}
static uint64_t absdiff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

static void test_tracking(void)
{
    static const uint64_t freqs[] = {1000000000ull, 2500000000ull, 3123456789ull,
                                     1800000000ull, 100000000ull,  5000000000ull};
    for (unsigned f = 0; f < sizeof(freqs) / sizeof(freqs[0]); f++) {
        tsc_base = fake_now - 12345678;
        uint64_t boot = fake_now;
        struct kvmclock *k = mk(freqs[f]);
        fake_now += 5000000; /* the guest enables kvmclock 5 ms after boot */
        CHECK(kvmclock_msr_write(k, MSR_KVM_SYSTEM_TIME_NEW, 0x2000 | 1));
        uint64_t v;
        CHECK(kvmclock_msr_read(k, MSR_KVM_SYSTEM_TIME_NEW, &v));
        CHECK_EQ(v, 0x2001);
        struct pvclock_vcpu_time_info ti;
        CHECK(bus_dma_read(&bus, 0x2000, &ti, sizeof(ti)));
        CHECK_EQ(ti.version, 2);
        CHECK_EQ(ti.flags, PVCLOCK_TSC_STABLE_BIT);
        CHECK_EQ(ti.system_time, 5000000);
        CHECK_EQ(ti.tsc_timestamp, tsc_at(fake_now));
        /* compare at offsets from 1 us to a day */
        static const uint64_t later[] = {1000, 1000000, 1000000000, 3600000000000ull,
                                         86400000000000ull};
        for (unsigned j = 0; j < sizeof(later) / sizeof(later[0]); j++) {
            uint64_t t = fake_now + later[j];
            uint64_t want = t - boot, got = guest_ns(&ti, tsc_at(t));
            /* one TSC tick of quantisation plus 32.32 rounding (< 2e-9 relative) */
            uint64_t tol = 1000000000ull / freqs[f] + 2 + later[j] / 500000000ull;
            if (absdiff(got, want) > tol)
                fprintf(stderr, "# hz %llu +%llu ns: guest %llu want %llu\n",
                        (unsigned long long)freqs[f], (unsigned long long)later[j],
                        (unsigned long long)got, (unsigned long long)want);
            CHECK(absdiff(got, want) <= tol);
        }
        /* a second write bumps the version by two and stays even */
        CHECK(kvmclock_msr_write(k, MSR_KVM_SYSTEM_TIME_NEW, 0x2001));
        CHECK(bus_dma_read(&bus, 0x2000, &ti, sizeof(ti)));
        CHECK_EQ(ti.version, 4);
        /* after a pause: the same clock, now flagged as stopped by the host */
        fake_now += 30000000000ull;
        kvmclock_guest_stopped(k);
        struct pvclock_vcpu_time_info st;
        CHECK(bus_dma_read(&bus, 0x2000, &st, sizeof(st)));
        CHECK_EQ(st.version, 6);
        CHECK_EQ(st.flags, PVCLOCK_TSC_STABLE_BIT | PVCLOCK_GUEST_STOPPED);
        CHECK(absdiff(guest_ns(&st, tsc_at(fake_now)), fake_now - boot) <=
              1000000000ull / freqs[f] + 2 + 30000000000ull / 500000000ull);
        done(k);
    }
}

static void test_scale(void)
{
    uint32_t mul;
    int8_t shift;
    kvmclock_scale(1000000000ull, &mul, &shift);
    /* 1 GHz: 1 ns per tick, i.e. mul/2^32 * 2^shift == 1 */
    CHECK_EQ((uint64_t)mul << (shift + 1), 1ull << 33);
    kvmclock_scale(2000000000ull, &mul, &shift);
    CHECK_EQ(shift, 0);
    CHECK_EQ(mul, 0x80000000u);
}

static void test_wall_and_bounds(void)
{
    tsc_base = 0;
    uint64_t boot_wall = fake_wall;
    struct kvmclock *k = mk(2000000000ull);
    fake_now += 3000000000ull;
    fake_wall += 3000000000ull;
    CHECK(kvmclock_msr_write(k, MSR_KVM_WALL_CLOCK_NEW, 0x3000));
    struct pvclock_wall_clock wc;
    CHECK(bus_dma_read(&bus, 0x3000, &wc, sizeof(wc)));
    CHECK_EQ(wc.version, 2);
    CHECK_EQ(wc.sec, boot_wall / 1000000000ull);
    CHECK_EQ(wc.nsec, boot_wall % 1000000000ull);
    /* legacy MSR numbers work too */
    CHECK(kvmclock_msr_write(k, MSR_KVM_SYSTEM_TIME, 0x4001));
    CHECK(bus_dma_read(&bus, 0x4000, &wc, 4));
    CHECK_EQ(wc.version, 2);
    /* outside RAM, straddling its end, or disabled: accepted, nothing written, no crash */
    CHECK(kvmclock_msr_write(k, MSR_KVM_SYSTEM_TIME_NEW, 0xfee00001ull));
    CHECK(kvmclock_msr_write(k, MSR_KVM_SYSTEM_TIME_NEW, ((1 << 20) - 8) | 1));
    CHECK(kvmclock_msr_write(k, MSR_KVM_WALL_CLOCK_NEW, ~0ull));
    CHECK(kvmclock_msr_write(k, MSR_KVM_SYSTEM_TIME_NEW, 0x5000));
    uint8_t zero[32] = {0}, got[32];
    CHECK(bus_dma_read(&bus, 0x5000, got, 32));
    CHECK(memcmp(got, zero, 32) == 0);
    uint64_t v;
    CHECK(!kvmclock_msr_read(k, 0x10, &v));
    CHECK(!kvmclock_msr_write(k, 0x10, 0));
    done(k);
}

static void test_save_load(void)
{
    tsc_base = 0;
    uint64_t boot = fake_now;
    struct kvmclock *k = mk(3000000000ull);
    fake_now += 2000000000ull;
    CHECK(kvmclock_msr_write(k, MSR_KVM_SYSTEM_TIME_NEW, 0x6001));
    fake_now += 1000000000ull;
    uint64_t since_boot = fake_now - boot;
    struct state_writer w;
    state_writer_init(&w);
    kvmclock_save(k, &w);
    CHECK(!w.error);
    done(k);
    /* restore on a host whose clock reads differently; the TSC continues from where it was */
    uint64_t tsc_then = tsc_at(fake_now);
    fake_now = 900000000000ull;
    tsc_base = fake_now - (uint64_t)((unsigned __int128)tsc_then * 1000000000u / 3000000000u);
    k = mk(3000000000ull);
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(kvmclock_load(k, &r), 0);
    struct pvclock_vcpu_time_info ti;
    CHECK(bus_dma_read(&bus, 0x6000, &ti, sizeof(ti)));
    CHECK_EQ(ti.version, 4);
    CHECK_EQ(ti.system_time, since_boot);
    uint64_t later = guest_ns(&ti, tsc_at(fake_now + 1000000000ull));
    CHECK(absdiff(later, since_boot + 1000000000ull) <= 4);
    state_writer_free(&w);
    done(k);
}

int main(void)
{
    RUN(test_tracking);
    RUN(test_scale);
    RUN(test_wall_and_bounds);
    RUN(test_save_load);
    return check_done();
}
