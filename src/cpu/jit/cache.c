/* cache.c — the translator's code cache: shared pages mapped once writable and once executable
 * (see cache.h). The executable view is placed near vessel's own text when the kernel allows,
 * so translated code reaches the engine's C helpers with a plain rel32 call. */
#include "cache.h"

#include <ctype.h>
#include <fcntl.h>
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

/* Where to put the executable view: near our own code, so every call from translated code
 * into the engine is a plain rel32 (below a high PIE text, above a low fixed-address one). */
static uintptr_t jit_cache_hint(size_t size)
{
    uintptr_t text = (uintptr_t)&jit_cache_hint, gap = (uintptr_t)512 << 20;
    uintptr_t align = ((uintptr_t)2 << 20) - 1;
    if (text > size + gap + ((uintptr_t)1 << 30)) return (text - size - gap) & ~align;
    return (text + gap + align) & ~align;
}

/* A second mapping of the shared pages at rw, executable and not writable, at the hint if the
 * range is free. */
static void *jit_cache_alias(void *rw, size_t size)
{
    void *hint = (void *)jit_cache_hint(size), *rx = MAP_FAILED;
    void *p = mmap(hint, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == hint) {
        rx = mremap(rw, 0, size, MREMAP_MAYMOVE | MREMAP_FIXED, hint);
        if (rx == MAP_FAILED) munmap(p, size);
    } else if (p != MAP_FAILED) {
        munmap(p, size);
    }
    if (rx == MAP_FAILED) rx = mremap(rw, 0, size, MREMAP_MAYMOVE);
    if (rx != MAP_FAILED && mprotect(rx, size, PROT_READ | PROT_EXEC) != 0) {
        munmap(rx, size);
        rx = MAP_FAILED;
    }
    return rx;
}

/* Two views of one set of pages. Shared anonymous memory duplicated with mremap shows in
 * /proc/PID/maps as /dev/zero, which perf treats as anonymous (so it reads the perf map);
 * a memfd is the fallback. */
static bool jit_cache_map(struct jit_cache *jc, size_t size)
{
    void *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rw != MAP_FAILED) {
        void *rx = jit_cache_alias(rw, size);
        if (rx != MAP_FAILED) {
            jc->rw = rw;
            jc->rx = rx;
            return true;
        }
        munmap(rw, size);
    }
    jc->fd = memfd_create("vessel-jit", MFD_CLOEXEC);
    if (jc->fd < 0 || ftruncate(jc->fd, (off_t)size) != 0) return false;
    rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, jc->fd, 0);
    if (rw == MAP_FAILED) return false;
    jc->rw = rw;
    void *rx =
        mmap((void *)jit_cache_hint(size), size, PROT_READ | PROT_EXEC, MAP_SHARED, jc->fd, 0);
    if (rx == MAP_FAILED) return false;
    jc->rx = rx;
    return true;
}

struct jit_cache *jit_cache_new(size_t size)
{
    if (!size) size = JIT_CACHE_DEFAULT;
    if (size < JIT_CACHE_MIN) size = JIT_CACHE_MIN;
    if (size > JIT_CACHE_MAX) size = JIT_CACHE_MAX;
    size = jit_page_round(size);
    struct jit_cache *jc = calloc(1, sizeof(*jc));
    if (!jc) return NULL;
    jc->fd = -1;
    jc->size = size;
    if (!jit_cache_map(jc, size)) goto fail;
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
    if (jc->fd >= 0) close(jc->fd);
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
    if (jc->used > jc->high) jc->high = jc->used;
    if (name) jit_cache_perf_name(jc, rx, len, name);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), lo = jc->rw_low & ~(pg - 1),
           hi = jc->used & ~(pg - 1);
    if (hi > lo) {
        madvise(jc->rw + lo, hi - lo, MADV_DONTNEED);
        jc->rw_low = hi;
    }
    return rx;
}

void jit_cache_touched(struct jit_cache *jc, uintptr_t rx)
{
    size_t off = rx - (uintptr_t)jc->rx;
    if (off < jc->rw_low) jc->rw_low = off;
}

void jit_cache_perf_name(struct jit_cache *jc, uintptr_t rx, size_t len, const char *name)
{
    if (!jc->perf_map || !len) return;
    fprintf(jc->perf_map, "%lx %zx %s\n", (unsigned long)rx, len, name);
    fflush(jc->perf_map);
}

void jit_cache_set_floor(struct jit_cache *jc)
{
    jc->floor = jc->used;
}

/* Give the pages above the floor back to the host. They are shared memory (shmem), so dropping
 * one view's mapping (MADV_DONTNEED) would free nothing: the hole is punched in the memory
 * itself, and both views read zeros there until code is written again. */
static void jit_cache_release(struct jit_cache *jc)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), lo = (jc->floor + pg - 1) & ~(pg - 1),
           hi = (jc->high + pg - 1) & ~(pg - 1);
    if (hi <= lo) return;
    if (jc->fd >= 0)
        fallocate(jc->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)lo, (off_t)(hi - lo));
    else
        madvise(jc->rw + lo, hi - lo, MADV_REMOVE);
    jc->high = lo;
    jc->released += hi - lo;
}

void jit_cache_flush(struct jit_cache *jc)
{
    jit_cache_release(jc);
    jc->used = jc->floor;
    if (jc->rw_low > jc->floor) jc->rw_low = jc->floor;
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
