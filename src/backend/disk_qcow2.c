/* disk_qcow2.c — the qcow2 back-end (versions 2 and 3), read and write, as QEMU's
 * docs/interop/qcow2.txt describes it: a two-level map (L1 table → L2 tables → clusters),
 * refcounts for every host cluster, zero clusters, deflate-compressed clusters (read; a write
 * rewrites the cluster uncompressed), and a backing file (raw or qcow2) that supplies every
 * cluster the image does not hold. New clusters are appended at the end of the file.
 *
 * Crash safety by write ordering (no repair needed for a usable image): L2 tables and refcount
 * blocks live in write-back caches and reach the file only at a flush (the guest's, an
 * eviction, or close), in this order, with fdatasync between the steps: data clusters and
 * refcount blocks (a refcount is never lower than the references on disk), the refcount table
 * and the header that points to it, then L2 tables, then the L1 table, and last the refcount
 * decrements of clusters that no L2 entry names any more. A crash (or SIGKILL) at any point leaves
 * at worst leaked clusters (refcount without a reference), which `qemu-img check` reports as
 * harmless; never a cluster used with a refcount too low. Version 3 images also carry the header's
 * dirty bit from the first refcount change until a clean close; a writable open that finds it set
 * (after our crash, or QEMU's with lazy refcounts) rebuilds the refcounts from the references
 * before anything else, as `qemu-img check -r all` would. Version 2 has no such bit: leaks
 * stay until `qemu-img check -r leaks`.
 *
 * Everything read from the file is checked before use: header fields against the file and
 * each other, table offsets for alignment and the file's end, compressed sizes against the
 * buffers; a bad image is refused at open or answers -EIO, and no loop depends on file data
 * without a bound. Unsupported features (encryption, external data files, extended L2
 * entries, zstd compression, internal snapshots when writing) are refused with their name. */
#include "disk_internal.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "vessel/log.h"

#define QCOW2_OFLAG_COPIED       (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED   (1ull << 62)
#define QCOW2_OFLAG_ZERO         1ull
#define QCOW2_OFFSET_MASK        0x00fffffffffffe00ull
#define QCOW2_INCOMPAT_DIRTY     (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT   (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESS  (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2     (1ull << 4)
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_CRYPTO         0x0537be77u
#define QCOW2_EXT_DATA_FILE      0x44415441u
#define QCOW2_MAX_L1_BYTES       (32u << 20) /* QEMU's limits */
#define QCOW2_MAX_RT_BYTES       (8u << 20)
#define QCOW2_MAX_SIZE           (1ull << 56)
#define QCOW2_CACHE_BYTES        (8u << 20) /* L2 cache: 64 GiB of guest disk at 64K clusters */
#define QCOW2_RC_CACHE_BYTES     (1u << 20)

enum qcow2_kind { QCOW2_UNALLOC, QCOW2_ZERO, QCOW2_NORMAL, QCOW2_COMPRESSED };

struct qcow2_cache_entry {
    uint64_t off;  /* host offset of the table; 0 = empty slot */
    uint8_t *data; /* on-disk bytes (big-endian) */
    bool dirty;
    uint64_t used;
};

struct qcow2_cache {
    struct qcow2_cache_entry *e;
    unsigned n;
    uint64_t tick;
};

struct qcow2 {
    struct disk_backend b; /* first: the generic layer's view */
    int fd;
    pthread_mutex_t lock;
    struct disk_backend *backing;

    unsigned version, cluster_bits, l2_bits, rb_bits, refcount_order;
    uint64_t cs; /* cluster size */
    uint64_t header_cluster_end;
    unsigned csize_shift;
    uint64_t csize_mask, coffset_mask;

    uint64_t *l1; /* host-endian copy */
    uint32_t l1_size;
    uint64_t l1_off;
    uint32_t l1_dirty_lo, l1_dirty_hi; /* entries [lo, hi) to write */

    uint64_t *rt; /* refcount table, host-endian */
    uint64_t rt_entries, rt_off;
    uint32_t rt_clusters;
    bool rt_dirty, rt_moved;

    uint64_t end; /* where the next cluster is appended */
    bool unsynced;

    struct qcow2_cache l2c, rbc;
    uint64_t *frees; /* host clusters whose refcount drops once the map no longer names them */
    size_t nfrees, capfrees;

    uint8_t *cbuf, *zbuf, *cow, *tmp; /* compressed input, decompressed cluster, copy-on-write,
                                         the end of a short backing file */
    uint64_t zbuf_entry;
    bool zbuf_valid;
    z_stream zs;
    bool zs_ready;

    uint64_t incompat; /* the header's incompatible features but the dirty bit */
    bool dirty_marked; /* we set the dirty bit: refcounts may run ahead until close */
};

static struct qcow2 *qcow2_of(struct disk_backend *b)
{
    return (struct qcow2 *)b;
}

static uint64_t qcow2_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return be64toh(v);
}

static uint32_t qcow2_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return be32toh(v);
}

static void qcow2_put_be64(uint8_t *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, 8);
}

static int qcow2_corrupt(struct qcow2 *q, const char *what, uint64_t v)
{
    log_error("qcow2 %s: %s (%#llx); the image is damaged", q->b.path, what, (unsigned long long)v);
    return -EIO;
}

/* ---- I/O with the ordering bookkeeping ---- */

static int qcow2_write(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
    q->unsynced = true;
    return disk_fd_pwrite(q->fd, buf, len, off);
}

static int qcow2_sync(struct qcow2 *q)
{
    if (!q->unsynced) return 0;
    if (fdatasync(q->fd) != 0) return -errno;
    q->unsynced = false;
    return 0;
}

/* ---- table caches ---- */

static int qcow2_cache_init(struct qcow2_cache *c, unsigned n, uint64_t cs)
{
    c->n = n;
    c->e = calloc(n, sizeof(*c->e));
    if (!c->e) return -ENOMEM;
    for (unsigned k = 0; k < n; k++)
        if (!(c->e[k].data = malloc(cs))) return -ENOMEM;
    return 0;
}

static void qcow2_cache_free(struct qcow2_cache *c)
{
    for (unsigned k = 0; c->e && k < c->n; k++)
        free(c->e[k].data);
    free(c->e);
}

static int qcow2_cache_write_dirty(struct qcow2 *q, struct qcow2_cache *c)
{
    for (unsigned k = 0; k < c->n; k++) {
        struct qcow2_cache_entry *e = &c->e[k];
        if (!e->off || !e->dirty) continue;
        int rc = qcow2_write(q, e->data, q->cs, e->off);
        if (rc) return rc;
        e->dirty = false;
    }
    return 0;
}

static int qcow2_flush_locked(struct qcow2 *q);

/* The table at host offset `off`: loaded from the file, or zeroed for a fresh allocation. A
 * dirty L2 table is only evicted after a full flush (its refcounts first); a dirty refcount
 * block may be written alone (a refcount ahead of its references is safe). */
static int qcow2_cache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t off, bool fresh,
                           uint8_t **data)
{
    struct qcow2_cache_entry *victim = &c->e[0];
    for (unsigned k = 0; k < c->n; k++) {
        struct qcow2_cache_entry *e = &c->e[k];
        if (e->off == off) {
            e->used = ++c->tick;
            if (fresh) {
                memset(e->data, 0, q->cs);
                e->dirty = true;
            }
            *data = e->data;
            return 0;
        }
        if (!e->off || (victim->off && e->used < victim->used)) victim = e;
    }
    if (victim->off && victim->dirty) {
        int rc =
            c == &q->l2c ? qcow2_flush_locked(q) : qcow2_write(q, victim->data, q->cs, victim->off);
        if (rc) return rc;
        victim->dirty = false;
    }
    victim->off = 0;
    if (fresh) {
        memset(victim->data, 0, q->cs);
    } else {
        int rc = disk_fd_pread(q->fd, victim->data, q->cs, off, false);
        if (rc) return rc == -EIO ? qcow2_corrupt(q, "table past the end of the file", off) : rc;
    }
    victim->off = off;
    victim->dirty = fresh;
    victim->used = ++c->tick;
    *data = victim->data;
    return 0;
}

static void qcow2_cache_mark_dirty(struct qcow2_cache *c, const uint8_t *data)
{
    for (unsigned k = 0; k < c->n; k++)
        if (c->e[k].data == data) c->e[k].dirty = true;
}

/* ---- refcounts ---- */

static uint64_t qcow2_rc_read(const struct qcow2 *q, const uint8_t *blk, uint64_t i)
{
    switch (q->refcount_order) {
    case 0: return (blk[i / 8] >> (i % 8)) & 1;
    case 1: return (blk[i / 4] >> (2 * (i % 4))) & 3;
    case 2: return (blk[i / 2] >> (4 * (i % 2))) & 15;
    case 3: return blk[i];
    case 4: return (uint64_t)blk[2 * i] << 8 | blk[2 * i + 1];
    case 5: return qcow2_be32(blk + 4 * i);
    default: return qcow2_be64(blk + 8 * i);
    }
}

static void qcow2_rc_write(const struct qcow2 *q, uint8_t *blk, uint64_t i, uint64_t v)
{
    unsigned s;
    switch (q->refcount_order) {
    case 0:
    case 1:
    case 2:
        s = (unsigned)(i % (8u >> q->refcount_order)) << q->refcount_order;
        {
            uint8_t mask = (uint8_t)(((1u << (1u << q->refcount_order)) - 1) << s);
            uint8_t *p = &blk[i / (8u >> q->refcount_order)];
            *p = (uint8_t)((*p & ~mask) | ((v << s) & mask));
        }
        break;
    case 3: blk[i] = (uint8_t)v; break;
    case 4:
        blk[2 * i] = (uint8_t)(v >> 8);
        blk[2 * i + 1] = (uint8_t)v;
        break;
    case 5: {
        uint32_t x = htobe32((uint32_t)v);
        memcpy(blk + 4 * i, &x, 4);
        break;
    }
    default: qcow2_put_be64(blk + 8 * i, v); break;
    }
}

static int qcow2_rc_set(struct qcow2 *q, uint64_t cluster, uint64_t v);

/* One refcount decrement for host cluster c, applied by the next flush after the maps. */
static int qcow2_queue_free(struct qcow2 *q, uint64_t c)
{
    if (q->nfrees == q->capfrees) {
        size_t cap = q->capfrees ? q->capfrees * 2 : 64;
        uint64_t *f = realloc(q->frees, cap * sizeof(*f));
        if (!f) return -ENOMEM;
        q->frees = f;
        q->capfrees = cap;
    }
    q->frees[q->nfrees++] = c;
    return 0;
}

/* Grow the refcount table to at least `need` entries: a new, larger table appended at the end;
 * the header is pointed at it during the next flush, after its contents are durable. */
static int qcow2_rt_grow(struct qcow2 *q, uint64_t need)
{
    uint64_t per = q->cs / 8;
    uint64_t clusters = q->rt_clusters * 2ull;
    if (clusters * per < need) clusters = (need + per - 1) / per;
    if (clusters * q->cs > QCOW2_MAX_RT_BYTES) { /* QEMU opens no larger table */
        clusters = QCOW2_MAX_RT_BYTES / q->cs;
        if (clusters * per < need || clusters <= q->rt_clusters) return -EFBIG;
    }
    uint64_t *rt = realloc(q->rt, clusters * q->cs);
    if (!rt) return -ENOMEM;
    memset(rt + q->rt_entries, 0, (clusters * per - q->rt_entries) * 8);
    q->rt = rt;
    uint64_t old_off = q->rt_off, old_clusters = q->rt_clusters;
    q->rt_entries = clusters * per;
    q->rt_off = q->end;
    q->rt_clusters = (uint32_t)clusters;
    q->end += clusters * q->cs;
    q->rt_dirty = q->rt_moved = true;
    for (uint64_t k = 0; k < clusters; k++) {
        int rc = qcow2_rc_set(q, (q->rt_off >> q->cluster_bits) + k, 1);
        if (rc) return rc;
    }
    for (uint64_t k = 0; k < old_clusters; k++) {
        int rc = qcow2_queue_free(q, (old_off >> q->cluster_bits) + k);
        if (rc) return rc;
    }
    return 0;
}

/* The refcount block for `cluster`; NULL (refcount 0) when none exists and !create. */
static int qcow2_rc_block(struct qcow2 *q, uint64_t cluster, bool create, uint8_t **blk)
{
    uint64_t t = cluster >> q->rb_bits;
    *blk = NULL;
    if (t >= q->rt_entries) {
        if (!create) return 0;
        int rc = qcow2_rt_grow(q, t + 1);
        if (rc) return rc;
    }
    uint64_t off = q->rt[t] & QCOW2_OFFSET_MASK;
    if ((q->rt[t] & (q->cs - 1)) || (off && off < q->header_cluster_end))
        return qcow2_corrupt(q, "bad refcount block offset", q->rt[t]);
    if (!off) {
        if (!create) return 0;
        off = q->end;
        q->end += q->cs;
        int rc = qcow2_cache_get(q, &q->rbc, off, true, blk);
        if (rc) return rc;
        q->rt[t] = off;
        q->rt_dirty = true;
        rc = qcow2_rc_set(q, off >> q->cluster_bits, 1); /* it counts itself */
        if (rc) return rc;
    }
    return qcow2_cache_get(q, &q->rbc, off, false, blk);
}

static int qcow2_rc_get(struct qcow2 *q, uint64_t cluster, uint64_t *v)
{
    uint8_t *blk;
    int rc = qcow2_rc_block(q, cluster, false, &blk);
    *v = rc || !blk ? 0 : qcow2_rc_read(q, blk, cluster & ((1ull << q->rb_bits) - 1));
    return rc;
}

static int qcow2_rc_set(struct qcow2 *q, uint64_t cluster, uint64_t v)
{
    uint8_t *blk;
    int rc = qcow2_rc_block(q, cluster, true, &blk);
    if (rc) return rc;
    qcow2_rc_write(q, blk, cluster & ((1ull << q->rb_bits) - 1), v);
    qcow2_cache_mark_dirty(&q->rbc, blk);
    return 0;
}

/* Before the first refcount change of a session (v3): set the header's dirty bit, durable, so
 * that an image left by a crash (refcounts ahead of references: leaks) is repaired by the next
 * writable open, vessel's or QEMU's. Cleared at a clean close. */
static int qcow2_mark_dirty(struct qcow2 *q)
{
    if (q->version < 3 || q->dirty_marked) return 0;
    uint8_t h[8];
    qcow2_put_be64(h, q->incompat | QCOW2_INCOMPAT_DIRTY);
    int rc = qcow2_write(q, h, 8, 72);
    if (rc || (rc = qcow2_sync(q))) return rc;
    q->dirty_marked = true;
    return 0;
}

/* n fresh clusters at the end of the file, each with refcount 1. */
static int qcow2_alloc(struct qcow2 *q, uint64_t n, uint64_t *off)
{
    int drc = qcow2_mark_dirty(q);
    if (drc) return drc;
    if (q->end + n * q->cs > QCOW2_MAX_SIZE) return -EFBIG;
    *off = q->end;
    q->end += n * q->cs;
    for (uint64_t k = 0; k < n; k++) {
        int rc = qcow2_rc_set(q, (*off >> q->cluster_bits) + k, 1);
        if (rc) return rc;
    }
    return 0;
}

/* Queue refcount decrements for the host clusters an L2 entry held (applied after the map
 * that no longer names them is durable). */
static int qcow2_free_later(struct qcow2 *q, uint64_t entry)
{
    uint64_t first, last;
    int drc = qcow2_mark_dirty(q);
    if (drc) return drc;
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        uint64_t coff = entry & q->coffset_mask;
        uint64_t nsec = ((entry >> q->csize_shift) & q->csize_mask) + 1;
        first = (coff & ~511ull) >> q->cluster_bits;
        last = ((coff & ~511ull) + nsec * 512 - 1) >> q->cluster_bits;
    } else {
        uint64_t off = entry & QCOW2_OFFSET_MASK;
        if (!off) return 0;
        first = last = off >> q->cluster_bits;
    }
    for (uint64_t c = first; c <= last; c++) {
        int rc = qcow2_queue_free(q, c);
        if (rc) return rc;
    }
    return 0;
}

static int qcow2_apply_frees(struct qcow2 *q)
{
    for (size_t k = 0; k < q->nfrees; k++) {
        uint64_t c = q->frees[k], v;
        int rc = qcow2_rc_get(q, c, &v);
        if (rc) return rc;
        if (v == 0) {
            log_error("qcow2 %s: cluster %#llx freed with refcount 0", q->b.path,
                      (unsigned long long)(c << q->cluster_bits));
            continue;
        }
        if ((rc = qcow2_rc_set(q, c, v - 1))) return rc;
        if (v == 1) /* give the space back; the file keeps its size */
            fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      (off_t)(c << q->cluster_bits), (off_t)q->cs);
    }
    q->nfrees = 0;
    return 0;
}

/* ---- flush: the ordering that keeps a crashed image consistent ---- */

static bool qcow2_cache_any_dirty(const struct qcow2_cache *c)
{
    for (unsigned k = 0; k < c->n; k++)
        if (c->e[k].off && c->e[k].dirty) return true;
    return false;
}

static int qcow2_write_rt(struct qcow2 *q)
{
    size_t bytes = (size_t)q->rt_clusters * q->cs;
    uint64_t *be = malloc(bytes);
    if (!be) return -ENOMEM;
    for (uint64_t k = 0; k < q->rt_entries; k++)
        be[k] = htobe64(q->rt[k]);
    int rc = qcow2_write(q, be, bytes, q->rt_off);
    free(be);
    return rc;
}

static int qcow2_flush_locked(struct qcow2 *q)
{
    int rc = 0;
    /* 1. data and refcount blocks, then the refcount table, then the header naming it */
    if ((rc = qcow2_cache_write_dirty(q, &q->rbc)) || (rc = qcow2_sync(q))) return rc;
    if (q->rt_dirty) {
        if ((rc = qcow2_write_rt(q)) || (rc = qcow2_sync(q))) return rc;
        q->rt_dirty = false;
    }
    if (q->rt_moved) {
        uint8_t h[12];
        qcow2_put_be64(h, q->rt_off);
        uint32_t n = htobe32(q->rt_clusters);
        memcpy(h + 8, &n, 4);
        if ((rc = qcow2_write(q, h, sizeof(h), 48)) || (rc = qcow2_sync(q))) return rc;
        q->rt_moved = false;
    }
    /* 2. L2 tables, 3. the L1 entries pointing at new ones */
    if (qcow2_cache_any_dirty(&q->l2c)) {
        if ((rc = qcow2_cache_write_dirty(q, &q->l2c)) || (rc = qcow2_sync(q))) return rc;
    }
    if (q->l1_dirty_hi > q->l1_dirty_lo) {
        uint32_t lo = q->l1_dirty_lo, n = q->l1_dirty_hi - lo;
        uint64_t *be = malloc((size_t)n * 8);
        if (!be) return -ENOMEM;
        for (uint32_t k = 0; k < n; k++)
            be[k] = htobe64(q->l1[lo + k]);
        rc = qcow2_write(q, be, (size_t)n * 8, q->l1_off + (uint64_t)lo * 8);
        free(be);
        if (rc || (rc = qcow2_sync(q))) return rc;
        q->l1_dirty_lo = q->l1_dirty_hi = 0;
    }
    /* 4. only now may the clusters the old map named lose their references */
    if (q->nfrees) {
        if ((rc = qcow2_apply_frees(q))) return rc;
        if ((rc = qcow2_cache_write_dirty(q, &q->rbc)) || (rc = qcow2_sync(q))) return rc;
    }
    return qcow2_sync(q);
}

/* ---- the map ---- */

/* The L2 entry for guest offset g (0 when its L1 entry is empty). */
static int qcow2_lookup(struct qcow2 *q, uint64_t g, uint64_t *entry)
{
    uint64_t l1i = g >> (q->cluster_bits + q->l2_bits);
    *entry = 0;
    if (l1i >= q->l1_size) return 0;
    uint64_t l1e = q->l1[l1i], off = l1e & QCOW2_OFFSET_MASK;
    if (!off) return 0;
    if (off & (q->cs - 1) || off < q->header_cluster_end)
        return qcow2_corrupt(q, "bad L2 table offset", l1e);
    uint8_t *l2;
    int rc = qcow2_cache_get(q, &q->l2c, off, false, &l2);
    if (rc) return rc;
    *entry = qcow2_be64(l2 + 8 * ((g >> q->cluster_bits) & ((1ull << q->l2_bits) - 1)));
    return 0;
}

static enum qcow2_kind qcow2_kind_of(const struct qcow2 *q, uint64_t e)
{
    if (e & QCOW2_OFLAG_COMPRESSED) return QCOW2_COMPRESSED;
    if ((e & QCOW2_OFLAG_ZERO) && q->version >= 3) return QCOW2_ZERO;
    if (e & QCOW2_OFFSET_MASK) return QCOW2_NORMAL;
    return QCOW2_UNALLOC;
}

/* A writable L2 table for guest offset g: allocated (zeroed) when its L1 entry is empty. */
static int qcow2_l2_for_write(struct qcow2 *q, uint64_t g, uint8_t **l2, uint64_t *idx)
{
    uint64_t l1i = g >> (q->cluster_bits + q->l2_bits);
    *idx = (g >> q->cluster_bits) & ((1ull << q->l2_bits) - 1);
    if (l1i >= q->l1_size) return qcow2_corrupt(q, "L1 table too small for the disk", l1i);
    uint64_t l1e = q->l1[l1i], off = l1e & QCOW2_OFFSET_MASK;
    int rc;
    if (!off) {
        if ((rc = qcow2_alloc(q, 1, &off))) return rc;
        if ((rc = qcow2_cache_get(q, &q->l2c, off, true, l2))) return rc;
        q->l1[l1i] = off | QCOW2_OFLAG_COPIED;
        if (q->l1_dirty_hi == q->l1_dirty_lo) {
            q->l1_dirty_lo = (uint32_t)l1i;
            q->l1_dirty_hi = (uint32_t)l1i + 1;
        } else {
            if (l1i < q->l1_dirty_lo) q->l1_dirty_lo = (uint32_t)l1i;
            if (l1i >= q->l1_dirty_hi) q->l1_dirty_hi = (uint32_t)l1i + 1;
        }
        return 0;
    }
    if (off & (q->cs - 1) || off < q->header_cluster_end)
        return qcow2_corrupt(q, "bad L2 table offset", l1e);
    if (!(l1e & QCOW2_OFLAG_COPIED)) /* shared with an internal snapshot */
        return qcow2_corrupt(q, "shared L2 table (internal snapshot) cannot be written", l1e);
    return qcow2_cache_get(q, &q->l2c, off, false, l2);
}

static int qcow2_set_entry(struct qcow2 *q, uint64_t g, uint64_t entry)
{
    uint8_t *l2;
    uint64_t idx;
    int rc = qcow2_l2_for_write(q, g, &l2, &idx);
    if (rc) return rc;
    qcow2_put_be64(l2 + 8 * idx, entry);
    qcow2_cache_mark_dirty(&q->l2c, l2);
    return 0;
}

/* ---- iovec slices ---- */

struct qcow2_cursor {
    const struct iovec *iov;
    int n, k;
    size_t at; /* bytes into iov[k] */
};

/* The next `len` bytes of the cursor as iovecs in out (at most the source's count). */
static int qcow2_slice(struct qcow2_cursor *c, size_t len, struct iovec *out)
{
    int m = 0;
    while (len && c->k < c->n) {
        size_t avail = c->iov[c->k].iov_len - c->at;
        size_t take = avail < len ? avail : len;
        if (take) out[m++] = (struct iovec){(uint8_t *)c->iov[c->k].iov_base + c->at, take};
        c->at += take;
        len -= take;
        if (c->at == c->iov[c->k].iov_len) {
            c->k++;
            c->at = 0;
        }
    }
    return m;
}

static void qcow2_slice_fill(const struct iovec *v, int m, const uint8_t *src)
{
    for (int k = 0; k < m; k++) {
        if (src) {
            memcpy(v[k].iov_base, src, v[k].iov_len);
            src += v[k].iov_len;
        } else {
            memset(v[k].iov_base, 0, v[k].iov_len);
        }
    }
}

static void qcow2_slice_gather(const struct iovec *v, int m, uint8_t *dst)
{
    for (int k = 0; k < m; k++) {
        memcpy(dst, v[k].iov_base, v[k].iov_len);
        dst += v[k].iov_len;
    }
}

/* ---- reads ---- */

static int qcow2_decompress(struct qcow2 *q, uint64_t entry)
{
    if (q->zbuf_valid && q->zbuf_entry == entry) return 0;
    uint64_t coff = entry & q->coffset_mask;
    uint64_t nsec = ((entry >> q->csize_shift) & q->csize_mask) + 1;
    uint64_t len = nsec * 512 - (coff & 511);
    if (coff < q->header_cluster_end) return qcow2_corrupt(q, "compressed cluster in header", coff);
    if (len > 2 * q->cs) len = 2 * q->cs;
    int rc = disk_fd_pread(q->fd, q->cbuf, len, coff, true);
    if (rc) return rc;
    if (!q->zs_ready) {
        memset(&q->zs, 0, sizeof(q->zs));
        if (inflateInit2(&q->zs, -15) != Z_OK) return -ENOMEM;
        q->zs_ready = true;
    } else if (inflateReset(&q->zs) != Z_OK) {
        return -EIO;
    }
    q->zs.next_in = q->cbuf;
    q->zs.avail_in = (uInt)len;
    q->zs.next_out = q->zbuf;
    q->zs.avail_out = (uInt)q->cs;
    int zr = inflate(&q->zs, Z_FINISH);
    if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || q->zs.avail_out != 0)
        return qcow2_corrupt(q, "compressed cluster does not inflate to a cluster", coff);
    q->zbuf_entry = entry;
    q->zbuf_valid = true;
    return 0;
}

/* Read [g, g+len) within one cluster into v[0..m). */
static int qcow2_read_chunk(struct qcow2 *q, uint64_t g, size_t len, const struct iovec *v, int m)
{
    uint64_t entry;
    int rc = qcow2_lookup(q, g, &entry);
    if (rc) return rc;
    uint64_t in = g & (q->cs - 1);
    switch (qcow2_kind_of(q, entry)) {
    case QCOW2_UNALLOC:
        if (q->backing && g < disk_size(q->backing)) {
            uint64_t bsize = disk_size(q->backing);
            if (g + len <= bsize) return disk_preadv(q->backing, v, m, g);
            /* the backing file ends inside this chunk: the rest reads as zeros */
            uint8_t *tmp = q->tmp;
            struct iovec t = {tmp, (size_t)(bsize - g)};
            if ((rc = disk_preadv(q->backing, &t, 1, g))) return rc;
            memset(tmp + (bsize - g), 0, len - (bsize - g));
            qcow2_slice_fill(v, m, tmp);
            return 0;
        }
        qcow2_slice_fill(v, m, NULL);
        return 0;
    case QCOW2_ZERO: qcow2_slice_fill(v, m, NULL); return 0;
    case QCOW2_NORMAL: {
        uint64_t off = entry & QCOW2_OFFSET_MASK;
        if (off & (q->cs - 1)) return qcow2_corrupt(q, "unaligned data cluster", entry);
        if (off < q->header_cluster_end) return qcow2_corrupt(q, "data cluster in header", entry);
        return disk_fd_preadv(q->fd, v, m, off + in, true);
    }
    case QCOW2_COMPRESSED:
        if ((rc = qcow2_decompress(q, entry))) return rc;
        qcow2_slice_fill(v, m, q->zbuf + in);
        return 0;
    }
    return -EIO;
}

/* Split a request into pieces within one cluster each and hand them to `chunk` in order, under
 * the image lock; the first error ends the request. */
typedef int qcow2_chunk_fn(struct qcow2 *q, uint64_t g, size_t len, const struct iovec *v, int m);

static int qcow2_for_each_chunk(struct disk_backend *b, const struct iovec *iov, int n,
                                uint64_t off, qcow2_chunk_fn *chunk)
{
    struct qcow2 *q = qcow2_of(b);
    size_t total = 0;
    for (int k = 0; k < n; k++)
        total += iov[k].iov_len;
    if (off > b->size || total > b->size - off) return -EIO;
    struct iovec local[64], *v = n <= 64 ? local : malloc(sizeof(*v) * (size_t)n);
    if (!v) return -ENOMEM;
    struct qcow2_cursor c = {iov, n, 0, 0};
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    while (total && !rc) {
        size_t len = q->cs - (off & (q->cs - 1));
        if (len > total) len = total;
        int m = qcow2_slice(&c, len, v);
        rc = chunk(q, off, len, v, m);
        off += len;
        total -= len;
    }
    pthread_mutex_unlock(&q->lock);
    if (v != local) free(v);
    return rc;
}

static int qcow2_preadv(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    return qcow2_for_each_chunk(b, iov, n, off, qcow2_read_chunk);
}

/* ---- writes ---- */

/* Write [g, g+len) within one cluster from v[0..m) (v NULL: zeros). */
static int qcow2_write_chunk(struct qcow2 *q, uint64_t g, size_t len, const struct iovec *v, int m)
{
    uint64_t entry;
    int rc = qcow2_lookup(q, g, &entry);
    if (rc) return rc;
    uint64_t in = g & (q->cs - 1), start = g - in;
    enum qcow2_kind kind = qcow2_kind_of(q, entry);
    uint64_t host = entry & QCOW2_OFFSET_MASK;
    if (kind == QCOW2_NORMAL && (entry & QCOW2_OFLAG_COPIED)) {
        if (host & (q->cs - 1)) return qcow2_corrupt(q, "unaligned data cluster", entry);
        if (host < q->header_cluster_end) return qcow2_corrupt(q, "data cluster in header", entry);
        q->unsynced = true;
        if (v) return disk_fd_pwritev(q->fd, v, m, host + in);
        memset(q->cow, 0, len);
        return disk_fd_pwrite(q->fd, q->cow, len, host + in);
    }
    /* a whole new cluster: the old contents around the written part, then the new bytes */
    bool full = in == 0 && len == q->cs;
    bool prealloc = kind == QCOW2_ZERO && host && (entry & QCOW2_OFLAG_COPIED) &&
                    !(host & (q->cs - 1)) && host >= q->header_cluster_end;
    if (!full || !v) {
        if (kind == QCOW2_ZERO || !v) {
            memset(q->cow, 0, q->cs);
            if (kind != QCOW2_ZERO && !full) {
                struct iovec t = {q->cow, q->cs};
                if ((rc = qcow2_read_chunk(q, start, q->cs, &t, 1))) return rc;
                memset(q->cow + in, 0, len);
            }
        } else {
            struct iovec t = {q->cow, q->cs};
            if ((rc = qcow2_read_chunk(q, start, q->cs, &t, 1))) return rc;
        }
        if (v) qcow2_slice_gather(v, m, q->cow + in);
    }
    uint64_t off = host;
    if (!prealloc && (rc = qcow2_alloc(q, 1, &off))) return rc;
    q->unsynced = true;
    rc = full && v ? disk_fd_pwritev(q->fd, v, m, off) : disk_fd_pwrite(q->fd, q->cow, q->cs, off);
    if (rc) return rc;
    if ((rc = qcow2_set_entry(q, start, off | QCOW2_OFLAG_COPIED))) return rc;
    if (q->zbuf_valid && q->zbuf_entry == entry) q->zbuf_valid = false;
    return prealloc ? 0 : qcow2_free_later(q, entry);
}

static int qcow2_pwritev(struct disk_backend *b, const struct iovec *iov, int n, uint64_t off)
{
    return qcow2_for_each_chunk(b, iov, n, off, qcow2_write_chunk);
}

/* Make whole clusters read as zeros by changing the map: the zero flag (v3), or an empty entry
 * where nothing shows through (v2 without a backing file). Partial clusters are written with
 * zeros when `must` (write-zeroes) and left alone otherwise (discard is a hint). */
static int qcow2_zero_range(struct qcow2 *q, uint64_t off, uint64_t len, bool unmap, bool must)
{
    if (off > q->b.size || len > q->b.size - off) return -EIO;
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    while (len && !rc) {
        uint64_t in = off & (q->cs - 1);
        uint64_t chunk = q->cs - in;
        if (chunk > len) chunk = len;
        bool whole = in == 0 && (chunk == q->cs || off + chunk == q->b.size);
        uint64_t entry;
        if ((rc = qcow2_lookup(q, off, &entry))) break;
        enum qcow2_kind kind = qcow2_kind_of(q, entry);
        bool can_map = whole && (q->version >= 3 || !q->backing);
        if (can_map) {
            uint64_t now;
            if (q->version >= 3 && !unmap && kind == QCOW2_NORMAL &&
                (entry & QCOW2_OFLAG_COPIED)) /* keep the cluster, preallocated zero */
                now = (entry & QCOW2_OFFSET_MASK) | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO;
            else
                now = q->version >= 3 ? QCOW2_OFLAG_ZERO : 0;
            bool already = kind == QCOW2_ZERO || (kind == QCOW2_UNALLOC && !q->backing);
            if (!already && now != entry) {
                rc = qcow2_set_entry(q, off, now);
                if (!rc && !(now & QCOW2_OFFSET_MASK)) rc = qcow2_free_later(q, entry);
                if (q->zbuf_valid && q->zbuf_entry == entry) q->zbuf_valid = false;
            }
        } else if (must) {
            bool zero = kind == QCOW2_ZERO || (kind == QCOW2_UNALLOC && !q->backing);
            if (!zero) rc = qcow2_write_chunk(q, off, (size_t)chunk, NULL, 0);
        }
        off += chunk;
        len -= chunk;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static int qcow2_discard(struct disk_backend *b, uint64_t off, uint64_t len)
{
    return qcow2_zero_range(qcow2_of(b), off, len, true, false);
}

static int qcow2_write_zeroes(struct disk_backend *b, uint64_t off, uint64_t len, bool may_unmap)
{
    return qcow2_zero_range(qcow2_of(b), off, len, may_unmap, true);
}

static int qcow2_flush(struct disk_backend *b)
{
    struct qcow2 *q = qcow2_of(b);
    pthread_mutex_lock(&q->lock);
    int rc = qcow2_flush_locked(q);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static void qcow2_free(struct qcow2 *q)
{
    if (q->backing) disk_close(q->backing);
    if (q->zs_ready) inflateEnd(&q->zs);
    qcow2_cache_free(&q->l2c);
    qcow2_cache_free(&q->rbc);
    free(q->l1);
    free(q->rt);
    free(q->frees);
    free(q->cbuf);
    free(q->zbuf);
    free(q->cow);
    free(q->tmp);
    free(q->b.path);
    if (q->fd >= 0) close(q->fd);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void qcow2_close(struct disk_backend *b)
{
    struct qcow2 *q = qcow2_of(b);
    if (!b->readonly) {
        int rc = qcow2_flush(b);
        if (!rc && q->dirty_marked) { /* consistent again: clear the dirty bit */
            uint8_t h[8];
            qcow2_put_be64(h, q->incompat);
            if (!(rc = qcow2_write(q, h, 8, 72))) rc = qcow2_sync(q);
        }
        if (rc) log_error("qcow2 %s: writing metadata at close: %s", b->path, strerror(-rc));
    }
    qcow2_free(q);
}

static const struct disk_ops qcow2_ops = {
    .preadv = qcow2_preadv,
    .pwritev = qcow2_pwritev,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
    .write_zeroes = qcow2_write_zeroes,
    .close = qcow2_close,
};

/* ---- repair ---- */

struct qcow2_refs {
    uint16_t *n;
    uint64_t clusters;
};

static int qcow2_refs_mark(struct qcow2 *q, struct qcow2_refs *r, uint64_t off, uint64_t len)
{
    if (!len) return 0;
    uint64_t first = off >> q->cluster_bits, last = (off + len - 1) >> q->cluster_bits;
    if (last >= r->clusters) return qcow2_corrupt(q, "reference past the end of the file", off);
    for (uint64_t c = first; c <= last; c++)
        if (r->n[c] < UINT16_MAX) r->n[c]++;
    return 0;
}

/* Rebuild every refcount from the references (the header, the L1 table, the refcount table
 * and blocks, the L2 tables, data and compressed clusters): what `qemu-img check -r all` does
 * for an image whose dirty bit says its refcounts may be off (vessel or QEMU with lazy
 * refcounts stopped without closing it). Raising a refcount and dropping a leaked one are both
 * safe to write in any order: no reference changes. */
static int qcow2_repair(struct qcow2 *q)
{
    struct qcow2_refs r = {.clusters = q->end >> q->cluster_bits};
    if (r.clusters > (1ull << 28)) return -EFBIG;
    if (!(r.n = calloc(r.clusters ? r.clusters : 1, sizeof(*r.n)))) return -ENOMEM;
    uint8_t *l2 = q->tmp;
    int rc = qcow2_refs_mark(q, &r, 0, q->cs);
    if (!rc) rc = qcow2_refs_mark(q, &r, q->l1_off, (uint64_t)q->l1_size * 8);
    if (!rc) rc = qcow2_refs_mark(q, &r, q->rt_off, (uint64_t)q->rt_clusters * q->cs);
    for (uint64_t t = 0; !rc && t < q->rt_entries; t++) {
        uint64_t off = q->rt[t] & QCOW2_OFFSET_MASK;
        if ((q->rt[t] & (q->cs - 1)) || (off && off < q->cs))
            rc = qcow2_corrupt(q, "bad refcount block offset", q->rt[t]);
        else if (off)
            rc = qcow2_refs_mark(q, &r, off, q->cs);
    }
    for (uint32_t i = 0; !rc && i < q->l1_size; i++) {
        uint64_t off = q->l1[i] & QCOW2_OFFSET_MASK;
        if (!off) continue;
        if ((off & (q->cs - 1)) || off < q->cs) {
            rc = qcow2_corrupt(q, "bad L2 table offset", q->l1[i]);
            break;
        }
        if ((rc = qcow2_refs_mark(q, &r, off, q->cs))) break;
        if ((rc = disk_fd_pread(q->fd, l2, q->cs, off, false))) break;
        for (uint64_t k = 0; !rc && k < (1ull << q->l2_bits); k++) {
            uint64_t e = qcow2_be64(l2 + 8 * k);
            if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t coff = e & q->coffset_mask;
                uint64_t nsec = ((e >> q->csize_shift) & q->csize_mask) + 1;
                rc = qcow2_refs_mark(q, &r, coff & ~511ull, nsec * 512);
            } else if (e & QCOW2_OFFSET_MASK) {
                uint64_t d = e & QCOW2_OFFSET_MASK;
                if ((d & (q->cs - 1)) || d < q->cs)
                    rc = qcow2_corrupt(q, "bad data cluster offset", e);
                else
                    rc = qcow2_refs_mark(q, &r, d, q->cs);
            }
        }
    }
    uint64_t max = q->refcount_order >= 6 ? UINT64_MAX : (1ull << (1u << q->refcount_order)) - 1;
    uint64_t fixed = 0;
    /* refcounts past the end of the file (blocks written ahead of a crash) go back to 0 first,
     * before the fix-ups below may append blocks there */
    for (uint64_t t = r.clusters >> q->rb_bits; !rc && t < q->rt_entries; t++) {
        if (!q->rt[t]) continue;
        uint64_t c = t << q->rb_bits, v;
        if (c < r.clusters) c = r.clusters;
        for (; !rc && c < (t + 1) << q->rb_bits; c++)
            if (!(rc = qcow2_rc_get(q, c, &v)) && v) {
                rc = qcow2_rc_set(q, c, 0);
                fixed++;
            }
    }
    for (uint64_t c = 0; !rc && c < r.clusters; c++) {
        uint64_t v;
        if ((rc = qcow2_rc_get(q, c, &v))) break;
        if (v == r.n[c]) continue;
        if (r.n[c] > max) {
            rc = qcow2_corrupt(q, "cluster referenced more often than refcounts can say", c);
            break;
        }
        if (!r.n[c] && !v) continue;
        rc = qcow2_rc_set(q, c, r.n[c]); /* may append a refcount block: past r.clusters */
        fixed++;
    }
    free(r.n);
    if (!rc) rc = qcow2_flush_locked(q);
    if (!rc && fixed)
        log_info("qcow2 %s: repaired %llu refcounts left by an unclean stop", q->b.path,
                 (unsigned long long)fixed);
    return rc;
}

/* ---- open ---- */

#define QCOW2_FAIL(...)                                                                            \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto fail;                                                                                 \
    } while (0)

static int qcow2_read_table(int fd, uint64_t off, uint64_t entries, uint64_t **out)
{
    uint64_t *t = calloc(entries ? entries : 1, 8);
    if (!t) return -ENOMEM;
    int rc = disk_fd_pread(fd, t, entries * 8, off, false);
    if (rc) {
        free(t);
        return rc;
    }
    for (uint64_t k = 0; k < entries; k++)
        t[k] = be64toh(t[k]);
    *out = t;
    return 0;
}

struct disk_backend *disk_qcow2_open(int fd, const char *path, bool readonly,
                                     const struct disk_chain *chain, char *err, size_t errlen)
{
    uint8_t *h = NULL;
    struct qcow2 *q = calloc(1, sizeof(*q));
    if (!q) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->fd = fd;
    pthread_mutex_init(&q->lock, NULL);
    q->b.ops = &qcow2_ops;
    q->b.readonly = readonly;
    if (!(q->b.path = strdup(path))) QCOW2_FAIL("out of memory");
    struct stat st;
    if (fstat(fd, &st) != 0) QCOW2_FAIL("cannot stat %s: %s", path, strerror(errno));
    uint64_t fsize = (uint64_t)st.st_size;
    if (fsize < 72)
        QCOW2_FAIL("%s: qcow2 header truncated (%llu bytes)", path, (unsigned long long)fsize);
    uint8_t h0[104] = {0};
    if (disk_fd_pread(fd, h0, fsize < sizeof(h0) ? fsize : sizeof(h0), 0, false))
        QCOW2_FAIL("cannot read %s: %s", path, strerror(errno));

    q->version = qcow2_be32(h0 + 4);
    if (q->version != 2 && q->version != 3)
        QCOW2_FAIL("%s: qcow2 version %u is not supported (2 or 3)", path, q->version);
    uint64_t backing_off = qcow2_be64(h0 + 8);
    uint32_t backing_len = qcow2_be32(h0 + 16);
    q->cluster_bits = qcow2_be32(h0 + 20);
    uint64_t size = qcow2_be64(h0 + 24);
    uint32_t crypt = qcow2_be32(h0 + 32);
    q->l1_size = qcow2_be32(h0 + 36);
    q->l1_off = qcow2_be64(h0 + 40);
    q->rt_off = qcow2_be64(h0 + 48);
    q->rt_clusters = qcow2_be32(h0 + 56);
    uint32_t nb_snapshots = qcow2_be32(h0 + 60);
    uint64_t incompat = 0, autoclear = 0;
    uint32_t header_len = 72;
    q->refcount_order = 4;
    if (q->version >= 3) {
        if (fsize < 104) QCOW2_FAIL("%s: qcow2 v3 header truncated", path);
        incompat = qcow2_be64(h0 + 72);
        autoclear = qcow2_be64(h0 + 88);
        q->refcount_order = qcow2_be32(h0 + 96);
        header_len = qcow2_be32(h0 + 100);
        if (header_len < 104 || header_len % 8)
            QCOW2_FAIL("%s: qcow2 header length %u is invalid", path, header_len);
    }
    if (q->cluster_bits < 9 || q->cluster_bits > 21)
        QCOW2_FAIL("%s: cluster size 2^%u is invalid (512 bytes to 2 MiB)", path, q->cluster_bits);
    q->cs = 1ull << q->cluster_bits;
    q->header_cluster_end = q->cs;
    if (header_len > q->cs) QCOW2_FAIL("%s: qcow2 header larger than a cluster", path);
    if (crypt) QCOW2_FAIL("%s: encrypted qcow2 images are not supported", path);
    if (incompat & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE |
                     QCOW2_INCOMPAT_COMPRESS | QCOW2_INCOMPAT_EXTL2))
        QCOW2_FAIL("%s: unknown incompatible qcow2 features %#llx", path,
                   (unsigned long long)incompat);
    if (incompat & QCOW2_INCOMPAT_DATA_FILE)
        QCOW2_FAIL("%s: qcow2 external data files are not supported", path);
    if (incompat & QCOW2_INCOMPAT_EXTL2)
        QCOW2_FAIL("%s: qcow2 extended L2 entries (subclusters) are not supported", path);
    if (incompat & QCOW2_INCOMPAT_COMPRESS) {
        uint8_t ct = 0;
        if (header_len > 104 && disk_fd_pread(fd, &ct, 1, 104, false) == 0 && ct != 0)
            QCOW2_FAIL("%s: qcow2 compression type %u (zstd) is not supported; convert with "
                       "qemu-img convert -O qcow2 -o compression_type=zlib",
                       path, ct);
    }
    if (!readonly && (incompat & QCOW2_INCOMPAT_CORRUPT))
        QCOW2_FAIL("%s: the image is marked corrupt; repair it with qemu-img check -r all, "
                   "or open it readonly",
                   path);
    if (!readonly && nb_snapshots)
        QCOW2_FAIL("%s: the image has %u internal snapshots; vessel writes only images without "
                   "them (open it readonly, or qemu-img snapshot -d)",
                   path, nb_snapshots);
    if (q->refcount_order > 6)
        QCOW2_FAIL("%s: refcount order %u is invalid", path, q->refcount_order);
    if (size == 0 || size > QCOW2_MAX_SIZE)
        QCOW2_FAIL("%s: virtual size %llu is invalid", path, (unsigned long long)size);
    q->b.size = size;
    q->l2_bits = q->cluster_bits - 3;
    q->rb_bits = q->cluster_bits + 3 - q->refcount_order;
    q->csize_shift = 62 - (q->cluster_bits - 8);
    q->csize_mask = (1ull << (q->cluster_bits - 8)) - 1;
    q->coffset_mask = (1ull << q->csize_shift) - 1;

    /* L1 table: large enough for the disk, inside the file */
    uint64_t per_l1 = q->cs << q->l2_bits;
    uint64_t need = (size + per_l1 - 1) / per_l1;
    if (q->l1_size < need) QCOW2_FAIL("%s: L1 table too small for the virtual size", path);
    if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
        QCOW2_FAIL("%s: L1 table too large (%u entries)", path, q->l1_size);
    if (q->l1_off & (q->cs - 1) || q->l1_off < q->cs || q->l1_off > fsize ||
        (uint64_t)q->l1_size * 8 > fsize - q->l1_off)
        QCOW2_FAIL("%s: L1 table offset %#llx is invalid", path, (unsigned long long)q->l1_off);
    if (qcow2_read_table(fd, q->l1_off, q->l1_size, &q->l1))
        QCOW2_FAIL("%s: cannot read the L1 table", path);

    /* refcount table */
    if (q->rt_clusters == 0 || (uint64_t)q->rt_clusters * q->cs > QCOW2_MAX_RT_BYTES)
        QCOW2_FAIL("%s: refcount table size %u clusters is invalid", path, q->rt_clusters);
    if (q->rt_off & (q->cs - 1) || q->rt_off < q->cs || q->rt_off > fsize ||
        (uint64_t)q->rt_clusters * q->cs > fsize - q->rt_off)
        QCOW2_FAIL("%s: refcount table offset %#llx is invalid", path,
                   (unsigned long long)q->rt_off);
    q->rt_entries = (uint64_t)q->rt_clusters * q->cs / 8;
    if (qcow2_read_table(fd, q->rt_off, q->rt_entries, &q->rt))
        QCOW2_FAIL("%s: cannot read the refcount table", path);

    /* header extensions and the backing file name, all in the first cluster */
    size_t hlen = fsize < q->cs ? (size_t)fsize : (size_t)q->cs;
    if (!(h = malloc(hlen)) || disk_fd_pread(fd, h, hlen, 0, false))
        QCOW2_FAIL("cannot read %s: %s", path, strerror(errno));
    enum disk_format bfmt = DISK_FORMAT_AUTO;
    uint64_t ext_end = backing_off && backing_off < hlen ? backing_off : hlen;
    for (uint64_t p = header_len; p + 8 <= ext_end;) {
        uint32_t type = qcow2_be32(h + p), len = qcow2_be32(h + p + 4);
        p += 8;
        if (type == 0) break;
        if (len > ext_end - p) QCOW2_FAIL("%s: qcow2 header extension %#x overruns", path, type);
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            if (len == 3 && !memcmp(h + p, "raw", 3))
                bfmt = DISK_FORMAT_RAW;
            else if (len == 5 && !memcmp(h + p, "qcow2", 5))
                bfmt = DISK_FORMAT_QCOW2;
            else
                QCOW2_FAIL("%s: backing file format '%.*s' is not supported (raw or qcow2)", path,
                           (int)(len < 32 ? len : 32), (const char *)(h + p));
        } else if (type == QCOW2_EXT_CRYPTO) {
            QCOW2_FAIL("%s: encrypted qcow2 images are not supported", path);
        } else if (type == QCOW2_EXT_DATA_FILE) {
            QCOW2_FAIL("%s: qcow2 external data files are not supported", path);
        }
        p += (len + 7ull) & ~7ull;
    }
    if (backing_off) {
        if (backing_len == 0 || backing_len > 1023 || backing_off > hlen ||
            backing_len > hlen - backing_off)
            QCOW2_FAIL("%s: backing file name (offset %#llx, %u bytes) is invalid", path,
                       (unsigned long long)backing_off, backing_len);
        char name[1024];
        memcpy(name, h + backing_off, backing_len);
        name[backing_len] = 0;
        if (strlen(name) != backing_len) QCOW2_FAIL("%s: backing file name has a NUL byte", path);
        q->backing = disk_open_backing(path, name, bfmt, chain, err, errlen);
        if (!q->backing) goto fail;
    }

    unsigned l2n = QCOW2_CACHE_BYTES >> q->cluster_bits,
             rbn = QCOW2_RC_CACHE_BYTES >> q->cluster_bits;
    if (qcow2_cache_init(&q->l2c,
                         l2n < 4      ? 4
                         : l2n > 1024 ? 1024
                                      : l2n,
                         q->cs) ||
        qcow2_cache_init(&q->rbc,
                         rbn < 2     ? 2
                         : rbn > 256 ? 256
                                     : rbn,
                         q->cs) ||
        !(q->cbuf = malloc(2 * q->cs)) || !(q->zbuf = malloc(q->cs)) || !(q->cow = malloc(q->cs)) ||
        !(q->tmp = malloc(q->cs)))
        QCOW2_FAIL("out of memory");
    q->end = (fsize + q->cs - 1) & ~(q->cs - 1);
    q->incompat = incompat & ~QCOW2_INCOMPAT_DIRTY;
    if (!readonly && (incompat & QCOW2_INCOMPAT_DIRTY)) { /* a crash (ours or QEMU's) */
        q->dirty_marked = true;                           /* cleared once repaired, at close */
        int rc = qcow2_repair(q);
        if (rc)
            QCOW2_FAIL("%s: the image was not closed cleanly and cannot be repaired (%s); try "
                       "qemu-img check -r all, or open it readonly",
                       path, strerror(-rc));
    }
    if (!readonly && autoclear) { /* features vessel does not maintain are no longer valid */
        uint8_t zero[8] = {0};
        if (disk_fd_pwrite(fd, zero, 8, 88) || fdatasync(fd))
            QCOW2_FAIL("%s: cannot update the header: %s", path, strerror(errno));
    }
    free(h);
    return &q->b;
fail:
    free(h);
    qcow2_free(q);
    return NULL;
}
