/* test_virtio_devices.c — virtio-rng, virtio-console and virtio-net end to end through the
 * PCI transport: entropy fills the buffer it is given, console bytes travel both ways, and an
 * ARP request sent through virtio-net reaches libslirp, whose gateway answers it. */
#include <stdlib.h>
#include <unistd.h>

#include "backend/net.h"
#include "check.h"
#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_rng.h"

#define BUF 0x200000ull

static struct bus bus;
static struct pci_host *host;

static void setup(void)
{
    CHECK_EQ(bus_init(&bus, 8u << 20), 0);
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    CHECK(host != NULL);
}

static void teardown(void)
{
    pci_host_destroy(host);
    bus_destroy(&bus);
}

static void test_rng(void)
{
    setup();
    struct virtio_rng *r = virtio_rng_create(host, &bus);
    CHECK(r != NULL);
    struct vdrv d;
    CHECK(vdrv_probe(&d, &bus, 0x1044));
    CHECK_EQ(vdrv_init(&d, ~0ull, 1) & 0xf, 0xf);
    memset(bus_ram_ptr(&bus, BUF, 64), 0, 64);
    vdrv_desc(&d, 0, 0, BUF, 64, 2, 0);
    vdrv_kick(&d, 0, 0);
    CHECK_EQ(vdrv_wait(&d, 0, NULL), 64);
    unsigned nonzero = 0;
    for (int k = 0; k < 64; k++)
        nonzero += bus_ram_ptr(&bus, BUF, 64)[k] != 0;
    CHECK(nonzero > 32); /* 64 random bytes with fewer than 33 non-zero: p < 2^-200 */
    virtio_rng_destroy(r);
    teardown();
}

static char sunk[64];
static size_t sunk_len;
static void sink(void *opaque, const uint8_t *buf, size_t len)
{
    for (size_t k = 0; k < len && sunk_len < sizeof(sunk); k++)
        sunk[sunk_len++] = (char)buf[k];
}

static void test_console(void)
{
    setup();
    struct virtio_console *c = virtio_console_create(host, &bus, sink, NULL);
    CHECK(c != NULL);
    struct vdrv d;
    CHECK(vdrv_probe(&d, &bus, 0x1043));
    CHECK_EQ(virtio_console_receive(c, (const uint8_t *)"x", 1), 0); /* driver not ready */
    CHECK_EQ(vdrv_init(&d, ~0ull, 2) & 0xf, 0xf);
    memcpy(bus_ram_ptr(&bus, BUF, 5), "hello", 5);
    vdrv_desc(&d, 1, 0, BUF, 5, 0, 0);
    vdrv_kick(&d, 1, 0);
    CHECK_EQ(vdrv_wait(&d, 1, NULL), 0);
    CHECK_EQ(sunk_len, 5);
    CHECK(memcmp(sunk, "hello", 5) == 0);
    CHECK_EQ(virtio_console_receive(c, (const uint8_t *)"abc", 3), 0); /* no buffers yet */
    vdrv_desc(&d, 0, 0, BUF + 0x100, 16, 2, 0);
    vdrv_kick(&d, 0, 0);
    CHECK_EQ(virtio_console_receive(c, (const uint8_t *)"abc", 3), 3);
    CHECK_EQ(vdrv_wait(&d, 0, NULL), 3);
    CHECK(memcmp(bus_ram_ptr(&bus, BUF + 0x100, 3), "abc", 3) == 0);
    virtio_console_destroy(c);
    teardown();
}

static void test_net_arp(void)
{
    setup();
    char err[256];
    CHECK(net_backend_create("user,hostfwd=bogus", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "hostfwd") != NULL);
    CHECK(net_backend_create("carrier-pigeon", err, sizeof(err)) == NULL);
    struct net_backend *nb = net_backend_create("user", err, sizeof(err));
    CHECK(nb != NULL);
    uint8_t mac[6];
    CHECK_EQ(net_parse_mac("52:54:00:12:34:56", mac), 0);
    CHECK(net_parse_mac("01:00:00:00:00:00", mac) != 0); /* multicast */
    CHECK(net_parse_mac("52:54:00:12:34", mac) != 0);
    CHECK_EQ(net_parse_mac("52:54:00:12:34:56", mac), 0);
    struct virtio_net *n = virtio_net_create(host, &bus, nb, mac);
    CHECK(n != NULL);
    struct vdrv d;
    CHECK(vdrv_probe(&d, &bus, 0x1041));
    CHECK_EQ(vdrv_rd(&d, d.device, 4), 0x12005452); /* mac bytes 0..3, little-endian */
    CHECK_EQ(vdrv_init(&d, ~0ull, 2) & 0xf, 0xf);
    /* a receive buffer */
    vdrv_desc(&d, 0, 0, BUF + 0x10000, 2048, 2, 0);
    vdrv_kick(&d, 0, 0);
    /* ARP who-has 10.0.2.2 tell 10.0.2.15 */
    static const uint8_t arp[12 + 42] = {
        [12] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0,    0x12, 0x34, 0x56, 0x08, 0x06,
        0,           1,    8,    0,    6,    4,    0,    1,    0x52, 0x54, 0,    0x12, 0x34, 0x56,
        10,          0,    2,    15,   0,    0,    0,    0,    0,    0,    10,   0,    2,    2};
    memcpy(bus_ram_ptr(&bus, BUF, sizeof(arp)), arp, sizeof(arp));
    vdrv_desc(&d, 1, 0, BUF, sizeof(arp), 0, 0);
    vdrv_kick(&d, 1, 0);
    CHECK_EQ(vdrv_wait(&d, 1, NULL), 0);
    int64_t len = vdrv_wait(&d, 0, NULL);
    CHECK(len >= 12 + 42);
    const uint8_t *f = bus_ram_ptr(&bus, BUF + 0x10000, 12 + 42) + 12;
    CHECK(f[12] == 0x08 && f[13] == 0x06); /* ARP */
    CHECK(f[20] == 0 && f[21] == 2);       /* reply */
    CHECK(f[28] == 10 && f[29] == 0 && f[30] == 2 && f[31] == 2);
    CHECK(memcmp(f, mac, 6) == 0);
    net_backend_destroy(nb);
    virtio_net_destroy(n);
    teardown();
}

int main(void)
{
    log_threshold = LOG_ERROR;
    RUN(test_rng);
    RUN(test_console);
    RUN(test_net_arp);
    return check_done();
}
