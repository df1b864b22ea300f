/* test_virtq.c — the split-virtqueue walker against rings built by hand the way a driver
 * lays them out: direct and indirect chains, used-ring updates, event-index interrupt
 * suppression, and every kind of malformed queue the walker must refuse. */
#include <string.h>

#include "check.h"
#include "virtio/virtq.h"
#include "vessel/bus.h"
#include "vessel/state.h"

#define QSZ   8
#define DESC  0x10000ull
#define AVAIL 0x11000ull
#define USED  0x12000ull
#define BUF   0x20000ull

static struct bus bus;
static struct virtq q;
static struct virtq_elem e;

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    uint8_t *p = bus_ram_ptr(&bus, table + 16ull * i, 16);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static void make_avail(uint16_t head)
{
    uint8_t *a = bus_ram_ptr(&bus, AVAIL, 6 + 2 * QSZ);
    uint16_t idx;
    memcpy(&idx, a + 2, 2);
    memcpy(a + 4 + 2 * (idx % QSZ), &head, 2);
    idx++;
    memcpy(a + 2, &idx, 2);
}

static uint16_t used_idx(void)
{
    uint16_t v;
    memcpy(&v, bus_ram_ptr(&bus, USED + 2, 2), 2);
    return v;
}

static void setup(bool indirect, bool event_idx)
{
    bus_destroy(&bus);
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    virtq_init(&q, &bus);
    q.size = QSZ;
    q.desc = DESC;
    q.avail = AVAIL;
    q.used = USED;
    q.indirect = indirect;
    q.event_idx = event_idx;
    q.ready = true;
    CHECK(virtq_validate(&q));
}

static void test_direct_chain(void)
{
    setup(false, false);
    memcpy(bus_ram_ptr(&bus, BUF, 5), "hello", 5);
    set_desc(DESC, 3, BUF, 5, VIRTQ_DESC_F_NEXT, 5);
    set_desc(DESC, 5, BUF + 0x100, 64, VIRTQ_DESC_F_WRITE, 0);
    CHECK_EQ(virtq_pop(&q, &e), 0); /* nothing yet */
    make_avail(3);
    CHECK_EQ(virtq_pop(&q, &e), 1);
    CHECK_EQ(e.head, 3);
    CHECK_EQ(e.nout, 1);
    CHECK_EQ(e.nin, 1);
    CHECK_EQ(e.out_len, 5);
    CHECK_EQ(e.in_len, 64);
    char buf[8] = {0};
    CHECK_EQ(virtq_copy_from_out(&e, 1, buf, 10), 4);
    CHECK(memcmp(buf, "ello", 4) == 0);
    CHECK_EQ(virtq_copy_to_in(&e, 60, "abcdefgh", 8), 4);
    CHECK(memcmp(bus_ram_ptr(&bus, BUF + 0x100 + 60, 4), "abcd", 4) == 0);
    virtq_push(&q, &e, 64);
    CHECK_EQ(used_idx(), 1);
    uint32_t id, len;
    memcpy(&id, bus_ram_ptr(&bus, USED + 4, 4), 4);
    memcpy(&len, bus_ram_ptr(&bus, USED + 8, 4), 4);
    CHECK_EQ(id, 3);
    CHECK_EQ(len, 64);
    CHECK(bus.page_flags[(BUF + 0x100) >> 12] & BUS_PAGE_DIRTY);
    CHECK(virtq_need_interrupt(&q));
    /* driver asks for no interrupts */
    uint16_t flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    memcpy(bus_ram_ptr(&bus, AVAIL, 2), &flags, 2);
    CHECK(!virtq_need_interrupt(&q));
    CHECK_EQ(virtq_pop(&q, &e), 0);
}

static void test_indirect(void)
{
    setup(true, false);
    uint64_t table = 0x30000;
    set_desc(table, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    set_desc(table, 1, BUF + 16, 1, VIRTQ_DESC_F_WRITE, 0);
    set_desc(DESC, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    make_avail(0);
    CHECK_EQ(virtq_pop(&q, &e), 1);
    CHECK_EQ(e.nout, 1);
    CHECK_EQ(e.nin, 1);
    CHECK(!q.broken);
}

static void expect_broken(void)
{
    CHECK_EQ(virtq_pop(&q, &e), -1);
    CHECK(q.broken);
    CHECK_EQ(virtq_pop(&q, &e), -1); /* stays broken until reset */
}

static void test_malformed(void)
{
    /* descriptor loop */
    setup(false, false);
    set_desc(DESC, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
    set_desc(DESC, 1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
    make_avail(0);
    expect_broken();
    /* next index outside the table */
    setup(false, false);
    set_desc(DESC, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 200);
    make_avail(0);
    expect_broken();
    /* head outside the table */
    setup(false, false);
    make_avail(QSZ);
    expect_broken();
    /* buffer outside RAM, and one that wraps the address space */
    setup(false, false);
    set_desc(DESC, 0, (1 << 20) - 8, 16, 0, 0);
    make_avail(0);
    expect_broken();
    setup(false, false);
    set_desc(DESC, 0, ~0ull - 4, 0xffffffffu, 0, 0);
    make_avail(0);
    expect_broken();
    /* readable after writable */
    setup(false, false);
    set_desc(DESC, 0, BUF, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    set_desc(DESC, 1, BUF, 4, 0, 0);
    make_avail(0);
    expect_broken();
    /* indirect not negotiated, nested indirect, bad indirect length */
    setup(false, false);
    set_desc(DESC, 0, 0x30000, 32, VIRTQ_DESC_F_INDIRECT, 0);
    make_avail(0);
    expect_broken();
    setup(true, false);
    set_desc(0x30000, 0, 0x31000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(DESC, 0, 0x30000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    make_avail(0);
    expect_broken();
    setup(true, false);
    set_desc(DESC, 0, 0x30000, 24, VIRTQ_DESC_F_INDIRECT, 0);
    make_avail(0);
    expect_broken();
    /* avail index jumps further than the queue holds */
    setup(false, false);
    uint16_t idx = QSZ + 1;
    memcpy(bus_ram_ptr(&bus, AVAIL + 2, 2), &idx, 2);
    expect_broken();
    /* rings outside RAM or misaligned are refused at enable time */
    setup(false, false);
    q.used = (1 << 20) - 8;
    CHECK(!virtq_validate(&q));
    setup(false, false);
    q.desc = DESC + 8;
    CHECK(!virtq_validate(&q));
    setup(false, false);
    q.size = 6;
    CHECK(!virtq_validate(&q));
    /* reset clears the broken state */
    virtq_reset(&q);
    CHECK(!q.broken);
}

static void test_event_idx(void)
{
    setup(false, true);
    set_desc(DESC, 0, BUF, 4, 0, 0);
    for (int k = 0; k < 3; k++) {
        make_avail(0);
        CHECK_EQ(virtq_pop(&q, &e), 1);
        virtq_push(&q, &e, 0);
    }
    /* avail_event tells the driver where we are */
    uint16_t ae;
    memcpy(&ae, bus_ram_ptr(&bus, USED + 4 + 8 * QSZ, 2), 2);
    CHECK_EQ(ae, 3);
    /* used_event = 0: the driver wanted an interrupt after the first buffer only */
    uint16_t ue = 0;
    memcpy(bus_ram_ptr(&bus, AVAIL + 4 + 2 * QSZ, 2), &ue, 2);
    CHECK(virtq_need_interrupt(&q)); /* first signal is always sent */
    make_avail(0);
    CHECK_EQ(virtq_pop(&q, &e), 1);
    virtq_push(&q, &e, 0);
    CHECK(!virtq_need_interrupt(&q)); /* used moved 3 -> 4, event 0 not crossed */
    ue = 4;
    memcpy(bus_ram_ptr(&bus, AVAIL + 4 + 2 * QSZ, 2), &ue, 2);
    make_avail(0);
    CHECK_EQ(virtq_pop(&q, &e), 1);
    virtq_push(&q, &e, 0);
    CHECK(virtq_need_interrupt(&q)); /* 4 -> 5 crosses event 4 */
}

static void test_save_load(void)
{
    setup(true, true);
    set_desc(DESC, 0, BUF, 4, 0, 0);
    make_avail(0);
    CHECK_EQ(virtq_pop(&q, &e), 1);
    virtq_push(&q, &e, 0);
    struct state_writer w;
    state_writer_init(&w);
    state_section_begin(&w, "q", 1);
    virtq_save(&q, &w);
    state_section_end(&w);
    struct virtq q2;
    virtq_init(&q2, &bus);
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK(state_section_find(&r, "q", NULL));
    CHECK_EQ(virtq_load(&q2, &r), 0);
    CHECK_EQ(q2.size, q.size);
    CHECK_EQ(q2.last_avail, 1);
    CHECK_EQ(q2.used_idx, 1);
    CHECK(q2.event_idx && q2.indirect && q2.ready);
    state_writer_free(&w);
}

int main(void)
{
    RUN(test_direct_chain);
    RUN(test_indirect);
    RUN(test_malformed);
    RUN(test_event_idx);
    RUN(test_save_load);
    bus_destroy(&bus);
    return check_done();
}
