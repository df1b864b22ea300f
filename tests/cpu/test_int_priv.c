/* test_int_priv.c — integer-family behaviour the host cannot show from user mode, checked on
 * the engine alone: popf's privilege rules (IOPL only at CPL 0, IF only at CPL <= IOPL, VM/RF
 * never), pushf hiding RF and VM, and a long rep movs that yields (RIP stays on the
 * instruction) and resumes where it left off. */
#include <string.h>

#include "check.h"
#include "cpu/core.h"
#include "vessel/bus.h"

#define CODE 0x1000ull
#define STK  0x8000ull

static struct bus bus;
static struct cpu *cpu;

static void setup(unsigned cpl, const uint8_t *code, unsigned len)
{
    cpu_reset(cpu, &bus);
    cpu_setup_flat64(cpu, cpl);
    memset(bus.ram, 0, 0x40000);
    memcpy(bus.ram + CODE, code, len);
    cpu->rip = CODE;
    cpu->gpr[R_RSP] = STK;
}

static uint64_t popf_at(unsigned cpl, uint64_t before, uint64_t popped)
{
    static const uint8_t popf[] = {0x9d};
    setup(cpl, popf, sizeof(popf));
    flags_write(cpu, before);
    memcpy(bus.ram + STK, &popped, 8);
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[R_RSP], STK + 8);
    return flags_read(cpu);
}

static void test_popf_cpl0(void)
{
    /* CPL 0: IOPL, IF, AC, ID, NT change; VM, RF, VIF, VIP do not */
    uint64_t f = popf_at(0, 0x2, F_IOPL | F_IF | F_AC | F_ID | F_NT | F_VM | F_RF | F_VIF | F_CF);
    CHECK_EQ(f, 0x2 | F_IOPL | F_IF | F_AC | F_ID | F_NT | F_CF);
    f = popf_at(0, 0x2 | F_IOPL | F_IF, 0);
    CHECK_EQ(f, 0x2);
}

static void test_popf_cpl3(void)
{
    /* CPL 3, IOPL 0: IOPL and IF unchanged, the rest as usual */
    uint64_t f = popf_at(3, 0x2 | F_IF, F_IOPL | F_ZF | F_DF);
    CHECK_EQ(f, 0x2 | F_IF | F_ZF | F_DF);
    f = popf_at(3, 0x2, F_IF);
    CHECK_EQ(f, 0x2);
    /* CPL 3 with IOPL 3: IF may change, IOPL still may not */
    f = popf_at(3, 0x2 | F_IOPL | F_IF, 0);
    CHECK_EQ(f, 0x2 | F_IOPL);
}

static void test_popf16(void)
{
    /* 16-bit popf touches only the low word */
    static const uint8_t popf16[] = {0x66, 0x9d};
    setup(0, popf16, sizeof(popf16));
    flags_write(cpu, 0x2 | F_AC | F_ID);
    uint16_t v = F_CF | F_ZF | 0x2;
    memcpy(bus.ram + STK, &v, 2);
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->gpr[R_RSP], STK + 2);
    CHECK_EQ(flags_read(cpu), 0x2 | F_AC | F_ID | F_CF | F_ZF);
}

static void test_pushf_hides_rf_vm(void)
{
    static const uint8_t pushf[] = {0x9c};
    setup(0, pushf, sizeof(pushf));
    flags_write(cpu, 0x2 | F_RF | F_CF | F_IF);
    CHECK_EQ(cpu_step(cpu, false), -1);
    uint64_t v;
    memcpy(&v, bus.ram + STK - 8, 8);
    CHECK_EQ(v, 0x2 | F_CF | F_IF);
}

static void test_rep_movs_yields_and_resumes(void)
{
    /* 64 KiB with rep movsb: more than one chunk, so the first step stops on the
     * instruction with the registers partway, and later steps finish the copy */
    static const uint8_t rep_movsb[] = {0xf3, 0xa4};
    setup(0, rep_movsb, sizeof(rep_movsb));
    for (unsigned k = 0; k < 0x10000; k++)
        bus.ram[0x10000 + k] = (uint8_t)(k * 7 + 1);
    cpu->gpr[R_RSI] = 0x10000;
    cpu->gpr[R_RDI] = 0x20000;
    cpu->gpr[R_RCX] = 0x10000;
    CHECK_EQ(cpu_step(cpu, false), -1);
    CHECK_EQ(cpu->rip, CODE);
    CHECK(cpu->gpr[R_RCX] > 0 && cpu->gpr[R_RCX] < 0x10000);
    CHECK_EQ(cpu->gpr[R_RSI] - 0x10000, 0x10000 - cpu->gpr[R_RCX]);
    CHECK_EQ(cpu->gpr[R_RDI] - 0x20000, 0x10000 - cpu->gpr[R_RCX]);
    unsigned steps = 1;
    while (cpu->rip == CODE && steps < 1000) {
        CHECK_EQ(cpu_step(cpu, false), -1);
        steps++;
    }
    CHECK_EQ(cpu->rip, CODE + 2);
    CHECK_EQ(cpu->gpr[R_RCX], 0);
    CHECK_EQ(cpu->gpr[R_RSI], 0x20000);
    CHECK_EQ(cpu->gpr[R_RDI], 0x30000);
    CHECK(memcmp(bus.ram + 0x10000, bus.ram + 0x20000, 0x10000) == 0);
}

static void test_lock_register_is_ud(void)
{
    /* lock add eax, ecx: LOCK needs a memory destination */
    static const uint8_t lock_add[] = {0xf0, 0x01, 0xc8};
    setup(0, lock_add, sizeof(lock_add));
    CHECK_EQ(cpu_step(cpu, false), EXC_UD);
    CHECK_EQ(cpu->rip, CODE);
}

int main(void)
{
    if (bus_init(&bus, 0x40000) != 0) return 1;
    cpu = (struct cpu *)vcpu_create(&bus, 0); /* a struct vcpu is a struct cpu */
    if (!cpu) return 1;
    RUN(test_popf_cpl0);
    RUN(test_popf_cpl3);
    RUN(test_popf16);
    RUN(test_pushf_hides_rf_vm);
    RUN(test_rep_movs_yields_and_resumes);
    RUN(test_lock_register_is_ud);
    vcpu_destroy((struct vcpu *)cpu);
    bus_destroy(&bus);
    return check_done();
}
