/* fuzz_decode.c — the instruction decoder on arbitrary bytes. The bytes are placed so that they
 * end exactly at an unreadable guard page: reading one byte past `avail` faults in every build,
 * not only under ASan. Properties: the result is a length in 1..min(15, avail) or DECODE_UD /
 * DECODE_SHORT; DECODE_SHORT only when fewer than 15 bytes were offered; decoding the same
 * bytes again gives the same record; a decoded instruction does not depend on the bytes after
 * it; and every proper prefix of it is DECODE_SHORT (the decoder asked for those bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/decode/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *page_end; /* first byte of the guard page */

static void setup_once(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *m =
        mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + pg, (size_t)pg, PROT_NONE) != 0) abort();
    page_end = m + pg;
}

/* Decode `n` bytes laid out right before the guard page; *out is cleared first so that two
 * records can be compared byte for byte. */
static int decode_at_end(struct insn *out, const uint8_t *bytes, unsigned n, enum cpu_mode mode)
{
    uint8_t *at = page_end - n;
    memcpy(at, bytes, n);
    memset(out, 0, sizeof(*out));
    return decode_insn(out, at, n, mode);
}

/* Check one decode of the bytes at `data` (at most 64 of them offered). Returns the length
 * decoded, or 0. */
static int check_one(const uint8_t *data, size_t size, enum cpu_mode mode)
{
    unsigned avail = size < 64 ? (unsigned)size : 64;
    struct insn a, b;
    int r = decode_at_end(&a, data, avail, mode);
    if (r != DECODE_UD && r != DECODE_SHORT && (r < 1 || r > DECODE_MAXLEN || (unsigned)r > avail))
        abort();
    if (r == DECODE_SHORT && avail >= DECODE_MAXLEN) abort();
    if (r > 0 && a.len != r) abort();

    /* deterministic: same bytes, same record */
    int r2 = decode_at_end(&b, data, avail, mode);
    if (r2 != r || memcmp(&a, &b, sizeof(a)) != 0) abort();
    if (r <= 0) return 0;

    /* only the instruction's own bytes matter: exactly r bytes, and r bytes plus different
     * trailing bytes, decode to the same record */
    r2 = decode_at_end(&b, data, (unsigned)r, mode);
    if (r2 != r || memcmp(&a, &b, sizeof(a)) != 0) abort();
    uint8_t flipped[DECODE_MAXLEN + 8];
    memcpy(flipped, data, (size_t)r);
    for (unsigned k = (unsigned)r; k < sizeof(flipped); k++)
        flipped[k] = (uint8_t)(k < avail ? ~data[k] : 0x90);
    r2 = decode_at_end(&b, flipped, sizeof(flipped), mode);
    if (r2 != r || memcmp(&a, &b, sizeof(a)) != 0) abort();

    /* every proper prefix ran out of bytes */
    for (int n = 0; n < r; n++)
        if (decode_at_end(&b, data, (unsigned)n, mode) != DECODE_SHORT) abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!page_end) setup_once();
    if (size < 1) return 0;
    /* data[0] picks the mode (mostly 64-bit, the only one decoded) */
    enum cpu_mode mode = data[0] < 0xf0 ? MODE_LONG64 : (enum cpu_mode)(data[0] % 6);
    data++, size--;
    /* Decode a window of up to WINDOW bytes as a stream, like a block builder does. Long inputs
     * (the standalone driver's) pick the window by a checksum of the whole input, so that a
     * mutation anywhere moves it and inputs stay cheap. */
    enum { WINDOW = 256 };
    if (size > WINDOW) {
        uint32_t sum = 0;
        for (size_t k = 0; k < size; k++)
            sum = sum * 31 + data[k];
        data += sum % (size - WINDOW + 1);
        size = WINDOW;
    }
    for (size_t at = 0; at < size;) {
        int r = check_one(data + at, size - at, mode);
        at += r > 0 ? (size_t)r : 1;
    }
    return 0;
}
