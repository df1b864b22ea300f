/* lfb.c — the linear framebuffer (lfb.h): geometry, and turning the bus's dirty page bits over
 * its pages into rectangles of changed pixels (dirty pages first, then a comparison with the
 * reference copy over those pages only). The device has no registers: the kernel learns the mode
 * from screen_info and writes pixels straight into RAM, so its whole state is that RAM (saved
 * with it) plus the geometry (from the command line). */
#include "hw/lfb.h"

#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"

#define LFB_ALIGN (2ull << 20)

struct lfb {
    struct bus *bus;
    uint64_t base, size;
    unsigned width, height, stride;
    uint8_t *pixels;
    uint8_t *ref;                /* the frame as last reported (visible rows only) */
    uint64_t first_page, npages; /* RAM page index of the first framebuffer page */
    unsigned skew;               /* bytes of that page before the first pixel */
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

/* The whole visible frame into the reference (rows only: the gap after a row may not be RAM
 * after the last one). */
static void lfb_take_all(struct lfb *f)
{
    for (unsigned y = 0; y < f->height; y++)
        memcpy(f->ref + (size_t)y * f->stride, f->pixels + (size_t)y * f->stride,
               (size_t)f->width * LFB_BPP);
}

static struct lfb *lfb_new(struct bus *bus, uint64_t base, uint64_t size, unsigned width,
                           unsigned height, unsigned stride, lfb_rearm_fn rearm, void *opaque)
{
    uint8_t *p = bus_ram_ptr(bus, base, size);
    if (!p) return NULL;
    struct lfb *f = calloc(1, sizeof(*f));
    uint8_t *ref = malloc((size_t)stride * height);
    if (!f || !ref) {
        free(f);
        free(ref);
        return NULL;
    }
    unsigned skew = (unsigned)(base & (BUS_PAGE_SIZE - 1));
    *f = (struct lfb){.bus = bus,
                      .base = base,
                      .size = size,
                      .width = width,
                      .height = height,
                      .stride = stride,
                      .pixels = p,
                      .ref = ref,
                      .first_page = bus_ram_offset(bus, base) >> BUS_PAGE_SHIFT,
                      .npages = (skew + size + BUS_PAGE_SIZE - 1) >> BUS_PAGE_SHIFT,
                      .skew = skew,
                      .rearm = rearm,
                      .opaque = opaque};
    lfb_take_all(f);
    return f;
}

struct lfb *lfb_create(struct bus *bus, uint64_t base, unsigned width, unsigned height,
                       lfb_rearm_fn rearm, void *opaque)
{
    uint64_t size = lfb_size_for(width, height);
    if (!size || (base & (BUS_PAGE_SIZE - 1))) return NULL;
    return lfb_new(bus, base, size, width, height, width * LFB_BPP, rearm, opaque);
}

struct lfb *lfb_create_rows(struct bus *bus, uint64_t base, unsigned width, unsigned height,
                            unsigned stride, lfb_rearm_fn rearm, void *opaque)
{
    if (!width || !height || width > LFB_MAX_WIDTH || height > LFB_MAX_HEIGHT ||
        stride < width * LFB_BPP || (stride & 3) || (base & 3))
        return NULL;
    uint64_t size = (uint64_t)stride * (height - 1) + (uint64_t)width * LFB_BPP;
    return lfb_new(bus, base, size, width, height, stride, rearm, opaque);
}

void lfb_destroy(struct lfb *f)
{
    if (!f) return;
    free(f->ref);
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

/* Rows [y0, y1): the bounding box of the pixels that differ from the reference, which takes
 * them. Reported through rect if any. */
static unsigned lfb_diff(struct lfb *f, unsigned y0, unsigned y1,
                         void (*rect)(void *, unsigned, unsigned, unsigned, unsigned), void *opaque)
{
    unsigned minx = f->width, maxx = 0, miny = y1, maxy = 0;
    for (unsigned y = y0; y < y1; y++) {
        const uint32_t *row = (const uint32_t *)(f->pixels + (size_t)y * f->stride);
        uint32_t *ref = (uint32_t *)(f->ref + (size_t)y * f->stride);
        if (!memcmp(row, ref, (size_t)f->width * LFB_BPP)) continue;
        unsigned l = 0, r = f->width - 1;
        /* Bounded although memcmp saw a difference: a DMA write may race with the scan. */
        while (l < r && row[l] == ref[l])
            l++;
        while (r > l && row[r] == ref[r])
            r--;
        memcpy(ref + l, row + l, (size_t)(r - l + 1) * LFB_BPP);
        if (l < minx) minx = l;
        if (r > maxx) maxx = r;
        if (y < miny) miny = y;
        maxy = y;
    }
    if (miny >= y1) return 0;
    rect(opaque, minx, miny, maxx - minx + 1, maxy - miny + 1);
    return 1;
}

unsigned lfb_collect(struct lfb *f,
                     void (*rect)(void *opaque, unsigned x, unsigned y, unsigned w, unsigned h),
                     void *opaque)
{
    uint8_t *flags = f->bus->page_flags + f->first_page;
    uint64_t visible = (uint64_t)f->stride * (f->height - 1) + (uint64_t)f->width * LFB_BPP;
    unsigned n = 0, by0 = 0, by1 = 0; /* the band being grown: rows [by0, by1) */
    bool band = false, any = false;
    for (uint64_t p = 0; p < f->npages;) {
        if (!(flags[p] & BUS_PAGE_DIRTY_FB)) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < f->npages && (flags[q] & BUS_PAGE_DIRTY_FB))
            flags[q++] &= (uint8_t)~BUS_PAGE_DIRTY_FB;
        any = true;
        uint64_t lo = p << BUS_PAGE_SHIFT, hi = q << BUS_PAGE_SHIFT;
        lo = lo > f->skew ? lo - f->skew : 0; /* bytes from the first pixel */
        hi -= f->skew;
        p = q;
        if (lo >= visible) continue; /* the padding after the last row */
        if (hi > visible) hi = visible;
        unsigned y0 = (unsigned)(lo / f->stride), y1 = (unsigned)((hi + f->stride - 1) / f->stride);
        if (band && y0 <= by1) { /* shares a row with the band before */
            by1 = y1;
            continue;
        }
        if (band) n += lfb_diff(f, by0, by1, rect, opaque);
        band = true;
        by0 = y0;
        by1 = y1;
    }
    if (band) n += lfb_diff(f, by0, by1, rect, opaque);
    /* Only pages written since the last re-arm can hold fast write mappings: nothing dirty,
     * nothing to re-arm. */
    if (any && f->rearm) f->rearm(f->opaque);
    return n;
}

void lfb_clear_dirty(struct lfb *f)
{
    uint8_t *flags = f->bus->page_flags + f->first_page;
    bool any = false;
    lfb_take_all(f);
    for (uint64_t p = 0; p < f->npages; p++) {
        any |= (flags[p] & BUS_PAGE_DIRTY_FB) != 0;
        flags[p] &= (uint8_t)~BUS_PAGE_DIRTY_FB;
    }
    if (any && f->rearm) f->rearm(f->opaque);
}
