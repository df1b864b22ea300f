/* i8042.h — the PS/2 controller at ports 0x60/0x64: enough for Linux's probe and for reset.
 * Controller commands (config byte, self-tests, port enables, output port, pulse reset line),
 * a minimal keyboard that acknowledges commands and reports an MF2 id (so atkbd's probe
 * finishes without timeouts), and no AUX (mouse) port. Command 0xFE, or clearing bit 0 of the
 * output port, calls the reset callback. Port 0x61 belongs to the PIT. */
#pragma once
#include <stdint.h>

#include "vessel/irq.h"

struct bus;
struct state_writer;
struct state_reader;

#define I8042_DATA_PORT   0x60
#define I8042_STATUS_PORT 0x64
#define I8042_KBD_IRQ     1

struct i8042;

/* reset: the guest pulsed the CPU reset line (the board reboots or stops the VM). */
struct i8042 *i8042_create(struct bus *bus, struct irq_line kbd_irq, void (*reset)(void *opaque),
                           void *opaque);
void i8042_destroy(struct i8042 *k);

/* Section "i8042". */
void i8042_save(struct i8042 *k, struct state_writer *w);
int i8042_load(struct i8042 *k, struct state_reader *r);
