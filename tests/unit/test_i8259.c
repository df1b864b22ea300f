/* test_i8259.c — the cascaded 8259A pair as SeaBIOS and Linux program it: the ICW sequence,
 * edge requests latched and consumed by the acknowledge, priorities (IRQ 0 over IRQ 1; a
 * request below the one in service waits for its EOI), the slave through master IRQ 2 with its
 * own vectors and EOIs, masks, level-triggered inputs by ELCR (and its fixed edge-only bits),
 * spurious IRQ 7, IRR/ISR reads, poll mode, auto-EOI, priority rotation, the INTR callback, and
 * state that round-trips mid-service and refuses nonsense. */
#include "check.h"
#include "hw/i8259.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static struct bus bus;
static unsigned intr_calls;
static bool intr_level;

static void on_intr(void *opaque, bool level)
{
    (void)opaque;
    intr_calls++;
    intr_level = level;
}

static void out(uint16_t port, uint8_t v)
{
    bus_pio_write(&bus, port, v, 1);
}
static uint8_t in(uint16_t port)
{
    return (uint8_t)bus_pio_read(&bus, port, 1);
}

/* The classic initialization: master vectors at mbase, slave at sbase, ICW4 as given. */
static struct i8259 *setup(uint8_t mbase, uint8_t sbase, uint8_t icw4)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct i8259_config cfg = {.intr = on_intr};
    struct i8259 *p = i8259_create(&bus, &cfg);
    CHECK(p != NULL);
    out(0x20, 0x11);
    out(0x21, mbase);
    out(0x21, 0x04);
    out(0x21, icw4);
    out(0xa0, 0x11);
    out(0xa1, sbase);
    out(0xa1, 0x02);
    out(0xa1, icw4);
    out(0x21, 0x00);
    out(0xa1, 0x00);
    intr_calls = 0;
    return p;
}

static void done(struct i8259 *p)
{
    i8259_destroy(p);
    bus_destroy(&bus);
}

static void pulse(struct i8259 *p, unsigned irq)
{
    struct irq_line l = i8259_irq_line(p, irq);
    irq_pulse(&l);
}

static void test_edge_priority(void)
{
    struct i8259 *p = setup(0x08, 0x70, 0x01);
    CHECK(!i8259_intr(p));
    pulse(p, 1);
    pulse(p, 0);
    CHECK(i8259_intr(p) && intr_level && intr_calls == 1);
    CHECK_EQ(i8259_vector(p), 0x08); /* a look changes nothing */
    CHECK_EQ(i8259_vector(p), 0x08);
    CHECK_EQ(i8259_intack(p), 0x08); /* IRQ 0 first */
    CHECK(!i8259_intr(p));           /* IRQ 1 waits below IRQ 0 in service */
    CHECK_EQ(i8259_vector(p), -1);
    out(0x20, 0x0b); /* read ISR */
    CHECK_EQ(in(0x20), 0x01);
    out(0x20, 0x0a); /* read IRR */
    CHECK_EQ(in(0x20), 0x02);
    out(0x20, 0x20); /* non-specific EOI */
    CHECK(i8259_intr(p));
    CHECK_EQ(i8259_intack(p), 0x09);
    pulse(p, 0); /* a higher request interrupts IRQ 1's service */
    CHECK(i8259_intr(p));
    CHECK_EQ(i8259_intack(p), 0x08);
    out(0x20, 0x60); /* specific EOI for IRQ 0 */
    out(0x20, 0x61); /* and IRQ 1 */
    out(0x20, 0x0b);
    CHECK_EQ(in(0x20), 0x00);
    CHECK(!i8259_intr(p));
    done(p);
}

static void test_slave_and_masks(void)
{
    struct i8259 *p = setup(0x08, 0x70, 0x01);
    out(0xa1, 0x10); /* mask IRQ 12 */
    pulse(p, 12);
    CHECK(!i8259_intr(p));
    out(0xa1, 0x00);
    CHECK(i8259_intr(p));
    CHECK_EQ(i8259_vector(p), 0x74); /* through the cascade */
    CHECK_EQ(i8259_intack(p), 0x74);
    out(0xa0, 0x0b);
    CHECK_EQ(in(0xa0), 0x10);
    out(0x20, 0x0b);
    CHECK_EQ(in(0x20), 0x04); /* the cascade input in service on the master */
    CHECK_EQ(in(0xa1), 0x00);
    out(0xa0, 0x20);
    out(0x20, 0x20);
    CHECK(!i8259_intr(p));
    /* spurious: the request is masked between INTR and the acknowledge */
    pulse(p, 3);
    CHECK(i8259_intr(p));
    out(0x21, 0x08);
    CHECK_EQ(i8259_intack(p), 0x0f);
    out(0x21, 0x00);
    CHECK_EQ(i8259_intack(p), 0x0b); /* the latched edge is still there once unmasked */
    done(p);
}

static void test_level_elcr(void)
{
    struct i8259 *p = setup(0x08, 0x70, 0x01);
    out(0x4d0, 0xff);
    CHECK_EQ(in(0x4d0), 0xf8); /* IRQ 0-2 are edge-only */
    out(0x4d1, 0xff);
    CHECK_EQ(in(0x4d1), 0xde);
    struct irq_line l10 = i8259_irq_line(p, 10);
    irq_raise(&l10);
    CHECK_EQ(i8259_intack(p), 0x72);
    out(0xa0, 0x20);
    out(0x20, 0x20);
    CHECK(i8259_intr(p)); /* still held: requested again */
    CHECK_EQ(i8259_intack(p), 0x72);
    irq_lower(&l10);
    out(0xa0, 0x20);
    out(0x20, 0x20);
    CHECK(!i8259_intr(p));
    done(p);
}

static void test_poll_autoeoi_rotation(void)
{
    struct i8259 *p = setup(0x20, 0x28, 0x03); /* auto-EOI */
    pulse(p, 5);
    CHECK_EQ(i8259_intack(p), 0x25);
    out(0x20, 0x0b);
    CHECK_EQ(in(0x20), 0x00); /* nothing in service with auto-EOI */
    pulse(p, 6);
    out(0x20, 0x0c); /* poll */
    CHECK_EQ(in(0x20), 0x86);
    out(0x20, 0x0c);
    CHECK_EQ(in(0x20), 0x00);
    done(p);

    p = setup(0x08, 0x70, 0x01);
    out(0x20, 0xc3); /* set priority: IRQ 3 lowest, so IRQ 4 highest */
    pulse(p, 1);
    pulse(p, 5);
    CHECK_EQ(i8259_intack(p), 0x0d); /* IRQ 5 before IRQ 1 now */
    out(0x20, 0xa0);                 /* rotate on non-specific EOI: IRQ 5 becomes lowest */
    CHECK_EQ(i8259_intack(p), 0x09);
    out(0x20, 0x20);
    pulse(p, 5);
    pulse(p, 7);
    CHECK_EQ(i8259_intack(p), 0x0f); /* IRQ 6 is highest after the rotation: 7 before 5 */
    done(p);
}

static void test_state(void)
{
    struct i8259 *p = setup(0x08, 0x70, 0x01);
    pulse(p, 4);
    pulse(p, 3);
    CHECK_EQ(i8259_intack(p), 0x0b);
    struct state_writer w;
    state_writer_init(&w);
    i8259_save(p, &w);
    CHECK(!w.error);
    done(p);
    p = setup(0x00, 0x00, 0x01); /* different programming, replaced by the load */
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(i8259_load(p, &r), 0);
    CHECK(!i8259_intr(p)); /* IRQ 4 waits below IRQ 3 in service */
    out(0x20, 0x20);
    CHECK(i8259_intr(p));
    CHECK_EQ(i8259_intack(p), 0x0c);
    state_writer_free(&w);
    /* a vector base that is not a multiple of 8 is refused, and the chips stay as they were */
    state_writer_init(&w);
    state_section_begin(&w, "i8259", 1);
    for (unsigned chip = 0; chip < 2; chip++) {
        const uint8_t regs[8] = {0, 0, 0, 0, 0, 0, 0x09, 0}; /* irq_base 0x09 */
        for (unsigned k = 0; k < 8; k++)
            state_put_u8(&w, regs[k]);
        for (unsigned k = 0; k < 8; k++)
            state_put_u8(&w, 0);
    }
    state_section_end(&w);
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(i8259_load(p, &r), -1);
    out(0x20, 0x20); /* IRQ 4's EOI: the chips kept their state */
    pulse(p, 6);
    CHECK_EQ(i8259_intack(p), 0x0e);
    state_writer_free(&w);
    done(p);
}

int main(void)
{
    RUN(test_edge_priority);
    RUN(test_slave_and_masks);
    RUN(test_level_elcr);
    RUN(test_poll_autoeoi_rotation);
    RUN(test_state);
    return check_done();
}
