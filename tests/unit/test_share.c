/* test_share.c — content-based page sharing (machine/share.c) between two guests' RAM in one
 * process through one sharing directory: zero pages given back, a page two holders have mapped
 * from one pool copy (and only then: a page one VM alone holds stays private), contents never
 * changed by sharing, a write to a shared page private to its writer, discarding a shared page
 * gives zeros, a pool copy no page maps any more dropped, the last to leave empties the pool,
 * the hash the same every time. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "machine/share.h"
#include "vessel/bus.h"

#define RAM (4ull << 20)
#define PG  4096u

static unsigned quiesced, resumed;

static void fake_quiesce(void *o, bool running)
{
    (void)o;
    if (running)
        resumed++;
    else
        quiesced++;
}

static uint64_t pagemap(const struct bus *b, uint64_t page)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t e = 0;
    uintptr_t va = (uintptr_t)(b->ram + page * PG);
    if (pread(fd, &e, 8, (off_t)(va / PG * 8)) != 8) e = 0;
    close(fd);
    return e;
}

static bool in_pool(const struct bus *b, uint64_t page)
{
    (void)*(volatile const uint8_t *)(b->ram + page * PG); /* mapped when first read */
    uint64_t e = pagemap(b, page);
    return (e >> 63) && ((e >> 61) & 1);
}

static bool private_page(const struct bus *b, uint64_t page)
{
    uint64_t e = pagemap(b, page);
    return (e >> 63) && ((e >> 56) & 1) && !((e >> 61) & 1);
}

static void fill(uint8_t *p, unsigned seed)
{
    for (unsigned i = 0; i < PG; i++)
        p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static void run_passes(struct share *a, struct share *b, unsigned n)
{
    static uint64_t t = 1;
    for (unsigned k = 0; k < n; k++) {
        t += 20000000000ull; /* past any pause */
        share_timer(a, t);
        if (b) share_timer(b, t);
    }
}

static void test_hash(void)
{
    static uint8_t p[PG], q[PG];
    fill(p, 1);
    memcpy(q, p, PG);
    CHECK_EQ(share_page_hash(p), share_page_hash(q));
    q[4095] ^= 1;
    CHECK(share_page_hash(p) != share_page_hash(q));
    memset(q, 0, PG);
    CHECK(share_page_hash(q) != 0); /* 0 marks an empty index entry */
}

static void test_share_two(void)
{
    char dir[] = "/tmp/vessel-share-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct bus a, b;
    CHECK_EQ(bus_init(&a, RAM), 0);
    CHECK_EQ(bus_init(&b, RAM), 0);
    uint8_t ref[4][PG];
    for (unsigned k = 0; k < 4; k++)
        fill(ref[k], k + 1);
    memcpy(a.ram + 0 * PG, ref[0], PG);
    memcpy(a.ram + 1 * PG, ref[1], PG);
    memcpy(a.ram + 2 * PG, ref[2], PG); /* only A holds this */
    memcpy(a.ram + 3 * PG, ref[3], PG);
    memset(a.ram + 4 * PG, 0, PG);      /* touched, zero */
    memcpy(a.ram + 5 * PG, ref[0], PG); /* twice in A */
    memcpy(b.ram + 0 * PG, ref[0], PG);
    memcpy(b.ram + 1 * PG, ref[1], PG);
    memcpy(b.ram + 7 * PG, ref[3], PG);
    CHECK(private_page(&a, 4));

    struct share_config cfg = {.dir = dir, .rate = 64ull << 20};
    char err[256] = "";
    struct share *sa = share_create(&a, &cfg, fake_quiesce, NULL, err, sizeof(err));
    struct share *sb = share_create(&b, &cfg, fake_quiesce, NULL, err, sizeof(err));
    CHECK(sa && sb);
    if (!sa || !sb) return;
    run_passes(sa, sb, 4);
    CHECK(quiesced > 0 && quiesced == resumed);

    CHECK(!private_page(&a, 4));
    CHECK(in_pool(&a, 0) && in_pool(&a, 5) && in_pool(&b, 0));
    CHECK(in_pool(&a, 1) && in_pool(&b, 1));
    CHECK(in_pool(&a, 3) && in_pool(&b, 7));
    CHECK(private_page(&a, 2)); /* no second holder: its contents stay in A */
    CHECK(!memcmp(a.ram + 0 * PG, ref[0], PG) && !memcmp(a.ram + 5 * PG, ref[0], PG));
    CHECK(!memcmp(a.ram + 1 * PG, ref[1], PG) && !memcmp(a.ram + 2 * PG, ref[2], PG));
    CHECK(!memcmp(a.ram + 3 * PG, ref[3], PG) && !memcmp(b.ram + 7 * PG, ref[3], PG));
    CHECK(!memcmp(b.ram + 0 * PG, ref[0], PG) && !memcmp(b.ram + 1 * PG, ref[1], PG));
    static const uint8_t zero[PG];
    CHECK(!memcmp(a.ram + 4 * PG, zero, PG));

    struct share_info ia, ib;
    share_get_info(sa, &ia);
    share_get_info(sb, &ib);
    CHECK_EQ(ia.pool_pages, 4);
    CHECK_EQ(ib.pool_pages, 3);
    CHECK_EQ(ia.zero_pages, 1);
    CHECK_EQ(ia.pool_size, 3); /* one copy each of ref[0], ref[1], ref[3] */
    CHECK_EQ(ia.saved_bytes, 5 * PG);
    CHECK(ia.private_pages >= 1);

    /* A write to a shared page: the writer's own copy, nobody else's. */
    a.ram[0 * PG + 10] = 0x5A;
    CHECK(private_page(&a, 0));
    CHECK_EQ(a.ram[0 * PG + 10], 0x5A);
    CHECK(!memcmp(b.ram + 0 * PG, ref[0], PG) && !memcmp(a.ram + 5 * PG, ref[0], PG));
    a.ram[4 * PG] = 1; /* and to a zero page */
    CHECK(private_page(&a, 4));
    CHECK_EQ(a.ram[4 * PG], 1);
    /* A device writing through the DMA helper is caught the same way. */
    uint8_t v = 0xEE;
    CHECK(bus_dma_write(&b, 7 * PG + 1, &v, 1));
    CHECK_EQ(b.ram[7 * PG + 1], 0xEE);
    CHECK(!memcmp(a.ram + 3 * PG, ref[3], PG));

    /* Discarding a shared page (a balloon) reads as zeros, not as the pool's copy. */
    CHECK_EQ(bus_discard(&b, 1 * PG, PG), PG);
    CHECK(!memcmp(b.ram + 1 * PG, zero, PG));
    CHECK(!memcmp(a.ram + 1 * PG, ref[1], PG));

    /* Scanning again keeps contents (the written pages merge again where they can). */
    run_passes(sa, sb, 3);
    CHECK_EQ(a.ram[0 * PG + 10], 0x5A);
    CHECK(!memcmp(a.ram + 3 * PG, ref[3], PG));
    CHECK_EQ(b.ram[7 * PG + 1], 0xEE);
    CHECK(in_pool(&a, 5) && in_pool(&b, 0));

    /* Once every page that mapped a pool copy has been written, the copy goes. */
    share_get_info(sa, &ia);
    CHECK_EQ(ia.pool_size, 3);
    a.ram[5 * PG] ^= 1;
    b.ram[0 * PG] ^= 1;
    run_passes(sa, sb, 2);
    share_get_info(sa, &ia);
    CHECK_EQ(ia.pool_size, 2);
    CHECK_EQ(a.ram[5 * PG], ref[0][0] ^ 1);
    CHECK_EQ(b.ram[0 * PG], ref[0][0] ^ 1);
    CHECK(!memcmp(a.ram + 5 * PG + 1, ref[0] + 1, PG - 1));

    share_destroy(sa);
    char pool[64];
    snprintf(pool, sizeof(pool), "%s/pool", dir);
    struct stat st;
    CHECK(stat(pool, &st) == 0 && st.st_size > 0); /* B still maps it */
    share_destroy(sb);
    CHECK(stat(pool, &st) == 0 && st.st_size == 0); /* the last one out empties it */
    bus_destroy(&a);
    bus_destroy(&b);
    char idx[64];
    snprintf(idx, sizeof(idx), "%s/index", dir);
    unlink(idx);
    unlink(pool);
    rmdir(dir);
}

static void test_refusals(void)
{
    struct bus b;
    char dir[] = "/tmp/vessel-sharef-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_EQ(bus_init_file(&b, RAM, dir), 0);
    struct share_config cfg = {.dir = dir};
    char err[256] = "";
    CHECK(share_create(&b, &cfg, fake_quiesce, NULL, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "memory-file") != NULL);
    bus_destroy(&b);
    /* An index of another format is refused. */
    char idx[64];
    snprintf(idx, sizeof(idx), "%s/index", dir);
    int fd = open(idx, O_CREAT | O_WRONLY, 0600);
    CHECK(write(fd, "not an index", 12) == 12);
    close(fd);
    CHECK_EQ(bus_init(&b, RAM), 0);
    CHECK(share_create(&b, &cfg, fake_quiesce, NULL, err, sizeof(err)) == NULL);
    bus_destroy(&b);
    unlink(idx);
    char pool[64];
    snprintf(pool, sizeof(pool), "%s/pool", dir);
    unlink(pool);
    rmdir(dir);
}

static void test_zero_only(void)
{
    struct bus b;
    CHECK_EQ(bus_init(&b, RAM), 0);
    memset(b.ram, 0, 64 * PG);
    fill(b.ram + 64 * PG, 9);
    struct share_config cfg = {.zero_only = true};
    char err[256] = "";
    struct share *s = share_create(&b, &cfg, fake_quiesce, NULL, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) return;
    run_passes(s, NULL, 2);
    struct share_info i;
    share_get_info(s, &i);
    CHECK_EQ(i.merged_zero, 64);
    CHECK_EQ(i.pool_pages, 0);
    CHECK(private_page(&b, 64));
    CHECK(!private_page(&b, 10));
    share_destroy(s);
    bus_destroy(&b);
}

int main(void)
{
    RUN(test_hash);
    RUN(test_share_two);
    RUN(test_refusals);
    RUN(test_zero_only);
    return check_done();
}
