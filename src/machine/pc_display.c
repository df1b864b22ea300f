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
 * With --display-device bochs the card is the PCI bochs-display instead (hw/bochs_display.h): its
 * video memory is the same kind of reserved RAM, shown at its BAR0; the board plays firmware
 * (BAR0 placed, the configured mode set, screen_info pointing at BAR0, so efifb works until
 * bochs-drm takes over), and the scan follows the mode the guest sets: when the DISPI registers
 * change, the framebuffer view is rebuilt over the new scanout and the front end resized.
 *
 * The framebuffer's pixels are guest RAM, saved with it; the entry has no state section (the
 * bochs-display has its own, in its own list entry). */
#include "machine/pc_display.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/display.h"
#include "hw/bochs_display.h"
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
    struct bochs_display *bochs; /* the PCI display, or NULL: the plain framebuffer */
    uint64_t bochs_gen;          /* its register generation the view was built for */
    struct display *fe;
    struct i8042 *kbd;
    struct virtio_input *tablet; /* the pointer goes here once the guest drives it */
    const char *screenshot;
    bool viewing;                  /* a viewer was there at the last scan */
    uint64_t next;                 /* next scan, host ns */
    _Atomic unsigned cur_w, cur_h; /* the picture's size, for the front-end threads */
    pthread_mutex_t ptr_lock;      /* front-end threads: the last pointer position */
    bool ptr_known;
    unsigned ptr_x, ptr_y, ptr_buttons;
};

uint64_t pc_display_ram(const struct pc_config *cfg)
{
    if (!cfg->display) return 0;
    if (cfg->display_bochs) return bochs_display_vram_for(cfg->display_width, cfg->display_height);
    return lfb_size_for(cfg->display_width, cfg->display_height);
}

static void pc_display_rearm(void *opaque)
{
    struct pc_display *d = opaque;
    pc_rearm_dirty(d->pc);
}

static void pc_display_rect(void *opaque, unsigned x, unsigned y, unsigned w, unsigned h)
{
    struct pc_display *d = opaque;
    display_update(d->fe, x, y, w, h);
}

static struct display_surface pc_display_surface(const struct pc_display *d)
{
    return (struct display_surface){lfb_pixels(d->fb), lfb_width(d->fb), lfb_height(d->fb),
                                    lfb_stride(d->fb)};
}

/* The PCI display: rebuild the view when the guest set another scanout. A mode being set (off,
 * or not yet inside video memory) keeps the last picture. */
static void pc_display_follow_mode(struct pc_display *d)
{
    if (!d->bochs || bochs_display_generation(d->bochs) == d->bochs_gen) return;
    d->bochs_gen = bochs_display_generation(d->bochs);
    struct bochs_scanout sc;
    if (!bochs_display_scanout(d->bochs, &sc)) return;
    uint64_t base = bochs_display_vram_gpa(d->bochs) + sc.offset;
    if (base == lfb_base(d->fb) && sc.width == lfb_width(d->fb) && sc.height == lfb_height(d->fb) &&
        sc.stride == lfb_stride(d->fb))
        return;
    struct lfb *fb =
        lfb_create_rows(&d->pc->bus, base, sc.width, sc.height, sc.stride, pc_display_rearm, d);
    if (!fb) return; /* wider than a front end takes: keep the last picture */
    struct lfb *old = d->fb;
    d->fb = fb;
    atomic_store(&d->cur_w, sc.width);
    atomic_store(&d->cur_h, sc.height);
    struct display_surface s = pc_display_surface(d);
    display_resize(d->fe, &s); /* the old pixels stay readable: they are guest RAM */
    lfb_destroy(old);
    log_info("display: %ux%u", sc.width, sc.height);
    d->viewing = false; /* the next scan sends the whole frame */
}

static uint64_t pc_display_timer(void *obj, uint64_t now)
{
    struct pc_display *d = obj;
    pc_display_follow_mode(d);
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
        virtio_input_pointer(d->tablet, x, y, atomic_load(&d->cur_w), atomic_load(&d->cur_h),
                             buttons & 7, wheel);
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
        pc_display_follow_mode(pc->dev[k].obj);
        struct display_surface s = pc_display_surface(pc->dev[k].obj);
        return display_write_png(&s, path, err, errlen) < 0 ? -1 : 0;
    }
    snprintf(err, errlen, "the VM has no display (run it with --display)");
    return -1;
}

static const struct pc_device_ops pc_display_ops = {pc_display_destroy, NULL, NULL,
                                                    pc_display_timer, NULL};

/* The bochs-display's own list entry (its state section). */
static void pc_bochs_destroy(void *o)
{
    bochs_display_destroy(o);
}
static void pc_bochs_save(void *o, struct state_writer *w, const char *name)
{
    (void)name;
    bochs_display_save(o, w);
}
static int pc_bochs_load(void *o, struct state_reader *r, const char *name)
{
    (void)name;
    return bochs_display_load(o, r);
}
static const struct pc_device_ops pc_bochs_ops = {pc_bochs_destroy, pc_bochs_save, pc_bochs_load,
                                                  NULL, NULL};

/* The BAR0 moved: translations of its old address go (the same flush as a re-arm). */
static void pc_display_flush(void *opaque)
{
    struct pc *pc = opaque;
    pc_rearm_dirty(pc);
}

/* The PCI display over the reserved RAM [base, base+size), on the list before the display's
 * own entry, BAR0 at the start of the PCI window and BAR2 after it, in the configured mode. */
static int pc_display_add_bochs(struct pc *pc, struct pc_display *d, const struct pc_config *cfg,
                                uint64_t base, uint64_t size)
{
    struct bochs_display_config bc = {.vram_gpa = base,
                                      .vram_size = size,
                                      .width = cfg->display_width,
                                      .height = cfg->display_height,
                                      .flush = pc_display_flush,
                                      .opaque = pc};
    d->bochs = bochs_display_create(pc->pci, &pc->bus, &bc);
    if (!d->bochs || pc->ndev == PC_MAX_DEVICES) {
        bochs_display_destroy(d->bochs);
        d->bochs = NULL;
        return -1;
    }
    pc->dev[pc->ndev++] =
        (struct pc_device){.name = "bochs-display", .obj = d->bochs, .ops = &pc_bochs_ops};
    pc->optional |= PC_HAS_BOCHS;
    bochs_display_firmware_init(d->bochs, PC_PCI_MMIO_BASE, PC_PCI_MMIO_BASE + size);
    d->bochs_gen = bochs_display_generation(d->bochs);
    return 0;
}

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
    uint64_t base = pc->bus.low_ram_end - size, addr = 0;
    if (cfg->display_bochs && d->kbd) {
        if (pc_display_add_bochs(pc, d, cfg, base, size) < 0) {
            pthread_mutex_destroy(&d->ptr_lock);
            free(d);
            return snprintf(err, errlen, "cannot create the bochs-display"), -1;
        }
        struct bochs_scanout sc;
        addr = PC_PCI_MMIO_BASE;
        if (bochs_display_scanout(d->bochs, &sc))
            d->fb = lfb_create_rows(&pc->bus, base + sc.offset, sc.width, sc.height, sc.stride,
                                    pc_display_rearm, d);
    } else {
        d->fb = lfb_create(&pc->bus, base, cfg->display_width, cfg->display_height,
                           pc_display_rearm, d);
    }
    if (!d->fb || !d->kbd) {
        lfb_destroy(d->fb);
        pthread_mutex_destroy(&d->ptr_lock);
        free(d);
        return snprintf(err, errlen, "cannot create the framebuffer"), -1;
    }
    atomic_store(&d->cur_w, lfb_width(d->fb));
    atomic_store(&d->cur_h, lfb_height(d->fb));
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
    *screen = (struct boot_screen){base, size, s.width, s.height, s.stride, addr};
    if (pc->ndev == PC_MAX_DEVICES) {
        pc_display_destroy(d);
        return snprintf(err, errlen, "too many devices (display)"), -1;
    }
    pc->dev[pc->ndev++] = (struct pc_device){.name = "display", .obj = d, .ops = &pc_display_ops};
    return 0;
}
