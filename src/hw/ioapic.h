/* ioapic.h — the I/O APIC at 0xFEC00000: 24 interrupt pins with a redirection table, edge and
 * level triggering (remote IRR cleared by the LAPIC's EOI broadcast), masking and polarity.
 * Interrupts leave as MSI-format messages to a sink (the LAPIC), as on real chipsets.
 *
 * Devices reach pins through irq_lines from ioapic_irq_line(). Thread-safe (mutex); messages are
 * sent while holding the IOAPIC lock, so the sink must not call back into the IOAPIC
 * synchronously (the LAPIC calls eoi callbacks without its own lock, after the fact). */
#pragma once
#include <stdint.h>

#include "vessel/irq.h"

struct bus;
struct state_writer;
struct state_reader;

#define IOAPIC_BASE    0xFEC00000ull
#define IOAPIC_SIZE    0x1000ull
#define IOAPIC_PINS    24
#define IOAPIC_VERSION 0x20

struct ioapic;

struct ioapic *ioapic_create(struct bus *bus, uint64_t base, struct msi_sink out);
void ioapic_destroy(struct ioapic *io);
/* Input pin levels: 1 asserted, 0 deasserted (logical levels: the polarity bit the guest
 * programs is kept but inverts nothing, as in QEMU). Edge-triggered pins fire on 0->1. */
void ioapic_set_level(struct ioapic *io, unsigned pin, int level);
/* An irq_line whose set_level drives ioapic pin `pin`. */
struct irq_line ioapic_irq_line(struct ioapic *io, unsigned pin);
/* EOI broadcast from the LAPIC for a level-triggered `vector`: clears remote IRR, re-delivers
 * pins still asserted. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/* Section "ioapic". */
void ioapic_save(struct ioapic *io, struct state_writer *w);
int ioapic_load(struct ioapic *io, struct state_reader *r);
