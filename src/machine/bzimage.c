/* bzimage.c — setup-header validation and host-side payload decompression (bzimage.h).
 *
 * Decompressing on the host is what lets the board enter the kernel's own 64-bit startup_64 with
 * a ready vmlinux, instead of emulating the real-mode setup and the in-guest decompressor. Every
 * format the x86 kernel build can produce is recognised by its magic; the output buffer grows on
 * demand up to BZ_MAX_VMLINUX whatever the file claims. */
#include "machine/bzimage.h"

#include <lz4.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#if __has_include(<bzlib.h>)
#include <bzlib.h>
#define BZ_HAVE_BZIP2 1
#endif

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20) /* a legacy-frame block decompresses to at most 8 MiB */
/* Decoder memory cap: the kernel build uses a 32 MiB xz dictionary; a hostile header must not
 * make liblzma allocate gigabytes. */
#define BZ_XZ_MEMLIMIT (128ull << 20)

static uint32_t rd16(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int bzimage_is_bzimage(const uint8_t *img, size_t len)
{
    return len >= BZ_HEADER + 4 && rd16(img + BZ_BOOT_FLAG) == BZ_BOOT_FLAG_VAL &&
           rd32(img + BZ_HEADER) == BZ_HDRS_MAGIC;
}

int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len < 1024 || !bzimage_is_bzimage(img, len)) {
        snprintf(err, errlen, "kernel: not a bzImage (no boot sector / HdrS signature)");
        return -1;
    }
    out->version = (uint16_t)rd16(img + BZ_VERSION);
    if (out->version < BZ_MIN_VERSION) {
        snprintf(err, errlen, "kernel: boot protocol %u.%02u is too old (need 2.12 or newer)",
                 out->version >> 8, out->version & 0xff);
        return -1;
    }
    out->loadflags = img[BZ_LOADFLAGS];
    out->xloadflags = (uint16_t)rd16(img + BZ_XLOADFLAGS);
    if (!(out->xloadflags & BZ_XLF_KERNEL_64)) {
        snprintf(err, errlen, "kernel: not a 64-bit kernel (no XLF_KERNEL_64)");
        return -1;
    }
    out->initrd_addr_max = rd32(img + BZ_INITRD_ADDR_MAX);
    out->kernel_alignment = rd32(img + BZ_KERNEL_ALIGNMENT);
    out->cmdline_size = rd32(img + BZ_CMDLINE_SIZE);
    out->pref_address = rd32(img + BZ_PREF_ADDRESS) | (uint64_t)rd32(img + BZ_PREF_ADDRESS + 4)
                                                          << 32;
    out->init_size = rd32(img + BZ_INIT_SIZE);

    size_t hdr_end = BZ_HEADER + img[BZ_JUMP + 1];
    if (hdr_end > BZ_HDR_MAX_END) hdr_end = BZ_HDR_MAX_END;
    out->hdr = img + BZ_HDR_START;
    out->hdr_len = hdr_end - BZ_HDR_START;

    unsigned setup_sects = img[BZ_SETUP_SECTS] ? img[BZ_SETUP_SECTS] : 4;
    size_t pm_start = ((size_t)setup_sects + 1) * 512;
    uint32_t off = rd32(img + BZ_PAYLOAD_OFFSET), plen = rd32(img + BZ_PAYLOAD_LENGTH);
    if (pm_start >= len || off > len - pm_start || plen > len - pm_start - off || plen < 8) {
        snprintf(err, errlen,
                 "kernel: bzImage payload (offset %#x, length %#x) lies outside the file "
                 "(truncated?)",
                 off, plen);
        return -1;
    }
    out->payload = img + pm_start + off;
    out->payload_len = plen;
    return 0;
}

/* Growable output buffer, capped. */
struct obuf {
    uint8_t *p;
    size_t len, cap;
};

static int obuf_reserve(struct obuf *o, size_t free_needed)
{
    if (o->cap - o->len >= free_needed) return 0;
    if (free_needed > BZ_MAX_VMLINUX - o->len) free_needed = BZ_MAX_VMLINUX - o->len;
    if (free_needed == 0) return -1;
    size_t cap = o->cap ? o->cap : (1u << 20);
    while (cap - o->len < free_needed)
        cap = cap * 2 > BZ_MAX_VMLINUX ? BZ_MAX_VMLINUX : cap * 2;
    uint8_t *p = realloc(o->p, cap);
    if (!p) return -1;
    o->p = p;
    o->cap = cap;
    return 0;
}

static int unlz4_legacy(const uint8_t *in, size_t len, struct obuf *o, const char **why)
{
    size_t pos = 4;
    while (pos + 4 <= len) {
        uint32_t c = rd32(in + pos);
        if (c == LZ4_LEGACY_MAGIC) { /* concatenated frames */
            pos += 4;
            continue;
        }
        if (pos + 4 == len) break; /* the kernel build's appended size word */
        pos += 4;
        if (c == 0 || c > len - pos || c > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK)) {
            *why = "LZ4 block length is out of range (truncated image?)";
            return -1;
        }
        /* LZ4 expands at most 255:1, so small blocks need small buffers. */
        size_t want =
            (size_t)c * 255 + 16 < LZ4_LEGACY_BLOCK ? (size_t)c * 255 + 16 : LZ4_LEGACY_BLOCK;
        if (obuf_reserve(o, want) != 0) {
            *why = "decompressed kernel is too large";
            return -1;
        }
        size_t room = o->cap - o->len < LZ4_LEGACY_BLOCK ? o->cap - o->len : LZ4_LEGACY_BLOCK;
        int r =
            LZ4_decompress_safe((const char *)in + pos, (char *)o->p + o->len, (int)c, (int)room);
        if (r < 0) {
            *why = "corrupt LZ4 data";
            return -1;
        }
        o->len += (size_t)r;
        pos += c;
    }
    return 0;
}

static int ungzip(const uint8_t *in, size_t len, struct obuf *o, const char **why)
{
    z_stream s;
    memset(&s, 0, sizeof(s));
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) {
        *why = "zlib initialisation failed";
        return -1;
    }
    s.next_in = (Bytef *)in;
    s.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (obuf_reserve(o, 1u << 20) != 0) {
            *why = "decompressed kernel is too large";
            break;
        }
        size_t room = o->cap - o->len;
        s.next_out = o->p + o->len;
        s.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        rc = inflate(&s, Z_NO_FLUSH);
        o->len = (size_t)(s.next_out - o->p);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            *why = "corrupt gzip data";
            break;
        }
    }
    inflateEnd(&s);
    return rc == Z_STREAM_END ? 0 : -1;
}

static int unxz(const uint8_t *in, size_t len, struct obuf *o, bool alone, const char **why)
{
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_ret rc =
        alone ? lzma_alone_decoder(&s, BZ_XZ_MEMLIMIT) : lzma_stream_decoder(&s, BZ_XZ_MEMLIMIT, 0);
    if (rc != LZMA_OK) {
        *why = "liblzma initialisation failed";
        return -1;
    }
    s.next_in = in;
    s.avail_in = len;
    while (rc == LZMA_OK) {
        if (obuf_reserve(o, 1u << 20) != 0) {
            *why = "decompressed kernel is too large";
            break;
        }
        s.next_out = o->p + o->len;
        s.avail_out = o->cap - o->len;
        /* LZMA_FINISH: all input is here; trailing bytes after the stream are ignored. */
        rc = lzma_code(&s, LZMA_FINISH);
        o->len = (size_t)(s.next_out - o->p);
        if (rc == LZMA_BUF_ERROR && s.avail_out) break;
        if (rc == LZMA_BUF_ERROR) rc = LZMA_OK;
    }
    lzma_end(&s);
    if (rc != LZMA_STREAM_END) {
        if (rc != LZMA_OK) *why = alone ? "corrupt lzma data" : "corrupt xz data";
        return -1;
    }
    return 0;
}

static int unzstd(const uint8_t *in, size_t len, struct obuf *o, const char **why)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) {
        *why = "zstd initialisation failed";
        return -1;
    }
    /* The kernel's zstd payloads use a window up to 2^27 (zstd -22 --ultra). */
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
    ZSTD_inBuffer ib = {in, len, 0};
    size_t rc = 1;
    while (rc != 0) {
        if (obuf_reserve(o, 1u << 20) != 0) {
            *why = "decompressed kernel is too large";
            break;
        }
        ZSTD_outBuffer ob = {o->p, o->cap, o->len};
        rc = ZSTD_decompressStream(d, &ob, &ib);
        o->len = ob.pos;
        if (ZSTD_isError(rc)) {
            *why = "corrupt zstd data";
            break;
        }
        if (rc != 0 && ib.pos == ib.size && ob.pos < ob.size) {
            *why = "truncated zstd data";
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return rc == 0 ? 0 : -1;
}

#ifdef BZ_HAVE_BZIP2
static int unbzip2(const uint8_t *in, size_t len, struct obuf *o, const char **why)
{
    bz_stream s;
    memset(&s, 0, sizeof(s));
    if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) {
        *why = "bzip2 initialisation failed";
        return -1;
    }
    s.next_in = (char *)in;
    s.avail_in = len > UINT32_MAX ? UINT32_MAX : (unsigned)len;
    int rc = BZ_OK;
    while (rc == BZ_OK) {
        if (obuf_reserve(o, 1u << 20) != 0) {
            *why = "decompressed kernel is too large";
            break;
        }
        size_t room = o->cap - o->len;
        s.next_out = (char *)o->p + o->len;
        s.avail_out = room > UINT32_MAX ? UINT32_MAX : (unsigned)room;
        rc = BZ2_bzDecompress(&s);
        o->len = (size_t)((uint8_t *)s.next_out - o->p);
        if (rc == BZ_OK && s.avail_in == 0 && s.avail_out) {
            *why = "truncated bzip2 data";
            rc = BZ_DATA_ERROR;
        } else if (rc != BZ_OK && rc != BZ_STREAM_END) {
            *why = "corrupt bzip2 data";
        }
    }
    BZ2_bzDecompressEnd(&s);
    return rc == BZ_STREAM_END ? 0 : -1;
}
#endif

int bzimage_decompress(const uint8_t *payload, size_t len, uint8_t **out, size_t *out_len,
                       char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    struct obuf o = {0};
    const char *why = NULL, *fmt;
    int rc;
    /* The build appends the decompressed size: a first allocation when plausible (kernels
     * compress about 4:1), never trusted beyond that. */
    if (len >= 8) {
        uint32_t hint = rd32(payload + len - 4);
        if (hint && hint <= BZ_MAX_VMLINUX && hint / 64 <= len) obuf_reserve(&o, hint);
    }
    if (len >= 4 && rd32(payload) == LZ4_LEGACY_MAGIC) {
        fmt = "lz4";
        rc = unlz4_legacy(payload, len, &o, &why);
    } else if (len >= 3 && payload[0] == 0x1F && payload[1] == 0x8B) {
        fmt = "gzip";
        rc = ungzip(payload, len, &o, &why);
    } else if (len >= 6 && memcmp(payload,
                                  "\xFD"
                                  "7zXZ\0",
                                  6) == 0) {
        fmt = "xz";
        rc = unxz(payload, len, &o, false, &why);
    } else if (len >= 13 && payload[0] == 0x5D && payload[1] == 0 && payload[2] == 0) {
        fmt = "lzma";
        rc = unxz(payload, len, &o, true, &why);
    } else if (len >= 4 && rd32(payload) == 0xFD2FB528u) {
        fmt = "zstd";
        rc = unzstd(payload, len, &o, &why);
    } else if (len >= 3 && memcmp(payload, "BZh", 3) == 0) {
        fmt = "bzip2";
#ifdef BZ_HAVE_BZIP2
        rc = unbzip2(payload, len, &o, &why);
#else
        why = "bzip2 support is not built in";
        rc = -1;
#endif
    } else if (len >= 4 && memcmp(payload, "\x89LZO", 4) == 0) {
        fmt = "lzo";
        why = "LZO-compressed kernels are not supported (rebuild with LZ4, gzip, xz or zstd)";
        rc = -1;
    } else if (len >= 4 && memcmp(payload,
                                  "\x7F"
                                  "ELF",
                                  4) == 0) {
        fmt = "uncompressed";
        rc = obuf_reserve(&o, len);
        if (rc == 0) {
            memcpy(o.p, payload, len);
            o.len = len;
        } else {
            why = "kernel is too large";
        }
    } else {
        snprintf(err, errlen, "kernel: unknown payload compression (magic %02x %02x %02x %02x)",
                 payload[0], len > 1 ? payload[1] : 0, len > 2 ? payload[2] : 0,
                 len > 3 ? payload[3] : 0);
        free(o.p);
        return -1;
    }
    if (rc == 0 && o.len == 0) {
        rc = -1;
        why = "empty result";
    }
    if (rc != 0) {
        snprintf(err, errlen, "kernel: cannot decompress the %s payload: %s", fmt,
                 why ? why : "failed");
        free(o.p);
        return -1;
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}
