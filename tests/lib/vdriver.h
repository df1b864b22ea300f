/* vdriver.h — a minimal virtio-pci driver for tests, doing what Linux's virtio_pci does but
 * through the same port and MMIO accesses a guest makes: find the function with config
 * mechanism #1, place BAR 4, walk the vendor capabilities, negotiate features, lay out split
 * queues in guest RAM, post descriptor chains and wait for them to come back used.
 * Single-threaded test code; a device's I/O thread completes requests asynchronously, so
 * vdrv_wait polls the used index with a bound. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "hw/pci.h"
#include "vessel/bus.h"

#define VDRV_BAR   0xE0000000ull
#define VDRV_RINGS 0x100000ull /* queue k's rings at VDRV_RINGS + k * 0x10000 */
#define VDRV_QSIZE 16

struct vdrv {
    struct bus *bus;
    unsigned slot;
    uint64_t common, notify, isr, device;
    uint32_t notify_mul;
    uint16_t avail_idx[8], used_seen[8];
    unsigned next_desc[8];
};

static inline uint32_t vdrv_cfg_read(struct vdrv *d, unsigned reg, unsigned size)
{
    bus_pio_write(d->bus, 0xCF8, 0x80000000u | d->slot << 11 | (reg & 0xfc), 4);
    return (uint32_t)bus_pio_read(d->bus, (uint16_t)(0xCFC + (reg & 3)), size);
}

static inline void vdrv_cfg_write(struct vdrv *d, unsigned reg, uint32_t v, unsigned size)
{
    bus_pio_write(d->bus, 0xCF8, 0x80000000u | d->slot << 11 | (reg & 0xfc), 4);
    bus_pio_write(d->bus, (uint16_t)(0xCFC + (reg & 3)), v, size);
}

static inline uint64_t vdrv_rd(struct vdrv *d, uint64_t addr, unsigned size)
{
    return bus_mmio_read(d->bus, addr, size);
}

static inline void vdrv_wr(struct vdrv *d, uint64_t addr, uint64_t v, unsigned size)
{
    bus_mmio_write(d->bus, addr, v, size);
}

/* Find the first function with `device_id`, map BAR 4 and locate the windows. */
static inline bool vdrv_probe(struct vdrv *d, struct bus *bus, uint16_t device_id)
{
    memset(d, 0, sizeof(*d));
    d->bus = bus;
    for (d->slot = 1; d->slot < 32; d->slot++)
        if (vdrv_cfg_read(d, 0, 4) == (0x1af4u | (uint32_t)device_id << 16)) break;
    if (d->slot == 32) return false;
    vdrv_cfg_write(d, 0x20, (uint32_t)VDRV_BAR, 4);
    vdrv_cfg_write(d, 0x24, (uint32_t)(VDRV_BAR >> 32), 4);
    vdrv_cfg_write(d, 0x04, 0x6, 2); /* memory decode + bus master */
    for (unsigned cap = vdrv_cfg_read(d, 0x34, 1); cap; cap = vdrv_cfg_read(d, cap + 1, 1)) {
        if (vdrv_cfg_read(d, cap, 1) != 0x09 || vdrv_cfg_read(d, cap + 4, 1) != 4) continue;
        uint64_t at = VDRV_BAR + vdrv_cfg_read(d, cap + 8, 4);
        switch (vdrv_cfg_read(d, cap + 3, 1)) {
        case 1: d->common = at; break;
        case 2:
            d->notify = at;
            d->notify_mul = vdrv_cfg_read(d, cap + 16, 4);
            break;
        case 3: d->isr = at; break;
        case 4: d->device = at; break;
        }
    }
    return d->common && d->notify && d->isr && d->device;
}

/* Negotiate (offered & want) | VERSION_1 and set up `nq` queues, short of DRIVER_OK (drivers
 * may post buffers and kick before it). Returns the status read back. */
static inline uint8_t vdrv_setup(struct vdrv *d, uint64_t want, unsigned nq)
{
    vdrv_wr(d, d->common + 0x14, 0, 1); /* reset */
    vdrv_wr(d, d->common + 0x14, 1 | 2, 1);
    vdrv_wr(d, d->common + 0x00, 0, 4);
    uint64_t f = vdrv_rd(d, d->common + 0x04, 4);
    vdrv_wr(d, d->common + 0x00, 1, 4);
    f |= vdrv_rd(d, d->common + 0x04, 4) << 32;
    f &= want | (1ull << 32);
    vdrv_wr(d, d->common + 0x08, 0, 4);
    vdrv_wr(d, d->common + 0x0c, (uint32_t)f, 4);
    vdrv_wr(d, d->common + 0x08, 1, 4);
    vdrv_wr(d, d->common + 0x0c, (uint32_t)(f >> 32), 4);
    vdrv_wr(d, d->common + 0x14, 1 | 2 | 8, 1);
    if (!(vdrv_rd(d, d->common + 0x14, 1) & 8)) return (uint8_t)vdrv_rd(d, d->common + 0x14, 1);
    for (unsigned q = 0; q < nq; q++) {
        uint64_t base = VDRV_RINGS + q * 0x10000ull;
        memset(bus_ram_ptr(d->bus, base, 0x10000), 0, 0x10000);
        vdrv_wr(d, d->common + 0x16, q, 2);
        vdrv_wr(d, d->common + 0x18, VDRV_QSIZE, 2);
        vdrv_wr(d, d->common + 0x20, base, 4); /* two 32-bit halves, as Linux does */
        vdrv_wr(d, d->common + 0x24, base >> 32, 4);
        vdrv_wr(d, d->common + 0x28, base + 0x1000, 8);
        vdrv_wr(d, d->common + 0x30, base + 0x2000, 8);
        vdrv_wr(d, d->common + 0x1c, 1, 2);
    }
    return (uint8_t)vdrv_rd(d, d->common + 0x14, 1);
}

/* vdrv_setup, then DRIVER_OK. */
static inline uint8_t vdrv_init(struct vdrv *d, uint64_t want, unsigned nq)
{
    uint8_t st = vdrv_setup(d, want, nq);
    if (!(st & 8)) return st;
    vdrv_wr(d, d->common + 0x14, 1 | 2 | 8 | 4, 1);
    return (uint8_t)vdrv_rd(d, d->common + 0x14, 1);
}

/* Write descriptor `i` of queue q. */
static inline void vdrv_desc(struct vdrv *d, unsigned q, unsigned i, uint64_t addr, uint32_t len,
                             uint16_t flags, uint16_t next)
{
    uint8_t *p = bus_ram_ptr(d->bus, VDRV_RINGS + q * 0x10000ull + 16ull * i, 16);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

/* Make chain `head` available on queue q and kick. */
static inline void vdrv_kick(struct vdrv *d, unsigned q, uint16_t head)
{
    uint8_t *a = bus_ram_ptr(d->bus, VDRV_RINGS + q * 0x10000ull + 0x1000, 6 + 2 * VDRV_QSIZE);
    uint16_t idx = d->avail_idx[q];
    memcpy(a + 4 + 2 * (idx % VDRV_QSIZE), &head, 2);
    idx++;
    __atomic_store_n((uint16_t *)(void *)(a + 2), idx, __ATOMIC_RELEASE);
    d->avail_idx[q] = idx;
    vdrv_wr(d, d->notify + (uint64_t)q * d->notify_mul, q, 2);
}

static inline uint16_t vdrv_used_idx(struct vdrv *d, unsigned q)
{
    uint8_t *u = bus_ram_ptr(d->bus, VDRV_RINGS + q * 0x10000ull + 0x2000, 4);
    return __atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE);
}

/* Wait (up to ~5 s) for the next used element of queue q; returns its length or -1. */
static inline int64_t vdrv_wait(struct vdrv *d, unsigned q, uint32_t *id)
{
    for (int k = 0; k < 5000; k++) {
        if (vdrv_used_idx(d, q) != d->used_seen[q]) {
            uint8_t *e = bus_ram_ptr(
                d->bus,
                VDRV_RINGS + q * 0x10000ull + 0x2004 + 8ull * (d->used_seen[q] % VDRV_QSIZE), 8);
            uint32_t len;
            if (id) memcpy(id, e, 4);
            memcpy(&len, e + 4, 4);
            d->used_seen[q]++;
            return len;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static inline uint8_t vdrv_status(struct vdrv *d)
{
    return (uint8_t)vdrv_rd(d, d->common + 0x14, 1);
}

/* ---- helpers for the virtio fuzz harnesses (tests/fuzz/fuzz_virtio_*.c) ---- */

/* Reset and renegotiate `nq` queues with features `want`, forgetting the old ring indices. */
static inline uint8_t vdrv_reinit(struct vdrv *d, uint64_t want, unsigned nq)
{
    uint8_t st = vdrv_init(d, want, nq);
    memset(d->avail_idx, 0, sizeof(d->avail_idx));
    memset(d->used_seen, 0, sizeof(d->used_seen));
    return st;
}

/* Move an already probed device's BAR by `delta` (so a bystander device does not overlap the
 * fuzzed one's window), and the driver's register addresses with it. */
static inline void vdrv_move_bar(struct vdrv *d, uint64_t delta)
{
    vdrv_cfg_write(d, 0x20, (uint32_t)(VDRV_BAR + delta), 4);
    d->common += delta;
    d->notify += delta;
    d->isr += delta;
    d->device += delta;
}

/* Fuzz input -> descriptor table of queue q: up to `ndesc` 16-byte records from data[off..]
 * (addr u64, len u32, flags u16, next u16). Unless bit 15 of flags asks for raw values, a
 * record is made plausible: address inside [area, area + 64 KiB), length below 8 KiB (below
 * 64 KiB when `long_lens` and bit 14 are set), next inside the ring; plausible addresses are
 * multiples of `align` (a power of two) for devices that read words from their buffers.
 * Returns the offset after the records used; the rest of the input is the caller's
 * (vdrv_fuzz_fill puts it in the area). */
static inline size_t vdrv_fuzz_descs(struct vdrv *d, unsigned q, const uint8_t *data, size_t size,
                                     size_t off, unsigned ndesc, uint64_t area, bool long_lens,
                                     uint64_t align)
{
    for (unsigned k = 0; k < ndesc && off + 16 <= size; k++, off += 16) {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
        memcpy(&addr, data + off, 8);
        memcpy(&len, data + off + 8, 4);
        memcpy(&flags, data + off + 12, 2);
        memcpy(&next, data + off + 14, 2);
        if (!(flags & 0x8000)) {
            addr = area + (addr % 0x10000 & ~(align - 1));
            len %= long_lens && (flags & 0x4000) ? 0x10000 : 0x2000;
            next %= VDRV_QSIZE;
        }
        vdrv_desc(d, q, k, addr, len, flags & 7, next);
    }
    return off;
}

/* The rest of a fuzz input (at most 64 KiB) into guest RAM at `area`; returns how much. */
static inline size_t vdrv_fuzz_fill(struct vdrv *d, const uint8_t *data, size_t size, size_t off,
                                    uint64_t area)
{
    size_t n = off < size ? size - off : 0;
    if (n > 0x10000) n = 0x10000;
    if (n) memcpy(bus_ram_ptr(d->bus, area, n), data + off, n);
    return n;
}
