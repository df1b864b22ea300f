/* pc.h — the vessel PC board: guest RAM and the memory map, one vCPU with its LAPIC, the IOAPIC
 * and the legacy devices wired to its pins, the PCI host bridge, the ACPI tables and power
 * registers, pvpanic, and the Linux kernel loaded for direct 64-bit boot.
 *
 * The board owns wiring, not policy: what a power-off, reset or panic means for the process is
 * decided by the caller (src/vm/) through the event callbacks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/acpi_pm.h"
#include "vessel/bus.h"

/* Legacy ISA devices and their IOAPIC inputs (GSIs). The MADT's interrupt source override
 * maps ISA IRQ0 (the PIT) to GSI 2; the others are identity-mapped. */
#define PC_COM1_PORT    0x3F8
#define PC_COM1_GSI     4
#define PC_PIT_GSI      2
#define PC_RTC_GSI      8
#define PC_KBD_GSI      1
#define PC_PCI_GSI      16 /* host INTx lines 0..3 -> GSIs 16..19 (level, active low) */
#define PC_PVPANIC_PORT 0x505

struct vcpu;
struct lapic;
struct ioapic;
struct uart8250;
struct pvpanic;
struct pci_host;
struct pit;
struct rtc;
struct i8042;
struct disk_backend;
struct virtio_blk;
struct net_backend;
struct virtio_net;
struct virtio_rng;
struct virtio_console;

struct pc_events {
    void (*poweroff)(void *opaque);               /* ACPI S5 */
    void (*reset)(void *opaque);                  /* ACPI reset register, keyboard reset */
    void (*panic)(void *opaque, unsigned events); /* pvpanic events */
    void (*serial_out)(void *opaque, const uint8_t *buf, size_t len); /* COM1 transmit */
    void (*kick)(void *opaque); /* an interrupt became pending (any thread) */
    void *opaque;
};

#define PC_MAX_DISKS 4

struct pc_config {
    uint64_t ram_size;
    const char *kernel, *initrd, *cmdline;
    const char *disks[PC_MAX_DISKS]; /* raw images for virtio-blk, in slot order */
    bool disk_ro[PC_MAX_DISKS];
    unsigned ndisks;
    const char *net;                   /* backend/net.h spec for virtio-net, or NULL */
    bool rng;                          /* virtio-rng */
    const char *disk_id[PC_MAX_DISKS]; /* virtio-blk serials, NULL for "vessel-diskN" */
    const char *mac;                   /* virtio-net MAC, NULL for 52:54:00:12:34:56 */
    bool hvc;                          /* a virtio-console carries the console */
    struct pc_events events;
};

struct pc {
    struct bus bus;
    struct pc_events events;
    struct vcpu *vcpu;
    struct lapic *lapic;
    struct ioapic *ioapic;
    struct uart8250 *com1;
    struct pvpanic *pvpanic;
    struct pci_host *pci;
    struct pit *pit;
    struct rtc *rtc;
    struct i8042 *kbd;
    struct acpi_pm pm;
    struct disk_backend *disk[PC_MAX_DISKS];
    struct virtio_blk *blk[PC_MAX_DISKS];
    struct net_backend *netb;
    struct virtio_net *nic;
    struct virtio_rng *rng;
    struct virtio_console *hvc;
    uint64_t rsdp_addr;
};

/* Build the machine (virtio devices on PCI slots 1.. in the order rng, disks, net) and load
 * the kernel. Returns NULL with a one-line reason in err; `usage`
 * is set when the reason is the operator's input (missing or malformed kernel/initrd) rather
 * than a host failure. */
struct pc *pc_create(const struct pc_config *cfg, char *err, size_t errlen, int *usage);
void pc_destroy(struct pc *pc);

/* The whole machine's state (pc_state.c): board, RAM, vCPU and every device, each in its own
 * versioned section. pc_load needs a board created with the same configuration; 0 or -1
 * (logged). */
struct state_writer;
void pc_save(struct pc *pc, struct state_writer *w);
int pc_load(struct pc *pc, const void *data, size_t len);

/* Fire every device timer due at host time now_ns; returns the earliest next deadline (host
 * ns, UINT64_MAX if none). */
uint64_t pc_update_timers(struct pc *pc, uint64_t now_ns);
/* Whether the LAPIC has an interrupt the CPU could take now (a halted vCPU will wake). */
bool pc_irq_pending(struct pc *pc);
/* Host input for COM1; returns how many bytes the UART took. */
size_t pc_serial_input(struct pc *pc, const uint8_t *buf, size_t len);
/* Host input for the console device (COM1, or virtio-console with hvc). */
size_t pc_console_input(struct pc *pc, const uint8_t *buf, size_t len);
