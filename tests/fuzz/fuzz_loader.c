/* fuzz_loader.c — hostile kernel images: each input is spliced into a valid fake bzImage (setup
 * header, LZ4 block lengths, the compressed bytes), into a valid vmlinux ELF (file and program
 * headers), or fed to the decompressor behind each format's magic. The loader must return an
 * error or load inside guest RAM — never crash, hang, over-allocate or write outside RAM. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../unit/kernel_fixture.h"
#include "machine/boot_params.h"
#include "machine/bzimage.h"
#include "vessel/bus.h"
#include "vessel/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bus bus;
static struct fk_buf bz, elf;
static bool ready;

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    if (bus_init(&bus, 32 << 20) != 0) abort();
    bz = fk_bzimage_lz4();
    elf = fk_vmlinux();
    ready = true;
}

/* Overwrite `img` at offset `at` with `n` bytes of data (clipped), return the image. */
static void splice(uint8_t *img, size_t len, size_t at, const uint8_t *d, size_t n)
{
    if (at >= len) return;
    memcpy(img + at, d, n < len - at ? n : len - at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) setup_once();
    if (size < 3) return 0;
    unsigned mode = data[0] % 6;
    size_t at = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    static char err[256];
    struct linux_boot_state st;
    switch (mode) {
    case 0: /* the setup header region */
    case 1: /* anywhere in the bzImage, including the LZ4 stream */
    case 2: /* truncated bzImage */ {
        size_t len = bz.len;
        uint8_t *img = malloc(len);
        memcpy(img, bz.p, len);
        if (mode == 0)
            splice(img, len, 0x1f0 + at % 0x80, data, size);
        else if (mode == 1)
            splice(img, len, at % len, data, size);
        else
            len = at % len;
        struct linux_boot_images li = {img, len, data, size, "console=ttyS0", 0xE0000, NULL};
        linux_boot_load_images(&bus, &li, &st, err, sizeof(err));
        free(img);
        break;
    }
    case 3: /* ELF headers */ {
        uint8_t *img = malloc(elf.len);
        memcpy(img, elf.p, elf.len);
        splice(img, elf.len, at % 0x100, data, size);
        struct linux_boot_images li = {img, elf.len, NULL, 0, NULL, 0, NULL};
        linux_boot_load_images(&bus, &li, &st, err, sizeof(err));
        free(img);
        break;
    }
    case 4: /* raw payload behind a format magic */ {
        static const uint8_t magics[][6] = {{0x02, 0x21, 0x4C, 0x18},      {0x1F, 0x8B, 0x08},
                                            {0xFD, '7', 'z', 'X', 'Z', 0}, {0x5D, 0, 0},
                                            {0x28, 0xB5, 0x2F, 0xFD},      {'B', 'Z', 'h', '9'}};
        static const size_t mlen[] = {4, 3, 6, 3, 4, 4};
        unsigned f = at % 6;
        uint8_t *p = malloc(size + 6);
        memcpy(p, magics[f], mlen[f]);
        memcpy(p + mlen[f], data, size);
        uint8_t *out = NULL;
        size_t n = 0;
        if (bzimage_decompress(p, size + mlen[f], &out, &n, err, sizeof(err)) == 0 &&
            n > BZ_MAX_VMLINUX)
            abort();
        free(out);
        free(p);
        break;
    }
    default: /* the input as the whole kernel file */ {
        struct linux_boot_images li = {data, size, NULL, 0, (const char *)NULL, 0, NULL};
        linux_boot_load_images(&bus, &li, &st, err, sizeof(err));
        break;
    }
    }
    return 0;
}
