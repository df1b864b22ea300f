/* test_qcow2.c — the qcow2 back-end against QEMU's own tools (Debian qemu-utils, installed by
 * scripts/setup.sh): images qemu-img and qemu-io make (versions 2 and 3, cluster sizes 512 to
 * 2M, refcount widths 1 to 64 bits, compressed, zero clusters, backing chains of raw and qcow2)
 * read exactly as `qemu-img convert -O raw` reads them; images vessel writes pass
 * `qemu-img check` with no errors and no leaks and convert back to what was written; a writer
 * killed with SIGKILL mid-loop leaves an image qemu-img check finds no corruption in; and the
 * block layer's rules: the header decides the format, a guessed-raw disk keeps probing as raw,
 * backing files only from the allowed directories. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/disk.h"
#include "check.h"
#include "vessel/log.h"

static char dir[64];
static bool have_qemu;

/* Run a shell command (quietly); its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof(full), "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The same with its output on stderr (diagnostics). */
static void shout(const char *cmd)
{
    char full[4200];
    snprintf(full, sizeof(full), "cd %s && (%s) 2>&1 | sed 's/^/# /' >&2", dir, cmd);
    if (system(full) != 0) fprintf(stderr, "# (%s failed)\n", cmd);
}

static char *pathof(const char *name)
{
    static char buf[4][256];
    static unsigned k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static uint8_t *load(const char *name, size_t *len)
{
    int fd = open(pathof(name), O_RDONLY);
    CHECK(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    CHECK_EQ(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

static void store(const char *name, const uint8_t *buf, size_t len)
{
    int fd = open(pathof(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, buf, len), len);
    close(fd);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A raw file of `len` bytes: runs of random bytes, runs of zeros (so qemu-img leaves holes),
 * and runs of one byte (which compress well). */
static uint8_t *make_raw(const char *name, size_t len)
{
    uint8_t *b = calloc(1, len);
    for (size_t at = 0; at < len;) {
        size_t run = 512 * (1 + rng() % 300);
        if (run > len - at) run = len - at;
        switch (rng() % 3) {
        case 0:
            for (size_t k = 0; k < run; k++)
                b[at + k] = (uint8_t)rng();
            break;
        case 1: break;
        default: memset(b + at, (int)(1 + rng() % 255), run); break;
        }
        at += run;
    }
    store(name, b, len);
    return b;
}

/* Read the whole disk through vessel, in odd-sized vectored pieces. */
static uint8_t *read_all(struct disk_backend *d)
{
    uint64_t size = disk_size(d);
    uint8_t *b = malloc(size);
    for (uint64_t at = 0; at < size;) {
        uint64_t n = 512 * (1 + rng() % 700);
        if (n > size - at) n = size - at;
        size_t half = (size_t)(n / 512 / 2) * 512;
        struct iovec v[2] = {{b + at, half}, {b + at + half, n - half}};
        int rc = disk_preadv(d, v, 2, at);
        CHECK_EQ(rc, 0);
        if (rc) break;
        at += n;
    }
    return b;
}

/* The image read by vessel equals `qemu-img convert -O raw` of it. */
static void check_same_as_qemu(const char *img)
{
    char err[512] = "";
    struct disk_backend *d = disk_open(pathof(img), true, err, sizeof(err));
    if (!d) fprintf(stderr, "# %s\n", err);
    CHECK(d != NULL);
    if (!d) return;
    CHECK_EQ(sh("qemu-img convert -O raw %s truth.raw", img), 0);
    size_t len;
    uint8_t *truth = load("truth.raw", &len);
    CHECK_EQ(disk_size(d), len);
    uint8_t *got = read_all(d);
    CHECK(memcmp(got, truth, len) == 0);
    free(got);
    free(truth);
    disk_close(d);
}

static void test_read_converted(void)
{
    size_t len = 6u << 20;
    free(make_raw("src.raw", len));
    static const char *const opts[] = {
        "-o cluster_size=65536",
        "-o cluster_size=512",
        "-o cluster_size=4096,refcount_bits=1",
        "-o cluster_size=2M,refcount_bits=64",
        "-o compat=0.10",
        "-c",
        "-c -o cluster_size=4096",
        "-c -o compat=0.10,cluster_size=16384",
    };
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        CHECK_EQ(sh("qemu-img convert -O qcow2 %s src.raw conv.qcow2", opts[k]), 0);
        fprintf(stderr, "# read: convert %s\n", opts[k]);
        check_same_as_qemu("conv.qcow2");
        char err[256];
        struct disk_backend *d = disk_open(pathof("conv.qcow2"), true, err, sizeof(err));
        CHECK(d && disk_format(d) == DISK_FORMAT_QCOW2);
        disk_close(d);
    }
}

static void test_read_qemu_io(void)
{
    /* zero clusters (allocated, then zeroed), a discarded cluster, unaligned writes */
    CHECK_EQ(sh("qemu-img create -f qcow2 io.qcow2 3M"), 0);
    CHECK_EQ(sh("qemu-io -c 'write -P 0x11 0 192k' -c 'write -P 0x22 70k 3k' "
                "-c 'write -z 64k 64k' -c 'write -P 0x33 1M 64k' -c 'discard 1M 64k' "
                "-c 'write -P 0x44 3070k 2k' -c 'write -z -u 128k 64k' io.qcow2"),
             0);
    check_same_as_qemu("io.qcow2");
}

static void test_read_backing(void)
{
    free(make_raw("base.raw", 4u << 20));
    CHECK_EQ(sh("qemu-img create -f qcow2 -b base.raw -F raw mid.qcow2 4M"), 0);
    CHECK_EQ(sh("qemu-io -c 'write -P 0x55 0 100k' -c 'write -z 1M 64k' mid.qcow2"), 0);
    CHECK_EQ(sh("qemu-img create -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 5M"), 0);
    CHECK_EQ(sh("qemu-io -c 'write -P 0x66 90k 20k' -c 'write -P 0x77 4600k 4k' top.qcow2"), 0);
    check_same_as_qemu("mid.qcow2");
    check_same_as_qemu("top.qcow2"); /* larger than its backing: the tail reads as zeros */
    CHECK_EQ(sh("qemu-img convert -c -O qcow2 base.raw basec.qcow2"), 0);
    CHECK_EQ(sh("qemu-img create -f qcow2 -b basec.qcow2 -F qcow2 -o compat=0.10 ov2.qcow2"), 0);
    CHECK_EQ(sh("qemu-io -c 'write -P 0x12 8k 8k' ov2.qcow2"), 0);
    check_same_as_qemu("ov2.qcow2");
}

/* ---- writes ---- */

/* Random writes, write-zeroes and discards through vessel, mirrored in `mirror`. */
static void scribble(struct disk_backend *d, uint8_t *mirror, unsigned ops, bool zeroes)
{
    uint64_t size = disk_size(d) / 512 * 512;
    static uint8_t buf[256 << 10];
    for (unsigned k = 0; k < ops; k++) {
        uint64_t n = 512 * (1 + rng() % (rng() % 4 ? 16 : 400));
        uint64_t at = 512 * (rng() % (size / 512));
        if (n > size - at) n = size - at;
        unsigned kind = zeroes ? (unsigned)(rng() % 8) : 0;
        if (kind == 6) {
            CHECK_EQ(disk_write_zeroes(d, at, n, rng() & 1), 0);
            memset(mirror + at, 0, n);
        } else if (kind == 7) {
            CHECK_EQ(disk_discard(d, at, n), 0); /* a hint: the mirror learns by reading */
            struct iovec v = {mirror + at, n};
            CHECK_EQ(disk_preadv(d, &v, 1, at), 0);
        } else {
            for (uint64_t j = 0; j < n; j++)
                buf[j] = (uint8_t)(k + j / 512);
            size_t cut = (size_t)(rng() % (n / 512 + 1)) * 512;
            struct iovec v[2] = {{buf, cut}, {buf + cut, n - cut}};
            CHECK_EQ(disk_pwritev(d, v, 2, at), 0);
            memcpy(mirror + at, buf, n);
        }
        if (rng() % 50 == 0) CHECK_EQ(disk_flush(d), 0);
    }
}

/* Write through vessel, close, then: qemu-img check is clean, the content is the mirror. */
static void write_and_verify(const char *img, unsigned ops, bool zeroes)
{
    char err[512] = "";
    struct disk_backend *d = disk_open(pathof(img), false, err, sizeof(err));
    if (!d) fprintf(stderr, "# %s\n", err);
    CHECK(d != NULL);
    if (!d) return;
    uint8_t *mirror = read_all(d);
    uint64_t size = disk_size(d);
    scribble(d, mirror, ops, zeroes);
    uint8_t *got = read_all(d);
    CHECK(memcmp(got, mirror, size) == 0);
    free(got);
    disk_close(d);
    CHECK_EQ(sh("qemu-img check %s", img), 0);
    CHECK_EQ(sh("qemu-img convert -O raw %s truth.raw", img), 0);
    size_t len;
    uint8_t *truth = load("truth.raw", &len);
    CHECK_EQ(len, size);
    CHECK(memcmp(truth, mirror, size) == 0);
    free(truth);
    free(mirror);
}

static void test_write_fresh(void)
{
    static const char *const opts[] = {"", "-o cluster_size=4096,refcount_bits=1",
                                       "-o cluster_size=2M,refcount_bits=64", "-o compat=0.10",
                                       "-o cluster_size=512,refcount_bits=8"};
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        fprintf(stderr, "# write: create %s\n", opts[k]);
        CHECK_EQ(sh("qemu-img create -f qcow2 %s w.qcow2 8M", opts[k]), 0);
        write_and_verify("w.qcow2", 400, true);
        write_and_verify("w.qcow2", 100, true); /* again, over its own allocations */
    }
}

static void test_write_over_existing(void)
{
    free(make_raw("src.raw", 4u << 20));
    CHECK_EQ(sh("qemu-img convert -c -O qcow2 src.raw c.qcow2"), 0);
    write_and_verify("c.qcow2", 300, true); /* partial writes over compressed clusters */
    CHECK_EQ(sh("qemu-img convert -O qcow2 -o compat=0.10 src.raw c2.qcow2"), 0);
    write_and_verify("c2.qcow2", 300, true);
    CHECK_EQ(sh("qemu-img create -f qcow2 -o preallocation=metadata pre.qcow2 4M"), 0);
    write_and_verify("pre.qcow2", 200, true);
}

static void test_write_overlay(void)
{
    size_t blen;
    free(make_raw("base.raw", 4u << 20));
    uint8_t *before = load("base.raw", &blen);
    CHECK_EQ(sh("qemu-img create -f qcow2 -b base.raw -F raw ov.qcow2"), 0);
    write_and_verify("ov.qcow2", 300, true);
    CHECK_EQ(sh("qemu-img create -f qcow2 -o compat=0.10 -b base.raw -F raw ov2.qcow2"), 0);
    write_and_verify("ov2.qcow2", 300, true);
    size_t alen;
    uint8_t *after = load("base.raw", &alen);
    CHECK(alen == blen && memcmp(before, after, blen) == 0); /* the base is never written */
    free(before);
    free(after);
}

/* Enough appended clusters to outgrow a one-cluster refcount table several times. */
static void test_refcount_growth(void)
{
    CHECK_EQ(sh("qemu-img create -f qcow2 -o cluster_size=512 g.qcow2 64M"), 0);
    char err[256];
    struct disk_backend *d = disk_open(pathof("g.qcow2"), false, err, sizeof(err));
    CHECK(d != NULL);
    if (!d) return;
    static uint8_t buf[64 << 10];
    for (unsigned k = 0; k < 320; k++) { /* 20 MiB, scattered 64K pieces */
        memset(buf, (int)(k + 1), sizeof(buf));
        uint64_t at = ((uint64_t)k * 7919 % 1000) * sizeof(buf);
        struct iovec v = {buf, sizeof(buf)};
        CHECK_EQ(disk_pwritev(d, &v, 1, at), 0);
    }
    disk_close(d);
    CHECK_EQ(sh("qemu-img check g.qcow2"), 0);
    check_same_as_qemu("g.qcow2");
}

static void open_close(const char *img)
{
    char err[512] = "";
    struct disk_backend *d = disk_open(pathof(img), false, err, sizeof(err));
    if (!d) fprintf(stderr, "# %s\n", err);
    CHECK(d != NULL);
    disk_close(d);
}

/* A writer killed with SIGKILL in the middle of its loop: no corruption, only leaks at worst;
 * the next writable open repairs the refcounts (v3: the dirty bit says so) and the image is
 * clean again; a v2 image (no dirty bit) keeps its leaks until qemu-img check -r leaks. */
static void test_crash(void)
{
    static const char *const opts[] = {"-o cluster_size=65536", "-o cluster_size=4096",
                                       "-o cluster_size=512,refcount_bits=2",
                                       "-o compat=0.10,cluster_size=4096"};
    for (int round = 0; round < 4; round++) {
        bool v2 = round == 3;
        CHECK_EQ(sh("qemu-img create -f qcow2 %s crash.qcow2 32M", opts[round]), 0);
        pid_t pid = fork();
        if (pid == 0) {
            char err[256];
            struct disk_backend *d = disk_open(pathof("crash.qcow2"), false, err, sizeof(err));
            if (!d) _exit(1);
            uint8_t *mirror = calloc(1, disk_size(d));
            for (;;)
                scribble(d, mirror, 1000, true);
        }
        usleep(150000 + 100000 * (useconds_t)round);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st));
        int rc = sh("qemu-img check crash.qcow2");
        if ((rc != 0 && rc != 3) || getenv("VESSEL_TEST_VERBOSE"))
            shout("qemu-img check crash.qcow2 2>&1 | tail -4; ls -l crash.qcow2");
        CHECK(rc == 0 || rc == 3); /* 3: leaked clusters only */
        check_same_as_qemu("crash.qcow2");
        if (v2)
            CHECK_EQ(sh("qemu-img check -r leaks crash.qcow2"), 0);
        else
            open_close("crash.qcow2"); /* the repair */
        CHECK_EQ(sh("qemu-img check crash.qcow2"), 0);
        write_and_verify("crash.qcow2", 50, true);
    }
}

/* QEMU with lazy refcounts stopped by abort(): the dirty bit is set and refcounts lag behind;
 * vessel repairs the image when opening it for writing. */
static void test_repair_lazy_refcounts(void)
{
    CHECK_EQ(sh("qemu-img create -f qcow2 -o lazy_refcounts=on lazy.qcow2 4M"), 0);
    sh("qemu-io -c 'write -P 0x42 0 1M' -c 'write -P 0x43 2M 64k' -c abort lazy.qcow2; true");
    CHECK(sh("qemu-img check lazy.qcow2") != 0); /* refcounts behind the references */
    check_same_as_qemu("lazy.qcow2");            /* reading needs no repair */
    open_close("lazy.qcow2");
    CHECK_EQ(sh("qemu-img check lazy.qcow2"), 0);
    check_same_as_qemu("lazy.qcow2");
    write_and_verify("lazy.qcow2", 100, true);
}

/* ---- the block layer's rules ---- */

static void test_format_rules(void)
{
    char err[512];
    uint8_t sector[512];
    /* a raw disk guessed raw refuses a qcow2 header in sector 0, takes other data there */
    memset(sector, 0xab, sizeof(sector));
    store("plain.raw", sector, sizeof(sector));
    CHECK_EQ(truncate(pathof("plain.raw"), 1 << 20), 0);
    struct disk_backend *d = disk_open(pathof("plain.raw"), false, err, sizeof(err));
    CHECK(d && disk_format(d) == DISK_FORMAT_RAW);
    memcpy(sector, "QFI\xfb\0\0\0\3", 8);
    struct iovec v = {sector, sizeof(sector)};
    CHECK_EQ(disk_pwritev(d, &v, 1, 0), -EPERM);
    CHECK_EQ(disk_pwritev(d, &v, 1, 512), 0); /* elsewhere it is only data */
    memcpy(sector, "KDMV", 4);
    CHECK_EQ(disk_pwritev(d, &v, 1, 0), -EPERM);
    memset(sector, 0, 8);
    CHECK_EQ(disk_pwritev(d, &v, 1, 0), 0);
    disk_close(d);
    /* format=raw given: the user said so, sector 0 is the guest's */
    d = disk_open(pathof("plain.raw,format=raw"), false, err, sizeof(err));
    CHECK(d != NULL);
    memcpy(sector, "QFI\xfb", 4);
    CHECK_EQ(disk_pwritev(d, &v, 1, 0), 0);
    disk_close(d);
    /* now it probes as a (broken) qcow2: refused, never guessed back to raw */
    CHECK(disk_open(pathof("plain.raw"), false, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "plain.raw") != NULL);
    d = disk_open(pathof("plain.raw,format=raw"), true, err, sizeof(err));
    CHECK(d && disk_format(d) == DISK_FORMAT_RAW);
    disk_close(d);
    /* format=qcow2 on a raw file, unknown formats and options */
    memset(sector, 0, 8);
    store("zero.raw", sector, sizeof(sector));
    CHECK(disk_open(pathof("zero.raw,format=qcow2"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "not a qcow2 image") && strstr(err, "zero.raw"));
    CHECK(disk_open(pathof("zero.raw,format=vmdk"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "vmdk") != NULL);
    CHECK(disk_open(pathof("zero.raw,cache=none"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "cache=none") != NULL);
    /* a header of a format vessel does not read is not guessed into raw */
    if (sh("qemu-img create -f vmdk x.vmdk 1M") == 0) {
        CHECK(disk_open(pathof("x.vmdk"), true, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "format=raw") != NULL);
    }
    /* a qcow2 image is opened as qcow2 by its header, as raw only when asked */
    CHECK_EQ(sh("qemu-img create -f qcow2 q.qcow2 1M"), 0);
    d = disk_open(pathof("q.qcow2"), true, err, sizeof(err));
    CHECK(d && disk_format(d) == DISK_FORMAT_QCOW2 && disk_size(d) == 1 << 20);
    disk_close(d);
    d = disk_open(pathof("q.qcow2,format=raw"), true, err, sizeof(err));
    CHECK(d && disk_format(d) == DISK_FORMAT_RAW && disk_size(d) < 1 << 20);
    disk_close(d);
}

static void test_backing_rules(void)
{
    char err[1024];
    CHECK_EQ(sh("mkdir -p vm/sub other && truncate -s 1M vm/sub/b.raw other/o.raw"), 0);
    /* below the image's directory: allowed, relative to the image */
    CHECK_EQ(sh("cd vm && qemu-img create -f qcow2 -b sub/b.raw -F raw a.qcow2"), 0);
    struct disk_backend *d = disk_open(pathof("vm/a.qcow2"), false, err, sizeof(err));
    CHECK(d != NULL);
    disk_close(d);
    /* elsewhere by absolute path, and by ../: refused unless backing-dir names it */
    CHECK_EQ(sh("qemu-img create -f qcow2 -b %s/other/o.raw -F raw vm/abs.qcow2", dir), 0);
    CHECK_EQ(sh("cd vm && qemu-img create -f qcow2 -b ../other/o.raw -F raw rel.qcow2"), 0);
    CHECK(disk_open(pathof("vm/abs.qcow2"), false, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "outside the allowed directories") && strstr(err, "abs.qcow2") &&
          strstr(err, "backing-dir"));
    CHECK(disk_open(pathof("vm/rel.qcow2"), true, err, sizeof(err)) == NULL);
    char spec[512];
    snprintf(spec, sizeof(spec), "%s/vm/rel.qcow2,backing-dir=%s/other", dir, dir);
    d = disk_open(spec, false, err, sizeof(err));
    CHECK(d != NULL);
    disk_close(d);
    snprintf(spec, sizeof(spec), "%s/vm/rel.qcow2,backing-dir=%s/nowhere", dir, dir);
    CHECK(disk_open(spec, false, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "backing-dir") != NULL);
    /* a symlink inside the directory pointing out of it does not help */
    CHECK_EQ(sh("ln -sf %s/other/o.raw vm/link.raw && cd vm && "
                "qemu-img create -f qcow2 -b link.raw -F raw sym.qcow2",
                dir),
             0);
    CHECK(disk_open(pathof("vm/sym.qcow2"), true, err, sizeof(err)) == NULL);
    /* a chain that names itself ends at the depth limit with a message */
    CHECK_EQ(sh("cd vm && qemu-img create -f qcow2 -b sub/b.raw -F raw loop.qcow2 && "
                "qemu-img rebase -u -b loop.qcow2 -F qcow2 loop.qcow2"),
             0);
    CHECK(disk_open(pathof("vm/loop.qcow2"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "deeper") != NULL);
    /* a missing backing file names both files */
    CHECK_EQ(sh("cd vm && qemu-img create -f qcow2 -b sub/b.raw -F raw gone.qcow2 1M && "
                "qemu-img rebase -u -b sub/none.raw -F raw gone.qcow2"),
             0);
    CHECK(disk_open(pathof("vm/gone.qcow2"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "gone.qcow2") && strstr(err, "none.raw"));
}

static void test_unsupported(void)
{
    char err[512];
    CHECK_EQ(sh("qemu-img create -f qcow2 s.qcow2 1M && qemu-img snapshot -c snap s.qcow2"), 0);
    CHECK(disk_open(pathof("s.qcow2"), false, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "snapshot") != NULL);
    struct disk_backend *d = disk_open(pathof("s.qcow2"), true, err, sizeof(err));
    CHECK(d != NULL); /* the active image still reads */
    disk_close(d);
    CHECK_EQ(sh("qemu-img create -f qcow2 -o compression_type=zstd z.qcow2 1M"), 0);
    CHECK(disk_open(pathof("z.qcow2"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "zstd") != NULL);
    CHECK_EQ(sh("qemu-img create -f qcow2 -o extended_l2=on e.qcow2 1M"), 0);
    CHECK(disk_open(pathof("e.qcow2"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "subclusters") != NULL);
    CHECK_EQ(sh("qemu-img create -f qcow2 -o data_file=e.data d.qcow2 1M"), 0);
    CHECK(disk_open(pathof("d.qcow2"), true, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "external data") != NULL);
}

int main(void)
{
    log_threshold = LOG_ERROR;
    strcpy(dir, "/tmp/vessel-qcow2-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    have_qemu = sh("qemu-img --version && qemu-io --version") == 0;
    if (!have_qemu) {
        printf("not ok 1 - qemu-img/qemu-io missing: install qemu-utils (scripts/setup.sh)\n");
        printf("1..1\n");
        return 1;
    }
    RUN(test_read_converted);
    RUN(test_read_qemu_io);
    RUN(test_read_backing);
    RUN(test_write_fresh);
    RUN(test_write_over_existing);
    RUN(test_write_overlay);
    RUN(test_refcount_growth);
    RUN(test_crash);
    RUN(test_repair_lazy_refcounts);
    RUN(test_format_rules);
    RUN(test_backing_rules);
    RUN(test_unsupported);
    sh("rm -rf %s", dir);
    return check_done();
}
