/* virtio.h — a virtio 1.x device independent of how it is attached (virtio spec §2, §3): the
 * device status machine, feature negotiation, the virtqueues, reset and interrupt requests. A
 * device (blk, net, console, rng) embeds a struct virtio_dev and supplies virtio_dev_ops; a
 * transport (virtio_pci.c today; a virtio-mmio transport would be another file) exposes the
 * registers to the driver, calls the virtio_dev_* functions below when the driver writes them,
 * and delivers the interrupts the device asks for through its virtio_transport_ops.
 *
 * The device pops and pushes requests (virtq.h) and calls virtio_queue_notify when it pushed.
 * A malformed queue puts only this device into DEVICE_NEEDS_RESET. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

struct bus;

#define VIRTIO_MAX_QUEUES 8

/* Virtio device ids */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5

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

/* Interrupt status bits (the PCI ISR and the MMIO InterruptStatus register alike). */
#define VIRTIO_ISR_QUEUE  1
#define VIRTIO_ISR_CONFIG 2

/* virtio_transport_ops.interrupt's queue for a configuration change. */
#define VIRTIO_CONFIG_IRQ (-1)

struct virtio_dev;

/* What a device does; the transport calls these. Any may be NULL. */
struct virtio_dev_ops {
    /* The driver kicked queue q (called on the vCPU thread). */
    void (*queue_notify)(struct virtio_dev *vd, unsigned q);
    /* Device-specific configuration space (offset relative to its start). */
    uint64_t (*config_read)(struct virtio_dev *vd, uint64_t offset, unsigned size);
    void (*config_write)(struct virtio_dev *vd, uint64_t offset, uint64_t value, unsigned size);
    /* The driver reset the device: stop using the queues before returning. */
    void (*reset)(struct virtio_dev *vd);
    /* The driver set DRIVER_OK: queues are configured. */
    void (*driver_ok)(struct virtio_dev *vd);
};

/* What the device needs from its transport. */
struct virtio_transport_ops {
    /* Interrupt the driver for queue q, or VIRTIO_CONFIG_IRQ. Any thread. */
    void (*interrupt)(void *transport, int q);
    /* The device was reset: reset the transport's own registers and lower its interrupt. */
    void (*reset)(void *transport);
};

/* What a device is, whatever carries it. */
struct virtio_dev_settings {
    const char *name;
    uint16_t device_id;
    unsigned nqueues;
    uint16_t queue_max; /* a power of two, at most VIRTQ_MAX_SIZE */
    uint64_t features;  /* VIRTIO_F_VERSION_1 is added */
    const struct virtio_dev_ops *ops;
    void *opaque; /* the device's own state */
};

struct virtio_dev {
    struct bus *bus;
    const struct virtio_dev_ops *ops;
    void *opaque;
    const char *name;
    uint16_t device_id;
    uint64_t host_features, guest_features;
    uint8_t status;
    uint8_t config_generation;
    unsigned nqueues;
    uint16_t queue_max;
    struct virtq vq[VIRTIO_MAX_QUEUES];
    /* Driver-visible selectors and interrupt status every transport has. */
    uint32_t dfselect, gfselect;
    uint16_t queue_sel;
    uint8_t isr;
    pthread_mutex_t lock; /* isr and interrupt delivery: device threads notify */
    const struct virtio_transport_ops *transport_ops;
    void *transport;
};

/* For transports. Init validates the settings (0 or -1); the transport then sets
 * transport_ops/transport and calls virtio_dev_reset. */
int virtio_dev_init(struct virtio_dev *vd, struct bus *bus, const struct virtio_dev_settings *s);
void virtio_dev_fini(struct virtio_dev *vd);
/* Device reset (status 0 written, or at creation). */
void virtio_dev_reset(struct virtio_dev *vd);
/* The driver wrote the status register (0 resets). */
void virtio_dev_set_status(struct virtio_dev *vd, uint8_t status);
/* The driver wrote 32 bits of its features at word `sel`; ignored after FEATURES_OK. */
void virtio_dev_set_guest_features(struct virtio_dev *vd, unsigned sel, uint32_t value);
/* The device's features, 32 bits at word `sel`. */
uint32_t virtio_dev_host_features(const struct virtio_dev *vd, unsigned sel);
/* The driver enabled queue q after configuring it; a bad queue sets DEVICE_NEEDS_RESET. */
void virtio_dev_queue_enable(struct virtio_dev *vd, unsigned q);
/* The driver kicked queue q. */
void virtio_dev_queue_kick(struct virtio_dev *vd, unsigned q);
/* Read and clear the interrupt status. */
uint8_t virtio_dev_take_isr(struct virtio_dev *vd);

/* For devices. Interrupt the driver for queue q if it wants one (event index / flags).
 * Thread-safe. */
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
