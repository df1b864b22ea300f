/* virtio_pci.h — the virtio 1.x modern PCI transport (virtio spec §4.1): vendor capabilities
 * locating the common configuration, notification, ISR and device-specific configuration
 * windows in one 64-bit memory BAR; MSI-X with a vector per queue (INTx when MSI-X is off);
 * feature negotiation and device reset.
 *
 * A virtio device (blk, net, console, rng) embeds a struct virtio_dev, fills in its ops and
 * features, and calls virtio_pci_init. The transport owns the virtqueues' configuration; the
 * device pops and pushes requests (virtq.h) and calls virtio_queue_notify when it pushed. A
 * malformed queue puts only this device into DEVICE_NEEDS_RESET. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/pci.h"
#include "virtio/virtq.h"

struct state_writer;
struct state_reader;

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device id */
#define VIRTIO_MAX_QUEUES      8

/* Virtio device ids */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

/* Device status */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

/* Transport feature bits */
#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX     (1ull << 29)
#define VIRTIO_F_VERSION_1     (1ull << 32)

/* BAR 4 layout */
#define VIRTIO_PCI_BAR        4
#define VIRTIO_PCI_BAR_SIZE   0x10000
#define VIRTIO_PCI_COMMON     0x0000
#define VIRTIO_PCI_ISR        0x1000
#define VIRTIO_PCI_DEVICE_CFG 0x2000
#define VIRTIO_PCI_NOTIFY     0x3000
#define VIRTIO_PCI_NOTIFY_MUL 4
#define VIRTIO_PCI_MSIX_TABLE 0x8000
#define VIRTIO_PCI_MSIX_PBA   0x9000
#define VIRTIO_MSI_NO_VECTOR  0xffff

struct virtio_dev;

struct virtio_dev_ops {
    /* The driver kicked queue q (called on the vCPU thread). */
    void (*queue_notify)(struct virtio_dev *vd, unsigned q);
    /* Device-specific configuration space (offset relative to its start). */
    uint64_t (*config_read)(struct virtio_dev *vd, uint64_t offset, unsigned size);
    void (*config_write)(struct virtio_dev *vd, uint64_t offset, uint64_t value, unsigned size);
    /* The driver reset the device: stop using the queues before returning. */
    void (*reset)(struct virtio_dev *vd);
    /* The driver set DRIVER_OK: queues are configured. Optional. */
    void (*driver_ok)(struct virtio_dev *vd);
};

struct virtio_dev {
    struct pci_device pci;
    struct bus *bus;
    const struct virtio_dev_ops *ops;
    void *opaque; /* the device's own state */
    const char *name;
    uint16_t device_id;
    uint64_t host_features, guest_features;
    uint32_t dfselect, gfselect;
    uint8_t status;
    uint8_t config_generation;
    uint16_t config_msix;
    uint16_t queue_sel;
    unsigned nqueues;
    uint16_t queue_max;
    struct virtq vq[VIRTIO_MAX_QUEUES];
    uint8_t isr;
    pthread_mutex_t lock; /* isr and interrupt delivery: device threads notify */
};

/* Set up the PCI function and register it on the host bridge (slot < 0: first free).
 * Returns 0 or -1. */
int virtio_pci_init(struct virtio_dev *vd, struct pci_host *host, struct bus *bus, const char *name,
                    uint16_t device_id, uint32_t class_code, unsigned nqueues, uint16_t queue_max,
                    uint64_t features, const struct virtio_dev_ops *ops, void *opaque, int slot);
void virtio_pci_destroy(struct virtio_dev *vd);

/* Interrupt the driver for queue q if it wants one (event index / flags). Thread-safe. */
void virtio_queue_notify(struct virtio_dev *vd, unsigned q);
/* Configuration changed: bump the generation and interrupt. Thread-safe. */
void virtio_config_notify(struct virtio_dev *vd);
/* A queue turned out malformed: DEVICE_NEEDS_RESET + config interrupt (logged once by virtq). */
void virtio_set_needs_reset(struct virtio_dev *vd);
/* Whether the driver accepted feature `bit` (a mask). */
static inline bool virtio_has_feature(const struct virtio_dev *vd, uint64_t bit)
{
    return (vd->guest_features & bit) != 0;
}
static inline bool virtio_driver_ok(const struct virtio_dev *vd)
{
    return (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(vd->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Transport + PCI function + queues, inside the device's own section. */
void virtio_pci_save(struct virtio_dev *vd, struct state_writer *w);
int virtio_pci_load(struct virtio_dev *vd, struct state_reader *r);
