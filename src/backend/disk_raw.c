/* disk_raw.c — the raw image back-end: the guest's disk is the file's bytes. Discard punches
 * holes and write-zeroes uses fallocate where the host file system supports them, falling back
 * to writing zero blocks so the guest-visible result is always the same. */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct disk_backend {
    int fd;
    bool readonly;
    uint64_t size;
    char *path;
};

struct disk_backend *disk_open(const char *path, bool readonly, char *err, size_t errlen)
{
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open disk image %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "disk image %s is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size < 512) {
        snprintf(err, errlen, "disk image %s is smaller than one 512-byte sector", path);
        close(fd);
        return NULL;
    }
    struct disk_backend *b = calloc(1, sizeof(*b));
    char *p = strdup(path);
    if (!b || !p) {
        free(b);
        free(p);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->fd = fd;
    b->readonly = readonly;
    b->size = (uint64_t)st.st_size;
    b->path = p;
    return b;
}

void disk_close(struct disk_backend *b)
{
    if (!b) return;
    close(b->fd);
    free(b->path);
    free(b);
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

/* Advance an iovec array past `done` bytes (in place). */
static void iov_advance(struct iovec **iov, int *n, size_t done)
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

static int transfer(struct disk_backend *b, const struct iovec *iov_in, int n, uint64_t off,
                    bool write)
{
    if (n <= 0) return 0;
    struct iovec local[64], *copy = n <= 64 ? local : malloc(sizeof(*copy) * (size_t)n);
    if (!copy) return -ENOMEM;
    memcpy(copy, iov_in, sizeof(*copy) * (size_t)n);
    struct iovec *iov = copy;
    int rc = 0;
    while (n > 0) {
        int cnt = n > IOV_MAX ? IOV_MAX : n;
        ssize_t k =
            write ? pwritev(b->fd, iov, cnt, (off_t)off) : preadv(b->fd, iov, cnt, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0) { /* reading past the end of a file that shrank under us */
            rc = -EIO;
            break;
        }
        off += (uint64_t)k;
        iov_advance(&iov, &n, (size_t)k);
    }
    if (copy != local) free(copy);
    return rc;
}

int disk_preadv(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    return transfer(b, iov, n, off, false);
}

int disk_pwritev(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    if (b->readonly) return -EROFS;
    return transfer(b, iov, n, off, true);
}

int disk_flush(struct disk_backend *b)
{
    if (b->readonly) return 0;
    return fdatasync(b->fd) == 0 ? 0 : -errno;
}

static int write_zero_blocks(struct disk_backend *b, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];
    while (len) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        struct iovec v = {(void *)zeros, n};
        int rc = transfer(b, &v, 1, off, true);
        if (rc) return rc;
        off += n;
        len -= n;
    }
    return 0;
}

int disk_discard(struct disk_backend *b, uint64_t off, uint64_t len)
{
    if (b->readonly) return -EROFS;
    if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    return -errno;
}

int disk_write_zeroes(struct disk_backend *b, uint64_t off, uint64_t len, bool may_unmap)
{
    if (b->readonly) return -EROFS;
    int mode = may_unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                         : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    if (fallocate(b->fd, mode, (off_t)off, (off_t)len) == 0) return 0;
    return write_zero_blocks(b, off, len);
}
