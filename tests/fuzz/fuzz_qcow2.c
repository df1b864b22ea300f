/* fuzz_qcow2.c — hostile qcow2 images: each input either is the file after a qcow2 magic, or
 * patches a small valid image (header, refcount table and block, L1, two L2 tables, a data,
 * a zero and a compressed cluster) at input-chosen offsets, so header fields, extensions, the
 * backing-file name, table offsets and entries all get bad values. The image is opened (read
 * only or writable), read and written at input-chosen places, flushed, closed and reopened.
 * The back-end must refuse it at open or answer each call, never crash, hang, read or write
 * memory it does not own, or grow without bound. Images live in a private directory so a
 * hostile backing-file name can only reach other images of the same input (or itself). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "backend/disk.h"
#include "vessel/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CS     512u
#define NCLUST 8u
#define VSIZE  (1u << 20)

static char dir[64], img[96];
static uint8_t tmpl[CS * NCLUST];

static void put32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (24 - 8 * k));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* A valid v3 image: 512-byte clusters, 1 MiB disk, 16-bit refcounts. */
static void build_template(void)
{
    uint8_t *h = tmpl;
    memcpy(h, "QFI\xfb", 4);
    put32(h + 4, 3);
    put32(h + 20, 9);            /* cluster_bits */
    put64(h + 24, VSIZE);        /* size */
    put32(h + 36, 32);           /* l1_size: 1 MiB / (64 entries * 512) */
    put64(h + 40, 3 * CS);       /* l1_table_offset */
    put64(h + 48, 1 * CS);       /* refcount_table_offset */
    put32(h + 56, 1);            /* refcount_table_clusters */
    put32(h + 96, 4);            /* refcount_order */
    put32(h + 100, 104);         /* header_length */
    put32(h + 104, 0xe2792acau); /* backing format extension: "raw" (no backing yet) */
    put32(h + 108, 3);
    memcpy(h + 112, "raw", 3);
    put64(tmpl + 1 * CS, 2 * CS); /* refcount table → block */
    for (unsigned c = 0; c < NCLUST; c++)
        tmpl[2 * CS + 2 * c + 1] = 1;
    put64(tmpl + 3 * CS, 4 * CS | 1ull << 63); /* L1[0], L1[1] */
    put64(tmpl + 3 * CS + 8, 5 * CS | 1ull << 63);
    uint8_t *l2 = tmpl + 4 * CS;
    put64(l2 + 0, 6 * CS | 1ull << 63); /* a data cluster */
    put64(l2 + 8, 1);                   /* a zero cluster */
    memset(tmpl + 6 * CS, 0x5a, CS);
    /* a compressed cluster in cluster 7: raw deflate of 512 bytes of 0x33 */
    uint8_t plain[CS];
    memset(plain, 0x33, CS);
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY);
    z.next_in = plain;
    z.avail_in = CS;
    z.next_out = tmpl + 7 * CS;
    z.avail_out = CS;
    deflate(&z, Z_FINISH);
    deflateEnd(&z);
    /* cluster_bits 9: csize_shift 61, one sector count bit (0 = one sector) */
    put64(l2 + 16, 1ull << 62 | 7 * CS);
    put64(tmpl + 5 * CS, 6 * CS); /* L2[1][0]: the same data cluster, without COPIED */
}

static void cleanup(void)
{
    unlink(img);
    rmdir(dir);
}

static void setup_once(void)
{
    log_threshold = LOG_ERROR;
    strcpy(dir, "/dev/shm/vessel-fuzzq-XXXXXX");
    if (!mkdtemp(dir)) {
        strcpy(dir, "/tmp/vessel-fuzzq-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    snprintf(img, sizeof(img), "%s/img.qcow2", dir);
    build_template();
    atexit(cleanup);
}

static void exercise(const char *path, bool writable, const uint8_t *d, size_t n)
{
    char err[512];
    struct disk_options o = {.format = DISK_FORMAT_AUTO, .readonly = !writable};
    struct disk_backend *b = disk_open_opts(path, &o, err, sizeof(err));
    if (!b) {
        if (!err[0]) abort(); /* a refusal always says why */
        return;
    }
    uint64_t size = disk_size(b) / 512 * 512;
    static uint8_t buf[8192];
    for (size_t k = 0; k + 4 <= n && k < 64; k += 4) {
        uint64_t sector = (uint64_t)(d[k] | d[k + 1] << 8 | d[k + 2] << 16) % (size / 512);
        uint64_t len = 512 * (1 + d[k + 3] % 16);
        if (len > size - sector * 512) len = size - sector * 512;
        struct iovec v = {buf, len};
        switch (writable ? d[k + 3] >> 5 : 0) {
        case 1:
        case 2:
            memset(buf, d[k], len);
            disk_pwritev(b, &v, 1, sector * 512);
            break;
        case 3: disk_write_zeroes(b, sector * 512, len, d[k] & 1); break;
        case 4: disk_discard(b, sector * 512, len); break;
        case 5: disk_flush(b); break;
        default: disk_preadv(b, &v, 1, sector * 512); break;
        }
    }
    disk_close(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) setup_once();
    if (size < 2) return 0;
    static uint8_t file[1 << 16];
    size_t len;
    const uint8_t *ops = data + size;
    size_t nops = 0;
    if (data[0] % 4 == 0) { /* the input is the image after its magic */
        memcpy(file, "QFI\xfb", 4);
        len = 4 + (size - 2 < sizeof(file) - 4 ? size - 2 : sizeof(file) - 4);
        memcpy(file + 4, data + 2, len - 4);
        ops = data + 2;
        nops = size - 2;
    } else { /* patches: offset (2 bytes), length, bytes */
        memcpy(file, tmpl, sizeof(tmpl));
        len = sizeof(tmpl);
        size_t at = 2;
        unsigned npatch = data[0] % 8 + 1;
        for (unsigned p = 0; p < npatch && at + 3 <= size; p++) {
            size_t off = (data[at] | data[at + 1] << 8) % len, n = data[at + 2] % 16 + 1;
            at += 3;
            if (n > size - at) n = size - at;
            if (n > len - off) n = len - off;
            memcpy(file + off, data + at, n);
            at += n;
        }
        ops = data + at;
        nops = size - at;
    }
    int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, file, len) != (ssize_t)len) abort();
    close(fd);
    bool writable = data[1] & 1;
    exercise(img, writable, ops, nops);
    if (writable) exercise(img, true, ops + (nops > 32 ? 32 : nops), nops > 32 ? nops - 32 : 0);
    return 0;
}
