/* test_bus.c — RAM layout around the PC hole, range registration, MMIO/PIO dispatch, DMA
 * bounds, code-page write notification, the write watch (marked pages only, after the bytes
 * land, a blocking watcher putting old bytes back), and discarding pages of anonymous and
 * file-backed RAM (only whole RAM pages, never the hole, contents zero afterwards, memory given
 * back). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vessel/bus.h"

static uint64_t last_off, last_val;
static unsigned last_size;

static uint64_t dev_read(void *opaque, uint64_t off, unsigned size)
{
    last_off = off;
    last_size = size;
    return 0x1122334455667788ull & ((size >= 8) ? ~0ull : (1ull << (size * 8)) - 1);
}

static void dev_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    last_off = off;
    last_val = v;
    last_size = size;
}

static const struct io_ops dev_ops = {dev_read, dev_write};

static void test_ram_layout(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 4ull << 30), 0);
    CHECK_EQ(b.low_ram_end, BUS_MAX_LOW_RAM);
    CHECK(bus_ram_ptr(&b, 0, 4096) == b.ram);
    CHECK(bus_ram_ptr(&b, BUS_MAX_LOW_RAM - 1, 1) != NULL);
    CHECK(bus_ram_ptr(&b, BUS_MAX_LOW_RAM - 1, 2) == NULL); /* runs into the hole */
    CHECK(bus_ram_ptr(&b, 0xFEE00000, 4) == NULL);
    CHECK(bus_ram_ptr(&b, BUS_HIGH_RAM, 1) == b.ram + BUS_MAX_LOW_RAM);
    CHECK(bus_ram_ptr(&b, BUS_HIGH_RAM + (1ull << 30) - 8, 8) != NULL);
    CHECK(bus_ram_ptr(&b, BUS_HIGH_RAM + (1ull << 30) - 8, 9) == NULL);
    CHECK(bus_ram_ptr(&b, ~0ull, 1) == NULL);
    bus_destroy(&b);
}

static void test_dispatch(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 1 << 20), 0);
    int dummy;
    CHECK_EQ(bus_add_mmio(&b, 0xFEC00000, 0x1000, &dev_ops, &dummy, "dev"), 0);
    CHECK(bus_add_mmio(&b, 0xFEC00800, 0x1000, &dev_ops, &dummy, "overlap") != 0);
    CHECK_EQ(bus_add_pio(&b, 0x3f8, 8, &dev_ops, &dummy, "uart"), 0);
    CHECK_EQ(bus_mmio_read(&b, 0xFEC00010, 4), 0x55667788);
    CHECK_EQ(last_off, 0x10);
    bus_mmio_write(&b, 0xFEC00020, 0xabcd, 2);
    CHECK_EQ(last_off, 0x20);
    CHECK_EQ(last_val, 0xabcd);
    CHECK_EQ(last_size, 2);
    CHECK_EQ(bus_pio_read(&b, 0x3fd, 1), 0x88);
    CHECK_EQ(last_off, 5);
    CHECK_EQ(bus_pio_read(&b, 0x80, 2), 0xffff); /* unassigned */
    CHECK_EQ(bus_mmio_read(&b, 0xF0000000, 8), ~0ull);
    CHECK_EQ(bus_move_mmio(&b, &dev_ops, &dummy, 0xE0000000, 0x100), 0);
    CHECK_EQ(bus_mmio_read(&b, 0xE0000004, 1), 0x88);
    CHECK_EQ(bus_mmio_read(&b, 0xFEC00010, 4), 0xffffffff);
    bus_destroy(&b);
}

static uint64_t code_gpa, code_len;
static unsigned code_calls[2];
static void on_code_write(void *opaque, uint64_t gpa, uint64_t len)
{
    code_gpa = gpa;
    code_len = len;
    code_calls[opaque != NULL]++;
}

static void test_dma(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 1 << 20), 0);
    static int second;
    CHECK_EQ(bus_add_code_write_listener(&b, on_code_write, NULL), 0);
    CHECK_EQ(bus_add_code_write_listener(&b, on_code_write, &second), 0);
    CHECK_EQ(bus_add_code_write_listener(&b, on_code_write, &second), 0); /* once only */
    uint8_t buf[16] = {1, 2, 3, 4};
    CHECK(bus_dma_write(&b, 0x1000, buf, 4));
    CHECK(b.page_flags[1] & BUS_PAGE_DIRTY);
    CHECK_EQ(code_len, 0);
    b.page_flags[2] |= BUS_PAGE_CODE;
    CHECK(bus_dma_write(&b, 0x1ffe, buf, 4));
    CHECK_EQ(code_gpa, 0x1ffe);
    CHECK_EQ(code_len, 4);
    CHECK_EQ(code_calls[0], 1); /* every listener hears every code write, once */
    CHECK_EQ(code_calls[1], 1);
    bus_remove_code_write_listener(&b, on_code_write, NULL);
    CHECK(bus_dma_write(&b, 0x2000, buf, 1));
    CHECK_EQ(code_calls[0], 1);
    CHECK_EQ(code_calls[1], 2);
    CHECK(!bus_dma_write(&b, (1 << 20) - 2, buf, 4));
    CHECK(!bus_dma_read(&b, (1 << 20) - 2, buf, 4));
    CHECK(bus_dma_read(&b, 0x1000, buf, 4));
    CHECK_EQ(buf[3], 4);
    bus_destroy(&b);
}

static uint64_t watch_gpa, watch_len, watch_calls;
static const struct bus_writer *watch_w;
static uint8_t watch_seen[4];

/* Records each call; with opaque set, blocks: puts zeros back (the "old" bytes here). */
static void on_watch(void *opaque, uint64_t gpa, uint64_t len, const struct bus_writer *w)
{
    struct bus *b = opaque;
    watch_gpa = gpa;
    watch_len = len;
    watch_w = w;
    watch_calls++;
    memcpy(watch_seen, b->ram + gpa, len < 4 ? len : 4); /* the new bytes are already there */
    if (b->watch_opaque == b && watch_calls > 2) memset(b->ram + gpa, 0, len);
}

static void test_write_watch(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, BUS_MAX_LOW_RAM + (1u << 20)), 0);
    CHECK_EQ(bus_add_code_write_listener(&b, on_code_write, NULL), 0);
    bus_watch_range(&b, 0x3ff0, 0x20, true); /* two pages: 3 and 4 */
    bus_watch_range(&b, BUS_MAX_LOW_RAM - 8, BUS_HIGH_RAM - BUS_MAX_LOW_RAM + 16, true);
    CHECK_EQ(b.page_flags[2] & BUS_PAGE_WATCH, 0);
    CHECK(b.page_flags[3] & BUS_PAGE_WATCH);
    CHECK(b.page_flags[4] & BUS_PAGE_WATCH);
    CHECK_EQ(b.page_flags[5] & BUS_PAGE_WATCH, 0);
    CHECK(b.page_flags[(BUS_MAX_LOW_RAM >> 12) - 1] & BUS_PAGE_WATCH); /* both sides of the hole */
    CHECK(b.page_flags[BUS_MAX_LOW_RAM >> 12] & BUS_PAGE_WATCH);
    uint8_t v[4] = {9, 8, 7, 6};
    /* no watcher yet: marked pages are only marked */
    CHECK(bus_dma_write(&b, 0x3000, v, 4));
    CHECK_EQ(watch_calls, 0);
    bus_set_write_watch(&b, on_watch, &b);
    CHECK(bus_dma_write(&b, 0x2ffe, v, 4)); /* touches page 3: a device write, no writer */
    CHECK_EQ(watch_calls, 1);
    CHECK_EQ(watch_gpa, 0x2ffe);
    CHECK_EQ(watch_len, 4);
    CHECK(watch_w == NULL);
    CHECK(!memcmp(watch_seen, v, 4));
    CHECK(bus_dma_write(&b, 0x5000, v, 4)); /* unmarked page: not told */
    CHECK_EQ(watch_calls, 1);
    struct bus_writer w = {.rip = 0x1234, .lin = 0xffff800000004010ull, .cr3 = 0x9000, .cpl = 0};
    code_len = 0;
    b.page_flags[4] |= BUS_PAGE_CODE;
    memset(b.ram + 0x4010, 0x77, 4);
    bus_note_write_by(&b, 0x4010, 4, &w); /* a CPU store the watcher blocks */
    CHECK_EQ(watch_calls, 2);
    CHECK(watch_w == &w);
    CHECK_EQ(code_len, 4); /* and decoded code there still hears of it */
    memset(b.ram + 0x4010, 0x77, 4);
    bus_note_write_by(&b, 0x4010, 4, &w);
    CHECK_EQ(watch_calls, 3);
    CHECK_EQ(b.ram[0x4010], 0); /* put back before anyone reads it */
    CHECK(b.page_flags[4] & BUS_PAGE_DIRTY);
    bus_watch_range(&b, 0x3ff0, 0x20, false);
    CHECK_EQ(b.page_flags[3] & BUS_PAGE_WATCH, 0);
    CHECK(b.page_flags[4] & BUS_PAGE_CODE); /* other bits stay */
    CHECK(bus_dma_write(&b, 0x3000, v, 4));
    CHECK_EQ(watch_calls, 3);
    bus_set_write_watch(&b, NULL, &b);
    CHECK(b.watch_fn == NULL && b.watch_opaque == NULL);
    bus_remove_code_write_listener(&b, on_code_write, NULL);
    bus_destroy(&b);
}

/* Touch `n` pages from gpa with a non-zero byte each. */
static void touch(struct bus *b, uint64_t gpa, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        bus_ram_ptr(b, gpa + k * BUS_PAGE_SIZE, 1)[0] = 0x5a;
}

static void test_discard(void)
{
    struct bus b;
    /* 8 MiB above the hole, so the high segment and the hole are both exercised */
    CHECK_EQ(bus_init(&b, BUS_MAX_LOW_RAM + (8u << 20)), 0);
    CHECK_EQ(bus_add_code_write_listener(&b, on_code_write, NULL), 0);
    uint64_t r0 = bus_ram_resident(&b);
    touch(&b, 0x100000, 256);
    CHECK(bus_ram_resident(&b) >= r0 + 256 * BUS_PAGE_SIZE);
    /* partial pages at both ends stay */
    CHECK_EQ(bus_discard(&b, 0x100000 + 1, 3 * BUS_PAGE_SIZE), 2 * BUS_PAGE_SIZE);
    CHECK_EQ(bus_ram_ptr(&b, 0x100000, 1)[0], 0x5a);
    CHECK_EQ(bus_ram_ptr(&b, 0x101000, 1)[0], 0);
    CHECK_EQ(bus_ram_ptr(&b, 0x102000, 1)[0], 0);
    CHECK_EQ(bus_ram_ptr(&b, 0x103000, 1)[0], 0x5a);
    uint64_t r1 = bus_ram_resident(&b);
    CHECK_EQ(bus_discard(&b, 0x100000, 256 * BUS_PAGE_SIZE), 256 * BUS_PAGE_SIZE);
    CHECK(bus_ram_resident(&b) + 254 * BUS_PAGE_SIZE <= r1);
    CHECK_EQ(bus_discard(&b, 0x100000, 256 * BUS_PAGE_SIZE), 256 * BUS_PAGE_SIZE); /* again */
    /* the discarded pages count as written: dirty, and decoded code there is dropped */
    b.page_flags[0x180] = BUS_PAGE_CODE;
    code_len = 0;
    CHECK_EQ(bus_discard(&b, 0x180000, BUS_PAGE_SIZE), BUS_PAGE_SIZE);
    CHECK(b.page_flags[0x180] & BUS_PAGE_DIRTY);
    CHECK_EQ(code_gpa, 0x180000);
    CHECK_EQ(code_len, BUS_PAGE_SIZE);
    /* across the hole: only the RAM on either side; the hole itself and beyond the end: nothing */
    touch(&b, BUS_MAX_LOW_RAM - BUS_PAGE_SIZE, 1);
    touch(&b, BUS_HIGH_RAM, 1);
    CHECK_EQ(bus_discard(&b, BUS_MAX_LOW_RAM - BUS_PAGE_SIZE,
                         BUS_HIGH_RAM - BUS_MAX_LOW_RAM + 2 * BUS_PAGE_SIZE),
             2 * BUS_PAGE_SIZE);
    CHECK_EQ(bus_ram_ptr(&b, BUS_MAX_LOW_RAM - 1, 1)[0], 0);
    CHECK_EQ(bus_ram_ptr(&b, BUS_HIGH_RAM, 1)[0], 0);
    CHECK_EQ(bus_discard(&b, 0xFEC00000, BUS_PAGE_SIZE), 0);
    CHECK_EQ(bus_discard(&b, BUS_HIGH_RAM + (8u << 20), BUS_PAGE_SIZE), 0);
    CHECK_EQ(bus_discard(&b, BUS_HIGH_RAM + (8u << 20) - BUS_PAGE_SIZE, 4 * BUS_PAGE_SIZE),
             BUS_PAGE_SIZE);
    CHECK_EQ(bus_discard(&b, ~0ull - BUS_PAGE_SIZE, 2 * BUS_PAGE_SIZE), 0); /* wraps */
    CHECK_EQ(bus_discard(&b, 0, 0), 0);
    bus_destroy(&b);
}

static uint64_t file_blocks(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static void test_file_backed(void)
{
    char dir[] = "/tmp/vessel-test-bus.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct bus b;
    /* a directory: an unnamed sparse file there */
    CHECK_EQ(bus_init_file(&b, 16u << 20, dir), 0);
    CHECK(b.ram_file);
    CHECK_EQ(file_blocks(b.ram_fd), 0);
    touch(&b, 0x200000, 64);
    CHECK(file_blocks(b.ram_fd) >= 64 * BUS_PAGE_SIZE);
    CHECK_EQ(bus_discard(&b, 0x200000, 64 * BUS_PAGE_SIZE), 64 * BUS_PAGE_SIZE);
    CHECK(file_blocks(b.ram_fd) < 64 * BUS_PAGE_SIZE); /* the hole is punched */
    CHECK_EQ(bus_ram_ptr(&b, 0x200000, 1)[0], 0);
    CHECK(bus_dma_write(&b, 0x200000, "x", 1)); /* and the page comes back on use */
    CHECK_EQ(bus_ram_ptr(&b, 0x200000, 1)[0], 'x');
    bus_destroy(&b);

    /* a new name: created, removed with the bus; an existing file is refused */
    char path[64];
    snprintf(path, sizeof(path), "%s/ram", dir);
    CHECK_EQ(bus_init_file(&b, 1u << 20, path), 0);
    CHECK_EQ(access(path, F_OK), 0);
    struct bus b2;
    CHECK_EQ(bus_init_file(&b2, 1u << 20, path), -EEXIST);
    bus_destroy(&b);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ(bus_init_file(&b, 1u << 20, "/nonexistent-dir/ram"), -ENOENT);
    CHECK_EQ(bus_init_file(&b, 12345, dir), -EINVAL);
    CHECK_EQ(rmdir(dir), 0); /* nothing left behind */
}

int main(void)
{
    RUN(test_ram_layout);
    RUN(test_dispatch);
    RUN(test_dma);
    RUN(test_write_watch);
    RUN(test_discard);
    RUN(test_file_backed);
    return check_done();
}
