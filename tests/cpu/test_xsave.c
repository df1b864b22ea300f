/* test_xsave.c — the XSAVE feature set where the host cannot be the oracle (privileged or
 * model-defined): XSETBV's validity rules and #GP/#UD cases, XGETBV, CR4.OSXSAVE and its echo in
 * CPUID.1:ECX.OSXSAVE, CPUID leaf 0xD's sizes and offsets against what XSAVE/XSAVEC really
 * write, XINUSE as computed from the state, and XCR0 in the snapshot (version 3, version 2
 * still loading). The instructions themselves are compared with the host in test_diff. */
#include <string.h>

#include "check.h"
#include "cpu/core.h"
#include "cpu/cpuid.h"
#include "vessel/bus.h"
#include "vessel/state.h"

#define CODE 0x1000ull
#define AREA 0x4000ull

static struct bus bus;
static struct cpu *cpu;

static void setup(unsigned cpl, const uint8_t *code, unsigned len)
{
    cpu_reset(cpu, &bus);
    cpu_setup_flat64(cpu, cpl);
    cpu->cr4 |= CR4_OSXSAVE;
    memset(bus.ram, 0, 0x40000);
    memcpy(bus.ram + CODE, code, len);
    bus_note_write(&bus, CODE, 64);
    cpu->rip = CODE;
    cpu->gpr[R_RSP] = 0x8000;
}

static const uint8_t xsetbv[] = {0x0f, 0x01, 0xd1}, xgetbv[] = {0x0f, 0x01, 0xd0};

static int xsetbv_at(unsigned cpl, uint32_t ecx, uint64_t v)
{
    setup(cpl, xsetbv, sizeof xsetbv);
    cpu->gpr[R_RCX] = ecx;
    cpu->gpr[R_RAX] = (uint32_t)v | 0xdead000000000000ull; /* upper halves are ignored */
    cpu->gpr[R_RDX] = v >> 32;
    return cpu_step(cpu, false);
}

static void test_xsetbv_rules(void)
{
    uint64_t sup = cpuid_xcr0_supported();
    CHECK_EQ(sup & 3, 3);
    CHECK_EQ(xsetbv_at(0, 0, 3), -1);
    CHECK_EQ(cpu->xcr0, 3);
    CHECK_EQ(xsetbv_at(0, 0, 1), -1);
    CHECK_EQ(cpu->xcr0, 1);
    CHECK_EQ(xsetbv_at(0, 0, 2), EXC_GP); /* x87 must stay enabled */
    CHECK_EQ(xsetbv_at(0, 0, 0), EXC_GP);
    CHECK_EQ(xsetbv_at(0, 0, 5), EXC_GP);     /* AVX without SSE */
    CHECK_EQ(xsetbv_at(0, 0, 0x103), EXC_GP); /* a supervisor component is no XCR0 bit */
    CHECK_EQ(xsetbv_at(0, 0, 1ull << 32 | 3), EXC_GP);
    CHECK_EQ(xsetbv_at(0, 0, 0xe7), EXC_GP); /* AVX-512: never */
    CHECK_EQ(xsetbv_at(0, 0, 7), (sup & XCR0_AVX) ? -1 : EXC_GP);
    CHECK_EQ(xsetbv_at(0, 1, 3), EXC_GP); /* only XCR0 exists */
    CHECK_EQ(xsetbv_at(3, 0, 3), EXC_GP); /* CPL 0 only */
    CHECK_EQ(cpu->xcr0, 1);
    setup(0, xsetbv, sizeof xsetbv);
    cpu->cr4 &= ~CR4_OSXSAVE;
    cpu->gpr[R_RAX] = 3;
    CHECK_EQ(cpu_step(cpu, false), EXC_UD);
    CHECK_EQ(cpu->rip, CODE);
}

static void test_xgetbv(void)
{
    setup(3, xgetbv, sizeof xgetbv);
    cpu->xcr0 = 3;
    cpu->gpr[R_RCX] = 0xffffffff00000000ull; /* ECX = 0 */
    cpu->gpr[R_RAX] = cpu->gpr[R_RDX] = ~0ull;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[R_RAX], 3);
    CHECK_EQ(cpu->gpr[R_RDX], 0);
    /* XINUSE: x87 as at reset is initial; one non-zero XMM register makes SSE in use */
    setup(3, xgetbv, sizeof xgetbv);
    cpu->xcr0 = 3;
    cpu->fpu.fcw = 0x37f;
    cpu->fpu.ftw = 0xffff;
    cpu->fpu.fsw = 0;
    cpu->gpr[R_RCX] = 1;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[R_RAX], 0);
    setup(3, xgetbv, sizeof xgetbv);
    cpu->xcr0 = 3;
    cpu->xmm[9].q[1] = 1;
    cpu->fpu.fcw = 0x27f;
    cpu->gpr[R_RCX] = 1;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[R_RAX], 3);
    setup(3, xgetbv, sizeof xgetbv);
    cpu->gpr[R_RCX] = 2;
    CHECK_EQ(cpu_step(cpu, false), EXC_GP);
    setup(3, xgetbv, sizeof xgetbv);
    cpu->cr4 &= ~CR4_OSXSAVE;
    cpu->gpr[R_RCX] = 0;
    CHECK_EQ(cpu_step(cpu, false), EXC_UD);
}

static void test_cr4_and_cpuid(void)
{
    /* mov cr4, rax accepts OSXSAVE; CPUID.1:ECX[27] follows it */
    static const uint8_t mov_cr4[] = {0x0f, 0x22, 0xe0};
    setup(0, mov_cr4, sizeof mov_cr4);
    cpu->gpr[R_RAX] = cpu->cr4 | CR4_OSXSAVE;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK(cpu->cr4 & CR4_OSXSAVE);
    struct cpuid_regs r;
    cpuid_query(cpu, 1, 0, &r);
    CHECK(r.ecx & (1u << 26));
    CHECK(r.ecx & (1u << 27));
    cpu->cr4 &= ~CR4_OSXSAVE;
    cpuid_query(cpu, 1, 0, &r);
    CHECK(r.ecx & (1u << 26));
    CHECK(!(r.ecx & (1u << 27)));

    uint64_t sup = cpuid_xcr0_supported();
    uint32_t max = (sup & XCR0_AVX) ? 832 : 576;
    cpu->xcr0 = 1;
    cpuid_query(cpu, 0xd, 0, &r);
    CHECK_EQ(r.eax, (uint32_t)sup);
    CHECK_EQ(r.edx, 0);
    CHECK_EQ(r.ebx, 576);
    CHECK_EQ(r.ecx, max);
    cpu->xcr0 = sup;
    cpuid_query(cpu, 0xd, 0, &r);
    CHECK_EQ(r.ebx, max);
    cpuid_query(cpu, 0xd, 1, &r);
    CHECK_EQ(r.eax, 7); /* XSAVEOPT, XSAVEC, XGETBV ECX=1; no XSAVES */
    CHECK_EQ(r.ebx, max);
    CHECK_EQ(r.ecx, 0);
    CHECK_EQ(r.edx, 0);
    cpuid_query(cpu, 0xd, 2, &r);
    CHECK_EQ(r.eax, (sup & XCR0_AVX) ? 256 : 0);
    CHECK_EQ(r.ebx, (sup & XCR0_AVX) ? 576 : 0);
    cpuid_query(cpu, 0xd, 3, &r);
    CHECK_EQ(r.eax | r.ebx | r.ecx | r.edx, 0);
}

/* XSAVE writes nothing beyond the size leaf 0xD reports for XCR0 */
static void test_xsave_size(void)
{
    static const uint8_t xsave64[] = {0x48, 0x0f, 0xae, 0x23};
    setup(0, xsave64, sizeof xsave64);
    cpu->xcr0 = cpuid_xcr0_supported();
    memset(bus.ram + AREA, 0xcc, 0x1000);
    memset(bus.ram + AREA + 512, 0, 64); /* a clean header (XSAVE keeps XSTATE_BV's others) */
    cpu->gpr[R_RBX] = AREA;
    cpu->gpr[R_RAX] = ~0ull;
    cpu->gpr[R_RDX] = ~0ull;
    cpu->xmm[0].q[0] = 1;
    CHECK_EQ(cpu_step(cpu, false), -1);
    struct cpuid_regs r;
    cpuid_query(cpu, 0xd, 0, &r);
    CHECK_EQ(bus.ram[AREA + r.ebx], 0xcc);
    CHECK(bus.ram[AREA + r.ebx - 1] != 0xcc || bus.ram[AREA + r.ebx - 2] != 0xcc || r.ebx == 576);
    /* XSTATE_BV: SSE in use, x87 initial (reset state) */
    uint64_t bv;
    memcpy(&bv, bus.ram + AREA + 512, 8);
    CHECK_EQ(bv, 2);
    /* XRSTOR of that area gives the same state back */
    static const uint8_t xrstor64[] = {0x48, 0x0f, 0xae, 0x2b};
    memcpy(bus.ram + CODE, xrstor64, sizeof xrstor64);
    bus_note_write(&bus, CODE, 64);
    cpu->rip = CODE;
    cpu->xmm[0].q[0] = 99;
    cpu->xmm[1].q[0] = 5;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->xmm[0].q[0], 1);
    CHECK_EQ(cpu->xmm[1].q[0], 0);
}

static void test_snapshot(void)
{
    cpu_reset(cpu, &bus); /* a reachable state: the flat test mode has long mode without paging */
    cpu->xcr0 = 3;
    cpu->ymm_hi[4].q[1] = (cpuid_xcr0_supported() & XCR0_AVX) ? 0x1234 : 0;
    struct state_writer w;
    state_writer_init(&w);
    vcpu_save((struct vcpu *)cpu, &w);
    CHECK(!w.error);
    cpu->xcr0 = 1;
    cpu->ymm_hi[4].q[1] = 0;
    struct state_reader rd;
    CHECK(state_reader_init(&rd, w.data, w.len));
    CHECK_EQ(vcpu_load((struct vcpu *)cpu, &rd), 0);
    CHECK_EQ(cpu->xcr0, 3);
    CHECK_EQ(cpu->ymm_hi[4].q[1], (cpuid_xcr0_supported() & XCR0_AVX) ? 0x1234 : 0);

    /* The same section as version 3 (without the CPU model record at its end: 16 bytes name,
     * u32 extensions, 6 u32 feature words) loads under this process's model, and as version 2
     * (without xcr0 and ymm_hi either) with XCR0 as at reset. Layout: "VSLSTATE" u32, u16
     * name-len, name, u32 version, u64 payload length, payload. */
    uint8_t *s = w.data;
    size_t at = 12, name_len = (size_t)s[at] | (size_t)s[at + 1] << 8;
    CHECK_EQ(name_len, 3);
    CHECK(!memcmp(s + at + 2, "cpu", 3));
    size_t ver_at = at + 2 + name_len, len_at = ver_at + 4, pay_at = len_at + 8;
    size_t nlen = w.len;
    static const struct {
        uint32_t version;
        uint64_t cut;
        uint64_t xcr0;
    } older[] = {{3, 16 + 4 + 6 * 4, 3}, {2, 8 + 16 * 16, 1}};
    for (unsigned k = 0; k < 2; k++) {
        uint64_t plen;
        memcpy(&plen, s + len_at, 8);
        memcpy(s + ver_at, &older[k].version, 4);
        uint64_t nplen = plen - older[k].cut;
        memcpy(s + len_at, &nplen, 8);
        memmove(s + pay_at + nplen, s + pay_at + plen, nlen - (pay_at + plen));
        nlen -= older[k].cut;
        cpu->xcr0 = 1;
        cpu->ymm_hi[4].q[1] = 0;
        CHECK(state_reader_init(&rd, s, nlen));
        CHECK_EQ(vcpu_load((struct vcpu *)cpu, &rd), 0);
        CHECK_EQ(cpu->xcr0, older[k].xcr0);
        CHECK_EQ(cpu->ymm_hi[4].q[1], k == 0 && (cpuid_xcr0_supported() & XCR0_AVX) ? 0x1234 : 0);
    }

    /* An XCR0 this model cannot have is refused */
    state_writer_free(&w);
    state_writer_init(&w);
    cpu->xcr0 = 2;
    vcpu_save((struct vcpu *)cpu, &w);
    cpu->xcr0 = 1;
    CHECK(state_reader_init(&rd, w.data, w.len));
    CHECK_EQ(vcpu_load((struct vcpu *)cpu, &rd), -1);
    CHECK_EQ(cpu->xcr0, 1);
    state_writer_free(&w);
}

int main(void)
{
    if (bus_init(&bus, 0x40000) != 0) return 1;
    /* the AVX state component where the host has AVX (the default model has none) */
    char err[256];
    if (vcpu_model_select("host", err, sizeof err) < 0) return 1;
    cpu = (struct cpu *)vcpu_create(&bus, 0); /* a struct vcpu is a struct cpu */
    if (!cpu) return 1;
    RUN(test_xsetbv_rules);
    RUN(test_xgetbv);
    RUN(test_cr4_and_cpuid);
    RUN(test_xsave_size);
    RUN(test_snapshot);
    vcpu_destroy((struct vcpu *)cpu);
    bus_destroy(&bus);
    return check_done();
}
