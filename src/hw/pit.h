/* pit.h — the 8254 programmable interval timer (ports 0x40-0x43) and the PC's system control
 * port B (0x61: channel 2 gate, speaker enable, refresh toggle, channel 2 output). Channel 0's
 * output drives an irq_line (ISA IRQ 0, wired by the board to IOAPIC pin 2); counts run at
 * 1.193182 MHz derived from the host monotonic clock. */
#pragma once
#include <stdint.h>

#include "vessel/irq.h"

struct bus;
struct state_writer;
struct state_reader;

#define PIT_HZ     1193182u
#define PIT_BASE   0x40
#define PIT_PORT_B 0x61

struct pit;

/* now: host monotonic ns (NULL: clock_ns); tests pass a fake clock. NULL on failure. */
struct pit *pit_create(struct bus *bus, struct irq_line irq0, uint64_t (*now)(void));
void pit_destroy(struct pit *p);
/* Host ns of channel 0's next interrupt (UINT64_MAX if none); raise what is due at now_ns. */
uint64_t pit_next_deadline(struct pit *p);
void pit_update(struct pit *p, uint64_t now_ns);

/* Section "pit". */
void pit_save(struct pit *p, struct state_writer *w);
int pit_load(struct pit *p, struct state_reader *r);
