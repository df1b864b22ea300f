/* fuzz_virtio_console.c — a hostile driver of virtio-console (hvc0): each input lays out a
 * descriptor table (loops, addresses outside RAM, zero and huge lengths, wrong directions,
 * indirect tables), then either kicks the transmit queue or posts the chain as a receive buffer
 * and offers host input, and pokes the emergency-write register. The device runs on the
 * notifying thread, so right after the kick the chain must be used or the device must be in
 * DEVICE_NEEDS_RESET; every byte handed to the sink must come from inside guest RAM; receive
 * never claims more bytes than it was offered. A virtio-rng on the same bus must never be
 * affected. */
#include <stdlib.h>

#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_rng.h"

#define BUF_AREA 0x200000ull
#define RXQ      0
#define TXQ      1

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bus bus;
static struct vdrv drv, bystander;
static struct virtio_console *con;
static uint64_t sunk;

static void sink(void *opaque, const uint8_t *buf, size_t len)
{
    /* queue data comes straight from guest RAM; one emergency byte comes from the stack */
    bool in_ram = buf >= bus.ram && buf + len <= bus.ram + bus.ram_size;
    if (!in_ram && len != 1) abort();
    sunk += len;
}

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    if (bus_init(&bus, 4u << 20) != 0) abort();
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    struct pci_host *host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    if (!host || !(con = virtio_console_create(host, &bus, sink, NULL)) ||
        !virtio_rng_create(host, &bus))
        abort();
    /* the bystander first, moved out of the fuzzed device's BAR window */
    if (!vdrv_probe(&bystander, &bus, 0x1044)) abort();
    vdrv_move_bar(&bystander, 0x100000);
    if ((vdrv_init(&bystander, ~0ull, 0) & 0xf) != 0xf) abort(); /* live, never kicked */
    if (!vdrv_probe(&drv, &bus, 0x1043)) abort();
}

static void reinit(uint64_t want)
{
    if ((vdrv_reinit(&drv, want, 2) & 0xf) != 0xf) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup_once();
        reinit(~0ull);
        ready = true;
    }
    if (size < 4) return 0;
    /* data[0]: bit 0 reset first (bit 1: with indirect + event index), bit 2 receive instead
     * of transmit, bit 3 an emergency write; data[1]: descriptor count; data[2]: head;
     * data[3]: how many bytes of host input to offer; then 16-byte descriptors; the rest fills
     * the buffer area and is the host input. */
    if (data[0] & 1) reinit(data[0] & 2 ? ~0ull : 0);
    unsigned q = data[0] & 4 ? RXQ : TXQ;
    unsigned ndesc = data[1] % (VDRV_QSIZE + 1);
    uint16_t head = data[2] % (VDRV_QSIZE + 2); /* sometimes out of range */
    size_t off = 4;
    off = vdrv_fuzz_descs(&drv, q, data, size, off, ndesc, BUF_AREA, true, 1);
    const uint8_t *rest = data + off;
    size_t nrest = off < size ? size - off : 0;
    vdrv_fuzz_fill(&drv, data, size, off, BUF_AREA);
    if (data[0] & 8) vdrv_wr(&drv, drv.device + 8, nrest ? rest[0] : '!', 4);

    uint16_t before = vdrv_used_idx(&drv, q);
    vdrv_kick(&drv, q, head);
    if (q == RXQ) {
        size_t want = nrest < data[3] ? nrest : data[3];
        size_t got = virtio_console_receive(con, rest, want);
        if (got > want) abort();
        if (got && vdrv_used_idx(&drv, q) == before) abort(); /* took input, used nothing */
    }
    uint8_t st = vdrv_status(&drv);
    if (vdrv_status(&bystander) & 64) abort(); /* the other device was touched */
    if (st & 64) {
        reinit(~0ull);
        return 0;
    }
    if (!(st & 4)) return 0;
    if (q == TXQ && vdrv_used_idx(&drv, q) != (uint16_t)(before + 1)) abort(); /* neither */
    if (q == RXQ && vdrv_used_idx(&drv, q) != before) {
        uint32_t id, written;
        const uint8_t *u = bus_ram_ptr(
            &bus, VDRV_RINGS + q * 0x10000ull + 0x2004 + 8ull * (before % VDRV_QSIZE), 8);
        memcpy(&id, u, 4);
        memcpy(&written, u + 4, 4);
        if (id != head || written > data[3]) abort(); /* another chain, or invented bytes */
    }
    /* unconsumed receive buffers stay posted; a fresh device next time keeps indices simple */
    if (q == RXQ) reinit(~0ull);
    return 0;
}
