/* snapshot.c — snapshot files (snapshot.h). Layout of a memory file: guest RAM at its RAM
 * offsets, then one trailer page: "VSLMEM01", u64 snapshot id, u64 RAM size (little-endian).
 * The id is random per snapshot and also in the state file's "memory" section, so a state
 * file paired with another snapshot's memory (a crash between the two renames, a file copied
 * over) is refused rather than restored into a mixed machine.
 *
 * Ordering: the device sections are saved first, which waits for any virtio-blk batch in
 * flight (its lock), and nothing starts a new one while the vCPU is stopped; then the disk
 * images are fsynced; then RAM is written. So RAM, device queues and disk contents describe
 * the same instant. */
#include "vm/snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/disk.h"
#include "backend/display.h"
#include "machine/pc.h"
#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/cpu.h"
#include "vessel/state.h"
#include "vessel/log.h"

#define SNAP_TRAILER     BUS_PAGE_SIZE
#define SNAP_MAGIC       "VSLMEM01"
#define SNAP_CONFIG_VER  3 /* 2: the display card; 3: the fw_cfg items */
#define SNAP_MEMORY_VER  1
#define SNAP_STR_MAX     8192
#define SNAP_WRITE_CHUNK (8u << 20)
#define SNAP_MAX_EXTENTS 16384 /* more mappings than this: copy the layer instead */
#define SNAP_NULL_STR    0xffffffffu

void snap_chain_clear(struct snap_chain *c)
{
    for (unsigned k = 0; k < c->nlayers; k++)
        free(c->path[k]);
    memset(c, 0, sizeof(*c));
}

static void snap_chain_copy(struct snap_chain *dst, const struct snap_chain *src)
{
    snap_chain_clear(dst);
    for (unsigned k = 0; k < src->nlayers; k++) {
        dst->path[k] = strdup(src->path[k]);
        dst->id[k] = src->id[k];
    }
    dst->nlayers = src->nlayers;
}

void snap_dirty_reset(struct pc *pc)
{
    struct bus *b = pc_bus(pc);
    size_t npages = b->ram_size >> BUS_PAGE_SHIFT;
    for (size_t p = 0; p < npages; p++)
        b->page_flags[p] &= (uint8_t)~BUS_PAGE_DIRTY;
    /* The engine marks a page dirty when it caches a write translation for it, not on every
     * write: every vCPU drops its cached translations (the vCPUs are stopped here). */
    pc_rearm_dirty(pc);
}

/* ---- writing ---- */

static void snap_put_str(struct state_writer *w, const char *s)
{
    if (!s) {
        state_put_u32(w, SNAP_NULL_STR);
        return;
    }
    size_t n = strlen(s);
    state_put_u32(w, (uint32_t)n);
    state_put_bytes(w, s, n);
}

void snap_put_config(struct state_writer *w, const struct vm_config *cfg)
{
    state_section_begin(w, "vm-config", SNAP_CONFIG_VER);
    state_put_u64(w, cfg->mem_size);
    state_put_u32(w, cfg->cpus);
    snap_put_str(w, cfg->kernel);
    snap_put_str(w, cfg->initrd);
    snap_put_str(w, cfg->cmdline);
    state_put_u32(w, cfg->ndisks);
    for (unsigned k = 0; k < cfg->ndisks; k++) {
        snap_put_str(w, cfg->disks[k]);
        state_put_u8(w, cfg->disk_ro[k]);
        snap_put_str(w, cfg->disk_id[k]);
    }
    snap_put_str(w, cfg->net);
    snap_put_str(w, cfg->mac);
    state_put_u8(w, cfg->rng);
    state_put_u8(w, cfg->hvc);
    state_put_u32(w, (uint32_t)cfg->reboot);
    state_put_u8(w, cfg->balloon.enabled);
    state_put_u64(w, cfg->balloon.size);
    state_put_u32(w, cfg->balloon.stats_interval_ms);
    state_put_u8(w, cfg->balloon.deflate_on_oom);
    state_put_u8(w, cfg->balloon.reporting);
    /* v2: the display card, whose memory is part of RAM's image; its front end is kept as a
     * default for the restoring process (which may give its own --display) */
    snap_put_str(w, cfg->display);
    state_put_u32(w, cfg->display_width);
    state_put_u32(w, cfg->display_height);
    state_put_u8(w, cfg->display_bochs);
    /* v3: the fw_cfg items (specs: a file is read again where the machine is built) and the
     * firmware image booted, whose copy is part of RAM's image */
    state_put_u32(w, cfg->nfw_cfg);
    for (unsigned k = 0; k < cfg->nfw_cfg; k++)
        snap_put_str(w, cfg->fw_cfg[k]);
    snap_put_str(w, cfg->bios);
    state_section_end(w);
}

static void snap_put_memory(struct state_writer *w, uint64_t id, uint64_t ram, bool diff,
                            const struct snap_chain *c)
{
    state_section_begin(w, "memory", SNAP_MEMORY_VER);
    state_put_u64(w, id);
    state_put_u64(w, ram);
    state_put_u32(w, diff);
    state_put_u32(w, c->nlayers);
    for (unsigned k = 0; k < c->nlayers; k++) {
        snap_put_str(w, c->path[k]);
        state_put_u64(w, c->id[k]);
    }
    state_section_end(w);
}

static bool snap_page_zero(const uint8_t *p)
{
    const uint64_t *q = (const uint64_t *)p;
    for (size_t k = 0; k < BUS_PAGE_SIZE / 8; k++)
        if (q[k]) return false;
    return true;
}

static int snap_pwrite_all(int fd, const uint8_t *p, size_t n, off_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* RAM pages into fd: every non-zero page (Full; zero pages stay holes) or every dirty page
 * (Diff, zero or not: a hole would let the older layer show through). */
static int snap_write_ram(int fd, const struct bus *b, bool diff, uint64_t *bytes)
{
    size_t npages = b->ram_size >> BUS_PAGE_SHIFT;
    size_t p = 0;
    *bytes = 0;
    while (p < npages) {
        bool want = diff ? (b->page_flags[p] & BUS_PAGE_DIRTY) != 0
                         : !snap_page_zero(b->ram + (p << BUS_PAGE_SHIFT));
        if (!want) {
            p++;
            continue;
        }
        size_t q = p + 1;
        while (q < npages && ((q - p) << BUS_PAGE_SHIFT) < SNAP_WRITE_CHUNK &&
               (diff ? (b->page_flags[q] & BUS_PAGE_DIRTY) != 0
                     : !snap_page_zero(b->ram + (q << BUS_PAGE_SHIFT))))
            q++;
        size_t len = (q - p) << BUS_PAGE_SHIFT;
        int rc =
            snap_pwrite_all(fd, b->ram + (p << BUS_PAGE_SHIFT), len, (off_t)(p << BUS_PAGE_SHIFT));
        if (rc < 0) return rc;
        *bytes += len;
        p = q;
    }
    return 0;
}

static int snap_write_mem(const char *tmp, const struct bus *b, bool diff, uint64_t id,
                          uint64_t *bytes)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    uint8_t trailer[SNAP_TRAILER] = {0};
    memcpy(trailer, SNAP_MAGIC, 8);
    for (unsigned k = 0; k < 8; k++) {
        trailer[8 + k] = (uint8_t)(id >> (8 * k));
        trailer[16 + k] = (uint8_t)(b->ram_size >> (8 * k));
    }
    int rc = 0;
    if (ftruncate(fd, (off_t)(b->ram_size + SNAP_TRAILER)) < 0) rc = -errno;
    if (!rc) rc = snap_write_ram(fd, b, diff, bytes);
    if (!rc) rc = snap_pwrite_all(fd, trailer, sizeof(trailer), (off_t)b->ram_size);
    if (!rc && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && !rc) rc = -errno;
    return rc;
}

static int snap_write_file(const char *tmp, const struct state_writer *w)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    int rc = snap_pwrite_all(fd, w->data, w->len, 0);
    if (!rc && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && !rc) rc = -errno;
    return rc;
}

static void snap_fsync_dir(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Disk images are written with pwrite from the virtio-blk thread; fsync on any descriptor of
 * the file makes them durable before the snapshot that describes them exists. (qcow2 orders
 * its metadata writes for a crash at any point, which is what a restore from this snapshot
 * then is for the image: its refcounts are repaired on open if needed.) */
static int snap_flush_disks(const struct vm_config *cfg, char *err, size_t errlen)
{
    for (unsigned k = 0; k < cfg->ndisks; k++) {
        char path[PATH_MAX], why[256];
        struct disk_options o;
        if (disk_spec_parse(cfg->disks[k], path, sizeof(path), &o, why, sizeof(why)) < 0)
            return error_set(err, errlen, "disk '%s': %s", cfg->disks[k], why);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0) {
            int e = errno;
            if (fd >= 0) close(fd);
            return error_set(err, errlen, "flushing disk '%s': %s", path, strerror(e));
        }
        close(fd);
    }
    return 0;
}

int snap_create(struct pc *pc, const struct vm_config *cfg, const char *state_path,
                const char *mem_path, bool diff, struct snap_chain *chain, struct snap_stats *stats,
                char *err, size_t errlen)
{
    uint64_t t0 = clock_ns();
    struct bus *b = pc_bus(pc);
    if (diff && chain->nlayers == 0)
        return error_set(err, errlen,
                         "a Diff snapshot needs an earlier snapshot of this VM (or "
                         "a restore): take a Full one first");
    if (diff && chain->nlayers >= SNAP_MAX_LAYERS)
        return error_set(err, errlen, "%d memory layers already: take a Full snapshot",
                         SNAP_MAX_LAYERS);
    char state_tmp[PATH_MAX], mem_tmp[PATH_MAX];
    if (snprintf(state_tmp, sizeof(state_tmp), "%s.tmp", state_path) >= (int)sizeof(state_tmp) ||
        snprintf(mem_tmp, sizeof(mem_tmp), "%s.tmp", mem_path) >= (int)sizeof(mem_tmp))
        return error_set(err, errlen, "snapshot path too long");
    uint64_t id;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id)) id = clock_wall_ns() ^ (uint64_t)getpid();

    struct state_writer w;
    state_writer_init(&w);
    pc_save_devices(pc, &w); /* first: waits for I/O in flight (see the top of this file) */
    snap_put_config(&w, cfg);
    struct snap_chain next = {0};
    if (diff) snap_chain_copy(&next, chain);
    next.path[next.nlayers] = NULL; /* filled after the rename, when realpath works */
    next.id[next.nlayers] = id;
    next.nlayers++;
    int rc = snap_flush_disks(cfg, err, errlen);
    uint64_t mem_bytes = 0;
    if (rc == 0 && (rc = snap_write_mem(mem_tmp, b, diff, id, &mem_bytes)) < 0)
        error_set(err, errlen, "writing memory file '%s': %s", mem_tmp, strerror(-rc));
    if (rc == 0) {
        /* The layer list names files by absolute path; the newest is the one being written. */
        char dir[PATH_MAX], base[PATH_MAX], abs[PATH_MAX + 8];
        snprintf(dir, sizeof(dir), "%s", mem_path);
        snprintf(base, sizeof(base), "%s", mem_path);
        char *rd = realpath(dirname(dir), NULL);
        if (!rd) {
            rc = -1;
            error_set(err, errlen, "memory file directory of '%s': %s", mem_path, strerror(errno));
        } else {
            snprintf(abs, sizeof(abs), "%s/%s", rd, basename(base));
            free(rd);
            next.path[next.nlayers - 1] = strdup(abs);
            snap_put_memory(&w, id, b->ram_size, diff, &next);
            if (w.error) {
                rc = -1;
                error_set(err, errlen, "out of memory building the state file");
            } else if ((rc = snap_write_file(state_tmp, &w)) < 0) {
                error_set(err, errlen, "writing state file '%s': %s", state_tmp, strerror(-rc));
            }
        }
    }
    if (rc == 0 && (rename(mem_tmp, mem_path) < 0 || rename(state_tmp, state_path) < 0)) {
        rc = -1;
        error_set(err, errlen, "renaming the snapshot files into place: %s", strerror(errno));
        unlink(mem_path);
    }
    if (rc < 0) {
        unlink(mem_tmp);
        unlink(state_tmp);
        snap_chain_clear(&next);
        state_writer_free(&w);
        return -1;
    }
    snap_fsync_dir(mem_path);
    snap_fsync_dir(state_path);
    snap_chain_clear(chain);
    *chain = next;
    snap_dirty_reset(pc);
    stats->state_bytes = w.len;
    stats->mem_bytes = mem_bytes;
    stats->ns = clock_ns() - t0;
    state_writer_free(&w);
    return 0;
}

/* ---- reading ---- */

static char *snap_get_str(struct state_reader *r, struct snap_image *img, bool *ok)
{
    uint32_t n = state_get_u32(r);
    if (n == SNAP_NULL_STR || !state_ok(r)) return NULL;
    if (n > SNAP_STR_MAX || img->nstrings == sizeof(img->strings) / sizeof(img->strings[0])) {
        *ok = false;
        return NULL;
    }
    char *s = calloc(1, n + 1);
    if (!s) {
        *ok = false;
        return NULL;
    }
    state_get_bytes(r, s, n);
    if (strlen(s) != n) *ok = false; /* a NUL inside */
    img->strings[img->nstrings++] = s;
    return s;
}

static int snap_get_config(struct state_reader *r, struct snap_image *img, char *err, size_t errlen)
{
    uint32_t v;
    if (!state_section_find(r, "vm-config", &v))
        return error_set(err, errlen, "no vm-config section (not a vessel snapshot)");
    if (v < 1 || v > SNAP_CONFIG_VER)
        return error_set(err, errlen, "vm-config section version %u (this vessel reads 1-%u)", v,
                         SNAP_CONFIG_VER);
    struct vm_config *c = &img->cfg;
    bool ok = true;
    c->mem_size = state_get_u64(r);
    c->cpus = state_get_u32(r);
    c->kernel = snap_get_str(r, img, &ok);
    c->initrd = snap_get_str(r, img, &ok);
    c->cmdline = snap_get_str(r, img, &ok);
    c->ndisks = state_get_u32(r);
    if (c->ndisks > VM_MAX_DISKS) ok = false;
    for (unsigned k = 0; ok && k < c->ndisks; k++) {
        c->disks[k] = snap_get_str(r, img, &ok);
        c->disk_ro[k] = state_get_u8(r) != 0;
        c->disk_id[k] = snap_get_str(r, img, &ok);
        if (!c->disks[k]) ok = false;
    }
    c->net = snap_get_str(r, img, &ok);
    c->mac = snap_get_str(r, img, &ok);
    c->rng = state_get_u8(r) != 0;
    c->hvc = state_get_u8(r) != 0;
    uint32_t reboot = state_get_u32(r);
    c->reboot = reboot == VM_REBOOT_RESTART ? VM_REBOOT_RESTART : VM_REBOOT_EXIT;
    c->balloon.enabled = state_get_u8(r) != 0;
    c->balloon.size = state_get_u64(r);
    c->balloon.stats_interval_ms = state_get_u32(r);
    c->balloon.deflate_on_oom = state_get_u8(r) != 0;
    c->balloon.reporting = state_get_u8(r) != 0;
    if (v >= 2) {
        c->display = snap_get_str(r, img, &ok);
        c->display_width = state_get_u32(r);
        c->display_height = state_get_u32(r);
        c->display_bochs = state_get_u8(r) != 0;
        /* the command line's bounds (--resolution), and a spec the front ends accept */
        if (c->display &&
            (c->display_width < 320 || c->display_width > 4096 || c->display_height < 200 ||
             c->display_height > 2160 || display_check_spec(c->display, err, errlen) < 0))
            ok = false;
    }
    if (v >= 3) {
        c->nfw_cfg = state_get_u32(r);
        if (c->nfw_cfg > VM_MAX_FW_CFG) ok = false;
        char why[256];
        for (unsigned k = 0; ok && k < c->nfw_cfg; k++) {
            c->fw_cfg[k] = snap_get_str(r, img, &ok);
            if (!c->fw_cfg[k] || pc_fw_cfg_spec_check(c->fw_cfg[k], why, sizeof(why)) < 0)
                ok = false;
        }
        c->bios = snap_get_str(r, img, &ok);
    }
    if (!ok || !state_ok(r) || c->mem_size == 0 || (c->mem_size & (BUS_PAGE_SIZE - 1)))
        return error_set(err, errlen, "malformed vm-config section");
    return 0;
}

static int snap_get_memory(struct state_reader *r, struct snap_image *img, char *err, size_t errlen)
{
    uint32_t v;
    if (!state_section_find(r, "memory", &v))
        return error_set(err, errlen, "no memory section (not a vessel snapshot)");
    if (v != SNAP_MEMORY_VER)
        return error_set(err, errlen, "memory section version %u (this vessel reads %u)", v,
                         SNAP_MEMORY_VER);
    img->id = state_get_u64(r);
    img->ram_size = state_get_u64(r);
    (void)state_get_u32(r); /* diff: the layer list says it all */
    uint32_t n = state_get_u32(r);
    if (!state_ok(r) || n == 0 || n > SNAP_MAX_LAYERS)
        return error_set(err, errlen, "malformed memory section");
    for (uint32_t k = 0; k < n; k++) {
        uint32_t len = state_get_u32(r);
        if (!state_ok(r) || len == 0 || len >= PATH_MAX) break;
        char *p = calloc(1, len + 1);
        if (!p) break;
        state_get_bytes(r, p, len);
        img->chain.path[k] = p;
        img->chain.id[k] = state_get_u64(r);
        img->chain.nlayers = k + 1;
        if (strlen(p) != len) break;
    }
    if (!state_ok(r) || img->chain.nlayers != n || img->chain.id[n - 1] != img->id ||
        img->ram_size < img->cfg.mem_size) /* a display's memory comes on top */
        return error_set(err, errlen, "malformed memory section");
    return 0;
}

void snap_close(struct snap_image *img)
{
    free(img->data);
    for (unsigned k = 0; k < img->nstrings; k++)
        free(img->strings[k]);
    snap_chain_clear(&img->chain);
    memset(img, 0, sizeof(*img));
}

int snap_open(const char *state_path, struct snap_image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof(*img));
    int rc = state_read_file(state_path, &img->data, &img->len);
    if (rc < 0) return error_set(err, errlen, "state file '%s': %s", state_path, strerror(-rc));
    if (img->len < 12 || memcmp(img->data, "VSLSTATE", 8) != 0) {
        snap_close(img);
        return error_set(err, errlen, "'%s' is not a vessel state file", state_path);
    }
    uint32_t fv = (uint32_t)img->data[8] | (uint32_t)img->data[9] << 8 |
                  (uint32_t)img->data[10] << 16 | (uint32_t)img->data[11] << 24;
    if (fv != STATE_FORMAT_VERSION) {
        snap_close(img);
        return error_set(err, errlen, "state file '%s' has format version %u; this vessel reads %u",
                         state_path, fv, STATE_FORMAT_VERSION);
    }
    struct state_reader r;
    char why[256];
    if (!state_reader_init(&r, img->data, img->len) ||
        snap_get_config(&r, img, why, sizeof(why)) < 0 ||
        snap_get_memory(&r, img, why, sizeof(why)) < 0) {
        snap_close(img);
        return error_set(err, errlen, "state file '%s': %s", state_path, why);
    }
    return 0;
}

/* Check a layer's size and trailer; the open descriptor, or -1 with err set. A layer at an
 * offset (inside an appliance file) may be followed by other data. */
static int snap_open_layer(const char *path, uint64_t off, uint64_t id, uint64_t ram, char *err,
                           size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_set(err, errlen, "memory file '%s': %s", path, strerror(errno));
    struct stat st;
    uint8_t t[24];
    if (fstat(fd, &st) < 0 || (off == 0 && (uint64_t)st.st_size != ram + SNAP_TRAILER) ||
        (uint64_t)st.st_size < off + ram + SNAP_TRAILER) {
        close(fd);
        return error_set(err, errlen, "memory file '%s' is not %llu bytes (RAM and trailer)", path,
                         (unsigned long long)(ram + SNAP_TRAILER));
    }
    if (pread(fd, t, sizeof(t), (off_t)(off + ram)) != (ssize_t)sizeof(t) ||
        memcmp(t, SNAP_MAGIC, 8)) {
        close(fd);
        return error_set(err, errlen, "'%s' is not a vessel memory file", path);
    }
    uint64_t fid = 0, fram = 0;
    for (unsigned k = 0; k < 8; k++) {
        fid |= (uint64_t)t[8 + k] << (8 * k);
        fram |= (uint64_t)t[16 + k] << (8 * k);
    }
    if (fid != id || fram != ram) {
        close(fd);
        return error_set(err, errlen, "memory file '%s' belongs to another snapshot", path);
    }
    return fd;
}

/* A Diff layer: its data extents (the pages it holds) over what is mapped already. */
static int snap_map_diff(int fd, const char *path, struct bus *b, char *err, size_t errlen)
{
    off_t end = (off_t)b->ram_size, pos = 0;
    unsigned extents = 0;
    bool copy = false;
    for (int pass = 0; pass < 2; pass++) {
        pos = 0;
        extents = 0;
        while (pos < end) {
            off_t d = lseek(fd, pos, SEEK_DATA);
            if (d < 0 || d >= end) break;
            off_t h = lseek(fd, d, SEEK_HOLE);
            if (h < 0 || h > end) h = end;
            off_t s = d & ~(off_t)(BUS_PAGE_SIZE - 1);
            off_t e = (h + (off_t)BUS_PAGE_SIZE - 1) & ~(off_t)(BUS_PAGE_SIZE - 1);
            if (e > end) e = end;
            extents++;
            if (pass == 1) {
                if (!copy) {
                    void *p = mmap(b->ram + s, (size_t)(e - s), PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, s);
                    if (p == MAP_FAILED)
                        return error_set(err, errlen, "mapping '%s': %s", path, strerror(errno));
                } else if (pread(fd, b->ram + s, (size_t)(e - s), s) != e - s) {
                    return error_set(err, errlen, "reading '%s': %s", path, strerror(errno));
                }
            }
            pos = e;
        }
        copy = extents > SNAP_MAX_EXTENTS; /* too many mappings: copy instead */
    }
    return 0;
}

int snap_restore(struct pc *pc, const struct snap_image *img, const char *mem_path,
                 struct snap_chain *chain, char *err, size_t errlen)
{
    return snap_restore_at(pc, img, mem_path, 0, chain, err, errlen);
}

int snap_restore_at(struct pc *pc, const struct snap_image *img, const char *mem_path,
                    uint64_t mem_offset, struct snap_chain *chain, char *err, size_t errlen)
{
    struct bus *b = pc_bus(pc);
    if (b->ram_size != img->ram_size)
        return error_set(err, errlen, "the snapshot has %llu MiB of RAM, this machine %llu MiB",
                         (unsigned long long)(img->ram_size >> 20),
                         (unsigned long long)(b->ram_size >> 20));
    for (unsigned k = 0; k < img->chain.nlayers; k++) {
        const char *path = img->chain.path[k];
        uint64_t off = 0;
        if (mem_path && k == img->chain.nlayers - 1) {
            path = mem_path;
            off = mem_offset;
        }
        if (off && (off & (BUS_PAGE_SIZE - 1) || img->chain.nlayers != 1))
            return error_set(err, errlen,
                             "a memory layer at an offset must be page-aligned and alone");
        int fd = snap_open_layer(path, off, img->chain.id[k], b->ram_size, err, errlen);
        if (fd < 0) return -1;
        int rc = 0;
        if (k == 0) {
            void *p = mmap(b->ram, b->ram_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);
            if (p == MAP_FAILED)
                rc = error_set(err, errlen, "mapping '%s': %s", path, strerror(errno));
        } else {
            rc = snap_map_diff(fd, path, b, err, errlen);
        }
        close(fd); /* the mappings keep the file */
        if (rc < 0) return -1;
    }
    if (pc_load_devices(pc, img->data, img->len) < 0)
        return error_set(err, errlen, "the state file does not fit this machine (see above)");
    snap_chain_copy(chain, &img->chain);
    if (mem_path) {
        char *abs = realpath(mem_path, NULL);
        if (abs) {
            free(chain->path[chain->nlayers - 1]);
            chain->path[chain->nlayers - 1] = abs;
        }
    }
    snap_dirty_reset(pc);
    return 0;
}

int snap_open_config(uint8_t *data, size_t len, struct snap_image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof(*img));
    img->data = data;
    img->len = len;
    struct state_reader r;
    if (!state_reader_init(&r, data, len)) {
        snap_close(img);
        return error_set(err, errlen, "not a vessel state stream of format %u",
                         STATE_FORMAT_VERSION);
    }
    if (snap_get_config(&r, img, err, errlen) < 0) {
        snap_close(img);
        return -1;
    }
    return 0;
}
