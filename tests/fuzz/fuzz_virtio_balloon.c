/* fuzz_virtio_balloon.c — a hostile driver of virtio-balloon: each input picks a queue
 * (inflate, deflate, statistics, free page reporting), writes a descriptor table (loops,
 * addresses outside RAM, odd lengths, indirect tables) and fills the buffer area with page
 * numbers — mostly inside RAM so that pages really are discarded, some in the hole or past the
 * end. After the kick the request must be used (the statistics buffer: held, or the older one
 * returned) or the device must be in DEVICE_NEEDS_RESET, and pages just outside guest RAM's
 * host mapping (guard pages mapped on purpose) must be untouched: a discard that escaped the
 * bounds checks would zero them. */
#include <stdlib.h>
#include <sys/mman.h>

#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_balloon.h"

#define RAM_SIZE  (4u << 20)
#define BUF_AREA  0x200000ull
#define RINGS_END (VDRV_RINGS + 4 * 0x10000ull)
#define CANARY_AT 0xff8 /* past every ring of VDRV_QSIZE entries */

static const uint64_t canary = 0x5a5a5a5a5a5a5a5aull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bus bus;
static struct vdrv drv;
static struct virtio_balloon *balloon;
static uint8_t *guard[2]; /* the host pages just below and just above guest RAM, or NULL */
static bool full_features;

static void map_guards(void)
{
    uint8_t *at[2] = {bus.ram - 4096, bus.ram + bus.ram_size};
    for (int k = 0; k < 2; k++) {
        void *p = mmap(at[k], 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        guard[k] = p == at[k] ? p : NULL; /* something else lives there: cannot check */
        if (p != MAP_FAILED && p != at[k]) munmap(p, 4096);
        if (guard[k]) memset(guard[k], 0xee, 4096);
    }
}

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    if (bus_init(&bus, RAM_SIZE) != 0) abort();
    map_guards();
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    struct pci_host *host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    struct virtio_balloon_config cfg = {
        .size = 1u << 20, .deflate_on_oom = true, .reporting = true};
    if (!host || !(balloon = virtio_balloon_create(host, &bus, &cfg))) abort();
    if (!vdrv_probe(&drv, &bus, 0x1045)) abort();
}

/* Reset and renegotiate everything, or nothing but VERSION_1 (two queues then). */
static void reinit(bool full)
{
    if ((vdrv_reinit(&drv, full ? ~0ull : 0, 4) & 0xf) != 0xf) abort();
    full_features = full;
    for (uint64_t pg = VDRV_RINGS; pg < RINGS_END; pg += 0x1000)
        memcpy(bus_ram_ptr(&bus, pg + CANARY_AT, 8), &canary, 8);
}

/* An inflate or report request may name the driver's own ring pages; the device then keeps
 * its indices while the rings read as zeros, which a real driver never survives either. The
 * canary at the end of every ring page tells the harness to start over instead of judging. */
static bool rings_discarded(void)
{
    for (uint64_t pg = VDRV_RINGS; pg < RINGS_END; pg += 0x1000)
        if (memcmp(bus_ram_ptr(&bus, pg + CANARY_AT, 8), &canary, 8) != 0) return true;
    return false;
}

static void check_guards(void)
{
    for (int k = 0; k < 2; k++)
        for (unsigned i = 0; guard[k] && i < 4096; i++)
            if (guard[k][i] != 0xee) abort(); /* a discard went outside guest RAM */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup_once();
        reinit(true);
        ready = true;
    }
    if (size < 4) return 0;
    /* data[0]: reset? features? page numbers kept plausible?; data[1]: queue and descriptor
     * count; data[2]: head; data[3]: a control-side action; then 16-byte descriptors; the
     * rest fills the buffer area. */
    if (data[0] & 1) reinit(!(data[0] & 2));
    unsigned q = data[1] & 3;
    unsigned ndesc = (data[1] >> 2) % (VDRV_QSIZE + 1);
    uint16_t head = data[2] % (VDRV_QSIZE + 2); /* sometimes out of range */
    switch (data[3] & 3) {
    case 1: virtio_balloon_set_size(balloon, (uint64_t)data[3] << 14); break;
    case 2: virtio_balloon_request_stats(balloon); break;
    case 3: virtio_balloon_timer(balloon, (uint64_t)data[3] << 30); break;
    default: break;
    }
    size_t off = 4;
    /* plausible addresses word-aligned: page numbers are read four bytes at a time, and the
     * runs written below must arrive whole */
    off = vdrv_fuzz_descs(&drv, q, data, size, off, ndesc, BUF_AREA, true, 4);
    size_t n = vdrv_fuzz_fill(&drv, data, size, off, BUF_AREA);
    if (n >= 4 && (data[0] & 4)) {
        /* page numbers in RAM (rings and buffers included), a few past it; or runs of
         * consecutive pages (discarded as one range) from a plausible first one */
        uint8_t *area = bus_ram_ptr(&bus, BUF_AREA, n);
        uint32_t first;
        memcpy(&first, area, 4);
        first %= (RAM_SIZE >> 12) + 16;
        for (size_t i = 0; i + 4 <= n; i += 4) {
            uint32_t pfn;
            memcpy(&pfn, area + i, 4);
            pfn = data[0] & 8 ? first + (uint32_t)(i / 4) : pfn % ((RAM_SIZE >> 12) + 16);
            memcpy(area + i, &pfn, 4);
        }
    }
    uint16_t before = vdrv_used_idx(&drv, q);
    vdrv_kick(&drv, q, head);
    check_guards();
    uint8_t st = vdrv_status(&drv);
    if ((st & 64) || rings_discarded()) {
        reinit(true);
        return 0;
    }
    if (!(st & 4)) abort(); /* reinit always reaches DRIVER_OK; only NEEDS_RESET may end it */
    uint16_t used = (uint16_t)(vdrv_used_idx(&drv, q) - before);
    bool exists = q < 2 || full_features;
    if (!exists && used != 0) abort();          /* a queue that is not there answered */
    if (exists && q == 2 && used > 2) abort();  /* held; an older buffer (and a request) back */
    if (exists && q != 2 && used != 1) abort(); /* every inflate/deflate/report is answered */
    drv.used_seen[q] = vdrv_used_idx(&drv, q);
    return 0;
}
