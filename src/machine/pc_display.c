/* pc_display.c — the board's display: the linear framebuffer (hw/lfb.h) at the top of low RAM,
 * a front end (backend/display.h) showing it, and the input path from the front end into the
 * i8042: keys to the keyboard, the pointer to a PS/2 mouse on the AUX port (IRQ 12), which the
 * display adds. The front ends report the pointer's absolute position; the mouse reports
 * movement, so the guest's pointer follows the host's only as far as the guest's acceleration
 * lets it (a tablet would track it exactly). One entry in the board's device list: its timer, on
 * the vCPU's thread, scans the framebuffer's dirty pages at PC_DISPLAY_HZ while somebody is looking
 * and hands the changed rectangles to the front end; with nobody looking it has no deadline at all,
 * so an idle display costs nothing. The front end wakes the loop (the board's kick) when a viewer
 * arrives.
 *
 * The framebuffer's pixels are guest RAM, saved with it; the entry has no state section. */
#include "machine/pc_display.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/display.h"
#include "hw/i8042.h"
#include "hw/lfb.h"
#include "virtio/virtio_input.h"
#include "machine/board.h"
#include "machine/pc_internal.h"
#include "vessel/cpu.h"
#include "vessel/log.h"

#define PC_DISPLAY_HZ     30
#define PC_DISPLAY_PERIOD (1000000000ull / PC_DISPLAY_HZ)

struct pc_display {
    struct pc *pc;
    struct lfb *fb;
    struct display *fe;
    struct i8042 *kbd;
    struct virtio_input *tablet; /* the pointer goes here once the guest drives it */
    const char *screenshot;
    bool viewing;             /* a viewer was there at the last scan */
    uint64_t next;            /* next scan, host ns */
    pthread_mutex_t ptr_lock; /* front-end threads: the last pointer position */
    bool ptr_known;
    unsigned ptr_x, ptr_y, ptr_buttons;
};

uint64_t pc_display_ram(const struct pc_config *cfg)
{
    return cfg->display ? lfb_size_for(cfg->display_width, cfg->display_height) : 0;
}

static void pc_display_rearm(void *opaque)
{
    struct pc_display *d = opaque;
    vcpu_rearm_dirty(d->pc->vcpu);
}

static void pc_display_rect(void *opaque, unsigned x, unsigned y, unsigned w, unsigned h)
{
    struct pc_display *d = opaque;
    display_update(d->fe, x, y, w, h);
}

static uint64_t pc_display_timer(void *obj, uint64_t now)
{
    struct pc_display *d = obj;
    if (!display_has_viewer(d->fe)) {
        d->viewing = false;
        return UINT64_MAX;
    }
    if (!d->viewing) { /* a new viewer sees the whole frame */
        d->viewing = true;
        lfb_clear_dirty(d->fb);
        display_update(d->fe, 0, 0, lfb_width(d->fb), lfb_height(d->fb));
        d->next = now + PC_DISPLAY_PERIOD;
    } else if (now >= d->next) {
        lfb_collect(d->fb, pc_display_rect, d);
        d->next = now + PC_DISPLAY_PERIOD;
    }
    return d->next;
}

/* Front-end threads: a key as the bytes the keyboard sends. */
static void pc_display_key(void *opaque, uint16_t code, bool down)
{
    struct pc_display *d = opaque;
    uint8_t b[2];
    unsigned n = 0;
    if (code & DISPLAY_KEY_E0) b[n++] = 0xe0;
    b[n++] = (uint8_t)((code & 0x7f) | (down ? 0 : 0x80));
    if (!i8042_kbd_input(d->kbd, b, n)) log_warn("display: keyboard buffer full, key dropped");
}

/* Front-end threads: the absolute pointer to the tablet when the guest drives it (exactly
 * where the host's pointer is), otherwise as relative movement of the PS/2 mouse. Bits 3 and
 * 4 of `buttons` are the wheel's "buttons" (RFB's convention): a press is one notch. */
static void pc_display_pointer(void *opaque, unsigned x, unsigned y, unsigned buttons)
{
    struct pc_display *d = opaque;
    pthread_mutex_lock(&d->ptr_lock);
    unsigned pressed = buttons & ~d->ptr_buttons;
    int wheel = (pressed >> 3 & 1) - (pressed >> 4 & 1);
    int dx = d->ptr_known ? (int)x - (int)d->ptr_x : 0;
    int dy = d->ptr_known ? (int)y - (int)d->ptr_y : 0;
    bool send = dx || dy || ((buttons ^ d->ptr_buttons) & 7);
    d->ptr_known = true;
    d->ptr_x = x;
    d->ptr_y = y;
    d->ptr_buttons = buttons;
    if (d->tablet && virtio_input_active(d->tablet)) {
        virtio_input_pointer(d->tablet, x, y, lfb_width(d->fb), lfb_height(d->fb), buttons & 7,
                             wheel);
        send = false;
    }
    /* Big jumps go as several packets (each axis -256..255). */
    while (send) {
        int sx = dx < -255 ? -255 : dx > 255 ? 255 : dx;
        int sy = dy < -255 ? -255 : dy > 255 ? 255 : dy;
        if (!i8042_mouse_input(d->kbd, sx, sy, buttons & 7)) break;
        dx -= sx;
        dy -= sy;
        send = dx || dy;
    }
    pthread_mutex_unlock(&d->ptr_lock);
}

static void pc_display_wake(void *opaque)
{
    struct pc_display *d = opaque;
    if (d->pc->events.kick) d->pc->events.kick(d->pc->events.opaque);
}

static struct display_surface pc_display_surface(const struct pc_display *d)
{
    return (struct display_surface){lfb_pixels(d->fb), lfb_width(d->fb), lfb_height(d->fb),
                                    lfb_stride(d->fb)};
}

static void pc_display_destroy(void *obj)
{
    struct pc_display *d = obj;
    display_close(d->fe); /* first: its threads may still be delivering keys */
    if (d->screenshot) {
        char err[256];
        struct display_surface s = pc_display_surface(d);
        if (display_write_png(&s, d->screenshot, err, sizeof(err)) < 0)
            log_error("screenshot: %s", err);
    }
    lfb_destroy(d->fb);
    pthread_mutex_destroy(&d->ptr_lock);
    free(d);
}

int pc_screenshot(struct pc *pc, const char *path, char *err, size_t errlen)
{
    for (unsigned k = 0; k < pc->ndev; k++) {
        if (strcmp(pc->dev[k].name, "display")) continue;
        struct display_surface s = pc_display_surface(pc->dev[k].obj);
        return display_write_png(&s, path, err, errlen) < 0 ? -1 : 0;
    }
    snprintf(err, errlen, "the VM has no display (run it with --display)");
    return -1;
}

static const struct pc_device_ops pc_display_ops = {pc_display_destroy, NULL, NULL,
                                                    pc_display_timer, NULL};

int pc_display_create(struct pc *pc, const struct pc_config *cfg, struct boot_screen *screen,
                      char *err, size_t errlen, int *usage)
{
    uint64_t size = pc_display_ram(cfg);
    struct pc_display *d = calloc(1, sizeof(*d));
    if (!d) return snprintf(err, errlen, "out of memory"), -1;
    d->pc = pc;
    d->screenshot = cfg->screenshot;
    pthread_mutex_init(&d->ptr_lock, NULL);
    for (unsigned k = 0; k < pc->ndev; k++) {
        if (!strcmp(pc->dev[k].name, "i8042")) d->kbd = pc->dev[k].obj;
        if (!strcmp(pc->dev[k].name, "virtio-input")) d->tablet = pc->dev[k].obj;
    }
    uint64_t base = pc->bus.low_ram_end - size;
    d->fb =
        lfb_create(&pc->bus, base, cfg->display_width, cfg->display_height, pc_display_rearm, d);
    if (!d->fb || !d->kbd) {
        lfb_destroy(d->fb);
        pthread_mutex_destroy(&d->ptr_lock);
        free(d);
        return snprintf(err, errlen, "cannot create the framebuffer"), -1;
    }
    struct display_surface s = pc_display_surface(d);
    i8042_enable_aux(d->kbd, ioapic_irq_line(pc->ioapic, PC_AUX_GSI));
    struct display_sink sink = {
        .key = pc_display_key, .pointer = pc_display_pointer, .wake = pc_display_wake, .opaque = d};
    d->fe = display_open(cfg->display, &s, &sink, err, errlen);
    if (!d->fe) {
        lfb_destroy(d->fb);
        pthread_mutex_destroy(&d->ptr_lock);
        free(d);
        *usage = 1;
        return -1;
    }
    *screen = (struct boot_screen){base, size, s.width, s.height, s.stride};
    if (pc->ndev == PC_MAX_DEVICES) {
        pc_display_destroy(d);
        return snprintf(err, errlen, "too many devices (display)"), -1;
    }
    pc->dev[pc->ndev++] = (struct pc_device){.name = "display", .obj = d, .ops = &pc_display_ops};
    return 0;
}
