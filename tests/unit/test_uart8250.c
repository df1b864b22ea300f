/* test_uart8250.c — the 16550A driven through port I/O the way Linux's 8250 driver probes and
 * uses it: autoconfig (IER scratch test, loopback MSR test, FIFO detection via IIR), the THRE
 * interrupt test, transmit to the sink, receive with FIFO trigger levels and timeout, IIR
 * priorities, OUT2 gating of the IRQ line, and a save/load round trip. */
#include <pthread.h>
#include <sched.h>

#include "check.h"
#include "hw/uart8250.h"
#include "vessel/bus.h"
#include "vessel/state.h"

#define BASE 0x3f8

static int irq_level;
static unsigned irq_changes;
static void set_level(void *opaque, unsigned pin, int level)
{
    irq_level = level;
    irq_changes++;
}

static uint8_t sunk[64];
static size_t nsunk;
static void sink_write(void *opaque, const uint8_t *buf, size_t len)
{
    for (size_t k = 0; k < len && nsunk < sizeof(sunk); k++)
        sunk[nsunk++] = buf[k];
}

static struct bus bus;
static struct uart8250 *mk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    irq_level = 0;
    irq_changes = 0;
    nsunk = 0;
    struct irq_line l = {set_level, NULL, 4};
    struct uart8250_sink s = {sink_write, NULL};
    struct uart8250 *u = uart8250_create(&bus, BASE, l, s, NULL);
    CHECK(u != NULL);
    return u;
}

static uint8_t in(unsigned reg)
{
    return (uint8_t)bus_pio_read(&bus, BASE + reg, 1);
}
static void out(unsigned reg, uint8_t v)
{
    bus_pio_write(&bus, BASE + reg, v, 1);
}

static void test_autoconfig(void)
{
    struct uart8250 *u = mk();
    /* IER scratch test */
    out(1, 0);
    CHECK_EQ(in(1) & 0x0f, 0);
    out(1, 0x0f);
    CHECK_EQ(in(1) & 0x0f, 0x0f);
    out(1, 0);
    /* loopback: MCR = LOOP | OUT2 | RTS -> MSR status DCD | CTS */
    out(4, 0x10 | 0x0a);
    CHECK_EQ(in(6) & 0xf0, 0x90);
    out(4, 0);
    /* FIFO detection: IIR bits 7:6 == 3 means 16550A */
    out(3, 0xbf);
    CHECK(in(2) != 0); /* no EFR: reads IIR, never 0 with FIFOs on/off and no interrupt */
    out(3, 0);
    out(2, 0x01);
    CHECK_EQ(in(2) >> 6, 3);
    CHECK_EQ(in(2) & 0x0f, 0x01); /* no interrupt pending */
    /* the UUE bit (IER bit 6) must not stick on a 16550A */
    out(1, 0x40);
    CHECK_EQ(in(1) & 0x40, 0);
    /* divisor latch */
    out(3, 0x80);
    out(0, 0x01);
    out(1, 0x00);
    CHECK_EQ(in(0), 1);
    CHECK_EQ(in(1), 0);
    out(3, 0x03);
    CHECK_EQ(in(1), 0x00); /* IER again */
    CHECK_EQ(in(7), 0);
    out(7, 0x5a);
    CHECK_EQ(in(7), 0x5a);
    uart8250_destroy(u);
    bus_destroy(&bus);
}

static void test_loopback_data(void)
{
    struct uart8250 *u = mk();
    out(2, 0x07);
    out(4, 0x10);
    out(0, 'x');
    CHECK_EQ(nsunk, 0); /* loopback does not reach the line */
    CHECK(in(5) & 0x01);
    CHECK_EQ(in(0), 'x');
    CHECK_EQ(in(5) & 0x01, 0);
    /* MSR deltas in loopback */
    in(6);
    out(4, 0x10 | 0x01); /* DTR -> DSR */
    CHECK_EQ(in(6), 0x20 | 0x02);
    CHECK_EQ(in(6), 0x20); /* deltas cleared by reading */
    uart8250_destroy(u);
    bus_destroy(&bus);
}

static void test_thre_and_tx(void)
{
    struct uart8250 *u = mk();
    out(3, 0x03);
    out(4, 0x08); /* OUT2 */
    CHECK_EQ(irq_level, 0);
    out(1, 0x02); /* THRI */
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(in(5) & 0x60, 0x60);
    CHECK_EQ(in(2) & 0x0f, 0x02);
    CHECK_EQ(irq_level, 0);       /* IIR read acknowledged THRE */
    CHECK_EQ(in(2) & 0x0f, 0x01); /* and it stays clear */
    out(0, 'h');
    out(0, 'i');
    CHECK_EQ(nsunk, 2);
    CHECK_EQ(sunk[0], 'h');
    CHECK_EQ(sunk[1], 'i');
    CHECK_EQ(irq_level, 1); /* THR empty again */
    out(1, 0);
    CHECK_EQ(irq_level, 0);
    /* OUT2 gates the line */
    out(1, 0x02);
    CHECK_EQ(irq_level, 1);
    out(4, 0x00);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(in(2) & 0x0f, 0x02); /* still pending inside the UART */
    uart8250_destroy(u);
    bus_destroy(&bus);
}

static void test_rx_fifo(void)
{
    struct uart8250 *u = mk();
    out(4, 0x08);
    /* non-FIFO mode holds one byte */
    CHECK_EQ(uart8250_rx_room(u), 1);
    out(2, 0x81); /* FIFO on, trigger 8 */
    CHECK_EQ(uart8250_rx_room(u), 16);
    out(1, 0x01); /* RDI */
    uint8_t data[20];
    for (int k = 0; k < 20; k++)
        data[k] = (uint8_t)('a' + k);
    CHECK_EQ(uart8250_receive(u, data, 3), 3);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(in(2) & 0x0f, 0x0c); /* below trigger: timeout interrupt */
    CHECK_EQ(uart8250_receive(u, data + 3, 17), 13);
    CHECK_EQ(in(2) & 0x0f, 0x04); /* at/above trigger */
    CHECK_EQ(uart8250_rx_room(u), 0);
    for (int k = 0; k < 16; k++) {
        CHECK(in(5) & 0x01);
        CHECK_EQ(in(0), 'a' + k);
    }
    CHECK_EQ(in(5) & 0x01, 0);
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(in(2) & 0x0f, 0x01);
    /* overrun in loopback -> line status interrupt, highest priority */
    out(1, 0x07);
    out(4, 0x18);
    for (int k = 0; k < 17; k++)
        out(0, (uint8_t)k);
    out(4, 0x08); /* leave loopback so OUT2 drives the line */
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(in(2) & 0x0f, 0x06);
    CHECK_EQ(in(5) & 0x03, 0x03); /* DR | OE, OE cleared by the read */
    CHECK_EQ(in(2) & 0x0f, 0x04); /* then received data */
    out(2, 0x83);                 /* clear RX */
    CHECK_EQ(in(5) & 0x01, 0);
    CHECK_EQ(in(2) & 0x0f, 0x02); /* then THRE */
    uart8250_destroy(u);
    bus_destroy(&bus);
}

static void test_save_load(void)
{
    struct uart8250 *u = mk();
    out(2, 0xc1);
    out(3, 0x03);
    out(4, 0x0b);
    out(7, 0x77);
    out(1, 0x05);
    uint8_t d[3] = {1, 2, 3};
    uart8250_receive(u, d, 3);
    struct state_writer w;
    state_writer_init(&w);
    uart8250_save(u, &w);
    CHECK(!w.error);
    uart8250_destroy(u);
    bus_destroy(&bus);

    u = mk();
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(uart8250_load(u, &r), 0);
    CHECK_EQ(irq_level, 1);
    CHECK_EQ(in(3), 0x03);
    CHECK_EQ(in(4), 0x0b);
    CHECK_EQ(in(7), 0x77);
    CHECK_EQ(in(1), 0x05);
    CHECK_EQ(in(2), 0xcc);
    CHECK_EQ(in(0), 1);
    CHECK_EQ(in(0), 2);
    CHECK_EQ(in(0), 3);
    CHECK_EQ(in(5) & 1, 0);
    /* a truncated stream is refused */
    struct state_reader r2;
    CHECK(state_reader_init(&r2, w.data, w.len - 3) == false || uart8250_load(u, &r2) != 0);
    state_writer_free(&w);
    uart8250_destroy(u);
    bus_destroy(&bus);
}

/* The board pushes input from its event-loop thread while the guest drains the FIFO: every
 * byte arrives once and in order (run under -fsanitize=thread for races). */
static struct uart8250 *pusher_uart;
static void *pusher(void *arg)
{
    for (unsigned k = 0; k < 1000;) {
        uint8_t b = (uint8_t)k;
        size_t n = uart8250_receive(pusher_uart, &b, 1);
        k += (unsigned)n;
        if (!n) sched_yield(); /* FIFO full: let the reader run */
    }
    return NULL;
}

static void test_threaded_input(void)
{
    struct uart8250 *u = mk();
    pusher_uart = u;
    out(2, 0x01);
    pthread_t t;
    pthread_create(&t, NULL, pusher, NULL);
    unsigned got = 0, bad = 0;
    for (long spins = 0; got < 1000 && spins < 100000000; spins++)
        if (in(5) & 0x01) {
            if (in(0) != (uint8_t)got) bad++;
            got++;
        } else {
            sched_yield();
        }
    pthread_join(t, NULL);
    CHECK_EQ(got, 1000);
    CHECK_EQ(bad, 0);
    uart8250_destroy(u);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_autoconfig);
    RUN(test_loopback_data);
    RUN(test_thre_and_tx);
    RUN(test_rx_fifo);
    RUN(test_save_load);
    RUN(test_threaded_input);
    return check_done();
}
