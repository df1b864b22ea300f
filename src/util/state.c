/* state.c — the versioned state stream of state.h: a growable little-endian writer, a
 * bounds-checked reader that finds sections by name, and atomic whole-file writes. */
#include "vessel/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char state_magic[8] = {'V', 'S', 'L', 'S', 'T', 'A', 'T', 'E'};

static void put_raw(struct state_writer *w, const void *p, size_t n)
{
    if (w->error)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *d = realloc(w->data, cap);
        if (!d) {
            w->error = true;
            return;
        }
        w->data = d;
        w->cap = cap;
    }
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static void put_le(struct state_writer *w, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned k = 0; k < n; k++)
        b[k] = (uint8_t)(v >> (8 * k));
    put_raw(w, b, n);
}

void state_writer_init(struct state_writer *w)
{
    memset(w, 0, sizeof(*w));
    put_raw(w, state_magic, sizeof(state_magic));
    put_le(w, STATE_FORMAT_VERSION, 4);
}

void state_writer_free(struct state_writer *w)
{
    free(w->data);
    memset(w, 0, sizeof(*w));
}

void state_section_begin(struct state_writer *w, const char *name, uint32_t version)
{
    size_t n = strlen(name);
    if (w->section_start || n == 0 || n > 255) {
        w->error = true;
        return;
    }
    put_le(w, n, 2);
    put_raw(w, name, n);
    put_le(w, version, 4);
    w->section_start = w->len;
    put_le(w, 0, 8);
}

void state_section_end(struct state_writer *w)
{
    if (!w->section_start) {
        w->error = true;
        return;
    }
    if (!w->error) {
        uint64_t plen = w->len - w->section_start - 8;
        for (unsigned k = 0; k < 8; k++)
            w->data[w->section_start + k] = (uint8_t)(plen >> (8 * k));
    }
    w->section_start = 0;
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
    put_le(w, v, 1);
}
void state_put_u16(struct state_writer *w, uint16_t v)
{
    put_le(w, v, 2);
}
void state_put_u32(struct state_writer *w, uint32_t v)
{
    put_le(w, v, 4);
}
void state_put_u64(struct state_writer *w, uint64_t v)
{
    put_le(w, v, 8);
}
void state_put_bytes(struct state_writer *w, const void *p, size_t n)
{
    put_raw(w, p, n);
}

static uint64_t get_le_at(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

bool state_reader_init(struct state_reader *r, const void *data, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->data = data;
    r->len = len;
    if (len < 12 || memcmp(data, state_magic, 8) != 0 ||
        get_le_at(r->data + 8, 4) != STATE_FORMAT_VERSION) {
        r->error = true;
        return false;
    }
    return true;
}

bool state_section_find(struct state_reader *r, const char *name, uint32_t *version)
{
    size_t pos = 12, want = strlen(name);
    while (pos + 2 <= r->len) {
        size_t n = get_le_at(r->data + pos, 2);
        if (n > r->len - pos - 2 || r->len - pos - 2 - n < 12)
            break;
        const uint8_t *nm = r->data + pos + 2;
        uint32_t ver = (uint32_t)get_le_at(nm + n, 4);
        uint64_t plen = get_le_at(nm + n + 4, 8);
        size_t payload = pos + 2 + n + 12;
        if (plen > r->len - payload)
            break;
        if (n == want && memcmp(nm, name, n) == 0) {
            r->pos = payload;
            r->end = payload + plen;
            if (version)
                *version = ver;
            return true;
        }
        pos = payload + plen;
    }
    return false;
}

static const uint8_t *take(struct state_reader *r, size_t n)
{
    if (r->error || n > r->end - r->pos) {
        r->error = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_le(struct state_reader *r, unsigned n)
{
    const uint8_t *p = take(r, n);
    return p ? get_le_at(p, n) : 0;
}

uint8_t state_get_u8(struct state_reader *r)
{
    return (uint8_t)get_le(r, 1);
}
uint16_t state_get_u16(struct state_reader *r)
{
    return (uint16_t)get_le(r, 2);
}
uint32_t state_get_u32(struct state_reader *r)
{
    return (uint32_t)get_le(r, 4);
}
uint64_t state_get_u64(struct state_reader *r)
{
    return get_le(r, 8);
}
void state_get_bytes(struct state_reader *r, void *p, size_t n)
{
    const uint8_t *s = take(r, n);
    if (s)
        memcpy(p, s, n);
    else
        memset(p, 0, n);
}

int state_write_file(const struct state_writer *w, const char *path)
{
    if (w->error || w->section_start)
        return -EINVAL;
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < w->len) {
        ssize_t k = write(fd, w->data + done, w->len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            close(fd);
            unlink(tmp);
            return -e;
        }
        done += (size_t)k;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

int state_read_file(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + done, (size_t)st.st_size - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return -e;
        }
        done += (size_t)k;
    }
    close(fd);
    *data = buf;
    *len = done;
    return 0;
}
