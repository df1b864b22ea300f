/* block.h — block back-ends: the host side of a virtual disk. Today a raw image file; the
 * interface (vectored reads/writes at byte offsets, flush, discard, write-zeroes) is what a
 * qcow2 back-end would implement later. Calls block the calling thread (device I/O threads). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct block_backend;

/* Open `path` (read-only if asked). On error returns NULL with a message in err. */
struct block_backend *block_open(const char *path, bool readonly, char *err, size_t errlen);
void block_close(struct block_backend *b);
uint64_t block_size(const struct block_backend *b); /* bytes */
bool block_readonly(const struct block_backend *b);
const char *block_path(const struct block_backend *b);
/* Whole-transfer calls: 0 on success, -errno on failure (short transfers retried inside). */
int block_preadv(struct block_backend *b, const struct iovec *iov, int n, uint64_t off);
int block_pwritev(struct block_backend *b, const struct iovec *iov, int n, uint64_t off);
/* Make completed writes durable on the host (fdatasync). */
int block_flush(struct block_backend *b);
/* Deallocate (punch a hole) / zero a range; -EOPNOTSUPP where the host file system cannot. */
int block_discard(struct block_backend *b, uint64_t off, uint64_t len);
int block_write_zeroes(struct block_backend *b, uint64_t off, uint64_t len, bool may_unmap);
