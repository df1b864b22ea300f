/* standalone.c — runs a libFuzzer harness without libFuzzer (gcc builds, sanitizer builds):
 * a deterministic stream of random and mutated inputs, so every build exercises the harness and
 * the code under it. Real coverage-guided fuzzing uses the clang build (-Dfuzzing=true).
 * Usage: fuzz_x [iterations]   (default 20000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

int main(int argc, char **argv)
{
    unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
    static uint8_t buf[1 << 16];
    size_t len = 0;
    for (unsigned long i = 0; i < iters; i++) {
        if (i % 8 == 0 || len == 0) { /* fresh random input of random size */
            len = 1 + rng() % sizeof(buf);
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)rng();
        } else { /* mutate a few bytes: small values and boundaries are the interesting ones */
            for (int m = 0; m < 4; m++) {
                size_t at = rng() % len;
                static const uint8_t special[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x10, 0x40};
                buf[at] = rng() & 1 ? special[rng() % sizeof(special)] : (uint8_t)rng();
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("1..1\nok 1 - %lu inputs without a crash\n", iters);
    return 0;
}
