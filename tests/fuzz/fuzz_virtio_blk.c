/* fuzz_virtio_blk.c — a hostile block driver: each input is a batch of descriptor tables,
 * request headers and payload bytes posted to a live virtio-blk (PCI transport, I/O thread,
 * real image file). The device must answer every chain or declare needs-reset, and never
 * crash, hang, or touch memory outside guest RAM. */
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/disk.h"
#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_blk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bus bus;
static struct vdrv drv;
static bool ready;

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    char path[] = "/tmp/vessel-fuzzblk-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, 64 << 10) != 0) abort();
    close(fd);
    char err[256];
    struct disk_backend *b = disk_open(path, false, err, sizeof(err));
    unlink(path); /* the open descriptor keeps it alive */
    if (!b || bus_init(&bus, 4u << 20) != 0) abort();
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    struct pci_host *host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    if (!host || !virtio_blk_create(host, &bus, b, "fuzz") || !vdrv_probe(&drv, &bus, 0x1042))
        abort();
    ready = true;
}

static void reinit(void)
{
    vdrv_reinit(&drv, ~0ull, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        setup_once();
        reinit();
    }
    if (size < 2) return 0;
    /* data[0]: number of descriptors, data[1]: head; then 16-byte descriptors; the rest is
     * copied into the buffer area the descriptors usually point at. */
    unsigned ndesc = data[0] % (VDRV_QSIZE + 1);
    uint16_t head = data[1] % (VDRV_QSIZE + 2); /* sometimes out of range */
    size_t off = 2;
    off = vdrv_fuzz_descs(&drv, 0, data, size, off, ndesc, 0x200000, false, 1);
    vdrv_fuzz_fill(&drv, data, size, off, 0x200000);
    vdrv_kick(&drv, 0, head);
    /* the I/O thread answers the chain or marks the device broken */
    for (long spin = 0; spin < 50000000; spin++) {
        if (vdrv_used_idx(&drv, 0) != drv.used_seen[0]) {
            drv.used_seen[0] = vdrv_used_idx(&drv, 0);
            return 0;
        }
        if (vdrv_status(&drv) & 64) {
            reinit();
            return 0;
        }
        sched_yield();
    }
    abort(); /* neither answered nor broken: the device hung */
}
