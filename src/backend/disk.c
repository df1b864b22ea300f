/* disk.c — the format-neutral block layer: parsing a disk spec, deciding a file's format
 * (from format= or its header, never falling back to raw when a header is damaged), the rule
 * that a disk guessed to be raw keeps probing as raw whatever the guest writes to sector 0
 * (QEMU's rule: such writes are refused), where backing files may come from, and the calls
 * every format answers. */
#include "disk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/log.h"

const char *disk_format_name(enum disk_format f)
{
    switch (f) {
    case DISK_FORMAT_RAW: return "raw";
    case DISK_FORMAT_QCOW2: return "qcow2";
    default: return "auto";
    }
}

int disk_spec_parse(const char *spec, char *path, size_t pathlen, struct disk_options *o, char *err,
                    size_t errlen)
{
    size_t n = strcspn(spec, ",");
    *o = (struct disk_options){.format = DISK_FORMAT_AUTO};
    if (n == 0) return snprintf(err, errlen, "empty path"), -1;
    if (n >= pathlen) return snprintf(err, errlen, "path too long"), -1;
    memcpy(path, spec, n);
    path[n] = 0;
    for (const char *p = spec + n; *p == ',';) {
        p++;
        size_t m = strcspn(p, ",");
        if (m == 10 && !strncmp(p, "format=raw", 10)) {
            o->format = DISK_FORMAT_RAW;
        } else if (m == 12 && !strncmp(p, "format=qcow2", 12)) {
            o->format = DISK_FORMAT_QCOW2;
        } else if (m >= 7 && !strncmp(p, "format=", 7)) {
            return snprintf(err, errlen, "%s: format '%.*s' is not raw or qcow2", path,
                            (int)(m - 7), p + 7),
                   -1;
        } else if (m > 12 && !strncmp(p, "backing-dir=", 12)) {
            o->backing_dir = p + 12; /* ends at the next comma: copied by disk_open_opts */
        } else {
            return snprintf(err, errlen, "%s: unknown option '%.*s'", path, (int)m, p), -1;
        }
        p += m;
    }
    return 0;
}

bool disk_probe_is_qcow2(const uint8_t *buf, size_t len)
{
    return len >= 4 && !memcmp(buf, "QFI\xfb", 4);
}

/* The headers QEMU (or a later vessel) would recognise: a raw image whose sector 0 starts like
 * one of these would be opened as that format next time. */
bool disk_probe_is_raw(const uint8_t *buf, size_t len)
{
    static const struct {
        unsigned at, len;
        const char *magic;
    } formats[] = {
        {0, 4, "QFI\xfb"},             /* qcow, qcow2 */
        {0, 4, "QED\0"},               /* qed */
        {0, 4, "KDMV"},                /* vmdk */
        {0, 8, "conectix"},            /* vpc */
        {0, 8, "vhdxfile"},            /* vhdx */
        {0, 6, "LUKS\xba\xbe"},        /* luks */
        {0, 16, "WithoutFreeSpace"},   /* parallels */
        {0, 16, "WithouFreSpacExt"},   /* parallels */
        {0x40, 4, "\x7f\x10\xda\xbe"}, /* vdi signature */
    };
    for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++)
        if (len >= formats[k].at + formats[k].len &&
            !memcmp(buf + formats[k].at, formats[k].magic, formats[k].len))
            return false;
    return true;
}

/* ---- whole-transfer helpers ---- */

static void disk_iov_advance(struct iovec **iov, int *n, size_t done)
{
    while (*n > 0 && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n > 0 && done) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

static int disk_fd_transfer(int fd, const struct iovec *iov_in, int n, uint64_t off, bool write,
                            bool zero_tail)
{
    if (n <= 0) return 0;
    struct iovec local[64], *copy = n <= 64 ? local : malloc(sizeof(*copy) * (size_t)n);
    if (!copy) return -ENOMEM;
    memcpy(copy, iov_in, sizeof(*copy) * (size_t)n);
    struct iovec *iov = copy;
    int rc = 0;
    while (n > 0) {
        int cnt = n > IOV_MAX ? IOV_MAX : n;
        ssize_t k = write ? pwritev(fd, iov, cnt, (off_t)off) : preadv(fd, iov, cnt, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0) { /* past the end of the file */
            if (!zero_tail || write) {
                rc = -EIO;
                break;
            }
            for (int j = 0; j < n; j++)
                memset(iov[j].iov_base, 0, iov[j].iov_len);
            break;
        }
        off += (uint64_t)k;
        disk_iov_advance(&iov, &n, (size_t)k);
    }
    if (copy != local) free(copy);
    return rc;
}

int disk_fd_preadv(int fd, const struct iovec *iov, int n, uint64_t off, bool zero_tail)
{
    return disk_fd_transfer(fd, iov, n, off, false, zero_tail);
}

int disk_fd_pwritev(int fd, const struct iovec *iov, int n, uint64_t off)
{
    return disk_fd_transfer(fd, iov, n, off, true, false);
}

int disk_fd_pread(int fd, void *buf, size_t len, uint64_t off, bool zero_tail)
{
    struct iovec v = {buf, len};
    return disk_fd_transfer(fd, &v, 1, off, false, zero_tail);
}

int disk_fd_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    struct iovec v = {(void *)buf, len};
    return disk_fd_transfer(fd, &v, 1, off, true, false);
}

/* ---- opening ---- */

/* Open `path` as `format` (AUTO: the first sector decides). */
static struct disk_backend *disk_open_file(const char *path, enum disk_format format, bool readonly,
                                           const struct disk_chain *chain, char *err, size_t errlen)
{
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        close(fd);
        return NULL;
    }
    uint8_t head[DISK_PROBE_BYTES];
    size_t got = st.st_size < (off_t)sizeof(head) ? (size_t)st.st_size : sizeof(head);
    if (disk_fd_pread(fd, head, got, 0, false) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    bool probed = format == DISK_FORMAT_AUTO;
    if (probed) format = disk_probe_is_qcow2(head, got) ? DISK_FORMAT_QCOW2 : DISK_FORMAT_RAW;
    if (probed && format == DISK_FORMAT_RAW && !disk_probe_is_raw(head, got)) {
        snprintf(err, errlen,
                 "%s has the header of an image format vessel does not read (only raw and "
                 "qcow2); convert it with qemu-img convert, or pass format=raw to use the "
                 "file's bytes as they are",
                 path);
        close(fd);
        return NULL;
    }
    struct disk_backend *b;
    if (format == DISK_FORMAT_QCOW2) {
        if (!disk_probe_is_qcow2(head, got)) {
            snprintf(err, errlen, "%s is not a qcow2 image (no QFI\\xfb magic)", path);
            close(fd);
            return NULL;
        }
        b = disk_qcow2_open(fd, path, readonly, chain, err, errlen);
    } else {
        b = disk_raw_open(fd, path, readonly, err, errlen);
    }
    if (!b) return NULL;
    b->format = format;
    b->readonly = readonly;
    b->probed_raw = probed && format == DISK_FORMAT_RAW;
    return b;
}

/* realpath of a directory with a trailing '/', so prefix tests cannot match "/a/bc" for "/a/b". */
static int disk_dir_real(const char *dir, char *out, size_t outlen)
{
    char real[PATH_MAX];
    if (!realpath(dir, real)) return -errno;
    size_t n = strlen(real);
    if (n + 2 > outlen) return -ENAMETOOLONG;
    memcpy(out, real, n);
    if (n == 0 || real[n - 1] != '/') out[n++] = '/';
    out[n] = 0;
    return 0;
}

static void disk_dirname(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, outlen, ".");
    else if (slash == path)
        snprintf(out, outlen, "/");
    else
        snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

struct disk_backend *disk_open_opts(const char *path, const struct disk_options *o, char *err,
                                    size_t errlen)
{
    struct disk_chain chain = {.depth = 0};
    char dir[4096];
    disk_dirname(path, dir, sizeof(dir));
    int rc = disk_dir_real(dir, chain.top_dir, sizeof(chain.top_dir));
    if (rc) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
        return NULL;
    }
    if (o->backing_dir) {
        char bdir[4096];
        snprintf(bdir, sizeof(bdir), "%.*s", (int)strcspn(o->backing_dir, ","), o->backing_dir);
        struct stat st;
        if (stat(bdir, &st) != 0 || !S_ISDIR(st.st_mode) ||
            disk_dir_real(bdir, chain.extra_dir, sizeof(chain.extra_dir)) != 0) {
            snprintf(err, errlen, "%s: backing-dir %s is not a directory", path, bdir);
            return NULL;
        }
    }
    struct disk_backend *b = disk_open_file(path, o->format, o->readonly, &chain, err, errlen);
    if (b && b->size < 512) {
        snprintf(err, errlen, "%s is smaller than one 512-byte sector", path);
        disk_close(b);
        return NULL;
    }
    return b;
}

struct disk_backend *disk_open(const char *spec, bool readonly, char *err, size_t errlen)
{
    char path[4096];
    struct disk_options o;
    if (disk_spec_parse(spec, path, sizeof(path), &o, err, errlen) != 0) return NULL;
    o.readonly = readonly;
    return disk_open_opts(path, &o, err, errlen);
}

static bool disk_under(const char *real, const char *dir)
{
    return dir[0] && !strncmp(real, dir, strlen(dir));
}

struct disk_backend *disk_open_backing(const char *parent, const char *name,
                                       enum disk_format format, const struct disk_chain *chain,
                                       char *err, size_t errlen)
{
    if (chain->depth + 1 >= DISK_MAX_CHAIN) {
        snprintf(err, errlen, "%s: backing chain deeper than %d images (a loop?)", parent,
                 DISK_MAX_CHAIN);
        return NULL;
    }
    char full[8192], real[PATH_MAX];
    if (name[0] == '/') {
        snprintf(full, sizeof(full), "%s", name);
    } else {
        char dir[4096];
        disk_dirname(parent, dir, sizeof(dir));
        snprintf(full, sizeof(full), "%s/%s", dir, name);
    }
    if (!realpath(full, real)) {
        snprintf(err, errlen, "%s: backing file '%s' (%s): %s", parent, name, full,
                 strerror(errno));
        return NULL;
    }
    if (!disk_under(real, chain->top_dir) && !disk_under(real, chain->extra_dir)) {
        snprintf(err, errlen,
                 "%s: backing file '%s' (%s) is outside the allowed directories (%s%s%s); "
                 "add ,backing-dir=DIR to allow its directory",
                 parent, name, real, chain->top_dir, chain->extra_dir[0] ? " and " : "",
                 chain->extra_dir);
        return NULL;
    }
    struct disk_chain next = *chain;
    next.depth++;
    struct disk_backend *b = disk_open_file(real, format, true, &next, err, errlen);
    if (b) b->probed_raw = false; /* never written */
    return b;
}

/* ---- the calls ---- */

void disk_close(struct disk_backend *b)
{
    if (b) b->ops->close(b);
}

uint64_t disk_size(const struct disk_backend *b)
{
    return b->size;
}

bool disk_readonly(const struct disk_backend *b)
{
    return b->readonly;
}

const char *disk_path(const struct disk_backend *b)
{
    return b->path;
}

enum disk_format disk_format(const struct disk_backend *b)
{
    return b->format;
}

int disk_preadv(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    return b->ops->preadv(b, iov, n, off);
}

/* Would this write leave sector 0 looking like another format? Writes are whole sectors
 * (virtio-blk checks), so one that touches sector 0 starts at 0. */
static bool disk_sector0_refused(struct disk_backend *b, const struct iovec *iov, int n,
                                 uint64_t off)
{
    if (!b->probed_raw || off != 0) return false;
    uint8_t head[DISK_PROBE_BYTES];
    size_t got = 0;
    for (int k = 0; k < n && got < sizeof(head); k++) {
        size_t take = iov[k].iov_len < sizeof(head) - got ? iov[k].iov_len : sizeof(head) - got;
        memcpy(head + got, iov[k].iov_base, take);
        got += take;
    }
    return !disk_probe_is_raw(head, got);
}

int disk_pwritev(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    if (b->readonly) return -EROFS;
    if (disk_sector0_refused(b, iov, n, off)) {
        if (!b->sector0_warned)
            log_warn("disk %s: refused a guest write that would give sector 0 an image format's "
                     "header (the disk was guessed to be raw; format=raw allows it)",
                     b->path);
        b->sector0_warned = true;
        return -EPERM;
    }
    return b->ops->pwritev(b, iov, n, off);
}

int disk_flush(struct disk_backend *b)
{
    if (b->readonly) return 0;
    return b->ops->flush(b);
}

int disk_discard(struct disk_backend *b, uint64_t off, uint64_t len)
{
    if (b->readonly) return -EROFS;
    return b->ops->discard(b, off, len);
}

int disk_write_zeroes(struct disk_backend *b, uint64_t off, uint64_t len, bool may_unmap)
{
    if (b->readonly) return -EROFS;
    return b->ops->write_zeroes(b, off, len, may_unmap);
}
