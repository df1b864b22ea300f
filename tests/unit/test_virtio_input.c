/* test_virtio_input.c — the display's tablet through the PCI transport, as Linux's
 * virtio_input driver sees it: the configuration window answers name, ids, event bitmaps and
 * axis ranges for what is selected; pointer reports become evdev events in the driver's
 * buffers only when delivered (the vCPU thread's job), scaled to the axis range; waiting
 * motion is merged but button changes never are; nothing goes out before DRIVER_OK or without
 * posted buffers; the state section round-trips and refuses out-of-range values. */
#include <stdlib.h>

#include "check.h"
#include "hw/pci.h"
#include "vdriver.h"
#include "vessel/log.h"
#include "vessel/state.h"
#include "virtio/virtio_input.h"

#define BUF 0x200000ull

static struct bus bus;
static struct pci_host *host;
static struct vdrv d;
static int wakes;

static void wake(void *opaque)
{
    (void)opaque;
    wakes++;
}

static struct virtio_input *setup(void)
{
    CHECK_EQ(bus_init(&bus, 8u << 20), 0);
    struct irq_line intx[PCI_INTX_LINES] = {{0}};
    const uint8_t gsi[PCI_INTX_LINES] = {16, 17, 18, 19};
    host = pci_host_create(&bus, (struct msi_sink){0}, intx, gsi);
    CHECK(host != NULL);
    struct virtio_input *vi = virtio_input_create(host, &bus, wake, NULL);
    CHECK(vi != NULL);
    CHECK(vdrv_probe(&d, &bus, 0x1052)); /* 0x1040 + device id 18 */
    wakes = 0;
    return vi;
}

static void teardown(struct virtio_input *vi)
{
    virtio_input_destroy(vi);
    pci_host_destroy(host);
    bus_destroy(&bus);
}

/* Select (sel, subsel); returns the size the device answers and copies the payload. */
static unsigned cfg_select(uint8_t sel, uint8_t subsel, uint8_t out[128])
{
    vdrv_wr(&d, d.device + 0, sel, 1);
    vdrv_wr(&d, d.device + 1, subsel, 1);
    unsigned size = (unsigned)vdrv_rd(&d, d.device + 2, 1);
    for (unsigned k = 0; k < 128; k++)
        out[k] = (uint8_t)vdrv_rd(&d, d.device + 8 + k, 1);
    return size;
}

static void test_config(void)
{
    struct virtio_input *vi = setup();
    uint8_t u[128];
    CHECK_EQ(cfg_select(0x01, 0, u), 13);
    CHECK(memcmp(u, "vessel tablet", 13) == 0);
    CHECK_EQ(cfg_select(0x03, 0, u), 8);
    CHECK_EQ(u[0] | u[1] << 8, 0x06);                   /* BUS_VIRTUAL */
    CHECK_EQ(cfg_select(0x10, 0, u), 0);                /* no properties */
    CHECK_EQ(cfg_select(0x11, 0x01, u), 0x110 / 8 + 1); /* EV_KEY: three buttons */
    CHECK_EQ(u[0x110 / 8], 0x07);
    CHECK_EQ(cfg_select(0x11, 0x02, u), 2); /* EV_REL: the wheel */
    CHECK_EQ(u[1], 0x01);
    CHECK_EQ(cfg_select(0x11, 0x03, u), 1); /* EV_ABS: X and Y */
    CHECK_EQ(u[0], 0x03);
    CHECK_EQ(cfg_select(0x11, 0x05, u), 0); /* EV_SW: none */
    CHECK_EQ(cfg_select(0x12, 0x01, u), 20);
    uint32_t max;
    memcpy(&max, u + 4, 4);
    CHECK_EQ(max, VIRTIO_INPUT_ABS_MAX);
    CHECK_EQ(cfg_select(0x12, 0x02, u), 0); /* ABS_Z does not exist */
    CHECK_EQ(cfg_select(0x7f, 0, u), 0);
    /* a wide read past the window reads zeros, never beyond it */
    CHECK_EQ(vdrv_rd(&d, d.device + 200, 4), 0);
    teardown(vi);
}

/* Keep the event queue full: an 8-byte buffer in every free slot (slot k uses descriptor k;
 * the device returns them in order). */
static void post_buffers(void)
{
    uint8_t *a = bus_ram_ptr(&bus, VDRV_RINGS + 0x1000, 6 + 2 * VDRV_QSIZE);
    uint16_t used = vdrv_used_idx(&d, 0);
    while ((uint16_t)(d.avail_idx[0] - used) < VDRV_QSIZE) {
        uint16_t idx = d.avail_idx[0], head = idx % VDRV_QSIZE;
        vdrv_desc(&d, 0, head, BUF + 8 * head, 8, 2 /* WRITE */, 0);
        memcpy(a + 4 + 2 * head, &head, 2);
        d.avail_idx[0] = (uint16_t)(idx + 1);
        __atomic_store_n((uint16_t *)(void *)(a + 2), d.avail_idx[0], __ATOMIC_RELEASE);
    }
    vdrv_wr(&d, d.notify, 0, 2);
}

struct ev {
    uint16_t type, code;
    int32_t value;
};

/* The next used event, or type 0xffff when none is there. */
static struct ev next_event(void)
{
    struct ev e = {0xffff, 0, 0};
    if (vdrv_used_idx(&d, 0) == d.used_seen[0]) return e;
    uint32_t id = 0;
    CHECK_EQ(vdrv_wait(&d, 0, &id), 8);
    CHECK(id < VDRV_QSIZE);
    memcpy(&e, bus_ram_ptr(&bus, BUF + 8 * (id % VDRV_QSIZE), 8), 8);
    return e;
}

static void expect(uint16_t type, uint16_t code, int32_t value)
{
    struct ev e = next_event();
    CHECK_EQ(e.type, type);
    CHECK_EQ(e.code, code);
    CHECK_EQ(e.value, value);
}

static void test_events(void)
{
    struct virtio_input *vi = setup();
    CHECK(!virtio_input_active(vi));
    CHECK_EQ(vdrv_init(&d, ~0ull, 2) & 0xf, 0xf);
    CHECK(virtio_input_active(vi));
    /* reported, but nothing in guest memory until delivered, and then only into buffers */
    virtio_input_pointer(vi, 1023, 0, 1024, 768, 0, 0);
    CHECK_EQ(wakes, 1);
    CHECK_EQ(vdrv_used_idx(&d, 0), 0);
    virtio_input_deliver(vi);
    CHECK_EQ(vdrv_used_idx(&d, 0), 0); /* no buffers posted yet */
    post_buffers();                    /* the kick delivers what waited */
    expect(0x03, 0x00, VIRTIO_INPUT_ABS_MAX);
    expect(0x03, 0x01, 0);
    expect(0x00, 0x00, 0);
    /* motion waiting is merged: only the last position arrives */
    for (unsigned k = 0; k < 100; k++)
        virtio_input_pointer(vi, k, 767, 1024, 768, 0, 0);
    virtio_input_deliver(vi);
    expect(0x03, 0x00, (int32_t)(99ull * VIRTIO_INPUT_ABS_MAX / 1023));
    expect(0x03, 0x01, VIRTIO_INPUT_ABS_MAX);
    expect(0x00, 0x00, 0);
    CHECK_EQ(next_event().type, 0xffff);
    /* a click (press and release before any delivery) is never merged away */
    post_buffers();
    virtio_input_pointer(vi, 99, 767, 1024, 768, 1, 0);
    virtio_input_pointer(vi, 99, 767, 1024, 768, 0, 0);
    virtio_input_pointer(vi, 99, 767, 1024, 768, 0, -1); /* wheel one notch down */
    virtio_input_deliver(vi);
    expect(0x03, 0x00, (int32_t)(99ull * VIRTIO_INPUT_ABS_MAX / 1023));
    expect(0x03, 0x01, VIRTIO_INPUT_ABS_MAX);
    expect(0x01, 0x110, 1);
    expect(0x00, 0x00, 0);
    expect(0x03, 0x00, (int32_t)(99ull * VIRTIO_INPUT_ABS_MAX / 1023));
    expect(0x03, 0x01, VIRTIO_INPUT_ABS_MAX);
    expect(0x01, 0x110, 0);
    expect(0x00, 0x00, 0);
    expect(0x03, 0x00, (int32_t)(99ull * VIRTIO_INPUT_ABS_MAX / 1023));
    expect(0x03, 0x01, VIRTIO_INPUT_ABS_MAX);
    expect(0x02, 0x08, -1);
    expect(0x00, 0x00, 0);
    /* an unchanged report is nothing; coordinates past the screen clamp to its edge */
    virtio_input_pointer(vi, 99, 767, 1024, 768, 0, 0);
    virtio_input_pointer(vi, 5000, 5000, 1024, 768, 4, 0);
    virtio_input_deliver(vi);
    expect(0x03, 0x00, VIRTIO_INPUT_ABS_MAX);
    expect(0x03, 0x01, VIRTIO_INPUT_ABS_MAX);
    expect(0x01, 0x111, 1); /* right */
    expect(0x00, 0x00, 0);
    CHECK_EQ(next_event().type, 0xffff);
    /* a guest that stops taking events loses reports, not memory or order */
    for (unsigned k = 0; k < 400; k++)
        virtio_input_pointer(vi, k % 2 ? 10 : 20, 10, 1024, 768, k % 2 ? 4 : 0, 0);
    /* after a reset the device is quiet again until the driver is back */
    vdrv_reinit(&d, ~0ull, 2);
    virtio_input_deliver(vi);
    CHECK_EQ(vdrv_used_idx(&d, 0), 0);
    teardown(vi);
}

static void test_state(void)
{
    struct virtio_input *vi = setup();
    CHECK_EQ(vdrv_init(&d, ~0ull, 2) & 0xf, 0xf);
    virtio_input_pointer(vi, 512, 384, 1024, 768, 2, 0);
    struct state_writer w;
    state_writer_init(&w);
    virtio_input_save(vi, &w);
    CHECK(w.len > 0 && !w.error);
    struct state_reader r;
    /* the pointer fields end the stream (abs_x, abs_y, btn): a position past the axis range or
     * an unknown button is refused */
    uint32_t bad = VIRTIO_INPUT_ABS_MAX + 1, saved;
    memcpy(&saved, w.data + w.len - 12, 4);
    memcpy(w.data + w.len - 12, &bad, 4);
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(virtio_input_load(vi, &r), -1);
    memcpy(w.data + w.len - 12, &saved, 4);
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(virtio_input_load(vi, &r), 0);
    /* the restored device knows the middle button is down: releasing it is an event */
    post_buffers();
    virtio_input_deliver(vi); /* what waited before the load is host input: dropped */
    CHECK_EQ(next_event().type, 0xffff);
    virtio_input_pointer(vi, 512, 384, 1024, 768, 0, 0);
    virtio_input_deliver(vi);
    expect(0x03, 0x00, (int32_t)(512ull * VIRTIO_INPUT_ABS_MAX / 1023));
    expect(0x03, 0x01, (int32_t)(384ull * VIRTIO_INPUT_ABS_MAX / 767));
    expect(0x01, 0x112, 0);
    expect(0x00, 0x00, 0);
    state_writer_free(&w);
    teardown(vi);
}

int main(void)
{
    log_threshold = LOG_ERROR;
    RUN(test_config);
    RUN(test_events);
    RUN(test_state);
    return check_done();
}
