/* uart8250.c — a 16550A serial port. Transmission is instantaneous (THR and the transmitter are
 * always empty again right after a write), so the only interrupt sources with timing are on the
 * receive side; a received byte below the FIFO trigger level raises the character-timeout
 * interrupt at once instead of after four character times, which drivers treat alike. */
#include "hw/uart8250.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

enum {
    REG_RBR_THR = 0,
    REG_IER = 1,
    REG_IIR_FCR = 2,
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define IER_RDI  0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI  0x08

#define IIR_NO_INT  0x01
#define IIR_MSI     0x00
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_RLSI    0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO    0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRS 0x1e

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80

#define STATE_VERSION 1

struct uart8250 {
    pthread_mutex_t lock;
    struct bus *bus;
    uint16_t base;
    struct irq_line irq;
    struct uart8250_sink sink;
    char name[32];

    uint8_t ier, lcr, mcr, lsr_err, msr_delta, scr, fcr;
    uint8_t msr_last; /* status bits when the deltas were last computed */
    uint16_t divisor;
    bool thr_ipending; /* THRE interrupt armed (cleared by reading IIR or writing THR) */
    int irq_level;

    uint8_t rx[UART8250_FIFO_SIZE];
    unsigned rx_head, rx_count;
};

static unsigned rx_capacity(const struct uart8250 *u)
{
    return (u->fcr & FCR_ENABLE) ? UART8250_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart8250 *u)
{
    static const unsigned levels[4] = {1, 4, 8, 14};
    return (u->fcr & FCR_ENABLE) ? levels[u->fcr >> 6] : 1;
}

/* Modem status inputs: a connected null-modem outside loopback; the MCR outputs inside. */
static uint8_t msr_status(const struct uart8250 *u)
{
    if (!(u->mcr & MCR_LOOP)) return MSR_DCD | MSR_DSR | MSR_CTS;
    uint8_t s = 0;
    if (u->mcr & MCR_RTS) s |= MSR_CTS;
    if (u->mcr & MCR_DTR) s |= MSR_DSR;
    if (u->mcr & MCR_OUT1) s |= MSR_RI;
    if (u->mcr & MCR_OUT2) s |= MSR_DCD;
    return s;
}

static void update_msr_delta(struct uart8250 *u)
{
    uint8_t now = msr_status(u), changed = now ^ u->msr_last;
    if (changed & MSR_CTS) u->msr_delta |= MSR_DCTS;
    if (changed & MSR_DSR) u->msr_delta |= MSR_DDSR;
    if (changed & MSR_DCD) u->msr_delta |= MSR_DDCD;
    if ((u->msr_last & MSR_RI) && !(now & MSR_RI)) /* trailing edge of RI */
        u->msr_delta |= MSR_TERI;
    u->msr_last = now;
}

/* The highest-priority pending, enabled interrupt as an IIR id (without FIFO bits). */
static uint8_t iir_id(const struct uart8250 *u)
{
    if ((u->ier & IER_RLSI) && (u->lsr_err & LSR_ERRS)) return IIR_RLSI;
    if ((u->ier & IER_RDI) && u->rx_count)
        return u->rx_count >= rx_trigger(u) ? IIR_RDI : IIR_TIMEOUT;
    if ((u->ier & IER_THRI) && u->thr_ipending) return IIR_THRI;
    if ((u->ier & IER_MSI) && u->msr_delta) return IIR_MSI;
    return IIR_NO_INT;
}

static void update_irq(struct uart8250 *u)
{
    /* On a PC the IRQ reaches the interrupt controller only through OUT2; loopback disconnects
     * the external OUT2 pin. */
    int level = iir_id(u) != IIR_NO_INT && (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
    if (level != u->irq_level) {
        u->irq_level = level;
        irq_set(&u->irq, level);
    }
}

static void rx_clear(struct uart8250 *u)
{
    u->rx_head = u->rx_count = 0;
}

/* Put one byte in the receive FIFO; false (overrun) if full. */
static bool rx_push(struct uart8250 *u, uint8_t byte)
{
    if (u->rx_count >= rx_capacity(u)) {
        u->lsr_err |= LSR_OE;
        return false;
    }
    u->rx[(u->rx_head + u->rx_count) % UART8250_FIFO_SIZE] = byte;
    u->rx_count++;
    return true;
}

static uint8_t rx_pop(struct uart8250 *u)
{
    if (!u->rx_count) return 0;
    uint8_t b = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % UART8250_FIFO_SIZE;
    u->rx_count--;
    return b;
}

static uint8_t read_reg(struct uart8250 *u, unsigned reg)
{
    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB) return (uint8_t)u->divisor;
        return rx_pop(u);
    case REG_IER:
        if (u->lcr & LCR_DLAB) return (uint8_t)(u->divisor >> 8);
        return u->ier;
    case REG_IIR_FCR: {
        uint8_t id = iir_id(u);
        if (id == IIR_THRI) u->thr_ipending = false; /* reading IIR acknowledges THRE */
        return id | ((u->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
    }
    case REG_LCR: return u->lcr;
    case REG_MCR: return u->mcr;
    case REG_LSR: {
        uint8_t v = LSR_THRE | LSR_TEMT | u->lsr_err | (u->rx_count ? LSR_DR : 0);
        u->lsr_err = 0;
        return v;
    }
    case REG_MSR: {
        update_msr_delta(u);
        uint8_t v = msr_status(u) | u->msr_delta;
        u->msr_delta = 0;
        return v;
    }
    default: return u->scr;
    }
}

/* Returns true and sets *tx when a byte leaves for the sink. */
static bool write_reg(struct uart8250 *u, unsigned reg, uint8_t v, uint8_t *tx)
{
    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB) {
            u->divisor = (u->divisor & 0xff00) | v;
            return false;
        }
        /* The byte leaves at once, so THR is empty again: re-arm THRE. */
        u->thr_ipending = true;
        if (u->mcr & MCR_LOOP) {
            rx_push(u, v);
            return false;
        }
        *tx = v;
        return true;
    case REG_IER:
        if (u->lcr & LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0xff) | v << 8);
            return false;
        }
        /* Enabling THRE with an empty THR raises it immediately (Linux's THRE test needs it). */
        if ((v & IER_THRI) && !(u->ier & IER_THRI)) u->thr_ipending = true;
        u->ier = v & 0x0f;
        return false;
    case REG_IIR_FCR:
        if ((v ^ u->fcr) & FCR_ENABLE) rx_clear(u); /* toggling FIFO mode clears both FIFOs */
        if (v & FCR_CLEAR_RX) rx_clear(u);
        if (v & FCR_CLEAR_TX) u->thr_ipending = true;
        u->fcr = v & 0xc9; /* enable, DMA mode, trigger level */
        if (!(u->fcr & FCR_ENABLE)) u->fcr = 0;
        return false;
    case REG_LCR: u->lcr = v; return false;
    case REG_MCR:
        u->mcr = v & 0x1f;
        update_msr_delta(u);
        return false;
    case REG_LSR: return false; /* factory test register on some parts; ignored */
    case REG_MSR: return false;
    default: u->scr = v; return false;
    }
}

static uint64_t uart_io_read(void *opaque, uint64_t off, unsigned size)
{
    struct uart8250 *u = opaque;
    pthread_mutex_lock(&u->lock);
    uint64_t v = read_reg(u, off & 7);
    for (unsigned k = 1; k < size && off + k < 8; k++) /* wide access: byte by byte */
        v |= (uint64_t)read_reg(u, (unsigned)(off + k)) << (8 * k);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return v;
}

static void uart_io_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct uart8250 *u = opaque;
    uint8_t out[8];
    size_t nout = 0;
    pthread_mutex_lock(&u->lock);
    for (unsigned k = 0; k < size && off + k < 8; k++) {
        uint8_t tx;
        if (write_reg(u, (unsigned)(off + k), (uint8_t)(value >> (8 * k)), &tx)) out[nout++] = tx;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    /* Outside the lock: the sink may block on the host or feed input back. */
    if (nout && u->sink.write) u->sink.write(u->sink.opaque, out, nout);
}

static const struct io_ops uart_ops = {uart_io_read, uart_io_write};

static void reset_locked(struct uart8250 *u)
{
    u->ier = u->lcr = u->mcr = u->lsr_err = u->msr_delta = u->scr = u->fcr = 0;
    u->divisor = 12; /* 9600 baud */
    u->thr_ipending = false;
    rx_clear(u);
    u->msr_last = msr_status(u);
    update_irq(u);
}

struct uart8250 *uart8250_create(struct bus *bus, uint16_t base, struct irq_line irq,
                                 struct uart8250_sink sink, const char *name)
{
    struct uart8250 *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    pthread_mutex_init(&u->lock, NULL);
    u->bus = bus;
    u->base = base;
    u->irq = irq;
    u->sink = sink;
    snprintf(u->name, sizeof(u->name), "%s", name ? name : "uart8250");
    reset_locked(u);
    if (bus && bus_add_pio(bus, base, 8, &uart_ops, u, u->name) != 0) {
        pthread_mutex_destroy(&u->lock);
        free(u);
        return NULL;
    }
    return u;
}

void uart8250_destroy(struct uart8250 *u)
{
    if (!u) return;
    if (u->bus) bus_move_pio(u->bus, &uart_ops, u, 0, 0);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

size_t uart8250_receive(struct uart8250 *u, const uint8_t *bytes, size_t n)
{
    size_t k = 0;
    pthread_mutex_lock(&u->lock);
    /* In loopback the receiver is disconnected from the line. */
    if (!(u->mcr & MCR_LOOP))
        while (k < n && u->rx_count < rx_capacity(u))
            rx_push(u, bytes[k++]);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return k;
}

size_t uart8250_rx_room(struct uart8250 *u)
{
    pthread_mutex_lock(&u->lock);
    size_t room = (u->mcr & MCR_LOOP) ? 0 : rx_capacity(u) - u->rx_count;
    pthread_mutex_unlock(&u->lock);
    return room;
}

/* Section "<name>" (e.g. "com1"): u8 ier, lcr, mcr, lsr errors, msr deltas, msr last, scr,
 * fcr; u16 divisor; u8 THRE interrupt armed; u8 n, then the n received bytes oldest first. */
static void uart8250_put_rx(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    const struct uart8250 *u = obj;
    state_put_u8(w, (uint8_t)u->rx_count);
    for (unsigned k = 0; k < u->rx_count; k++)
        state_put_u8(w, u->rx[(u->rx_head + k) % UART8250_FIFO_SIZE]);
}
static const char *uart8250_get_rx(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    struct uart8250 *u = tmp;
    unsigned n = state_get_u8(r);
    if (n > UART8250_FIFO_SIZE) return "more bytes than the FIFO holds";
    rx_clear(u);
    for (unsigned k = 0; k < n; k++)
        rx_push(u, state_get_u8(r)); /* beyond what fcr allows: an overrun, as on the wire */
    return NULL;
}
static const struct state_field uart8250_fields[] = {
    STATE_UINT_M(struct uart8250, ier, 1, 0x0f),
    STATE_U8(struct uart8250, lcr),
    STATE_UINT_M(struct uart8250, mcr, 1, 0x1f),
    STATE_UINT_M(struct uart8250, lsr_err, 1, LSR_ERRS),
    STATE_UINT_M(struct uart8250, msr_delta, 1, 0x0f),
    STATE_UINT_M(struct uart8250, msr_last, 1, 0xf0),
    STATE_U8(struct uart8250, scr),
    STATE_UINT_M(struct uart8250, fcr, 1, 0xc9),
    STATE_U16(struct uart8250, divisor),
    STATE_BOOL(struct uart8250, thr_ipending),
    STATE_CUSTOM("rx", uart8250_put_rx, uart8250_get_rx, NULL),
    STATE_SHADOW(struct uart8250, rx),
    STATE_SHADOW(struct uart8250, rx_head),
    STATE_SHADOW(struct uart8250, rx_count),
};
static const struct state_desc uart8250_desc = STATE_DESC(struct uart8250, uart8250_fields, NULL);

void uart8250_save(struct uart8250 *u, struct state_writer *w)
{
    pthread_mutex_lock(&u->lock);
    state_save_section(w, u->name, STATE_VERSION, &uart8250_desc, u, NULL);
    pthread_mutex_unlock(&u->lock);
}

int uart8250_load(struct uart8250 *u, struct state_reader *r)
{
    pthread_mutex_lock(&u->lock);
    int rc = state_load_section(r, u->name, STATE_VERSION, &uart8250_desc, u, NULL);
    if (rc == 0 && state_committing(r)) {
        u->irq_level = -1; /* force the line to be driven to the loaded level */
        update_irq(u);
    }
    pthread_mutex_unlock(&u->lock);
    return rc;
}
