/* ksyms.c — kallsyms' tables found in a vmlinux image (ksyms.h). scripts/kallsyms lays them
 * out in read-only data, each label 8-byte aligned, in this order (6.1, and Debian's 6.1 which
 * also has the sequence table of later kernels):
 *   kallsyms_offsets (s32 each), kallsyms_relative_base (u64), kallsyms_num_syms (u32),
 *   kallsyms_names (per symbol: a length, 1 byte or 2 for "big" names, then token bytes),
 *   kallsyms_markers (u32 offset of every 256th name), [kallsyms_seqs_of_names (3 bytes each)],
 *   kallsyms_token_table (256 NUL-terminated strings), kallsyms_token_index (256 u16).
 * The token table is found by its digits (single-character tokens "0".."9" stay in order), and
 * confirmed by the index that follows it; num_syms is found by walking back to a relative base
 * followed by a count whose names decode exactly to where markers that agree with them begin.
 * With absolute per-cpu symbols (x86-64 SMP), a non-negative offset is an absolute address and
 * a negative one is relative_base - 1 - offset. */
#include "introspect/ksyms.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KSYMS_MAX_SYMS   (4u << 20)
#define KSYMS_BACK_LIMIT (64u << 20) /* how far before the token table the count may be */
#define KSYMS_TOKEN_MAX  64

struct ksyms {
    const uint8_t *img;
    size_t len;
    size_t offsets, names, names_end, token_table;
    uint16_t token_index[256];
    uint64_t relative_base;
    uint32_t num;
    bool abs_percpu;
};

static void ksyms_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ksyms_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

static uint32_t ksyms_rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t ksyms_rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Given the "0" token at d, the token table's start and its 256 token offsets, or false. */
static bool ksyms_try_tokens(struct ksyms *k, size_t d)
{
    size_t p = d;
    for (int i = 0; i < '0'; i++) { /* tokens 0x00..0x2f lie before "0" */
        if (p < 2 || k->img[p - 1] != 0) return false;
        size_t q = p - 1;
        size_t stop = q > KSYMS_TOKEN_MAX ? q - KSYMS_TOKEN_MAX : 0;
        while (q > stop && k->img[q - 1] != 0)
            q--;
        if (q == p - 1 || (q > 0 && k->img[q - 1] != 0)) return false; /* empty or too long */
        p = q;
    }
    size_t q = p;
    uint16_t offs[256];
    for (int i = 0; i < 256; i++) {
        if (q - p > 0xffff) return false;
        offs[i] = (uint16_t)(q - p);
        const uint8_t *e = memchr(
            k->img + q, 0, k->len - q < KSYMS_TOKEN_MAX + 1 ? k->len - q : KSYMS_TOKEN_MAX + 1);
        if (!e || e == k->img + q) return false;
        q = (size_t)(e - k->img) + 1;
    }
    size_t ti = (q + 7) & ~(size_t)7;
    if (ti > k->len || k->len - ti < sizeof(offs)) return false;
    if (memcmp(k->img + ti, offs, sizeof(offs))) return false; /* little-endian host and guest */
    k->token_table = p;
    memcpy(k->token_index, offs, sizeof(offs));
    return true;
}

/* Length of the name entry at pos (header bytes in *hdr), or -1 past end. */
static long ksyms_entry(const struct ksyms *k, size_t pos, size_t end, unsigned *hdr)
{
    if (pos >= end) return -1;
    unsigned l = k->img[pos];
    *hdr = 1;
    if (l & 0x80) {
        if (pos + 1 >= end) return -1;
        l = (l & 0x7f) | ((unsigned)k->img[pos + 1] << 7);
        *hdr = 2;
    }
    if (l == 0 || end - pos - *hdr < l) return -1;
    return (long)l;
}

/* Does a count of n at k (relative base at k-8... k is the num_syms slot) hold together? */
static bool ksyms_try_count(struct ksyms *k, size_t rb_pos, uint32_t n)
{
    size_t names = rb_pos + 16, pos = names, end = k->token_table;
    uint32_t nmark = (n + 255) / 256;
    uint32_t *marks = malloc(sizeof(uint32_t) * nmark);
    if (!marks) return false;
    for (uint32_t i = 0; i < n; i++) {
        unsigned hdr;
        long l = ksyms_entry(k, pos, end, &hdr);
        if (l < 0) {
            free(marks);
            return false;
        }
        if (!(i & 255)) marks[i >> 8] = (uint32_t)(pos - names);
        pos += hdr + (size_t)l;
    }
    size_t m = (pos + 7) & ~(size_t)7;
    bool ok = m <= end && (end - m) / 4 >= nmark;
    for (uint32_t j = 0; ok && j < nmark; j++)
        ok = ksyms_rd32(k->img + m + 4 * j) == marks[j];
    free(marks);
    if (!ok) return false;
    k->names = names;
    k->names_end = pos;
    k->num = n;
    k->relative_base = ksyms_rd64(k->img + rb_pos);
    k->offsets = rb_pos - (((size_t)n * 4 + 7) & ~(size_t)7);
    return true;
}

static bool ksyms_find_count(struct ksyms *k)
{
    size_t lim = k->token_table > KSYMS_BACK_LIMIT ? k->token_table - KSYMS_BACK_LIMIT : 0;
    for (size_t p = (k->token_table & ~(size_t)7); p >= lim + 8; p -= 8) {
        size_t rb = p - 8;
        if (rb + 16 > k->len) continue;
        uint64_t base = ksyms_rd64(k->img + rb);
        uint32_t n = ksyms_rd32(k->img + rb + 8);
        if (base < 0xffffffff80000000ull || (base & 0xfff) || n < 256 || n > KSYMS_MAX_SYMS ||
            ksyms_rd32(k->img + rb + 12) != 0)
            continue;
        if (((size_t)n * 4 + 7) / 8 * 8 > rb) continue;
        if (ksyms_try_count(k, rb, n)) return true;
    }
    return false;
}

struct ksyms *ksyms_find(const uint8_t *img, size_t len, char *why, size_t whylen)
{
    struct ksyms *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->img = img;
    k->len = len;
    static const char digits[] = "0\0001\0002\0003\0004\0005\0006\0007\0008\0009";
    const uint8_t *s = img, *end = img + len;
    bool found = false;
    while (s < end && !found) {
        const uint8_t *d = memmem(s, (size_t)(end - s), digits, sizeof(digits));
        if (!d) break;
        found = ksyms_try_tokens(k, (size_t)(d - img));
        s = d + 1;
    }
    if (!found) {
        ksyms_why(why, whylen, "kallsyms: no token table in the image");
        free(k);
        return NULL;
    }
    if (!ksyms_find_count(k)) {
        ksyms_why(why, whylen, "kallsyms: no symbol count and names before the token table");
        free(k);
        return NULL;
    }
    /* Absolute per-cpu offsets: kernel text is below the relative base's sign, so most
     * offsets are negative. */
    uint32_t neg = 0, sample = k->num < 4096 ? k->num : 4096;
    for (uint32_t i = 0; i < sample; i++)
        neg += (int32_t)ksyms_rd32(img + k->offsets + 4 * (size_t)i) < 0;
    k->abs_percpu = neg > sample / 2;
    return k;
}

void ksyms_free(struct ksyms *k)
{
    free(k);
}

uint32_t ksyms_count(const struct ksyms *k)
{
    return k ? k->num : 0;
}

/* Expand entry i's tokens into buf (NUL-terminated); false if it does not fit. */
static bool ksyms_expand(const struct ksyms *k, size_t pos, size_t l, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t j = 0; j < l; j++) {
        const char *t = (const char *)k->img + k->token_table + k->token_index[k->img[pos + j]];
        size_t tl = strnlen(t, KSYMS_TOKEN_MAX + 1);
        if (o + tl >= cap) return false;
        memcpy(buf + o, t, tl);
        o += tl;
    }
    buf[o] = 0;
    return true;
}

/* Symbol i's address, as the kernel's kallsyms_sym_address computes it. */
static uint64_t ksyms_addr(const struct ksyms *k, uint32_t i)
{
    int32_t off = (int32_t)ksyms_rd32(k->img + k->offsets + 4 * (size_t)i);
    if (!k->abs_percpu) return k->relative_base + (uint32_t)off;
    return off >= 0 ? (uint64_t)off : k->relative_base - 1 - (uint64_t)(int64_t)off;
}

uint64_t ksyms_next_above(const struct ksyms *k, uint64_t addr)
{
    uint64_t best = UINT64_MAX;
    for (uint32_t i = 0; k && i < k->num; i++) {
        uint64_t a = ksyms_addr(k, i);
        if (a > addr && a < best) best = a;
    }
    return best;
}

int ksyms_lookup(const struct ksyms *k, const char *name, uint64_t *addrs, char *types, int max)
{
    if (!k || !name) return 0;
    size_t want = strlen(name);
    char buf[1024];
    int found = 0;
    size_t pos = k->names;
    for (uint32_t i = 0; i < k->num && found < max; i++) {
        unsigned hdr;
        long l = ksyms_entry(k, pos, k->names_end, &hdr);
        if (l < 0) break;
        size_t at = pos + hdr;
        pos = at + (size_t)l;
        if (!ksyms_expand(k, at, (size_t)l, buf, sizeof(buf))) continue;
        if (strlen(buf + 1) != want || memcmp(buf + 1, name, want)) continue;
        addrs[found] = ksyms_addr(k, i);
        if (types) types[found] = buf[0];
        found++;
    }
    return found;
}
