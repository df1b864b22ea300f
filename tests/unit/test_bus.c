/* test_bus.c — RAM layout around the PC hole, range registration, MMIO/PIO dispatch, DMA
 * bounds and code-page write notification. */
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

int main(void)
{
    RUN(test_ram_layout);
    RUN(test_dispatch);
    RUN(test_dma);
    return check_done();
}
