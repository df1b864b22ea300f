/* sse_fx.h — the x87/SSE register file as a whole: reset values, the 512-byte FXSAVE image
 * (used by fxsave/fxrstor and handy for tests and debuggers), and versioned save/load of the
 * state (section "fpu"). For exec.c (cpu_reset, vcpu_save/vcpu_load) and the test harness.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "cpu/core.h"
#include "vessel/state.h"

#define FX_IMAGE_SIZE 512

/* Power-on state: FCW 0x037F (as after FNINIT; Linux runs FNINIT itself), FSW 0, all tags
 * empty, MXCSR 0x1F80, XMM and ST registers zero. */
void fx_reset(struct cpu *c);
/* FXSAVE64 image (64-bit FIP/FDP). Bytes 416..511 are left untouched. */
void fx_save_image(const struct cpu *c, uint8_t *img);
/* FXRSTOR64 from an image; false (nothing changed) if MXCSR sets bits outside MXCSR_MASK. */
bool fx_restore_image(struct cpu *c, const uint8_t *img);

/* Section "fpu", version 1: FCW FSW FTW FOP FIP FDP, ST physical registers R0..R7 (10 bytes
 * each), MXCSR, XMM0..15. */
void fx_state_save(const struct cpu *c, struct state_writer *w);
/* 0, or -1 if the section is missing, of an unknown version or malformed. */
int fx_state_load(struct cpu *c, struct state_reader *r);
