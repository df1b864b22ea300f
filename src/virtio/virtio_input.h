/* virtio_input.h — a virtio input device (virtio spec §5.8) that is an absolute pointer: a
 * tablet whose position is the host pointer's position over the display, so the guest's
 * cursor is exactly where the person's is (a relative PS/2 mouse only follows as well as the
 * guest's acceleration allows). Front-end threads report the pointer; the events reach the
 * guest's event queue on the vCPU thread, from virtio_input_deliver. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct pci_host;
struct bus;
struct state_writer;
struct state_reader;
struct virtio_input;

/* The tablet's axes run 0..VIRTIO_INPUT_ABS_MAX over the width and height of the screen. */
#define VIRTIO_INPUT_ABS_MAX 32767

/* `wake` (may be NULL) is called from any thread when events are waiting for the vCPU thread. */
struct virtio_input *virtio_input_create(struct pci_host *host, struct bus *bus,
                                         void (*wake)(void *), void *wake_opaque);
void virtio_input_destroy(struct virtio_input *vi);
/* Whether the guest drives the device (DRIVER_OK): only then do pointer reports go here. */
bool virtio_input_active(struct virtio_input *vi);
/* Any thread: the pointer at (x, y) of a width x height screen, buttons bit 0 left, 1 middle,
 * 2 right; wheel is the number of notches turned (positive: away from the user). */
void virtio_input_pointer(struct virtio_input *vi, unsigned x, unsigned y, unsigned width,
                          unsigned height, unsigned buttons, int wheel);
/* vCPU thread: move waiting events into the driver's buffers (as many as it has posted). */
void virtio_input_deliver(struct virtio_input *vi);
/* Section "virtio-input". */
void virtio_input_save(struct virtio_input *vi, struct state_writer *w);
int virtio_input_load(struct virtio_input *vi, struct state_reader *rd);
