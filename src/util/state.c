/* state.c — the versioned state stream of state.h: a growable little-endian writer, a
 * bounds-checked reader that finds sections by name, atomic whole-file writes, and the engine
 * that drives save and load of a section from its one field table (decode into a temporary
 * copy, validate, commit). */
#include "vessel/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/log.h"

static const char state_magic[8] = {'V', 'S', 'L', 'S', 'T', 'A', 'T', 'E'};

static void put_raw(struct state_writer *w, const void *p, size_t n)
{
    if (w->error) return;
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
    size_t n = strlen(name), ns = w->suffix ? strlen(w->suffix) : 0;
    if (w->section_start || n == 0 || n + ns > 255) {
        w->error = true;
        return;
    }
    put_le(w, n + ns, 2);
    put_raw(w, name, n);
    if (ns) put_raw(w, w->suffix, ns);
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
    size_t pos = 12, want = strlen(name), ns = r->suffix ? strlen(r->suffix) : 0;
    while (pos + 2 <= r->len) {
        size_t n = get_le_at(r->data + pos, 2);
        if (n > r->len - pos - 2 || r->len - pos - 2 - n < 12) break;
        const uint8_t *nm = r->data + pos + 2;
        uint32_t ver = (uint32_t)get_le_at(nm + n, 4);
        uint64_t plen = get_le_at(nm + n + 4, 8);
        size_t payload = pos + 2 + n + 12;
        if (plen > r->len - payload) break;
        if (n == want + ns && memcmp(nm, name, want) == 0 &&
            (!ns || memcmp(nm + want, r->suffix, ns) == 0)) {
            r->pos = payload;
            r->end = payload + plen;
            if (version) *version = ver;
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

/* ---- declarative sections ---- */

/* Why the last state_load_fields refused its input. */
static _Thread_local char state_why[256];

static size_t field_stride(const struct state_field *f)
{
    return f->stride ? f->stride : f->csize;
}

static uint64_t member_read(const uint8_t *p, uint32_t csize)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (csize) {
    case 1: memcpy(&u8, p, 1); return u8;
    case 2: memcpy(&u16, p, 2); return u16;
    case 4: memcpy(&u32, p, 4); return u32;
    default: memcpy(&u64, p, 8); return u64;
    }
}

static void member_write(uint8_t *p, uint32_t csize, uint64_t v)
{
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;
    switch (csize) {
    case 1: memcpy(p, &u8, 1); break;
    case 2: memcpy(p, &u16, 2); break;
    case 4: memcpy(p, &u32, 4); break;
    default: memcpy(p, &v, 8); break;
    }
}

void state_save_fields(struct state_writer *w, const struct state_desc *desc, const void *obj,
                       void *ctx)
{
    const uint8_t *base = obj;
    for (size_t i = 0; i < desc->nfields; i++) {
        const struct state_field *f = &desc->fields[i];
        const uint8_t *m = base + f->offset;
        size_t st = field_stride(f);
        switch (f->kind) {
        case STATE_UINT:
            for (uint32_t k = 0; k < f->count; k++)
                put_le(w, member_read(m + k * st, f->csize), f->wsize);
            break;
        case STATE_BOOL:
            for (uint32_t k = 0; k < f->count; k++)
                put_le(w, *(const bool *)(const void *)(m + k * st) ? 1 : 0, 1);
            break;
        case STATE_BYTES:
            for (uint32_t k = 0; k < f->count; k++)
                put_raw(w, m + k * st, f->wsize);
            break;
        case STATE_STRUCT:
            for (uint32_t k = 0; k < f->count; k++)
                state_save_fields(w, f->sub, m + k * st, ctx);
            break;
        case STATE_FLAGS: {
            uint64_t v = 0;
            for (uint32_t k = 0; k < f->count; k++)
                if (*(const bool *)(const void *)(base + f->flag_offsets[k])) v |= 1ull << k;
            put_le(w, v, f->wsize);
            break;
        }
        case STATE_CUSTOM:
            if (f->put) f->put(w, obj, ctx);
            break;
        case STATE_SHADOW: break;
        }
    }
}

void state_save_section(struct state_writer *w, const char *name, uint32_t version,
                        const struct state_desc *desc, const void *obj, void *ctx)
{
    state_section_begin(w, name, version);
    state_save_fields(w, desc, obj, ctx);
    state_section_end(w);
}

/* Record why field f (element k of an array) is refused; returns the message. */
static const char *field_fail(const struct state_field *f, uint32_t k, const char *fmt, ...)
{
    char why[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (f->count > 1 && f->kind < STATE_FLAGS)
        snprintf(state_why, sizeof(state_why), "%s[%u]%s%s", f->name, k, why[0] == '.' ? "" : ": ",
                 why);
    else
        snprintf(state_why, sizeof(state_why), "%s%s%s", f->name, why[0] == '.' ? "" : ": ", why);
    return state_why;
}

static const char *load_field(struct state_reader *r, const struct state_field *f, uint8_t *tmp,
                              const uint8_t *live, void *ctx)
{
    uint8_t *m = tmp + f->offset;
    size_t st = field_stride(f);
    uint32_t n = f->kind < STATE_FLAGS ? f->count : 1; /* FLAGS: count is bits */
    for (uint32_t k = 0; k < n; k++) {
        uint64_t v = 0;
        switch (f->kind) {
        case STATE_UINT:
            v = get_le(r, f->wsize);
            if (r->error) break;
            v = (v & f->mask) | f->set;
            if (v < f->min || v > f->max)
                return field_fail(f, k, "%#llx is outside %#llx..%#llx", (unsigned long long)v,
                                  (unsigned long long)f->min, (unsigned long long)f->max);
            if (f->csize < 8 && (v >> (8 * f->csize)))
                return field_fail(f, k, "%#llx does not fit in %u bytes", (unsigned long long)v,
                                  f->csize);
            member_write(m + k * st, f->csize, v);
            break;
        case STATE_BOOL: *(bool *)(void *)(m + k * st) = get_le(r, 1) != 0; break;
        case STATE_BYTES: {
            const uint8_t *p = take(r, f->wsize);
            if (!p) break;
            memcpy(m + k * st, p, f->wsize);
            memset(m + k * st + f->wsize, 0, f->csize - f->wsize);
            break;
        }
        case STATE_STRUCT: {
            const char *why =
                state_load_fields(r, f->sub, m + k * st, live + f->offset + k * st, ctx);
            if (why) {
                char inner[192];
                snprintf(inner, sizeof(inner), ".%s", why);
                return field_fail(f, k, "%s", inner);
            }
            break;
        }
        case STATE_FLAGS:
            v = get_le(r, f->wsize);
            if (r->error) break;
            if (v >> f->count) return field_fail(f, k, "unknown bits %#llx", (unsigned long long)v);
            for (uint32_t b = 0; b < f->count; b++)
                *(bool *)(void *)(tmp + f->flag_offsets[b]) = (v >> b) & 1;
            break;
        case STATE_CUSTOM:
            if (f->get) {
                const char *why = f->get(r, tmp, live, ctx);
                if (why && !r->error) {
                    char inner[192];
                    snprintf(inner, sizeof(inner), "%s", why);
                    return field_fail(f, 0, "%s", inner);
                }
            }
            break;
        case STATE_SHADOW: break;
        }
        if (r->error) return field_fail(f, k, "the section ends early");
    }
    return NULL;
}

const char *state_load_fields(struct state_reader *r, const struct state_desc *desc, void *tmp,
                              const void *live, void *ctx)
{
    for (size_t i = 0; i < desc->nfields; i++) {
        const char *why = load_field(r, &desc->fields[i], tmp, live, ctx);
        if (why) return why;
    }
    if (desc->check) {
        const char *why = desc->check(tmp, live, ctx);
        if (why) {
            if (why != state_why) snprintf(state_why, sizeof(state_why), "%s", why);
            return state_why;
        }
    }
    return NULL;
}

void state_commit_fields(const struct state_desc *desc, void *live, const void *tmp, void *ctx)
{
    uint8_t *lb = live;
    const uint8_t *tb = tmp;
    for (size_t i = 0; i < desc->nfields; i++) {
        const struct state_field *f = &desc->fields[i];
        size_t st = field_stride(f);
        if (f->commit) {
            f->commit(live, tmp, ctx);
            continue;
        }
        switch (f->kind) {
        case STATE_UINT:
        case STATE_BOOL:
        case STATE_BYTES:
        case STATE_SHADOW:
            for (uint32_t k = 0; k < f->count; k++)
                memcpy(lb + f->offset + k * st, tb + f->offset + k * st, f->csize);
            break;
        case STATE_STRUCT:
            for (uint32_t k = 0; k < f->count; k++)
                state_commit_fields(f->sub, lb + f->offset + k * st, tb + f->offset + k * st, ctx);
            break;
        case STATE_FLAGS:
            for (uint32_t b = 0; b < f->count; b++)
                memcpy(lb + f->flag_offsets[b], tb + f->flag_offsets[b], sizeof(bool));
            break;
        case STATE_CUSTOM: break;
        }
    }
}

int state_load_section(struct state_reader *r, const char *name, uint32_t version,
                       const struct state_desc *desc, void *obj, void *ctx)
{
    uint32_t have;
    if (!state_section_find(r, name, &have)) {
        log_error("state: section \"%s\" is missing", name);
        return -1;
    }
    if (have != version) {
        log_error("state: section \"%s\" has version %u; this build reads version %u", name, have,
                  version);
        return -1;
    }
    r->error = false; /* the cursor is on a fresh section */
    void *tmp = malloc(desc->size);
    if (!tmp) {
        log_error("state: section \"%s\": out of memory", name);
        return -1;
    }
    memcpy(tmp, obj, desc->size);
    const char *why = state_load_fields(r, desc, tmp, obj, ctx);
    if (!why && r->pos != r->end) {
        snprintf(state_why, sizeof(state_why), "%zu bytes after the last field", r->end - r->pos);
        why = state_why;
    }
    if (why) {
        log_error("state: section \"%s\": %s", name, why);
        free(tmp);
        r->error = true;
        return -1;
    }
    if (!r->check_only) state_commit_fields(desc, obj, tmp, ctx);
    free(tmp);
    return 0;
}

void state_skip(struct state_reader *r, size_t n)
{
    take(r, n);
}

int state_write_file(const struct state_writer *w, const char *path)
{
    if (w->error || w->section_start) return -EINVAL;
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    size_t done = 0;
    while (done < w->len) {
        ssize_t k = write(fd, w->data + done, w->len - done);
        if (k < 0 && errno == EINTR) continue;
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
    if (fd < 0) return -errno;
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
        if (k < 0 && errno == EINTR) continue;
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
