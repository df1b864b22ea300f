/* test_pvpanic.c — the pvpanic port: capability read, event callback, sticky events, state. */
#include "check.h"
#include "hw/pvpanic.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static unsigned seen_events, seen_calls;

static void on_event(void *opaque, unsigned ev)
{
    seen_events |= ev;
    seen_calls++;
    CHECK(opaque == &seen_calls);
}

static void test_port(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 1 << 20), 0);
    struct pvpanic_config cfg = {.event = on_event, .opaque = &seen_calls};
    struct pvpanic *p = pvpanic_create(&b, PVPANIC_PORT, &cfg);
    CHECK(p != NULL);
    CHECK_EQ(bus_pio_read(&b, PVPANIC_PORT, 1), PVPANIC_EVENTS);
    bus_pio_write(&b, PVPANIC_PORT, 0x80, 1); /* unsupported bit: ignored */
    CHECK_EQ(seen_calls, 0);
    CHECK_EQ(pvpanic_events(p), 0);
    bus_pio_write(&b, PVPANIC_PORT, PVPANIC_PANICKED | 0x80, 1);
    CHECK_EQ(seen_calls, 1);
    CHECK_EQ(seen_events, PVPANIC_PANICKED);
    CHECK_EQ(pvpanic_events(p), PVPANIC_PANICKED);
    /* A second device on the same port is refused. */
    CHECK(pvpanic_create(&b, PVPANIC_PORT, &cfg) == NULL);

    struct state_writer w;
    state_writer_init(&w);
    pvpanic_save(p, &w);
    CHECK(!w.error);
    pvpanic_reset(p);
    CHECK_EQ(pvpanic_events(p), 0);
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(pvpanic_load(p, &r), 0);
    CHECK_EQ(pvpanic_events(p), PVPANIC_PANICKED);
    state_writer_free(&w);

    /* Missing section is refused. */
    state_writer_init(&w);
    state_section_begin(&w, "other", 1);
    state_section_end(&w);
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(pvpanic_load(p, &r), -1);
    state_writer_free(&w);

    pvpanic_destroy(p);
    bus_destroy(&b);
}

int main(void)
{
    RUN(test_port);
    return check_done();
}
