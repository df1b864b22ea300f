/* aml.c — the AML byte-code builder of aml.h. Objects are appended to one growable buffer; an
 * open package remembers where its PkgLength belongs and aml_end inserts it (and, for buffers,
 * the BufferSize integer) once the body's length is known. Tables are a few KiB, so the
 * memmove on each close costs nothing that matters. */
#include "machine/aml.h"

#include <stdlib.h>
#include <string.h>

void aml_init(struct aml *a)
{
    memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
    free(a->buf);
    memset(a, 0, sizeof(*a));
}

static bool aml_reserve(struct aml *a, size_t n)
{
    if (a->error) return false;
    if (a->len + n <= a->cap) return true;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + n)
        cap *= 2;
    uint8_t *p = realloc(a->buf, cap);
    if (!p) {
        a->error = true;
        return false;
    }
    a->buf = p;
    a->cap = cap;
    return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
    if (!aml_reserve(a, n)) return;
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
    aml_bytes(a, &b, 1);
}

/* Insert n bytes at offset `at`, shifting what follows. */
static void aml_insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
    if (!aml_reserve(a, n)) return;
    memmove(a->buf + at + n, a->buf + at, a->len - at);
    memcpy(a->buf + at, p, n);
    a->len += n;
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned k = 0; k < n; k++)
        b[k] = (uint8_t)(v >> (8 * k));
    aml_bytes(a, b, n);
}

unsigned aml_pkglen_encode(uint8_t out[4], size_t body_len)
{
    /* The PkgLength counts itself: try each encoded size until the total fits it. */
    if (body_len + 1 <= 0x3F) {
        out[0] = (uint8_t)(body_len + 1);
        return 1;
    }
    for (unsigned n = 2; n <= 4; n++) {
        size_t total = body_len + n;
        if (total < (1ull << (4 + 8 * (n - 1)))) {
            out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0F));
            for (unsigned k = 1; k < n; k++)
                out[k] = (uint8_t)(total >> (4 + 8 * (k - 1)));
            return n;
        }
    }
    return 0;
}

/* Integer encoding (no ZeroOp/OneOp shortcuts: BufferSize and the like use this too). */
static size_t aml_encode_integer(uint8_t out[9], uint64_t v)
{
    if (v == 0) {
        out[0] = AML_ZERO_OP;
        return 1;
    }
    if (v == 1) {
        out[0] = AML_ONE_OP;
        return 1;
    }
    if (v == ~0ull) {
        out[0] = AML_ONES_OP;
        return 1;
    }
    unsigned n;
    if (v <= 0xFF) {
        out[0] = AML_BYTE_PFX;
        n = 1;
    } else if (v <= 0xFFFF) {
        out[0] = AML_WORD_PFX;
        n = 2;
    } else if (v <= 0xFFFFFFFFull) {
        out[0] = AML_DWORD_PFX;
        n = 4;
    } else {
        out[0] = AML_QWORD_PFX;
        n = 8;
    }
    for (unsigned k = 0; k < n; k++)
        out[1 + k] = (uint8_t)(v >> (8 * k));
    return 1 + n;
}

void aml_integer(struct aml *a, uint64_t v)
{
    uint8_t b[9];
    aml_bytes(a, b, aml_encode_integer(b, v));
}

void aml_string(struct aml *a, const char *s)
{
    aml_byte(a, AML_STRING_PFX);
    aml_bytes(a, s, strlen(s) + 1);
}

/* One NameSeg: up to four of [A-Z0-9_], padded with '_'; the first may not be a digit. */
static bool aml_nameseg(uint8_t out[4], const char *s, size_t n)
{
    if (n == 0 || n > 4 || (s[0] >= '0' && s[0] <= '9')) return false;
    for (size_t k = 0; k < 4; k++) {
        char c = k < n ? s[k] : '_';
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
        out[k] = (uint8_t)c;
    }
    return true;
}

void aml_namestring(struct aml *a, const char *path)
{
    if (*path == '\\')
        aml_byte(a, *path++);
    else
        while (*path == '^')
            aml_byte(a, *path++);
    uint8_t segs[255][4];
    size_t nseg = 0;
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (nseg == 255 || !aml_nameseg(segs[nseg], path, n)) {
            a->error = true;
            return;
        }
        nseg++;
        path += n + (dot ? 1 : 0);
    }
    if (nseg == 0) {
        aml_byte(a, 0x00); /* NullName */
        return;
    }
    if (nseg == 2)
        aml_byte(a, AML_DUAL_PFX);
    else if (nseg > 2) {
        aml_byte(a, AML_MULTI_PFX);
        aml_byte(a, (uint8_t)nseg);
    }
    aml_bytes(a, segs, nseg * 4);
}

void aml_name(struct aml *a, const char *name)
{
    aml_byte(a, AML_NAME_OP);
    aml_namestring(a, name);
}

void aml_eisaid(struct aml *a, const char *id)
{
    /* Three letters in 5 bits each, then four hex digits; stored big-endian (ACPI 19.6.35). */
    static const char hex[] = "0123456789ABCDEF";
    if (strlen(id) != 7) {
        a->error = true;
        return;
    }
    uint32_t v = 0;
    for (int k = 0; k < 3; k++) {
        if (id[k] < 'A' || id[k] > 'Z') {
            a->error = true;
            return;
        }
        v = (v << 5) | (uint32_t)((id[k] - 0x40) & 0x1F);
    }
    for (int k = 3; k < 7; k++) {
        const char *h = strchr(hex, id[k]);
        if (!h || !*h) {
            a->error = true;
            return;
        }
        v = (v << 4) | (uint32_t)(h - hex);
    }
    aml_byte(a, AML_DWORD_PFX);
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    aml_bytes(a, b, 4);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
    aml_name(a, name);
    aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
    aml_name(a, name);
    aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
    aml_name(a, name);
    aml_eisaid(a, id);
}

void aml_return(struct aml *a)
{
    aml_byte(a, AML_RETURN_OP);
}

static void aml_open(struct aml *a, bool is_buffer)
{
    if (a->depth >= AML_MAX_DEPTH) {
        a->error = true;
        return;
    }
    a->open[a->depth].start = a->len;
    a->open[a->depth].is_buffer = is_buffer;
    a->depth++;
}

void aml_scope_begin(struct aml *a, const char *name)
{
    aml_byte(a, AML_SCOPE_OP);
    aml_open(a, false);
    aml_namestring(a, name);
}

void aml_device_begin(struct aml *a, const char *name)
{
    aml_byte(a, AML_EXT_PFX);
    aml_byte(a, AML_DEVICE_OP);
    aml_open(a, false);
    aml_namestring(a, name);
}

void aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
    aml_byte(a, AML_METHOD_OP);
    aml_open(a, false);
    aml_namestring(a, name);
    aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
}

void aml_package_begin(struct aml *a, unsigned nelems)
{
    if (nelems > 255) {
        a->error = true;
        return;
    }
    aml_byte(a, AML_PACKAGE_OP);
    aml_open(a, false);
    aml_byte(a, (uint8_t)nelems);
}

static void aml_buffer_begin(struct aml *a)
{
    aml_byte(a, AML_BUFFER_OP);
    aml_open(a, true);
}

void aml_restemplate_begin(struct aml *a)
{
    aml_buffer_begin(a);
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
    /* A literal buffer: no EndTag, so it is closed here rather than through aml_end. */
    aml_byte(a, AML_BUFFER_OP);
    size_t start = a->len;
    aml_bytes(a, data, n);
    if (a->error) return;
    uint8_t size[9], pl[4];
    aml_insert(a, start, size, aml_encode_integer(size, n));
    unsigned np = aml_pkglen_encode(pl, a->len - start);
    if (!np) {
        a->error = true;
        return;
    }
    aml_insert(a, start, pl, np);
}

void aml_end(struct aml *a)
{
    if (a->error) return;
    if (a->depth == 0) {
        a->error = true;
        return;
    }
    a->depth--;
    size_t start = a->open[a->depth].start;
    if (a->open[a->depth].is_buffer) {
        /* A resource template: EndTag with checksum 0 ("treat as correct"), then BufferSize. */
        static const uint8_t end_tag[2] = {0x79, 0x00};
        aml_bytes(a, end_tag, 2);
        uint8_t size[9];
        size_t ns = aml_encode_integer(size, a->len - start);
        aml_insert(a, start, size, ns);
    }
    uint8_t pl[4];
    unsigned np = aml_pkglen_encode(pl, a->len - start);
    if (!np) {
        a->error = true;
        return;
    }
    aml_insert(a, start, pl, np);
}

/* Large resource descriptor header: tag, 16-bit length of what follows. */
static void aml_res_large(struct aml *a, uint8_t tag, uint16_t len)
{
    aml_byte(a, tag);
    aml_le(a, len, 2);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
    aml_byte(a, 0x47); /* small item 0x08, length 7 */
    aml_byte(a, 0x01); /* decodes 16 address bits */
    aml_le(a, min, 2);
    aml_le(a, max, 2);
    aml_byte(a, align);
    aml_byte(a, len);
}

void aml_res_irq_noflags(struct aml *a, uint16_t mask)
{
    aml_byte(a, 0x22); /* small item 0x04, length 2: edge, active high, exclusive */
    aml_le(a, mask, 2);
}

void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool rw)
{
    aml_res_large(a, 0x86, 9);
    aml_byte(a, rw ? 1 : 0);
    aml_le(a, base, 4);
    aml_le(a, len, 4);
}

/* General flags of the address-space descriptors: producer, MinFixed, MaxFixed, PosDecode. */
#define AML_ADDR_FLAGS 0x0C

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
    aml_res_large(a, 0x88, 13);
    aml_byte(a, 2); /* bus number range */
    aml_byte(a, AML_ADDR_FLAGS);
    aml_byte(a, 0);
    aml_le(a, 0, 2); /* granularity */
    aml_le(a, min, 2);
    aml_le(a, max, 2);
    aml_le(a, 0, 2); /* translation */
    aml_le(a, (uint32_t)max - min + 1, 2);
}

static void aml_res_dword(struct aml *a, uint8_t type, uint8_t tflags, uint32_t min, uint32_t max)
{
    aml_res_large(a, 0x87, 23);
    aml_byte(a, type);
    aml_byte(a, AML_ADDR_FLAGS);
    aml_byte(a, tflags);
    aml_le(a, 0, 4);
    aml_le(a, min, 4);
    aml_le(a, max, 4);
    aml_le(a, 0, 4);
    aml_le(a, (uint64_t)max - min + 1, 4);
}

void aml_res_dword_io(struct aml *a, uint32_t min, uint32_t max)
{
    aml_res_dword(a, 1, 0x03, min, max); /* EntireRange */
}

void aml_res_dword_memory(struct aml *a, uint32_t min, uint32_t max, bool cacheable)
{
    aml_res_dword(a, 0, cacheable ? 0x03 : 0x01, min, max); /* ReadWrite */
}

void aml_res_qword_memory(struct aml *a, uint64_t min, uint64_t max, bool cacheable)
{
    aml_res_large(a, 0x8A, 43);
    aml_byte(a, 0);
    aml_byte(a, AML_ADDR_FLAGS);
    aml_byte(a, cacheable ? 0x03 : 0x01);
    aml_le(a, 0, 8);
    aml_le(a, min, 8);
    aml_le(a, max, 8);
    aml_le(a, 0, 8);
    aml_le(a, max - min + 1, 8);
}
