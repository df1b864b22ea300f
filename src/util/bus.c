/* bus.c — guest-physical RAM plus the port and MMIO range tables of bus.h. Ranges are few
 * (tens), so lookup is a linear scan with a one-entry cache of the last hit.
 *
 * RAM is anonymous memory or a shared mapping of a sparse file or memfd; discarding pages is
 * MADV_DONTNEED for the first and a punched hole for the second (MADV_DONTNEED on a shared
 * mapping would only drop this process's view, leaving the page cache and the disk blocks). */
#include "vessel/bus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/log.h"

static int bus_map(struct bus *b, uint64_t ram_size, int fd)
{
    int flags = fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE : MAP_SHARED;
    void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) return -errno;
    b->ram = p;
    b->ram_size = ram_size;
    b->low_ram_end = ram_size < BUS_MAX_LOW_RAM ? ram_size : BUS_MAX_LOW_RAM;
    b->page_flags = calloc(ram_size >> BUS_PAGE_SHIFT, 1);
    if (!b->page_flags) {
        munmap(p, ram_size);
        b->ram = NULL;
        return -ENOMEM;
    }
    return 0;
}

int bus_init(struct bus *b, uint64_t ram_size)
{
    memset(b, 0, sizeof(*b));
    b->ram_fd = -1;
    if (ram_size == 0 || (ram_size & (BUS_PAGE_SIZE - 1))) return -EINVAL;
    return bus_map(b, ram_size, -1);
}

/* An unnamed file in directory `dir` (O_TMPFILE, or a named one removed at once where the
 * file system lacks it). */
static int bus_open_tmpfile(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
    size_t n = strlen(dir) + 32;
    char *name = malloc(n);
    if (!name) return -1;
    snprintf(name, n, "%s/vessel-ram.XXXXXX", dir);
    fd = mkostemp(name, O_CLOEXEC);
    if (fd >= 0) unlink(name);
    free(name);
    return fd;
}

int bus_init_file(struct bus *b, uint64_t ram_size, const char *path)
{
    memset(b, 0, sizeof(*b));
    b->ram_fd = -1;
    if (ram_size == 0 || (ram_size & (BUS_PAGE_SIZE - 1)) || !path || !*path) return -EINVAL;
    struct stat st;
    int fd;
    bool named = false;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fd = bus_open_tmpfile(path);
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        named = true;
    }
    if (fd < 0) return -errno;
    int rc = ftruncate(fd, (off_t)ram_size) < 0 ? -errno : 0;
    if (rc == 0 && named && !(b->ram_unlink = strdup(path))) rc = -ENOMEM;
    if (rc == 0) rc = bus_map(b, ram_size, fd);
    if (rc < 0) {
        close(fd);
        if (named) unlink(path);
        free(b->ram_unlink);
        b->ram_unlink = NULL;
        return rc;
    }
    b->ram_file = true;
    b->ram_fd = fd;
    return 0;
}

int bus_init_memfd(struct bus *b, uint64_t ram_size)
{
    memset(b, 0, sizeof(*b));
    b->ram_fd = -1;
    if (ram_size == 0 || (ram_size & (BUS_PAGE_SIZE - 1))) return -EINVAL;
    int fd = memfd_create("vessel-ram", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = ftruncate(fd, (off_t)ram_size) < 0 ? -errno : 0;
    if (rc == 0) rc = bus_map(b, ram_size, fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    b->ram_file = true;
    b->ram_fd = fd;
    return 0;
}

void bus_destroy(struct bus *b)
{
    if (b->ram) munmap(b->ram, b->ram_size);
    if (b->ram_file) close(b->ram_fd);
    if (b->ram_unlink) unlink(b->ram_unlink);
    free(b->ram_unlink);
    free(b->page_flags);
    for (unsigned k = 0; k < b->ndev_locks; k++) {
        pthread_mutex_destroy(b->dev_lock[k]);
        free(b->dev_lock[k]);
    }
    memset(b, 0, sizeof(*b));
    b->ram_fd = -1;
}

/* Discard [off, off+len) of the mapping (page-aligned, inside RAM). */
static bool bus_discard_range(struct bus *b, uint64_t off, uint64_t len)
{
    if (!b->ram_file && b->ram_remap_discard)
        return mmap(b->ram + off, len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED;
    if (!b->ram_file) return madvise(b->ram + off, len, MADV_DONTNEED) == 0;
    if (fallocate(b->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ==
        0)
        return true;
    /* The same through the mapping, for file systems that punch only that way. */
    return madvise(b->ram + off, len, MADV_REMOVE) == 0;
}

uint64_t bus_discard(struct bus *b, uint64_t gpa, uint64_t len)
{
    uint64_t done = 0;
    if (len == 0 || gpa + len < gpa) return 0;
    uint64_t start = (gpa + BUS_PAGE_SIZE - 1) & ~(BUS_PAGE_SIZE - 1);
    uint64_t end = (gpa + len) & ~(BUS_PAGE_SIZE - 1);
    /* The two RAM segments separately: the hole between them is never RAM. */
    const uint64_t seg[2][2] = {{0, b->low_ram_end},
                                {BUS_HIGH_RAM, BUS_HIGH_RAM + (b->ram_size - b->low_ram_end)}};
    for (unsigned k = 0; k < 2; k++) {
        uint64_t s = start > seg[k][0] ? start : seg[k][0];
        uint64_t e = end < seg[k][1] ? end : seg[k][1];
        if (s >= e) continue;
        uint64_t off = bus_ram_offset(b, s);
        if (off == UINT64_MAX || !bus_discard_range(b, off, e - s)) continue;
        bus_note_write(b, s, e - s); /* the contents changed (to zeros) */
        done += e - s;
    }
    return done;
}

uint64_t bus_ram_resident(const struct bus *b)
{
    enum { CHUNK = 64u << 20 }; /* mincore's vector: one byte a page, 16 KiB a chunk */
    static _Thread_local unsigned char vec[CHUNK >> BUS_PAGE_SHIFT];
    uint64_t pages = 0;
    for (uint64_t off = 0; off < b->ram_size; off += CHUNK) {
        uint64_t n = b->ram_size - off < CHUNK ? b->ram_size - off : CHUNK;
        if (mincore(b->ram + off, n, vec) < 0) continue;
        for (uint64_t p = 0; p < n >> BUS_PAGE_SHIFT; p++)
            pages += vec[p] & 1;
    }
    return pages << BUS_PAGE_SHIFT;
}

void bus_set_write_watch(struct bus *b, bus_watch_fn fn, void *opaque)
{
    b->watch_fn = fn;
    b->watch_opaque = fn ? opaque : NULL;
}

void bus_watch_range(struct bus *b, uint64_t gpa, uint64_t len, bool on)
{
    if (len == 0) return;
    uint64_t end = gpa + len - 1;
    if (end < gpa) end = UINT64_MAX;
    for (uint64_t page = gpa & ~(BUS_PAGE_SIZE - 1);; page += BUS_PAGE_SIZE) {
        uint64_t off = bus_ram_offset(b, page);
        if (off != UINT64_MAX) {
            uint8_t *f = &b->page_flags[off >> BUS_PAGE_SHIFT];
            *f = on ? (uint8_t)(*f | BUS_PAGE_WATCH) : (uint8_t)(*f & ~BUS_PAGE_WATCH);
        }
        if (end - page < BUS_PAGE_SIZE) break;
    }
}

int bus_add_code_write_listener(struct bus *b, bus_code_write_fn fn, void *opaque)
{
    for (unsigned k = 0; k < b->ncode_listeners; k++)
        if (b->code_listeners[k].fn == fn && b->code_listeners[k].opaque == opaque) return 0;
    if (b->ncode_listeners == BUS_MAX_CODE_LISTENERS) return -1;
    b->code_listeners[b->ncode_listeners].fn = fn;
    b->code_listeners[b->ncode_listeners].opaque = opaque;
    b->ncode_listeners++;
    return 0;
}

void bus_remove_code_write_listener(struct bus *b, bus_code_write_fn fn, void *opaque)
{
    for (unsigned k = 0; k < b->ncode_listeners; k++)
        if (b->code_listeners[k].fn == fn && b->code_listeners[k].opaque == opaque) {
            b->code_listeners[k] = b->code_listeners[--b->ncode_listeners];
            return;
        }
}

static bool overlaps(const struct io_range *t, unsigned n, uint64_t base, uint64_t len)
{
    for (unsigned k = 0; k < n; k++)
        if (t[k].len && base < t[k].base + t[k].len && t[k].base < base + len) return true;
    return false;
}

/* The lock of the device `opaque`: the one its other ranges have, or a new one. */
static pthread_mutex_t *dev_lock_for(struct bus *b, void *opaque)
{
    for (unsigned k = 0; k < b->ndev_locks; k++)
        if (b->dev_lock_opaque[k] == opaque) return b->dev_lock[k];
    if (b->ndev_locks == 2 * BUS_MAX_RANGES) return NULL;
    pthread_mutex_t *m = malloc(sizeof(*m));
    if (!m) return NULL;
    pthread_mutex_init(m, NULL);
    b->dev_lock[b->ndev_locks] = m;
    b->dev_lock_opaque[b->ndev_locks++] = opaque;
    return m;
}

static int add_range(struct bus *b, struct io_range *t, unsigned *n, uint64_t base, uint64_t len,
                     const struct io_ops *ops, void *opaque, const char *name)
{
    pthread_mutex_t *lock = NULL;
    if (*n >= BUS_MAX_RANGES || len == 0 || base + len < base || overlaps(t, *n, base, len) ||
        !(lock = dev_lock_for(b, opaque))) {
        log_error("bus: cannot register %s at %#llx+%#llx", name, (unsigned long long)base,
                  (unsigned long long)len);
        return -1;
    }
    t[(*n)++] = (struct io_range){base, len, ops, opaque, name, lock};
    return 0;
}

int bus_add_pio(struct bus *b, uint16_t base, uint16_t len, const struct io_ops *ops, void *opaque,
                const char *name)
{
    if ((uint32_t)base + len > 0x10000) return -1;
    return add_range(b, b->pio, &b->npio, base, len, ops, opaque, name);
}

int bus_add_mmio(struct bus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *opaque,
                 const char *name)
{
    return add_range(b, b->mmio, &b->nmmio, base, len, ops, opaque, name);
}

static int move_range(struct io_range *t, unsigned n, const struct io_ops *ops, void *opaque,
                      uint64_t new_base, uint64_t new_len)
{
    for (unsigned k = 0; k < n; k++) {
        struct io_range *r = &t[k];
        if (r->ops != ops || r->opaque != opaque) continue;
        uint64_t old_len = r->len;
        r->len = 0; /* exclude itself from the overlap check */
        if (new_len && (new_base + new_len < new_base || overlaps(t, n, new_base, new_len))) {
            r->len = old_len;
            return -1;
        }
        r->base = new_base;
        r->len = new_len;
        return 0;
    }
    return -1;
}

int bus_move_mmio(struct bus *b, const struct io_ops *ops, void *opaque, uint64_t new_base,
                  uint64_t new_len)
{
    return move_range(b->mmio, b->nmmio, ops, opaque, new_base, new_len);
}

int bus_move_pio(struct bus *b, const struct io_ops *ops, void *opaque, uint16_t new_base,
                 uint16_t new_len)
{
    if ((uint32_t)new_base + new_len > 0x10000) return -1;
    return move_range(b->pio, b->npio, ops, opaque, new_base, new_len);
}

static struct io_range *find(struct io_range *t, unsigned n, uint64_t addr, unsigned size)
{
    for (unsigned k = 0; k < n; k++)
        if (addr >= t[k].base && addr - t[k].base < t[k].len) {
            if (addr - t[k].base + size > t[k].len)
                return NULL; /* straddles the end: treat as unassigned */
            return &t[k];
        }
    return NULL;
}

uint64_t bus_pio_read(struct bus *b, uint16_t port, unsigned size)
{
    struct io_range *r = find(b->pio, b->npio, port, size);
    if (!r || !r->ops->read) {
        b->unassigned_accesses++;
        return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    }
    pthread_mutex_lock(r->lock);
    uint64_t v = r->ops->read(r->opaque, port - r->base, size);
    pthread_mutex_unlock(r->lock);
    return v;
}

void bus_pio_write(struct bus *b, uint16_t port, uint64_t value, unsigned size)
{
    struct io_range *r = find(b->pio, b->npio, port, size);
    if (!r || !r->ops->write) {
        b->unassigned_accesses++;
        return;
    }
    pthread_mutex_lock(r->lock);
    r->ops->write(r->opaque, port - r->base, value, size);
    pthread_mutex_unlock(r->lock);
}

uint64_t bus_mmio_read(struct bus *b, uint64_t gpa, unsigned size)
{
    struct io_range *r = find(b->mmio, b->nmmio, gpa, size);
    if (!r || !r->ops->read) {
        b->unassigned_accesses++;
        return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    }
    pthread_mutex_lock(r->lock);
    uint64_t v = r->ops->read(r->opaque, gpa - r->base, size);
    pthread_mutex_unlock(r->lock);
    return v;
}

void bus_mmio_write(struct bus *b, uint64_t gpa, uint64_t value, unsigned size)
{
    struct io_range *r = find(b->mmio, b->nmmio, gpa, size);
    if (!r || !r->ops->write) {
        b->unassigned_accesses++;
        return;
    }
    pthread_mutex_lock(r->lock);
    r->ops->write(r->opaque, gpa - r->base, value, size);
    pthread_mutex_unlock(r->lock);
}

void bus_note_write(struct bus *b, uint64_t gpa, uint64_t len)
{
    bus_note_write_by(b, gpa, len, NULL);
}

void bus_note_write_by(struct bus *b, uint64_t gpa, uint64_t len, const struct bus_writer *w)
{
    if (len == 0) return;
    uint64_t off = bus_ram_offset(b, gpa);
    if (off == UINT64_MAX) return;
    uint64_t first = off >> BUS_PAGE_SHIFT, last = (off + len - 1) >> BUS_PAGE_SHIFT;
    uint64_t npages = b->ram_size >> BUS_PAGE_SHIFT;
    uint8_t seen = 0;
    for (uint64_t p = first; p <= last && p < npages; p++) {
        /* several vCPUs set bits of one page's byte at once */
        seen |= __atomic_or_fetch(&b->page_flags[p], BUS_PAGE_WRITTEN, __ATOMIC_SEQ_CST);
    }
    /* The watcher first: a write it blocks is undone before decoded code is dropped. */
    if ((seen & BUS_PAGE_WATCH) && b->watch_fn) b->watch_fn(b->watch_opaque, gpa, len, w);
    if (seen & BUS_PAGE_CODE)
        for (unsigned k = 0; k < b->ncode_listeners; k++)
            b->code_listeners[k].fn(b->code_listeners[k].opaque, gpa, len);
}

int bus_set_ram_alias(struct bus *b, uint64_t gpa, uint64_t len, uint64_t ram_off)
{
    const uint64_t mask = BUS_PAGE_SIZE - 1;
    if (len == 0) {
        __atomic_store_n(&b->alias_len, 0, __ATOMIC_RELEASE);
        b->alias_gpa = b->alias_off = 0;
        return 0;
    }
    if ((gpa | len | ram_off) & mask || gpa + len < gpa || ram_off > b->ram_size ||
        len > b->ram_size - ram_off)
        return -1;
    /* Never over RAM: bus_ram_ptr tells the segments apart by address. */
    uint64_t high_end = BUS_HIGH_RAM + (b->ram_size - b->low_ram_end);
    if (gpa < b->low_ram_end || (gpa + len > BUS_HIGH_RAM && gpa < high_end)) return -1;
    /* The length goes first and comes back last (ordered stores): a DMA thread looking up
     * another address meanwhile never sees a half-moved window cover it. */
    __atomic_store_n(&b->alias_len, 0, __ATOMIC_RELEASE);
    b->alias_gpa = gpa;
    b->alias_off = ram_off;
    __atomic_store_n(&b->alias_len, len, __ATOMIC_RELEASE);
    return 0;
}

bool bus_dma_read(struct bus *b, uint64_t gpa, void *dst, uint64_t len)
{
    uint8_t *p = bus_ram_ptr(b, gpa, len);
    if (!p) return false;
    memcpy(dst, p, len);
    return true;
}

bool bus_dma_write(struct bus *b, uint64_t gpa, const void *src, uint64_t len)
{
    uint8_t *p = bus_ram_ptr(b, gpa, len);
    if (!p) return false;
    memcpy(p, src, len);
    bus_note_write(b, gpa, len);
    return true;
}
