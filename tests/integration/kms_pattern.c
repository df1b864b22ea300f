/* kms_pattern.c — a guest program for the PCI display test (test_display_drm.py): a DRM
 * client setting a mode of its own, as a compositor would. It opens /dev/dri/card0, finds the
 * first connector's WIDTHxHEIGHT mode, creates a dumb buffer, fills it with the pattern below,
 * sets the mode on the first CRTC with that buffer, prints "kms: on WxH pitch P", and keeps the
 * mode until it is killed (closing the device gives the console its own mode back).
 *
 *   kms_pattern WIDTH HEIGHT SEED
 *
 * Pixel (x, y) is XRGB8888 kms_pixel(x, y, seed) below; the test computes the same. Built
 * static on the host (no libdrm in the guest): the few DRM uapi structures are spelled here as
 * include/uapi/drm/drm_mode.h has them (a stable ABI). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct drm_mode_modeinfo {
    uint32_t clock;
    uint16_t hdisplay, hsync_start, hsync_end, htotal, hskew;
    uint16_t vdisplay, vsync_start, vsync_end, vtotal, vscan;
    uint32_t vrefresh, flags, type;
    char name[32];
};
struct drm_mode_card_res {
    uint64_t fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
    uint32_t count_fbs, count_crtcs, count_connectors, count_encoders;
    uint32_t min_width, max_width, min_height, max_height;
};
struct drm_mode_crtc {
    uint64_t set_connectors_ptr;
    uint32_t count_connectors, crtc_id, fb_id, x, y, gamma_size, mode_valid;
    struct drm_mode_modeinfo mode;
};
struct drm_mode_get_connector {
    uint64_t encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
    uint32_t count_modes, count_props, count_encoders, encoder_id, connector_id, connector_type,
        connector_type_id, connection, mm_width, mm_height, subpixel, pad;
};
struct drm_mode_fb_cmd {
    uint32_t fb_id, width, height, pitch, bpp, depth, handle;
};
struct drm_mode_create_dumb {
    uint32_t height, width, bpp, flags, handle, pitch;
    uint64_t size;
};
struct drm_mode_map_dumb {
    uint32_t handle, pad;
    uint64_t offset;
};

#define DRM_IOWR_(nr, type) _IOWR('d', nr, type)
#define IOCTL_GETRESOURCES  DRM_IOWR_(0xA0, struct drm_mode_card_res)
#define IOCTL_SETCRTC       DRM_IOWR_(0xA2, struct drm_mode_crtc)
#define IOCTL_GETCONNECTOR  DRM_IOWR_(0xA7, struct drm_mode_get_connector)
#define IOCTL_ADDFB         DRM_IOWR_(0xAE, struct drm_mode_fb_cmd)
#define IOCTL_CREATE_DUMB   DRM_IOWR_(0xB2, struct drm_mode_create_dumb)
#define IOCTL_MAP_DUMB      DRM_IOWR_(0xB3, struct drm_mode_map_dumb)

static uint32_t kms_pixel(uint32_t x, uint32_t y, uint32_t seed)
{
    uint32_t v = (x * 0x9E3779B1u) ^ (y * 0x85EBCA77u) ^ seed;
    v ^= v >> 15;
    v *= 0x2C1B3C6Du;
    v ^= v >> 12;
    return v & 0xFFFFFFu;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kms_pattern WIDTH HEIGHT SEED\n");
        return 2;
    }
    unsigned w = (unsigned)atoi(argv[1]), h = (unsigned)atoi(argv[2]);
    uint32_t seed = (uint32_t)strtoul(argv[3], NULL, 0);
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (fd < 0) die("open /dev/dri/card0");

    struct drm_mode_card_res res = {0};
    if (ioctl(fd, IOCTL_GETRESOURCES, &res) < 0) die("GETRESOURCES");
    uint32_t crtcs[16], conns[16];
    if (!res.count_crtcs || !res.count_connectors) die("no CRTC or connector");
    res.count_crtcs = res.count_crtcs > 16 ? 16 : res.count_crtcs;
    res.count_connectors = res.count_connectors > 16 ? 16 : res.count_connectors;
    res.count_fbs = res.count_encoders = 0;
    res.crtc_id_ptr = (uintptr_t)crtcs;
    res.connector_id_ptr = (uintptr_t)conns;
    if (ioctl(fd, IOCTL_GETRESOURCES, &res) < 0) die("GETRESOURCES (ids)");

    struct drm_mode_get_connector c = {.connector_id = conns[0]};
    if (ioctl(fd, IOCTL_GETCONNECTOR, &c) < 0) die("GETCONNECTOR");
    struct drm_mode_modeinfo *modes = calloc(c.count_modes + 1, sizeof(*modes));
    c.modes_ptr = (uintptr_t)modes;
    c.count_props = c.count_encoders = 0;
    if (ioctl(fd, IOCTL_GETCONNECTOR, &c) < 0) die("GETCONNECTOR (modes)");
    struct drm_mode_modeinfo *mode = NULL;
    for (unsigned k = 0; k < c.count_modes && !mode; k++)
        if (modes[k].hdisplay == w && modes[k].vdisplay == h) mode = &modes[k];
    if (!mode) {
        fprintf(stderr, "kms: no %ux%u mode among %u\n", w, h, c.count_modes);
        return 1;
    }

    struct drm_mode_create_dumb cd = {.height = h, .width = w, .bpp = 32};
    if (ioctl(fd, IOCTL_CREATE_DUMB, &cd) < 0) die("CREATE_DUMB");
    struct drm_mode_fb_cmd fb = {
        .width = w, .height = h, .pitch = cd.pitch, .bpp = 32, .depth = 24, .handle = cd.handle};
    if (ioctl(fd, IOCTL_ADDFB, &fb) < 0) die("ADDFB");
    struct drm_mode_map_dumb md = {.handle = cd.handle};
    if (ioctl(fd, IOCTL_MAP_DUMB, &md) < 0) die("MAP_DUMB");
    uint8_t *p = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)md.offset);
    if (p == MAP_FAILED) die("mmap");
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            ((uint32_t *)(p + (size_t)y * cd.pitch))[x] = kms_pixel(x, y, seed);

    struct drm_mode_crtc sc = {.set_connectors_ptr = (uintptr_t)&conns[0],
                               .count_connectors = 1,
                               .crtc_id = crtcs[0],
                               .fb_id = fb.fb_id,
                               .mode_valid = 1,
                               .mode = *mode};
    if (ioctl(fd, IOCTL_SETCRTC, &sc) < 0) die("SETCRTC");
    printf("kms: on %ux%u pitch %u\n", w, h, cd.pitch);
    fflush(stdout);
    for (;;)
        pause();
}
