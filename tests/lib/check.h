/* check.h — the unit-test vocabulary: CHECK/CHECK_EQ assertions and a TAP reporter that meson
 * counts (protocol: 'tap'). A test file defines static void test_x(void) functions and calls
 * RUN(test_x) from main, then returns check_done(). */
#pragma once
#include <inttypes.h>
#include <stdio.h>

static int check_failed_total, check_failed_now, check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            check_failed_now++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                               \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "# %s:%d: %s == %s failed: %#" PRIx64 " != %#" PRIx64 "\n", __FILE__,  \
                    __LINE__, #a, #b, check_a_, check_b_);                                         \
            check_failed_now++;                                                                    \
        }                                                                                          \
    } while (0)

static inline void check_run(const char *name, void (*fn)(void))
{
    check_failed_now = 0;
    fn();
    check_count++;
    printf("%s %d - %s\n", check_failed_now ? "not ok" : "ok", check_count, name);
    fflush(stdout);
    if (check_failed_now) check_failed_total++;
}

#define RUN(fn) check_run(#fn, fn)

static inline int check_done(void)
{
    printf("1..%d\n", check_count);
    return check_failed_total ? 1 : 0;
}
