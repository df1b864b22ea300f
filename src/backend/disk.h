/* disk.h — disk back-ends: the host side of a virtual disk. A disk is opened from a spec,
 * "PATH[,format=raw|qcow2][,backing-dir=DIR]"; without format= the file's header decides
 * (a qcow2 magic means qcow2, anything else raw), and a disk that was guessed to be raw
 * refuses guest writes that would make its first sector look like another format. A qcow2
 * image may name a backing file (raw or qcow2, a chain of them); backing files are opened
 * read-only and must lie in the top image's directory (or below it) or in backing-dir.
 * The interface (vectored reads/writes at byte offsets, flush, discard, write-zeroes) is the
 * same for every format. Calls block the calling thread (device I/O threads); one back-end is
 * safe to call from several threads. docs/DISKS.md describes the rules. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct disk_backend;

enum disk_format { DISK_FORMAT_AUTO, DISK_FORMAT_RAW, DISK_FORMAT_QCOW2 };

struct disk_options {
    enum disk_format format; /* AUTO: the header decides */
    bool readonly;
    const char *backing_dir; /* another directory backing files may come from, or NULL (read
                                up to a comma: it may point into a spec) */
};

/* Parse the spec's options (everything after the first comma) into o and copy the path to
 * `path`. 0, or -1 with a message naming the problem. Other options are not accepted here:
 * the command line strips its own (readonly, id=) before handing the spec over. */
int disk_spec_parse(const char *spec, char *path, size_t pathlen, struct disk_options *o, char *err,
                    size_t errlen);

/* Open a disk from a spec (read-only if asked). On error returns NULL with a message that
 * names the path in err. */
struct disk_backend *disk_open(const char *spec, bool readonly, char *err, size_t errlen);
/* The same with options already parsed; `path` is taken as is (it may contain commas). */
struct disk_backend *disk_open_opts(const char *path, const struct disk_options *o, char *err,
                                    size_t errlen);
void disk_close(struct disk_backend *b);          /* writes back cached metadata first */
uint64_t disk_size(const struct disk_backend *b); /* guest-visible bytes */
bool disk_readonly(const struct disk_backend *b);
const char *disk_path(const struct disk_backend *b);
enum disk_format disk_format(const struct disk_backend *b);
const char *disk_format_name(enum disk_format f);
/* Whole-transfer calls: 0 on success, -errno on failure (short transfers retried inside).
 * A write to sector 0 of a disk guessed to be raw that would make it probe as another format
 * fails with -EPERM and changes nothing. */
int disk_preadv(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off);
int disk_pwritev(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off);
/* Make completed writes durable on the host (fdatasync; qcow2 writes its metadata first). */
int disk_flush(struct disk_backend *b);
/* Deallocate / zero a range; discard may answer -EOPNOTSUPP (it is a hint). */
int disk_discard(struct disk_backend *b, uint64_t off, uint64_t len);
int disk_write_zeroes(struct disk_backend *b, uint64_t off, uint64_t len, bool may_unmap);
