/* test_state.c — the versioned state stream: round trips, section lookup, bounds; and the
 * declarative sections: a field table writes exactly the bytes the hand-written puts did, loads
 * them back, and refuses a bad section naming the field while leaving the object untouched. */
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "vessel/bus.h"
#include "vessel/cpu.h"
#include "vessel/state.h"

static void test_roundtrip(void)
{
    struct state_writer w;
    state_writer_init(&w);
    state_section_begin(&w, "alpha", 3);
    state_put_u8(&w, 0xab);
    state_put_u16(&w, 0x1234);
    state_put_u32(&w, 0xdeadbeef);
    state_put_u64(&w, 0x0123456789abcdefull);
    state_section_end(&w);
    state_section_begin(&w, "beta", 1);
    state_put_bytes(&w, "hello", 5);
    state_section_end(&w);
    CHECK(!w.error);

    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    uint32_t ver = 0;
    CHECK(state_section_find(&r, "beta", &ver));
    CHECK_EQ(ver, 1);
    char buf[6] = {0};
    state_get_bytes(&r, buf, 5);
    CHECK(strcmp(buf, "hello") == 0);
    CHECK(state_ok(&r));
    CHECK(state_section_find(&r, "alpha", &ver));
    CHECK_EQ(ver, 3);
    CHECK_EQ(state_get_u8(&r), 0xab);
    CHECK_EQ(state_get_u16(&r), 0x1234);
    CHECK_EQ(state_get_u32(&r), 0xdeadbeef);
    CHECK_EQ(state_get_u64(&r), 0x0123456789abcdefull);
    CHECK(state_ok(&r));
    /* reading past the section's end is an error, not a read of the next section */
    state_get_u8(&r);
    CHECK(!state_ok(&r));
    CHECK(!state_section_find(&r, "gamma", &ver));
    state_writer_free(&w);
}

static void test_malformed(void)
{
    struct state_reader r;
    CHECK(!state_reader_init(&r, "garbage!garbage!", 16));
    struct state_writer w;
    state_writer_init(&w);
    state_section_begin(&w, "x", 1);
    state_put_u64(&w, 7);
    state_section_end(&w);
    /* truncated stream: the section claims more payload than exists */
    CHECK(state_reader_init(&r, w.data, w.len - 3));
    CHECK(!state_section_find(&r, "x", NULL));
    /* misuse: nested sections are refused */
    state_section_begin(&w, "a", 1);
    state_section_begin(&w, "b", 1);
    CHECK(w.error);
    state_writer_free(&w);
}

static void test_file(void)
{
    char dir[] = "/tmp/vessel-state-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/snap", dir);
    struct state_writer w;
    state_writer_init(&w);
    state_section_begin(&w, "z", 2);
    state_put_u32(&w, 42);
    state_section_end(&w);
    CHECK_EQ(state_write_file(&w, path), 0);
    uint8_t *data;
    size_t len;
    CHECK_EQ(state_read_file(path, &data, &len), 0);
    CHECK_EQ(len, w.len);
    CHECK(memcmp(data, w.data, len) == 0);
    free(data);
    state_writer_free(&w);
    unlink(path);
    rmdir(dir);
}

/* A device-like object with every kind of field. */
struct demo_part {
    uint16_t a;
    uint32_t b;
};
struct demo {
    int not_state; /* never on the wire, never touched by a load */
    uint8_t u8;
    uint16_t u16;
    uint32_t masked;
    uint64_t u64;
    bool flag;
    uint32_t arr[3];
    uint8_t bytes[5];
    long double ld[2]; /* 10 bytes each on the wire */
    struct demo_part parts[2];
    uint32_t row_x[2], row_y[2]; /* interleaved: x0 y0 x1 y1 */
    bool f0, f1, f2;
    uint8_t fifo[4];
    unsigned fifo_len;
};

static void demo_fifo_put(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    const struct demo *d = obj;
    state_put_u8(w, (uint8_t)d->fifo_len);
    state_put_bytes(w, d->fifo, d->fifo_len);
}

static const char *demo_fifo_get(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    struct demo *d = tmp;
    unsigned n = state_get_u8(r);
    if (n > sizeof(d->fifo)) return "too long";
    d->fifo_len = n;
    state_get_bytes(r, d->fifo, n);
    return NULL;
}

static const char *demo_check(const void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    const struct demo *d = tmp;
    return d->u8 == 0xee ? "u8 may not be 0xee" : NULL;
}

static const struct state_field demo_part_fields[] = {
    STATE_U16(struct demo_part, a),
    STATE_UINT_X(struct demo_part, b, 4, UINT64_MAX, 0, 1, 100),
};
static const struct state_desc demo_part_desc =
    STATE_DESC(struct demo_part, demo_part_fields, NULL);
static const struct state_field demo_row_fields[] = {
    STATE_U32(struct demo, row_x[0]),
    STATE_U32(struct demo, row_y[0]),
};
static const struct state_desc demo_row_desc = STATE_DESC(struct demo, demo_row_fields, NULL);
static const size_t demo_flag_bits[] = {offsetof(struct demo, f0), offsetof(struct demo, f1),
                                        offsetof(struct demo, f2)};
static const struct state_field demo_fields[] = {
    STATE_U8(struct demo, u8),
    STATE_U16(struct demo, u16),
    STATE_UINT_X(struct demo, masked, 4, 0xff, 0x100, 0, UINT64_MAX),
    STATE_U64(struct demo, u64),
    STATE_BOOL(struct demo, flag),
    STATE_UINT_ARRAY(struct demo, arr, 4, UINT64_MAX),
    STATE_BYTES(struct demo, bytes),
    STATE_BYTES_N(struct demo, ld, 10, 2, sizeof(long double)),
    STATE_STRUCT_ARRAY(struct demo, parts, &demo_part_desc),
    STATE_ROWS("rows", 2, sizeof(uint32_t), &demo_row_desc),
    STATE_FLAGS("flags", demo_flag_bits),
    STATE_CUSTOM("fifo", demo_fifo_put, demo_fifo_get, NULL),
    STATE_SHADOW(struct demo, fifo),
    STATE_SHADOW(struct demo, fifo_len),
};
static const struct state_desc demo_desc = STATE_DESC(struct demo, demo_fields, demo_check);

static void demo_fill(struct demo *d)
{
    memset(d, 0, sizeof(*d));
    d->not_state = 77;
    d->u8 = 0x12;
    d->u16 = 0x3456;
    d->masked = 0x1ab;
    d->u64 = 0x0102030405060708ull;
    d->flag = true;
    for (unsigned k = 0; k < 3; k++)
        d->arr[k] = 0x1000 + k;
    memcpy(d->bytes, "vssl!", 5);
    d->ld[0] = 1.5L;
    d->ld[1] = -3.25L;
    d->parts[0] = (struct demo_part){0xaaaa, 7};
    d->parts[1] = (struct demo_part){0xbbbb, 9};
    d->row_x[0] = 1, d->row_y[0] = 2, d->row_x[1] = 3, d->row_y[1] = 4;
    d->f0 = true, d->f2 = true;
    memcpy(d->fifo, "ab", 2);
    d->fifo_len = 2;
}

/* The same payload written by hand, field by field: the layout the table must keep. */
static void demo_put_by_hand(struct state_writer *w, const struct demo *d)
{
    state_section_begin(w, "demo", 4);
    state_put_u8(w, d->u8);
    state_put_u16(w, d->u16);
    state_put_u32(w, d->masked);
    state_put_u64(w, d->u64);
    state_put_u8(w, d->flag);
    for (unsigned k = 0; k < 3; k++)
        state_put_u32(w, d->arr[k]);
    state_put_bytes(w, d->bytes, 5);
    for (unsigned k = 0; k < 2; k++)
        state_put_bytes(w, &d->ld[k], 10);
    for (unsigned k = 0; k < 2; k++) {
        state_put_u16(w, d->parts[k].a);
        state_put_u32(w, d->parts[k].b);
    }
    for (unsigned k = 0; k < 2; k++) {
        state_put_u32(w, d->row_x[k]);
        state_put_u32(w, d->row_y[k]);
    }
    state_put_u8(w, (uint8_t)(d->f0 | d->f1 << 1 | d->f2 << 2));
    state_put_u8(w, (uint8_t)d->fifo_len);
    state_put_bytes(w, d->fifo, d->fifo_len);
    state_section_end(w);
}

static void test_desc_layout(void)
{
    struct demo d;
    demo_fill(&d);
    struct state_writer a, b;
    state_writer_init(&a);
    state_writer_init(&b);
    state_save_section(&a, "demo", 4, &demo_desc, &d, NULL);
    demo_put_by_hand(&b, &d);
    CHECK(!a.error && !b.error);
    CHECK_EQ(a.len, b.len);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);

    struct demo e;
    memset(&e, 0, sizeof(e));
    e.not_state = -1;
    struct state_reader r;
    CHECK(state_reader_init(&r, a.data, a.len));
    CHECK_EQ(state_load_section(&r, "demo", 4, &demo_desc, &e, NULL), 0);
    CHECK_EQ(e.not_state, -1);
    e.not_state = d.not_state;
    CHECK_EQ(e.masked, 0x1ab); /* (0x1ab & 0xff) | 0x100 */
    CHECK(e.ld[0] == 1.5L && e.ld[1] == -3.25L);
    CHECK(e.flag && e.f0 && !e.f1 && e.f2);
    CHECK_EQ(e.fifo_len, 2);
    CHECK(e.row_y[1] == 4 && e.parts[1].a == 0xbbbb && e.arr[2] == 0x1002);
    /* what was saved from the reloaded object is the same stream */
    struct state_writer c;
    state_writer_init(&c);
    state_save_section(&c, "demo", 4, &demo_desc, &e, NULL);
    CHECK(c.len == a.len && memcmp(c.data, a.data, a.len) == 0);
    state_writer_free(&a);
    state_writer_free(&b);
    state_writer_free(&c);
}

/* Load a hand-built (maybe broken) demo section into a filled object: returns the load's
 * result and checks a refused load left the object exactly as it was. */
static int demo_try(void (*spoil)(struct demo *))
{
    struct demo d, e, before;
    demo_fill(&d);
    if (spoil) spoil(&d);
    struct state_writer w;
    state_writer_init(&w);
    demo_put_by_hand(&w, &d);
    memset(&e, 0x5a, sizeof(e));
    memcpy(&before, &e, sizeof(e));
    struct state_reader r;
    int rc = -1;
    if (state_reader_init(&r, w.data, w.len)) {
        rc = state_load_section(&r, "demo", 4, &demo_desc, &e, NULL);
        if (rc != 0) CHECK(memcmp(&e, &before, sizeof(e)) == 0);
    }
    state_writer_free(&w);
    return rc;
}

static void spoil_part(struct demo *d)
{
    d->parts[1].b = 101; /* above the field's maximum */
}
static void spoil_check(struct demo *d)
{
    d->u8 = 0xee; /* the section check refuses it */
}
static void spoil_fifo(struct demo *d)
{
    d->fifo_len = 4;
    d->fifo[3] = 1;
}

static void test_desc_refuses(void)
{
    CHECK_EQ(demo_try(NULL), 0);
    CHECK_EQ(demo_try(spoil_part), -1);
    CHECK_EQ(demo_try(spoil_check), -1);
    CHECK_EQ(demo_try(spoil_fifo), 0);

    /* every truncation of the payload is refused (the section header then lies) and leaves the
     * object alone; so is a payload with a byte too many */
    struct demo d, e, before;
    demo_fill(&d);
    struct state_writer w;
    state_writer_init(&w);
    demo_put_by_hand(&w, &d);
    size_t hdr = 12 + 2 + 4 + 4 + 8, plen = w.len - hdr;
    for (size_t cut = 1; cut <= plen + 1; cut++) {
        uint8_t *buf = malloc(w.len + 1);
        memcpy(buf, w.data, w.len);
        buf[w.len] = 0x99;
        size_t newlen = cut <= plen ? plen - cut : plen + 1; /* cut > plen: one byte too many */
        for (unsigned k = 0; k < 8; k++)
            buf[hdr - 8 + k] = (uint8_t)(newlen >> (8 * k));
        memset(&e, 0x5a, sizeof(e));
        memcpy(&before, &e, sizeof(e));
        struct state_reader r;
        CHECK(state_reader_init(&r, buf, hdr + newlen));
        CHECK_EQ(state_load_section(&r, "demo", 4, &demo_desc, &e, NULL), -1);
        CHECK(memcmp(&e, &before, sizeof(e)) == 0);
        free(buf);
    }

    /* wrong version, missing section */
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(state_load_section(&r, "demo", 5, &demo_desc, &e, NULL), -1);
    CHECK_EQ(state_load_section(&r, "absent", 4, &demo_desc, &e, NULL), -1);
    CHECK(memcmp(&e, &before, sizeof(e)) == 0);

    /* check-only: decoded and validated, nothing committed */
    r.check_only = true;
    CHECK_EQ(state_load_section(&r, "demo", 4, &demo_desc, &e, NULL), 0);
    CHECK(memcmp(&e, &before, sizeof(e)) == 0);
    CHECK(!state_committing(&r));
    state_writer_free(&w);
}

/* The "cpu" section's payload offsets of the registers the load validates. */
enum {
    CPU_OFF_RFLAGS = 136,
    CPU_OFF_CS_ATTR = 144 + 1 * 16 + 14,
    CPU_OFF_GS_BASE = 144 + 5 * 16 + 2,
    CPU_OFF_CR0 = 292,
    CPU_OFF_CR3 = 308,
    CPU_OFF_CR4 = 316,
    CPU_OFF_EFER = 324,
    CPU_OFF_LSTAR = 404,
    CPU_OFF_PAT = 396 + 6 * 8,
};

static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* A vCPU load refuses control-register states the model cannot reach, before changing
 * anything. */
static void test_vcpu_refuses(void)
{
    struct bus bus;
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct vcpu *a = vcpu_create(&bus, 0), *b = vcpu_create(&bus, 1);
    CHECK(a && b);
    if (!a || !b) return;
    /* 64-bit long mode with paging, as Linux runs */
    struct vcpu_sregs s;
    vcpu_get_sregs(a, &s);
    s.cr0 = 0x80050033; /* PG AM WP NE ET MP PE */
    s.cr4 = 0x6b0;      /* OSXMMEXCPT OSFXSR PGE PAE PSE */
    s.cr3 = 0x1000;
    s.efer = 0xd01; /* NXE LMA LME SCE */
    s.seg[1].attr = 0xa09b;
    vcpu_set_sregs(a, &s);
    struct state_writer w;
    state_writer_init(&w);
    vcpu_save(a, &w);
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(vcpu_load(b, &r), 0);
    CHECK(state_section_find(&r, "cpu", NULL));
    size_t pay = r.pos;

    static const struct {
        const char *what;
        unsigned off, size;
        uint64_t value;
    } bad[] = {
        {"cr0 reserved bit", CPU_OFF_CR0, 8, 0x80050033 | (1ull << 40)},
        {"cr0 ET clear", CPU_OFF_CR0, 8, 0x80050023},
        {"PG without PE", CPU_OFF_CR0, 8, 0x80050032},
        {"NW without CD", CPU_OFF_CR0, 8, 0xa0050033},
        {"LMA without PG", CPU_OFF_CR0, 8, 0x00050033},
        {"CR4 VME (not modelled)", CPU_OFF_CR4, 8, 0x6b1},
        {"CR4 PKE (not modelled)", CPU_OFF_CR4, 8, 0x4006b0},
        {"long mode without PAE", CPU_OFF_CR4, 8, 0x690},
        {"CR3 beyond MAXPHYADDR", CPU_OFF_CR3, 8, 1ull << 52},
        {"EFER reserved bit", CPU_OFF_EFER, 8, 0xd01 | 0x2},
        {"LMA without LME", CPU_OFF_EFER, 8, 0xc01},
        {"LME and PG without LMA", CPU_OFF_EFER, 8, 0x901},
        {"CS.L with CS.D", CPU_OFF_CS_ATTR, 2, 0xe09b},
        {"non-canonical GS base", CPU_OFF_GS_BASE, 8, 0x0000800000000000ull},
        {"non-canonical LSTAR", CPU_OFF_LSTAR, 8, 0x8000000000000000ull},
        {"RFLAGS reserved bit", CPU_OFF_RFLAGS, 8, 0x2 | (1ull << 40)},
        {"RFLAGS bit 1 clear", CPU_OFF_RFLAGS, 8, 0x200},
        {"PAT reserved type", CPU_OFF_PAT, 8, 0x0007040600070402ull},
    };
    struct vcpu_regs r0, r1;
    struct vcpu_sregs s0, s1;
    memset(&s0, 0, sizeof(s0)); /* padding compares equal */
    memset(&s1, 0, sizeof(s1));
    vcpu_get_regs(b, &r0);
    vcpu_get_sregs(b, &s0);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        uint8_t *copy = malloc(w.len);
        memcpy(copy, w.data, w.len);
        if (bad[k].size == 8)
            put64(copy + pay + bad[k].off, bad[k].value);
        else
            copy[pay + bad[k].off] = (uint8_t)bad[k].value,
                       copy[pay + bad[k].off + 1] = (uint8_t)(bad[k].value >> 8);
        struct state_reader rb;
        CHECK(state_reader_init(&rb, copy, w.len));
        int rc = vcpu_load(b, &rb);
        if (rc != -1) printf("# accepted: %s\n", bad[k].what);
        CHECK_EQ(rc, -1);
        free(copy);
    }
    vcpu_get_regs(b, &r1);
    vcpu_get_sregs(b, &s1);
    CHECK(memcmp(&r0, &r1, sizeof(r0)) == 0);
    CHECK(memcmp(&s0, &s1, sizeof(s0)) == 0);
    state_writer_free(&w);
    vcpu_destroy(a);
    vcpu_destroy(b);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_vcpu_refuses);
    RUN(test_desc_layout);
    RUN(test_desc_refuses);
    RUN(test_roundtrip);
    RUN(test_malformed);
    RUN(test_file);
    return check_done();
}
