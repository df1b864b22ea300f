/* display_vnc.c — the VNC front end: a libvncserver screen whose frame buffer is the guest's
 * framebuffer itself (no copy; the server reads it when it encodes an update), served on
 * libvncserver's own threads (one listener, two per client). Changed rectangles are marked
 * modified, so clients get only those; keys arrive as X11 keysyms and go to the sink as set-1
 * scancodes; the pointer goes to the sink in absolute framebuffer coordinates. No password:
 * the default address is the loopback interface. */
#include <arpa/inet.h>
#include <pthread.h>
#include <rfb/rfb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/display.h"
#include "sandbox/sandbox.h"
#include "vessel/log.h"

struct display_vnc {
    struct display base; /* first: struct display * is a struct display_vnc * */
    rfbScreenInfoPtr screen;
    struct display_sink sink;
    atomic_int clients;
};

static void vnc_client_gone(rfbClientPtr cl)
{
    struct display_vnc *v = cl->screen->screenData;
    atomic_fetch_sub(&v->clients, 1);
}

static enum rfbNewClientAction vnc_new_client(rfbClientPtr cl)
{
    struct display_vnc *v = cl->screen->screenData;
    cl->clientGoneHook = vnc_client_gone;
    atomic_fetch_add(&v->clients, 1);
    if (v->sink.wake) v->sink.wake(v->sink.opaque);
    return RFB_CLIENT_ACCEPT;
}

static void vnc_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
    struct display_vnc *v = cl->screen->screenData;
    uint16_t code = display_keysym_to_set1(keysym);
    if (code && v->sink.key) v->sink.key(v->sink.opaque, code, down);
}

static void vnc_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    struct display_vnc *v = cl->screen->screenData;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    /* RFB buttons: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down (a press per notch). */
    if (v->sink.pointer) v->sink.pointer(v->sink.opaque, (unsigned)x, (unsigned)y, mask & 31);
    rfbDefaultPtrAddEvent(mask, x, y, cl);
}

static void vnc_update(struct display *d, unsigned x, unsigned y, unsigned w, unsigned h)
{
    struct display_vnc *v = (struct display_vnc *)d;
    rfbMarkRectAsModified(v->screen, (int)x, (int)y, (int)(x + w), (int)(y + h));
}

/* XRGB8888 little-endian: blue in the low byte. libvncserver converts for each client. */
static void vnc_set_format(rfbScreenInfoPtr scr, const struct display_surface *s)
{
    scr->serverFormat.redShift = 16;
    scr->serverFormat.greenShift = 8;
    scr->serverFormat.blueShift = 0;
    scr->paddedWidthInBytes = (int)s->stride;
}

/* libvncserver locks each client while it swaps the buffer and tells the clients that can
 * take a new size (the others are dropped, as the protocol leaves no other way). */
static void vnc_resize(struct display *d, const struct display_surface *s)
{
    struct display_vnc *v = (struct display_vnc *)d;
    rfbNewFramebuffer(v->screen, (char *)(uintptr_t)s->pixels, (int)s->width, (int)s->height, 8, 3,
                      4);
    /* It reset the pixel format to its default (and set the clients' translation for that):
     * ours again, and the clients' translation for ours. */
    vnc_set_format(v->screen, s);
    rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
    for (rfbClientPtr cl; (cl = rfbClientIteratorNext(it));)
        v->screen->setTranslateFunction(cl);
    rfbReleaseClientIterator(it);
    rfbMarkRectAsModified(v->screen, 0, 0, (int)s->width, (int)s->height);
}

static bool vnc_has_viewer(struct display *d)
{
    struct display_vnc *v = (struct display_vnc *)d;
    return atomic_load(&v->clients) > 0;
}

static void vnc_close(struct display *d)
{
    struct display_vnc *v = (struct display_vnc *)d;
    rfbShutdownServer(v->screen, TRUE);
    v->screen->frameBuffer = NULL; /* the guest's memory, not the server's */
    rfbScreenCleanup(v->screen);
    free(v);
}

static const struct display_ops vnc_ops = {vnc_update, vnc_resize, vnc_has_viewer, vnc_close};

/* libvncserver's own log lines would interleave with the console; ours say what matters. */
static void vnc_quiet(const char *fmt, ...)
{
    (void)fmt;
}

static void *vnc_start_loop(void *scr)
{
    sandbox_enter(SANDBOX_DISPLAY);
    rfbRunEventLoop(scr, -1, TRUE); /* its own thread; returns at once */
    return NULL;
}

struct display *display_vnc_open(const char *addr, const struct display_surface *s,
                                 const struct display_sink *sink, char *err, size_t errlen)
{
    char host[64];
    int port;
    if (display_vnc_parse_addr(addr, host, &port) < 0) {
        snprintf(err, errlen, "--display: bad VNC address '%s'", addr);
        return NULL;
    }
    in_addr_t ip = inet_addr(host);
    if (ip == INADDR_NONE && strcmp(host, "255.255.255.255") != 0) {
        snprintf(err, errlen, "--display: VNC address '%s' is not an IPv4 address", host);
        return NULL;
    }
    struct display_vnc *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rfbLog = vnc_quiet;
    rfbErr = vnc_quiet;
    int argc = 0;
    rfbScreenInfoPtr scr = rfbGetScreen(&argc, NULL, (int)s->width, (int)s->height, 8, 3, 4);
    if (!scr) {
        free(v);
        snprintf(err, errlen, "cannot create the VNC screen");
        return NULL;
    }
    vnc_set_format(scr, s);
    scr->frameBuffer = (char *)(uintptr_t)s->pixels;
    scr->desktopName = "vessel";
    scr->alwaysShared = TRUE;
    scr->autoPort = FALSE;
    scr->port = port;
    scr->ipv6port = 0;
    scr->listenInterface = ip;
    scr->screenData = v;
    scr->newClientHook = vnc_new_client;
    scr->kbdAddEvent = vnc_key;
    scr->ptrAddEvent = vnc_pointer;
    scr->httpDir = NULL;
    /* No server-side cursor: libvncserver draws it into frameBuffer, which is guest memory
     * (and the guest has no pointer of its own to show). */
    scr->cursor = NULL;
    rfbInitServer(scr);
    if (scr->listenSock == RFB_INVALID_SOCKET) {
        snprintf(err, errlen, "--display: cannot listen for VNC on %s:%d (port in use?)", host,
                 port);
        scr->frameBuffer = NULL;
        rfbScreenCleanup(scr);
        free(v);
        return NULL;
    }
    v->base.ops = &vnc_ops;
    v->screen = scr;
    v->sink = *sink;
    /* libvncserver's listener thread (and its per-client threads) inherit the seccomp list of
     * the thread that starts them: start them from a confined helper. */
    pthread_t starter;
    if (pthread_create(&starter, NULL, vnc_start_loop, scr) != 0 ||
        pthread_join(starter, NULL) != 0) {
        snprintf(err, errlen, "--display: cannot start the VNC server's thread");
        scr->frameBuffer = NULL;
        rfbScreenCleanup(scr);
        free(v);
        return NULL;
    }
    log_info("VNC server on %s:%d", host, port);
    return &v->base;
}
