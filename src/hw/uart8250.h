/* uart8250.h — a 16550A UART (8 ports at `base`, e.g. 0x3F8 for COM1) with 16-byte FIFOs,
 * interrupt identification priorities, modem-control loopback and OUT2 interrupt gating.
 * Transmitted bytes go to a sink callback; received bytes are pushed by the board. The IRQ is
 * level: high while an enabled interrupt condition is pending and OUT2 is set.
 * Thread-safe: uart8250_receive may be called from another thread than the vCPU's. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "vessel/irq.h"

struct bus;
struct state_writer;
struct state_reader;

#define UART8250_COM1_BASE 0x3F8
#define UART8250_COM1_IRQ  4
#define UART8250_FIFO_SIZE 16

struct uart8250_sink {
    /* Bytes the guest transmitted (not called in loopback mode). */
    void (*write)(void *opaque, const uint8_t *buf, size_t len);
    void *opaque;
};

struct uart8250;

/* `name` names the bus range and the state section ("uart8250" if NULL); use distinct names
 * for several UARTs. NULL on failure. */
struct uart8250 *uart8250_create(struct bus *bus, uint16_t base, struct irq_line irq,
                                 struct uart8250_sink sink, const char *name);
void uart8250_destroy(struct uart8250 *u);
/* Push host input into the receive FIFO; returns how many bytes fit. */
size_t uart8250_receive(struct uart8250 *u, const uint8_t *bytes, size_t n);
/* Free room in the receive FIFO. */
size_t uart8250_rx_room(struct uart8250 *u);

void uart8250_save(struct uart8250 *u, struct state_writer *w);
int uart8250_load(struct uart8250 *u, struct state_reader *r);
