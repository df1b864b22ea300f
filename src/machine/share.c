/* share.c — content-based page sharing (share.h, docs/MEMORY.md "Page sharing").
 *
 * Every VM that names the same directory shares two files there: `index`, a hash table mapped
 * shared by all of them (page hash -> pool slot, or "seen once" with who saw it), and `pool`,
 * one page of contents per slot. A VM's scanner walks its RAM a bounded number of resident
 * pages per step; /proc/self/pagemap says which pages are private (present, exclusively
 * mapped, anonymous), the only ones worth looking at.
 *
 * - A page of zeros is replaced by fresh anonymous memory: it reads as the host's zero page
 *   and costs nothing until written.
 * - Other pages are looked up by hash. A hash nobody has published is published (hash and
 *   owner only: no contents leave the VM for a page no one else holds). A hash published by
 *   another page (another VM's, or another of this VM's) means a second holder: that holder
 *   writes its copy into a new pool slot and maps it. A hash with a slot is compared byte for
 *   byte with the slot and, if equal, the page is mapped from it. So a VM only ever maps pool
 *   pages equal to its own, and the pool holds only contents at least two pages had.
 *
 * Mapping is mmap(MAP_PRIVATE | MAP_FIXED) of the pool page over the guest page: the host MMU
 * maps it read-only and copies it on the first write, from any writer — the engine, translated
 * code, device threads, the kernel filling a guest buffer — which the soft MMU alone could not
 * catch (virtio-blk reads land in guest RAM from inside preadv). The host address of every
 * guest page stays the same, so the soft TLB and translated code need no change.
 *
 * The replacing runs on the vCPU thread between slices with the device threads stopped
 * (share_quiesce_fn), so no write can fall between the last comparison and the mmap. The index
 * is locked with flock for the few microseconds of each batch. */
#include "machine/share.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vessel/bus.h"
#include "vessel/log.h"

#define SHARE_MAGIC        0x31485356u /* "VSH1" */
#define SHARE_CAPACITY     (1u << 17)  /* index entries (4 MiB of index, shared by all VMs) */
#define SHARE_MAX_FILL     (SHARE_CAPACITY / 4 * 3)
#define SHARE_STEP_NS      100000000ull   /* one step every 100 ms while a pass is under way */
#define SHARE_PAUSE_NS     1000000000ull  /* and a second between passes, */
#define SHARE_MAX_PAUSE_NS 16000000000ull /* doubled after each pass that found nothing */
#define SHARE_DEFAULT_RATE (64ull << 20)
#define SHARE_WINDOW       4096u /* pages whose pagemap entries are read at once */

#define PM_PRESENT   (1ull << 63)
#define PM_FILE      (1ull << 61) /* a file page (here: a pool page) or shared anonymous */
#define PM_EXCLUSIVE (1ull << 56) /* mapped by this mapping only */

struct share_hdr {
    uint32_t magic, entry_size;
    uint64_t capacity;
    uint64_t used;      /* entries in use */
    uint64_t next_slot; /* pool slots handed out */
    uint64_t live;      /* pool slots holding a page (the others are holes) */
    uint64_t attached;  /* VMs attached (the last to leave empties the pool) */
    uint64_t pad[2];
};

struct share_entry {
    uint64_t hash;      /* 0: empty */
    uint64_t owner_off; /* the RAM offset of the page that published it */
    uint32_t slot1;     /* pool slot + 1; 0: published, no copy in the pool yet */
    uint32_t owner;     /* the publishing VM (share.owner) */
    uint32_t refs;      /* pages mapping the slot, in all VMs */
    uint32_t pad;
};

enum share_cand_kind { SHARE_ZERO, SHARE_MERGE, SHARE_RELEASE };

struct share_cand {
    uint64_t off;
    enum share_cand_kind kind;
};

struct share {
    struct bus *bus;
    share_quiesce_fn quiesce;
    void *q_opaque;
    bool zero_only;
    int idx_fd, pool_fd, pm_fd;
    struct share_hdr *hdr;
    struct share_entry *ent;
    size_t idx_len;
    uint32_t owner;       /* this VM in the index: from the pid and the object (tests run two) */
    uint64_t pages;       /* RAM pages */
    uint64_t cursor;      /* next page to look at */
    uint64_t per_step;    /* resident pages compared per step */
    uint64_t next_ns;     /* next step */
    uint64_t pause_ns;    /* between passes */
    uint64_t pass_merged; /* merged_pool + merged_zero when the pass began */
    uint64_t map_budget;  /* pool mappings we may still make (each may cost two VMAs) */
    uint8_t *zeroed;      /* per page: given back as zeros by us (statistics) */
    uint64_t *mapped;     /* per page: the hash of the pool page it maps, 0: none */
    uint32_t *seen;       /* per page: its hash at the last pass (| 1), 0: not seen */
    uint64_t *pm;         /* pagemap window */
    struct share_cand *cand;
    uint8_t *buf; /* one page read back from the pool */
    uint64_t merged_pool, merged_zero, scanned, passes, cpu_ns;
    bool warned_full;
};

uint64_t share_page_hash(const void *page)
{
    /* Four independent multiply-rotate lanes, then a mix: fast, and collisions only cost a
     * comparison (sharing never trusts the hash). */
    const uint8_t *p = page;
    uint64_t h[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                     0x27D4EB2F165667C5ull};
    for (unsigned i = 0; i < BUS_PAGE_SIZE; i += 32)
        for (unsigned l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * l, 8);
            h[l] = (h[l] ^ w) * 0x9FB21C651E98DF25ull;
            h[l] = (h[l] << 29) | (h[l] >> 35);
        }
    uint64_t x = h[0] ^ (h[1] * 31) ^ (h[2] * 131) ^ (h[3] * 1031);
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    return x ? x : 1;
}

static bool share_is_zero(const uint8_t *p)
{
    uint64_t acc = 0;
    for (unsigned i = 0; i < BUS_PAGE_SIZE; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    return acc == 0;
}

static uint64_t share_thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Pagemap entries of RAM pages [first, first+n). false if they cannot be read. */
static bool share_pagemap(struct share *s, uint64_t first, uint64_t n, uint64_t *out)
{
    uint64_t va = (uint64_t)(uintptr_t)s->bus->ram + (first << BUS_PAGE_SHIFT);
    size_t len = (size_t)n * 8;
    return pread(s->pm_fd, out, len, (off_t)((va >> BUS_PAGE_SHIFT) * 8)) == (ssize_t)len;
}

static bool share_private(uint64_t e)
{
    return (e & PM_PRESENT) && (e & PM_EXCLUSIVE) && !(e & PM_FILE);
}

/* ---- attaching to the directory ---- */

static int share_open_dir(struct share *s, const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "--share %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/index", dir);
    s->idx_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    snprintf(path, sizeof(path), "%s/pool", dir);
    s->pool_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->idx_fd < 0 || s->pool_fd < 0) {
        snprintf(err, errlen, "--share %s: %s", dir, strerror(errno));
        return -1;
    }
    s->idx_len = sizeof(struct share_hdr) + (size_t)SHARE_CAPACITY * sizeof(struct share_entry);
    flock(s->idx_fd, LOCK_EX);
    struct stat st;
    int rc = fstat(s->idx_fd, &st);
    if (rc == 0 && st.st_size == 0) rc = ftruncate(s->idx_fd, (off_t)s->idx_len);
    if (rc == 0 && fstat(s->idx_fd, &st) == 0 && (size_t)st.st_size != s->idx_len) rc = -1;
    void *m = rc == 0 ? mmap(NULL, s->idx_len, PROT_READ | PROT_WRITE, MAP_SHARED, s->idx_fd, 0)
                      : MAP_FAILED;
    if (m == MAP_FAILED) {
        flock(s->idx_fd, LOCK_UN);
        snprintf(err, errlen, "--share %s: the index is not vessel's (or: %s)", dir,
                 strerror(errno));
        return -1;
    }
    s->hdr = m;
    s->ent = (struct share_entry *)(s->hdr + 1);
    if (s->hdr->magic == 0) {
        s->hdr->magic = SHARE_MAGIC;
        s->hdr->entry_size = sizeof(struct share_entry);
        s->hdr->capacity = SHARE_CAPACITY;
    }
    bool ok = s->hdr->magic == SHARE_MAGIC && s->hdr->capacity == SHARE_CAPACITY &&
              s->hdr->entry_size == sizeof(struct share_entry);
    if (ok) s->hdr->attached++;
    flock(s->idx_fd, LOCK_UN);
    if (!ok) {
        snprintf(err, errlen, "--share %s: the index has another format", dir);
        return -1;
    }
    return 0;
}

struct share *share_create(struct bus *bus, const struct share_config *cfg, share_quiesce_fn q,
                           void *q_opaque, char *err, size_t errlen)
{
    if (bus->ram_file) {
        snprintf(err, errlen, "--share needs anonymous guest RAM (not with --memory-file)");
        return NULL;
    }
    struct share *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->bus = bus;
    s->quiesce = q;
    s->q_opaque = q_opaque;
    s->zero_only = cfg->zero_only || !cfg->dir;
    s->idx_fd = s->pool_fd = -1;
    s->owner = ((uint32_t)getpid() * 2654435761u) ^ (uint32_t)((uintptr_t)s >> 4);
    s->pages = bus->ram_size >> BUS_PAGE_SHIFT;
    uint64_t rate = cfg->rate ? cfg->rate : SHARE_DEFAULT_RATE;
    s->per_step = rate / BUS_PAGE_SIZE * SHARE_STEP_NS / 1000000000ull;
    if (s->per_step < 16) s->per_step = 16;
    if (s->per_step > 65536) s->per_step = 65536;
    s->pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    s->zeroed = calloc(s->pages, 1);
    s->mapped = calloc(s->pages, sizeof(uint64_t));
    s->seen = calloc(s->pages, sizeof(uint32_t));
    s->pm = malloc(SHARE_WINDOW * sizeof(uint64_t));
    s->cand = malloc(s->per_step * sizeof(struct share_cand));
    s->buf = aligned_alloc(BUS_PAGE_SIZE, BUS_PAGE_SIZE);
    if (s->pm_fd < 0 || !s->zeroed || !s->mapped || !s->seen || !s->pm || !s->cand || !s->buf) {
        snprintf(err, errlen, "--share: %s", s->pm_fd < 0 ? "no /proc/self/pagemap" : "no memory");
        share_destroy(s);
        return NULL;
    }
    if (!s->zero_only && share_open_dir(s, cfg->dir, err, errlen) < 0) {
        share_destroy(s);
        return NULL;
    }
    /* Each pool mapping may split a RAM mapping in two: stay well inside the host's limit. */
    uint64_t max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        unsigned long long v;
        if (fscanf(f, "%llu", &v) == 1) max_maps = v;
        fclose(f);
    }
    s->map_budget = max_maps > 8192 ? (max_maps - 8192) / 2 : 0;
    bus->ram_remap_discard = !s->zero_only;
    return s;
}

static void share_release(struct share *s, uint64_t page);

void share_destroy(struct share *s)
{
    if (!s) return;
    if (s->hdr) {
        flock(s->idx_fd, LOCK_EX);
        for (uint64_t p = 0; p < s->pages; p++)
            if (s->mapped[p]) share_release(s, p);
        /* The last VM to leave empties the directory. A VM that died without detaching keeps
         * `attached` above zero: the pool is then kept (never emptied under a live mapping). */
        if (s->hdr->attached && --s->hdr->attached == 0) {
            memset(s->ent, 0, (size_t)SHARE_CAPACITY * sizeof(struct share_entry));
            s->hdr->used = s->hdr->next_slot = s->hdr->live = 0;
            if (ftruncate(s->pool_fd, 0) < 0) log_warn("share: cannot empty the pool");
        }
        flock(s->idx_fd, LOCK_UN);
        munmap(s->hdr, s->idx_len);
    }
    if (s->idx_fd >= 0) close(s->idx_fd);
    if (s->pool_fd >= 0) close(s->pool_fd);
    if (s->pm_fd >= 0) close(s->pm_fd);
    free(s->zeroed);
    free(s->mapped);
    free(s->seen);
    free(s->pm);
    free(s->cand);
    free(s->buf);
    free(s);
}

/* ---- merging ---- */

/* Replace RAM pages [first, first+n) (all zeros) by fresh anonymous memory. */
static void share_zero_run(struct share *s, uint64_t first, uint64_t n)
{
    void *p = s->bus->ram + (first << BUS_PAGE_SHIFT);
    size_t len = (size_t)n << BUS_PAGE_SHIFT;
    /* Not MADV_DONTNEED: on a page mapped from the pool that would bring back the pool's
     * contents, not zeros. */
    if (mmap(p, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
        /* MAP_FIXED failing may have unmapped the range: guest RAM is gone. */
        log_error("share: remapping zero pages failed: %s", strerror(errno));
        abort();
    }
    for (uint64_t k = 0; k < n; k++)
        __atomic_store_n(&s->zeroed[first + k], 1, __ATOMIC_RELAXED);
    s->merged_zero += n;
}

static bool share_map_slot(struct share *s, uint64_t page, struct share_entry *e)
{
    uint32_t slot = e->slot1 - 1;
    if (!s->map_budget) return false;
    void *p = s->bus->ram + (page << BUS_PAGE_SHIFT);
    if (mmap(p, BUS_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, s->pool_fd,
             (off_t)slot << BUS_PAGE_SHIFT) == MAP_FAILED) {
        log_error("share: mapping a pool page failed: %s", strerror(errno));
        abort();
    }
    /* Map it now, read-only (MAP_POPULATE would copy it: the mapping is writable), so the
     * figures count it from the start. */
    (void)*(volatile const uint8_t *)p;
    s->map_budget--;
    s->merged_pool++;
    e->refs++;
    s->mapped[page] = e->hash;
    return true;
}

/* The entry for hash h: its own, or the empty one where it would go (NULL: table full). */
static struct share_entry *share_lookup(struct share *s, uint64_t h)
{
    for (uint64_t i = 0; i < SHARE_CAPACITY; i++) {
        struct share_entry *e = &s->ent[(h + i) & (SHARE_CAPACITY - 1)];
        if (e->hash == h || e->hash == 0) return e;
    }
    return NULL;
}

/* Page `page` no longer maps its pool slot (written since, so copied; or this VM leaves): one
 * reference less, and a slot no page maps any more becomes a hole again. Its entry goes back
 * to "seen" with no owner: the next holder to come by puts a copy in the pool again. Under the
 * index lock. */
static void share_release(struct share *s, uint64_t page)
{
    struct share_entry *e = share_lookup(s, s->mapped[page]);
    s->mapped[page] = 0;
    if (!e || e->hash == 0 || e->slot1 == 0 || e->refs == 0) return;
    if (--e->refs) return;
    if (fallocate(s->pool_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(e->slot1 - 1) << BUS_PAGE_SHIFT, BUS_PAGE_SIZE) < 0)
        return; /* cannot give it back: leave the slot in use */
    e->slot1 = 0;
    e->owner = 0;
    e->owner_off = UINT64_MAX;
    s->hdr->live--;
}

/* Under the index lock, with the guest and the device threads stopped. */
static void share_merge_page(struct share *s, uint64_t page)
{
    const uint8_t *p = s->bus->ram + (page << BUS_PAGE_SHIFT);
    uint64_t h = share_page_hash(p);
    struct share_entry *e = share_lookup(s, h);
    if (!e) return;
    if (e->hash == 0) {
        if (s->hdr->used >= SHARE_MAX_FILL) {
            if (!s->warned_full) log_warn("share: the index is full; new contents are not shared");
            s->warned_full = true;
            return;
        }
        *e = (struct share_entry){.hash = h, .owner_off = page, .owner = s->owner};
        s->hdr->used++;
        return;
    }
    if (e->slot1 == 0) {
        if (e->owner == s->owner && e->owner_off == page) return; /* our own, seen again */
        if (!s->map_budget) return;
        /* A second holder: put our copy in the pool. */
        uint64_t slot = s->hdr->next_slot;
        if (slot >= UINT32_MAX - 1 ||
            pwrite(s->pool_fd, p, BUS_PAGE_SIZE, (off_t)(slot << BUS_PAGE_SHIFT)) !=
                (ssize_t)BUS_PAGE_SIZE)
            return;
        s->hdr->next_slot = slot + 1;
        s->hdr->live++;
        e->slot1 = (uint32_t)slot + 1;
        e->refs = 0;
        share_map_slot(s, page, e);
        return;
    }
    uint32_t slot = e->slot1 - 1;
    if (pread(s->pool_fd, s->buf, BUS_PAGE_SIZE, (off_t)slot << BUS_PAGE_SHIFT) !=
        (ssize_t)BUS_PAGE_SIZE)
        return;
    if (memcmp(s->buf, p, BUS_PAGE_SIZE) == 0) share_map_slot(s, page, e);
}

static void share_merge(struct share *s, unsigned n)
{
    s->quiesce(s->q_opaque, false);
    /* Contents are stable now; look again, since device threads ran while we scanned. */
    for (unsigned i = 0; i < n;) {
        if (s->cand[i].kind != SHARE_ZERO ||
            !share_is_zero(s->bus->ram + (s->cand[i].off << BUS_PAGE_SHIFT))) {
            i++;
            continue;
        }
        unsigned j = i + 1;
        while (j < n && s->cand[j].kind == SHARE_ZERO && s->cand[j].off == s->cand[j - 1].off + 1 &&
               share_is_zero(s->bus->ram + (s->cand[j].off << BUS_PAGE_SHIFT)))
            j++;
        share_zero_run(s, s->cand[i].off, j - i);
        i = j;
    }
    if (!s->zero_only) {
        bool locked = false;
        for (unsigned i = 0; i < n; i++) {
            if (s->cand[i].kind == SHARE_ZERO) continue;
            if (!locked) flock(s->idx_fd, LOCK_EX);
            locked = true;
            if (s->cand[i].kind == SHARE_RELEASE)
                share_release(s, s->cand[i].off);
            else
                share_merge_page(s, s->cand[i].off);
        }
        if (locked) flock(s->idx_fd, LOCK_UN);
    }
    s->quiesce(s->q_opaque, true);
}

/* Look at up to per_step private pages from the cursor; merge what was found. */
static void share_step(struct share *s)
{
    unsigned n = 0;
    uint64_t looked = 0;
    while (n < s->per_step && looked < s->pages) {
        uint64_t first = s->cursor;
        uint64_t w = s->pages - first < SHARE_WINDOW ? s->pages - first : SHARE_WINDOW;
        if (!share_pagemap(s, first, w, s->pm)) break;
        uint64_t k = 0;
        for (; k < w && n < s->per_step; k++) {
            if (!share_private(s->pm[k])) continue;
            uint64_t page = first + k;
            __atomic_store_n(&s->zeroed[page], 0, __ATOMIC_RELAXED);
            const uint8_t *p = s->bus->ram + (page << BUS_PAGE_SHIFT);
            s->scanned++;
            if (s->mapped[page]) {
                /* It mapped a pool page and is private now: it was written. The release
                 * takes the lock, so it waits for the merge step; the page itself is
                 * looked at again next pass. */
                s->cand[n++] = (struct share_cand){.off = page, .kind = SHARE_RELEASE};
                s->seen[page] = 0;
                continue;
            }
            if (share_is_zero(p)) {
                s->cand[n++] = (struct share_cand){.off = page, .kind = SHARE_ZERO};
                continue;
            }
            if (s->zero_only) continue;
            /* Only a page unchanged since the last pass is a candidate, as in KSM: pages
             * being written (a booting guest, a busy cache) would otherwise fill the pool
             * with contents gone a moment later. */
            uint32_t h = (uint32_t)share_page_hash(p) | 1;
            if (s->seen[page] == h)
                s->cand[n++] = (struct share_cand){.off = page, .kind = SHARE_MERGE};
            else
                s->seen[page] = h;
        }
        looked += k;
        s->cursor = first + k;
        if (s->cursor >= s->pages) {
            s->cursor = 0;
            s->passes++;
            break;
        }
    }
    if (n) share_merge(s, n);
}

uint64_t share_timer(struct share *s, uint64_t now_ns)
{
    if (now_ns < s->next_ns) return s->next_ns;
    uint64_t t0 = share_thread_ns();
    uint64_t passes = s->passes;
    share_step(s);
    s->cpu_ns += share_thread_ns() - t0;
    if (s->passes == passes) {
        s->next_ns = now_ns + SHARE_STEP_NS;
        return s->next_ns;
    }
    /* A settled guest finds nothing pass after pass: look less often (an idle guest should
     * cost next to nothing), and as often as before once something is found again. */
    uint64_t merged = s->merged_pool + s->merged_zero;
    if (merged != s->pass_merged || s->pause_ns == 0)
        s->pause_ns = SHARE_PAUSE_NS;
    else if (s->pause_ns < SHARE_MAX_PAUSE_NS)
        s->pause_ns *= 2;
    s->pass_merged = merged;
    s->next_ns = now_ns + s->pause_ns;
    return s->next_ns;
}

void share_get_info(struct share *s, struct share_info *i)
{
    *i = (struct share_info){.merged_pool = s->merged_pool,
                             .merged_zero = s->merged_zero,
                             .scanned = s->scanned,
                             .passes = s->passes,
                             .cpu_ns = s->cpu_ns,
                             .pool_size =
                                 s->hdr ? __atomic_load_n(&s->hdr->live, __ATOMIC_RELAXED) : 0};
    uint64_t *pm = malloc(SHARE_WINDOW * sizeof(uint64_t));
    if (!pm) return;
    for (uint64_t first = 0; first < s->pages; first += SHARE_WINDOW) {
        uint64_t w = s->pages - first < SHARE_WINDOW ? s->pages - first : SHARE_WINDOW;
        if (!share_pagemap(s, first, w, pm)) break;
        for (uint64_t k = 0; k < w; k++) {
            uint64_t e = pm[k];
            if (share_private(e))
                i->private_pages++;
            else if ((e & PM_PRESENT) && (e & PM_FILE))
                i->pool_pages++;
            else if (__atomic_load_n(&s->zeroed[first + k], __ATOMIC_RELAXED) && !share_private(e))
                i->zero_pages++;
        }
    }
    free(pm);
    i->saved_bytes = (i->pool_pages + i->zero_pages) << BUS_PAGE_SHIFT;
}
