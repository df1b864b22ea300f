/* test_display.c — the display pieces that need no guest: the framebuffer's geometry and its
 * dirty scan (the rectangles that really changed, found through the bus's dirty bits and the
 * reference frame; bits cleared, re-arm asked only when something was dirty), the key tables (X11
 * keysyms and USB HID usages to set-1 scancodes), the front-end spec parser, screen_info in the
 * zero page, the e820 reservation, and a PNG written and read back through libpng. */
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/display.h"
#include "check.h"
#include "hw/lfb.h"
#include "machine/boot_params.h"
#include "machine/e820.h"
#include "vessel/bus.h"

static int rearms;
static void on_rearm(void *opaque)
{
    (void)opaque;
    rearms++;
}

static unsigned nr, rx[16], ry[16], rw[16], rh[16];
static void on_rect(void *opaque, unsigned x, unsigned y, unsigned w, unsigned h)
{
    (void)opaque;
    if (nr < 16) rx[nr] = x, ry[nr] = y, rw[nr] = w, rh[nr] = h;
    nr++;
}

/* Write one pixel the way the guest would: the store, then the dirty mark. */
static void poke(struct bus *b, uint64_t fb, unsigned x, unsigned y, uint32_t v)
{
    uint64_t gpa = fb + (uint64_t)y * 2560 + x * 4;
    memcpy(b->ram + gpa, &v, 4);
    bus_note_write(b, gpa, 4);
}

static void test_lfb_geometry(void)
{
    CHECK_EQ(lfb_size_for(1024, 768), 4ull << 20); /* 3 MiB rounded to 2 MiB */
    CHECK_EQ(lfb_size_for(640, 480), 2ull << 20);
    CHECK_EQ(lfb_size_for(100, 100), 0);
    CHECK_EQ(lfb_size_for(8192, 768), 0);
    struct bus b;
    CHECK_EQ(bus_init(&b, 16 << 20), 0);
    CHECK(lfb_create(&b, 15 << 20, 640, 480, NULL, NULL) == NULL);      /* runs past RAM */
    CHECK(lfb_create(&b, (8 << 20) + 1, 640, 480, NULL, NULL) == NULL); /* unaligned */
    struct lfb *f = lfb_create(&b, 8 << 20, 640, 480, on_rearm, NULL);
    CHECK(f != NULL);
    CHECK_EQ(lfb_stride(f), 2560);
    CHECK_EQ(lfb_base(f), 8 << 20);
    CHECK(lfb_pixels(f) == b.ram + (8 << 20));
    lfb_destroy(f);
    bus_destroy(&b);
}

static void test_lfb_collect(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, 16 << 20), 0);
    uint64_t fb = 8 << 20;
    struct lfb *f = lfb_create(&b, fb, 640, 480, on_rearm, NULL);
    memset(b.page_flags, BUS_PAGE_WRITTEN, b.ram_size >> BUS_PAGE_SHIFT); /* boot wrote it all */
    rearms = 0;
    lfb_clear_dirty(f);
    CHECK_EQ(rearms, 1);
    nr = 0;
    CHECK_EQ(lfb_collect(f, on_rect, NULL), 0);     /* nothing since */
    CHECK_EQ(rearms, 1);                            /* and nothing to re-arm */
    CHECK(b.page_flags[0] & BUS_PAGE_DIRTY_FB);     /* other pages are not the display's */
    CHECK(b.page_flags[fb >> 12] & BUS_PAGE_DIRTY); /* nor is the whole-RAM dirty log */

    /* One pixel: exactly that pixel, although its page holds rows 1 to 3. */
    poke(&b, fb, 7, 3, 0x00ff0000);
    nr = 0;
    CHECK_EQ(lfb_collect(f, on_rect, NULL), 1);
    CHECK(rx[0] == 7 && ry[0] == 3 && rw[0] == 1 && rh[0] == 1);
    CHECK_EQ(rearms, 2);
    CHECK(!(b.page_flags[(fb >> 12) + 1] & BUS_PAGE_DIRTY_FB));
    CHECK(b.page_flags[(fb >> 12) + 1] & BUS_PAGE_DIRTY);

    /* A page rewritten with the same pixels is no change (but was dirty: re-armed). */
    poke(&b, fb, 7, 3, 0x00ff0000);
    nr = 0;
    CHECK_EQ(lfb_collect(f, on_rect, NULL), 0);
    CHECK_EQ(rearms, 3);

    /* A cursor-sized block: its bounding box. Two far-apart places: two rectangles, in order. */
    for (unsigned y = 400; y < 416; y++)
        for (unsigned x = 100; x < 108; x++)
            poke(&b, fb, x, y, 0xffffff);
    poke(&b, fb, 0, 0, 1);
    poke(&b, fb, 639, 1, 2);
    nr = 0;
    CHECK_EQ(lfb_collect(f, on_rect, NULL), 2);
    CHECK(rx[0] == 0 && ry[0] == 0 && rw[0] == 640 && rh[0] == 2); /* pixels 0,0 and 639,1 */
    CHECK(rx[1] == 100 && ry[1] == 400 && rw[1] == 8 && rh[1] == 16);

    /* The padding after the last row is not on screen. */
    uint64_t pad = fb + 480 * 2560 + 100;
    b.ram[pad] = 9;
    bus_note_write(&b, pad, 1);
    nr = 0;
    CHECK_EQ(lfb_collect(f, on_rect, NULL), 0);
    /* The last pixel. */
    poke(&b, fb, 639, 479, 5);
    nr = 0;
    CHECK_EQ(lfb_collect(f, on_rect, NULL), 1);
    CHECK(rx[0] == 639 && ry[0] == 479 && rw[0] == 1 && rh[0] == 1);

    /* A new viewer: the current frame becomes the reference. */
    poke(&b, fb, 10, 10, 7);
    lfb_clear_dirty(f);
    bus_note_write(&b, fb + 10 * 2560, 4);
    CHECK_EQ(lfb_collect(f, on_rect, NULL), 0);
    lfb_destroy(f);
    bus_destroy(&b);
}

static void test_keymap(void)
{
    CHECK_EQ(display_keysym_to_set1('a'), 0x1e);
    CHECK_EQ(display_keysym_to_set1('A'), 0x1e);
    CHECK_EQ(display_keysym_to_set1('1'), 0x02);
    CHECK_EQ(display_keysym_to_set1('!'), 0x02);
    CHECK_EQ(display_keysym_to_set1('>'), 0x34);
    CHECK_EQ(display_keysym_to_set1(' '), 0x39);
    CHECK_EQ(display_keysym_to_set1('/'), 0x35);
    CHECK_EQ(display_keysym_to_set1('~'), 0x29);
    CHECK_EQ(display_keysym_to_set1(0xff0d), 0x1c);                  /* Return */
    CHECK_EQ(display_keysym_to_set1(0xffe1), 0x2a);                  /* Shift_L */
    CHECK_EQ(display_keysym_to_set1(0xffe4), DISPLAY_KEY_E0 | 0x1d); /* Control_R */
    CHECK_EQ(display_keysym_to_set1(0xff52), DISPLAY_KEY_E0 | 0x48); /* Up */
    CHECK_EQ(display_keysym_to_set1(0xffbe), 0x3b);                  /* F1 */
    CHECK_EQ(display_keysym_to_set1(0xffc9), 0x58);                  /* F12 */
    CHECK_EQ(display_keysym_to_set1(0x20ac), 0);                     /* Euro: no key */
    CHECK_EQ(display_hid_to_set1(0x04), 0x1e);                       /* SDL_SCANCODE_A */
    CHECK_EQ(display_hid_to_set1(0x28), 0x1c);                       /* RETURN */
    CHECK_EQ(display_hid_to_set1(0xe6), DISPLAY_KEY_E0 | 0x38);      /* RALT */
    CHECK_EQ(display_hid_to_set1(0x500), 0);
    /* Every printable character has a key. */
    for (uint32_t c = 0x20; c < 0x7f; c++)
        CHECK(display_keysym_to_set1(c) != 0);
}

static void test_spec(void)
{
    char err[256], host[64];
    int port;
    CHECK_EQ(display_check_spec("vnc", err, sizeof(err)), 0);
    CHECK_EQ(display_check_spec("window", err, sizeof(err)), 0);
    CHECK_EQ(display_check_spec("vnc=:1", err, sizeof(err)), 0);
    CHECK(display_check_spec("vnc=nohost", err, sizeof(err)) < 0);
    CHECK(display_check_spec("sdl", err, sizeof(err)) < 0);
    CHECK(strstr(err, "sdl") != NULL);
    CHECK_EQ(display_vnc_parse_addr("", host, &port), 0);
    CHECK(!strcmp(host, "127.0.0.1") && port == 5900);
    CHECK_EQ(display_vnc_parse_addr(":3", host, &port), 0);
    CHECK_EQ(port, 5903);
    CHECK_EQ(display_vnc_parse_addr(":5999", host, &port), 0);
    CHECK_EQ(port, 5999);
    CHECK_EQ(display_vnc_parse_addr("0.0.0.0:6000", host, &port), 0);
    CHECK(!strcmp(host, "0.0.0.0") && port == 6000);
    CHECK(display_vnc_parse_addr("host:", host, &port) < 0);
    CHECK(display_vnc_parse_addr("host:99999", host, &port) < 0);
    CHECK(display_vnc_parse_addr("host:12x", host, &port) < 0);
}

static void test_screen_info(void)
{
    static uint8_t zp[4096];
    struct boot_screen s = {0x10000000, 2 << 20, 640, 480, 2560, 0};
    boot_params_set_screen(zp, &s);
    CHECK_EQ(zp[0x0f], 0x70); /* VIDEO_TYPE_EFI */
    CHECK_EQ(zp[0x12] | zp[0x13] << 8, 640);
    CHECK_EQ(zp[0x14] | zp[0x15] << 8, 480);
    CHECK_EQ(zp[0x16], 32);
    uint32_t base, size;
    memcpy(&base, zp + 0x18, 4);
    memcpy(&size, zp + 0x1c, 4);
    CHECK_EQ(base, 0x10000000);
    CHECK_EQ(size, 2 << 20);
    CHECK_EQ(zp[0x24] | zp[0x25] << 8, 2560);
    static const uint8_t masks[8] = {8, 16, 8, 8, 8, 0, 8, 24};
    CHECK(!memcmp(zp + 0x26, masks, 8));
    CHECK_EQ(zp[0x36], 0); /* a 32-bit base needs no capability bit */

    struct bus b;
    CHECK_EQ(bus_init(&b, 64 << 20), 0);
    struct e820_map m;
    CHECK_EQ(e820_build_pc(&m, &b), 0);
    unsigned n = m.n;
    CHECK_EQ(e820_reserve(&m, 62 << 20, 2 << 20), 0);
    CHECK_EQ(m.n, n + 1);
    CHECK_EQ(e820_type_of(&m, 62 << 20, 2 << 20), E820_RESERVED);
    CHECK_EQ(e820_type_of(&m, 1 << 20, 61 << 20), E820_RAM);
    CHECK(e820_reserve(&m, 63 << 20, 2 << 20) != 0);  /* not inside one RAM entry */
    CHECK_EQ(e820_reserve(&m, 32 << 20, 1 << 20), 0); /* a split in the middle */
    CHECK_EQ(m.n, n + 3);
    CHECK_EQ(e820_type_of(&m, 33 << 20, 29 << 20), E820_RAM);
    for (unsigned k = 1; k < m.n; k++) /* still sorted */
        CHECK(m.e[k].addr >= m.e[k - 1].addr + m.e[k - 1].size);
    bus_destroy(&b);
}

static void test_png(void)
{
    enum { PW = 7, PH = 5 };
    static uint8_t px[PW * PH * 4];
    for (unsigned i = 0; i < sizeof(px); i++)
        px[i] = (uint8_t)(i * 37 + 11);
    struct display_surface s = {px, PW, PH, PW * 4};
    char path[] = "/tmp/vessel-test-png-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char err[256];
    CHECK_EQ(display_write_png(&s, path, err, sizeof(err)), 0);
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_file(&img, path));
    CHECK_EQ(img.width, PW);
    CHECK_EQ(img.height, PH);
    img.format = PNG_FORMAT_RGB;
    static uint8_t rgb[PW * PH * 3];
    CHECK(png_image_finish_read(&img, NULL, rgb, 0, NULL));
    for (unsigned i = 0; i < PW * PH; i++) {
        CHECK_EQ(rgb[3 * i], px[4 * i + 2]);
        CHECK_EQ(rgb[3 * i + 1], px[4 * i + 1]);
        CHECK_EQ(rgb[3 * i + 2], px[4 * i]);
    }
    unlink(path);
    CHECK(display_write_png(&s, "/nonexistent-dir/x.png", err, sizeof(err)) < 0);
    CHECK(strstr(err, "/nonexistent-dir") != NULL);
}

int main(void)
{
    RUN(test_lfb_geometry);
    RUN(test_lfb_collect);
    RUN(test_keymap);
    RUN(test_spec);
    RUN(test_screen_info);
    RUN(test_png);
    return check_done();
}
