/* test_aml.c — AML encodings against bytes hand-encoded from the ACPI 6.x spec (chapter 20 and
 * the resource descriptors of 6.4): PkgLength in its 1-4 byte forms, integer constants, name
 * strings, EISAID, nesting and resource templates. */
#include <string.h>

#include "check.h"
#include "machine/aml.h"

static int same(const struct aml *a, const uint8_t *want, size_t n)
{
    if (a->error || a->len != n || memcmp(a->buf, want, n) != 0) {
        fprintf(stderr, "# got %zu bytes:", a->len);
        for (size_t k = 0; k < a->len && k < 64; k++)
            fprintf(stderr, " %02x", a->buf[k]);
        fprintf(stderr, "\n");
        return 0;
    }
    return 1;
}

static void test_pkglen(void)
{
    uint8_t b[4];
    CHECK_EQ(aml_pkglen_encode(b, 0), 1);
    CHECK_EQ(b[0], 0x01);
    CHECK_EQ(aml_pkglen_encode(b, 62), 1); /* total 63: the largest one-byte form */
    CHECK_EQ(b[0], 0x3F);
    CHECK_EQ(aml_pkglen_encode(b, 63), 2); /* total 65 = 0x41 */
    CHECK_EQ(b[0], 0x41);
    CHECK_EQ(b[1], 0x04);
    CHECK_EQ(aml_pkglen_encode(b, 4093), 2); /* total 0xFFF */
    CHECK_EQ(b[0], 0x4F);
    CHECK_EQ(b[1], 0xFF);
    CHECK_EQ(aml_pkglen_encode(b, 4094), 3); /* total 0x1001 */
    CHECK_EQ(b[0], 0x81);
    CHECK_EQ(b[1], 0x00);
    CHECK_EQ(b[2], 0x01);
    CHECK_EQ(aml_pkglen_encode(b, 0xFFFFF - 3), 3);
    CHECK_EQ(aml_pkglen_encode(b, 0xFFFFF - 2), 4); /* total 0x100001 */
    CHECK_EQ(b[0], 0xC1);
    CHECK_EQ(b[1], 0x00);
    CHECK_EQ(b[2], 0x00);
    CHECK_EQ(b[3], 0x01);
    CHECK_EQ(aml_pkglen_encode(b, 1u << 28), 0); /* too long for any form */
}

static void test_integers(void)
{
    struct aml a;
    aml_init(&a);
    aml_integer(&a, 0);
    aml_integer(&a, 1);
    aml_integer(&a, 2);
    aml_integer(&a, 0xFF);
    aml_integer(&a, 0x100);
    aml_integer(&a, 0x12345678);
    aml_integer(&a, 0x123456789Aull);
    aml_integer(&a, ~0ull);
    static const uint8_t want[] = {0x00, 0x01, 0x0A, 0x02, 0x0A, 0xFF, 0x0B, 0x00,
                                   0x01, 0x0C, 0x78, 0x56, 0x34, 0x12, 0x0E, 0x9A,
                                   0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0xFF};
    CHECK(same(&a, want, sizeof(want)));
    aml_free(&a);
}

static void test_names(void)
{
    struct aml a;
    aml_init(&a);
    aml_namestring(&a, "_HID");
    aml_namestring(&a, "\\_SB");
    aml_namestring(&a, "\\_SB.PCI0");
    aml_namestring(&a, "\\_SB.PCI0.COM1");
    aml_namestring(&a, "^RTC");
    static const uint8_t want[] = {'_',  'H', 'I', 'D', '\\', '_', 'S', 'B', '_', '\\',
                                   0x2E, '_', 'S', 'B', '_',  'P', 'C', 'I', '0', '\\',
                                   0x2F, 3,   '_', 'S', 'B',  '_', 'P', 'C', 'I', '0',
                                   'C',  'O', 'M', '1', '^',  'R', 'T', 'C', '_'};
    CHECK(same(&a, want, sizeof(want)));
    aml_free(&a);

    aml_init(&a);
    aml_namestring(&a, "lower");
    CHECK(a.error);
    aml_free(&a);
    aml_init(&a);
    aml_namestring(&a, "TOOLONG");
    CHECK(a.error);
    aml_free(&a);
}

static void test_name_string_eisaid(void)
{
    struct aml a;
    aml_init(&a);
    aml_name_eisaid(&a, "_HID", "PNP0A03"); /* iasl: 08 5F 48 49 44 0C 41 D0 0A 03 */
    aml_name_string(&a, "_UID", "AB");
    static const uint8_t want[] = {0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03,
                                   0x08, '_', 'U', 'I', 'D', 0x0D, 'A',  'B',  0x00};
    CHECK(same(&a, want, sizeof(want)));
    aml_free(&a);
    aml_init(&a);
    aml_eisaid(&a, "pnp0a03");
    CHECK(a.error);
    aml_free(&a);
}

static void test_nesting(void)
{
    struct aml a;
    aml_init(&a);
    /* Device (DEV0) { Method (_STA, 0, NotSerialized) { Return (0x0F) } } */
    aml_device_begin(&a, "DEV0");
    aml_method_begin(&a, "_STA", 0, false);
    aml_return(&a);
    aml_integer(&a, 0x0F);
    aml_end(&a);
    aml_end(&a);
    static const uint8_t want[] = {0x5B, 0x82, 0x0F, 'D', 'E',  'V',  '0',  0x14, 0x09,
                                   '_',  'S',  'T',  'A', 0x00, 0xA4, 0x0A, 0x0F};
    CHECK(same(&a, want, sizeof(want)));
    CHECK_EQ(a.depth, 0);
    aml_free(&a);

    /* Package (0x02) { One, "x" } and a literal Buffer. */
    aml_init(&a);
    aml_package_begin(&a, 2);
    aml_integer(&a, 1);
    aml_string(&a, "x");
    aml_end(&a);
    aml_buffer(&a, "\x01\x02", 2);
    static const uint8_t want2[] = {0x12, 0x06, 0x02, 0x01, 0x0D, 'x', 0x00,
                                    0x11, 0x05, 0x0A, 0x02, 0x01, 0x02};
    CHECK(same(&a, want2, sizeof(want2)));
    aml_free(&a);

    /* A body long enough for a two-byte PkgLength is moved correctly. */
    aml_init(&a);
    aml_scope_begin(&a, "\\_SB");
    for (int k = 0; k < 100; k++)
        aml_integer(&a, 0x20);
    aml_end(&a);
    CHECK(!a.error);
    CHECK_EQ(a.len, 1 + 2 + 5 + 200);
    CHECK_EQ(a.buf[1], 0x40 | ((2 + 5 + 200) & 0xF));
    CHECK_EQ(a.buf[2], (2 + 5 + 200) >> 4);
    CHECK_EQ(a.buf[3], '\\');
    aml_free(&a);

    /* Unbalanced end is an error, not a crash. */
    aml_init(&a);
    aml_end(&a);
    CHECK(a.error);
    aml_free(&a);
}

static void test_resources(void)
{
    struct aml a;
    aml_init(&a);
    /* ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08) IRQNoFlags () {4} } */
    aml_restemplate_begin(&a);
    aml_res_io(&a, 0x3F8, 0x3F8, 1, 8);
    aml_res_irq_noflags(&a, 1 << 4);
    aml_end(&a);
    static const uint8_t want[] = {0x11, 0x10, 0x0A, 0x0D, 0x47, 0x01, 0xF8, 0x03, 0xF8,
                                   0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00};
    CHECK(same(&a, want, sizeof(want)));
    aml_free(&a);

    aml_init(&a);
    aml_restemplate_begin(&a);
    aml_res_word_bus(&a, 0, 0xFF);
    aml_res_dword_memory(&a, 0xC0000000, 0xFEBFFFFF, false);
    aml_res_memory32_fixed(&a, 0xFED00000, 0x400, true);
    aml_res_qword_memory(&a, 0x100000000ull, 0x1FFFFFFFFull, true);
    aml_end(&a);
    CHECK(!a.error);
    /* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100) */
    static const uint8_t bus[] = {0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x01};
    /* The body starts after BufferOp, a 2-byte PkgLength and a ByteConst size (102). */
    size_t body = 1 + 2 + 2;
    CHECK(a.len > body + sizeof(bus));
    CHECK(memcmp(a.buf + body, bus, sizeof(bus)) == 0);
    const uint8_t *dw = a.buf + body + sizeof(bus);
    CHECK_EQ(dw[0], 0x87);
    CHECK_EQ(dw[1] | dw[2] << 8, 23);
    CHECK_EQ(dw[3], 0);    /* memory */
    CHECK_EQ(dw[5], 0x01); /* non-cacheable, read-write */
    CHECK_EQ(dw[10] | dw[11] << 8 | dw[12] << 16 | (uint32_t)dw[13] << 24, 0xC0000000);
    CHECK_EQ(dw[22] | dw[23] << 8 | dw[24] << 16 | (uint32_t)dw[25] << 24, 0x3EC00000);
    const uint8_t *m = dw + 26;
    static const uint8_t mem32[] = {0x86, 0x09, 0x00, 0x01, 0x00, 0x00,
                                    0xD0, 0xFE, 0x00, 0x04, 0x00, 0x00};
    CHECK(memcmp(m, mem32, sizeof(mem32)) == 0);
    const uint8_t *q = m + sizeof(mem32);
    CHECK_EQ(q[0], 0x8A);
    CHECK_EQ(q[1], 43);
    CHECK_EQ(q[5], 0x03);
    CHECK_EQ(q[46 - 8 + 4], 1); /* length 0x100000000: byte 4 of the last qword */
    CHECK_EQ(a.buf[a.len - 2], 0x79);
    aml_free(&a);
}

int main(void)
{
    RUN(test_pkglen);
    RUN(test_integers);
    RUN(test_names);
    RUN(test_name_string_eisaid);
    RUN(test_nesting);
    RUN(test_resources);
    return check_done();
}
