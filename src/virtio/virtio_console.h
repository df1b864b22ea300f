/* virtio_console.h — virtio console (virtio spec §5.3), a single port without multiport: the
 * guest's hvc0. Like the UART it is a byte pipe: output goes to a sink callback, input is
 * pushed in by the main loop. Runs on the vCPU/main-loop thread. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct pci_host;
struct bus;
struct state_writer;
struct state_reader;
struct virtio_console;

typedef void (*virtio_console_sink)(void *opaque, const uint8_t *buf, size_t len);

struct virtio_console *virtio_console_create(struct pci_host *host, struct bus *bus,
                                             virtio_console_sink sink, void *opaque);
void virtio_console_destroy(struct virtio_console *c);
/* Give the guest input; returns how many bytes it had buffers for (the rest stays with the
 * caller until the guest posts more receive buffers). */
size_t virtio_console_receive(struct virtio_console *c, const uint8_t *buf, size_t len);
void virtio_console_save(struct virtio_console *c, struct state_writer *w);
int virtio_console_load(struct virtio_console *c, struct state_reader *r);
