/* test_i8042.c — the PS/2 controller through ports 0x60/0x64 following Linux's i8042 probe:
 * flush, self-test, config byte read/write, keyboard interface test, the AUX loopback that
 * must fail fast (no AUX port), the keyboard's ACK/identify/reset replies with IRQ 1, the reset
 * line (0xFE and the output port), and a save/load round trip. */
#include "check.h"
#include "hw/i8042.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static int level, resets, edges;
static void set_level(void *opaque, unsigned pin, int l)
{
    if (l && !level) edges++;
    level = l;
}
static void on_reset(void *opaque)
{
    resets++;
}

static struct bus bus;
static struct i8042 *mk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    level = resets = 0;
    struct i8042 *k = i8042_create(&bus, (struct irq_line){set_level, NULL, 1}, on_reset, NULL);
    CHECK(k != NULL);
    return k;
}
static void done(struct i8042 *k)
{
    i8042_destroy(k);
    CHECK_EQ(bus_pio_read(&bus, 0x64, 1), 0xff); /* ranges removed */
    bus_destroy(&bus);
}
static uint8_t st(void)
{
    return (uint8_t)bus_pio_read(&bus, 0x64, 1);
}
static uint8_t data(void)
{
    return (uint8_t)bus_pio_read(&bus, 0x60, 1);
}
static void cmd(uint8_t c)
{
    bus_pio_write(&bus, 0x64, c, 1);
}
static void put(uint8_t v)
{
    bus_pio_write(&bus, 0x60, v, 1);
}

static void test_probe(void)
{
    struct i8042 *k = mk();
    CHECK_EQ(st() & 0x01, 0); /* nothing to flush */
    cmd(0xaa);
    CHECK(st() & 0x01);
    CHECK_EQ(data(), 0x55);
    CHECK_EQ(st() & 0x05, 0x04); /* system flag, buffer empty */
    cmd(0x20);
    uint8_t ctr = data();
    CHECK_EQ(ctr & 0x01, 0x01);
    cmd(0x60);
    put(0x44); /* interrupts off, translation, sys */
    cmd(0x20);
    CHECK_EQ(data(), 0x44);
    cmd(0xab);
    CHECK_EQ(data(), 0x00);
    /* AUX loopback comes back without the AUX-data status bit; AUX test fails */
    cmd(0xd3);
    put(0x5a);
    CHECK_EQ(st() & 0x21, 0x01);
    CHECK_EQ(data(), 0x5a);
    cmd(0xa9);
    CHECK_EQ(data(), 0x02);
    CHECK_EQ(level, 0);
    done(k);
}

static void test_keyboard(void)
{
    struct i8042 *k = mk();
    cmd(0x60);
    put(0x45); /* keyboard interrupts on */
    edges = 0;
    put(0xf2);
    CHECK_EQ(level, 1);
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0xab);
    CHECK_EQ(level, 1);
    CHECK_EQ(data(), 0x83);
    CHECK_EQ(level, 0);
    CHECK_EQ(edges, 3); /* one edge per byte, for an edge-triggered IRQ 1 */
    put(0xed);
    CHECK_EQ(data(), 0xfa);
    put(0x07);
    CHECK_EQ(data(), 0xfa);
    put(0xff);
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0xaa);
    put(0xee);
    CHECK_EQ(data(), 0xee);
    CHECK_EQ(st() & 1, 0);
    done(k);
}

static void test_reset_line(void)
{
    struct i8042 *k = mk();
    cmd(0xfe);
    CHECK_EQ(resets, 1);
    cmd(0xff); /* pulses nothing */
    CHECK_EQ(resets, 1);
    cmd(0xd0);
    CHECK_EQ(data() & 1, 1);
    cmd(0xd1);
    put(0x02);
    CHECK_EQ(resets, 2);
    done(k);
}

static void test_save_load(void)
{
    struct i8042 *k = mk();
    cmd(0x60);
    put(0x47);
    put(0xf2);
    data();
    cmd(0x60); /* a command waiting for its data byte */
    struct state_writer w;
    state_writer_init(&w);
    i8042_save(k, &w);
    CHECK(!w.error);
    done(k);
    k = mk();
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(i8042_load(k, &r), 0);
    CHECK_EQ(level, 1);
    CHECK_EQ(data(), 0xab);
    CHECK_EQ(data(), 0x83);
    put(0x46);
    cmd(0x20);
    CHECK_EQ(data(), 0x46);
    state_writer_free(&w);
    done(k);
}

/* Host keys: one byte at a time into the output buffer, an edge per byte; held while the
 * keyboard port is disabled or a reply is pending; all-or-nothing when the buffer is full. */
static void test_host_keys(void)
{
    struct i8042 *k = mk();
    edges = 0;
    const uint8_t a_down[] = {0x1e}, rctrl_up[] = {0xe0, 0x9d};
    CHECK(i8042_kbd_input(k, a_down, 1));
    CHECK(i8042_kbd_input(k, rctrl_up, 2));
    CHECK_EQ(level, 1);
    CHECK_EQ(st() & 0x01, 0x01);
    CHECK_EQ(data(), 0x1e);
    CHECK_EQ(data(), 0xe0);
    CHECK_EQ(data(), 0x9d);
    CHECK_EQ(st() & 0x01, 0);
    CHECK_EQ(level, 0);
    CHECK_EQ(edges, 3);

    cmd(0xad); /* keyboard port disabled: keys wait */
    CHECK(i8042_kbd_input(k, a_down, 1));
    CHECK_EQ(st() & 0x01, 0);
    put(0xf2); /* a command to the keyboard re-enables it; its reply comes first */
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0xab);
    CHECK_EQ(data(), 0x83);
    CHECK_EQ(data(), 0x1e);
    CHECK_EQ(st() & 0x01, 0);

    cmd(0xad);
    unsigned n = 0;
    while (i8042_kbd_input(k, rctrl_up, 2))
        n++;
    CHECK_EQ(n, 128);                        /* 256 bytes held */
    CHECK(!i8042_kbd_input(k, rctrl_up, 2)); /* full: the whole event refused */
    CHECK(i8042_kbd_input(k, a_down, 1) == false);
    cmd(0xae);
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(data(), 0xe0);
        CHECK_EQ(data(), 0x9d);
    }
    CHECK_EQ(st() & 0x01, 0);
    done(k);
}

static int aux_level_, aux_edges;
static void aux_set_level(void *opaque, unsigned pin, int l)
{
    if (l && !aux_level_) aux_edges++;
    aux_level_ = l;
}

/* The AUX port with its mouse, as Linux's i8042 and psmouse probe and use it. */
static void test_aux_mouse(void)
{
    struct i8042 *k = mk();
    CHECK(!i8042_mouse_input(k, 1, 1, 0)); /* no AUX port yet */
    aux_level_ = aux_edges = 0;
    i8042_enable_aux(k, (struct irq_line){aux_set_level, NULL, 12});
    cmd(0xa9);
    CHECK_EQ(data(), 0x00); /* AUX interface test passes */
    cmd(0x60);
    put(0x47); /* keyboard and AUX interrupts, translation */
    cmd(0xa8);
    cmd(0xd3); /* loopback: comes back as AUX data on IRQ 12 */
    put(0x5a);
    CHECK_EQ(st() & 0x21, 0x21);
    CHECK_EQ(aux_level_, 1);
    CHECK_EQ(level, 0);
    CHECK_EQ(data(), 0x5a);
    CHECK_EQ(aux_level_, 0);
    cmd(0xd4);
    put(0xff); /* reset: ACK, self-test passed, id 0 */
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0xaa);
    CHECK_EQ(data(), 0x00);
    CHECK(i8042_mouse_input(k, 5, 5, 0)); /* not reporting yet: dropped by the mouse */
    CHECK_EQ(st() & 0x01, 0);
    cmd(0xd4);
    put(0xf4);
    CHECK_EQ(data(), 0xfa);
    CHECK(i8042_mouse_input(k, 10, -5, 1)); /* right 10, up 5, left button */
    CHECK_EQ(aux_level_, 1);
    CHECK_EQ(st() & 0x21, 0x21);
    CHECK_EQ(data(), 0x09);
    CHECK_EQ(data(), 10);
    CHECK_EQ(data(), 5);
    CHECK(i8042_mouse_input(k, -3, 2, 4)); /* left 3, down 2, right button */
    CHECK_EQ(data(), 0x08 | 0x02 | 0x10 | 0x20);
    CHECK_EQ(data(), 0xfd);
    CHECK_EQ(data(), 0xfe);
    CHECK_EQ(st() & 0x01, 0);
    /* A key between mouse bytes keeps its own source. */
    const uint8_t a_down[] = {0x1e};
    CHECK(i8042_mouse_input(k, 1, 0, 0));
    CHECK(i8042_kbd_input(k, a_down, 1));
    CHECK_EQ(st() & 0x21, 0x21);
    CHECK_EQ(data(), 0x08);
    CHECK_EQ(st() & 0x21, 0x01); /* the key is next: keyboard data on IRQ 1 */
    CHECK_EQ(level, 1);
    CHECK_EQ(data(), 0x1e);
    CHECK_EQ(st() & 0x21, 0x21);
    CHECK_EQ(data(), 0x01);
    CHECK_EQ(data(), 0x00);
    /* The IntelliMouse knock turns on the wheel byte. */
    static const uint8_t knock[] = {0xf3, 200, 0xf3, 100, 0xf3, 80};
    for (unsigned i = 0; i < sizeof(knock); i++) {
        cmd(0xd4);
        put(knock[i]);
        CHECK_EQ(data(), 0xfa);
    }
    cmd(0xd4);
    put(0xf2);
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0x03);
    cmd(0xd4);
    put(0xe9); /* status: stream mode, enabled, rate 80, resolution 2 */
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0x20);
    CHECK_EQ(data(), 0x02);
    CHECK_EQ(data(), 80);
    CHECK(i8042_mouse_input(k, 0, 0, 1));
    CHECK_EQ(data(), 0x09);
    CHECK_EQ(data(), 0);
    CHECK_EQ(data(), 0);
    CHECK_EQ(data(), 0); /* the wheel byte */

    /* Save with an AUX byte waiting; the loaded controller says it is AUX data. */
    cmd(0xd3);
    put(0x77);
    struct state_writer w;
    state_writer_init(&w);
    i8042_save(k, &w);
    CHECK(!w.error);
    done(k);
    k = mk();
    i8042_enable_aux(k, (struct irq_line){aux_set_level, NULL, 12});
    aux_level_ = 0;
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(i8042_load(k, &r), 0);
    CHECK_EQ(aux_level_, 1);
    CHECK_EQ(st() & 0x21, 0x21);
    CHECK_EQ(data(), 0x77);
    cmd(0xd4);
    put(0xf2);
    CHECK_EQ(data(), 0xfa);
    CHECK_EQ(data(), 0x03); /* the mouse's state came along */
    state_writer_free(&w);
    done(k);
}

int main(void)
{
    RUN(test_probe);
    RUN(test_keyboard);
    RUN(test_reset_line);
    RUN(test_save_load);
    RUN(test_host_keys);
    RUN(test_aux_mouse);
    return check_done();
}
