/* test_pc.c — the assembled board with a tiny 64-bit guest (the same program as
 * tests/integration/test_machine.py): boot, COM1 output and input, ACPI power-off and pvpanic
 * events, a whole-machine save/load round trip that resumes identically, and the board's
 * kvmclock reached through the vCPU's platform MSRs and carried across save/load, and the
 * memory features (RAM in a file, the balloon and the memory report). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hw/kvmclock.h"
#include "machine/pc.h"
#include "machine/pc_internal.h"
#include "vessel/cpu.h"
#include "vessel/state.h"

static const char tiny_hex[] =
    "488d3574000000e86200000066bafd03f390eca80174f966baf803ec3c70741b3c6f74203c7274253c74742a"
    "3c68742e3c69742ee82d000000ebd166ba0505b001eeebc866ba0006b034eeebbf66ba0206b00feeebb60f01"
    "1d2b000000ccfaf4ebfcfbf4ebfc5266baf803ee5ac3ac84c07407e8eeffffffebf4c374696e793a2072656164"
    "790a0000000000000000000000";

struct sink {
    char out[256];
    size_t len;
    int poweroffs, resets, panics;
};

static void on_serial(void *o, const uint8_t *b, size_t n)
{
    struct sink *s = o;
    for (size_t i = 0; i < n && s->len < sizeof(s->out) - 1; i++)
        s->out[s->len++] = (char)b[i];
}
static void on_poweroff(void *o)
{
    ((struct sink *)o)->poweroffs++;
}
static void on_reset(void *o)
{
    ((struct sink *)o)->resets++;
}
static void on_panic(void *o, unsigned ev)
{
    ((struct sink *)o)->panics += (int)ev;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A one-segment ELF at 1 MiB, like the integration test's. */
static void write_tiny(const char *path)
{
    uint8_t f[64 + 56 + 200] = {0};
    size_t code = strlen(tiny_hex) / 2, total = 64 + 56 + code;
    memcpy(f,
           "\x7f"
           "ELF\x02\x01\x01",
           7);
    put_le(f + 16, 2, 2);    /* ET_EXEC */
    put_le(f + 18, 0x3E, 2); /* x86-64 */
    put_le(f + 20, 1, 4);
    put_le(f + 24, 0x100000 + 120, 8); /* entry */
    put_le(f + 32, 64, 8);             /* phoff */
    put_le(f + 52, 64, 2);
    put_le(f + 54, 56, 2);
    put_le(f + 56, 1, 2); /* one phdr */
    uint8_t *ph = f + 64;
    put_le(ph, 1, 4); /* PT_LOAD */
    put_le(ph + 4, 5, 4);
    put_le(ph + 16, 0x100000, 8);
    put_le(ph + 24, 0x100000, 8);
    put_le(ph + 32, total, 8);
    put_le(ph + 40, total, 8);
    put_le(ph + 48, 0x1000, 8);
    for (size_t i = 0; i < code; i++) {
        unsigned v;
        sscanf(tiny_hex + 2 * i, "%2x", &v);
        f[120 + i] = (uint8_t)v;
    }
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    fwrite(f, 1, total, fp);
    fclose(fp);
}

static char tiny_path[] = "/tmp/vessel-test-pc-XXXXXX";

static struct pc *make_with(struct sink *s, uint64_t ram, bool balloon, const char *memory_file,
                            int *usage)
{
    memset(s, 0, sizeof(*s));
    struct pc_config cfg = {
        .ram_size = ram,
        .memory_file = memory_file,
        .balloon = {.enabled = balloon, .size = 4u << 20, .reporting = true},
        .kernel = tiny_path,
        .cmdline = "",
        .events = {.poweroff = on_poweroff,
                   .reset = on_reset,
                   .panic = on_panic,
                   .serial_out = on_serial,
                   .opaque = s},
    };
    char err[256];
    struct pc *pc = pc_create(&cfg, err, sizeof(err), usage);
    if (!pc) fprintf(stderr, "# pc_create: %s\n", err);
    return pc;
}

static struct pc *make(struct sink *s, uint64_t ram)
{
    int usage;
    return make_with(s, ram, false, NULL, &usage);
}

static void run_for(struct pc *pc, unsigned slices)
{
    for (unsigned i = 0; i < slices; i++)
        vcpu_run(pc_vcpu(pc), 20000);
}

static void test_boot_and_events(void)
{
    struct sink s;
    struct pc *pc = make(&s, 64 << 20);
    CHECK(pc != NULL);
    if (!pc) return;
    run_for(pc, 5);
    CHECK(strstr(s.out, "tiny: ready\n") != NULL);
    /* The guest never enables the FIFO: the receiver holds one byte at a time. */
    CHECK_EQ(pc_serial_input(pc, (const uint8_t *)"xy", 2), 1);
    run_for(pc, 5);
    CHECK_EQ(pc_serial_input(pc, (const uint8_t *)"y", 1), 1);
    run_for(pc, 5);
    CHECK(strstr(s.out, "ready\nxy") != NULL);
    CHECK_EQ(pc_serial_input(pc, (const uint8_t *)"p", 1), 1);
    run_for(pc, 5);
    CHECK_EQ(s.panics, 1);
    CHECK_EQ(pc_serial_input(pc, (const uint8_t *)"r", 1), 1);
    run_for(pc, 5);
    CHECK_EQ(s.resets, 1);
    CHECK_EQ(pc_serial_input(pc, (const uint8_t *)"o", 1), 1);
    run_for(pc, 5);
    CHECK_EQ(s.poweroffs, 1);
    CHECK(!pc_irq_pending(pc));
    CHECK_EQ(pc_update_timers(pc, 0), UINT64_MAX); /* nothing programmed a timer */
    pc_destroy(pc);
}

static void test_save_load(void)
{
    struct sink s1, s2, s3;
    struct pc *a = make(&s1, 64 << 20), *b = make(&s2, 64 << 20), *c = make(&s3, 128 << 20);
    CHECK(a && b && c);
    if (!a || !b || !c) return;
    run_for(a, 5);
    pc_serial_input(a, (const uint8_t *)"q", 1);
    run_for(a, 3);

    struct state_writer w;
    state_writer_init(&w);
    pc_save(a, &w);
    CHECK(!w.error);
    CHECK_EQ(pc_load(b, w.data, w.len), 0);
    CHECK_EQ(pc_load(c, w.data, w.len), -1); /* different RAM size */
    CHECK_EQ(pc_load(b, w.data, 20), -1);    /* truncated */

    struct vcpu_regs ra, rb;
    vcpu_get_regs(pc_vcpu(a), &ra);
    vcpu_get_regs(pc_vcpu(b), &rb);
    CHECK(!memcmp(&ra, &rb, sizeof(ra)));
    CHECK(!memcmp(a->bus.ram, b->bus.ram, a->bus.ram_size));

    /* Both continue the same way: the restored one echoes new input too. */
    s1.len = s2.len = 0;
    pc_serial_input(a, (const uint8_t *)"z", 1);
    pc_serial_input(b, (const uint8_t *)"z", 1);
    run_for(a, 3);
    run_for(b, 3);
    CHECK_EQ(s1.len, 1);
    CHECK_EQ(s2.len, 1);
    CHECK(s1.out[0] == 'z' && s2.out[0] == 'z');
    state_writer_free(&w);
    pc_destroy(a);
    pc_destroy(b);
    pc_destroy(c);
}

/* The memory features on the board: RAM in a file, the balloon and its report, and a
 * save/load that needs the same devices on both sides. */
static void test_memory(void)
{
    char dir[] = "/tmp/vessel-test-pc.XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/ram", dir);
    struct sink s1, s2, s3;
    int usage = 0;
    struct pc *a = make_with(&s1, 64 << 20, true, path, &usage);
    struct pc *b = make_with(&s2, 64 << 20, true, NULL, &usage);
    struct pc *c = make(&s3, 64 << 20);
    CHECK(a && b && c);
    if (!a || !b || !c) return;
    struct sink s4;
    CHECK(make_with(&s4, 64 << 20, false, path, &usage) == NULL); /* the file exists */
    CHECK_EQ(usage, 1);

    struct pc_memory_report r;
    pc_memory_report(a, &r);
    CHECK(r.ram_file && r.balloon);
    CHECK_EQ(r.ram_size, 64 << 20);
    CHECK(r.ram_resident > 0 && r.ram_resident < r.ram_size);
    CHECK_EQ(r.balloon_target, 4u << 20);
    CHECK_EQ(r.balloon_actual, 0);
    CHECK_EQ(r.stats_age_ns, PC_UNKNOWN);
    CHECK_EQ(r.mem_free, PC_UNKNOWN);
    CHECK_EQ(pc_balloon_set_size(a, 8u << 20), 0);
    CHECK_EQ(pc_balloon_request_stats(a), 0);
    pc_memory_report(a, &r);
    CHECK_EQ(r.balloon_target, 8u << 20);
    pc_memory_report(c, &r);
    CHECK(!r.ram_file && !r.balloon);
    CHECK_EQ(pc_balloon_set_size(c, 1), -1);
    CHECK_EQ(pc_balloon_request_stats(c), -1);

    run_for(a, 3);
    struct state_writer w;
    state_writer_init(&w);
    pc_save(a, &w);
    CHECK_EQ(pc_load(b, w.data, w.len), 0); /* anonymous RAM takes a file-backed board's state */
    pc_memory_report(b, &r);
    CHECK_EQ(r.balloon_target, 8u << 20);
    CHECK_EQ(pc_load(c, w.data, w.len), -1); /* no balloon there */
    state_writer_free(&w);
    pc_destroy(a);
    pc_destroy(b);
    pc_destroy(c);
    CHECK_EQ(rmdir(dir), 0); /* the RAM file went with its board */
}

/* kvmclock is the board's device, reached through the vCPU's platform MSRs: the record converts
 * TSC to ns at the advertised rate, is stable, and survives a whole-machine save/load. */
static void test_kvmclock(void)
{
    struct sink s1, s2;
    struct pc *a = make(&s1, 64 << 20), *b = make(&s2, 64 << 20);
    CHECK(a && b);
    if (!a || !b) return;
    struct vcpu *v = pc_vcpu(a);
    uint64_t x;
    CHECK(vcpu_set_msr(v, 0x10, 1000000)); /* IA32_TSC */
    CHECK(vcpu_set_msr(v, MSR_KVM_SYSTEM_TIME_NEW, 0x9000 | 1));
    const uint8_t *ram = a->bus.ram;
    uint32_t ver, mul;
    uint64_t ts, sys;
    int8_t shift;
    memcpy(&ver, ram + 0x9000, 4);
    memcpy(&ts, ram + 0x9008, 8);
    memcpy(&sys, ram + 0x9010, 8);
    memcpy(&mul, ram + 0x9018, 4);
    memcpy(&shift, ram + 0x901c, 1);
    CHECK(ver != 0 && !(ver & 1));
    CHECK(ts >= 1000000);
    CHECK_EQ(ram[0x901d], PVCLOCK_TSC_STABLE_BIT);
    CHECK(sys < 60000000000ull);     /* ns since the board was built */
    uint64_t delta = vcpu_tsc_hz(v); /* one second of TSC */
    delta = shift < 0 ? delta >> -shift : delta << shift;
    uint64_t ns = (uint64_t)(((unsigned __int128)delta * mul) >> 32);
    CHECK(ns > 999999000ull && ns <= 1000000000ull);
    CHECK(vcpu_get_msr(v, MSR_KVM_SYSTEM_TIME_NEW, &x));
    CHECK_EQ(x, 0x9001);
    CHECK(vcpu_set_msr(v, MSR_KVM_WALL_CLOCK_NEW, 0x9100));
    uint32_t sec;
    memcpy(&sec, ram + 0x9104, 4);
    CHECK(sec > 1700000000u);

    struct state_writer w;
    state_writer_init(&w);
    pc_save(a, &w);
    CHECK(!w.error);
    CHECK_EQ(pc_load(b, w.data, w.len), 0);
    CHECK(vcpu_get_msr(pc_vcpu(b), MSR_KVM_SYSTEM_TIME, &x));
    CHECK_EQ(x, 0x9001);
    CHECK(vcpu_get_msr(pc_vcpu(b), MSR_KVM_WALL_CLOCK_NEW, &x));
    CHECK_EQ(x, 0x9100);
    /* The load re-published the record for the restored TSC: a newer, complete version. */
    uint32_t ver2;
    memcpy(&ver2, b->bus.ram + 0x9000, 4);
    CHECK(ver2 > ver && !(ver2 & 1));
    state_writer_free(&w);
    pc_destroy(a);
    pc_destroy(b);
}

static void test_bad_kernel(void)
{
    struct sink s;
    memset(&s, 0, sizeof(s));
    char junk[] = "/tmp/vessel-test-pc-junk-XXXXXX";
    int fd = mkstemp(junk);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK_EQ(write(fd, "not a kernel\n", 13), 13);
    close(fd);
    struct pc_config cfg = {.ram_size = 64 << 20, .kernel = junk, .cmdline = ""};
    char err[256];
    int usage = 0;
    CHECK(pc_create(&cfg, err, sizeof(err), &usage) == NULL);
    CHECK_EQ(usage, 1);
    CHECK(err[0] != 0);
    unlink(junk);
}

int main(void)
{
    int fd = mkstemp(tiny_path);
    if (fd >= 0) close(fd);
    write_tiny(tiny_path);
    RUN(test_boot_and_events);
    RUN(test_save_load);
    RUN(test_memory);
    RUN(test_kvmclock);
    RUN(test_bad_kernel);
    unlink(tiny_path);
    return check_done();
}
