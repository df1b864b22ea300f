/* appl_format.c — the appliance file (docs/APPLIANCE.md): a 4 KiB header, page-aligned parts,
 * a JSON manifest at the end. The header carries the manifest's SHA-256 and the manifest every
 * part's, so one hash chain covers the whole file: a flipped byte anywhere, a truncation or a
 * part moved outside the file is refused with the part's name before anything runs. Hashing a
 * large snapshot takes longer than an instant start may, so a file verified once is
 * remembered by its identity (device, inode, size, mtime, ctime); any write to it changes
 * that identity and the next run hashes again. */
#include "appliance/appl.h"
#include "vessel/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPL_CHUNK (1u << 20)

bool appl_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < len;
}

static uint64_t appl_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

static void appl_put64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

void appl_hex(const uint8_t sha[32], char out[65])
{
    for (int k = 0; k < 32; k++)
        snprintf(out + 2 * k, 3, "%02x", sha[k]);
}

bool appl_unhex(const char *hex, uint8_t sha[32])
{
    if (!hex || strlen(hex) != 64) return false;
    for (int k = 0; k < 32; k++) {
        unsigned v;
        char two[3] = {hex[2 * k], hex[2 * k + 1], 0};
        char *end;
        v = (unsigned)strtoul(two, &end, 16);
        if (*end || two[0] == '+' || two[0] == '-' || two[0] == ' ') return false;
        sha[k] = (uint8_t)v;
    }
    return true;
}

/* Hashing: data extents are read, holes are fed as zeros (no I/O for them). */
int appl_sha256_range(int fd, uint64_t off, uint64_t len, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t *buf = malloc(APPL_CHUNK);
    int rc = 0;
    if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        rc = -ENOMEM;
        goto out;
    }
    uint64_t pos = off, end = off + len;
    bool zeroed = false;
    while (pos < end) {
        off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
        uint64_t data = d < 0 ? end : (uint64_t)d;
        if (data > end) data = end;
        if (data > pos) { /* a hole up to data */
            if (!zeroed) memset(buf, 0, APPL_CHUNK);
            zeroed = true;
            for (uint64_t z = data - pos; z;) {
                size_t n = z < APPL_CHUNK ? (size_t)z : APPL_CHUNK;
                EVP_DigestUpdate(ctx, buf, n);
                z -= n;
            }
            pos = data;
            continue;
        }
        off_t h = lseek(fd, (off_t)pos, SEEK_HOLE);
        uint64_t hole = h < 0 ? end : (uint64_t)h;
        if (hole > end || hole <= pos) hole = end;
        while (pos < hole) {
            size_t n = hole - pos < APPL_CHUNK ? (size_t)(hole - pos) : APPL_CHUNK;
            ssize_t k = pread(fd, buf, n, (off_t)pos);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                rc = k < 0 ? -errno : -EIO;
                goto out;
            }
            zeroed = false;
            EVP_DigestUpdate(ctx, buf, (size_t)k);
            pos += (uint64_t)k;
        }
    }
    unsigned n = 32;
    if (!EVP_DigestFinal_ex(ctx, out, &n)) rc = -EIO;
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

static void appl_sha256_buf(const void *p, size_t n, uint8_t out[32])
{
    unsigned len = 32;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

int appl_cache_dir(char *buf, size_t len, char *err, size_t errlen)
{
    const char *c = getenv("VESSEL_CACHE");
    const char *home = getenv("HOME");
    int n = c && *c ? snprintf(buf, len, "%s/appliance", c)
                    : snprintf(buf, len, "%s/.cache/vessel/appliance", home && *home ? home : ".");
    if (n < 0 || (size_t)n >= len) return error_set(err, errlen, "cache directory name too long");
    /* mkdir -p of the last three components at most ($HOME/.cache/vessel/appliance). */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", buf);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(tmp, 0755);
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return error_set(err, errlen, "cache directory %s: %s", buf, strerror(errno));
    return 0;
}

static bool appl_identity(int fd, char *out, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return false;
    snprintf(out, len, "%llu %llu %llu %lld.%09ld %lld.%09ld\n", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
             st.st_ctim.tv_nsec);
    return true;
}

static bool appl_verified_path(const char *key, char *path, size_t len)
{
    char dir[PATH_MAX], e[256];
    if (appl_cache_dir(dir, sizeof(dir), e, sizeof(e)) < 0) return false;
    int n = snprintf(path, len, "%s/verified-%s", dir, key);
    return n > 0 && (size_t)n < len;
}

bool appl_verified_get(int fd, const char *key)
{
    char path[PATH_MAX], want[256], have[256] = {0};
    if (!appl_identity(fd, want, sizeof(want)) || !appl_verified_path(key, path, sizeof(path)))
        return false;
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(have, sizeof(have), f) && !strcmp(have, want);
    fclose(f);
    return ok;
}

void appl_verified_put(int fd, const char *key)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16], id[256];
    if (!appl_identity(fd, id, sizeof(id)) || !appl_verified_path(key, path, sizeof(path))) return;
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    bool ok = fputs(id, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) < 0) unlink(tmp);
}

/* ---- reading ---- */

void appl_close(struct appl *a)
{
    if (a->fd >= 0) close(a->fd);
    free(a->path);
    json_decref(a->manifest);
    memset(a, 0, sizeof(*a));
    a->fd = -1;
}

const struct appl_part *appl_find(const struct appl *a, const char *name)
{
    for (unsigned k = 0; k < a->nparts; k++)
        if (!strcmp(a->parts[k].name, name)) return &a->parts[k];
    return NULL;
}

static int appl_get_u64(json_t *o, const char *key, uint64_t *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j) || json_integer_value(j) < 0) return -1;
    *v = (uint64_t)json_integer_value(j);
    return 0;
}

static int appl_parse_parts(struct appl *a, char *err, size_t errlen)
{
    json_t *parts = json_object_get(a->manifest, "parts");
    if (!json_is_array(parts) || json_array_size(parts) > APPL_MAX_PARTS)
        return error_set(err, errlen, "manifest has no valid parts list");
    uint64_t data_end = a->file_size; /* parts lie between the header and the manifest */
    uint8_t h[APPL_HEADER_SIZE];
    if (pread(a->fd, h, 32, 0) == 32) data_end = appl_le64(h + 16);
    for (size_t k = 0; k < json_array_size(parts); k++) {
        json_t *o = json_array_get(parts, k);
        struct appl_part *p = &a->parts[k];
        p->j = o;
        p->name = json_string_value(json_object_get(o, "name"));
        p->type = json_string_value(json_object_get(o, "type"));
        if (!p->name || !p->type || appl_get_u64(o, "offset", &p->offset) ||
            appl_get_u64(o, "size", &p->size) ||
            !appl_unhex(json_string_value(json_object_get(o, "sha256")), p->sha256))
            return error_set(err, errlen, "manifest part %zu is malformed", k);
        if (p->offset % APPL_ALIGN || p->offset < APPL_HEADER_SIZE || p->offset > data_end ||
            p->size > data_end - p->offset)
            return error_set(err, errlen, "part '%s' lies outside the file (truncated?)", p->name);
        /* Names become file names in the cache: plain ones only. */
        bool plain = p->name[0] && p->name[0] != '.' && strlen(p->name) <= 64;
        for (const char *c = p->name; plain && *c; c++)
            plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.';
        if (!plain) return error_set(err, errlen, "manifest part %zu has a bad name", k);
        for (size_t q = 0; q < k; q++)
            if (!strcmp(a->parts[q].name, p->name))
                return error_set(err, errlen, "part '%s' appears twice", p->name);
        a->nparts = (unsigned)k + 1;
    }
    return 0;
}

int appl_open(const char *path, struct appl *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (a->fd < 0) return error_set(err, errlen, "appliance '%s': %s", path, strerror(errno));
    a->path = strdup(path);
    struct stat st;
    uint8_t h[APPL_HEADER_SIZE];
    char why[512];
    int rc = -1;
    if (fstat(a->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, sizeof(why), "not a regular file");
        goto fail;
    }
    a->file_size = (uint64_t)st.st_size;
    ssize_t got = pread(a->fd, h, sizeof(h), 0);
    if (got < 8 || memcmp(h, APPL_MAGIC, 8) != 0) {
        snprintf(why, sizeof(why), "not a vessel appliance (no %s magic)", APPL_MAGIC);
        goto fail;
    }
    if (got < (ssize_t)sizeof(h)) {
        snprintf(why, sizeof(why), "truncated: the file ends inside its header");
        goto fail;
    }
    uint32_t ver =
        (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
    if (ver != APPL_FORMAT_VERSION) {
        snprintf(why, sizeof(why), "format version %u; this vessel reads version %u", ver,
                 APPL_FORMAT_VERSION);
        goto fail;
    }
    uint64_t moff = appl_le64(h + 16), mlen = appl_le64(h + 24);
    if (moff < APPL_HEADER_SIZE || mlen == 0 || mlen > APPL_MANIFEST_MAX ||
        moff > UINT64_MAX - mlen) {
        snprintf(why, sizeof(why), "damaged header (manifest at %llu, %llu bytes)",
                 (unsigned long long)moff, (unsigned long long)mlen);
        goto fail;
    }
    if (moff + mlen > a->file_size) {
        snprintf(why, sizeof(why), "truncated: %llu bytes, the manifest ends at %llu",
                 (unsigned long long)a->file_size, (unsigned long long)(moff + mlen));
        goto fail;
    }
    if (moff + mlen < a->file_size) {
        snprintf(why, sizeof(why), "%llu bytes after the manifest (appended to?)",
                 (unsigned long long)(a->file_size - moff - mlen));
        goto fail;
    }
    char *text = malloc(mlen + 1);
    if (!text || pread(a->fd, text, mlen, (off_t)moff) != (ssize_t)mlen) {
        free(text);
        snprintf(why, sizeof(why), "cannot read the manifest");
        goto fail;
    }
    text[mlen] = 0;
    appl_sha256_buf(text, mlen, a->manifest_sha256);
    if (memcmp(a->manifest_sha256, h + 32, 32) != 0) {
        free(text);
        snprintf(why, sizeof(why), "the manifest does not match its SHA-256 (damaged or tampered)");
        goto fail;
    }
    json_error_t je;
    a->manifest = json_loadb(text, mlen, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!json_is_object(a->manifest)) {
        snprintf(why, sizeof(why), "manifest is not a JSON object (%s)", je.text);
        goto fail;
    }
    json_t *fv = json_object_get(a->manifest, "format_version");
    if (!json_is_integer(fv) || json_integer_value(fv) != APPL_FORMAT_VERSION) {
        snprintf(why, sizeof(why), "manifest format_version is not %d", APPL_FORMAT_VERSION);
        goto fail;
    }
    if (appl_parse_parts(a, why, sizeof(why)) < 0) goto fail;
    return 0;
fail:
    error_set(err, errlen, "appliance '%s': %s", path, why);
    appl_close(a);
    return rc;
}

int appl_verify(struct appl *a, bool cached, char *err, size_t errlen)
{
    char key[65];
    appl_hex(a->manifest_sha256, key);
    if (cached && appl_verified_get(a->fd, key)) return 0;
    for (unsigned k = 0; k < a->nparts; k++) {
        const struct appl_part *p = &a->parts[k];
        uint8_t sha[32];
        int rc = appl_sha256_range(a->fd, p->offset, p->size, sha);
        if (rc < 0)
            return error_set(err, errlen, "appliance '%s': reading part '%s': %s", a->path, p->name,
                             strerror(-rc));
        if (memcmp(sha, p->sha256, 32) != 0)
            return error_set(err, errlen,
                             "appliance '%s': part '%s' does not match its SHA-256 in the "
                             "manifest (damaged or tampered)",
                             a->path, p->name);
    }
    appl_verified_put(a->fd, key);
    return 0;
}

/* ---- writing ---- */

int appl_writer_open(struct appl_writer *w, const char *path, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->path = strdup(path);
    size_t n = strlen(path) + 16;
    w->tmp = malloc(n);
    if (!w->path || !w->tmp) return error_set(err, errlen, "out of memory");
    snprintf(w->tmp, n, "%s.tmp", path);
    w->fd = open(w->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        free(w->path);
        free(w->tmp);
        return error_set(err, errlen, "%s: %s", path, strerror(e));
    }
    w->pos = APPL_HEADER_SIZE;
    w->parts = json_array();
    return 0;
}

void appl_writer_abort(struct appl_writer *w)
{
    if (w->fd >= 0) close(w->fd);
    if (w->tmp) unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    json_decref(w->parts);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}

static int appl_write_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? -errno : -EIO;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int appl_writer_record(struct appl_writer *w, const char *name, const char *type,
                              uint64_t size, json_t *extra, char *err, size_t errlen)
{
    uint8_t sha[32];
    char hex[65];
    int rc = appl_sha256_range(w->fd, w->pos, size, sha);
    if (rc < 0) {
        json_decref(extra);
        return error_set(err, errlen, "hashing part '%s': %s", name, strerror(-rc));
    }
    appl_hex(sha, hex);
    json_t *o = extra ? extra : json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "offset", json_integer((json_int_t)w->pos));
    json_object_set_new(o, "size", json_integer((json_int_t)size));
    json_object_set_new(o, "sha256", json_string(hex));
    json_array_append_new(w->parts, o);
    w->pos = (w->pos + size + APPL_ALIGN - 1) / APPL_ALIGN * APPL_ALIGN;
    return 0;
}

int appl_writer_add_buf(struct appl_writer *w, const char *name, const char *type, const void *buf,
                        size_t len, json_t *extra, char *err, size_t errlen)
{
    int rc = appl_write_all(w->fd, buf, len, w->pos);
    if (rc < 0) {
        json_decref(extra);
        return error_set(err, errlen, "writing part '%s': %s", name, strerror(-rc));
    }
    return appl_writer_record(w, name, type, len, extra, err, errlen);
}

int appl_writer_add_file(struct appl_writer *w, const char *name, const char *type, const char *src,
                         json_t *extra, char *err, size_t errlen)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        json_decref(extra);
        return error_set(err, errlen, "%s: %s", src, strerror(e));
    }
    uint64_t size = (uint64_t)st.st_size, pos = 0;
    uint8_t *buf = malloc(APPL_CHUNK);
    int rc = buf ? 0 : -ENOMEM;
    /* Data extents only: a sparse memory file stays sparse inside the appliance. */
    while (rc == 0 && pos < size) {
        off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
        if (d < 0 || (uint64_t)d >= size) break;
        off_t h = lseek(fd, d, SEEK_HOLE);
        uint64_t end = h < 0 || (uint64_t)h > size ? size : (uint64_t)h;
        for (pos = (uint64_t)d; rc == 0 && pos < end;) {
            size_t n = end - pos < APPL_CHUNK ? (size_t)(end - pos) : APPL_CHUNK;
            ssize_t k = pread(fd, buf, n, (off_t)pos);
            if (k <= 0) {
                rc = k < 0 ? -errno : -EIO;
                break;
            }
            /* Pages of zeros inside data extents become holes too. */
            for (size_t o = 0; rc == 0 && o < (size_t)k; o += 4096) {
                size_t m = (size_t)k - o < 4096 ? (size_t)k - o : 4096;
                bool zero = true;
                for (size_t i = 0; i < m && zero; i++)
                    zero = buf[o + i] == 0;
                if (!zero) rc = appl_write_all(w->fd, buf + o, m, w->pos + pos + o);
            }
            pos += (uint64_t)k;
        }
    }
    free(buf);
    close(fd);
    if (rc == 0 && ftruncate(w->fd, (off_t)(w->pos + size)) < 0) rc = -errno;
    if (rc < 0) {
        json_decref(extra);
        return error_set(err, errlen, "copying %s into part '%s': %s", src, name, strerror(-rc));
    }
    return appl_writer_record(w, name, type, size, extra, err, errlen);
}

int appl_writer_finish(struct appl_writer *w, json_t *manifest, char *err, size_t errlen)
{
    json_object_set_new(manifest, "format", json_string("vessel-appliance"));
    json_object_set_new(manifest, "format_version", json_integer(APPL_FORMAT_VERSION));
    json_object_set(manifest, "parts", w->parts);
    char *text = json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(manifest);
    if (!text) return error_set(err, errlen, "out of memory");
    size_t mlen = strlen(text);
    uint8_t h[APPL_HEADER_SIZE] = {0};
    memcpy(h, APPL_MAGIC, 8);
    h[8] = APPL_FORMAT_VERSION;
    h[12] = APPL_HEADER_SIZE & 0xff;
    h[13] = APPL_HEADER_SIZE >> 8;
    appl_put64(h + 16, w->pos);
    appl_put64(h + 24, mlen);
    appl_sha256_buf(text, mlen, h + 32);
    int rc = appl_write_all(w->fd, text, mlen, w->pos);
    free(text);
    if (rc == 0) rc = appl_write_all(w->fd, h, sizeof(h), 0);
    if (rc == 0 && ftruncate(w->fd, (off_t)(w->pos + mlen)) < 0) rc = -errno;
    if (rc == 0 && fsync(w->fd) < 0) rc = -errno;
    if (rc == 0 && rename(w->tmp, w->path) < 0) rc = -errno;
    if (rc < 0) return error_set(err, errlen, "writing %s: %s", w->path, strerror(-rc));
    close(w->fd);
    w->fd = -1;
    free(w->tmp);
    w->tmp = NULL;
    appl_writer_abort(w);
    return 0;
}
