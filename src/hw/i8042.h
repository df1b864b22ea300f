/* i8042.h — the PS/2 controller at ports 0x60/0x64: enough for Linux's probe and for reset.
 * Controller commands (config byte, self-tests, port enables, output port, pulse reset line),
 * a minimal keyboard that acknowledges commands and reports an MF2 id (so atkbd's probe
 * finishes without timeouts), and no AUX (mouse) port unless the board adds one with a PS/2
 * mouse (ps2_mouse.h) on its own IRQ. Command 0xFE, or clearing bit 0 of the
 * output port, calls the reset callback. Port 0x61 belongs to the PIT. */
#pragma once
#include <stdbool.h>
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

/* Host keyboard input, from any thread: the bytes one key event sends in scancode set 1 (what
 * Linux reads with the controller's translation on, its default), e.g. {0x1e} for 'a' down,
 * {0xe0, 0x9d} for right Ctrl up. All or nothing: false (the event dropped) if the keyboard's
 * buffer lacks room. */
bool i8042_kbd_input(struct i8042 *k, const uint8_t *bytes, unsigned n);

/* Give the controller its AUX port with a PS/2 mouse, raising aux_irq (ISA 12) for its bytes.
 * Call before the guest runs. */
void i8042_enable_aux(struct i8042 *k, struct irq_line aux_irq);
/* Host mouse movement, from any thread: dx right, dy down, buttons bit 0 left, 1 middle,
 * 2 right. True if taken (or dropped by a mouse that is not reporting); false without an AUX
 * port or when the mouse's buffer is full. */
bool i8042_mouse_input(struct i8042 *k, int dx, int dy, unsigned buttons);

/* Section "i8042", and "i8042-aux" with an AUX port. */
void i8042_save(struct i8042 *k, struct state_writer *w);
int i8042_load(struct i8042 *k, struct state_reader *r);
