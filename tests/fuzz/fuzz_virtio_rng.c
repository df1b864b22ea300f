/* fuzz_virtio_rng.c — a hostile driver of virtio-rng: each input is a descriptor table (loops,
 * addresses outside RAM, zero and huge lengths, readable buffers, indirect tables) and a head
 * posted to the request queue. The device serves requests on the notifying thread, so after
 * the kick the chain must already be used (with no more bytes than its writable part holds) or
 * the device must be in DEVICE_NEEDS_RESET. A virtio-console on the same bus stands by: one
 * device's malformed queue must never touch another device's status. */
#include <stdlib.h>

#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_rng.h"

#define BUF_AREA 0x200000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bus bus;
static struct vdrv drv, bystander;

static void sink(void *opaque, const uint8_t *buf, size_t len) {}

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    if (bus_init(&bus, 4u << 20) != 0) abort();
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    struct pci_host *host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    if (!host || !virtio_rng_create(host, &bus) || !virtio_console_create(host, &bus, sink, NULL))
        abort();
    if (!vdrv_probe(&bystander, &bus, 0x1043)) abort();
    /* the bystander's BAR must not overlap the fuzzed device's */
    vdrv_move_bar(&bystander, 0x100000);
    if (!vdrv_probe(&drv, &bus, 0x1044)) abort();
}

/* Reset and renegotiate; `want` decides whether indirect descriptors and event index are on. */
static void reinit(uint64_t want)
{
    if ((vdrv_reinit(&drv, want, 1) & 0xf) != 0xf) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup_once();
        /* live but never kicked: its queues need no rings */
        if ((vdrv_init(&bystander, ~0ull, 0) & 0xf) != 0xf) abort();
        reinit(~0ull);
        ready = true;
    }
    if (size < 3) return 0;
    /* data[0]: features and whether to start from a fresh reset; data[1]: descriptor count;
     * data[2]: head; then 16-byte descriptors; the rest fills the buffer area. */
    if (data[0] & 1) reinit(data[0] & 2 ? ~0ull : 0);
    unsigned ndesc = data[1] % (VDRV_QSIZE + 1);
    uint16_t head = data[2] % (VDRV_QSIZE + 2); /* sometimes out of range */
    size_t off = 3;
    off = vdrv_fuzz_descs(&drv, 0, data, size, off, ndesc, BUF_AREA, true, 1);
    vdrv_fuzz_fill(&drv, data, size, off, BUF_AREA);
    uint16_t before = vdrv_used_idx(&drv, 0);
    vdrv_kick(&drv, 0, head);
    uint8_t st = vdrv_status(&drv);
    if (vdrv_status(&bystander) & 64) abort(); /* the other device was touched */
    if (st & 64) {
        reinit(~0ull);
        return 0;
    }
    if (!(st & 4)) return 0; /* not live (e.g. a reset left it unconfigured): nothing to check */
    if (vdrv_used_idx(&drv, 0) != (uint16_t)(before + 1)) abort(); /* neither served nor broken */
    drv.used_seen[0] = vdrv_used_idx(&drv, 0);
    uint32_t id, written;
    const uint8_t *used = bus_ram_ptr(&bus, VDRV_RINGS + 0x2004 + 8ull * (before % VDRV_QSIZE), 8);
    memcpy(&id, used, 4);
    memcpy(&written, used + 4, 4);
    if (id != head || written > 4096) abort(); /* another chain, or more than one request's worth */
    return 0;
}
