/* xstate.c — the XSAVE-family rules of the differential harness (see xstate.h). */
#include "xstate.h"
#include "vendor.h"

#include <stdio.h>
#include <string.h>

#include "cpu/core.h"
#include "cpu/cpuid.h"
#include "cpu/decode/decode.h"

#define MODEL_MXCSR_MASK 0x0000ffffu

enum { XR_INUSE, XR_MASK, XR_MXCSR, XR_PTRS, XR_CMX, XR_COUNT };
static struct {
    const char *name, *why;
    unsigned cases, forms;
    const struct diff_form *last;
} xrules[XR_COUNT] = {
    [XR_INUSE] = {"xinuse",
                  "XSTATE_BV[i] = XINUSE[i]; a CPU may report a component in use although it is "
                  "in its initial configuration (SDM Vol 1 13.6). vessel: in use iff not initial"},
    [XR_MASK] = {"xsave-mxcsr-mask", "XSAVE stores MXCSR_MASK: vessel's is 0x0000FFFF"},
    [XR_MXCSR] = {"xrstor-mxcsr-reserved",
                  "XRSTOR of an MXCSR with bits outside MXCSR_MASK: #GP(0); vessel's mask is "
                  "0xFFFF"},
    [XR_PTRS] = {"xsave-x87-pointers",
                 "XSAVE* with FSW.ES = 0 on a non-Intel host: the host stored no FOP/FIP/FDP "
                 "(this AMD host does so although CPUID 8000_0008 EBX[2] is set); Intel stores "
                 "them. vessel: stored, from the last x87 instruction"},
    [XR_CMX] = {"xsavec-mxcsr",
                "XSAVEC with RFBM[1] = 1 stores MXCSR and MXCSR_MASK even when the XMM registers "
                "are not in use (SDM Vol 1 13.10); this AMD host skips them when the SSE state "
                "(MXCSR included) is initial. vessel: stored"},
};

static void xhit(unsigned id, const struct diff_form *f)
{
    xrules[id].cases++;
    if (xrules[id].last != f) xrules[id].forms++, xrules[id].last = f;
}

void xstate_print_summary(void)
{
    for (unsigned k = 0; k < XR_COUNT; k++)
        if (xrules[k].cases)
            printf("# model rule %s: applied to %u cases in %u forms (%s)\n", xrules[k].name,
                   xrules[k].cases, xrules[k].forms, xrules[k].why);
}

static bool x87_initial(const struct diff_state *in)
{
    static const uint8_t zero[10];
    if (in->fx.fcw != 0x37f || in->fx.fsw || in->fx.ftw || in->fx.fop || in->fx.fip || in->fx.fdp)
        return false;
    for (unsigned k = 0; k < 8; k++)
        if (memcmp(in->fx.st[k], zero, 10)) return false;
    return true;
}

static bool sse_initial(const struct diff_state *in)
{
    static const uint8_t zero[256];
    return !memcmp(in->fx.xmm, zero, 256);
}

void xstate_fix(const struct diff_form *f, const struct diff_state *in, const uint8_t *data_in,
                struct diff_state *nat, uint8_t *nat_data)
{
    struct insn i;
    memset(&i, 0, sizeof i);
    if (decode_insn(&i, f->bytes, f->len, MODE_LONG64) != f->len || !(i.flags & INSN_MEM)) return;
    unsigned digit = (i.modrm >> 3) & 7;
    enum { NONE, STD, OPT, COMPACT, RSTOR } kind = NONE;
    if (i.op == 0x1ae && i.mp == MP_NONE && digit == 4) kind = STD;
    if (i.op == 0x1ae && i.mp == MP_NONE && digit == 6) kind = OPT;
    if (i.op == 0x1ae && i.mp == MP_NONE && digit == 5) kind = RSTOR;
    if (i.op == 0x1c7 && i.mp == MP_NONE && digit == 4) kind = COMPACT;
    if (kind == NONE || nat->vector >= 0) return;
    uint64_t ea = in->gpr[i.base] + (uint64_t)(int64_t)i.disp;
    if (ea < DIFF_DATA || ea + 576 > DIFF_DATA + DIFF_DATA_SIZE) return;
    const bool avx_fits = ea + 832 <= DIFF_DATA + DIFF_DATA_SIZE;
    unsigned off = (unsigned)(ea - DIFF_DATA);
    uint64_t rfbm = ((in->gpr[R_RDX] << 32) | (uint32_t)in->gpr[R_RAX]) & diff_xcr0();
    uint8_t *area = nat_data + off;
    const uint8_t *old = data_in + off;

    if (kind == RSTOR) {
        uint64_t bv, comp;
        memcpy(&bv, old + 512, 8);
        memcpy(&comp, old + 520, 8);
        bool loads =
            (comp >> 63) ? (rfbm & bv & XCR0_SSE) != 0 : (rfbm & (XCR0_SSE | XCR0_AVX)) != 0;
        uint32_t mx;
        memcpy(&mx, old + 24, 4);
        if (loads && (mx & ~MODEL_MXCSR_MASK)) {
            int undef = (int)nat->undef;
            *nat = *in;
            nat->undef = (uint32_t)undef;
            nat->vector = EXC_GP;
            nat->rip = DIFF_INSN;
            memcpy(nat_data, data_in, DIFF_DATA_SIZE);
            xhit(XR_MXCSR, f);
        }
        return;
    }

    bool stores_mask = (rfbm & XCR0_SSE) || (kind != COMPACT && (rfbm & XCR0_AVX));
    if (kind == COMPACT && (rfbm & XCR0_SSE) && !vendor_host_is_model() && sse_initial(in) &&
        !memcmp(area + 24, old + 24, 8)) {
        memcpy(area + 24, &in->fx.mxcsr, 4);
        xhit(XR_CMX, f);
    }
    uint32_t m = MODEL_MXCSR_MASK;
    if (stores_mask && memcmp(area + 28, &m, 4)) {
        memcpy(area + 28, &m, 4);
        xhit(XR_MASK, f);
    }
    uint64_t bv;
    memcpy(&bv, area + 512, 8);
    if (!vendor_host_is_model() && !(in->fx.fsw & 0x80) && (rfbm & bv & XCR0_X87)) {
        uint8_t want[18] = {0};
        memcpy(want, &in->fx.fop, 2);
        if (i.flags & INSN_REXW) {
            memcpy(want + 2, &in->fx.fip, 8);
            memcpy(want + 10, &in->fx.fdp, 8);
        } else { /* 32-bit offsets; vessel stores zero FCS/FDS selectors */
            memcpy(want + 2, &in->fx.fip, 4);
            memcpy(want + 10, &in->fx.fdp, 4);
        }
        if (memcmp(area + 6, want, 18)) {
            memcpy(area + 6, want, 18);
            xhit(XR_PTRS, f);
        }
    }
    bool hit = false;
    if ((rfbm & XCR0_X87) && (bv & XCR0_X87) && x87_initial(in)) {
        bv &= ~XCR0_X87;
        if (kind != STD) {
            memcpy(area, old, 24);
            memcpy(area + 32, old + 32, 128);
        }
        hit = true;
    }
    if ((rfbm & XCR0_SSE) && (bv & XCR0_SSE) && sse_initial(in)) {
        bv &= ~XCR0_SSE;
        if (kind != STD) memcpy(area + 160, old + 160, 256);
        hit = true;
    }
    static const uint8_t zero[256];
    if ((rfbm & XCR0_AVX) && (bv & XCR0_AVX) && !memcmp(in->ymmh, zero, 256) && avx_fits) {
        bv &= ~XCR0_AVX;
        if (kind != STD) memcpy(area + 576, old + 576, 256);
        hit = true;
    }
    if (hit) {
        memcpy(area + 512, &bv, 8);
        xhit(XR_INUSE, f);
    }
}
