/* test_pit.c — the 8254 on a fake clock through ports 0x40-0x43 and 0x61: channel 0 in mode 2
 * (periodic interrupts at the programmed rate, counting down, latch), mode 0 one-shot, channel 2
 * as Linux's TSC calibration uses it (gate via port 0x61, output polled in bit 5, live MSB
 * reads), gate-low pausing, the read-back command, and a save/load round trip. */
#include "check.h"
#include "hw/pit.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static uint64_t fake_now = 5000000000ull;
static uint64_t fake_clock(void)
{
    return fake_now;
}
static unsigned edges;
static int level;
static void set_level(void *opaque, unsigned pin, int l)
{
    if (l && !level) edges++;
    level = l;
}

static struct bus bus;
static struct pit *mk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    edges = 0;
    level = 0;
    struct pit *p = pit_create(&bus, (struct irq_line){set_level, NULL, 0}, fake_clock);
    CHECK(p != NULL);
    return p;
}
static void done(struct pit *p)
{
    pit_destroy(p);
    bus_destroy(&bus);
}
static void out(uint16_t port, uint8_t v)
{
    bus_pio_write(&bus, port, v, 1);
}
static uint8_t in(uint16_t port)
{
    return (uint8_t)bus_pio_read(&bus, port, 1);
}
/* ns for n PIT ticks, rounded up */
static uint64_t ticks_ns(uint64_t n)
{
    return (n * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

static void test_mode2_irq(void)
{
    struct pit *p = mk();
    CHECK_EQ(pit_next_deadline(p), UINT64_MAX);
    uint64_t t0 = fake_now;
    out(0x43, 0x34); /* ch0, lsb/msb, mode 2 */
    out(0x40, 1193 & 0xff);
    out(0x40, 1193 >> 8);
    uint64_t d = pit_next_deadline(p);
    CHECK(d >= t0 + ticks_ns(1193) - 1000 && d <= t0 + ticks_ns(1193) + 1000);
    pit_update(p, d - 1000);
    CHECK_EQ(edges, 0);
    pit_update(p, d);
    CHECK_EQ(edges, 1);
    CHECK_EQ(level, 0); /* a pulse */
    uint64_t d2 = pit_next_deadline(p);
    CHECK(d2 > d && d2 - d >= ticks_ns(1193) - 1 && d2 - d <= ticks_ns(1193) + 1);
    /* missed periods collapse into one edge */
    pit_update(p, d2 + 10 * ticks_ns(1193));
    CHECK_EQ(edges, 2);
    CHECK(pit_next_deadline(p) > d2 + 10 * ticks_ns(1193));
    /* counting down: latch after 100 ticks into a period */
    out(0x43, 0x34);
    out(0x40, 0xe8);
    out(0x40, 0x03); /* 1000 */
    fake_now += ticks_ns(100) + 1;
    out(0x43, 0x00); /* latch ch0 */
    fake_now += ticks_ns(50);
    uint16_t c = in(0x40);
    c |= (uint16_t)(in(0x40) << 8);
    CHECK(c >= 899 && c <= 901);
    done(p);
}

static void test_mode0_oneshot(void)
{
    struct pit *p = mk();
    uint64_t t0 = fake_now;
    out(0x43, 0x30); /* ch0, lsb/msb, mode 0 */
    out(0x40, 0x00);
    CHECK_EQ(pit_next_deadline(p), UINT64_MAX); /* half-written count: stopped */
    out(0x40, 0x10);                            /* 0x1000 */
    uint64_t d = pit_next_deadline(p);
    CHECK(d >= t0 + ticks_ns(0x1000) - 1000 && d <= t0 + ticks_ns(0x1000) + 1000);
    pit_update(p, d);
    CHECK_EQ(edges, 1);
    CHECK_EQ(pit_next_deadline(p), UINT64_MAX);
    pit_update(p, d + 100000000);
    CHECK_EQ(edges, 1);
    /* read-back: status of ch0 shows output high, mode 0, lsb/msb */
    fake_now = d + 100000000;
    out(0x43, 0xe2);
    CHECK_EQ(in(0x40), 0x80 | 0x30);
    done(p);
}

static void test_channel2_calibration(void)
{
    struct pit *p = mk();
    out(0x61, (in(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
    out(0x43, 0xb0);                      /* ch2, lsb/msb, mode 0 */
    out(0x42, 0xff);
    out(0x42, 0xff);
    CHECK_EQ(in(0x61) & 0x20, 0);
    /* quick_pit_calibrate-style live reads: lsb then msb, MSB decreasing */
    in(0x42);
    uint8_t msb0 = in(0x42);
    CHECK_EQ(msb0, 0xff);
    fake_now += ticks_ns(0x1000);
    in(0x42);
    CHECK_EQ(in(0x42), 0xef);
    fake_now += ticks_ns(0xffff - 0x1000);
    CHECK(in(0x61) & 0x20);                     /* terminal count reached */
    CHECK_EQ(pit_next_deadline(p), UINT64_MAX); /* channel 2 raises no IRQ */
    /* gate low pauses a mode 0 count */
    out(0x43, 0xb0);
    out(0x42, 0x00);
    out(0x42, 0x10);
    fake_now += ticks_ns(0x100);
    out(0x61, 0x00);
    fake_now += ticks_ns(0x800);
    out(0x43, 0x80);
    uint16_t c = in(0x42);
    c |= (uint16_t)(in(0x42) << 8);
    CHECK(c >= 0xeff && c <= 0xf00);
    out(0x61, 0x01);
    fake_now += ticks_ns(0x100);
    out(0x43, 0x80);
    c = in(0x42);
    c |= (uint16_t)(in(0x42) << 8);
    CHECK(c >= 0xdff && c <= 0xe00);
    CHECK_EQ(in(0x61) & 0x0f, 0x01);
    /* lsb-only access mode */
    out(0x43, 0x94); /* ch2, lsb, mode 2 */
    out(0x42, 100);
    fake_now += ticks_ns(10);
    uint8_t v = in(0x42);
    CHECK(v >= 89 && v <= 90);
    done(p);
}

static void test_save_load(void)
{
    struct pit *p = mk();
    out(0x43, 0x34);
    out(0x40, 0x00);
    out(0x40, 0x20);
    out(0x61, 0x03);
    out(0x43, 0xb6);
    out(0x42, 0x34);
    fake_now += ticks_ns(0x100);
    uint64_t left = pit_next_deadline(p) - fake_now;
    struct state_writer w;
    state_writer_init(&w);
    pit_save(p, &w);
    CHECK(!w.error);
    done(p);
    fake_now += 77777777; /* restored later, on another clock */
    p = mk();
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(pit_load(p, &r), 0);
    uint64_t left2 = pit_next_deadline(p) - fake_now;
    CHECK(left2 + 2000 >= left && left2 <= left + 2000);
    CHECK_EQ(in(0x61) & 0x0f, 0x03);
    out(0x42, 0x12); /* completes the half-written ch2 count */
    out(0x43, 0xe8); /* read-back status of ch2 */
    CHECK_EQ(in(0x42) & 0x3f, 0x36);
    state_writer_free(&w);
    done(p);
}

int main(void)
{
    RUN(test_mode2_irq);
    RUN(test_mode0_oneshot);
    RUN(test_channel2_calibration);
    RUN(test_save_load);
    return check_done();
}
