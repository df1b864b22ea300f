/* pvpanic.c — the ISA pvpanic port. Its only state is which events the guest has reported, so a
 * snapshot taken after a panic still says so. Unsupported bits are ignored (the spec lets newer
 * guests probe by reading the capability byte first). */
#include "hw/pvpanic.h"

#include <stdlib.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define PVPANIC_STATE_VERSION 1

struct pvpanic {
    struct pvpanic_config cfg;
    unsigned events;
};

static uint64_t pvpanic_read(void *opaque, uint64_t offset, unsigned size)
{
    return PVPANIC_EVENTS;
}

static void pvpanic_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pvpanic *p = opaque;
    unsigned ev = (unsigned)value & PVPANIC_EVENTS;
    if (!ev) return;
    p->events |= ev;
    if (p->cfg.event) p->cfg.event(p->cfg.opaque, ev);
}

static const struct io_ops pvpanic_ops = {.read = pvpanic_read, .write = pvpanic_write};

struct pvpanic *pvpanic_create(struct bus *bus, uint16_t port, const struct pvpanic_config *cfg)
{
    struct pvpanic *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    if (cfg) p->cfg = *cfg;
    if (bus_add_pio(bus, port, 1, &pvpanic_ops, p, "pvpanic") < 0) {
        log_error("pvpanic: port %#x is taken", port);
        free(p);
        return NULL;
    }
    return p;
}

void pvpanic_destroy(struct pvpanic *p)
{
    free(p);
}

unsigned pvpanic_events(const struct pvpanic *p)
{
    return p->events;
}

void pvpanic_reset(struct pvpanic *p)
{
    p->events = 0;
}

/* Section "pvpanic": u32 events reported so far. */
static const struct state_field pvpanic_fields[] = {
    STATE_UINT_M(struct pvpanic, events, 4, PVPANIC_EVENTS),
};
static const struct state_desc pvpanic_desc = STATE_DESC(struct pvpanic, pvpanic_fields, NULL);

void pvpanic_save(const struct pvpanic *p, struct state_writer *w)
{
    state_save_section(w, "pvpanic", PVPANIC_STATE_VERSION, &pvpanic_desc, p, NULL);
}

int pvpanic_load(struct pvpanic *p, struct state_reader *r)
{
    return state_load_section(r, "pvpanic", PVPANIC_STATE_VERSION, &pvpanic_desc, p, NULL);
}
