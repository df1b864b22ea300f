/* ps2_mouse.h — a PS/2 mouse (the device behind the i8042's AUX port): the command set Linux's
 * psmouse driver uses (reset, identify, rates, resolution, scaling, stream/remote mode, status,
 * enable/disable, the IntelliMouse knock 200-100-80 that turns on the wheel byte) and the
 * movement packets it sends while streaming. It has no I/O of its own: the controller passes it
 * the bytes the guest writes with command 0xD4 and queues what it answers. Not thread-safe: the
 * controller holds its lock around every call. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct state_desc;

#define PS2_MOUSE_REPLY_MAX 5 /* longest answer to one byte (read data: ACK + 4) */
#define PS2_MOUSE_PACKET    4 /* longest movement packet (with the wheel byte) */

struct ps2_mouse {
    uint8_t cmd;    /* command awaiting its parameter byte, 0 if none */
    bool streaming; /* data reporting enabled (0xF4) */
    bool remote;    /* remote mode: packets only on 0xEB */
    bool scaling21; /* 2:1 scaling set (reported, not applied) */
    bool wrap;      /* wrap (echo) mode */
    uint8_t rate;   /* samples per second */
    uint8_t resolution;
    uint8_t id;       /* 0 standard, 3 IntelliMouse (wheel) */
    uint8_t knock[3]; /* the last three sample rates set, newest last */
    uint8_t buttons;  /* as last reported: bit 0 left, 1 right, 2 middle (PS/2 order) */
};

void ps2_mouse_reset(struct ps2_mouse *m);
/* One byte from the guest; writes the mouse's answer to out, returns its length. */
unsigned ps2_mouse_write(struct ps2_mouse *m, uint8_t v, uint8_t out[PS2_MOUSE_REPLY_MAX]);
/* One movement report: dx right, dy down (screen sense), buttons bit 0 left, 1 middle, 2 right.
 * Writes one packet (dx, dy clamped to -256..255) to out and returns its length, or 0 if the
 * mouse is not streaming. */
unsigned ps2_mouse_motion(struct ps2_mouse *m, int dx, int dy, unsigned buttons,
                          uint8_t out[PS2_MOUSE_PACKET]);

/* Its description, for nesting in the controller's state section. */
extern const struct state_desc ps2_mouse_desc;
