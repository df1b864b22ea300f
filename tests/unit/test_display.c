/* test_display.c — the display pieces that need no guest: the framebuffer's geometry and its
 * dirty scan (bands of rows from the bus's dirty bits, bits cleared, re-arm asked only when
 * something was dirty), the key tables (X11 keysyms and USB HID usages to set-1 scancodes),
 * the front-end spec parser, screen_info in the zero page, the e820 reservation, and a PNG
 * written and read back through libpng. */
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

static unsigned nb, by[16], bh[16];
static void on_band(void *opaque, unsigned y, unsigned h)
{
    (void)opaque;
    if (nb < 16) by[nb] = y, bh[nb] = h;
    nb++;
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
    struct lfb *f = lfb_create(&b, 8 << 20, 640, 480, on_rearm, NULL);
    uint64_t fb = 8 << 20;
    memset(b.page_flags, BUS_PAGE_DIRTY, b.ram_size >> BUS_PAGE_SHIFT); /* boot wrote it all */
    rearms = 0;
    lfb_clear_dirty(f);
    CHECK_EQ(rearms, 1);
    nb = 0;
    CHECK_EQ(lfb_collect(f, on_band, NULL), 0); /* nothing since */
    CHECK_EQ(rearms, 1);                        /* and nothing to re-arm */
    CHECK(b.page_flags[0] & BUS_PAGE_DIRTY);    /* other pages are not the display's */

    /* One pixel in row 3 (row 3 starts at 7680, inside page 1: rows 1..3 share it). */
    bus_note_write(&b, fb + 3 * 2560 + 8, 4);
    nb = 0;
    CHECK_EQ(lfb_collect(f, on_band, NULL), 1);
    CHECK_EQ(by[0], 1); /* page 1 holds bytes 4096..8191: rows 1 to 3 */
    CHECK_EQ(bh[0], 3);
    CHECK_EQ(rearms, 2);
    CHECK(!(b.page_flags[(fb >> 12) + 1] & BUS_PAGE_DIRTY));

    /* Two separate places: two bands, in order; adjacent pages merge into one. */
    bus_note_write(&b, fb + 400 * 2560, 2560 * 10);
    bus_note_write(&b, fb, 4);
    bus_note_write(&b, fb + 4096, 4);
    nb = 0;
    CHECK_EQ(lfb_collect(f, on_band, NULL), 2);
    CHECK_EQ(by[0], 0);
    CHECK_EQ(bh[0], 4); /* pages 0-1: bytes 0..8191, rows 0..3 */
    CHECK(by[1] <= 400 && by[1] + bh[1] >= 410);

    /* The padding after the last row is not on screen. */
    bus_note_write(&b, fb + 480 * 2560 + 100, 4);
    nb = 0;
    CHECK_EQ(lfb_collect(f, on_band, NULL), 0);
    /* The last row. */
    bus_note_write(&b, fb + 479 * 2560, 4);
    nb = 0;
    CHECK_EQ(lfb_collect(f, on_band, NULL), 1);
    CHECK_EQ(by[0] + bh[0], 480);
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
    struct boot_screen s = {0x10000000, 2 << 20, 640, 480, 2560};
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
