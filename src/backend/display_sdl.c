/* display_sdl.c — the window front end (SDL2): one thread owns SDL, the window, a streaming
 * texture and the renderer. It sleeps in SDL_WaitEvent; display_update merges the changed
 * rectangle into a pending one and pushes a user event, so the thread copies only that part of
 * the framebuffer into the texture and presents it. Keys go to the sink as set-1 scancodes (SDL
 * scancodes are USB HID usages, independent of the host's layout); the pointer in framebuffer
 * pixels. Closing the window hides it and stops the updates, not the guest (power it off, or
 * Ctrl-A x on the console). */
#include <SDL.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/display.h"
#include "sandbox/sandbox.h"
#include "vessel/log.h"

struct display_sdl {
    struct display base;
    struct display_surface surf;
    struct display_sink sink;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t started;
    int state;          /* 0 starting, 1 running, -1 failed */
    char why[256];      /* why it failed */
    uint32_t ev_update; /* SDL user event numbers */
    bool pending, update_queued;
    bool resized;                /* surf changed geometry: a new texture and window size */
    unsigned px0, py0, px1, py1; /* pending rectangle */
    atomic_bool open;
};

static void sdl_present(struct display_sdl *d, SDL_Window *w, SDL_Renderer *r, SDL_Texture **t)
{
    pthread_mutex_lock(&d->lock);
    bool any = d->pending, resized = d->resized;
    struct display_surface s = d->surf;
    SDL_Rect rect = {(int)d->px0, (int)d->py0, (int)(d->px1 - d->px0), (int)(d->py1 - d->py0)};
    d->pending = d->update_queued = d->resized = false;
    pthread_mutex_unlock(&d->lock);
    if (resized) {
        SDL_Texture *nt = SDL_CreateTexture(r, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                                            (int)s.width, (int)s.height);
        if (nt) {
            SDL_DestroyTexture(*t);
            *t = nt;
            SDL_SetWindowSize(w, (int)s.width, (int)s.height);
            any = true;
            rect = (SDL_Rect){0, 0, (int)s.width, (int)s.height};
        } else {
            log_warn("window: cannot resize to %ux%u: %s", s.width, s.height, SDL_GetError());
            return;
        }
    }
    if (any && rect.x + rect.w <= (int)s.width && rect.y + rect.h <= (int)s.height)
        SDL_UpdateTexture(*t, &rect, s.pixels + (size_t)rect.y * s.stride + rect.x * 4u,
                          (int)s.stride);
    SDL_RenderClear(r);
    SDL_RenderCopy(r, *t, NULL, NULL);
    SDL_RenderPresent(r);
}

static void sdl_fail(struct display_sdl *d, const char *what)
{
    pthread_mutex_lock(&d->lock);
    snprintf(d->why, sizeof(d->why), "--display window: %s: %s", what, SDL_GetError());
    d->state = -1;
    pthread_cond_signal(&d->started);
    pthread_mutex_unlock(&d->lock);
}

static void *sdl_thread(void *arg)
{
    struct display_sdl *d = arg;
    /* Before SDL starts: any helper thread it makes inherits the list. */
    sandbox_enter(SANDBOX_DISPLAY);
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        sdl_fail(d, "cannot open the host display");
        return NULL;
    }
    SDL_Window *w = SDL_CreateWindow("vessel", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                     (int)d->surf.width, (int)d->surf.height, 0);
    SDL_Renderer *r = w ? SDL_CreateRenderer(w, -1, 0) : NULL;
    SDL_Texture *t = r ? SDL_CreateTexture(r, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                                           (int)d->surf.width, (int)d->surf.height)
                       : NULL;
    uint32_t ev = SDL_RegisterEvents(2);
    if (!t || ev == (uint32_t)-1) {
        sdl_fail(d, "cannot create the window");
        if (r) SDL_DestroyRenderer(r);
        if (w) SDL_DestroyWindow(w);
        SDL_Quit();
        return NULL;
    }
    pthread_mutex_lock(&d->lock);
    d->ev_update = ev;
    d->state = 1;
    d->pending = true; /* the whole frame first */
    d->px0 = d->py0 = 0;
    d->px1 = d->surf.width;
    d->py1 = d->surf.height;
    pthread_cond_signal(&d->started);
    pthread_mutex_unlock(&d->lock);
    atomic_store(&d->open, true);
    if (d->sink.wake) d->sink.wake(d->sink.opaque);
    sdl_present(d, w, r, &t);

    SDL_Event e;
    bool quit = false;
    while (!quit && SDL_WaitEvent(&e)) {
        switch (e.type) {
        case SDL_KEYDOWN:
        case SDL_KEYUP: {
            uint16_t code = display_hid_to_set1(e.key.keysym.scancode);
            if (code && d->sink.key) d->sink.key(d->sink.opaque, code, e.type == SDL_KEYDOWN);
            break;
        }
        case SDL_MOUSEMOTION:
        case SDL_MOUSEBUTTONDOWN:
        case SDL_MOUSEBUTTONUP: {
            int x, y;
            uint32_t b = SDL_GetMouseState(&x, &y);
            unsigned m = (b & SDL_BUTTON_LMASK ? 1 : 0) | (b & SDL_BUTTON_MMASK ? 2 : 0) |
                         (b & SDL_BUTTON_RMASK ? 4 : 0);
            if (d->sink.pointer)
                d->sink.pointer(d->sink.opaque, x < 0 ? 0 : (unsigned)x, y < 0 ? 0 : (unsigned)y,
                                m);
            break;
        }
        case SDL_WINDOWEVENT:
            if (e.window.event == SDL_WINDOWEVENT_EXPOSED) sdl_present(d, w, r, &t);
            if (e.window.event == SDL_WINDOWEVENT_CLOSE) { /* nobody looking any more */
                SDL_HideWindow(w);
                atomic_store(&d->open, false);
                log_info("window closed; the guest goes on");
            }
            break;
        default:
            if (e.type == d->ev_update) sdl_present(d, w, r, &t);
            if (e.type == d->ev_update + 1) quit = true;
            break;
        }
    }
    atomic_store(&d->open, false);
    SDL_DestroyTexture(t);
    SDL_DestroyRenderer(r);
    SDL_DestroyWindow(w);
    SDL_Quit();
    return NULL;
}

static void sdl_update(struct display *base, unsigned x, unsigned y, unsigned w, unsigned h)
{
    struct display_sdl *d = (struct display_sdl *)base;
    pthread_mutex_lock(&d->lock);
    if (!d->pending) {
        d->px0 = x, d->py0 = y, d->px1 = x + w, d->py1 = y + h;
    } else {
        if (x < d->px0) d->px0 = x;
        if (y < d->py0) d->py0 = y;
        if (x + w > d->px1) d->px1 = x + w;
        if (y + h > d->py1) d->py1 = y + h;
    }
    d->pending = true;
    bool queue = !d->update_queued;
    d->update_queued = true;
    pthread_mutex_unlock(&d->lock);
    if (queue) {
        SDL_Event e = {.type = d->ev_update};
        SDL_PushEvent(&e);
    }
}

static void sdl_resize(struct display *base, const struct display_surface *s)
{
    struct display_sdl *d = (struct display_sdl *)base;
    pthread_mutex_lock(&d->lock);
    d->surf = *s;
    d->resized = d->pending = true;
    d->px0 = d->py0 = 0;
    d->px1 = s->width;
    d->py1 = s->height;
    bool queue = !d->update_queued;
    d->update_queued = true;
    pthread_mutex_unlock(&d->lock);
    if (queue) {
        SDL_Event e = {.type = d->ev_update};
        SDL_PushEvent(&e);
    }
}

static bool sdl_has_viewer(struct display *base)
{
    return atomic_load(&((struct display_sdl *)base)->open);
}

static void sdl_close(struct display *base)
{
    struct display_sdl *d = (struct display_sdl *)base;
    SDL_Event e = {.type = d->ev_update + 1};
    SDL_PushEvent(&e);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->started);
    free(d);
}

static const struct display_ops sdl_ops = {sdl_update, sdl_resize, sdl_has_viewer, sdl_close};

struct display *display_sdl_open(const struct display_surface *s, const struct display_sink *sink,
                                 char *err, size_t errlen)
{
    struct display_sdl *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->base.ops = &sdl_ops;
    d->surf = *s;
    d->sink = *sink;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->started, NULL);
    if (pthread_create(&d->thread, NULL, sdl_thread, d) != 0) {
        snprintf(err, errlen, "--display window: cannot start its thread");
        free(d);
        return NULL;
    }
    pthread_mutex_lock(&d->lock);
    while (d->state == 0)
        pthread_cond_wait(&d->started, &d->lock);
    int state = d->state;
    pthread_mutex_unlock(&d->lock);
    if (state < 0) {
        snprintf(err, errlen, "%s", d->why);
        pthread_join(d->thread, NULL);
        free(d);
        return NULL;
    }
    log_info("window open (%ux%u)", s->width, s->height);
    return &d->base;
}
