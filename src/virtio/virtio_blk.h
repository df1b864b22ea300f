/* virtio_blk.h — virtio block device (virtio spec §5.2) over a block back-end: read, write,
 * flush, get-id, discard and write-zeroes, served by an I/O thread of its own. */
#pragma once
#include <stdbool.h>

struct pci_host;
struct bus;
struct disk_backend;
struct state_writer;
struct state_reader;
struct virtio_blk;

/* id: up to 20 bytes reported by GET_ID (serial), may be NULL. The device does not own b. */
struct virtio_blk *virtio_blk_create(struct pci_host *host, struct bus *bus, struct disk_backend *b,
                                     const char *id);
void virtio_blk_destroy(struct virtio_blk *d);
/* The VM stops (false: waits for a batch in progress, starts none) or runs again (true). */
void virtio_blk_set_running(struct virtio_blk *d, bool running);
/* Section "virtio-blk.<id or index>" is the caller's naming; this writes the payload of a
 * section named `name`. */
void virtio_blk_save(struct virtio_blk *d, struct state_writer *w, const char *name);
int virtio_blk_load(struct virtio_blk *d, struct state_reader *r, const char *name);
