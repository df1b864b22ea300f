/* lfb.h — the display card as the stock Linux kernel sees it without a driver of its own: a
 * linear framebuffer in guest RAM (32 bits per pixel, XRGB8888 little-endian, i.e. bytes
 * B, G, R, unused), described to the kernel by boot_params.screen_info as an EFI GOP framebuffer
 * so that efifb and fbcon bind to it. The board reserves its pages in the e820 map.
 *
 * The pixels are ordinary RAM to the CPU engine (fast-path stores), so changes are found through
 * the bus's dirty page bits (its own, BUS_PAGE_DIRTY_FB, so that a snapshot's or a migration's
 * dirty log is not disturbed): lfb_collect() looks only at the pages written since its last
 * call, clears those bits, and asks the owner to re-arm the tracking (the engine's fast write
 * mappings would otherwise keep writing without marking pages again). Within those pages it
 * compares the rows with a reference copy of the last frame reported, so what it reports is the
 * rectangle that really changed (a blinking cursor is a cursor-sized rectangle, not a band of whole
 * rows; a page rewritten with the same pixels is nothing). Call it from the thread that runs
 * the vCPU. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct bus;

#define LFB_BPP        4
#define LFB_MIN_WIDTH  320
#define LFB_MIN_HEIGHT 200
#define LFB_MAX_WIDTH  4096
#define LFB_MAX_HEIGHT 2160

struct lfb;

/* Re-arm dirty tracking after bits were cleared (the board: drop the vCPU's write mappings). */
typedef void (*lfb_rearm_fn)(void *opaque);

/* Bytes of guest RAM a width x height framebuffer occupies (rounded up to whole 2 MiB, so the
 * kernel's large-page direct map is not split around it). 0 if the size is out of range. */
uint64_t lfb_size_for(unsigned width, unsigned height);

/* The framebuffer at guest-physical `base` (page aligned, RAM for lfb_size_for bytes). NULL
 * if the range is not RAM or the size is out of range. */
struct lfb *lfb_create(struct bus *bus, uint64_t base, unsigned width, unsigned height,
                       lfb_rearm_fn rearm, void *opaque);
/* The same over any rows of RAM: width x height pixels, `stride` bytes apart (>= width * 4,
 * a multiple of 4), from `base` (4-byte aligned; a PCI display's scanout inside its video
 * memory). lfb_size is then the rows' bytes. NULL if out of range or not RAM. */
struct lfb *lfb_create_rows(struct bus *bus, uint64_t base, unsigned width, unsigned height,
                            unsigned stride, lfb_rearm_fn rearm, void *opaque);
void lfb_destroy(struct lfb *f);

uint64_t lfb_base(const struct lfb *f);
uint64_t lfb_size(const struct lfb *f);
unsigned lfb_width(const struct lfb *f);
unsigned lfb_height(const struct lfb *f);
unsigned lfb_stride(const struct lfb *f); /* bytes per row */
/* The pixels (host mapping of guest RAM; the guest may write them at any time). */
const uint8_t *lfb_pixels(const struct lfb *f);

/* Report the changed rectangles (one per run of written pages, top to bottom, each the bounding
 * box of the pixels that differ from the reference) and take them into the reference; clear the
 * pages' dirty bits. Returns the number of rectangles. */
unsigned lfb_collect(struct lfb *f,
                     void (*rect)(void *opaque, unsigned x, unsigned y, unsigned w, unsigned h),
                     void *opaque);
/* Take the whole current frame as the reference and forget what was written (a new viewer is
 * sent the whole frame). */
void lfb_clear_dirty(struct lfb *f);
