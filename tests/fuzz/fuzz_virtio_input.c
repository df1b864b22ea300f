/* fuzz_virtio_input.c — a hostile driver of the display's tablet: each input writes and reads
 * the configuration window at any offset and width, posts a descriptor table (loops, addresses
 * outside RAM, readable or tiny buffers, indirect tables) on the event or status queue, and
 * interleaves pointer reports with deliveries. The device must never write outside the
 * writable part of a chain (a guard page beside guest RAM stays intact), a configuration read
 * never answers with a size beyond its 128-byte window, and after a kick the status queue's
 * request is used or the device is in DEVICE_NEEDS_RESET. */
#include <stdlib.h>
#include <sys/mman.h>

#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_input.h"

#define RAM_SIZE (4u << 20)
#define BUF_AREA 0x200000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bus bus;
static struct vdrv drv;
static struct virtio_input *tablet;
static uint8_t *guard; /* the host page just above guest RAM, or NULL */

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    if (bus_init(&bus, RAM_SIZE) != 0) abort();
    uint8_t *at = bus.ram + bus.ram_size;
    void *p = mmap(at, 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    guard = p == at ? p : NULL;
    if (p != MAP_FAILED && p != at) munmap(p, 4096);
    if (guard) memset(guard, 0xee, 4096);
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    struct pci_host *host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    if (!host || !(tablet = virtio_input_create(host, &bus, NULL, NULL))) abort();
    if (!vdrv_probe(&drv, &bus, 0x1052)) abort();
}

static void reinit(bool full)
{
    if ((vdrv_reinit(&drv, full ? ~0ull : 0, 2) & 0xf) != 0xf) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup_once();
        reinit(true);
        ready = true;
    }
    if (size < 8) return 0;
    /* data[0]: reset/features, queue; data[1]: descriptor count; data[2]: head; data[3..4]:
     * a configuration write (select, subsel); data[5]: a read offset; data[6]: pointer
     * reports before the kick; data[7]: buttons; then descriptors and the buffer area. */
    if (data[0] & 1) reinit(!(data[0] & 2));
    unsigned q = (data[0] >> 2) & 1;
    unsigned ndesc = data[1] % (VDRV_QSIZE + 1);
    uint16_t head = data[2] % (VDRV_QSIZE + 2); /* sometimes out of range */
    vdrv_wr(&drv, drv.device + (data[0] & 0x10 ? 0 : 1), data[3], 1);
    vdrv_wr(&drv, drv.device + (data[0] & 0x20 ? 1 : 0), data[4], data[0] & 0x40 ? 2 : 1);
    if (vdrv_rd(&drv, drv.device + 2, 1) > 128) abort(); /* size beyond the window */
    (void)vdrv_rd(&drv, drv.device + data[5], 1u << (data[0] >> 6 & 3));
    for (unsigned k = 0; k < data[6] % 8; k++)
        virtio_input_pointer(tablet, (unsigned)data[6] * 7 + k * 131, (unsigned)data[7] * 3 + k,
                             640, 480, data[7] >> k & 7, (int)(data[7] >> 6) - 2);
    size_t off = vdrv_fuzz_descs(&drv, q, data, size, 8, ndesc, BUF_AREA, false, 1);
    vdrv_fuzz_fill(&drv, data, size, off, BUF_AREA);
    uint16_t before = vdrv_used_idx(&drv, q);
    vdrv_kick(&drv, q, head);
    virtio_input_deliver(tablet);
    for (unsigned i = 0; guard && i < 4096; i++)
        if (guard[i] != 0xee) abort(); /* an event was written outside guest RAM */
    uint8_t st = vdrv_status(&drv);
    if (st & 64) {
        reinit(true);
        return 0;
    }
    if (!(st & 4)) abort(); /* reinit always reaches DRIVER_OK; only NEEDS_RESET may end it */
    uint16_t used = (uint16_t)(vdrv_used_idx(&drv, q) - before);
    uint16_t posted = (uint16_t)(drv.avail_idx[q] - before); /* buffers the driver gave */
    /* a status request is answered at once; event buffers only as events waited */
    if (q == 1 ? used != 1 : used > posted) abort();
    drv.used_seen[q] = vdrv_used_idx(&drv, q);
    return 0;
}
