/* pit.c — the 8254 PIT. A channel's count is not stored but computed from the time its count
 * was loaded (in PIT ticks since this device's epoch), so reads are exact and nothing needs to
 * run per tick; only channel 0's interrupt has a deadline. Gate handling covers what PCs use:
 * channels 0 and 1 are always gated on, channel 2's gate is port 0x61 bit 0 (Linux calibrates
 * the TSC with channel 2 in mode 0, polling the output in port 0x61 bit 5). BCD counting is
 * accepted and reported in status but counts in binary. */
#include "hw/pit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define STATE_VERSION 1
#define NCHAN         3

enum { RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD = 3 };

struct pit_channel {
    uint8_t mode, rw, bcd;
    uint32_t reload; /* 1..65536 once written */
    bool counting;   /* a count is loaded and (for modes 1/5) triggered */
    bool null_count; /* count written but not yet loaded into the counter */
    uint64_t load;   /* tick at which counting (re)started */
    uint64_t frozen; /* elapsed ticks when the gate went low (modes 0/4) */
    bool gate;
    uint16_t latch;      /* latched count */
    uint8_t latch_bytes; /* bytes of latched count still to read (0 = none) */
    bool status_latched;
    uint8_t status;
    bool read_msb, write_msb; /* word access toggles */
    uint8_t write_lsb;
    /* channel 0: the interrupt */
    uint64_t next_fire; /* tick of the next output rising edge, UINT64_MAX if none */
};

struct pit {
    pthread_mutex_t lock;
    struct bus *bus;
    struct irq_line irq0;
    uint64_t (*now)(void);
    uint64_t epoch; /* host ns of tick 0 (the clock's origin) */
    uint8_t port_b; /* bits 0-3 as written */
    struct pit_channel ch[NCHAN];
};

static uint64_t host_now(const struct pit *p)
{
    return p->now ? p->now() : clock_ns();
}

static uint64_t ns_to_ticks(const struct pit *p, uint64_t ns)
{
    if (ns <= p->epoch) return 0;
    return (uint64_t)((unsigned __int128)(ns - p->epoch) * PIT_HZ / 1000000000u);
}

/* First host ns at which the tick count reaches `ticks`. */
static uint64_t ticks_to_ns(const struct pit *p, uint64_t ticks)
{
    unsigned __int128 ns = ((unsigned __int128)ticks * 1000000000u + PIT_HZ - 1) / PIT_HZ;
    return p->epoch + (uint64_t)ns;
}

/* Ticks counted since the count was loaded, honouring a low gate. */
static uint64_t elapsed(const struct pit_channel *c, uint64_t t)
{
    if (!c->counting) return 0;
    if (!c->gate && c->mode != 1 && c->mode != 5) return c->frozen;
    return t > c->load ? t - c->load : 0;
}

static uint16_t count_at(const struct pit_channel *c, uint64_t t)
{
    if (!c->counting) return (uint16_t)c->reload;
    uint64_t d = elapsed(c, t), n = c->reload;
    switch (c->mode) {
    case 2: return (uint16_t)(n - d % n);
    case 3: return (uint16_t)(n - (2 * d) % n); /* counts down by two each tick */
    case 0:
    case 1:
    case 4:
    case 5:
    default: return (uint16_t)((n - d) & 0xffff); /* wraps after terminal count */
    }
}

static bool out_at(const struct pit_channel *c, uint64_t t)
{
    if (!c->counting)
        return c->mode != 0; /* mode 0 output is low from programming until terminal count */
    uint64_t d = elapsed(c, t), n = c->reload;
    switch (c->mode) {
    case 0: return d >= n;
    case 1: return d >= n;
    case 2: return d % n != n - 1; /* low for the last tick of each period */
    case 3: return d % n < (n + 1) / 2;
    case 4:
    case 5: return d != n;
    default: return true;
    }
}

/* Recompute channel 0's next interrupt (rising edge of OUT) after tick t. */
static void plan_irq(struct pit *p, uint64_t t)
{
    struct pit_channel *c = &p->ch[0];
    c->next_fire = UINT64_MAX;
    if (!c->counting || !c->gate) return;
    uint64_t d = t > c->load ? t - c->load : 0, n = c->reload;
    switch (c->mode) {
    case 0:
    case 1:
        if (d < n) c->next_fire = c->load + n;
        break;
    case 4:
    case 5:
        if (d < n + 1) c->next_fire = c->load + n + 1;
        break;
    case 2:
    case 3: c->next_fire = c->load + (d / n + 1) * n; break;
    default: break;
    }
}

static void load_count(struct pit *p, struct pit_channel *c, uint32_t value, uint64_t t)
{
    c->reload = value ? value : 0x10000;
    c->null_count = false;
    c->frozen = 0;
    /* Modes 1 and 5 wait for a gate trigger; the rest start now (if gated on). */
    if (c->mode == 1 || c->mode == 5) {
        c->counting = false;
    } else {
        c->counting = true;
        c->load = t;
    }
    if (c == &p->ch[0]) plan_irq(p, t);
}

static void set_gate(struct pit *p, unsigned k, bool gate, uint64_t t)
{
    struct pit_channel *c = &p->ch[k];
    if (gate == c->gate) return;
    if (!gate) {
        c->frozen = elapsed(c, t);
        c->gate = false;
    } else {
        c->gate = true;
        switch (c->mode) {
        case 0:
        case 4: c->load = t - c->frozen; break; /* resume */
        case 1:
        case 5:
            if (c->reload) { /* trigger */
                c->counting = true;
                c->load = t;
            }
            break;
        default: c->load = t; break; /* modes 2/3 restart on the rising gate */
        }
    }
    if (k == 0) plan_irq(p, t);
}

static void latch_count(struct pit_channel *c, uint64_t t)
{
    if (c->latch_bytes) return; /* a second latch before reading is ignored */
    c->latch = count_at(c, t);
    c->latch_bytes = c->rw == RW_WORD ? 2 : 1;
}

static void latch_status(struct pit_channel *c, uint64_t t)
{
    if (c->status_latched) return;
    c->status = (uint8_t)((out_at(c, t) ? 0x80 : 0) | (c->null_count ? 0x40 : 0) | c->rw << 4 |
                          c->mode << 1 | c->bcd);
    c->status_latched = true;
}

static uint8_t read_counter(struct pit_channel *c, uint64_t t)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v;
    bool msb;
    if (c->latch_bytes) {
        v = c->latch;
        msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->latch_bytes == 1);
        c->latch_bytes--;
    } else {
        v = count_at(c, t);
        msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->read_msb);
        if (c->rw == RW_WORD) c->read_msb = !c->read_msb;
    }
    return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

static void write_counter(struct pit *p, struct pit_channel *c, uint8_t v, uint64_t t)
{
    switch (c->rw) {
    case RW_LSB: load_count(p, c, v, t); break;
    case RW_MSB: load_count(p, c, (uint32_t)v << 8, t); break;
    case RW_WORD:
        if (!c->write_msb) {
            c->write_lsb = v;
            c->write_msb = true;
            if (c->mode == 0) { /* writing the first byte stops a mode-0 count */
                c->counting = false;
                if (c == &p->ch[0]) plan_irq(p, t);
            }
        } else {
            c->write_msb = false;
            load_count(p, c, c->write_lsb | (uint32_t)v << 8, t);
        }
        break;
    default: break;
    }
}

static void write_control(struct pit *p, uint8_t v, uint64_t t)
{
    unsigned sel = v >> 6;
    if (sel == 3) { /* read-back */
        for (unsigned k = 0; k < NCHAN; k++) {
            if (!(v & (2u << k))) continue;
            if (!(v & 0x20)) latch_count(&p->ch[k], t);
            if (!(v & 0x10)) latch_status(&p->ch[k], t);
        }
        return;
    }
    struct pit_channel *c = &p->ch[sel];
    unsigned rw = (v >> 4) & 3;
    if (rw == RW_LATCH) {
        latch_count(c, t);
        return;
    }
    c->rw = (uint8_t)rw;
    c->mode = (v >> 1) & 7;
    if (c->mode > 5) c->mode -= 4; /* 6 and 7 alias 2 and 3 */
    c->bcd = v & 1;
    c->read_msb = c->write_msb = false;
    c->latch_bytes = 0;
    c->status_latched = false;
    c->null_count = true;
    c->counting = false; /* counting waits for the new count */
    if (sel == 0) plan_irq(p, t);
}

static uint64_t pit_io_read(void *opaque, uint64_t off, unsigned size)
{
    struct pit *p = opaque;
    pthread_mutex_lock(&p->lock);
    uint64_t t = ns_to_ticks(p, host_now(p));
    uint8_t v = off < NCHAN ? read_counter(&p->ch[off], t) : 0xff; /* control: write-only */
    pthread_mutex_unlock(&p->lock);
    return v;
}

static void pit_io_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pit *p = opaque;
    pthread_mutex_lock(&p->lock);
    uint64_t t = ns_to_ticks(p, host_now(p));
    if (off < NCHAN)
        write_counter(p, &p->ch[off], (uint8_t)value, t);
    else
        write_control(p, (uint8_t)value, t);
    pthread_mutex_unlock(&p->lock);
}

static const struct io_ops pit_ops = {pit_io_read, pit_io_write};

static uint64_t portb_read(void *opaque, uint64_t off, unsigned size)
{
    struct pit *p = opaque;
    pthread_mutex_lock(&p->lock);
    uint64_t ns = host_now(p);
    uint64_t t = ns_to_ticks(p, ns);
    /* Bit 4 toggles with DRAM refresh, every ~15 us; bit 5 is channel 2's output. */
    uint8_t v = (uint8_t)((p->port_b & 0x0f) | (((ns - p->epoch) / 15085) & 1) << 4 |
                          (out_at(&p->ch[2], t) ? 0x20 : 0));
    pthread_mutex_unlock(&p->lock);
    return v;
}

static void portb_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pit *p = opaque;
    pthread_mutex_lock(&p->lock);
    uint64_t t = ns_to_ticks(p, host_now(p));
    p->port_b = (uint8_t)value & 0x0f;
    set_gate(p, 2, value & 1, t);
    pthread_mutex_unlock(&p->lock);
}

static const struct io_ops portb_ops = {portb_read, portb_write};

static void reset_locked(struct pit *p)
{
    memset(p->ch, 0, sizeof(p->ch));
    for (unsigned k = 0; k < NCHAN; k++) {
        p->ch[k].gate = k != 2;
        p->ch[k].reload = 0x10000;
        p->ch[k].next_fire = UINT64_MAX;
    }
    p->port_b = 0;
}

struct pit *pit_create(struct bus *bus, struct irq_line irq0, uint64_t (*now)(void))
{
    struct pit *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->bus = bus;
    p->irq0 = irq0;
    p->now = now;
    p->epoch = 0; /* ticks count from the clock's origin, so state is portable */
    reset_locked(p);
    if (bus && (bus_add_pio(bus, PIT_BASE, 4, &pit_ops, p, "pit") != 0 ||
                bus_add_pio(bus, PIT_PORT_B, 1, &portb_ops, p, "port-b") != 0)) {
        bus_move_pio(bus, &pit_ops, p, 0, 0);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void pit_destroy(struct pit *p)
{
    if (!p) return;
    if (p->bus) {
        bus_move_pio(p->bus, &pit_ops, p, 0, 0);
        bus_move_pio(p->bus, &portb_ops, p, 0, 0);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

uint64_t pit_next_deadline(struct pit *p)
{
    pthread_mutex_lock(&p->lock);
    uint64_t f = p->ch[0].next_fire;
    uint64_t d = f == UINT64_MAX ? UINT64_MAX : ticks_to_ns(p, f);
    pthread_mutex_unlock(&p->lock);
    return d;
}

void pit_update(struct pit *p, uint64_t now_ns)
{
    pthread_mutex_lock(&p->lock);
    uint64_t t = ns_to_ticks(p, now_ns);
    bool fire = p->ch[0].next_fire != UINT64_MAX && t >= p->ch[0].next_fire;
    if (fire) plan_irq(p, t); /* missed periods collapse into one edge */
    pthread_mutex_unlock(&p->lock);
    if (fire) irq_pulse(&p->irq0);
}

/* Section "pit": u8 port B, then per channel: u8 mode, rw, bcd; u32 reload; u8 flags (counting,
 * null count, gate, status latched, read msb, write msb from bit 0); u64 ticks since the count
 * was loaded; u64 frozen; u16 latch; u8 latched bytes, status, write lsb; u64 ticks from load
 * to the next output edge (all ones: none). Times are relative to now (ctx: the tick now),
 * because host clocks differ between runs. */
static void pit_put_since(struct state_writer *w, const void *obj, void *ctx)
{
    const struct pit_channel *c = obj;
    uint64_t t = *(const uint64_t *)ctx;
    state_put_u64(w, t > c->load ? t - c->load : 0);
}
static const char *pit_get_since(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)live;
    uint64_t t = *(const uint64_t *)ctx, since = state_get_u64(r);
    ((struct pit_channel *)tmp)->load = since < t ? t - since : 0;
    return NULL;
}
static void pit_put_fire(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    const struct pit_channel *c = obj;
    state_put_u64(w, c->next_fire == UINT64_MAX ? UINT64_MAX : c->next_fire - c->load);
}
static const char *pit_get_fire(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    struct pit_channel *c = tmp;
    uint64_t fire = state_get_u64(r);
    c->next_fire = fire == UINT64_MAX ? UINT64_MAX : c->load + fire;
    return NULL;
}
static const size_t pit_flag_bits[] = {
    offsetof(struct pit_channel, counting), offsetof(struct pit_channel, null_count),
    offsetof(struct pit_channel, gate),     offsetof(struct pit_channel, status_latched),
    offsetof(struct pit_channel, read_msb), offsetof(struct pit_channel, write_msb),
};
static const struct state_field pit_channel_fields[] = {
    STATE_UINT_X(struct pit_channel, mode, 1, UINT64_MAX, 0, 0, 5),
    STATE_UINT_M(struct pit_channel, rw, 1, 3),
    STATE_UINT_M(struct pit_channel, bcd, 1, 1),
    STATE_UINT_X(struct pit_channel, reload, 4, UINT64_MAX, 0, 1, 0x10000),
    STATE_FLAGS("flags", pit_flag_bits),
    STATE_CUSTOM("since_load", pit_put_since, pit_get_since, NULL),
    STATE_SHADOW(struct pit_channel, load),
    STATE_U64(struct pit_channel, frozen),
    STATE_U16(struct pit_channel, latch),
    STATE_UINT_X(struct pit_channel, latch_bytes, 1, UINT64_MAX, 0, 0, 2),
    STATE_U8(struct pit_channel, status),
    STATE_U8(struct pit_channel, write_lsb),
    STATE_CUSTOM("next_fire", pit_put_fire, pit_get_fire, NULL),
    STATE_SHADOW(struct pit_channel, next_fire),
};
static const struct state_desc pit_channel_desc =
    STATE_DESC(struct pit_channel, pit_channel_fields, NULL);
static const struct state_field pit_fields[] = {
    STATE_UINT_M(struct pit, port_b, 1, 0x0f),
    STATE_STRUCT_ARRAY(struct pit, ch, &pit_channel_desc),
};
static const struct state_desc pit_desc = STATE_DESC(struct pit, pit_fields, NULL);

void pit_save(struct pit *p, struct state_writer *w)
{
    pthread_mutex_lock(&p->lock);
    uint64_t t = ns_to_ticks(p, host_now(p));
    state_save_section(w, "pit", STATE_VERSION, &pit_desc, p, &t);
    pthread_mutex_unlock(&p->lock);
}

int pit_load(struct pit *p, struct state_reader *r)
{
    pthread_mutex_lock(&p->lock);
    uint64_t t = ns_to_ticks(p, host_now(p));
    int rc = state_load_section(r, "pit", STATE_VERSION, &pit_desc, p, &t);
    pthread_mutex_unlock(&p->lock);
    return rc;
}
