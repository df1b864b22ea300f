/* runner.c — runs one bare-metal guest test program (tests/guest/NAME.S as a flat binary) on the
 * vessel CPU engine through the public vCPU API and turns what it reports through I/O ports
 * into TAP. The program checks its own results (CHECK in lib.inc); the runner asserts that
 * every check passed, that exactly the expected number of checks reported (so skipped checks
 * fail), and that the run ended the expected way (done port, or triple-fault shutdown).
 *
 * usage: guest_runner PROGRAM.bin EXPECTED_CHECKS [shutdown]
 *
 * Machine: 16 MiB RAM; the program at 0x10000; PML4/PDPT/PD at 0x1000/0x2000/0x3000
 * identity-mapping 1 GiB with 2 MiB user+writable pages; 64-bit CPL 0 entry state. Ports:
 * see lib.inc. The interrupt controller offers the vector last written to port 0xE2 until the
 * CPU acknowledges it. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/cpu.h"

#define RAM_SIZE  (16u << 20)
#define LOAD_ADDR 0x10000u
#define LOAD_MAX  0x50000u
#define MAX_INSNS 50000000ull /* a runaway program fails instead of hanging the suite */
#define SLICE     100000ull

struct guest {
    struct vcpu *v;
    unsigned tap; /* TAP lines printed */
    unsigned passed, failed;
    uint32_t vlo, vhi; /* actual value of the next failure */
    bool done;
    uint32_t status;
    int irq;          /* pending vector or -1 */
    int delayed_irq;  /* vector armed through port 0xE7, or -1 */
    unsigned delay;   /* instructions to retire after the arming OUT first */
    bool delay_based; /* delay_base holds the count at the OUT's retirement */
    uint64_t delay_base;
    unsigned acks;
    uint8_t tpr;
    uint64_t counter, out_sum;
    char line[256];
    unsigned line_len;
};

static const char *prog_name = "guest";

static void tap(struct guest *g, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tap(struct guest *g, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %u - %s: ", ok ? "ok" : "not ok", ++g->tap, prog_name);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static uint64_t port_read(void *opaque, uint64_t off, unsigned size)
{
    struct guest *g = opaque;
    if (off + 0xE0 == 0xE9) return (uint32_t)g->out_sum;
    if (off + 0xE0 == 0xE8)
        return (g->counter++) & (size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1);
    return 0;
}

static void port_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct guest *g = opaque;
    uint32_t v = (uint32_t)val;
    switch (off + 0xE0) {
    case 0xE0:
        g->passed++;
        tap(g, true, "check %u", v);
        break;
    case 0xE1:
        g->failed++;
        tap(g, false, "check %u (actual %#" PRIx64 ")", v, ((uint64_t)g->vhi << 32) | g->vlo);
        break;
    case 0xE2: g->irq = (int)(v & 0xff); break;
    case 0xE7:
        g->delayed_irq = (int)(v & 0xff);
        g->delay = (v >> 8) & 0xff;
        g->delay_based = false;
        break;
    case 0xE3:
        g->done = true;
        g->status = v;
        vcpu_request_exit(g->v);
        break;
    case 0xE4: g->vlo = v; break;
    case 0xE5: g->vhi = v; break;
    case 0xE6:
        if (v == '\n' || g->line_len == sizeof(g->line) - 1) {
            g->line[g->line_len] = 0;
            printf("# guest: %s\n", g->line);
            g->line_len = 0;
        } else {
            g->line[g->line_len++] = (char)v;
        }
        break;
    case 0xE8: g->out_sum += val; break;
    default: break;
    }
}

static const struct io_ops test_port_ops = {port_read, port_write};

/* A delayed vector becomes pending once `delay` instructions have retired after the arming
 * OUT. The OUT ends its block, so the first poll after it sees the count at its retirement;
 * later polls happen only at block boundaries with IF set and no interrupt shadow. */
static int intc_pending(void *opaque)
{
    struct guest *g = opaque;
    if (g->delayed_irq >= 0 && g->irq < 0) {
        struct vcpu_stats st;
        vcpu_get_stats(g->v, &st);
        if (!g->delay_based) {
            g->delay_based = true;
            g->delay_base = st.insns;
        }
        if (st.insns >= g->delay_base + g->delay) {
            g->irq = g->delayed_irq;
            g->delayed_irq = -1;
        }
    }
    return g->irq;
}

static void intc_ack(void *opaque, int vector)
{
    struct guest *g = opaque;
    if (vector == g->irq) {
        g->irq = -1;
        g->acks++;
    }
}

static void intc_set_tpr(void *opaque, uint8_t tpr)
{
    ((struct guest *)opaque)->tpr = tpr;
}

static uint8_t intc_get_tpr(void *opaque)
{
    return ((struct guest *)opaque)->tpr;
}

static const struct vcpu_intc_ops test_intc = {intc_pending, intc_ack, intc_set_tpr, intc_get_tpr};

static void put64(struct bus *b, uint64_t gpa, uint64_t v)
{
    memcpy(b->ram + gpa, &v, 8);
}

/* Identity map of the first 1 GiB with 2 MiB pages (P|W|U|PS). */
static void build_page_tables(struct bus *b)
{
    put64(b, 0x1000, 0x2000 | 7);
    put64(b, 0x2000, 0x3000 | 7);
    for (uint64_t k = 0; k < 512; k++)
        put64(b, 0x3000 + k * 8, (k << 21) | 0x87);
}

static void set_entry_state(struct vcpu *v)
{
    struct vcpu_sregs s;
    memset(&s, 0, sizeof(s));
    vcpu_get_sregs(v, &s);
    struct vcpu_segment code = {.selector = 0x08, .base = 0, .limit = 0xffffffff, .attr = 0xA09B};
    struct vcpu_segment data = {.selector = 0x10, .base = 0, .limit = 0xffffffff, .attr = 0xC093};
    s.seg[VSEG_CS] = code;
    s.seg[VSEG_SS] = s.seg[VSEG_DS] = s.seg[VSEG_ES] = data;
    s.seg[VSEG_FS] = s.seg[VSEG_GS] = (struct vcpu_segment){0};
    s.seg[VSEG_LDTR] = (struct vcpu_segment){0};
    s.seg[VSEG_TR] = (struct vcpu_segment){.selector = 0, .limit = 0x67, .attr = 0x8B};
    s.gdt_base = s.idt_base = 0;
    s.gdt_limit = s.idt_limit = 0;
    s.cr0 = 0x80000033; /* PG NE ET MP PE */
    s.cr2 = 0;
    s.cr3 = 0x1000;
    s.cr4 = 0x6A0;  /* OSXMMEXCPT OSFXSR PGE PAE */
    s.efer = 0xD01; /* NXE LMA LME SCE */
    vcpu_set_sregs(v, &s);

    struct vcpu_regs r;
    memset(&r, 0, sizeof(r));
    r.rip = LOAD_ADDR;
    r.gpr[4] = 0x9F000;
    r.rflags = 2;
    vcpu_set_regs(v, &r);
}

static int load_program(struct bus *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "runner: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fread(b->ram + LOAD_ADDR, 1, LOAD_MAX, f);
    bool too_big = fgetc(f) != EOF;
    fclose(f);
    if (n == 0 || too_big) {
        fprintf(stderr, "runner: %s: empty or larger than %#x bytes\n", path, LOAD_MAX);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PROGRAM.bin EXPECTED_CHECKS [shutdown] [cpu=MODEL]\n", argv[0]);
        return 2;
    }
    const char *slash = strrchr(argv[1], '/');
    prog_name = slash ? slash + 1 : argv[1];
    unsigned expected = (unsigned)strtoul(argv[2], NULL, 0);
    bool want_shutdown = false;
    const char *model = NULL;
    for (int k = 3; k < argc; k++) {
        if (!strcmp(argv[k], "shutdown")) want_shutdown = true;
        if (!strncmp(argv[k], "cpu=", 4)) model = argv[k] + 4;
    }
    /* cpu=MODEL: the CPU model (docs/CPU-MODEL.md); one this host cannot provide skips the
     * program with the model's reason */
    char why[256];
    if (vcpu_model_select(model, why, sizeof why) < 0) {
        printf("1..0 # SKIP %s\n", why);
        return 0;
    }

    struct bus bus;
    if (bus_init(&bus, RAM_SIZE) != 0) return 2;
    struct guest g = {.irq = -1, .delayed_irq = -1};
    if (bus_add_pio(&bus, 0xE0, 16, &test_port_ops, &g, "guest-test") != 0 ||
        load_program(&bus, argv[1]) != 0) {
        bus_destroy(&bus);
        return 2;
    }
    build_page_tables(&bus);
    g.v = vcpu_create(&bus, 0);
    if (!g.v) {
        bus_destroy(&bus);
        return 2;
    }
    vcpu_set_intc(g.v, &test_intc, &g);
    set_entry_state(g.v);

    enum vcpu_exit e = VCPU_EXIT_BUDGET;
    uint64_t ran = 0;
    bool stuck = false;
    while (!g.done && ran < MAX_INSNS) {
        e = vcpu_run(g.v, SLICE);
        ran += SLICE;
        if (e == VCPU_EXIT_SHUTDOWN || e == VCPU_EXIT_INTERNAL) break;
        if (e == VCPU_EXIT_HLT && g.irq < 0 && g.delayed_irq < 0) {
            stuck = true; /* halted with nothing that could ever wake it */
            break;
        }
    }

    if (want_shutdown) {
        tap(&g, e == VCPU_EXIT_SHUTDOWN, "triple fault ends the run with VCPU_EXIT_SHUTDOWN (%s)",
            vcpu_exit_reason(g.v));
    } else {
        bool ok = g.done && g.status == 0;
        tap(&g, ok, "reached the done port with status 0 (done=%d status=%u exit=%d%s)", g.done,
            g.status, (int)e, stuck ? ", halted forever" : "");
        if (!ok) vcpu_dump(g.v, stderr);
    }
    tap(&g, g.passed == expected && g.failed == 0, "%u of %u expected checks passed, %u failed",
        g.passed, expected, g.failed);
    printf("1..%u\n", g.tap);
    bool ok = g.failed == 0 && g.passed == expected &&
              (want_shutdown ? e == VCPU_EXIT_SHUTDOWN : (g.done && g.status == 0));
    vcpu_destroy(g.v);
    bus_destroy(&bus);
    return ok ? 0 : 1;
}
