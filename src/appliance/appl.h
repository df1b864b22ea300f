/* appl.h — what the appliance commands share: the file format (header, parts, manifest) with
 * its reader and writer, SHA-256 over files and parts, the verified-file cache, qcow2 images
 * made for packing and for each run, and the OCI image import. docs/APPLIANCE.md is the
 * format's description; the constants here are its numbers. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPL_MAGIC          "VSLAPPL1"
#define APPL_FORMAT_VERSION 1
#define APPL_HEADER_SIZE    4096
#define APPL_ALIGN          4096 /* parts start on page boundaries so they can be mapped */
#define APPL_MAX_PARTS      16
#define APPL_MANIFEST_MAX   (1u << 20)
#define APPL_EXIT_BAD       2 /* usage errors, bad, truncated or tampered files */
#define APPL_CREATED_BY     "vessel 0.1.0"

struct appl_part {
    const char *name; /* point into the manifest */
    const char *type; /* kernel, initrd, disk, snapshot-state, snapshot-memory */
    uint64_t offset, size;
    uint8_t sha256[32];
    json_t *j; /* the part's manifest object (borrowed) */
};

struct appl {
    int fd;
    char *path;
    uint64_t file_size;
    json_t *manifest;
    uint8_t manifest_sha256[32];
    struct appl_part parts[APPL_MAX_PARTS];
    unsigned nparts;
};

/* Open an appliance file and check its header, manifest hash and the parts' places (not their
 * hashes). 0, or -1 with a one-line reason naming the file. */
int appl_open(const char *path, struct appl *a, char *err, size_t errlen);
/* Check every part's SHA-256. With `cached`, a file verified before and not changed since
 * (same device, inode, size, mtime and ctime, recorded under $VESSEL_CACHE/appliance/) is
 * not hashed again. 0, or -1 naming the first part that does not match. */
int appl_verify(struct appl *a, bool cached, char *err, size_t errlen);
const struct appl_part *appl_find(const struct appl *a, const char *name);
void appl_close(struct appl *a);

/* Writing: parts are appended page-aligned; finish writes the manifest and the header and
 * renames the temporary file into place. */
struct appl_writer {
    int fd;
    char *path, *tmp;
    uint64_t pos;
    json_t *parts;
};
int appl_writer_open(struct appl_writer *w, const char *path, char *err, size_t errlen);
/* Copy a file (its holes stay holes) as a part; `extra` (stolen, may be NULL) holds fields the
 * part's manifest object gets besides name, type, offset, size and sha256. */
int appl_writer_add_file(struct appl_writer *w, const char *name, const char *type, const char *src,
                         json_t *extra, char *err, size_t errlen);
int appl_writer_add_buf(struct appl_writer *w, const char *name, const char *type, const void *buf,
                        size_t len, json_t *extra, char *err, size_t errlen);
/* `manifest` (stolen) gets "format", "format_version" and "parts" added. */
int appl_writer_finish(struct appl_writer *w, json_t *manifest, char *err, size_t errlen);
void appl_writer_abort(struct appl_writer *w);

/* snprintf that says whether it all fit (paths built here are checked, not truncated). */
bool appl_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* SHA-256 of fd's bytes [off, off+len) (holes are hashed as the zeros they read as). 0 or
 * -errno. */
int appl_sha256_range(int fd, uint64_t off, uint64_t len, uint8_t out[32]);
void appl_hex(const uint8_t sha[32], char out[65]);
bool appl_unhex(const char *hex, uint8_t sha[32]);
/* The cache directory for appliances: $VESSEL_CACHE/appliance (made if missing). */
int appl_cache_dir(char *buf, size_t len, char *err, size_t errlen);
/* The verified-file cache: whether fd was recorded as verified under `key`, and recording it. */
bool appl_verified_get(int fd, const char *key);
void appl_verified_put(int fd, const char *key);

/* qcow2 images (appl_qcow2.c). Create an empty version 3 image of `size` bytes, optionally
 * over a backing file (its name as written in the header, and its format "raw" or "qcow2"). */
int appl_qcow2_create(const char *path, uint64_t size, const char *backing, const char *backing_fmt,
                      char *err, size_t errlen);
/* The guest-visible size of a qcow2 image (its header). */
int appl_qcow2_size(const char *path, uint64_t *size, char *err, size_t errlen);
/* Write the disk `src` (any format vessel reads) as a new qcow2 image `dst` that holds only
 * what differs from `base` (NULL: only what is not zero); dst names base by `base_name`, which
 * must resolve beside dst. */
int appl_qcow2_convert(const char *src, const char *base, const char *base_name, const char *dst,
                       char *err, size_t errlen);

/* OCI import (appl_oci.c): an OCI image layout or `docker save` tarball to an ext4 image of its
 * layers (whiteouts applied) and the init that starts its entrypoint: `init_cpio` gets a newc
 * cpio archive to append to the default initrd, `cmdline_extra` the kernel arguments it needs,
 * `info` (new reference) what the manifest records about the image. */
int appl_oci_import(const char *tarball, const char *workdir, const char *ext4_path,
                    uint8_t **init_cpio, size_t *init_cpio_len, json_t **info, char *err,
                    size_t errlen);
