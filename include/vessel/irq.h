/* irq.h — an interrupt line as a small object (after TinyEMU): a device holds an irq_line and
 * sets its level; whoever wired it (IOAPIC pin, PIC, test probe) decides what that means.
 * Message-signalled interrupts go through an msi_sink instead (the LAPIC in a PC). */
#pragma once
#include <stdint.h>

struct irq_line {
    void (*set_level)(void *opaque, unsigned pin, int level);
    void *opaque;
    unsigned pin;
};

static inline void irq_set(const struct irq_line *l, int level)
{
    if (l && l->set_level) l->set_level(l->opaque, l->pin, level);
}
static inline void irq_raise(const struct irq_line *l)
{
    irq_set(l, 1);
}
static inline void irq_lower(const struct irq_line *l)
{
    irq_set(l, 0);
}
/* An edge: raise then lower, for edge-triggered sources. */
static inline void irq_pulse(const struct irq_line *l)
{
    irq_set(l, 1);
    irq_set(l, 0);
}

/* MSI / MSI-X: a 32-bit write of `data` to `addr` (0xFEExxxxx on x86). */
struct msi_sink {
    void (*send)(void *opaque, uint64_t addr, uint32_t data);
    void *opaque;
};

static inline void msi_send(const struct msi_sink *s, uint64_t addr, uint32_t data)
{
    if (s && s->send) s->send(s->opaque, addr, data);
}
