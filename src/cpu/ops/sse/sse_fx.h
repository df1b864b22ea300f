/* sse_fx.h — the x87/SSE register file as one 512-byte FXSAVE image, the architectural format
 * fxsave/fxrstor use (and handy for tests and debuggers). Reset values are set by cpu_reset and
 * the snapshot format is section "cpu" (vcpu_save / vcpu_load in api.c): one owner each.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "cpu/core.h"

#define FX_IMAGE_SIZE 512

/* FXSAVE64 image (64-bit FIP/FDP). Bytes 416..511 are left untouched. */
void fx_save_image(const struct cpu *c, uint8_t *img);
/* FXRSTOR64 from an image; false (nothing changed) if MXCSR sets bits outside MXCSR_MASK. */
bool fx_restore_image(struct cpu *c, const uint8_t *img);
