/* disk_internal.h — what the format drivers share with disk.c and nothing else sees: the
 * per-format operations table, the common header every back-end starts with, and the rules
 * for opening a backing file (allowed directories, chain depth). */
#pragma once
#include "disk.h"

#define DISK_MAX_CHAIN   16 /* backing-file chain depth; deeper is refused, which also ends loops */
#define DISK_PROBE_BYTES 512

struct disk_ops {
    int (*preadv)(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off);
    int (*pwritev)(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off);
    int (*flush)(struct disk_backend *b);
    int (*discard)(struct disk_backend *b, uint64_t off, uint64_t len);
    int (*write_zeroes)(struct disk_backend *b, uint64_t off, uint64_t len, bool may_unmap);
    void (*close)(struct disk_backend *b);
};

struct disk_backend {
    const struct disk_ops *ops;
    char *path;
    uint64_t size; /* guest-visible bytes */
    bool readonly;
    bool probed_raw; /* raw by guess: sector 0 must keep probing as raw */
    bool sector0_warned;
    enum disk_format format;
};

/* Where backing files may come from: real paths of directories, with their trailing '/'. */
struct disk_chain {
    char top_dir[4096];
    char extra_dir[4096]; /* empty when no backing-dir= */
    unsigned depth;
};

/* Take ownership of fd (closed on failure). `b` fields path/readonly are set by the callers. */
struct disk_backend *disk_raw_open(int fd, const char *path, bool readonly, char *err,
                                   size_t errlen);
struct disk_backend *disk_qcow2_open(int fd, const char *path, bool readonly,
                                     const struct disk_chain *chain, char *err, size_t errlen);

/* Open a backing file named `name` by the image at `parent` (relative names are relative to
 * the parent's directory), read-only, as `format` (AUTO probes), if it lies where the chain
 * allows. */
struct disk_backend *disk_open_backing(const char *parent, const char *name,
                                       enum disk_format format, const struct disk_chain *chain,
                                       char *err, size_t errlen);

/* Which format a first sector says (AUTO when it names one vessel does not know, e.g. vmdk). */
bool disk_probe_is_raw(const uint8_t *buf, size_t len);
bool disk_probe_is_qcow2(const uint8_t *buf, size_t len);

/* Whole-transfer helpers over a file descriptor: 0 or -errno; short reads past the end of the
 * file fill with zeros when zero_tail, else fail with -EIO. */
int disk_fd_preadv(int fd, const struct iovec *iov, int n, uint64_t off, bool zero_tail);
int disk_fd_pwritev(int fd, const struct iovec *iov, int n, uint64_t off);
int disk_fd_pread(int fd, void *buf, size_t len, uint64_t off, bool zero_tail);
int disk_fd_pwrite(int fd, const void *buf, size_t len, uint64_t off);
