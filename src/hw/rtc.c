/* rtc.c — the MC146818 RTC. Guest time is the host wall clock plus an offset the guest changes
 * by setting the clock (SET bit in register B), so time registers are computed on each read
 * rather than ticked; only the interrupt sources (periodic, update-ended, alarm) have host
 * deadlines, and only while the guest enables them. */
#include "hw/rtc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define STATE_VERSION 1

enum {
    R_SEC = 0x00,
    R_SEC_ALARM = 0x01,
    R_MIN = 0x02,
    R_MIN_ALARM = 0x03,
    R_HOUR = 0x04,
    R_HOUR_ALARM = 0x05,
    R_WDAY = 0x06,
    R_MDAY = 0x07,
    R_MONTH = 0x08,
    R_YEAR = 0x09,
    R_A = 0x0a,
    R_B = 0x0b,
    R_C = 0x0c,
    R_D = 0x0d,
};

#define A_UIP  0x80
#define B_SET  0x80
#define B_PIE  0x40
#define B_AIE  0x20
#define B_UIE  0x10
#define B_DM   0x04 /* binary */
#define B_24H  0x02
#define C_IRQF 0x80
#define C_PF   0x40
#define C_AF   0x20
#define C_UF   0x10
#define UIP_NS 244000ull /* UIP is set this long before each update */
#define NS     1000000000ull

struct rtc {
    pthread_mutex_t lock;
    struct bus *bus;
    struct irq_line irq;
    uint64_t (*now)(void);
    uint64_t (*wall)(void);
    uint8_t cmos[RTC_CMOS_SIZE]; /* RAM, alarm, and the time registers while SET */
    uint8_t index;
    int64_t offset_ns; /* guest time minus host wall time */
    int irq_level;
    uint64_t next_periodic; /* host monotonic ns, UINT64_MAX if off */
    uint64_t next_second;   /* host monotonic ns of the next update cycle, UINT64_MAX if off */
};

static uint64_t mono(const struct rtc *r)
{
    return r->now ? r->now() : clock_ns();
}

static uint64_t guest_ns(const struct rtc *r)
{
    uint64_t w = r->wall ? r->wall() : clock_wall_ns();
    return w + (uint64_t)r->offset_ns;
}

static uint8_t to_bcd(unsigned v)
{
    return (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned from_bcd(uint8_t v)
{
    return (v >> 4) * 10u + (v & 15);
}

static uint8_t enc(const struct rtc *r, unsigned v)
{
    return (r->cmos[R_B] & B_DM) ? (uint8_t)v : to_bcd(v);
}

static unsigned dec(const struct rtc *r, uint8_t v)
{
    return (r->cmos[R_B] & B_DM) ? v : from_bcd(v);
}

static uint8_t enc_hour(const struct rtc *r, unsigned h)
{
    if (r->cmos[R_B] & B_24H) return enc(r, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(enc(r, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hour(const struct rtc *r, uint8_t v)
{
    if (r->cmos[R_B] & B_24H) return dec(r, v);
    unsigned h = dec(r, v & 0x7f) % 12;
    return (v & 0x80) ? h + 12 : h;
}

/* Encode guest time `secs` into the time registers of cmos[] (current format). */
static void time_to_regs(struct rtc *r, uint64_t secs, uint8_t *regs)
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    regs[R_SEC] = enc(r, (unsigned)tm.tm_sec);
    regs[R_MIN] = enc(r, (unsigned)tm.tm_min);
    regs[R_HOUR] = enc_hour(r, (unsigned)tm.tm_hour);
    regs[R_WDAY] = enc(r, (unsigned)tm.tm_wday + 1);
    regs[R_MDAY] = enc(r, (unsigned)tm.tm_mday);
    regs[R_MONTH] = enc(r, (unsigned)tm.tm_mon + 1);
    regs[R_YEAR] = enc(r, (unsigned)tm.tm_year % 100);
    regs[RTC_REG_CENTURY] = enc(r, (unsigned)(tm.tm_year + 1900) / 100);
}

/* Guest time (seconds since the epoch) the time registers in cmos[] describe. */
static int64_t regs_to_time(const struct rtc *r)
{
    struct tm tm = {0};
    tm.tm_sec = (int)dec(r, r->cmos[R_SEC]) % 60;
    tm.tm_min = (int)dec(r, r->cmos[R_MIN]) % 60;
    tm.tm_hour = (int)dec_hour(r, r->cmos[R_HOUR]) % 24;
    tm.tm_mday = (int)dec(r, r->cmos[R_MDAY]);
    tm.tm_mon = (int)dec(r, r->cmos[R_MONTH]) - 1;
    unsigned century = dec(r, r->cmos[RTC_REG_CENTURY]);
    if (century < 19 || century > 99) century = 20;
    tm.tm_year = (int)(century * 100 + dec(r, r->cmos[R_YEAR]) % 100) - 1900;
    if (tm.tm_mday < 1 || tm.tm_mday > 31) tm.tm_mday = 1;
    if (tm.tm_mon < 0 || tm.tm_mon > 11) tm.tm_mon = 0;
    return (int64_t)timegm(&tm);
}

static uint64_t periodic_ns(const struct rtc *r)
{
    unsigned rate = r->cmos[R_A] & 15;
    if (rate == 0) return 0;
    if (rate < 3) rate += 7; /* rates 1 and 2 alias 8 and 9 with the 32.768 kHz time base */
    return (NS << (rate - 1)) / 32768;
}

static void update_irq(struct rtc *r)
{
    uint8_t c = r->cmos[R_C] & (C_PF | C_AF | C_UF), b = r->cmos[R_B];
    bool on =
        ((c & C_PF) && (b & B_PIE)) || ((c & C_AF) && (b & B_AIE)) || ((c & C_UF) && (b & B_UIE));
    if (on)
        r->cmos[R_C] |= C_IRQF;
    else
        r->cmos[R_C] &= (uint8_t)~C_IRQF;
    if (on != r->irq_level) {
        r->irq_level = on;
        irq_set(&r->irq, on);
    }
}

/* Re-plan deadlines after the interrupt enables, rate or time changed. */
static void plan(struct rtc *r, uint64_t now)
{
    uint64_t p = periodic_ns(r);
    if ((r->cmos[R_B] & B_PIE) && p) {
        if (r->next_periodic == UINT64_MAX) r->next_periodic = now + p;
    } else {
        r->next_periodic = UINT64_MAX;
    }
    if ((r->cmos[R_B] & (B_UIE | B_AIE)) && !(r->cmos[R_B] & B_SET))
        r->next_second = now + (NS - guest_ns(r) % NS);
    else
        r->next_second = UINT64_MAX;
}

static bool alarm_field_matches(uint8_t alarm, uint8_t cur)
{
    return (alarm & 0xc0) == 0xc0 || alarm == cur; /* 11xxxxxx: don't care */
}

static void update_cycle(struct rtc *r)
{
    uint8_t regs[RTC_CMOS_SIZE];
    time_to_regs(r, guest_ns(r) / NS, regs);
    r->cmos[R_C] |= C_UF;
    if (alarm_field_matches(r->cmos[R_SEC_ALARM], regs[R_SEC]) &&
        alarm_field_matches(r->cmos[R_MIN_ALARM], regs[R_MIN]) &&
        alarm_field_matches(r->cmos[R_HOUR_ALARM], regs[R_HOUR]))
        r->cmos[R_C] |= C_AF;
}

static uint8_t read_reg(struct rtc *r, unsigned idx)
{
    switch (idx) {
    case R_SEC:
    case R_MIN:
    case R_HOUR:
    case R_WDAY:
    case R_MDAY:
    case R_MONTH:
    case R_YEAR:
    case RTC_REG_CENTURY: {
        if (r->cmos[R_B] & B_SET) return r->cmos[idx];
        uint8_t regs[RTC_CMOS_SIZE];
        time_to_regs(r, guest_ns(r) / NS, regs);
        return regs[idx];
    }
    case R_A: {
        bool uip = !(r->cmos[R_B] & B_SET) && guest_ns(r) % NS >= NS - UIP_NS;
        return (uint8_t)((r->cmos[R_A] & 0x7f) | (uip ? A_UIP : 0));
    }
    case R_C: {
        uint8_t v = r->cmos[R_C];
        r->cmos[R_C] = 0; /* reading acknowledges every flag */
        update_irq(r);
        return v;
    }
    case R_D: return 0x80; /* valid RAM and time */
    default: return r->cmos[idx];
    }
}

static void write_reg(struct rtc *r, unsigned idx, uint8_t v)
{
    uint64_t now = mono(r);
    switch (idx) {
    case R_A:
        r->cmos[R_A] = v & 0x7f;
        r->next_periodic = UINT64_MAX;
        plan(r, now);
        break;
    case R_B: {
        uint8_t old = r->cmos[R_B];
        if ((v & B_SET) && !(old & B_SET)) {
            /* Freeze: the registers hold the time the guest will now overwrite. */
            time_to_regs(r, guest_ns(r) / NS, r->cmos);
            v &= (uint8_t)~B_UIE;
        }
        if (!(v & B_SET) && (old & B_SET)) {
            /* The registers were written in the format in force while SET was on. */
            uint64_t w = r->wall ? r->wall() : clock_wall_ns();
            r->offset_ns = regs_to_time(r) * (int64_t)NS - (int64_t)w;
        }
        r->cmos[R_B] = v;
        if (!(v & B_PIE)) r->next_periodic = UINT64_MAX;
        plan(r, now);
        update_irq(r);
        break;
    }
    case R_C:
    case R_D: break; /* read-only */
    case R_SEC:
    case R_MIN:
    case R_HOUR:
    case R_WDAY:
    case R_MDAY:
    case R_MONTH:
    case R_YEAR:
    case RTC_REG_CENTURY:
        if (r->cmos[R_B] & B_SET) {
            r->cmos[idx] = v;
        } else if (idx == RTC_REG_CENTURY) {
            r->cmos[idx] = v;
        } else {
            /* Setting one field without SET: shift the offset by the difference. */
            uint8_t regs[RTC_CMOS_SIZE];
            uint64_t g = guest_ns(r);
            time_to_regs(r, g / NS, regs);
            memcpy(r->cmos, regs, R_YEAR + 1);
            r->cmos[RTC_REG_CENTURY] = regs[RTC_REG_CENTURY];
            r->cmos[idx] = v;
            int64_t t = regs_to_time(r);
            r->offset_ns += (t - (int64_t)(g / NS)) * (int64_t)NS;
        }
        break;
    default: r->cmos[idx] = v; break;
    }
}

static uint64_t rtc_io_read(void *opaque, uint64_t off, unsigned size)
{
    struct rtc *r = opaque;
    pthread_mutex_lock(&r->lock);
    uint8_t v = off == 0 ? 0xff : read_reg(r, r->index);
    pthread_mutex_unlock(&r->lock);
    return v;
}

static void rtc_io_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct rtc *r = opaque;
    pthread_mutex_lock(&r->lock);
    if (off == 0)
        r->index = (uint8_t)value & 0x7f; /* bit 7: NMI mask, ignored */
    else
        write_reg(r, r->index, (uint8_t)value);
    pthread_mutex_unlock(&r->lock);
}

static const struct io_ops rtc_ops = {rtc_io_read, rtc_io_write};

static void reset_locked(struct rtc *r)
{
    r->cmos[R_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate */
    r->cmos[R_B] = B_24H;
    r->cmos[R_C] = 0;
    r->next_periodic = r->next_second = UINT64_MAX;
    update_irq(r);
}

struct rtc *rtc_create(struct bus *bus, struct irq_line irq, uint64_t (*now)(void),
                       uint64_t (*wall)(void))
{
    struct rtc *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->bus = bus;
    r->irq = irq;
    r->now = now;
    r->wall = wall;
    reset_locked(r);
    r->cmos[RTC_REG_CENTURY] = to_bcd((unsigned)(guest_ns(r) / NS / 31556952 + 1970) / 100);
    if (bus && bus_add_pio(bus, RTC_BASE, 2, &rtc_ops, r, "rtc") != 0) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

void rtc_destroy(struct rtc *r)
{
    if (!r) return;
    if (r->bus) bus_move_pio(r->bus, &rtc_ops, r, 0, 0);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void rtc_cmos_set(struct rtc *r, unsigned index, uint8_t value)
{
    if (index < R_D + 1 || index >= RTC_CMOS_SIZE)
        return; /* clock and control registers are not RAM */
    pthread_mutex_lock(&r->lock);
    r->cmos[index] = value;
    pthread_mutex_unlock(&r->lock);
}

uint8_t rtc_cmos_get(struct rtc *r, unsigned index)
{
    if (index >= RTC_CMOS_SIZE) return 0xff;
    pthread_mutex_lock(&r->lock);
    uint8_t v = r->cmos[index];
    pthread_mutex_unlock(&r->lock);
    return v;
}

uint64_t rtc_next_deadline(struct rtc *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t d = r->next_periodic < r->next_second ? r->next_periodic : r->next_second;
    pthread_mutex_unlock(&r->lock);
    return d;
}

void rtc_update(struct rtc *r, uint64_t now)
{
    pthread_mutex_lock(&r->lock);
    if (r->next_periodic != UINT64_MAX && now >= r->next_periodic) {
        uint64_t p = periodic_ns(r);
        r->cmos[R_C] |= C_PF;
        /* Missed periods collapse into one flag. */
        r->next_periodic = p ? now + (p - (now - r->next_periodic) % p) : UINT64_MAX;
    }
    if (r->next_second != UINT64_MAX && now >= r->next_second) {
        update_cycle(r);
        plan(r, now);
        /* The guest clock may sit just short of the boundary we computed; never re-fire now. */
        if (r->next_second != UINT64_MAX && r->next_second <= now) r->next_second = now + NS;
    }
    update_irq(r);
    pthread_mutex_unlock(&r->lock);
}

/* Section "rtc": the CMOS bytes, u8 index, u64 guest-minus-host offset in ns (two's
 * complement). Register A's update-in-progress bit is the clock's, not the snapshot's. */
static void rtc_commit_cmos(void *live, const void *tmp, void *ctx)
{
    (void)ctx;
    struct rtc *r = live;
    memcpy(r->cmos, ((const struct rtc *)tmp)->cmos, RTC_CMOS_SIZE);
    r->cmos[R_A] &= 0x7f;
}
static const struct state_field rtc_fields[] = {
    {.name = "cmos",
     .kind = STATE_BYTES,
     .wsize = RTC_CMOS_SIZE,
     .csize = RTC_CMOS_SIZE,
     .count = 1,
     .offset = offsetof(struct rtc, cmos),
     .commit = rtc_commit_cmos},
    STATE_UINT_M(struct rtc, index, 1, 0x7f),
    STATE_U64(struct rtc, offset_ns),
};
static const struct state_desc rtc_desc = STATE_DESC(struct rtc, rtc_fields, NULL);

void rtc_save(struct rtc *r, struct state_writer *w)
{
    pthread_mutex_lock(&r->lock);
    state_save_section(w, "rtc", STATE_VERSION, &rtc_desc, r, NULL);
    pthread_mutex_unlock(&r->lock);
}

int rtc_load(struct rtc *r, struct state_reader *rd)
{
    pthread_mutex_lock(&r->lock);
    int rc = state_load_section(rd, "rtc", STATE_VERSION, &rtc_desc, r, NULL);
    if (rc == 0 && state_committing(rd)) {
        r->next_periodic = UINT64_MAX;
        plan(r, mono(r));
        r->irq_level = -1;
        update_irq(r);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}
