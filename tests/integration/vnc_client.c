/* vnc_client.c — a small real VNC client (libvncclient) for the display tests: connect, take
 * the whole frame as the server sends it, optionally type text as key events, and write the
 * frame as a binary PPM (P6).
 *
 *   vnc_client HOST:PORT [--type TEXT] [--point X,Y,MASK;...] [--capture OUT.ppm]
 *              [--settle MS] [--hold S]
 *
 * --type sends each character of TEXT as X11 keysym press and release (with Shift around the
 * characters a US keyboard shifts; "\n" is Return), 20 ms apart. --point sends pointer events
 * (position and RFB button mask: 1 left, 2 middle, 4 right, 8/16 wheel), 50 ms apart. --capture
 * waits until no update has arrived for --settle ms (default 500) after the first full frame, then
 * writes the frame (or 10 s have passed). --hold stays connected for S seconds as a viewer does
 * (taking every update the server sends). Exit 0 on success, 1 on any failure (reason on stderr).
 */
#include <rfb/rfbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int updates;

static void on_update(rfbClient *cl, int x, int y, int w, int h)
{
    (void)cl, (void)x, (void)y, (void)w, (void)h;
    updates++;
}

static void quiet(const char *fmt, ...)
{
    (void)fmt;
}

static long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1000L + tv.tv_usec / 1000;
}

/* Serve the connection for ms milliseconds. */
static int pump(rfbClient *cl, long ms)
{
    long end = now_ms() + ms;
    while (now_ms() < end) {
        int n = WaitForMessage(cl, 10000);
        if (n < 0) return -1;
        if (n > 0 && !HandleRFBServerMessage(cl)) return -1;
    }
    return 0;
}

static int shifted(int c)
{
    return (c >= 'A' && c <= 'Z') || (c && strchr("~!@#$%^&*()_+{}|:\"<>?", c));
}

static void key(rfbClient *cl, uint32_t ks, int down)
{
    SendKeyEvent(cl, ks, down ? TRUE : FALSE);
    pump(cl, 20);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: vnc_client HOST:PORT [--type TEXT] [--capture OUT] [--settle MS]\n");
        return 1;
    }
    const char *type = NULL, *capture = NULL, *point = NULL;
    long settle = 500, hold = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--type"))
            type = argv[i + 1];
        else if (!strcmp(argv[i], "--point"))
            point = argv[i + 1];
        else if (!strcmp(argv[i], "--capture"))
            capture = argv[i + 1];
        else if (!strcmp(argv[i], "--settle"))
            settle = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--hold"))
            hold = atol(argv[i + 1]);
    }
    char host[256];
    snprintf(host, sizeof(host), "%s", argv[1]);
    char *colon = strrchr(host, ':');
    if (!colon) return fprintf(stderr, "vnc_client: address needs :PORT\n"), 1;
    *colon = 0;
    rfbClientLog = quiet;
    rfbClient *cl = rfbGetClient(8, 3, 4); /* 32 bits per pixel, red in the low byte */
    cl->GotFrameBufferUpdate = on_update;
    cl->serverHost = strdup(host);
    cl->serverPort = atoi(colon + 1);
    cl->appData.encodingsString = "raw";
    int dummy = 0;
    if (!rfbInitClient(cl, &dummy, NULL)) return fprintf(stderr, "vnc_client: cannot connect\n"), 1;
    /* The first full frame. */
    long end = now_ms() + 20000;
    while (updates == 0 && now_ms() < end)
        if (pump(cl, 100) < 0) return fprintf(stderr, "vnc_client: connection lost\n"), 1;
    if (updates == 0) return fprintf(stderr, "vnc_client: no frame within 20 s\n"), 1;
    if (type) {
        for (const char *p = type; *p; p++) {
            uint32_t ks = *p == '\n' ? 0xff0d : (unsigned char)*p;
            int sh = shifted(*p);
            if (sh) key(cl, 0xffe1, 1);
            key(cl, ks, 1);
            key(cl, ks, 0);
            if (sh) key(cl, 0xffe1, 0);
        }
    }
    for (const char *p = point; p && *p;) {
        int x, y, mask, used;
        if (sscanf(p, "%d,%d,%d%n", &x, &y, &mask, &used) != 3)
            return fprintf(stderr, "vnc_client: bad --point at '%s'\n", p), 1;
        SendPointerEvent(cl, x, y, mask);
        if (pump(cl, 50) < 0) return fprintf(stderr, "vnc_client: connection lost\n"), 1;
        p += used;
        if (*p == ';') p++;
    }
    if (capture) {
        /* Until the picture stops changing (a blinking cursor never does: at most 10 s). */
        for (long stop = now_ms() + 10000; now_ms() < stop;) {
            int before = updates;
            SendFramebufferUpdateRequest(cl, 0, 0, cl->width, cl->height, TRUE);
            if (pump(cl, settle) < 0) return fprintf(stderr, "vnc_client: connection lost\n"), 1;
            if (updates == before) break;
        }
        FILE *f = fopen(capture, "wb");
        if (!f) return perror(capture), 1;
        fprintf(f, "P6\n%d %d\n255\n", cl->width, cl->height);
        for (int y = 0; y < cl->height; y++)
            for (int x = 0; x < cl->width; x++) {
                const uint8_t *px = cl->frameBuffer + ((size_t)y * cl->width + x) * 4;
                fwrite(px, 1, 3, f); /* R G B */
            }
        fclose(f);
    }
    if (hold && pump(cl, hold * 1000) < 0)
        return fprintf(stderr, "vnc_client: connection lost\n"), 1;
    rfbClientCleanup(cl);
    return 0;
}
