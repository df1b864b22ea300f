/* virtio_pci.h — the virtio 1.x modern PCI transport (virtio spec §4.1) for a virtio device
 * (virtio.h): vendor capabilities locating the common configuration, notification, ISR and
 * device-specific configuration windows in one 64-bit memory BAR; MSI-X with a vector per queue
 * (INTx when MSI-X is off). The device itself knows nothing of PCI: it calls virtio_pci_init
 * with its settings and is otherwise reached through its virtio_dev_ops. */
#pragma once
#include <stdint.h>

#include "hw/pci.h"
#include "virtio/virtio.h"

struct state_writer;
struct state_reader;

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device id */

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

/* The PCI function carrying one virtio device (allocated by virtio_pci_init). */
struct virtio_pci {
    struct pci_device pci;
    struct virtio_dev *vd;
    uint16_t config_msix;
};

struct virtio_pci_settings {
    struct virtio_dev_settings dev;
    uint32_t class_code;
    int slot; /* < 0: first free */
};

/* Set up the device and its PCI function and register it on the host bridge. 0 or -1. */
int virtio_pci_init(struct virtio_dev *vd, struct pci_host *host, struct bus *bus,
                    const struct virtio_pci_settings *s);
void virtio_pci_destroy(struct virtio_dev *vd);

/* Transport + PCI function + queues, nested (STATE_STRUCT over the struct virtio_dev) in the
 * device's own section's field table. A load passes a struct virtio_pci_state_ctx as the
 * section's ctx (the transport's half is decoded there until the commit); after the commit,
 * virtio_pci_state_loaded re-derives the PCI side. */
struct virtio_pci_state_ctx {
    struct virtio_pci tmp;
};
extern const struct state_desc virtio_pci_state;
void virtio_pci_state_loaded(struct virtio_dev *vd);
