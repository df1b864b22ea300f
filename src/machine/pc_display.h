/* pc_display.h — the board's display (pc_display.c): framebuffer, front end, keys into the
 * i8042. Only pc.c uses it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "machine/boot_params.h"
#include "machine/pc.h"

/* Bytes of RAM the board adds for the framebuffer (0 without a display). */
uint64_t pc_display_ram(const struct pc_config *cfg);
/* After the i8042 exists: the framebuffer at the top of low RAM and the front end, appended to
 * the device list; *screen describes it for the loader. 0, or -1 with a message (*usage set
 * when the operator's display spec is at fault). */
int pc_display_create(struct pc *pc, const struct pc_config *cfg, struct boot_screen *screen,
                      char *err, size_t errlen, int *usage);
