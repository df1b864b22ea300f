/* test_virtio_blk.c — virtio-blk end to end through the PCI transport, driven the way the
 * guest's driver drives it, against a real image file: reads, writes that reach the file,
 * flush, get-id, write-zeroes, range and type errors, a read-only disk that refuses writes and
 * stays byte-identical, and a malformed queue that only puts the device into needs-reset. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/disk.h"
#include "check.h"
#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_blk.h"

#define DISK_BYTES (1u << 20)
#define HDR        0x200000ull
#define DATA       0x201000ull
#define STATUS     0x203000ull

static struct bus bus;
static struct pci_host *host;
static char path[64];

static void make_image(void)
{
    strcpy(path, "/tmp/vessel-blk-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    static uint8_t buf[DISK_BYTES];
    for (unsigned k = 0; k < DISK_BYTES; k++)
        buf[k] = (uint8_t)(k * 7 + k / 512);
    CHECK_EQ(write(fd, buf, DISK_BYTES), DISK_BYTES);
    close(fd);
}

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

/* One request: header, optional data buffer (direction by `write`), status byte. */
static int request(struct vdrv *d, uint32_t type, uint64_t sector, uint32_t len, bool write,
                   int64_t *used_len)
{
    uint8_t hdr[16] = {0};
    memcpy(hdr, &type, 4);
    memcpy(hdr + 8, &sector, 8);
    memcpy(bus_ram_ptr(&bus, HDR, 16), hdr, 16);
    *bus_ram_ptr(&bus, STATUS, 1) = 0xee;
    vdrv_desc(d, 0, 0, HDR, 16, 1, 1);
    if (len) {
        vdrv_desc(d, 0, 1, DATA, len, 1 | (write ? 0 : 2), 2);
        vdrv_desc(d, 0, 2, STATUS, 1, 2, 0);
    } else {
        vdrv_desc(d, 0, 1, STATUS, 1, 2, 0);
    }
    vdrv_kick(d, 0, 0);
    *used_len = vdrv_wait(d, 0, NULL);
    return *bus_ram_ptr(&bus, STATUS, 1);
}

static void read_file(uint64_t off, void *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    CHECK_EQ(pread(fd, buf, n, (off_t)off), n);
    close(fd);
}

static void test_read_write(void)
{
    setup();
    char err[256];
    struct disk_backend *b = disk_open(path, false, err, sizeof(err));
    CHECK(b != NULL);
    struct virtio_blk *dev = virtio_blk_create(host, &bus, b, "vessel-disk0");
    CHECK(dev != NULL);
    struct vdrv d;
    CHECK(vdrv_probe(&d, &bus, 0x1042));
    CHECK_EQ(vdrv_init(&d, ~0ull, 1) & 0xf, 0xf);
    CHECK_EQ(vdrv_rd(&d, d.device, 8), DISK_BYTES / 512); /* capacity */

    int64_t used;
    CHECK_EQ(request(&d, 0, 2, 1024, false, &used), 0);
    CHECK_EQ(used, 1025);
    uint8_t want[1024];
    read_file(1024, want, sizeof(want));
    CHECK(memcmp(bus_ram_ptr(&bus, DATA, 1024), want, 1024) == 0);

    memset(bus_ram_ptr(&bus, DATA, 512), 0x5a, 512);
    CHECK_EQ(request(&d, 1, 3, 512, true, &used), 0);
    CHECK_EQ(request(&d, 4, 0, 0, false, &used), 0); /* flush */
    uint8_t got[512];
    read_file(3 * 512, got, 512);
    CHECK(got[0] == 0x5a && got[511] == 0x5a);

    CHECK_EQ(request(&d, 8, 0, 20, false, &used), 0); /* get-id */
    CHECK(memcmp(bus_ram_ptr(&bus, DATA, 12), "vessel-disk0", 12) == 0);

    /* write-zeroes one sector */
    uint8_t seg[16] = {0};
    uint64_t sector = 5;
    uint32_t num = 1;
    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(bus_ram_ptr(&bus, DATA, 16), seg, 16);
    CHECK_EQ(request(&d, 13, 0, 16, true, &used), 0);
    read_file(5 * 512, got, 512);
    CHECK(got[0] == 0 && got[100] == 0 && got[511] == 0);

    CHECK_EQ(request(&d, 0, DISK_BYTES / 512 - 1, 1024, false, &used), 1); /* past the end */
    CHECK_EQ(request(&d, 0, ~0ull / 512, 512, false, &used), 1);           /* overflow */
    CHECK_EQ(request(&d, 0, 0, 100, false, &used), 1);                     /* not sectors */
    CHECK_EQ(request(&d, 99, 0, 0, false, &used), 2);                      /* unsupported */
    CHECK(!(vdrv_status(&d) & 64));

    /* a descriptor loop: needs-reset, and a reset brings the device back */
    vdrv_desc(&d, 0, 0, HDR, 16, 1, 1);
    vdrv_desc(&d, 0, 1, DATA, 16, 1, 0);
    vdrv_kick(&d, 0, 0);
    for (int k = 0; k < 2000 && !(vdrv_status(&d) & 64); k++)
        usleep(1000);
    CHECK(vdrv_status(&d) & 64);
    CHECK_EQ(vdrv_init(&d, ~0ull, 1) & 0x4f, 0xf);
    memset(d.avail_idx, 0, sizeof(d.avail_idx));
    memset(d.used_seen, 0, sizeof(d.used_seen));
    CHECK_EQ(request(&d, 0, 0, 512, false, &used), 0);

    virtio_blk_destroy(dev);
    disk_close(b);
    teardown();
}

static void test_readonly(void)
{
    setup();
    uint8_t before[DISK_BYTES], after[DISK_BYTES];
    read_file(0, before, DISK_BYTES);
    char err[256];
    struct disk_backend *b = disk_open(path, true, err, sizeof(err));
    CHECK(b != NULL);
    struct virtio_blk *dev = virtio_blk_create(host, &bus, b, NULL);
    struct vdrv d;
    CHECK(vdrv_probe(&d, &bus, 0x1042));
    vdrv_wr(&d, d.common + 0x14, 1 | 2, 1);
    vdrv_wr(&d, d.common + 0x00, 0, 4);
    CHECK(vdrv_rd(&d, d.common + 0x04, 4) & (1u << 5)); /* VIRTIO_BLK_F_RO offered */
    CHECK_EQ(vdrv_init(&d, ~0ull, 1) & 0xf, 0xf);
    int64_t used;
    memset(bus_ram_ptr(&bus, DATA, 512), 0xa5, 512);
    CHECK_EQ(request(&d, 1, 0, 512, true, &used), 1);  /* write: I/O error */
    CHECK_EQ(request(&d, 13, 0, 16, true, &used), 1);  /* write-zeroes: I/O error */
    CHECK_EQ(request(&d, 0, 0, 512, false, &used), 0); /* reads still work */
    read_file(0, after, DISK_BYTES);
    CHECK(memcmp(before, after, DISK_BYTES) == 0);
    virtio_blk_destroy(dev);
    disk_close(b);
    teardown();
}

static void test_bad_images(void)
{
    char err[256] = "";
    CHECK(disk_open("/nonexistent/disk.img", false, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent/disk.img") != NULL);
    CHECK(disk_open("/tmp", false, err, sizeof(err)) == NULL);
}

int main(void)
{
    log_threshold = LOG_ERROR;
    make_image();
    RUN(test_read_write);
    RUN(test_readonly);
    RUN(test_bad_images);
    unlink(path);
    return check_done();
}
