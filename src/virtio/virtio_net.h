/* virtio_net.h — virtio network device (virtio spec §5.1): one receive and one transmit queue
 * connected to a network back-end (backend/net.h). No checksum or segmentation offloads are
 * offered: every frame the guest sees is complete and checksummed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct pci_host;
struct bus;
struct net_backend;
struct state_writer;
struct state_reader;
struct virtio_net;

/* mac: 6 bytes. The device starts the back-end's thread; it does not own nb. */
struct virtio_net *virtio_net_create(struct pci_host *host, struct bus *bus, struct net_backend *nb,
                                     const uint8_t mac[6]);
void virtio_net_destroy(struct virtio_net *n);
/* The VM stops (false) or runs again (true): while stopped no received frame is written into
 * guest memory (the back-end drops it, as a stopped NIC would) and nothing is sent. */
void virtio_net_set_running(struct virtio_net *n, bool running);
void virtio_net_save(struct virtio_net *n, struct state_writer *w, const char *name);
int virtio_net_load(struct virtio_net *n, struct state_reader *r, const char *name);
