/* disk_raw.c — the raw image back-end: the guest's disk is the file's bytes. Discard punches
 * holes and write-zeroes uses fallocate where the host file system supports them, falling back
 * to writing zero blocks so the guest-visible result is always the same. */
#include "disk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct disk_raw {
    struct disk_backend b; /* first: the generic layer's view */
    int fd;
};

static struct disk_raw *disk_raw_of(struct disk_backend *b)
{
    return (struct disk_raw *)b;
}

static int disk_raw_preadv(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    return disk_fd_preadv(disk_raw_of(b)->fd, iov, n, off, false);
}

static int disk_raw_pwritev(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    return disk_fd_pwritev(disk_raw_of(b)->fd, iov, n, off);
}

static int disk_raw_flush(struct disk_backend *b)
{
    return fdatasync(disk_raw_of(b)->fd) == 0 ? 0 : -errno;
}

static int disk_raw_write_zero_blocks(struct disk_raw *r, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];
    while (len) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        int rc = disk_fd_pwrite(r->fd, zeros, n, off);
        if (rc) return rc;
        off += n;
        len -= n;
    }
    return 0;
}

static int disk_raw_discard(struct disk_backend *b, uint64_t off, uint64_t len)
{
    if (fallocate(disk_raw_of(b)->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                  (off_t)len) == 0)
        return 0;
    return -errno;
}

static int disk_raw_write_zeroes(struct disk_backend *b, uint64_t off, uint64_t len, bool may_unmap)
{
    struct disk_raw *r = disk_raw_of(b);
    int mode = may_unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                         : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    if (fallocate(r->fd, mode, (off_t)off, (off_t)len) == 0) return 0;
    return disk_raw_write_zero_blocks(r, off, len);
}

static void disk_raw_close(struct disk_backend *b)
{
    struct disk_raw *r = disk_raw_of(b);
    close(r->fd);
    free(b->path);
    free(r);
}

static const struct disk_ops disk_raw_ops = {
    .preadv = disk_raw_preadv,
    .pwritev = disk_raw_pwritev,
    .flush = disk_raw_flush,
    .discard = disk_raw_discard,
    .write_zeroes = disk_raw_write_zeroes,
    .close = disk_raw_close,
};

struct disk_backend *disk_raw_open(int fd, const char *path, bool readonly, char *err,
                                   size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    struct disk_raw *r = calloc(1, sizeof(*r));
    char *p = strdup(path);
    if (!r || !p) {
        free(r);
        free(p);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->fd = fd;
    r->b.ops = &disk_raw_ops;
    r->b.path = p;
    r->b.readonly = readonly;
    r->b.size = (uint64_t)st.st_size;
    return &r->b;
}
