/* test_fx.c — the x87/SSE register file as data: FXSAVE image layout (ST order follows TOP,
 * abridged tags, MXCSR_MASK), restore with reserved MXCSR bits refused, and the register
 * file's round trip through the snapshot (section "cpu"), with refusal of unknown versions,
 * truncated sections and reserved MXCSR bits. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpu/core.h"
#include "cpu/ops/sse/sse_fx.h"
#include "vessel/bus.h"
#include "vessel/cpu.h"
#include "vessel/state.h"

/* A register file in its power-on state (FCW 0x037F, all tags empty, MXCSR 0x1F80). */
static struct cpu *new_cpu(void)
{
    struct cpu *c = calloc(1, sizeof *c);
    c->fpu.fcw = 0x037f;
    c->fpu.ftw = 0xffff;
    c->mxcsr = 0x1f80;
    return c;
}

static void fill(struct cpu *c)
{
    c->fpu.fcw = 0x027f;
    c->fpu.fsw = (uint16_t)(5 << 11) | 0x4100;
    c->fpu.ftw = 0xffff & ~(3u << 10) & ~(3u << 14); /* R5 and R7 valid */
    for (unsigned r = 0; r < 8; r++)
        memset(&c->fpu.st[r], 0x10 + r, 10);
    for (unsigned k = 0; k < 16; k++)
        memset(&c->xmm[k], 0x80 + k, 16);
    c->mxcsr = 0x9fc0;
    c->fpu.fip = 0x1122334455667788ull;
}

static void test_image_layout(void)
{
    struct cpu *c = new_cpu();
    fill(c);
    uint8_t img[512];
    memset(img, 0xee, sizeof img);
    fx_save_image(c, img);
    CHECK_EQ(img[0] | img[1] << 8, 0x027f);
    CHECK_EQ(img[2] | img[3] << 8, c->fpu.fsw);
    CHECK_EQ(img[4], 0xa0); /* abridged: R5, R7 */
    uint32_t mx, mask;
    memcpy(&mx, img + 24, 4);
    memcpy(&mask, img + 28, 4);
    CHECK_EQ(mx, 0x9fc0);
    CHECK_EQ(mask, 0xffff);
    CHECK_EQ(img[32], 0x15);          /* ST0 = R5 */
    CHECK_EQ(img[32 + 16 * 3], 0x10); /* ST3 = R0 */
    CHECK_EQ(img[32 + 10], 0);        /* slot padding */
    CHECK_EQ(img[160 + 16 * 15], 0x8f);
    CHECK_EQ(img[416], 0xee); /* the software area is not written */
    uint64_t fip;
    memcpy(&fip, img + 8, 8);
    CHECK_EQ(fip, 0x1122334455667788ull);

    struct cpu *d = new_cpu();
    CHECK(fx_restore_image(d, img));
    CHECK_EQ(d->fpu.fsw, c->fpu.fsw);
    CHECK_EQ(d->fpu.ftw, c->fpu.ftw);
    CHECK_EQ(d->mxcsr, c->mxcsr);
    CHECK(!memcmp(&d->fpu.st[5], &c->fpu.st[5], 10));
    CHECK(!memcmp(d->xmm, c->xmm, sizeof c->xmm));

    uint32_t bad = 0x10000 | 0x1f80;
    memcpy(img + 24, &bad, 4);
    d->mxcsr = 0x1f80;
    CHECK(!fx_restore_image(d, img));
    CHECK_EQ(d->mxcsr, 0x1f80);
    free(c);
    free(d);
}

/* The register file's snapshot format is the live one: section "cpu" of vcpu_save. */
static void test_state_roundtrip(void)
{
    struct bus bus;
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct vcpu *vc = vcpu_create(&bus, 0), *vd = vcpu_create(&bus, 1), *ve = vcpu_create(&bus, 2);
    struct cpu *c = (struct cpu *)vc, *d = (struct cpu *)vd, *e = (struct cpu *)ve;
    fill(c);
    struct state_writer w;
    state_writer_init(&w);
    vcpu_save(vc, &w);
    CHECK(!w.error);
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(vcpu_load(vd, &r), 0);
    CHECK_EQ(d->fpu.fcw, c->fpu.fcw);
    CHECK_EQ(d->fpu.fsw, c->fpu.fsw);
    CHECK_EQ(d->fpu.ftw, c->fpu.ftw);
    CHECK_EQ(d->fpu.fip, c->fpu.fip);
    CHECK_EQ(d->mxcsr, c->mxcsr);
    for (unsigned k = 0; k < 8; k++)
        CHECK(!memcmp(&d->fpu.st[k], &c->fpu.st[k], 10));
    CHECK(!memcmp(d->xmm, c->xmm, sizeof c->xmm));

    /* a truncated section is refused and leaves the target alone */
    struct state_reader t;
    CHECK(state_reader_init(&t, w.data, w.len - 20));
    CHECK_EQ(vcpu_load(ve, &t), -1);
    CHECK_EQ(e->mxcsr, 0x1f80);
    state_writer_free(&w);

    /* an MXCSR with reserved bits set is refused (fxrstor would #GP on it) */
    c->mxcsr = 0x10000 | 0x1f80;
    state_writer_init(&w);
    vcpu_save(vc, &w);
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(vcpu_load(ve, &r), -1);
    CHECK_EQ(e->mxcsr, 0x1f80);
    state_writer_free(&w);

    /* an unknown version is refused */
    state_writer_init(&w);
    state_section_begin(&w, "cpu", 99);
    state_put_u32(&w, 0);
    state_section_end(&w);
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(vcpu_load(ve, &r), -1);
    state_writer_free(&w);
    vcpu_destroy(vc);
    vcpu_destroy(vd);
    vcpu_destroy(ve);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_image_layout);
    RUN(test_state_roundtrip);
    return check_done();
}
