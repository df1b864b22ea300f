/* disk.h — disk back-ends: the host side of a virtual disk. Today a raw image file; the
 * interface (vectored reads/writes at byte offsets, flush, discard, write-zeroes) is what a
 * qcow2 back-end would implement later. Calls block the calling thread (device I/O threads). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct disk_backend;

/* Open `path` (read-only if asked). On error returns NULL with a message in err. */
struct disk_backend *disk_open(const char *path, bool readonly, char *err, size_t errlen);
void disk_close(struct disk_backend *b);
uint64_t disk_size(const struct disk_backend *b); /* bytes */
bool disk_readonly(const struct disk_backend *b);
const char *disk_path(const struct disk_backend *b);
/* Whole-transfer calls: 0 on success, -errno on failure (short transfers retried inside). */
int disk_preadv(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off);
int disk_pwritev(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off);
/* Make completed writes durable on the host (fdatasync). */
int disk_flush(struct disk_backend *b);
/* Deallocate (punch a hole) / zero a range; -EOPNOTSUPP where the host file system cannot. */
int disk_discard(struct disk_backend *b, uint64_t off, uint64_t len);
int disk_write_zeroes(struct disk_backend *b, uint64_t off, uint64_t len, bool may_unmap);
