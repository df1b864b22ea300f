/* lapic.h — the local APIC (xAPIC, MMIO at 0xFEE00000; no x2APIC) of the single vCPU: the
 * CPU's interrupt controller (struct vcpu_intc_ops), the target of MSI messages (including the
 * IOAPIC's), and the APIC timer (one-shot, periodic, TSC-deadline).
 *
 * Thread-safe: any thread may deliver interrupts; after making one pending the LAPIC calls the
 * `kick` callback (the board makes vcpu_run return and wakes its main loop). Callbacks (kick,
 * eoi) are called without the LAPIC's lock held, so they may call back into the IOAPIC. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "vessel/cpu.h"
#include "vessel/irq.h"

struct bus;
struct state_writer;
struct state_reader;

#define LAPIC_BASE            0xFEE00000ull
#define LAPIC_SIZE            0x1000ull
#define LAPIC_VERSION         0x00050014u /* version 0x14, max LVT entry 5 */
#define MSR_IA32_APICBASE     0x1B
#define MSR_IA32_TSC_DEADLINE 0x6E0
#define APICBASE_BSP          (1ull << 8)
#define APICBASE_ENABLE       (1ull << 11)

/* Delivery modes (ICR, LVT, MSI data bits 10:8). */
#define APIC_DM_FIXED   0
#define APIC_DM_LOWEST  1
#define APIC_DM_SMI     2
#define APIC_DM_NMI     4
#define APIC_DM_INIT    5
#define APIC_DM_STARTUP 6
#define APIC_DM_EXTINT  7

struct lapic_config {
    unsigned id; /* APIC id (0 for the BSP) */
    /* Host monotonic ns; NULL means clock_ns. Tests pass a fake clock. */
    uint64_t (*now)(void);
    /* Guest TSC now (for TSC-deadline mode) and its frequency. read_tsc NULL disables that mode. */
    uint64_t (*read_tsc)(void *opaque);
    void *tsc_opaque;
    uint64_t tsc_hz;
    /* An interrupt became pending. */
    void (*kick)(void *opaque);
    void *kick_opaque;
    /* EOI of a level-triggered vector: broadcast to the IOAPIC (ioapic_eoi). */
    void (*eoi)(void *opaque, uint8_t vector);
    void *eoi_opaque;
    /* An 8259 PIC behind LINT0 (boards booting firmware): the vector its INTR would give now
     * (-1: none) and the CPU's acknowledge (returns the vector taken). Its interrupts are
     * taken while LINT0 is unmasked ExtINT or the APIC is globally disabled; with a PIC the
     * BSP's LINT0 leaves reset as ExtINT, unmasked, as QEMU's does, so firmware gets its timer
     * before it programs the virtual wire. The board reports INTR with lapic_set_extint().
     * NULL: no PIC. */
    int (*extint_vector)(void *opaque);
    uint8_t (*extint_ack)(void *opaque);
    void *extint_opaque;
};

struct lapic;

/* Registers the MMIO page at LAPIC_BASE. NULL on failure. */
struct lapic *lapic_create(struct bus *bus, const struct lapic_config *cfg);
void lapic_destroy(struct lapic *l);

/* The CPU side: vcpu_set_intc(vcpu, &lapic_intc_ops, lapic). */
extern const struct vcpu_intc_ops lapic_intc_ops;
/* MSI target (addr 0xFEExxxxx, data: vector | delivery mode << 8 | level << 14 | trigger << 15).
 * The IOAPIC delivers through this too. */
struct msi_sink lapic_msi_sink(struct lapic *l);
void lapic_msi(struct lapic *l, uint64_t addr, uint32_t data);
/* Make `vector` pending directly (fixed delivery); level_triggered sets TMR so EOI broadcasts. */
void lapic_set_irq(struct lapic *l, uint8_t vector, bool level_triggered);
/* The PIC's INTR output (any thread); a rising level kicks the vCPU. */
void lapic_set_extint(struct lapic *l, bool level);

/* IA32_APIC_BASE and IA32_TSC_DEADLINE; false for other MSRs. */
bool lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value);
bool lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value);

/* Timer: host ns of the next expiry (UINT64_MAX if none); fire what is due at now_ns. */
uint64_t lapic_next_deadline(struct lapic *l);
void lapic_update(struct lapic *l, uint64_t now_ns);

/* Section "lapic". Load returns 0 or -1. */
void lapic_save(struct lapic *l, struct state_writer *w);
int lapic_load(struct lapic *l, struct state_reader *r);
