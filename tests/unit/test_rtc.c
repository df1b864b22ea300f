/* test_rtc.c — the CMOS RTC on fake monotonic and wall clocks through ports 0x70/0x71: time in
 * BCD and binary, 12-hour mode, day of week and century, the UIP window, setting the clock with
 * the SET bit, update-ended, periodic and alarm interrupts with register C acknowledgement,
 * CMOS RAM, and a save/load round trip. */
#include "check.h"
#include "hw/rtc.h"
#include "vessel/bus.h"
#include "vessel/state.h"

#define T0 1709214359ull /* 2024-02-29 13:45:59 UTC, a Thursday */
static uint64_t fake_mono = 1000000000ull, fake_wall = T0 * 1000000000ull + 500000000ull;
static uint64_t mono_clock(void)
{
    return fake_mono;
}
static uint64_t wall_clock(void)
{
    return fake_wall;
}
static void advance(uint64_t ns)
{
    fake_mono += ns;
    fake_wall += ns;
}
static int level;
static void set_level(void *opaque, unsigned pin, int l)
{
    level = l;
}

static struct bus bus;
static struct rtc *mk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    fake_wall = T0 * 1000000000ull + 500000000ull;
    level = 0;
    struct rtc *r = rtc_create(&bus, (struct irq_line){set_level, NULL, 8}, mono_clock, wall_clock);
    CHECK(r != NULL);
    return r;
}
static void done(struct rtc *r)
{
    rtc_destroy(r);
    bus_destroy(&bus);
}
static uint8_t rd(uint8_t idx)
{
    bus_pio_write(&bus, 0x70, 0x80 | idx, 1); /* NMI mask bit set, as Linux does */
    return (uint8_t)bus_pio_read(&bus, 0x71, 1);
}
static void wr(uint8_t idx, uint8_t v)
{
    bus_pio_write(&bus, 0x70, idx, 1);
    bus_pio_write(&bus, 0x71, v, 1);
}

static void test_time_formats(void)
{
    struct rtc *r = mk();
    CHECK_EQ(rd(0x0d), 0x80);
    CHECK_EQ(rd(0x0a) & 0x7f, 0x26);
    CHECK_EQ(rd(0x00), 0x59);
    CHECK_EQ(rd(0x02), 0x45);
    CHECK_EQ(rd(0x04), 0x13);
    CHECK_EQ(rd(0x06), 5);
    CHECK_EQ(rd(0x07), 0x29);
    CHECK_EQ(rd(0x08), 0x02);
    CHECK_EQ(rd(0x09), 0x24);
    CHECK_EQ(rd(0x32), 0x20);
    wr(0x0b, 0x06); /* binary, 24h */
    CHECK_EQ(rd(0x00), 59);
    CHECK_EQ(rd(0x04), 13);
    CHECK_EQ(rd(0x09), 24);
    wr(0x0b, 0x00); /* BCD, 12h */
    CHECK_EQ(rd(0x04), 0x81);
    wr(0x0b, 0x02);
    /* UIP during the last 244 us before the update */
    CHECK_EQ(rd(0x0a) & 0x80, 0);
    advance(499800000);
    CHECK_EQ(rd(0x0a) & 0x80, 0x80);
    advance(300000);
    CHECK_EQ(rd(0x0a) & 0x80, 0);
    CHECK_EQ(rd(0x00), 0x00);
    CHECK_EQ(rd(0x02), 0x46);
    done(r);
}

static void test_set_time(void)
{
    struct rtc *r = mk();
    wr(0x0b, 0x82); /* SET */
    wr(0x09, 0x30);
    wr(0x08, 0x12);
    wr(0x07, 0x31);
    wr(0x04, 0x23);
    wr(0x02, 0x59);
    wr(0x00, 0x50);
    advance(3000000000ull);
    CHECK_EQ(rd(0x00), 0x50); /* frozen while SET */
    wr(0x0b, 0x02);
    CHECK_EQ(rd(0x00), 0x50);
    CHECK_EQ(rd(0x09), 0x30);
    advance(10000000000ull);
    CHECK_EQ(rd(0x00), 0x00);
    CHECK_EQ(rd(0x02), 0x00);
    CHECK_EQ(rd(0x04), 0x00);
    CHECK_EQ(rd(0x07), 0x01);
    CHECK_EQ(rd(0x08), 0x01);
    CHECK_EQ(rd(0x09), 0x31);
    CHECK_EQ(rd(0x32), 0x20);
    done(r);
}

static void test_interrupts(void)
{
    struct rtc *r = mk();
    CHECK_EQ(rtc_next_deadline(r), UINT64_MAX);
    /* update-ended */
    wr(0x0b, 0x12);
    uint64_t d = rtc_next_deadline(r);
    CHECK_EQ(d, fake_mono + 500000000ull);
    rtc_update(r, d - 1);
    CHECK_EQ(level, 0);
    advance(d - fake_mono);
    rtc_update(r, d);
    CHECK_EQ(level, 1);
    CHECK_EQ(rtc_next_deadline(r), d + 1000000000ull);
    CHECK_EQ(rd(0x0c), 0x90);
    CHECK_EQ(level, 0);
    CHECK_EQ(rd(0x0c), 0);
    /* periodic at 1024 Hz */
    wr(0x0b, 0x42);
    d = rtc_next_deadline(r);
    CHECK_EQ(d, fake_mono + 976562);
    advance(976562);
    rtc_update(r, d);
    CHECK_EQ(level, 1);
    CHECK_EQ(rd(0x0c), 0xc0);
    CHECK_EQ(rtc_next_deadline(r), d + 976562);
    /* alarm at 13:46:02, with update interrupts off */
    wr(0x0b, 0x22);
    wr(0x01, 0x02);
    wr(0x03, 0x46);
    wr(0x05, 0xff); /* don't care */
    for (int k = 0; k < 3 && !level; k++) {
        d = rtc_next_deadline(r);
        advance(d - fake_mono);
        rtc_update(r, d);
    }
    CHECK_EQ(level, 1);
    CHECK_EQ(rd(0x00), 0x02);
    CHECK_EQ(rd(0x0c) & 0xe0, 0xa0);
    CHECK_EQ(level, 0);
    done(r);
}

static void test_cmos_and_save(void)
{
    struct rtc *r = mk();
    rtc_cmos_set(r, 0x34, 0x12);
    rtc_cmos_set(r, 0x0b, 0xff); /* control register: refused */
    CHECK_EQ(rd(0x34), 0x12);
    CHECK_EQ(rd(0x0b), 0x02);
    wr(0x50, 0xaa);
    CHECK_EQ(rtc_cmos_get(r, 0x50), 0xaa);
    CHECK_EQ(rd(0x7f), 0);
    wr(0x0b, 0x82);
    wr(0x09, 0x99);
    wr(0x0b, 0x16); /* binary, UIE; the year was set while in BCD */
    struct state_writer w;
    state_writer_init(&w);
    rtc_save(r, &w);
    CHECK(!w.error);
    done(r);
    fake_mono += 12345; /* different clocks after restore */
    r = mk();
    struct state_reader rr;
    CHECK(state_reader_init(&rr, w.data, w.len));
    CHECK_EQ(rtc_load(r, &rr), 0);
    CHECK_EQ(rd(0x50), 0xaa);
    CHECK_EQ(rd(0x34), 0x12);
    CHECK_EQ(rd(0x0b), 0x16);
    CHECK_EQ(rd(0x09), 99);
    CHECK(rtc_next_deadline(r) != UINT64_MAX);
    state_writer_free(&w);
    done(r);
}

int main(void)
{
    RUN(test_time_formats);
    RUN(test_set_time);
    RUN(test_interrupts);
    RUN(test_cmos_and_save);
    return check_done();
}
