/* ps2_mouse.c — the PS/2 mouse's commands and packets (ps2_mouse.h). Every command is
 * acknowledged with 0xFA; commands it does not know are acknowledged too, as psmouse's probes
 * for vendor extensions (Synaptics, ALPS, ...) then see a plain mouse and move on. */
#include "hw/ps2_mouse.h"

#include <stddef.h>

#include "vessel/state.h"

#define ACK 0xfa

void ps2_mouse_reset(struct ps2_mouse *m)
{
    *m = (struct ps2_mouse){.rate = 100, .resolution = 2};
}

static unsigned ps2_mouse_packet(struct ps2_mouse *m, int dx, int dy, uint8_t *out)
{
    if (dx < -256) dx = -256;
    if (dx > 255) dx = 255;
    int up = -dy; /* PS/2 counts y upwards */
    if (up < -256) up = -256;
    if (up > 255) up = 255;
    out[0] = (uint8_t)(0x08 | (m->buttons & 7) | (dx < 0 ? 0x10 : 0) | (up < 0 ? 0x20 : 0));
    out[1] = (uint8_t)dx;
    out[2] = (uint8_t)up;
    if (m->id != 3) return 3;
    out[3] = 0; /* no wheel movement */
    return 4;
}

unsigned ps2_mouse_write(struct ps2_mouse *m, uint8_t v, uint8_t out[PS2_MOUSE_REPLY_MAX])
{
    if (m->cmd) { /* the parameter of 0xF3 (rate) or 0xE8 (resolution) */
        if (m->cmd == 0xf3) {
            m->rate = v;
            m->knock[0] = m->knock[1];
            m->knock[1] = m->knock[2];
            m->knock[2] = v;
            if (m->knock[0] == 200 && m->knock[1] == 100 && m->knock[2] == 80) m->id = 3;
        } else {
            m->resolution = v & 3;
        }
        m->cmd = 0;
        out[0] = ACK;
        return 1;
    }
    if (m->wrap && v != 0xec && v != 0xff) {
        out[0] = v;
        return 1;
    }
    out[0] = ACK;
    switch (v) {
    case 0xff: /* reset: ACK, self-test passed, id */
        ps2_mouse_reset(m);
        out[1] = 0xaa;
        out[2] = 0x00;
        return 3;
    case 0xf6: { /* defaults, keeping the id */
        uint8_t id = m->id;
        ps2_mouse_reset(m);
        m->id = id;
        return 1;
    }
    case 0xf5: m->streaming = false; return 1;
    case 0xf4: m->streaming = true; return 1;
    case 0xf3:
    case 0xe8: m->cmd = v; return 1;
    case 0xf2: out[1] = m->id; return 2;
    case 0xf0: m->remote = true; return 1;
    case 0xea: m->remote = false; return 1;
    case 0xee: m->wrap = true; return 1;
    case 0xec: m->wrap = false; return 1;
    case 0xe7: m->scaling21 = true; return 1;
    case 0xe6: m->scaling21 = false; return 1;
    case 0xeb: { /* read data: a packet without movement */
        return 1 + ps2_mouse_packet(m, 0, 0, out + 1);
    }
    case 0xe9: /* status: mode, enable, scaling, buttons (left, middle, right order) */
        out[1] = (uint8_t)((m->remote ? 0x40 : 0) | (m->streaming ? 0x20 : 0) |
                           (m->scaling21 ? 0x10 : 0) | ((m->buttons & 1) << 2) |
                           ((m->buttons & 4) >> 1) | ((m->buttons & 2) >> 1));
        out[2] = m->resolution;
        out[3] = m->rate;
        return 4;
    default: return 1;
    }
}

unsigned ps2_mouse_motion(struct ps2_mouse *m, int dx, int dy, unsigned buttons,
                          uint8_t out[PS2_MOUSE_PACKET])
{
    /* Host order left, middle, right -> PS/2 order left, right, middle. */
    m->buttons = (uint8_t)((buttons & 1) | ((buttons & 4) >> 1) | ((buttons & 2) << 1));
    if (!m->streaming || m->remote) return 0;
    return ps2_mouse_packet(m, dx, dy, out);
}

static const struct state_field ps2_mouse_fields[] = {
    STATE_U8(struct ps2_mouse, cmd),
    STATE_BOOL(struct ps2_mouse, streaming),
    STATE_BOOL(struct ps2_mouse, remote),
    STATE_BOOL(struct ps2_mouse, scaling21),
    STATE_BOOL(struct ps2_mouse, wrap),
    STATE_U8(struct ps2_mouse, rate),
    STATE_UINT_X(struct ps2_mouse, resolution, 1, UINT64_MAX, 0, 0, 3),
    STATE_UINT_X(struct ps2_mouse, id, 1, UINT64_MAX, 0, 0, 3),
    STATE_BYTES(struct ps2_mouse, knock),
    STATE_UINT_M(struct ps2_mouse, buttons, 1, 7),
};
const struct state_desc ps2_mouse_desc = STATE_DESC(struct ps2_mouse, ps2_mouse_fields, NULL);
