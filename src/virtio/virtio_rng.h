/* virtio_rng.h — virtio entropy device (virtio spec §5.4): one request queue whose writable
 * buffers the device fills from the host's getrandom(). */
#pragma once

struct pci_host;
struct bus;
struct state_writer;
struct state_reader;
struct virtio_rng;

struct virtio_rng *virtio_rng_create(struct pci_host *host, struct bus *bus);
void virtio_rng_destroy(struct virtio_rng *r);
/* Section "virtio-rng". */
void virtio_rng_save(struct virtio_rng *r, struct state_writer *w);
int virtio_rng_load(struct virtio_rng *r, struct state_reader *rd);
