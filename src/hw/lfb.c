/* lfb.c — the linear framebuffer (lfb.h): geometry, and turning the bus's dirty page bits over
 * its pages into bands of changed rows. The device has no registers: the kernel learns the mode
 * from screen_info and writes pixels straight into RAM, so its whole state is that RAM (saved
 * with it) plus the geometry (from the command line). */
#include "hw/lfb.h"

#include <stdlib.h>

#include "vessel/bus.h"

#define LFB_ALIGN (2ull << 20)

struct lfb {
    struct bus *bus;
    uint64_t base, size;
    unsigned width, height, stride;
    uint8_t *pixels;
    uint64_t first_page, npages; /* RAM page index of the first framebuffer page */
    lfb_rearm_fn rearm;
    void *opaque;
};

uint64_t lfb_size_for(unsigned width, unsigned height)
{
    if (width < LFB_MIN_WIDTH || width > LFB_MAX_WIDTH || height < LFB_MIN_HEIGHT ||
        height > LFB_MAX_HEIGHT)
        return 0;
    uint64_t bytes = (uint64_t)width * height * LFB_BPP;
    return (bytes + LFB_ALIGN - 1) & ~(LFB_ALIGN - 1);
}

struct lfb *lfb_create(struct bus *bus, uint64_t base, unsigned width, unsigned height,
                       lfb_rearm_fn rearm, void *opaque)
{
    uint64_t size = lfb_size_for(width, height);
    if (!size || (base & (BUS_PAGE_SIZE - 1))) return NULL;
    uint8_t *p = bus_ram_ptr(bus, base, size);
    if (!p) return NULL;
    struct lfb *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    *f = (struct lfb){.bus = bus,
                      .base = base,
                      .size = size,
                      .width = width,
                      .height = height,
                      .stride = width * LFB_BPP,
                      .pixels = p,
                      .first_page = bus_ram_offset(bus, base) >> BUS_PAGE_SHIFT,
                      .npages = size >> BUS_PAGE_SHIFT,
                      .rearm = rearm,
                      .opaque = opaque};
    return f;
}

void lfb_destroy(struct lfb *f)
{
    free(f);
}

uint64_t lfb_base(const struct lfb *f)
{
    return f->base;
}
uint64_t lfb_size(const struct lfb *f)
{
    return f->size;
}
unsigned lfb_width(const struct lfb *f)
{
    return f->width;
}
unsigned lfb_height(const struct lfb *f)
{
    return f->height;
}
unsigned lfb_stride(const struct lfb *f)
{
    return f->stride;
}
const uint8_t *lfb_pixels(const struct lfb *f)
{
    return f->pixels;
}

unsigned lfb_collect(struct lfb *f, void (*band)(void *opaque, unsigned y, unsigned h),
                     void *opaque)
{
    uint8_t *flags = f->bus->page_flags + f->first_page;
    uint64_t visible = (uint64_t)f->stride * f->height;
    unsigned nbands = 0, by0 = 0, by1 = 0; /* the band being grown: rows [by0, by1) */
    bool any = false;
    for (uint64_t p = 0; p < f->npages;) {
        if (!(flags[p] & BUS_PAGE_DIRTY)) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < f->npages && (flags[q] & BUS_PAGE_DIRTY))
            flags[q++] &= (uint8_t)~BUS_PAGE_DIRTY;
        any = true;
        uint64_t lo = p << BUS_PAGE_SHIFT, hi = q << BUS_PAGE_SHIFT;
        p = q;
        if (lo >= visible) continue; /* the padding after the last row */
        if (hi > visible) hi = visible;
        unsigned y0 = (unsigned)(lo / f->stride), y1 = (unsigned)((hi + f->stride - 1) / f->stride);
        if (nbands && y0 <= by1) { /* shares a row with the band before */
            by1 = y1;
            continue;
        }
        if (nbands) band(opaque, by0, by1 - by0);
        nbands++;
        by0 = y0;
        by1 = y1;
    }
    if (nbands) band(opaque, by0, by1 - by0);
    /* Only pages written since the last re-arm can hold fast write mappings: nothing dirty,
     * nothing to re-arm. */
    if (any && f->rearm) f->rearm(f->opaque);
    return nbands;
}

void lfb_clear_dirty(struct lfb *f)
{
    uint8_t *flags = f->bus->page_flags + f->first_page;
    bool any = false;
    for (uint64_t p = 0; p < f->npages; p++) {
        any |= (flags[p] & BUS_PAGE_DIRTY) != 0;
        flags[p] &= (uint8_t)~BUS_PAGE_DIRTY;
    }
    if (any && f->rearm) f->rearm(f->opaque);
}
