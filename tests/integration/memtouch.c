/* memtouch.c — the memory-touching workload of test_memory.py, built static on the host and
 * run both in the guest and on the host: it fills MIB MiB of fresh anonymous memory with
 * 64-bit words that depend on the seed, the page and the word (every page different), reads
 * all of it back, counts pages that do not hold what was written and prints a checksum over
 * every word read. The host's run of the same binary gives the expected checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: memtouch MIB SEED\n");
        return 2;
    }
    uint64_t pages = strtoull(argv[1], NULL, 0) * 256, seed = strtoull(argv[2], NULL, 0);
    uint64_t *m =
        mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("memtouch: mmap");
        return 1;
    }
    for (uint64_t p = 0; p < pages; p++) {
        uint64_t b = mix(seed ^ p), *w = m + p * 512;
        for (unsigned j = 0; j < 512; j++)
            w[j] = b + j;
    }
    uint64_t sum = 0, bad = 0;
    for (uint64_t p = 0; p < pages; p++) {
        uint64_t b = mix(seed ^ p), *w = m + p * 512, diff = 0, s = 0;
        for (unsigned j = 0; j < 512; j++) {
            diff |= w[j] ^ (b + j);
            s += w[j];
        }
        bad += diff != 0;
        sum = mix(sum ^ s);
    }
    printf("memtouch: pages=%llu bad=%llu checksum=%016llx\n", (unsigned long long)pages,
           (unsigned long long)bad, (unsigned long long)sum);
    return bad != 0;
}
