/* display.c — choosing a display front end from its spec string (display.h) and the calls
 * every front end answers through its ops table. */
#include "backend/display.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int display_vnc_parse_addr(const char *addr, char host[64], int *port)
{
    snprintf(host, 64, "127.0.0.1");
    *port = 5900;
    if (!addr || !*addr) return 0;
    const char *colon = strrchr(addr, ':');
    if (!colon) return -1;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 64) return -1;
    char *end;
    long n = strtol(colon + 1, &end, 10);
    if (colon[1] == 0 || *end || n < 0 || n > 65535) return -1;
    if (hl) {
        memcpy(host, addr, hl);
        host[hl] = 0;
        *port = (int)n;
    } else {
        /* ":N" is a display number, as vncviewer and QEMU read it; ":5901" a port. */
        *port = n < 100 ? 5900 + (int)n : (int)n;
    }
    return 0;
}

int display_check_spec(const char *spec, char *err, size_t errlen)
{
    char host[64];
    int port;
    if (!strcmp(spec, "window") || !strcmp(spec, "vnc")) return 0;
    if (!strncmp(spec, "vnc=", 4)) {
        if (display_vnc_parse_addr(spec + 4, host, &port) == 0) return 0;
        snprintf(err, errlen, "--display: '%s' is not vnc=[HOST]:PORT or vnc=:N", spec);
        return -1;
    }
    snprintf(err, errlen, "--display: '%s' is not none, vnc[=ADDR] or window", spec);
    return -1;
}

struct display *display_open(const char *spec, const struct display_surface *s,
                             const struct display_sink *sink, char *err, size_t errlen)
{
    if (display_check_spec(spec, err, errlen) < 0) return NULL;
    if (!strcmp(spec, "window")) return display_sdl_open(s, sink, err, errlen);
    return display_vnc_open(spec[3] == '=' ? spec + 4 : "", s, sink, err, errlen);
}

void display_update(struct display *d, unsigned x, unsigned y, unsigned w, unsigned h)
{
    if (w && h) d->ops->update(d, x, y, w, h);
}

void display_resize(struct display *d, const struct display_surface *s)
{
    d->ops->resize(d, s);
}

bool display_has_viewer(struct display *d)
{
    return d->ops->has_viewer(d);
}

void display_close(struct display *d)
{
    if (d) d->ops->close(d);
}
