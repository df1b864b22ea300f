/* i8259.h — the PC's two cascaded 8259A programmable interrupt controllers (master at
 * 0x20-0x21, slave at 0xA0-0xA1 on the master's IRQ 2) with the PIIX edge/level control
 * registers at 0x4D0-0x4D1. Firmware (SeaBIOS) and real-mode software take their interrupts
 * through it; a CPU sees its output through the local APIC's LINT0 in ExtINT mode (the
 * "virtual wire") or directly while the APIC is off.
 *
 * Interrupt sources set ISA line levels with i8259_irq_line() (0-15); edge-triggered inputs
 * latch a rising edge in IRR, level-triggered ones (ELCR) follow the line. The output is a
 * callback with the INTR level; the CPU's interrupt acknowledge is i8259_intack(), which returns
 * the vector (a spurious IRQ 7 or 15 when the request went away, as the hardware does). The
 * initialization words, masks, EOIs (specific, non-specific, rotating), auto-EOI, priority
 * rotation, special mask mode, poll mode and IRR/ISR reads follow the 8259A data sheet. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "vessel/irq.h"

struct bus;
struct state_writer;
struct state_reader;

#define I8259_MASTER_PORT 0x20
#define I8259_SLAVE_PORT  0xA0
#define I8259_ELCR_PORT   0x4D0

struct i8259;

struct i8259_config {
    /* The INTR output changed (any thread that sets a line; the board kicks the vCPU). */
    void (*intr)(void *opaque, bool level);
    void *opaque;
};

/* Both chips and the ELCR on their ports; NULL on failure. */
struct i8259 *i8259_create(struct bus *bus, const struct i8259_config *cfg);
void i8259_destroy(struct i8259 *p);
/* ISA line `irq` (0-15) for a device to drive. */
struct irq_line i8259_irq_line(struct i8259 *p, unsigned irq);
/* Whether INTR is asserted (an unmasked request above the in-service priority). */
bool i8259_intr(const struct i8259 *p);
/* The vector i8259_intack() would return now, or -1 while INTR is low; changes nothing. */
int i8259_vector(struct i8259 *p);
/* The CPU takes the interrupt: returns its vector and updates ISR/IRR. */
uint8_t i8259_intack(struct i8259 *p);

/* Section "i8259": both chips and the ELCR. */
void i8259_save(const struct i8259 *p, struct state_writer *w);
int i8259_load(struct i8259 *p, struct state_reader *r);
