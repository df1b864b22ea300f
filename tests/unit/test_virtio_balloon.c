/* test_virtio_balloon.c — the balloon through the PCI transport, driven as Linux's
 * virtio_balloon drives it: the target in the configuration space (and its change interrupt),
 * inflation returning exactly the named RAM pages to the host (pages outside RAM, the MMIO hole
 * and duplicates are harmless), deflation, the held statistics buffer and how the device asks
 * for the next figures, free page reporting, and the queue numbering that follows the
 * negotiated features. */
#include <stdlib.h>

#include "check.h"
#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "virtio/virtio_balloon.h"

#define RAM     (64ull << 20)
#define BUF     0x200000ull  /* request buffers */
#define PAGES   0x1000000ull /* the pages the guest gives up: 16 MiB.. */
#define NPAGES  512
#define F_STATS (1ull << 1)
#define F_OOM   (1ull << 2)
#define F_REP   (1ull << 5)

static struct bus bus;
static struct pci_host *host;

static struct virtio_balloon *setup(const struct virtio_balloon_config *cfg, struct vdrv *d)
{
    CHECK_EQ(bus_init(&bus, RAM), 0);
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    CHECK(host != NULL);
    struct virtio_balloon *b = virtio_balloon_create(host, &bus, cfg);
    CHECK(b != NULL);
    CHECK(vdrv_probe(d, &bus, 0x1045));
    return b;
}

static void teardown(struct virtio_balloon *b)
{
    virtio_balloon_destroy(b);
    pci_host_destroy(host);
    bus_destroy(&bus);
}

static void put32(uint64_t gpa, uint32_t v)
{
    memcpy(bus_ram_ptr(&bus, gpa, 4), &v, 4);
}

/* Post an array of page numbers on queue q and wait for it to come back. */
static void post_pfns(struct vdrv *d, unsigned q, const uint32_t *pfn, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        put32(BUF + 4 * k, pfn[k]);
    vdrv_desc(d, q, 0, BUF, 4 * n, 0, 0);
    vdrv_kick(d, q, 0);
    CHECK_EQ(vdrv_wait(d, q, NULL), 0);
}

static void fill(uint64_t gpa, uint64_t len)
{
    memset(bus_ram_ptr(&bus, gpa, len), 0xa5, len);
}

static bool zero(uint64_t gpa, uint64_t len)
{
    const uint8_t *p = bus_ram_ptr(&bus, gpa, len);
    for (uint64_t k = 0; k < len; k++)
        if (p[k]) return false;
    return true;
}

static void test_config_and_features(void)
{
    struct virtio_balloon_config cfg = {
        .size = 8u << 20, .deflate_on_oom = true, .reporting = true};
    struct vdrv d;
    struct virtio_balloon *b = setup(&cfg, &d);
    uint32_t f = (uint32_t)vdrv_rd(&d, d.common + 0x04, 4);
    CHECK_EQ(f & (F_STATS | F_OOM | F_REP), F_STATS | F_OOM | F_REP);
    CHECK_EQ(f & 1, 0);                           /* MUST_TELL_HOST is not asked for */
    CHECK_EQ(vdrv_rd(&d, d.common + 0x12, 2), 4); /* num_queues */
    CHECK_EQ(vdrv_init(&d, ~0ull, 4) & 0xf, 0xf);
    CHECK_EQ(vdrv_rd(&d, d.device + 0, 4), 2048); /* num_pages */
    CHECK_EQ(vdrv_rd(&d, d.device + 4, 4), 0);    /* actual */
    uint8_t gen = (uint8_t)vdrv_rd(&d, d.common + 0x15, 1);
    virtio_balloon_set_size(b, 100u << 20); /* more than RAM: capped */
    CHECK_EQ(vdrv_rd(&d, d.device + 0, 4), RAM >> 12);
    CHECK(vdrv_rd(&d, d.common + 0x15, 1) != gen); /* config generation moved */
    CHECK(vdrv_rd(&d, d.isr, 1) & 2);              /* and a config interrupt */
    vdrv_wr(&d, d.device + 4, 300, 4);
    vdrv_wr(&d, d.device + 0, 1, 4); /* num_pages is the host's: ignored */
    struct virtio_balloon_info info;
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.actual, 300ull << 12);
    CHECK_EQ(info.target, RAM);
    vdrv_wr(&d, d.common + 0x14, 0, 1); /* reset: the balloon is empty again */
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.actual, 0);
    teardown(b);
}

static void test_inflate_deflate(void)
{
    struct virtio_balloon_config cfg = {0};
    struct vdrv d;
    struct virtio_balloon *b = setup(&cfg, &d);
    CHECK_EQ(vdrv_init(&d, ~0ull, 3) & 0xf, 0xf);
    fill(PAGES, NPAGES * 4096ull);
    fill(PAGES + NPAGES * 4096ull, 4096); /* the page after: must survive */
    uint64_t r0 = bus_ram_resident(&bus);
    /* 256 page numbers as Linux sends them: runs, a duplicate, out of order */
    static uint32_t pfn[512];
    unsigned n = 0;
    for (unsigned k = 0; k < 200; k++)
        pfn[n++] = (uint32_t)(PAGES >> 12) + k;
    pfn[n++] = (uint32_t)(PAGES >> 12) + 5; /* again */
    for (unsigned k = 256; k-- > 201;)
        pfn[n++] = (uint32_t)(PAGES >> 12) + k;
    post_pfns(&d, 0, pfn, n);
    /* before reading them back: a read maps the zero page, which mincore counts */
    CHECK(bus_ram_resident(&bus) + 250 * 4096ull <= r0);
    for (unsigned k = 0; k < 200; k++)
        CHECK(zero(PAGES + k * 4096ull, 4096));
    CHECK_EQ(bus_ram_ptr(&bus, PAGES + NPAGES * 4096ull, 1)[0], 0xa5);
    struct virtio_balloon_info info;
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.inflated, 256ull << 12);
    CHECK_EQ(info.returned, 256ull << 12);
    CHECK_EQ(info.refused, 0);
    CHECK(bus.page_flags[(PAGES >> 12) + 7] & BUS_PAGE_DIRTY);
    /* the rest of the pages, with pages that are not RAM mixed in: those are left alone */
    n = 0;
    pfn[n++] = (uint32_t)(PAGES >> 12) + 200;
    for (unsigned k = 256; k < NPAGES; k++)
        pfn[n++] = (uint32_t)(PAGES >> 12) + k;
    pfn[n++] = (uint32_t)(RAM >> 12); /* just past the end */
    pfn[n++] = 0xE0000;               /* the BAR, in the MMIO hole */
    pfn[n++] = 0xFFFFFFFF;            /* 16 TiB */
    post_pfns(&d, 0, pfn, n);
    CHECK(zero(PAGES, NPAGES * 4096ull));
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.refused, 3);
    CHECK_EQ(vdrv_rd(&d, d.common + 0x14, 1) & 64, 0); /* not a reason to stop the device */
    /* deflate: counted; the pages are the guest's again and read as zero */
    post_pfns(&d, 1, pfn, 10);
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.deflated, 10ull << 12);
    bus_ram_ptr(&bus, PAGES, 1)[0] = 1;
    CHECK_EQ(bus_ram_ptr(&bus, PAGES, 1)[0], 1);
    /* a request with a torn page number at the end: the whole numbers are taken */
    put32(BUF, (uint32_t)(PAGES >> 12));
    vdrv_desc(&d, 0, 0, BUF, 6, 0, 0);
    vdrv_kick(&d, 0, 0);
    CHECK_EQ(vdrv_wait(&d, 0, NULL), 0);
    CHECK_EQ(bus_ram_ptr(&bus, PAGES, 1)[0], 0);
    teardown(b);
}

static void put_stat(uint64_t gpa, uint16_t tag, uint64_t v)
{
    uint8_t *p = bus_ram_ptr(&bus, gpa, 10);
    memcpy(p, &tag, 2);
    memcpy(p + 2, &v, 8);
}

static void test_stats(void)
{
    struct virtio_balloon_config cfg = {.stats_interval_ms = 1000};
    struct vdrv d;
    struct virtio_balloon *b = setup(&cfg, &d);
    CHECK_EQ(vdrv_setup(&d, ~0ull, 3) & 0xb, 0xb);
    struct virtio_balloon_info info;
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.stats_ns, 0);
    /* the driver's first buffer, posted with the figures already in and kicked before
     * DRIVER_OK, as Linux does at probe */
    put_stat(BUF, VIRTIO_BALLOON_S_MEMFREE, 40u << 20);
    put_stat(BUF + 10, VIRTIO_BALLOON_S_MEMTOT, 60u << 20);
    put_stat(BUF + 20, 77, 1); /* a tag newer than the device: skipped */
    put_stat(BUF + 30, VIRTIO_BALLOON_S_MAJFLT, 12);
    vdrv_desc(&d, 2, 0, BUF, 40, 0, 0);
    vdrv_kick(&d, 2, 0);
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.stats_ns, 0);
    vdrv_wr(&d, d.common + 0x14, 1 | 2 | 8 | 4, 1);
    CHECK_EQ(vdrv_used_idx(&d, 2), 0); /* held, not returned */
    virtio_balloon_get_info(b, &info);
    CHECK(info.stats_ns != 0);
    CHECK_EQ(info.stats[VIRTIO_BALLOON_S_MEMFREE], 40u << 20);
    CHECK_EQ(info.stats[VIRTIO_BALLOON_S_MEMTOT], 60u << 20);
    CHECK_EQ(info.stats[VIRTIO_BALLOON_S_MAJFLT], 12);
    CHECK_EQ(info.stats_valid, 1u << VIRTIO_BALLOON_S_MEMFREE | 1u << VIRTIO_BALLOON_S_MEMTOT |
                                   1u << VIRTIO_BALLOON_S_MAJFLT);
    /* the timer asks: the buffer comes back, the driver refills it */
    uint64_t next = virtio_balloon_timer(b, 5000000000ull);
    CHECK_EQ(next, 6000000000ull);
    CHECK_EQ(vdrv_wait(&d, 2, NULL), 0);
    CHECK_EQ(virtio_balloon_timer(b, 5500000000ull), 6000000000ull); /* not due yet */
    put_stat(BUF, VIRTIO_BALLOON_S_MEMFREE, 30u << 20);
    vdrv_desc(&d, 2, 1, BUF, 10, 0, 0);
    vdrv_kick(&d, 2, 1);
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.stats[VIRTIO_BALLOON_S_MEMFREE], 30u << 20);
    /* asking on request; asking again before the answer does nothing */
    virtio_balloon_request_stats(b);
    virtio_balloon_request_stats(b);
    uint32_t id = 0;
    CHECK_EQ(vdrv_wait(&d, 2, &id), 0);
    CHECK_EQ(id, 1);
    CHECK_EQ(vdrv_used_idx(&d, 2), 2);
    teardown(b);
}

static void test_reporting(void)
{
    struct virtio_balloon_config cfg = {.reporting = true};
    struct vdrv d;
    struct virtio_balloon *b = setup(&cfg, &d);
    /* without the statistics queue, reporting is queue 2 */
    CHECK_EQ(vdrv_init(&d, F_REP | F_OOM, 3) & 0xf, 0xf);
    fill(PAGES, 4u << 20);
    /* two free 1 MiB ranges as device-writable segments, as Linux posts them */
    vdrv_desc(&d, 2, 0, PAGES, 1u << 20, 2 | 1, 1);
    vdrv_desc(&d, 2, 1, PAGES + (2u << 20), 1u << 20, 2, 0);
    vdrv_kick(&d, 2, 0);
    CHECK_EQ(vdrv_wait(&d, 2, NULL), 0); /* nothing written into them */
    CHECK(zero(PAGES, 1u << 20));
    CHECK_EQ(bus_ram_ptr(&bus, PAGES + (1u << 20), 1)[0], 0xa5);
    CHECK(zero(PAGES + (2u << 20), 1u << 20));
    CHECK_EQ(bus_ram_ptr(&bus, PAGES + (3u << 20), 1)[0], 0xa5);
    /* a range that is not page-aligned: only its whole pages */
    vdrv_desc(&d, 2, 0, PAGES + (1u << 20) + 100, 3 * 4096, 2, 0);
    vdrv_kick(&d, 2, 0);
    CHECK_EQ(vdrv_wait(&d, 2, NULL), 0);
    CHECK_EQ(bus_ram_ptr(&bus, PAGES + (1u << 20), 1)[0], 0xa5);
    CHECK(zero(PAGES + (1u << 20) + 4096, 2 * 4096));
    CHECK_EQ(bus_ram_ptr(&bus, PAGES + (1u << 20) + 3 * 4096, 1)[0], 0xa5);
    struct virtio_balloon_info info;
    virtio_balloon_get_info(b, &info);
    CHECK_EQ(info.reported, (2u << 20) + 3 * 4096);
    CHECK_EQ(info.returned, (2u << 20) + 2 * 4096);
    CHECK_EQ(info.refused, 0); /* partial pages of a free range are kept, not refused */
    /* a range running off the end of RAM is refused by the queue: the device needs a reset */
    vdrv_desc(&d, 2, 0, RAM - 4096, 8192, 2, 0);
    vdrv_kick(&d, 2, 0);
    CHECK(vdrv_rd(&d, d.common + 0x14, 1) & 64);
    teardown(b);
}

int main(void)
{
    log_threshold = LOG_ERROR;
    RUN(test_config_and_features);
    RUN(test_inflate_deflate);
    RUN(test_stats);
    RUN(test_reporting);
    return check_done();
}
