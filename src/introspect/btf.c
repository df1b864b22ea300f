/* btf.c — the BPF Type Format reader (btf.h). The format: a header, a type section of
 * variable-length records (a 12-byte struct btf_type then kind-specific data whose size
 * depends on the kind and its vlen), and a string section. Type ids number the records from 1.
 * Parsing checks the header, then walks the type section once, recording where each record
 * starts; a record that runs past the section, an unknown kind, or a name outside the string
 * section rejects the whole blob. Lookups afterwards check ids against the count and bound
 * every chain they follow (typedef loops, anonymous-member nesting). */
#include "introspect/btf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BTF_MAGIC     0xeB9F
#define BTF_MAX_TYPES (1u << 22)
#define BTF_MAX_DEPTH 32 /* typedef/qualifier chains and anonymous nesting */

enum {
    BTF_KIND_INT = 1,
    BTF_KIND_PTR,
    BTF_KIND_ARRAY,
    BTF_KIND_STRUCT,
    BTF_KIND_UNION,
    BTF_KIND_ENUM,
    BTF_KIND_FWD,
    BTF_KIND_TYPEDEF,
    BTF_KIND_VOLATILE,
    BTF_KIND_CONST,
    BTF_KIND_RESTRICT,
    BTF_KIND_FUNC,
    BTF_KIND_FUNC_PROTO,
    BTF_KIND_VAR,
    BTF_KIND_DATASEC,
    BTF_KIND_FLOAT,
    BTF_KIND_DECL_TAG,
    BTF_KIND_TYPE_TAG,
    BTF_KIND_ENUM64,
};

struct btf {
    const uint8_t *types; /* type section */
    uint32_t types_len;
    const char *strs; /* string section (ends with NUL, checked) */
    uint32_t strs_len;
    uint32_t *off;  /* off[id] = offset of type id's record; off[0] unused */
    uint32_t count; /* ids 1..count */
};

static uint32_t btf_rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void btf_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void btf_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Size of the kind-specific data after the 12-byte header, or -1 for an unknown kind. */
static int64_t btf_extra(unsigned kind, uint32_t vlen)
{
    switch (kind) {
    case BTF_KIND_INT:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG: return 4;
    case BTF_KIND_PTR:
    case BTF_KIND_FWD:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPE_TAG: return 0;
    case BTF_KIND_ARRAY: return 12;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_DATASEC:
    case BTF_KIND_ENUM64: return 12 * (int64_t)vlen;
    case BTF_KIND_ENUM:
    case BTF_KIND_FUNC_PROTO: return 8 * (int64_t)vlen;
    default: return -1;
    }
}

struct btf *btf_parse(const uint8_t *data, size_t len, char *why, size_t whylen)
{
    if (!data || len < 24) {
        btf_why(why, whylen, "BTF: %zu bytes is shorter than its header", len);
        return NULL;
    }
    uint16_t magic;
    memcpy(&magic, data, 2);
    if (magic != BTF_MAGIC) {
        btf_why(why, whylen, "BTF: bad magic %#x", magic);
        return NULL;
    }
    if (data[2] != 1) {
        btf_why(why, whylen, "BTF: version %u is not 1", data[2]);
        return NULL;
    }
    uint32_t hdr_len = btf_rd32(data + 4), type_off = btf_rd32(data + 8);
    uint32_t type_len = btf_rd32(data + 12), str_off = btf_rd32(data + 16);
    uint32_t str_len = btf_rd32(data + 20);
    if (hdr_len < 24 || hdr_len > len) {
        btf_why(why, whylen, "BTF: header length %u outside the blob", hdr_len);
        return NULL;
    }
    uint64_t body = len - hdr_len;
    if ((uint64_t)type_off + type_len > body || (uint64_t)str_off + str_len > body) {
        btf_why(why, whylen, "BTF: type or string section outside the blob");
        return NULL;
    }
    if (type_off & 3) {
        btf_why(why, whylen, "BTF: unaligned type section");
        return NULL;
    }
    if (str_len == 0 || data[hdr_len + str_off + str_len - 1] != 0) {
        btf_why(why, whylen, "BTF: string section empty or not NUL-terminated");
        return NULL;
    }
    struct btf *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->types = data + hdr_len + type_off;
    b->types_len = type_len;
    b->strs = (const char *)data + hdr_len + str_off;
    b->strs_len = str_len;
    /* First pass counts records (each is at least 12 bytes), second records offsets. */
    uint32_t cap = type_len / 12 + 1;
    if (cap > BTF_MAX_TYPES) {
        btf_why(why, whylen, "BTF: more than %u types", BTF_MAX_TYPES);
        free(b);
        return NULL;
    }
    b->off = malloc(sizeof(uint32_t) * ((size_t)cap + 1));
    if (!b->off) {
        btf_why(why, whylen, "BTF: out of memory");
        free(b);
        return NULL;
    }
    uint64_t pos = 0;
    uint32_t n = 0;
    while (pos < type_len) {
        if (type_len - pos < 12) {
            btf_why(why, whylen, "BTF: truncated type record at %llu", (unsigned long long)pos);
            goto bad;
        }
        const uint8_t *t = b->types + pos;
        uint32_t name_off = btf_rd32(t), info = btf_rd32(t + 4);
        unsigned kind = (info >> 24) & 0x1f;
        int64_t extra = btf_extra(kind, info & 0xffff);
        if (extra < 0) {
            btf_why(why, whylen, "BTF: type %u has unknown kind %u", n + 1, kind);
            goto bad;
        }
        if (name_off >= str_len) {
            btf_why(why, whylen, "BTF: type %u's name is outside the string section", n + 1);
            goto bad;
        }
        if ((uint64_t)extra > type_len - pos - 12) {
            btf_why(why, whylen, "BTF: type %u runs past the type section", n + 1);
            goto bad;
        }
        b->off[++n] = (uint32_t)pos;
        pos += 12 + (uint64_t)extra;
    }
    b->count = n;
    return b;
bad:
    btf_free(b);
    return NULL;
}

void btf_free(struct btf *b)
{
    if (!b) return;
    free(b->off);
    free(b);
}

uint32_t btf_type_count(const struct btf *b)
{
    return b ? b->count : 0;
}

static const uint8_t *btf_type(const struct btf *b, uint32_t id)
{
    if (!id || id > b->count) return NULL;
    return b->types + b->off[id];
}

static unsigned btf_kind(const uint8_t *t)
{
    return (btf_rd32(t + 4) >> 24) & 0x1f;
}

static uint32_t btf_vlen(const uint8_t *t)
{
    return btf_rd32(t + 4) & 0xffff;
}

/* Names were checked at parse time; a string with no NUL before the end cannot happen
 * because the section ends with one. */
static const char *btf_str(const struct btf *b, uint32_t off)
{
    return off < b->strs_len ? b->strs + off : "";
}

uint32_t btf_find_struct(const struct btf *b, const char *name)
{
    if (!b || !name || !*name) return 0;
    for (uint32_t id = 1; id <= b->count; id++) {
        const uint8_t *t = btf_type(b, id);
        unsigned k = btf_kind(t);
        if ((k == BTF_KIND_STRUCT || k == BTF_KIND_UNION) && !strcmp(btf_str(b, btf_rd32(t)), name))
            return id;
    }
    return 0;
}

/* Skip typedefs and qualifiers; 0 on a broken or too-long chain. */
static uint32_t btf_skip_mods(const struct btf *b, uint32_t id)
{
    for (int i = 0; i < BTF_MAX_DEPTH; i++) {
        const uint8_t *t = btf_type(b, id);
        if (!t) return 0;
        switch (btf_kind(t)) {
        case BTF_KIND_TYPEDEF:
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_TYPE_TAG: id = btf_rd32(t + 8); break;
        default: return id;
        }
    }
    return 0;
}

int btf_is_ptr(const struct btf *b, uint32_t id)
{
    if (!b) return 0;
    const uint8_t *t = btf_type(b, btf_skip_mods(b, id));
    return t && btf_kind(t) == BTF_KIND_PTR;
}

uint32_t btf_resolve(const struct btf *b, uint32_t id)
{
    if (!b) return 0;
    id = btf_skip_mods(b, id);
    const uint8_t *t = btf_type(b, id);
    if (t && btf_kind(t) == BTF_KIND_PTR) return btf_skip_mods(b, btf_rd32(t + 8));
    return id;
}

static uint64_t btf_size_at(const struct btf *b, uint32_t id, int depth)
{
    if (depth > BTF_MAX_DEPTH) return 0;
    const uint8_t *t = btf_type(b, btf_skip_mods(b, id));
    if (!t) return 0;
    switch (btf_kind(t)) {
    case BTF_KIND_INT:
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
    case BTF_KIND_FLOAT:
    case BTF_KIND_DATASEC: return btf_rd32(t + 8);
    case BTF_KIND_PTR: return 8;
    case BTF_KIND_ARRAY: {
        uint32_t elem = btf_rd32(t + 12), nelems = btf_rd32(t + 20);
        uint64_t es = btf_size_at(b, elem, depth + 1);
        if (es && nelems > UINT64_MAX / es) return 0;
        return es * nelems;
    }
    default: return 0;
    }
}

uint64_t btf_type_size(const struct btf *b, uint32_t id)
{
    return b ? btf_size_at(b, id, 0) : 0;
}

/* Hostile BTF can nest anonymous members many ways at once: the budget bounds the total
 * number of members looked at, not just the depth. */
static int btf_member_at(const struct btf *b, uint32_t sid, const char *name, uint64_t base,
                         uint64_t *off, uint32_t *type_id, int depth, uint32_t *budget)
{
    if (depth > BTF_MAX_DEPTH) return -1;
    const uint8_t *t = btf_type(b, btf_skip_mods(b, sid));
    if (!t) return -1;
    unsigned k = btf_kind(t);
    if (k != BTF_KIND_STRUCT && k != BTF_KIND_UNION) return -1;
    bool kflag = btf_rd32(t + 4) >> 31;
    const uint8_t *m = t + 12;
    for (uint32_t i = 0; i < btf_vlen(t); i++, m += 12) {
        if (!*budget) return -1;
        --*budget;
        uint32_t mname = btf_rd32(m), mtype = btf_rd32(m + 4), moff = btf_rd32(m + 8);
        uint32_t bit_off = kflag ? moff & 0xffffff : moff;
        uint32_t bit_size = kflag ? moff >> 24 : 0;
        const char *s = btf_str(b, mname);
        if (*s) {
            if (strcmp(s, name)) continue;
            if (bit_size || (bit_off & 7)) return -1; /* a bitfield: not a byte address */
            *off = base + bit_off / 8;
            *type_id = mtype;
            return 0;
        }
        /* An anonymous struct or union: its members belong to this one. */
        if (!(bit_off & 7) &&
            btf_member_at(b, mtype, name, base + bit_off / 8, off, type_id, depth + 1, budget) == 0)
            return 0;
    }
    return -1;
}

int btf_member(const struct btf *b, uint32_t sid, const char *name, uint64_t *off,
               uint32_t *type_id)
{
    if (!b || !name || !*name) return -1;
    uint64_t o = 0;
    uint32_t ti = 0, budget = 1u << 16;
    if (btf_member_at(b, sid, name, 0, &o, &ti, 0, &budget) < 0) return -1;
    if (off) *off = o;
    if (type_id) *type_id = ti;
    return 0;
}
