/* test_lapic.c — the local APIC through its MMIO page and the CPU-side intc ops: priorities
 * (TPR/PPR classes), ack/EOI with the level-triggered EOI broadcast, MSI and self-IPI delivery,
 * the timer in one-shot, periodic and TSC-deadline modes on a fake clock, the APIC base MSR,
 * and a save/load round trip. */
#include <pthread.h>

#include "check.h"
#include "hw/lapic.h"
#include "vessel/bus.h"
#include "vessel/state.h"

static uint64_t fake_now = 1000000;
static uint64_t fake_clock(void)
{
    return fake_now;
}
static uint64_t fake_tsc(void *opaque)
{
    return fake_now * 2; /* 2 GHz */
}
static _Atomic int kicks;
static int eoi_vec = -1;
static void kick(void *opaque)
{
    kicks++;
}
static void eoi(void *opaque, uint8_t v)
{
    eoi_vec = v;
}

static struct bus bus;
static struct lapic *mk(void)
{
    CHECK_EQ(bus_init(&bus, 1 << 20), 0);
    struct lapic_config cfg = {.id = 0,
                               .now = fake_clock,
                               .read_tsc = fake_tsc,
                               .tsc_hz = 2000000000ull,
                               .kick = kick,
                               .eoi = eoi};
    kicks = 0;
    eoi_vec = -1;
    struct lapic *l = lapic_create(&bus, &cfg);
    CHECK(l != NULL);
    return l;
}
static void done(struct lapic *l)
{
    lapic_destroy(l);
    bus_destroy(&bus);
}
static uint32_t rd(unsigned reg)
{
    return (uint32_t)bus_mmio_read(&bus, LAPIC_BASE + reg, 4);
}
static void wr(unsigned reg, uint32_t v)
{
    bus_mmio_write(&bus, LAPIC_BASE + reg, v, 4);
}
static int pending(struct lapic *l)
{
    return lapic_intc_ops.pending(l);
}

static void test_registers(void)
{
    struct lapic *l = mk();
    CHECK_EQ(rd(0x30), LAPIC_VERSION);
    CHECK_EQ(rd(0x20), 0);
    CHECK_EQ(rd(0xf0), 0xff);
    CHECK_EQ(rd(0x320), 0x10000);
    wr(0xf0, 0x1ff);
    CHECK_EQ(rd(0xf0), 0x1ff);
    wr(0xe0, 0xffffffff);
    wr(0xd0, 0x01000000);
    CHECK_EQ(rd(0xd0), 0x01000000);
    wr(0x80, 0x20);
    CHECK_EQ(rd(0x80), 0x20);
    CHECK_EQ(lapic_intc_ops.get_tpr(l), 2);
    lapic_intc_ops.set_tpr(l, 5);
    CHECK_EQ(rd(0x80), 0x50);
    uint64_t v;
    CHECK(lapic_msr_read(l, MSR_IA32_APICBASE, &v));
    CHECK_EQ(v, 0xfee00900);
    CHECK(!lapic_msr_write(l, MSR_IA32_APICBASE, 0xfee00d00)); /* x2APIC: not offered */
    CHECK(!lapic_msr_read(l, 0x10, &v));
    /* hardware disable: page reads 0 and state is lost */
    CHECK(lapic_msr_write(l, MSR_IA32_APICBASE, 0xfee00100));
    CHECK_EQ(rd(0x30), 0);
    lapic_set_irq(l, 0x40, false);
    CHECK_EQ(pending(l), -1);
    CHECK(lapic_msr_write(l, MSR_IA32_APICBASE, 0xfee00900));
    CHECK_EQ(rd(0xf0), 0xff);
    CHECK_EQ(rd(0x80), 0);
    done(l);
}

static void test_priority_and_eoi(void)
{
    struct lapic *l = mk();
    wr(0xf0, 0x1ff);
    lapic_set_irq(l, 0x31, false);
    CHECK_EQ(kicks, 1);
    CHECK_EQ(pending(l), 0x31);
    CHECK_EQ(rd(0x200 + 0x10), 1u << 17); /* IRR word 1, bit 17 = vector 0x31 */
    wr(0x80, 0x30);                       /* same class: masked */
    CHECK_EQ(pending(l), -1);
    wr(0x80, 0x20);
    CHECK_EQ(pending(l), 0x31);
    lapic_intc_ops.ack(l, 0x31);
    CHECK_EQ(pending(l), -1);
    CHECK_EQ(rd(0x100 + 0x10), 1u << 17);
    CHECK_EQ(rd(0xa0), 0x30); /* PPR from ISR */
    lapic_set_irq(l, 0x35, false);
    CHECK_EQ(pending(l), -1); /* same class as in service */
    lapic_set_irq(l, 0x62, false);
    CHECK_EQ(pending(l), 0x62); /* higher class nests */
    lapic_intc_ops.ack(l, 0x62);
    wr(0xb0, 0); /* EOI the 0x62 */
    CHECK_EQ(eoi_vec, -1);
    CHECK_EQ(rd(0xa0), 0x30);
    wr(0xb0, 0); /* EOI the 0x31 */
    CHECK_EQ(pending(l), 0x35);
    /* level-triggered via MSI: TMR set, EOI broadcast */
    lapic_msi(l, 0xfee00000, 0x8000 | 0x91);
    CHECK_EQ(rd(0x180 + 0x40), 1u << 17);
    CHECK_EQ(pending(l), 0x91);
    lapic_intc_ops.ack(l, 0x91);
    wr(0xb0, 0);
    CHECK_EQ(eoi_vec, 0x91);
    /* not an interrupt message at all */
    lapic_msi(l, 0x1fee00000ull, 0xa1);
    CHECK_EQ(pending(l), 0x35);
    /* MSI to another physical APIC id is not ours */
    lapic_msi(l, 0xfee00000 | (3 << 12), 0xa1);
    CHECK_EQ(pending(l), 0x35);
    /* logical flat destination matching LDR */
    wr(0xd0, 0x01000000);
    lapic_msi(l, 0xfee00000 | (1 << 12) | 4, 0xa1);
    CHECK_EQ(pending(l), 0xa1);
    done(l);
}

static void test_ipi_and_errors(void)
{
    struct lapic *l = mk();
    wr(0xf0, 0x1ff);
    wr(0x310, 0);
    wr(0x300, (1 << 18) | 0x50); /* self shorthand, fixed */
    CHECK_EQ(pending(l), 0x50);
    CHECK_EQ(rd(0x300) & (1 << 12), 0);
    wr(0x300, (3 << 18) | 0x60); /* all excluding self */
    CHECK_EQ(pending(l), 0x50);
    wr(0x300, (5 << 8) | (3 << 18)); /* INIT to others: ignored, no crash */
    wr(0x370, 0xfe);                 /* error LVT unmasked */
    wr(0x300, (1 << 18) | 0x05);     /* illegal vector */
    CHECK_EQ(pending(l), 0xfe);
    CHECK_EQ(rd(0x280), 0);
    wr(0x280, 0);
    CHECK_EQ(rd(0x280), 0x20);
    wr(0x280, 0);
    CHECK_EQ(rd(0x280), 0);
    done(l);
}

static void test_timer_oneshot_periodic(void)
{
    struct lapic *l = mk();
    wr(0xf0, 0x1ff);
    wr(0x3e0, 0xb); /* divide by 1 */
    wr(0x320, 0x40);
    CHECK_EQ(lapic_next_deadline(l), UINT64_MAX);
    uint64_t t0 = fake_now;
    wr(0x380, 1000);
    CHECK_EQ(lapic_next_deadline(l), t0 + 1000);
    fake_now = t0 + 250;
    CHECK_EQ(rd(0x390), 750);
    lapic_update(l, t0 + 999);
    CHECK_EQ(pending(l), -1);
    lapic_update(l, t0 + 1000);
    CHECK_EQ(pending(l), 0x40);
    CHECK_EQ(kicks, 1);
    CHECK_EQ(lapic_next_deadline(l), UINT64_MAX);
    fake_now = t0 + 1200;
    CHECK_EQ(rd(0x390), 0);
    lapic_intc_ops.ack(l, 0x40);
    wr(0xb0, 0);

    /* periodic, divide by 2: period 1000 ns */
    wr(0x320, 0x20041);
    wr(0x3e0, 0x0);
    t0 = fake_now;
    wr(0x380, 500);
    CHECK_EQ(lapic_next_deadline(l), t0 + 1000);
    lapic_update(l, t0 + 1000);
    CHECK_EQ(pending(l), 0x41);
    CHECK_EQ(lapic_next_deadline(l), t0 + 2000);
    fake_now = t0 + 1500;
    CHECK_EQ(rd(0x390), 250);
    lapic_intc_ops.ack(l, 0x41);
    wr(0xb0, 0);
    lapic_update(l, t0 + 5300); /* late: one interrupt, next period aligned */
    CHECK_EQ(pending(l), 0x41);
    CHECK_EQ(lapic_next_deadline(l), t0 + 6000);
    lapic_intc_ops.ack(l, 0x41);
    wr(0xb0, 0);
    /* masked: counts but does not interrupt */
    wr(0x320, 0x30041);
    lapic_update(l, t0 + 6000);
    CHECK_EQ(pending(l), -1);
    CHECK_EQ(lapic_next_deadline(l), t0 + 7000);
    wr(0x380, 0); /* stop */
    CHECK_EQ(lapic_next_deadline(l), UINT64_MAX);
    done(l);
}

static void test_timer_tsc_deadline(void)
{
    struct lapic *l = mk();
    wr(0xf0, 0x1ff);
    uint64_t v;
    CHECK(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE, fake_now * 2 + 100)); /* not in TSC mode */
    CHECK_EQ(lapic_next_deadline(l), UINT64_MAX);
    wr(0x320, 0xec); /* a running one-shot count is disarmed by entering TSC-deadline mode */
    wr(0x380, 5000);
    CHECK(lapic_next_deadline(l) != UINT64_MAX);
    wr(0x320, 0x40000 | 0xec);
    CHECK_EQ(lapic_next_deadline(l), UINT64_MAX);
    CHECK_EQ(rd(0x380), 0);
    uint64_t t0 = fake_now;
    CHECK(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE, t0 * 2 + 4000));
    CHECK(lapic_msr_read(l, MSR_IA32_TSC_DEADLINE, &v));
    CHECK_EQ(v, t0 * 2 + 4000);
    CHECK_EQ(lapic_next_deadline(l), t0 + 2000);
    wr(0x380, 100); /* ignored in TSC-deadline mode */
    CHECK_EQ(rd(0x380), 0);
    lapic_update(l, t0 + 1999);
    CHECK_EQ(pending(l), -1);
    lapic_update(l, t0 + 2000);
    CHECK_EQ(pending(l), 0xec);
    CHECK(lapic_msr_read(l, MSR_IA32_TSC_DEADLINE, &v));
    CHECK_EQ(v, 0);
    /* a deadline in the past fires at the next update; 0 disarms */
    CHECK(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE, 1));
    CHECK_EQ(lapic_next_deadline(l), fake_now);
    CHECK(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE, 0));
    CHECK_EQ(lapic_next_deadline(l), UINT64_MAX);
    done(l);
}

static void test_save_load(void)
{
    struct lapic *l = mk();
    wr(0xf0, 0x1ff);
    wr(0x80, 0x10);
    wr(0xd0, 0x02000000);
    wr(0x350, 0x700);
    lapic_set_irq(l, 0x33, true);
    lapic_set_irq(l, 0x44, false);
    lapic_intc_ops.ack(l, 0x44);
    wr(0x3e0, 0xb);
    wr(0x320, 0x20030);
    uint64_t t0 = fake_now;
    wr(0x380, 10000);
    fake_now = t0 + 4000;
    struct state_writer w;
    state_writer_init(&w);
    lapic_save(l, &w);
    CHECK(!w.error);
    done(l);

    fake_now = 50000000; /* a different host clock after restore */
    l = mk();
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(lapic_load(l, &r), 0);
    CHECK_EQ(rd(0xf0), 0x1ff);
    CHECK_EQ(rd(0x80), 0x10);
    CHECK_EQ(rd(0xd0), 0x02000000);
    CHECK_EQ(rd(0x350), 0x700);
    CHECK_EQ(rd(0x320), 0x20030);
    CHECK_EQ(rd(0x180 + 0x10), 1u << 19);
    CHECK_EQ(rd(0x100 + 0x20), 1u << 4);
    CHECK_EQ(rd(0x390), 6000);
    CHECK_EQ(lapic_next_deadline(l), fake_now + 6000);
    CHECK_EQ(pending(l), -1); /* 0x33 below the 0x44 in service */
    wr(0xb0, 0);
    CHECK_EQ(pending(l), 0x33);
    state_writer_free(&w);
    done(l);
}

/* Devices on other threads deliver while the vCPU takes and EOIs interrupts: no deadlock, no
 * race (run under -fsanitize=thread), and nothing left pending or in service at the end. */
static struct lapic *stress_apic;
static void *stress_sender(void *arg)
{
    for (int k = 0; k < 20000; k++)
        lapic_msi(stress_apic, 0xfee00000, 0x40 + (unsigned)(k & 15));
    return NULL;
}

static void test_threads(void)
{
    struct lapic *l = mk();
    stress_apic = l;
    wr(0xf0, 0x1ff);
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        pthread_create(&t[k], NULL, stress_sender, NULL);
    unsigned taken = 0;
    for (int spins = 0; spins < 2000000 && taken < 40000; spins++) {
        int v = pending(l);
        if (v < 0) continue;
        lapic_intc_ops.ack(l, v);
        wr(0xb0, 0);
        taken++;
    }
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    for (int v; (v = pending(l)) >= 0; taken++) {
        lapic_intc_ops.ack(l, v);
        wr(0xb0, 0);
    }
    CHECK(taken >= 16);
    CHECK(kicks >= 16);
    for (unsigned w = 0; w < 8; w++) {
        CHECK_EQ(rd(0x200 + 16 * w), 0);
        CHECK_EQ(rd(0x100 + 16 * w), 0);
    }
    done(l);
}

int main(void)
{
    RUN(test_registers);
    RUN(test_priority_and_eoi);
    RUN(test_ipi_and_errors);
    RUN(test_timer_oneshot_periodic);
    RUN(test_timer_tsc_deadline);
    RUN(test_save_load);
    RUN(test_threads);
    return check_done();
}
