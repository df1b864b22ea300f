/* test_sys_ext.c — system-family additions the host cannot check from user mode (writing the
 * host's FS base would break the test process): the FSGSBASE instructions (#UD without
 * CR4.FSGSBASE, 32- and 64-bit forms, #GP for a non-canonical base) and RDPID, and the CPUID
 * bits that offer them. */
#include <string.h>

#include "check.h"
#include "cpu/core.h"
#include "cpu/cpuid.h"
#include "vessel/bus.h"

#define CODE 0x1000ull

static struct bus bus;
static struct cpu *cpu;

static int run(const uint8_t *code, unsigned len, bool fsgsbase)
{
    cpu_reset(cpu, &bus);
    cpu_setup_flat64(cpu, 3);
    if (fsgsbase) cpu->cr4 |= CR4_FSGSBASE;
    memset(bus.ram, 0, 0x10000);
    memcpy(bus.ram + CODE, code, len);
    bus_note_write(&bus, CODE, 64);
    cpu->rip = CODE;
    cpu->gpr[R_RSP] = 0x8000;
    return cpu_step(cpu, false);
}

static void test_fsgsbase(void)
{
    static const uint8_t rdfsbase64[] = {0xf3, 0x48, 0x0f, 0xae, 0xc0}; /* rdfsbase rax */
    static const uint8_t rdgsbase32[] = {0xf3, 0x0f, 0xae, 0xc9};       /* rdgsbase ecx */
    static const uint8_t wrfsbase64[] = {0xf3, 0x48, 0x0f, 0xae, 0xd2}; /* wrfsbase rdx */
    static const uint8_t wrgsbase32[] = {0xf3, 0x0f, 0xae, 0xdb};       /* wrgsbase ebx */
    CHECK_EQ(run(rdfsbase64, sizeof rdfsbase64, false), EXC_UD);
    CHECK_EQ(cpu->rip, CODE);

    CHECK_EQ(run(wrfsbase64, sizeof wrfsbase64, true), -1); /* RDX as at reset */
    cpu->gpr[R_RDX] = 0x00007f0012345678ull;
    cpu->rip = CODE;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->seg[SEG_FS].base, 0x00007f0012345678ull);
    cpu->gpr[R_RDX] = 0x8000000000000000ull; /* non-canonical */
    cpu->rip = CODE;
    CHECK_EQ(cpu_step(cpu, false), EXC_GP);
    CHECK_EQ(cpu->seg[SEG_FS].base, 0x00007f0012345678ull);

    memcpy(bus.ram + CODE, rdfsbase64, sizeof rdfsbase64);
    bus_note_write(&bus, CODE, 64);
    cpu->rip = CODE;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[R_RAX], 0x00007f0012345678ull);

    memcpy(bus.ram + CODE, wrgsbase32, sizeof wrgsbase32);
    bus_note_write(&bus, CODE, 64);
    cpu->rip = CODE;
    cpu->gpr[R_RBX] = 0xffffffff87654321ull; /* 32 bits, zero-extended */
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->seg[SEG_GS].base, 0x87654321ull);

    memcpy(bus.ram + CODE, rdgsbase32, sizeof rdgsbase32);
    bus_note_write(&bus, CODE, 64);
    cpu->rip = CODE;
    cpu->seg[SEG_GS].base = 0x123456789abcdefull;
    cpu->gpr[R_RCX] = ~0ull;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[R_RCX], 0x89abcdefull);
}

static void test_rdpid(void)
{
    static const uint8_t rdpid[] = {0xf3, 0x41, 0x0f, 0xc7, 0xf9}; /* rdpid r9 */
    cpu_reset(cpu, &bus);
    CHECK_EQ(run(rdpid, sizeof rdpid, false), -1);
    cpu->tsc_aux = 0x1234567;
    cpu->gpr[9] = ~0ull;
    cpu->rip = CODE;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[9], 0x1234567);
}

static void test_cpuid(void)
{
    struct cpuid_regs r;
    cpuid_query(cpu, 7, 0, &r);
    CHECK(r.ebx & 1u);         /* FSGSBASE */
    CHECK(r.ecx & (1u << 22)); /* RDPID */
    CHECK(r.ebx & (1u << 3));  /* BMI1 */
    CHECK(r.ebx & (1u << 8));  /* BMI2 */
    CHECK(r.ebx & (1u << 19)); /* ADX */
    cpuid_query(cpu, 1, 0, &r);
    CHECK(r.ecx & (1u << 19)); /* SSE4.1 */
    CHECK(r.ecx & (1u << 20)); /* SSE4.2 */
    CHECK(r.ecx & (1u << 22)); /* MOVBE */
}

int main(void)
{
    if (bus_init(&bus, 0x10000) != 0) return 1;
    cpu = (struct cpu *)vcpu_create(&bus, 0);
    if (!cpu) return 1;
    RUN(test_fsgsbase);
    RUN(test_rdpid);
    RUN(test_cpuid);
    vcpu_destroy((struct vcpu *)cpu);
    bus_destroy(&bus);
    return check_done();
}
