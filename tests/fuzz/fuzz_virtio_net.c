/* fuzz_virtio_net.c — a hostile driver of virtio-net on the user-mode (libslirp) back-end.
 * Each input is a transmit chain and, optionally, a receive chain, each a hostile descriptor
 * table (loops, addresses outside RAM, zero and huge lengths, wrong directions, indirect
 * tables). The transmitted frame is either the input's raw bytes, an IPv4 packet to the
 * gateway with a valid header checksum around hostile contents (so libslirp parses deeper than
 * the Ethernet header), or an ARP request for the gateway, whose answer libslirp sends back at
 * once: then the posted receive chain must be filled or found malformed.
 *
 * The queues are served on the back-end's thread, so each check waits, bounded, for the
 * used ring to move or for DEVICE_NEEDS_RESET; a device that does neither has hung and the
 * harness aborts. Every input starts from a device reset, so a frame left over from an
 * earlier input can only be dropped, never confused with this one's answer. */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "backend/net.h"
#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_net.h"

#define TX_AREA 0x200000ull /* the frame bytes */
#define RX_AREA 0x210000ull /* where plausible receive buffers point */
#define AREA    0x10000ull
#define RXQ     0
#define TXQ     1
#define HDR_LEN 12 /* struct virtio_net_hdr_v1 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bus bus;
static struct vdrv drv;

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t gw_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}; /* libslirp's */

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    char err[256];
    if (bus_init(&bus, 4u << 20) != 0) abort();
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    struct pci_host *host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    struct net_backend *nb = net_backend_create("user", err, sizeof(err));
    if (!host || !nb || !virtio_net_create(host, &bus, nb, guest_mac) ||
        !vdrv_probe(&drv, &bus, 0x1041))
        abort();
}

static void reinit(uint64_t want)
{
    if ((vdrv_init(&drv, want, 2) & 0xf) != 0xf) abort();
    memset(drv.avail_idx, 0, sizeof(drv.avail_idx));
    memset(drv.used_seen, 0, sizeof(drv.used_seen));
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Wait for queue q's used index to leave `before` or for DEVICE_NEEDS_RESET. A device that
 * does neither within 10 s has hung (the answer takes microseconds): abort. */
static void wait_progress(unsigned q, uint16_t before)
{
    uint64_t start = now_ns();
    while (vdrv_used_idx(&drv, q) == before && !(vdrv_status(&drv) & 64)) {
        if (now_ns() - start > 10000000000ull) abort();
        sched_yield();
    }
}

/* Lay out `n` descriptors from `p` (16 bytes each, at most `avail`) for queue q; plausible
 * ones point into `area`. Returns the bytes consumed. */
static size_t put_descs(unsigned q, const uint8_t *p, size_t avail, unsigned n, uint64_t area)
{
    size_t off = 0;
    for (unsigned k = 0; k < n && off + 16 <= avail; k++, off += 16) {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
        memcpy(&addr, p + off, 8);
        memcpy(&len, p + off + 8, 4);
        memcpy(&flags, p + off + 12, 2);
        memcpy(&next, p + off + 14, 2);
        if (!(flags & 0x8000)) { /* mostly plausible: inside the area, modest lengths */
            addr = area + addr % AREA;
            len %= flags & 0x4000 ? 0x10000 : 0x800;
            next %= VDRV_QSIZE;
        }
        vdrv_desc(&drv, q, k, addr, len, flags & 7, next);
    }
    return off;
}

static uint16_t ip_checksum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t k = 0; k + 1 < n; k += 2)
        sum += (uint32_t)p[k] << 8 | p[k + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Frame kinds */
enum { FRAME_RAW, FRAME_IPV4, FRAME_ARP };

/* Write the frame (virtio-net header first) at TX_AREA; returns its length with the header. */
static size_t build_frame(int kind, const uint8_t *p, size_t n)
{
    uint8_t *f = bus_ram_ptr(&bus, TX_AREA, AREA);
    size_t len = n < AREA ? n : AREA;
    memcpy(f, p, len);
    if (kind == FRAME_RAW) return len;
    uint8_t *eth = f + HDR_LEN;
    memset(f, 0, HDR_LEN);
    memcpy(eth, gw_mac, 6);
    memcpy(eth + 6, guest_mac, 6);
    if (kind == FRAME_ARP) {
        static const uint8_t arp[] = {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1};
        memcpy(eth + 12, arp, sizeof(arp));
        memcpy(eth + 22, guest_mac, 6);
        memcpy(eth + 28, (const uint8_t[]){10, 0, 2, 15}, 4);
        memset(eth + 32, 0, 6);
        memcpy(eth + 38, (const uint8_t[]){10, 0, 2, 2}, 4);
        return HDR_LEN + 42;
    }
    /* IPv4 to the gateway or the DNS forwarder: ICMP or a protocol libslirp ignores, so that
     * no connection to a real host port is ever attempted; header fields other than the
     * addresses, protocol and checksum stay hostile. */
    if (len < HDR_LEN + 34) len = HDR_LEN + 34;
    eth[12] = 0x08, eth[13] = 0x00;
    uint8_t *ip = eth + 14;
    ip[0] = (uint8_t)(0x40 | (5 + (ip[0] & 1) * (ip[0] >> 4 & 7))); /* sometimes options */
    ip[9] = ip[9] & 1 ? 1 : (uint8_t)(0x80 | ip[9]);
    memcpy(ip + 12, (const uint8_t[]){10, 0, 2, 15}, 4);
    memcpy(ip + 16, (const uint8_t[]){10, 0, 2, (uint8_t)(ip[16] & 1 ? 3 : 2)}, 4);
    if (!(ip[2] & 0x80)) { /* mostly a consistent total length */
        size_t tot = len - HDR_LEN - 14;
        ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
    }
    ip[10] = ip[11] = 0;
    uint16_t c = ip_checksum(ip, (size_t)(ip[0] & 15) * 4);
    ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup_once();
        ready = true;
    }
    if (size < 7) return 0;
    /* data[0]: bits 0-1 frame kind, bit 2 post a receive chain, bit 3 indirect + event index,
     * bit 4 post the receive chain only after the transmit chain was used; data[1..2]:
     * transmit descriptor count (bit 7: replace the descriptors by one sensible one) and head;
     * data[3..4]: the same for receive; data[5..6]: slack added to the sensible descriptor's
     * length; then the descriptors (transmit, then receive); the rest is the frame. */
    reinit(data[0] & 8 ? ~0ull : 0);
    int kind = data[0] & 3;
    if (kind == 3) kind = FRAME_IPV4;
    bool post_rx = data[0] & 4;
    unsigned ntx = data[1] % (VDRV_QSIZE + 1), nrx = data[3] % (VDRV_QSIZE + 1);
    uint16_t tx_head = data[2] % 4 == 0 ? data[2] % (VDRV_QSIZE + 2) : 0;
    uint16_t rx_head = data[4] % (VDRV_QSIZE + 2);
    size_t off = 7;
    off += put_descs(TXQ, data + off, size - off, ntx, TX_AREA);
    if (post_rx) off += put_descs(RXQ, data + off, size - off, nrx, RX_AREA);
    size_t flen = build_frame(kind, data + off, size - off);
    if (ntx == 0 || data[1] & 0x80) /* one descriptor that makes sense */
        vdrv_desc(&drv, TXQ, 0, TX_AREA, (uint32_t)(flen + (data[5] | data[6] << 8) % 16), 0, 0);

    uint16_t rx_before = vdrv_used_idx(&drv, RXQ), tx_before = vdrv_used_idx(&drv, TXQ);
    /* receive buffers before the frame, or after it (the answer then waits in the device's
     * pending FIFO until the receive kick flushes it) */
    bool late_rx = data[0] & 16;
    if (post_rx && !late_rx) vdrv_kick(&drv, RXQ, rx_head);
    vdrv_kick(&drv, TXQ, tx_head);
    wait_progress(TXQ, tx_before);
    if (post_rx && late_rx && !(vdrv_status(&drv) & 64)) vdrv_kick(&drv, RXQ, rx_head);
    /* libslirp answers a well-formed ARP request for its gateway from inside the send; with a
     * sensible transmit descriptor that request went out, so a receive chain must move. */
    bool answered = kind == FRAME_ARP && post_rx && (ntx == 0 || data[1] & 0x80) && tx_head == 0 &&
                    !(vdrv_status(&drv) & 64);
    if (answered) wait_progress(RXQ, rx_before);
    if (vdrv_used_idx(&drv, RXQ) != rx_before && !(vdrv_status(&drv) & 64)) {
        uint32_t id, written;
        const uint8_t *u =
            bus_ram_ptr(&bus, VDRV_RINGS + 0x2004 + 8ull * (rx_before % VDRV_QSIZE), 8);
        memcpy(&id, u, 4);
        memcpy(&written, u + 4, 4);
        if (id != rx_head || (written != 0 && written < HDR_LEN + 42)) abort();
    }
    return 0;
}
