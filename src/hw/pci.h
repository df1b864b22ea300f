/* pci.h — the PCI device model and the host bridge (configuration mechanism #1, bus 0 only).
 *
 * A PCI function embeds a struct pci_device in its own state, fills its config space (ids,
 * class, BARs, capabilities) with pci_device_init and the helpers below, and registers it on the
 * host bridge. The model keeps the 256-byte config space with a per-byte write mask, maps BARs
 * onto the bus when the guest programs them and enables decoding in the command register, drives
 * INTx through the host's swizzled lines, and implements MSI-X tables for transports (virtio-pci)
 * that put them in one of their BARs.
 *
 * Windows below are what the firmware tables (DSDT _CRS) announce; BARs are assigned by the guest
 * (or by the board before boot) inside them. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vessel/bus.h"
#include "vessel/irq.h"

struct state_writer;
struct state_desc;
struct state_reader;

/* Address windows routed to PCI (inclusive ends), agreed with the DSDT. */
#define PCI_MMIO_WINDOW_BASE 0xC0000000ull
#define PCI_MMIO_WINDOW_END  0xFEBFFFFFull
#define PCI_IO_WINDOW_BASE   0x1000u
#define PCI_IO_WINDOW_END    0xFFFFu

#define PCI_CONFIG_ADDRESS_PORT 0xCF8
#define PCI_CONFIG_DATA_PORT    0xCFC

#define PCI_MAX_SLOTS   32
#define PCI_NUM_BARS    6
#define PCI_CONFIG_SIZE 256

/* Host bridge identity (device 0). */
#define PCI_HOST_VENDOR_ID 0x8086
#define PCI_HOST_DEVICE_ID 0x29c0

/* INTx: slot `slot`, interrupt pin `pin` (0 = INTA .. 3 = INTD) drives host line
 * PCI_INTX_SWIZZLE(slot, pin); the board wires the four lines to IOAPIC pins and the DSDT _PRT
 * describes the same mapping. */
#define PCI_INTX_LINES            4
#define PCI_INTX_SWIZZLE(slot, p) (((slot) + (p)) & 3)

/* Standard config header offsets. */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_STATUS              0x06
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_CACHE_LINE_SIZE     0x0c
#define PCI_LATENCY_TIMER       0x0d
#define PCI_HEADER_TYPE         0x0e
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_ROM_ADDRESS         0x30
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3c
#define PCI_INTERRUPT_PIN       0x3d

#define PCI_COMMAND_IO           0x0001
#define PCI_COMMAND_MEMORY       0x0002
#define PCI_COMMAND_MASTER       0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT     0x0008
#define PCI_STATUS_CAP_LIST      0x0010

#define PCI_CAP_ID_MSI       0x05
#define PCI_CAP_ID_VNDR      0x09
#define PCI_CAP_ID_MSIX      0x11
#define PCI_MSIX_FLAGS       2 /* offset of Message Control inside the MSI-X capability */
#define PCI_MSIX_ENABLE      0x8000
#define PCI_MSIX_MASKALL     0x4000
#define PCI_MSIX_ENTRY_SIZE  16
#define PCI_MSIX_MAX_VECTORS 64

enum pci_bar_type { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_device;

/* Optional per-function hooks. */
struct pci_device_ops {
    /* After a guest config write landed in config[] (masked); e.g. virtio's pci_cfg window. */
    void (*config_write)(struct pci_device *d, unsigned offset, uint32_t value, unsigned size);
    /* Before a guest config read is served from config[]: refresh volatile bytes. */
    void (*config_read)(struct pci_device *d, unsigned offset, unsigned size);
};

struct pci_bar {
    enum pci_bar_type type;
    uint64_t size; /* power of two; 0 = unused */
    bool prefetchable;
    const struct io_ops *ops; /* the function's handler; offset is relative to the BAR */
    void *opaque;
    uint64_t mapped; /* address decoded on the bus, or PCI_BAR_UNMAPPED */
    bool registered; /* has a bus range (possibly of length 0) */
    struct pci_device *dev;
};
#define PCI_BAR_UNMAPPED UINT64_MAX

struct pci_msix {
    unsigned nvec;
    uint8_t cap; /* config offset of the capability, 0 = none */
    uint8_t table[PCI_MSIX_MAX_VECTORS * PCI_MSIX_ENTRY_SIZE];
    uint64_t pending; /* PBA bits */
};

struct pci_device {
    uint8_t config[PCI_CONFIG_SIZE];
    uint8_t wmask[PCI_CONFIG_SIZE];   /* bits the guest may write */
    uint8_t w1cmask[PCI_CONFIG_SIZE]; /* bits the guest clears by writing 1 */
    struct pci_bar bar[PCI_NUM_BARS];
    struct pci_msix msix;
    pthread_mutex_t lock; /* MSI-X table/PBA and INTx level: I/O threads signal */
    const struct pci_device_ops *ops;
    void *opaque; /* for the function's hooks */
    const char *name;
    struct pci_host *host; /* set by pci_host_register */
    unsigned slot;
    int intx_level;  /* what the function asks for, before INTx-disable */
    uint8_t cap_end; /* next free config offset for capabilities */
};

/* Device model. */
void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code /* base<<16 | sub<<8 | prog-if */, uint8_t revision,
                     const struct pci_device_ops *ops, void *opaque);
void pci_device_set_subsystem(struct pci_device *d, uint16_t vendor, uint16_t id);
/* interrupt_pin: 0 none, 1 INTA .. 4 INTD. */
void pci_device_set_interrupt_pin(struct pci_device *d, uint8_t interrupt_pin);
/* Declare BAR `idx` (a 64-bit BAR also uses idx+1). size: power of two, >= 16 for memory and
 * >= 4 for I/O. Returns 0 or -1. Accesses to the BAR reach ops with the BAR-relative offset. */
int pci_device_add_bar(struct pci_device *d, unsigned idx, enum pci_bar_type type, uint64_t size,
                       bool prefetchable, const struct io_ops *ops, void *opaque);
/* Append a capability of `size` bytes (header included) to the list; returns its config
 * offset, or 0 if config space is full. The body is zero and read-only until the caller sets
 * wmask bytes. */
unsigned pci_device_add_capability(struct pci_device *d, uint8_t id, unsigned size);
/* INTx level from the function (honours the command register's INTx-disable). Thread-safe. */
void pci_device_set_irq(struct pci_device *d, int level);
void pci_device_destroy(struct pci_device *d);

/* Config space accessors for the function's own use (no masks, no hooks). */
static inline uint8_t pci_get8(const struct pci_device *d, unsigned off)
{
    return off < PCI_CONFIG_SIZE ? d->config[off] : 0xff;
}
static inline uint16_t pci_get16(const struct pci_device *d, unsigned off)
{
    return (uint16_t)(pci_get8(d, off) | pci_get8(d, off + 1) << 8);
}
static inline uint32_t pci_get32(const struct pci_device *d, unsigned off)
{
    return (uint32_t)pci_get16(d, off) | (uint32_t)pci_get16(d, off + 2) << 16;
}
static inline void pci_set8(struct pci_device *d, unsigned off, uint8_t v)
{
    if (off < PCI_CONFIG_SIZE) d->config[off] = v;
}
static inline void pci_set16(struct pci_device *d, unsigned off, uint16_t v)
{
    pci_set8(d, off, (uint8_t)v);
    pci_set8(d, off + 1, (uint8_t)(v >> 8));
}
static inline void pci_set32(struct pci_device *d, unsigned off, uint32_t v)
{
    pci_set16(d, off, (uint16_t)v);
    pci_set16(d, off + 2, (uint16_t)(v >> 16));
}

/* Guest config access as the host bridge performs it (offset+size within 256 bytes). */
uint32_t pci_config_read(struct pci_device *d, unsigned offset, unsigned size);
void pci_config_write(struct pci_device *d, unsigned offset, uint32_t value, unsigned size);

/* MSI-X: add the capability with `nvec` vectors whose table and PBA live in the function's own
 * BARs at the given offsets; the function's BAR handler forwards those ranges to
 * pci_msix_table_read/write and pci_msix_pba_read. Returns the capability offset or 0. */
unsigned pci_msix_init(struct pci_device *d, unsigned nvec, unsigned table_bar,
                       uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset);
bool pci_msix_enabled(struct pci_device *d);
uint64_t pci_msix_table_read(struct pci_device *d, uint64_t offset, unsigned size);
void pci_msix_table_write(struct pci_device *d, uint64_t offset, uint64_t value, unsigned size);
uint64_t pci_msix_pba_read(struct pci_device *d, uint64_t offset, unsigned size);
/* Signal MSI-X `vector` (sets the pending bit instead if masked). Thread-safe. Returns false
 * if MSI-X is disabled or vector is out of range (the caller may fall back to INTx). */
bool pci_msix_notify(struct pci_device *d, unsigned vector);

/* Function state inside the owner's section: config space, MSI-X table; load remaps BARs.
 * Owners with a field table nest pci_device_state (STATE_STRUCT) and call
 * pci_device_state_loaded after their commit (INTx line, BAR mappings). */
void pci_device_save(struct pci_device *d, struct state_writer *w);
int pci_device_load(struct pci_device *d, struct state_reader *r);
extern const struct state_desc pci_device_state;
void pci_device_state_loaded(struct pci_device *d);

/* Host bridge: ports 0xCF8-0xCFF; MSI messages go to `msi` (the LAPIC); INTx line k (see
 * PCI_INTX_SWIZZLE) goes to intx[k], announced to the guest as interrupt line gsi[k]. */
struct pci_host;
struct pci_host *pci_host_create(struct bus *bus, struct msi_sink msi,
                                 const struct irq_line intx[PCI_INTX_LINES],
                                 const uint8_t gsi[PCI_INTX_LINES]);
void pci_host_destroy(struct pci_host *h);
/* What a write of RST_CPU (0 -> 1) to the reset control register at 0xCF9 calls: the board's
 * reset (firmware's hard reboot, Linux's reboot=pci). Without one the write does nothing. */
void pci_host_set_reset(struct pci_host *h, void (*reset)(void *opaque), void *opaque);
/* Register a function at `slot` (1..31), or the first free slot if slot < 0. Returns the slot
 * or -1. The host does not own d. */
int pci_host_register(struct pci_host *h, struct pci_device *d, int slot);
struct bus *pci_host_bus(struct pci_host *h);
/* Send an MSI through the host (what MSI-X uses). */
void pci_host_msi(struct pci_host *h, uint64_t addr, uint32_t data);
/* Firmware's job before boot: give every BAR an address in the PCI windows and enable
 * decoding and bus mastering, so a guest that trusts firmware finds working devices. */
void pci_host_assign_bars(struct pci_host *h);
/* Section "pci-host": the address latch and host bridge config; functions save themselves. */
void pci_host_save(struct pci_host *h, struct state_writer *w);
int pci_host_load(struct pci_host *h, struct state_reader *r);
