/* display.h — display front ends: where the guest's framebuffer is shown and where the
 * person's keys come from. A front end knows nothing of the display device: it gets a surface
 * (pixels it may read at any time, 32-bit XRGB8888 little-endian — bytes B, G, R, unused),
 * is told which rectangles changed, and hands keys back as PC scancodes (set 1) through a sink.
 *
 * Spec strings (the --display option):
 *   vnc[=[HOST]:PORT | =:N]   a VNC server (libvncserver); :N is port 5900+N; default
 *                            127.0.0.1:5900 (loopback only: there is no password)
 *   window                   a native window (SDL2) on the host's display
 * "none" is not a front end: the caller creates no display at all.
 *
 * Threads: each front end runs its own thread(s); display_update and display_has_viewer may be
 * called from any one other thread, and the sink is called on the front end's threads. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct display_surface {
    const uint8_t *pixels;
    unsigned width, height, stride; /* stride in bytes */
};

/* Set-1 scancode of a key: the make code, 0xE000 | code for the E0-prefixed keys. */
#define DISPLAY_KEY_E0 0xE000u

struct display_sink {
    void (*key)(void *opaque, uint16_t code, bool down);
    /* Absolute pointer position in framebuffer pixels, buttons bit 0 left, 1 middle, 2 right,
     * 3 and 4 the wheel up and down (pressed for one notch, as RFB sends it). */
    void (*pointer)(void *opaque, unsigned x, unsigned y, unsigned buttons);
    /* A viewer appeared: the machine should start sending updates soon. */
    void (*wake)(void *opaque);
    void *opaque;
};

struct display;

/* Parse spec and start the front end. NULL with a one-line message in err (usage errors such as
 * a bad address, or host failures such as a port in use or no host display). */
struct display *display_open(const char *spec, const struct display_surface *s,
                             const struct display_sink *sink, char *err, size_t errlen);
/* Rows/columns [x, x+w) x [y, y+h) of the surface changed. */
void display_update(struct display *d, unsigned x, unsigned y, unsigned w, unsigned h);
/* The surface changed geometry or place (the guest set another mode): the front end shows the
 * new one from now on (a VNC client is sent the new size, the window follows it). The old
 * surface's pixels must stay readable until this returns; both are guest memory. */
void display_resize(struct display *d, const struct display_surface *s);
/* Whether anyone is looking (a VNC client connected, the window open): scan only then. */
bool display_has_viewer(struct display *d);
void display_close(struct display *d);

/* Check a spec without starting anything: 0, or -1 with a message. */
int display_check_spec(const char *spec, char *err, size_t errlen);

/* Key tables (display_keymap.c). */
/* USB HID usage (keyboard page; SDL's scancodes) -> set-1 code, 0 if none. */
uint16_t display_hid_to_set1(unsigned usage);
/* X11 keysym (VNC's key events) -> set-1 code, 0 if none. A shifted symbol maps to its key
 * ('A' and 'a' both to the A key): the client sends Shift itself. */
uint16_t display_keysym_to_set1(uint32_t keysym);

/* A PNG file of the surface (display_png.c): written to PATH.tmp, then renamed. 0, or -1 with
 * a message. */
int display_write_png(const struct display_surface *s, const char *path, char *err, size_t errlen);

/* Front ends, for display.c. */
struct display_ops {
    void (*update)(struct display *d, unsigned x, unsigned y, unsigned w, unsigned h);
    void (*resize)(struct display *d, const struct display_surface *s);
    bool (*has_viewer)(struct display *d);
    void (*close)(struct display *d);
};
struct display {
    const struct display_ops *ops;
};
struct display *display_vnc_open(const char *addr, const struct display_surface *s,
                                 const struct display_sink *sink, char *err, size_t errlen);
struct display *display_sdl_open(const struct display_surface *s, const struct display_sink *sink,
                                 char *err, size_t errlen);
/* Parse "[HOST]:PORT", ":N" (5900+N) or "" (127.0.0.1:5900). 0 or -1. */
int display_vnc_parse_addr(const char *addr, char host[64], int *port);
