/* debugcon.c — the debug console port of debugcon.h. It has no state worth saving: a restored
 * machine simply goes on appending to its own file. */
#include "hw/debugcon.h"

#include <stdlib.h>

#include "vessel/bus.h"

struct debugcon {
    FILE *out;
};

static uint64_t debugcon_read(void *opaque, uint64_t offset, unsigned size)
{
    return DEBUGCON_READBACK;
}

static void debugcon_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct debugcon *d = opaque;
    int c = (int)(value & 0xff);
    fputc(c, d->out);
    if (c == '\n') fflush(d->out);
}

static const struct io_ops debugcon_ops = {.read = debugcon_read, .write = debugcon_write};

struct debugcon *debugcon_create(struct bus *bus, uint16_t port, FILE *out)
{
    struct debugcon *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->out = out;
    if (bus_add_pio(bus, port, 1, &debugcon_ops, d, "debugcon") < 0) {
        free(d);
        return NULL;
    }
    return d;
}

void debugcon_destroy(struct debugcon *d)
{
    free(d);
}
