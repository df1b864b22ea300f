/* fuzz_state_load.c — hostile state streams fed to the whole-machine load (pc_load). A board
 * with every kind of section (vCPU, kvmclock, LAPIC, IOAPIC, COM1, PIT, RTC, i8042, pvpanic, ACPI
 * PM, PCI host, virtio-rng, virtio-blk, virtio-console) saves a valid stream once; each input then
 * mutates a copy of it — bytes overwritten inside one section, a section's payload replaced,
 * truncated or dropped, a section header corrupted, the stream cut or bit-flipped — and loads
 * it into the same board. The load must not crash; when it fails, the machine must be exactly
 * as it was (its own save compares equal, clocks aside); when it succeeds, the board must still
 * load the original stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/pc.h"
#include "vessel/log.h"
#include "vessel/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One section of the base stream: where it starts (its name-length field) and its length with
 * the header. */
struct fz_section {
    size_t at, len, payload;
    char name[32];
};

static struct pc *fz_pc;
static struct state_writer fz_base, fz_before, fz_now;
static uint8_t *fz_buf, *fz_masked;
static struct fz_section fz_sec[32];
static unsigned fz_nsec;
static bool fz_ready;

static uint64_t fz_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static void fz_put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* A minimal 64-bit ELF kernel (HLT at 1 MiB): the board needs something to load. */
static void fz_write_kernel(const char *path)
{
    uint8_t f[64 + 56 + 1] = {0};
    memcpy(f,
           "\x7f"
           "ELF\x02\x01\x01",
           7);
    fz_put_le(f + 16, 2, 2);    /* ET_EXEC */
    fz_put_le(f + 18, 0x3E, 2); /* x86-64 */
    fz_put_le(f + 20, 1, 4);
    fz_put_le(f + 24, 0x100000 + 120, 8); /* entry */
    fz_put_le(f + 32, 64, 8);             /* phoff */
    fz_put_le(f + 52, 64, 2);
    fz_put_le(f + 54, 56, 2);
    fz_put_le(f + 56, 1, 2);
    uint8_t *ph = f + 64;
    fz_put_le(ph, 1, 4); /* PT_LOAD */
    fz_put_le(ph + 4, 5, 4);
    fz_put_le(ph + 16, 0x100000, 8);
    fz_put_le(ph + 24, 0x100000, 8);
    fz_put_le(ph + 32, sizeof(f), 8);
    fz_put_le(ph + 40, sizeof(f), 8);
    fz_put_le(ph + 48, 0x1000, 8);
    f[120] = 0xF4;
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(f, 1, sizeof(f), fp) != sizeof(f)) abort();
    fclose(fp);
}

static void fz_mask_clocks(uint8_t *s, size_t len);

static void fz_setup(void)
{
    log_threshold = LOG_ERROR;
    char kernel[] = "/tmp/vessel-fuzz-state-kernel-XXXXXX";
    char disk[] = "/tmp/vessel-fuzz-state-disk-XXXXXX";
    int fd = mkstemp(kernel);
    if (fd < 0) abort();
    close(fd);
    fz_write_kernel(kernel);
    fd = mkstemp(disk);
    if (fd < 0 || ftruncate(fd, 1 << 20) != 0) abort();
    close(fd);
    struct pc_config cfg = {
        .ram_size = 2 << 20,
        .kernel = kernel,
        .cmdline = "",
        .disks = {disk},
        .ndisks = 1,
        .rng = true,
        .hvc = true,
    };
    char err[256];
    int usage;
    fz_pc = pc_create(&cfg, err, sizeof(err), &usage);
    unlink(kernel);
    unlink(disk); /* the open image stays usable */
    if (!fz_pc) {
        fprintf(stderr, "fuzz_state_load: pc_create: %s\n", err);
        abort();
    }
    state_writer_init(&fz_base);
    pc_save(fz_pc, &fz_base);
    if (fz_base.error || pc_load(fz_pc, fz_base.data, fz_base.len) != 0) abort();
    for (size_t at = 12; at + 2 <= fz_base.len && fz_nsec < 32;) {
        struct fz_section *s = &fz_sec[fz_nsec++];
        size_t n = fz_le(fz_base.data + at, 2);
        s->at = at;
        s->payload = at + 2 + n + 12;
        s->len = s->payload - at + fz_le(fz_base.data + at + 2 + n + 4, 8);
        memcpy(s->name, fz_base.data + at + 2, n < 31 ? n : 31);
        at += s->len;
    }
    state_writer_init(&fz_before);
    pc_save(fz_pc, &fz_before);
    fz_masked = malloc(fz_before.len);
    if (!fz_masked) abort();
    memcpy(fz_masked, fz_before.data, fz_before.len);
    fz_mask_clocks(fz_masked, fz_before.len);
    /* Inputs reuse these: RAM-sized allocations per input would dominate the run. */
    state_writer_init(&fz_now);
    pc_save(fz_pc, &fz_now);
    fz_buf = malloc(fz_base.len + (1 << 16) + 16);
    if (!fz_buf) abort();
    fz_ready = true;
}

/* Bytes of a save that follow the host clock (the vCPU's TSC, kvmclock's time since boot, the
 * PIT's ticks since each count was loaded) are not machine state a load could have left
 * behind. */
static void fz_mask_clocks(uint8_t *s, size_t len)
{
    for (unsigned k = 0; k < fz_nsec; k++) {
        const struct fz_section *x = &fz_sec[k];
        if (x->at + x->len > len) continue;
        if (!strcmp(x->name, "cpu")) memset(s + x->payload + 716, 0, 8); /* "tsc" (version 2) */
        if (!strcmp(x->name, "kvmclock")) memset(s + x->payload, 0, 8);  /* ns since boot */
        if (!strcmp(x->name, "pit"))
            for (unsigned ch = 0; ch < 3; ch++)
                memset(s + x->payload + 1 + ch * 37 + 8, 0, 8);
    }
}

/* The board is as it was before the load: its save matches, clocks aside. */
static void fz_check_unchanged(void)
{
    struct state_writer *now = &fz_now;
    /* rewind the writer to just after the stream header, keeping its buffer */
    now->len = 12;
    now->section_start = 0;
    pc_save(fz_pc, now);
    if (now->error || now->len != fz_before.len) abort();
    fz_mask_clocks(now->data, now->len);
    if (memcmp(fz_masked, now->data, now->len) != 0) {
        for (size_t k = 0; k < now->len; k++)
            if (fz_masked[k] != now->data[k]) {
                fprintf(stderr, "fuzz_state_load: a refused load changed byte %zu\n", k);
                break;
            }
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_ready) fz_setup();
    if (size < 4) return 0;
    unsigned mode = data[0] % 8;
    const struct fz_section *s = &fz_sec[data[1] % fz_nsec];
    size_t pos = (size_t)data[2] << 8 | data[3];
    data += 4;
    size -= 4;
    size_t plen = s->len - (s->payload - s->at);

    /* The mutated stream: at most the base plus the input (at most 64 KiB with the standalone
     * driver; longer libFuzzer inputs are cut). */
    if (size > (1 << 16)) size = 1 << 16;
    uint8_t *buf = fz_buf;
    size_t len = 0;
    memcpy(buf, fz_base.data, s->at);
    len = s->at;
    switch (mode) {
    case 0: /* overwrite bytes inside one section's payload */
        memcpy(buf + len, fz_base.data + s->at, s->len);
        if (plen)
            for (size_t k = 0; k < size && k < 64; k++)
                buf[len + (s->payload - s->at) + (pos + k) % plen] = data[k];
        len += s->len;
        break;
    case 1:   /* replace its payload */
    case 2: { /* truncate its payload */
        size_t hdr = s->payload - s->at, n = mode == 1 ? size : (plen ? pos % plen : 0);
        memcpy(buf + len, fz_base.data + s->at, hdr);
        fz_put_le(buf + len + hdr - 8, n, 8);
        memcpy(buf + len + hdr, mode == 1 ? data : fz_base.data + s->payload, n);
        len += hdr + n;
        break;
    }
    case 3: /* corrupt its header (name length, name, version, payload length) */
        memcpy(buf + len, fz_base.data + s->at, s->len);
        for (size_t k = 0; k < size && k < 4; k++)
            buf[len + (pos + k) % (s->payload - s->at)] = data[k];
        len += s->len;
        break;
    case 4: /* drop it */ break;
    case 5: /* cut the stream inside it */
        memcpy(buf + len, fz_base.data + s->at, s->len);
        len += pos % s->len;
        break;
    default: /* flip bits anywhere from this section on */
        memcpy(buf + len, fz_base.data + s->at, s->len);
        len += s->len;
        break;
    }
    if (mode != 5) {
        size_t rest = fz_base.len - (s->at + s->len);
        memcpy(buf + len, fz_base.data + s->at + s->len, rest);
        len += rest;
    }
    if (mode >= 6) {
        size_t span = len - s->at;
        for (size_t k = 0; k + 2 <= size && k < 32; k += 2)
            buf[s->at + ((pos + (size_t)data[k] * 257) % span)] ^= data[k + 1] | 1;
    }

    if (pc_load(fz_pc, buf, len) == 0) {
        /* accepted (the mutation was benign or within what a guest could reach): the board
         * must still take the original */
        if (pc_load(fz_pc, fz_base.data, fz_base.len) != 0) abort();
    } else {
        fz_check_unchanged();
    }
    return 0;
}
