/* test_ratelimit.c — the token buckets of util/ratelimit.h with Firecracker's semantics: a
 * bucket starts full, the one-time burst goes first, a request larger than the bucket passes
 * when it is full and leaves a debt, neither bucket is charged unless both can be, the wait
 * returned is the time until the tokens are there; the registry's names, change callbacks and
 * the --rate-limit parser. Refill times of an hour make the clock irrelevant except where a
 * test is about refilling. */
#include <string.h>
#include <time.h>

#include "check.h"
#include "util/ratelimit.h"

#define HOUR_MS 3600000ull

static struct rl_cfg cfg(uint64_t bw, uint64_t bw_burst, uint64_t ops, uint64_t refill_ms)
{
    return (struct rl_cfg){{bw, bw_burst, refill_ms}, {ops, 0, refill_ms}};
}

static void test_unlimited(void)
{
    struct ratelimit *rl = ratelimit_attach("t:unlimited", NULL, NULL);
    uint64_t wait = 1;
    CHECK(ratelimit_consume(rl, 1ull << 40, 1000000, &wait));
    CHECK_EQ(wait, 0);
    CHECK(ratelimit_consume(NULL, 1, 1, &wait));
    ratelimit_detach(rl);
}

static void test_bucket(void)
{
    struct rl_cfg c = cfg(1000, 0, 0, HOUR_MS);
    CHECK_EQ(ratelimit_configure("t:bucket", &c, true, true, false), 0);
    struct ratelimit *rl = ratelimit_attach("t:bucket", NULL, NULL);
    uint64_t wait;
    CHECK(ratelimit_consume(rl, 600, 1, &wait));
    CHECK(!ratelimit_consume(rl, 600, 1, &wait));
    /* 200 tokens missing at 1000 an hour: 720 s */
    CHECK(wait > 719000000000ull && wait < 721000000000ull);
    CHECK(ratelimit_consume(rl, 400, 1, &wait));
    CHECK(!ratelimit_consume(rl, 1, 1, &wait));
    ratelimit_detach(rl);
}

static void test_burst(void)
{
    struct rl_cfg c = cfg(100, 500, 0, HOUR_MS);
    ratelimit_configure("t:burst", &c, true, true, false);
    struct ratelimit *rl = ratelimit_attach("t:burst", NULL, NULL);
    uint64_t wait;
    CHECK(ratelimit_consume(rl, 500, 0, &wait)); /* the burst */
    CHECK(ratelimit_consume(rl, 100, 0, &wait)); /* the bucket */
    CHECK(!ratelimit_consume(rl, 1, 0, &wait));
    ratelimit_detach(rl);
    /* Part burst, part bucket. */
    ratelimit_configure("t:burst", &c, true, true, false);
    rl = ratelimit_attach("t:burst", NULL, NULL);
    CHECK(ratelimit_consume(rl, 550, 0, &wait));
    CHECK(ratelimit_consume(rl, 50, 0, &wait));
    CHECK(!ratelimit_consume(rl, 1, 0, &wait));
    ratelimit_detach(rl);
}

static void test_both_or_neither(void)
{
    struct rl_cfg c = cfg(1000, 0, 1, HOUR_MS);
    ratelimit_configure("t:both", &c, true, true, false);
    struct ratelimit *rl = ratelimit_attach("t:both", NULL, NULL);
    uint64_t wait;
    CHECK(ratelimit_consume(rl, 10, 1, &wait));
    CHECK(!ratelimit_consume(rl, 10, 1, &wait)); /* no op token: bytes not charged either */
    struct rl_cfg no_ops = cfg(0, 0, 0, 0);
    CHECK_EQ(ratelimit_configure("t:both", &no_ops, false, true, true), 0);
    CHECK(ratelimit_consume(rl, 990, 1, &wait));
    CHECK(!ratelimit_consume(rl, 1, 0, &wait));
    ratelimit_detach(rl);
}

static void test_oversized(void)
{
    struct rl_cfg c = cfg(100, 0, 0, HOUR_MS);
    ratelimit_configure("t:big", &c, true, true, false);
    struct ratelimit *rl = ratelimit_attach("t:big", NULL, NULL);
    uint64_t wait;
    CHECK(ratelimit_consume(rl, 1000, 0, &wait)); /* a full bucket lets it through */
    CHECK(!ratelimit_consume(rl, 1, 0, &wait));
    /* the debt of 900 and the token asked for: 901 tokens at 100 an hour */
    CHECK(wait > 9 * 3600000000000ull && wait < 9.02 * 3600000000000.0);
    ratelimit_detach(rl);
}

static void test_refill(void)
{
    struct rl_cfg c = cfg(1000, 0, 0, 100); /* 10,000 a second */
    ratelimit_configure("t:refill", &c, true, true, false);
    struct ratelimit *rl = ratelimit_attach("t:refill", NULL, NULL);
    uint64_t wait;
    CHECK(ratelimit_consume(rl, 1000, 0, &wait));
    CHECK(!ratelimit_consume(rl, 500, 0, &wait));
    CHECK(wait > 40000000 && wait <= 50000001);
    struct timespec ts = {0, (long)wait};
    nanosleep(&ts, NULL);
    CHECK(ratelimit_consume(rl, 500, 0, &wait));
    ratelimit_detach(rl);
}

static int changes;
static void on_change(void *opaque)
{
    (void)opaque;
    changes++;
}

static void test_registry(void)
{
    struct rl_cfg c = cfg(10, 0, 0, HOUR_MS), got;
    CHECK_EQ(ratelimit_configure("t:dev", &c, true, false, true), (uint64_t)-1); /* not there */
    struct ratelimit *rl = ratelimit_attach("t:dev", on_change, NULL);
    CHECK_EQ(ratelimit_configure("t:dev", &c, true, false, true), 0);
    CHECK_EQ(changes, 1);
    CHECK(ratelimit_get("t:dev", &got) && got.bw.size == 10 && got.ops.size == 0);
    ratelimit_detach(rl);
    CHECK_EQ(ratelimit_configure("t:dev", &c, true, false, true), (uint64_t)-1);
    CHECK_EQ(changes, 1);
    CHECK(!ratelimit_get("t:none", &got));
}

static void test_parse(void)
{
    char err[256];
    struct rl_cfg got;
    CHECK_EQ(
        ratelimit_parse_option("drive:root,bw=2M,ops=100,refill=100,bw-burst=8M", err, sizeof(err)),
        0);
    CHECK(ratelimit_get("drive:root", &got));
    CHECK_EQ(got.bw.size, 2u << 20);
    CHECK_EQ(got.bw.one_time_burst, 8u << 20);
    CHECK_EQ(got.bw.refill_ms, 100);
    CHECK_EQ(got.ops.size, 100);
    CHECK_EQ(ratelimit_parse_option("net-tx,bw=100K", err, sizeof(err)), 0);
    CHECK(ratelimit_get("net:tx", &got) && got.bw.size == 102400 && got.bw.refill_ms == 1000);
    static const char *const bad[] = {"disk:x,bw=1", "drive:x",         "drive:x,bw=1X",
                                      "drive:x,bw",  "drive:x,speed=1", "drive:x,bw=1,refill=0",
                                      "net-rx,ops="};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        err[0] = 0;
        CHECK_EQ(ratelimit_parse_option(bad[k], err, sizeof(err)), (uint64_t)-1);
        CHECK(strstr(err, "--rate-limit") != NULL);
    }
}

int main(void)
{
    RUN(test_unlimited);
    RUN(test_bucket);
    RUN(test_burst);
    RUN(test_both_or_neither);
    RUN(test_oversized);
    RUN(test_refill);
    RUN(test_registry);
    RUN(test_parse);
    ratelimit_registry_clear();
    return check_done();
}
