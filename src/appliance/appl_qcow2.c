/* appl_qcow2.c — the qcow2 images an appliance needs: an empty overlay made for every run (the
 * block layer does not create images), and a disk converted for packing that holds only the
 * clusters differing from a named base. The conversion writes through vessel's own qcow2
 * back-end (src/backend/disk_qcow2.c), so allocation and refcounts are that code's, which
 * qemu-img check holds to; this file only lays out a fresh image's first clusters. */
#include "appliance/appl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/disk.h"
#include "vessel/log.h"

#define APPL_QCOW2_CLUSTER_BITS 16
#define APPL_QCOW2_CS           (1u << APPL_QCOW2_CLUSTER_BITS)
#define APPL_QCOW2_HEADER_LEN   112
#define APPL_QCOW2_EXT_BACKFMT  0xE2792ACAu

static void be32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (24 - 8 * k));
}

static void be64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (56 - 8 * k));
}

/* Layout: cluster 0 header (+ extensions and backing name), 1 refcount table, 2 its first
 * refcount block (16-bit refcounts), 3.. the L1 table. */
int appl_qcow2_create(const char *path, uint64_t size, const char *backing, const char *backing_fmt,
                      char *err, size_t errlen)
{
    const uint64_t cs = APPL_QCOW2_CS;
    uint64_t l1_entries = (size + cs * (cs / 8) - 1) / (cs * (cs / 8));
    uint64_t l1_clusters = l1_entries ? (l1_entries * 8 + cs - 1) / cs : 1;
    uint64_t nclusters = 3 + l1_clusters;
    if (nclusters > cs / 2 || size % 512)
        return error_set(err, errlen, "%s: disk size %llu is not supported", path,
                         (unsigned long long)size);
    size_t blen = backing ? strlen(backing) : 0, flen = backing_fmt ? strlen(backing_fmt) : 0;
    if (blen > 1023 || flen > 16) return error_set(err, errlen, "%s: backing name too long", path);
    uint8_t *img = calloc(1, nclusters * cs);
    if (!img) return error_set(err, errlen, "out of memory");
    uint8_t *h = img;
    memcpy(h, "QFI\xfb", 4);
    be32(h + 4, 3);
    be32(h + 20, APPL_QCOW2_CLUSTER_BITS);
    be64(h + 24, size);
    be32(h + 36, (uint32_t)l1_entries);
    be64(h + 40, 3 * cs);
    be64(h + 48, 1 * cs);
    be32(h + 56, 1);
    be32(h + 96, 4); /* refcount_order: 16-bit */
    be32(h + 100, APPL_QCOW2_HEADER_LEN);
    size_t at = APPL_QCOW2_HEADER_LEN;
    if (backing && backing_fmt) {
        be32(h + at, APPL_QCOW2_EXT_BACKFMT);
        be32(h + at + 4, (uint32_t)flen);
        memcpy(h + at + 8, backing_fmt, flen);
        at += 8 + (flen + 7) / 8 * 8;
    }
    at += 8; /* end of extensions: type 0, length 0 */
    if (backing) {
        be64(h + 8, at);
        be32(h + 16, (uint32_t)blen);
        memcpy(h + at, backing, blen);
    }
    be64(img + cs, 2 * cs); /* refcount table[0] -> block at cluster 2 */
    for (uint64_t c = 0; c < nclusters; c++) {
        img[2 * cs + 2 * c] = 0;
        img[2 * cs + 2 * c + 1] = 1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd < 0) {
        rc = error_set(err, errlen, "%s: %s", path, strerror(errno));
    } else {
        size_t left = nclusters * cs;
        uint8_t *p = img;
        while (left) {
            ssize_t k = write(fd, p, left);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                rc = error_set(err, errlen, "%s: %s", path, strerror(k < 0 ? errno : EIO));
                break;
            }
            p += k;
            left -= (size_t)k;
        }
        if (close(fd) < 0 && rc == 0) rc = error_set(err, errlen, "%s: %s", path, strerror(errno));
        if (rc < 0) unlink(path);
    }
    free(img);
    return rc;
}

int appl_qcow2_size(const char *path, uint64_t *size, char *err, size_t errlen)
{
    uint8_t h[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok =
        fd >= 0 && pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) && !memcmp(h, "QFI\xfb", 4);
    if (fd >= 0) close(fd);
    if (!ok) return error_set(err, errlen, "%s: not a qcow2 image", path);
    *size = 0;
    for (int k = 0; k < 8; k++)
        *size = *size << 8 | h[24 + k];
    return 0;
}

static bool appl_all_zero(const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (p[k]) return false;
    return true;
}

int appl_qcow2_convert(const char *src, const char *base, const char *base_name, const char *dst,
                       char *err, size_t errlen)
{
    char why[1024];
    char base_dir[PATH_MAX] = "";
    if (base) {
        char *real = realpath(base, NULL);
        if (!real) return error_set(err, errlen, "base %s: %s", base, strerror(errno));
        snprintf(base_dir, sizeof(base_dir), "%s", dirname(real));
        free(real);
    }
    /* The source may itself read through the base (a packing overlay). */
    struct disk_options so = {
        .format = DISK_FORMAT_AUTO, .readonly = true, .backing_dir = base_dir[0] ? base_dir : NULL};
    struct disk_backend *s = disk_open_opts(src, &so, why, sizeof(why));
    if (!s) return error_set(err, errlen, "--disk %s", why);
    struct disk_backend *b = NULL;
    if (base) {
        struct disk_options bo = {.format = DISK_FORMAT_AUTO, .readonly = true};
        if (!(b = disk_open_opts(base, &bo, why, sizeof(why)))) {
            disk_close(s);
            return error_set(err, errlen, "base %s", why);
        }
    }
    uint64_t size = disk_size(s);
    const char *fmt = b ? (disk_format(b) == DISK_FORMAT_QCOW2 ? "qcow2" : "raw") : NULL;
    if (appl_qcow2_create(dst, size, b ? base_name : NULL, fmt, err, errlen) < 0) {
        disk_close(s);
        if (b) disk_close(b);
        return -1;
    }
    struct disk_options dop = {.format = DISK_FORMAT_QCOW2,
                               .readonly = false,
                               .backing_dir = base_dir[0] ? base_dir : NULL};
    struct disk_backend *d = disk_open_opts(dst, &dop, why, sizeof(why));
    if (!d) {
        disk_close(s);
        if (b) disk_close(b);
        return error_set(err, errlen, "%s", why);
    }
    uint8_t *sb = malloc(APPL_QCOW2_CS), *bb = malloc(APPL_QCOW2_CS);
    uint64_t bsize = b ? disk_size(b) : 0;
    int rc = sb && bb ? 0 : -ENOMEM;
    for (uint64_t off = 0; rc == 0 && off < size; off += APPL_QCOW2_CS) {
        size_t n = size - off < APPL_QCOW2_CS ? (size_t)(size - off) : APPL_QCOW2_CS;
        struct iovec v = {sb, n};
        if ((rc = disk_preadv(s, &v, 1, off)) < 0) break;
        bool zero = appl_all_zero(sb, n);
        if (b && off < bsize) {
            size_t bn = bsize - off < n ? (size_t)(bsize - off) : n;
            memset(bb, 0, n);
            struct iovec bv = {bb, bn};
            if ((rc = disk_preadv(b, &bv, 1, off)) < 0) break;
            if (!memcmp(sb, bb, n)) continue; /* the base has it */
            if (zero) {
                rc = disk_write_zeroes(d, off, n, false);
                continue;
            }
        } else if (zero) {
            continue; /* unallocated reads as zeros (past the base's end too) */
        }
        rc = disk_pwritev(d, &v, 1, off);
    }
    if (rc == 0) rc = disk_flush(d);
    free(sb);
    free(bb);
    disk_close(d);
    disk_close(s);
    if (b) disk_close(b);
    if (rc < 0) {
        unlink(dst);
        return error_set(err, errlen, "converting %s: %s", src, strerror(-rc));
    }
    return 0;
}
