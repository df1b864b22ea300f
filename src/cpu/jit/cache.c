/* cache.c — the translator's code cache: a memfd mapped once writable and once executable
 * (see cache.h). The executable view is placed near vessel's own text when the kernel allows,
 * so translated code reaches the engine's C helpers with a plain rel32 call. */
#include "cache.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define JIT_ALIGN 16

static size_t jit_page_round(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (n + pg - 1) & ~(pg - 1);
}

/* Ask for the executable view a little below our own code: every call from translated code
 * into the engine is then within rel32 range. The kernel treats the address as a hint. */
static void *jit_cache_map_rx(int fd, size_t size)
{
    uintptr_t text = (uintptr_t)&jit_cache_map_rx;
    uintptr_t gap = (uintptr_t)256 << 20;
    void *hint = NULL;
    if (text > size + gap + ((uintptr_t)1 << 30))
        hint = (void *)((text - size - gap) & ~(((uintptr_t)2 << 20) - 1));
    return mmap(hint, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
}

struct jit_cache *jit_cache_new(size_t size)
{
    if (!size) size = JIT_CACHE_DEFAULT;
    if (size < JIT_CACHE_MIN) size = JIT_CACHE_MIN;
    if (size > JIT_CACHE_MAX) size = JIT_CACHE_MAX;
    size = jit_page_round(size);
    struct jit_cache *jc = calloc(1, sizeof(*jc));
    if (!jc) return NULL;
    jc->fd = memfd_create("vessel-jit", MFD_CLOEXEC);
    if (jc->fd < 0) goto fail;
    if (ftruncate(jc->fd, (off_t)size) != 0) goto fail;
    void *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, jc->fd, 0);
    if (rw == MAP_FAILED) goto fail;
    jc->rw = rw;
    void *rx = jit_cache_map_rx(jc->fd, size);
    if (rx == MAP_FAILED) goto fail;
    jc->rx = rx;
    jc->size = size;
    const char *pm = getenv("VESSEL_PERF_MAP");
    if (pm && strcmp(pm, "1") == 0) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
        jc->perf_map = fopen(path, "a");
    }
    return jc;
fail:
    jit_cache_free(jc);
    return NULL;
}

void jit_cache_free(struct jit_cache *jc)
{
    if (!jc) return;
    if (jc->rw) munmap(jc->rw, jc->size);
    if (jc->rx) munmap(jc->rx, jc->size);
    if (jc->fd > 0) close(jc->fd);
    if (jc->perf_map) fclose(jc->perf_map);
    free(jc);
}

uintptr_t jit_cache_begin(struct jit_cache *jc, uint8_t **rw, size_t *avail)
{
    size_t at = (jc->used + JIT_ALIGN - 1) & ~(size_t)(JIT_ALIGN - 1);
    if (at > jc->size) at = jc->size;
    *rw = jc->rw + at;
    *avail = jc->size - at;
    return (uintptr_t)jc->rx + at;
}

uintptr_t jit_cache_commit(struct jit_cache *jc, size_t len, const char *name)
{
    size_t at = (jc->used + JIT_ALIGN - 1) & ~(size_t)(JIT_ALIGN - 1);
    uintptr_t rx = (uintptr_t)jc->rx + at;
    jc->used = at + len;
    if (jc->perf_map && len) {
        fprintf(jc->perf_map, "%lx %zx %s\n", (unsigned long)rx, len, name ? name : "jit");
        fflush(jc->perf_map);
    }
    return rx;
}

void jit_cache_set_floor(struct jit_cache *jc)
{
    jc->floor = jc->used;
}

void jit_cache_flush(struct jit_cache *jc)
{
    jc->used = jc->floor;
    jc->generation++;
    jc->flushes++;
}

size_t jit_cache_parse_size(const char *s)
{
    if (!s || !isdigit((unsigned char)*s)) return 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    unsigned shift = 0;
    switch (tolower((unsigned char)*end)) {
    case 'k':
        shift = 10;
        end++;
        break;
    case 'm':
        shift = 20;
        end++;
        break;
    case 'g':
        shift = 30;
        end++;
        break;
    default: break;
    }
    if (*end == 'i' || *end == 'I') end++;
    if (*end == 'b' || *end == 'B') end++;
    if (*end || v == 0 || v > (1ull << (40 - shift))) return 0;
    return (size_t)(v << shift);
}
