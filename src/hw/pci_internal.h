/* pci_internal.h — what the PCI device model (pci_device.c) and the host bridge (pci_host.c)
 * call in each other; functions outside src/hw/pci_* use pci.h only. */
#pragma once
#include <stdbool.h>

#include "hw/pci.h"

/* Re-evaluate which BARs the bus decodes after the command register or a BAR changed. */
void pci_device_update_mappings(struct pci_device *d);
/* The function at `slot` drives its INTx pin (0 = INTA) to `level`. */
void pci_host_intx(struct pci_host *h, unsigned slot, unsigned pin, bool level);
void pci_host_unregister(struct pci_host *h, struct pci_device *d);
