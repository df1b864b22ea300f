/* lapic.h — the local APIC (xAPIC, MMIO at 0xFEE00000; no x2APIC) of a vCPU: the CPU's
 * interrupt controller (struct vcpu_intc_ops), the target of MSI messages (including the
 * IOAPIC's), the APIC timer (one-shot, periodic, TSC-deadline), and with several CPUs the
 * inter-processor interrupts and the INIT/SIPI start-up protocol.
 *
 * One CPU: lapic_create with no apic_bus registers the MMIO page itself and the ICR reaches only
 * this LAPIC. Several: the board makes an apic_bus (the system bus of real APICs), every LAPIC
 * joins it, and the bus owns the one MMIO page at LAPIC_BASE, sending each access to the LAPIC
 * of the calling thread's vCPU (lapic_bind_thread); ICR writes and MSIs go to every LAPIC their
 * destination names (physical, logical flat or cluster, shorthands self/all/all-but-self).
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

struct apic_bus;

struct lapic_config {
    unsigned id; /* APIC id (0 for the BSP) */
    /* NULL: the only LAPIC (registers its own MMIO page). Otherwise the bus it joins. */
    struct apic_bus *apic_bus;
    /* An application processor: it starts in wait-for-SIPI (lapic_startup_take). */
    bool ap;
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
    /* The timer's deadline moved (register or MSR write): whoever fires timers looks again.
     * Called on the writing vCPU's thread, without the lock; kick_opaque. NULL: nothing. */
    void (*timer_armed)(void *opaque);
};

/* Start-up events for the vCPU (lapic_startup_take). */
enum lapic_startup {
    LAPIC_SU_NONE,
    LAPIC_SU_INIT,   /* INIT: reset the CPU to wait-for-SIPI */
    LAPIC_SU_SIPI,   /* start-up IPI: real mode at vector << 12 */
    LAPIC_SU_WAKE64, /* ACPI multiprocessor wakeup: 64-bit mode at the given address */
};

#define LAPIC_MAX_CPUS 64

/* The APIC bus of a board with several CPUs; registers the MMIO page at LAPIC_BASE. */
struct apic_bus *apic_bus_create(struct bus *bus);
void apic_bus_destroy(struct apic_bus *ab);
/* MSIs (and the IOAPIC's messages) to any destination. */
struct msi_sink apic_bus_msi_sink(struct apic_bus *ab);
/* The LAPIC whose APIC id is `id`, or NULL. */
struct lapic *apic_bus_find(struct apic_bus *ab, unsigned id);
/* MMIO accesses of the calling thread go to `l` (a vCPU thread binds its own LAPIC once). */
void lapic_bind_thread(struct lapic *l);

/* The start-up event pending for this CPU, consumed; *vector gets its vector (SIPI) or entry
 * address (WAKE64). Called by the vCPU's thread. */
enum lapic_startup lapic_startup_take(struct lapic *l, uint64_t *vector);
/* Whether the CPU waits for a SIPI (after INIT, or an AP never started). */
bool lapic_waiting_for_sipi(struct lapic *l);
/* Whether a start-up event or an NMI is pending (a sleeping vCPU thread wakes for it). */
bool lapic_startup_pending(struct lapic *l);
/* Wake a CPU waiting for SIPI into 64-bit code at `entry` (the ACPI mailbox). Returns false if
 * the CPU is not waiting. Kicks it. */
bool lapic_mp_wake(struct lapic *l, uint64_t entry);
/* The CPU stopped (a triple fault on an AP): it waits for INIT/SIPI again. */
void lapic_park(struct lapic *l);
/* An NMI is pending for this CPU; consumed. */
bool lapic_nmi_take(struct lapic *l);

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
