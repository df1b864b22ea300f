/* pc.c — assembling the vessel PC from the board description (board.h): RAM, the vCPUs each with
 * its platform MSRs (LAPIC, kvmclock; with several CPUs an APIC bus joins the LAPICs and the ACPI
 * multiprocessor wakeup mailbox starts the APs, docs/SMP.md), the IOAPIC with the legacy devices on
 * their ISA pins, the PCI host bridge with INTx on GSIs 16-19, the ACPI tables (built from the same
 * description) plus the hardware-reduced power registers, pvpanic, the virtio functions, then the
 * kernel loaded for direct 64-bit entry.
 *
 * Every device is appended to the board's list (pc_internal.h) with its hooks as soon as it
 * exists, so a failure half-way is cleaned up by the same pc_destroy that tears down a
 * complete board. There is no in-place reset: a guest reboot rebuilds the machine (src/vm/). */
#include "machine/pc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/disk.h"
#include "backend/net.h"
#include "hw/i8259.h"
#include "hw/kvmclock.h"
#include "machine/acpi.h"
#include "machine/acpi_loader.h"
#include "machine/board.h"
#include "machine/boot_params.h"
#include "machine/pc_display.h"
#include "machine/pc_internal.h"
#include "vessel/cpu.h"
#include "vessel/log.h"
#include "vessel/clock.h"
#include "vessel/state.h"
#include "virtio/virtio_balloon.h"
#include "virtio/virtio_input.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_rng.h"

/* List hooks: thin adapters from each device's own API to the board's uniform one. */

/* A CPU's own devices (the vCPU, its kvmclock and LAPIC) are named "cpu", "kvmclock", "lapic"
 * for CPU 0 and "cpu.K", ... for CPU K: the list entry's suffix becomes the sections' (the
 * devices write their fixed names; the state stream appends the suffix). */
static const char *pc_cpu_suffix(const char *name)
{
    return strchr(name, '.');
}

#define PC_CPU_OPS(prefix, timer)                                                                  \
    static void pc_##prefix##_destroy(void *o)                                                     \
    {                                                                                              \
        prefix##_destroy(o);                                                                       \
    }                                                                                              \
    static void pc_##prefix##_save(void *o, struct state_writer *w, const char *name)              \
    {                                                                                              \
        const char *old = w->suffix;                                                               \
        w->suffix = pc_cpu_suffix(name);                                                           \
        prefix##_save(o, w);                                                                       \
        w->suffix = old;                                                                           \
    }                                                                                              \
    static int pc_##prefix##_load(void *o, struct state_reader *r, const char *name)               \
    {                                                                                              \
        const char *old = r->suffix;                                                               \
        r->suffix = pc_cpu_suffix(name);                                                           \
        int rc = prefix##_load(o, r);                                                              \
        r->suffix = old;                                                                           \
        return rc;                                                                                 \
    }                                                                                              \
    static const struct pc_device_ops pc_##prefix##_ops = {                                        \
        pc_##prefix##_destroy, pc_##prefix##_save, pc_##prefix##_load, timer, NULL}

/* The timer devices: fire what is due, report the next deadline. */
static uint64_t pc_lapic_timer(void *o, uint64_t now)
{
    lapic_update(o, now);
    return lapic_next_deadline(o);
}
static uint64_t pc_pit_timer(void *o, uint64_t now)
{
    pit_update(o, now);
    return pit_next_deadline(o);
}
static uint64_t pc_rtc_timer(void *o, uint64_t now)
{
    rtc_update(o, now);
    return rtc_next_deadline(o);
}

PC_CPU_OPS(vcpu, NULL);
PC_CPU_OPS(kvmclock, NULL);
PC_CPU_OPS(lapic, pc_lapic_timer);
PC_PLAIN_OPS(ioapic, NULL);
PC_PLAIN_OPS(i8259, NULL);
PC_PLAIN_OPS(uart8250, NULL);
PC_PLAIN_OPS(pit, pc_pit_timer);
PC_PLAIN_OPS(rtc, pc_rtc_timer);
PC_PLAIN_OPS(i8042, NULL);
PC_PLAIN_OPS(pvpanic, NULL);
PC_PLAIN_OPS(pci_host, NULL);
PC_PLAIN_OPS(virtio_rng, NULL);
PC_PLAIN_OPS(virtio_console, NULL);
static uint64_t pc_balloon_timer(void *o, uint64_t now)
{
    return virtio_balloon_timer(o, now);
}
PC_PLAIN_OPS(virtio_balloon, pc_balloon_timer);
static void pc_share_destroy(void *o)
{
    share_destroy(o);
}
static uint64_t pc_share_timer(void *o, uint64_t now)
{
    return share_timer(o, now);
}
/* No state: sharing changes where pages live, never what they hold. */
static const struct pc_device_ops pc_share_ops = {pc_share_destroy, NULL, NULL, pc_share_timer,
                                                  NULL};
static void pc_share_quiesce(void *o, bool running);
/* Pointer reports from the display's threads are delivered here, on the vCPU thread, after
 * the front end's kick ended the slice. */
static uint64_t pc_input_timer(void *o, uint64_t now)
{
    (void)now;
    virtio_input_deliver(o);
    return UINT64_MAX;
}
PC_PLAIN_OPS(virtio_input, pc_input_timer);

/* acpi_pm lives inside struct pc and has nothing to free. */
static void pc_acpi_pm_save(void *o, struct state_writer *w, const char *name)
{
    (void)name;
    acpi_pm_save(o, w);
}
static int pc_acpi_pm_load(void *o, struct state_reader *r, const char *name)
{
    (void)name;
    return acpi_pm_load(o, r);
}
static const struct pc_device_ops pc_acpi_pm_ops = {NULL, pc_acpi_pm_save, pc_acpi_pm_load, NULL,
                                                    NULL};

/* Devices that can exist more than once take their section name from the list entry. */
static void pc_virtio_blk_destroy(void *o)
{
    virtio_blk_destroy(o);
}
static void pc_virtio_blk_save(void *o, struct state_writer *w, const char *name)
{
    virtio_blk_save(o, w, name);
}
static int pc_virtio_blk_load(void *o, struct state_reader *r, const char *name)
{
    return virtio_blk_load(o, r, name);
}
static void pc_virtio_blk_run_state(void *o, bool running)
{
    virtio_blk_set_running(o, running);
}
static const struct pc_device_ops pc_virtio_blk_ops = {
    pc_virtio_blk_destroy, pc_virtio_blk_save, pc_virtio_blk_load, NULL, pc_virtio_blk_run_state};

static void pc_virtio_net_destroy(void *o)
{
    virtio_net_destroy(o);
}
static void pc_virtio_net_save(void *o, struct state_writer *w, const char *name)
{
    virtio_net_save(o, w, name);
}
static int pc_virtio_net_load(void *o, struct state_reader *r, const char *name)
{
    return virtio_net_load(o, r, name);
}
static void pc_virtio_net_run_state(void *o, bool running)
{
    virtio_net_set_running(o, running);
}
static const struct pc_device_ops pc_virtio_net_ops = {
    pc_virtio_net_destroy, pc_virtio_net_save, pc_virtio_net_load, NULL, pc_virtio_net_run_state};

/* Host back-ends: only closed, their state is the host's. */
static void pc_disk_close(void *o)
{
    disk_close(o);
}
static const struct pc_device_ops pc_disk_ops = {pc_disk_close, NULL, NULL, NULL, NULL};
static void pc_net_backend_destroy(void *o)
{
    net_backend_destroy(o);
}
static const struct pc_device_ops pc_net_backend_ops = {pc_net_backend_destroy, NULL, NULL, NULL,
                                                        NULL};

int pc_add(struct pc *pc, const char *name, void *obj, const struct pc_device_ops *ops, char *err,
           size_t errlen)
{
    if (!obj) return snprintf(err, errlen, "cannot create %s", name), -1;
    if (pc->ndev == PC_MAX_DEVICES) {
        ops->destroy(obj);
        return snprintf(err, errlen, "too many devices (%s)", name), -1;
    }
    struct pc_device *d = &pc->dev[pc->ndev++];
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->obj = obj;
    d->ops = ops;
    return 0;
}

static uint64_t pc_read_tsc(void *opaque)
{
    return vcpu_read_tsc(opaque);
}

static void pc_kick(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->events.kick) pc->events.kick(pc->events.opaque);
}

/* An interrupt or start-up event for one CPU: CPU 0 is the loop's, an AP has its own thread. */
static void pc_cpu_kick(void *opaque)
{
    struct pc_cpu *c = opaque;
    struct pc *pc = c->pc;
    if (c->index == 0) {
        pc_kick(pc);
        return;
    }
    vcpu_request_exit(c->vcpu);
    if (pc->events.cpu_kick) pc->events.cpu_kick(pc->events.opaque, c->index);
}

static void pc_cpu_timer_armed(void *opaque)
{
    struct pc_cpu *c = opaque;
    if (c->index && c->pc->events.timers_changed)
        c->pc->events.timers_changed(c->pc->events.opaque);
}

static void pc_lapic_eoi(void *opaque, uint8_t vector)
{
    struct pc *pc = opaque;
    if (pc->ioapic) ioapic_eoi(pc->ioapic, vector);
}

/* The MSRs the engine leaves to the platform: APIC base and TSC deadline (LAPIC), kvmclock;
 * each vCPU reaches its own. */
static bool pc_msr_read(void *opaque, uint32_t msr, uint64_t *value)
{
    struct pc_cpu *c = opaque;
    return lapic_msr_read(c->lapic, msr, value) || kvmclock_msr_read(c->kvmclock, msr, value);
}

static bool pc_msr_write(void *opaque, uint32_t msr, uint64_t value)
{
    struct pc_cpu *c = opaque;
    return lapic_msr_write(c->lapic, msr, value) || kvmclock_msr_write(c->kvmclock, msr, value);
}

static const struct vcpu_msr_ops pc_msr_ops = {.read = pc_msr_read, .write = pc_msr_write};

static void pc_serial_write(void *opaque, const uint8_t *buf, size_t len)
{
    struct pc *pc = opaque;
    if (pc->events.serial_out) pc->events.serial_out(pc->events.opaque, buf, len);
}

static void pc_pvpanic_event(void *opaque, unsigned events)
{
    struct pc *pc = opaque;
    if (pc->events.panic) pc->events.panic(pc->events.opaque, events);
}

static void pc_poweroff(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->events.poweroff) pc->events.poweroff(pc->events.opaque);
}

static void pc_reset(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->events.reset) pc->events.reset(pc->events.opaque);
}

/* The CMOS bytes firmware leaves for the OS: memory sizes (in KiB and 64 KiB units) and the
 * century. Linux takes memory from e820, but tools and other guests read these. */
static void pc_rtc_cmos_init(struct pc *pc, struct rtc *rtc)
{
    uint64_t low = pc->bus.low_ram_end, high = pc->bus.ram_size - low;
    uint64_t ext_kib = low > (1 << 20) ? (low - (1 << 20)) >> 10 : 0;
    if (ext_kib > 0xFFFF) ext_kib = 0xFFFF;
    uint64_t above16m = low > (16 << 20) ? (low - (16 << 20)) >> 16 : 0;
    if (above16m > 0xFFFF) above16m = 0xFFFF;
    uint64_t above4g = high >> 16;
    rtc_cmos_set(rtc, 0x15, 640 & 0xFF); /* base memory, KiB */
    rtc_cmos_set(rtc, 0x16, 640 >> 8);
    rtc_cmos_set(rtc, 0x17, (uint8_t)ext_kib);
    rtc_cmos_set(rtc, 0x18, (uint8_t)(ext_kib >> 8));
    rtc_cmos_set(rtc, 0x30, (uint8_t)ext_kib);
    rtc_cmos_set(rtc, 0x31, (uint8_t)(ext_kib >> 8));
    rtc_cmos_set(rtc, 0x34, (uint8_t)above16m);
    rtc_cmos_set(rtc, 0x35, (uint8_t)(above16m >> 8));
    rtc_cmos_set(rtc, 0x5B, (uint8_t)above4g);
    rtc_cmos_set(rtc, 0x5C, (uint8_t)(above4g >> 8));
    rtc_cmos_set(rtc, 0x5D, (uint8_t)(above4g >> 16));
}

/* A vCPU and its platform: LAPIC (interrupt controller, MSI sink, timer) and kvmclock. The
 * kvmclock entry follows the vCPU's so that loading it finds the guest TSC already restored. */
/* Firmware boot: the 8259 pair behind the BSP's LINT0, and ISA interrupts to both it and the
 * IOAPIC (IRQ 0 on GSI 2), as on a PC whose firmware and bootloader use the PIC and whose OS
 * then moves to the IOAPIC. */
static int pc_extint_vector(void *opaque)
{
    struct pc *pc = opaque;
    return pc->pic ? i8259_vector(pc->pic) : -1;
}
static uint8_t pc_extint_ack(void *opaque)
{
    struct pc *pc = opaque;
    return i8259_intack(pc->pic);
}
static void pc_pic_intr(void *opaque, bool level)
{
    struct pc *pc = opaque;
    lapic_set_extint(pc->lapic, level);
}
static unsigned pc_isa_gsi(unsigned irq)
{
    return irq == PC_PIT_IRQ ? PC_PIT_GSI : irq;
}
static void pc_isa_set(void *opaque, unsigned irq, int level)
{
    struct pc *pc = opaque;
    struct irq_line pic = i8259_irq_line(pc->pic, irq);
    struct irq_line apic = ioapic_irq_line(pc->ioapic, pc_isa_gsi(irq));
    irq_set(&pic, level);
    irq_set(&apic, level);
}
static struct irq_line pc_isa_irq(struct pc *pc, unsigned irq)
{
    if (!pc->pic) return ioapic_irq_line(pc->ioapic, pc_isa_gsi(irq));
    return (struct irq_line){.set_level = pc_isa_set, .opaque = pc, .pin = irq};
}

static int pc_create_one_cpu(struct pc *pc, const struct pc_config *cfg, unsigned k, char *err,
                             size_t errlen)
{
    struct pc_cpu *c = &pc->cpu[k];
    char name[24];
    const char *sfx = "";
    char buf[16];
    if (k) {
        snprintf(buf, sizeof buf, ".%u", k);
        sfx = buf;
    }
    c->pc = pc;
    c->index = k;
    snprintf(name, sizeof name, "cpu%s", sfx);
    if (pc_add(pc, name, c->vcpu = vcpu_create(&pc->bus, k), &pc_vcpu_ops, err, errlen) < 0)
        return -1;
    if ((cfg->engine != VCPU_ENGINE_DEFAULT || cfg->jit_cache) &&
        vcpu_set_engine(c->vcpu, cfg->engine, cfg->jit_cache) < 0 &&
        cfg->engine == VCPU_ENGINE_JIT) {
        snprintf(err, errlen, "--engine jit: this host cannot run translated code");
        return -1;
    }
    if (k) vcpu_sync_tsc(c->vcpu, pc->cpu[0].vcpu); /* one TSC for the machine */
    struct kvmclock_config kc = {
        .read_tsc = pc_read_tsc,
        .tsc_opaque = c->vcpu,
        .tsc_hz = vcpu_tsc_hz(c->vcpu),
    };
    c->kvmclock = kvmclock_create(&pc->bus, &kc);
    snprintf(name, sizeof name, "kvmclock%s", sfx);
    if (pc_add(pc, name, c->kvmclock, &pc_kvmclock_ops, err, errlen) < 0) return -1;
    if (k) kvmclock_sync_boot(c->kvmclock, pc->cpu[0].kvmclock);
    struct lapic_config lc = {
        /* the PIC is behind the BSP's LINT0 */
        .extint_vector = cfg->bios && k == 0 ? pc_extint_vector : NULL,
        .extint_ack = cfg->bios && k == 0 ? pc_extint_ack : NULL,
        .extint_opaque = pc,
        .id = k,
        .apic_bus = pc->apic_bus,
        .ap = k != 0,
        .read_tsc = pc_read_tsc,
        .tsc_opaque = c->vcpu,
        .tsc_hz = vcpu_tsc_hz(c->vcpu),
        .kick = pc_cpu_kick,
        .kick_opaque = c,
        .eoi = pc_lapic_eoi,
        .eoi_opaque = pc,
        .timer_armed = pc->ncpus > 1 ? pc_cpu_timer_armed : NULL,
    };
    c->lapic = lapic_create(&pc->bus, &lc);
    snprintf(name, sizeof name, "lapic%s", sfx);
    if (pc_add(pc, name, c->lapic, &pc_lapic_ops, err, errlen) < 0) return -1;
    vcpu_set_intc(c->vcpu, &lapic_intc_ops, c->lapic);
    vcpu_set_msr_ops(c->vcpu, &pc_msr_ops, c);
    return 0;
}

static int pc_create_cpu(struct pc *pc, const struct pc_config *cfg, char *err, size_t errlen)
{
    pc->ncpus = cfg->ncpus ? cfg->ncpus : 1;
    if (pc->ncpus > PC_MAX_CPUS) return snprintf(err, errlen, "at most %d vCPUs", PC_MAX_CPUS), -1;
    if (pc->ncpus > 1 && !(pc->apic_bus = apic_bus_create(&pc->bus)))
        return snprintf(err, errlen, "cannot create the APIC bus"), -1;
    for (unsigned k = 0; k < pc->ncpus; k++)
        if (pc_create_one_cpu(pc, cfg, k, err, errlen) < 0) return -1;
    pc->vcpu = pc->cpu[0].vcpu;
    pc->lapic = pc->cpu[0].lapic;
    pc->kvmclock = pc->cpu[0].kvmclock;
    return 0;
}

/* ---- the ACPI multiprocessor wakeup mailbox (ACPI 6.4, 5.2.12.19) ----
 * u16 command (1: wake up), u16 reserved, u32 APIC id, u64 wakeup vector, then 2032 bytes for
 * the OS and 2048 for the firmware. The OS writes the id and vector, then the command; the
 * "firmware" (this page) wakes that AP into 64-bit code at the vector and clears the command,
 * which the OS waits for. A command for a CPU that is not waiting is cleared too (logged), so
 * the OS never waits forever. */
#define MPWAKE_CMD_WAKEUP 1

static uint64_t pc_mpwake_read(void *opaque, uint64_t off, unsigned size)
{
    struct pc_mpwake *m = opaque;
    uint64_t v = 0;
    if (off + size > sizeof m->page) return 0;
    pthread_mutex_lock(&m->lock);
    memcpy(&v, m->page + off, size);
    pthread_mutex_unlock(&m->lock);
    return v;
}

static void pc_mpwake_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pc_mpwake *m = opaque;
    if (off + size > sizeof m->page) return;
    pthread_mutex_lock(&m->lock);
    memcpy(m->page + off, &value, size);
    uint16_t cmd;
    memcpy(&cmd, m->page, 2);
    if (off < 2 && cmd == MPWAKE_CMD_WAKEUP) {
        uint32_t id;
        uint64_t entry;
        memcpy(&id, m->page + 4, 4);
        memcpy(&entry, m->page + 8, 8);
        struct lapic *l = apic_bus_find(m->pc->apic_bus, id);
        if (!l || !lapic_mp_wake(l, entry))
            log_info("ACPI mailbox: APIC id %u is not waiting to be woken", id);
        cmd = 0;
        memcpy(m->page, &cmd, 2);
    }
    pthread_mutex_unlock(&m->lock);
}

static const struct io_ops pc_mpwake_ops = {pc_mpwake_read, pc_mpwake_write};

static void pc_mpwake_destroy(void *o)
{
    struct pc_mpwake *m = o;
    bus_move_mmio(&m->pc->bus, &pc_mpwake_ops, m, 0, 0);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Section "mp-wake" (only with several CPUs), version 1: the mailbox page. */
static void pc_mpwake_save(void *o, struct state_writer *w, const char *name)
{
    (void)name;
    struct pc_mpwake *m = o;
    pthread_mutex_lock(&m->lock);
    state_section_begin(w, "mp-wake", 1);
    state_put_bytes(w, m->page, sizeof m->page);
    state_section_end(w);
    pthread_mutex_unlock(&m->lock);
}

static int pc_mpwake_load(void *o, struct state_reader *r, const char *name)
{
    (void)name;
    struct pc_mpwake *m = o;
    uint32_t version;
    uint8_t page[4096];
    if (!state_section_find(r, "mp-wake", &version) || version != 1) {
        log_error("state: no usable mp-wake section");
        return -1;
    }
    state_get_bytes(r, page, sizeof page);
    if (!state_ok(r)) {
        log_error("state: truncated mp-wake section");
        return -1;
    }
    if (state_committing(r)) {
        pthread_mutex_lock(&m->lock);
        memcpy(m->page, page, sizeof page);
        pthread_mutex_unlock(&m->lock);
    }
    return 0;
}

static const struct pc_device_ops pc_mpwake_dev_ops = {pc_mpwake_destroy, pc_mpwake_save,
                                                       pc_mpwake_load, NULL, NULL};

static int pc_create_mpwake(struct pc *pc, char *err, size_t errlen)
{
    struct pc_mpwake *m = calloc(1, sizeof(*m));
    if (!m) return snprintf(err, errlen, "out of memory"), -1;
    m->pc = pc;
    pthread_mutex_init(&m->lock, NULL);
    if (bus_add_mmio(&pc->bus, PC_MPWAKE_BASE, sizeof m->page, &pc_mpwake_ops, m, "mp-wake") != 0) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        return snprintf(err, errlen, "cannot map the ACPI wakeup mailbox"), -1;
    }
    pc->mpwake = m;
    return pc_add(pc, "mp-wake", m, &pc_mpwake_dev_ops, err, errlen);
}

/* The identity map and GDT a woken AP starts on (in the reserved BIOS area). */
static int pc_mpwake_firmware(struct pc *pc)
{
    uint8_t *pml4 = bus_ram_ptr(&pc->bus, PC_MPWAKE_PML4, 0x3000);
    if (!pml4) return -1;
    memset(pml4, 0, 0x3000);
    uint64_t e = PC_MPWAKE_PDPT | 0x3; /* present, writable */
    memcpy(pml4, &e, 8);
    for (uint64_t g = 0; g < 512; g++) {
        e = (g << 30) | 0x83; /* present, writable, 1 GiB page */
        memcpy(pml4 + 0x1000 + 8 * g, &e, 8);
    }
    static const uint64_t gdt[3] = {0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull};
    memcpy(pml4 + 0x2000, gdt, sizeof gdt);
    bus_note_write(&pc->bus, PC_MPWAKE_PML4, 0x3000);
    return 0;
}

unsigned pc_ncpus(struct pc *pc)
{
    return pc->ncpus;
}

struct vcpu *pc_cpu_vcpu(struct pc *pc, unsigned k)
{
    return k < pc->ncpus ? pc->cpu[k].vcpu : NULL;
}

void pc_cpu_bind_thread(struct pc *pc, unsigned k)
{
    if (k < pc->ncpus) lapic_bind_thread(pc->cpu[k].lapic);
}

static struct vcpu_segment pc_seg(uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr)
{
    return (struct vcpu_segment){.selector = sel, .base = base, .limit = limit, .attr = attr};
}

/* SIPI: real mode at vector << 12 (CS = vector << 8, IP = 0), the rest as INIT left it. */
static void pc_cpu_sipi(struct vcpu *v, uint64_t vector)
{
    struct vcpu_sregs s;
    vcpu_get_sregs(v, &s);
    s.seg[VSEG_CS] = pc_seg((uint16_t)(vector << 8), vector << 12, 0xffff, 0x9b);
    vcpu_set_sregs(v, &s);
    struct vcpu_regs r;
    vcpu_get_regs(v, &r);
    r.rip = 0;
    vcpu_set_regs(v, &r);
}

/* The mailbox's wake-up: 64-bit mode on the firmware's identity map, interrupts off, at entry. */
static void pc_cpu_wake64(struct vcpu *v, uint64_t entry)
{
    struct vcpu_sregs s;
    vcpu_get_sregs(v, &s);
    s.seg[VSEG_CS] = pc_seg(PC_MPWAKE_SEL_CODE, 0, 0xffffffff, 0xAF9B);
    struct vcpu_segment data = pc_seg(PC_MPWAKE_SEL_DATA, 0, 0xffffffff, 0xCF93);
    s.seg[VSEG_DS] = s.seg[VSEG_ES] = s.seg[VSEG_SS] = s.seg[VSEG_FS] = s.seg[VSEG_GS] = data;
    s.seg[VSEG_TR] = pc_seg(0, 0, 0x67, 0x008B);
    s.seg[VSEG_LDTR] = pc_seg(0, 0, 0xffff, 0x0082);
    s.gdt_base = PC_MPWAKE_GDT;
    s.gdt_limit = 3 * 8 - 1;
    s.idt_base = 0;
    s.idt_limit = 0;
    s.cr0 = 0x80000031; /* PG | NE | ET | PE */
    s.cr3 = PC_MPWAKE_PML4;
    s.cr4 = 0x20;   /* PAE */
    s.efer = 0x500; /* LMA | LME */
    vcpu_set_sregs(v, &s);
    struct vcpu_regs r = {.rip = entry, .rflags = 0x2};
    vcpu_set_regs(v, &r);
}

bool pc_cpu_startup(struct pc *pc, unsigned k)
{
    struct pc_cpu *c = &pc->cpu[k];
    uint64_t vector;
    switch (lapic_startup_take(c->lapic, &vector)) {
    case LAPIC_SU_INIT: vcpu_init_reset(c->vcpu); break;
    case LAPIC_SU_SIPI:
        vcpu_init_reset(c->vcpu);
        pc_cpu_sipi(c->vcpu, vector);
        c->stopped_reported = false;
        break;
    case LAPIC_SU_WAKE64:
        vcpu_init_reset(c->vcpu);
        pc_cpu_wake64(c->vcpu, vector);
        c->stopped_reported = false;
        break;
    default: break;
    }
    /* An NMI needs the engine's NMI delivery, which it does not have yet (docs/SMP.md). */
    if (lapic_nmi_take(c->lapic)) log_debug("cpu %u: NMI dropped", k);
    return !lapic_waiting_for_sipi(c->lapic);
}

bool pc_cpu_wake_pending(struct pc *pc, unsigned k)
{
    struct pc_cpu *c = &pc->cpu[k];
    if (lapic_startup_pending(c->lapic)) return true;
    if (lapic_intc_ops.pending(c->lapic) < 0) return false;
    struct vcpu_regs r;
    vcpu_get_regs(c->vcpu, &r);
    return (r.rflags & 0x200) != 0; /* with interrupts off only INIT or an NMI wakes it */
}

void pc_cpu_stopped(struct pc *pc, unsigned k)
{
    struct pc_cpu *c = &pc->cpu[k];
    if (!c->stopped_reported) {
        fprintf(stderr, "vessel: cpu %u stopped (%s); it waits for INIT and SIPI\n", k,
                vcpu_exit_reason(c->vcpu));
        c->stopped_reported = true;
    }
    lapic_park(c->lapic);
}

void pc_rearm_dirty(struct pc *pc)
{
    for (unsigned k = 0; k < pc->ncpus; k++)
        vcpu_rearm_dirty(pc->cpu[k].vcpu);
}

static int pc_create_devices(struct pc *pc, const struct pc_config *cfg, char *err, size_t errlen)
{
    struct msi_sink msi =
        pc->apic_bus ? apic_bus_msi_sink(pc->apic_bus) : lapic_msi_sink(pc->lapic);
    pc->ioapic = ioapic_create(&pc->bus, PC_IOAPIC_BASE, msi);
    if (pc_add(pc, "ioapic", pc->ioapic, &pc_ioapic_ops, err, errlen) < 0) return -1;
    if (cfg->bios) {
        struct i8259_config pic = {.intr = pc_pic_intr, .opaque = pc};
        pc->pic = i8259_create(&pc->bus, &pic);
        if (pc_add(pc, "i8259", pc->pic, &pc_i8259_ops, err, errlen) < 0) return -1;
    }

    struct uart8250_sink sink = {.write = pc_serial_write, .opaque = pc};
    pc->com1 = uart8250_create(&pc->bus, PC_COM1_PORT, pc_isa_irq(pc, PC_COM1_IRQ), sink, "com1");
    if (pc_add(pc, "com1", pc->com1, &pc_uart8250_ops, err, errlen) < 0) return -1;

    /* Linux on hardware-reduced ACPI ticks on the LAPIC timer, but still reads the PIT's
     * channel 2 through port 0x61 to calibrate when it lacks a TSC frequency. */
    struct pit *pit = pit_create(&pc->bus, pc_isa_irq(pc, PC_PIT_IRQ), NULL);
    if (pc_add(pc, "pit", pit, &pc_pit_ops, err, errlen) < 0) return -1;

    struct rtc *rtc = rtc_create(&pc->bus, pc_isa_irq(pc, PC_RTC_IRQ), NULL, NULL);
    if (pc_add(pc, "rtc", rtc, &pc_rtc_ops, err, errlen) < 0) return -1;
    pc_rtc_cmos_init(pc, rtc);

    /* Linux probes the PS/2 controller and may reboot through its reset line. */
    struct i8042 *kbd = i8042_create(&pc->bus, pc_isa_irq(pc, PC_KBD_IRQ), pc_reset, pc);
    if (pc_add(pc, "i8042", kbd, &pc_i8042_ops, err, errlen) < 0) return -1;

    struct pvpanic_config pv = {.event = pc_pvpanic_event, .opaque = pc};
    struct pvpanic *pvpanic = pvpanic_create(&pc->bus, PC_PVPANIC_PORT, &pv);
    if (pc_add(pc, "pvpanic", pvpanic, &pc_pvpanic_ops, err, errlen) < 0) return -1;

    acpi_pm_init(&pc->pm, pc_poweroff, pc_reset, pc);
    if (acpi_pm_attach(&pc->pm, &pc->bus, PC_PM_PORT) < 0)
        return snprintf(err, errlen, "cannot attach the ACPI power registers"), -1;
    if (pc_add(pc, "acpi_pm", &pc->pm, &pc_acpi_pm_ops, err, errlen) < 0) return -1;

    struct irq_line intx[PCI_INTX_LINES];
    uint8_t gsi[PCI_INTX_LINES];
    for (unsigned l = 0; l < PCI_INTX_LINES; l++) {
        gsi[l] = (uint8_t)(PC_PCI_GSI + l);
        intx[l] = ioapic_irq_line(pc->ioapic, gsi[l]);
    }
    pc->pci = pci_host_create(&pc->bus, msi, intx, gsi);
    if (pc->pci) pci_host_set_reset(pc->pci, pc_reset, pc);
    return pc_add(pc, "pci-host", pc->pci, &pc_pci_host_ops, err, errlen);
}

/* Disks and the NIC. Failures to open the operator's disk or network are usage errors. */
static int pc_create_storage_net(struct pc *pc, const struct pc_config *cfg, char *err,
                                 size_t errlen, int *usage)
{
    for (unsigned k = 0; k < cfg->ndisks && k < PC_MAX_DISKS; k++) {
        char why[256], name[24];
        struct disk_backend *disk = disk_open(cfg->disks[k], cfg->disk_ro[k], why, sizeof(why));
        if (!disk) {
            *usage = 1;
            return snprintf(err, errlen, "--disk: %s", why), -1;
        }
        snprintf(name, sizeof(name), "disk%u", k);
        if (pc_add(pc, name, disk, &pc_disk_ops, err, errlen) < 0) return -1;
        char id[21];
        snprintf(id, sizeof(id), "vessel-disk%u", k);
        if (cfg->disk_id[k]) snprintf(id, sizeof(id), "%s", cfg->disk_id[k]);
        snprintf(name, sizeof(name), "virtio-blk.%u", k);
        struct virtio_blk *blk = virtio_blk_create(pc->pci, &pc->bus, disk, id);
        if (pc_add(pc, name, blk, &pc_virtio_blk_ops, err, errlen) < 0) return -1;
        pc->ndisks++;
    }
    if (cfg->net) {
        char why[256];
        struct net_backend *nb = net_backend_create(cfg->net, why, sizeof(why));
        if (!nb) {
            *usage = 1;
            return snprintf(err, errlen, "--net: %s", why), -1;
        }
        if (pc_add(pc, "net", nb, &pc_net_backend_ops, err, errlen) < 0) return -1;
        uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
        if (cfg->mac && net_parse_mac(cfg->mac, mac) != 0) {
            *usage = 1;
            return snprintf(err, errlen, "--mac: bad address '%s'", cfg->mac), -1;
        }
        struct virtio_net *nic = virtio_net_create(pc->pci, &pc->bus, nb, mac);
        if (pc_add(pc, "virtio-net.0", nic, &pc_virtio_net_ops, err, errlen) < 0) return -1;
        pc->optional |= PC_HAS_NET;
    }
    return 0;
}

/* Paravirtual devices on PCI slots 1.. in the order rng, hvc, disks, net, balloon, tablet (with
 * a display). */
static int pc_create_virtio(struct pc *pc, const struct pc_config *cfg, char *err, size_t errlen,
                            int *usage)
{
    if (cfg->rng) {
        if (pc_add(pc, "virtio-rng", virtio_rng_create(pc->pci, &pc->bus), &pc_virtio_rng_ops, err,
                   errlen) < 0)
            return -1;
        pc->optional |= PC_HAS_RNG;
    }
    /* hvc0 shares the console's output with COM1 (early boot messages still come on ttyS0).
     * It takes its PCI slot now, but its list entry (and so its state section) comes last, as
     * it always has. */
    if (cfg->hvc) {
        pc->hvc = virtio_console_create(pc->pci, &pc->bus, pc_serial_write, pc);
        if (!pc->hvc) return snprintf(err, errlen, "cannot create virtio-console"), -1;
    }
    int rc = pc_create_storage_net(pc, cfg, err, errlen, usage);
    if (rc == 0 && cfg->balloon.enabled) {
        struct virtio_balloon_config bc = {
            .size = cfg->balloon.size,
            .stats_interval_ms = cfg->balloon.stats_interval_ms,
            .deflate_on_oom = cfg->balloon.deflate_on_oom,
            .reporting = cfg->balloon.reporting,
        };
        pc->balloon = virtio_balloon_create(pc->pci, &pc->bus, &bc);
        rc = pc_add(pc, "virtio-balloon", pc->balloon, &pc_virtio_balloon_ops, err, errlen);
        if (rc == 0)
            pc->optional |= PC_HAS_BALLOON;
        else
            pc->balloon = NULL;
    }
    if (rc == 0 && cfg->display) {
        rc = pc_add(pc, "virtio-input", virtio_input_create(pc->pci, &pc->bus, pc_kick, pc),
                    &pc_virtio_input_ops, err, errlen);
        if (rc == 0) pc->optional |= PC_HAS_TABLET;
    }
    if (pc->hvc) {
        char why[128];
        if (pc_add(pc, "virtio-console", pc->hvc, &pc_virtio_console_ops, why, sizeof(why)) < 0) {
            pc->hvc = NULL;
            if (rc == 0) snprintf(err, errlen, "%s", why);
            return -1;
        }
        pc->optional |= PC_HAS_HVC;
    }
    return rc;
}

static int pc_build_firmware(struct pc *pc, const struct pc_config *cfg, char *err, size_t errlen)
{
    struct acpi_config ac;
    acpi_config_default(&ac);            /* one CPU, every legacy device this board creates */
    ac.i8042_aux = cfg->display != NULL; /* the display's mouse (pc_display.c) */
    ac.fw_cfg = (pc->optional & PC_HAS_FWCFG) != 0;
    ac.ncpus = pc->ncpus;
    /* the firmware places them (acpi_loader.c); its image owns 0xE0000, the APs' start-up page
     * tables included: it starts them with INIT/SIPI, so no mailbox is offered */
    if (cfg->bios) return acpi_loader_add(pc->fw_cfg, &ac, err, errlen);
    if (pc->ncpus > 1) {
        ac.mp_wake_mailbox = PC_MPWAKE_BASE;
        if (pc_mpwake_firmware(pc) < 0)
            return snprintf(err, errlen, "cannot write the AP start-up page tables"), -1;
    }
    if (acpi_build(&pc->bus, &ac, &pc->rsdp_addr) < 0)
        return snprintf(err, errlen, "cannot build the ACPI tables"), -1;
    return 0;
}

struct pc *pc_create(const struct pc_config *cfg, char *err, size_t errlen, int *usage)
{
    *usage = 0;
    struct pc *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pc->events = cfg->events;
    uint64_t rom_off = cfg->ram_size + pc_display_ram(cfg);
    uint64_t ram = rom_off + pc_bios_rom_size(cfg);
    /* Direct execution maps guest pages into its stub from a descriptor: RAM in a memfd. */
    bool fd_ram = vcpu_engine_resolve(cfg->engine) == VCPU_ENGINE_DIRECT;
    int rc = cfg->memory_file ? bus_init_file(&pc->bus, ram, cfg->memory_file)
             : fd_ram         ? bus_init_memfd(&pc->bus, ram)
                              : bus_init(&pc->bus, ram);
    if (rc < 0) {
        if (cfg->memory_file) {
            *usage = 1;
            snprintf(err, errlen, "--memory-file %s: %s", cfg->memory_file,
                     rc == -EEXIST ? "exists (give a directory, or a new file's name)"
                                   : strerror(-rc));
        } else {
            snprintf(err, errlen, "cannot allocate %llu MiB of guest RAM: %s",
                     (unsigned long long)(cfg->ram_size >> 20), strerror(-rc));
        }
        free(pc);
        return NULL;
    }
    if (pc_create_cpu(pc, cfg, err, errlen) < 0 ||
        (pc->ncpus > 1 && pc_create_mpwake(pc, err, errlen) < 0) ||
        pc_create_devices(pc, cfg, err, errlen) < 0 ||
        pc_create_virtio(pc, cfg, err, errlen, usage) < 0 ||
        pc_create_fw_cfg(pc, cfg, err, errlen, usage) < 0 ||
        pc_build_firmware(pc, cfg, err, errlen) < 0 ||
        (cfg->bios && pc_bios_setup(pc, cfg, rom_off, err, errlen, usage) < 0))
        goto fail;
    struct boot_screen screen;
    if (cfg->display && pc_display_create(pc, cfg, &screen, err, errlen, usage) < 0) goto fail;
    if (cfg->share_on) {
        /* Last, so that it is destroyed first, while RAM and the device threads exist. */
        pc->share = share_create(&pc->bus, &cfg->share, pc_share_quiesce, pc, err, errlen);
        if (!pc->share || pc_add(pc, "share", pc->share, &pc_share_ops, err, errlen) < 0) {
            *usage = 1;
            goto fail;
        }
    }

    if (!cfg->kernel) return pc; /* restored from a snapshot: RAM and registers come from it */
    struct linux_boot_config bc = {
        .kernel_path = cfg->kernel,
        .initrd_path = cfg->initrd,
        .cmdline = cfg->cmdline,
        .rsdp_addr = pc->rsdp_addr,
        .screen = cfg->display ? &screen : NULL,
    };
    struct linux_boot_state bs;
    if (linux_boot_load(&pc->bus, &bc, &bs, err, errlen) < 0) {
        *usage = 1;
        goto fail;
    }
    vcpu_set_sregs(pc->vcpu, &bs.sregs);
    vcpu_set_regs(pc->vcpu, &bs.regs);
    return pc;
fail:
    pc_destroy(pc);
    return NULL;
}

void pc_destroy(struct pc *pc)
{
    if (!pc) return;
    /* Newest first: devices with threads (virtio-net, virtio-blk) stop before the interrupt
     * controllers they signal into go away. */
    for (unsigned k = pc->ndev; k-- > 0;)
        if (pc->dev[k].ops->destroy) pc->dev[k].ops->destroy(pc->dev[k].obj);
    apic_bus_destroy(pc->apic_bus);
    bus_destroy(&pc->bus);
    free(pc);
}

void pc_set_running(struct pc *pc, bool running)
{
    for (unsigned k = 0; k < pc->ndev; k++)
        if (pc->dev[k].ops->run_state) pc->dev[k].ops->run_state(pc->dev[k].obj, running);
    if (running)
        for (unsigned k = 0; k < pc->ncpus; k++)
            kvmclock_guest_stopped(pc->cpu[k].kvmclock);
}

/* Page sharing's short stop of the device threads: the guest is not told (no kvmclock flag). */
static void pc_share_quiesce(void *o, bool running)
{
    struct pc *pc = o;
    for (unsigned k = 0; k < pc->ndev; k++)
        if (pc->dev[k].ops->run_state) pc->dev[k].ops->run_state(pc->dev[k].obj, running);
}

uint64_t pc_update_timers(struct pc *pc, uint64_t now_ns)
{
    uint64_t next = UINT64_MAX;
    for (unsigned k = 0; k < pc->ndev; k++) {
        if (!pc->dev[k].ops->timer) continue;
        uint64_t t = pc->dev[k].ops->timer(pc->dev[k].obj, now_ns);
        if (t < next) next = t;
    }
    return next;
}

struct vcpu *pc_vcpu(struct pc *pc)
{
    return pc->vcpu;
}

bool pc_irq_pending(struct pc *pc)
{
    return lapic_intc_ops.pending(pc->lapic) >= 0;
}

size_t pc_serial_input(struct pc *pc, const uint8_t *buf, size_t len)
{
    return uart8250_receive(pc->com1, buf, len);
}

size_t pc_console_input(struct pc *pc, const uint8_t *buf, size_t len)
{
    return pc->hvc ? virtio_console_receive(pc->hvc, buf, len) : pc_serial_input(pc, buf, len);
}

static uint64_t pc_stat(const struct virtio_balloon_info *i, unsigned tag)
{
    return i->stats_valid & (1u << tag) ? i->stats[tag] : PC_UNKNOWN;
}

void pc_memory_report(struct pc *pc, struct pc_memory_report *r)
{
    *r = (struct pc_memory_report){
        .ram_size = pc->bus.ram_size,
        .ram_resident = bus_ram_resident(&pc->bus),
        .ram_file = pc->bus.ram_file,
        .stats_age_ns = PC_UNKNOWN,
    };
    if (pc->share) {
        struct share_info si;
        share_get_info(pc->share, &si);
        r->share = true;
        r->shared_pages = si.pool_pages;
        r->zero_pages = si.zero_pages;
        r->private_pages = si.private_pages;
        r->saved = si.saved_bytes;
        r->share_scanned = si.scanned;
        r->share_cpu_ns = si.cpu_ns;
        r->share_pool = si.pool_size;
    }
    r->mem_free = r->mem_total = r->mem_available = r->disk_caches = PC_UNKNOWN;
    r->swap_in = r->swap_out = r->major_faults = r->minor_faults = PC_UNKNOWN;
    if (!pc->balloon) return;
    struct virtio_balloon_info i;
    virtio_balloon_get_info(pc->balloon, &i);
    r->balloon = true;
    r->balloon_target = i.target;
    r->balloon_actual = i.actual;
    r->inflated = i.inflated;
    r->deflated = i.deflated;
    r->reported = i.reported;
    r->returned = i.returned;
    if (i.stats_ns) {
        uint64_t now = clock_ns();
        r->stats_age_ns = now > i.stats_ns ? now - i.stats_ns : 0;
    }
    r->mem_free = pc_stat(&i, VIRTIO_BALLOON_S_MEMFREE);
    r->mem_total = pc_stat(&i, VIRTIO_BALLOON_S_MEMTOT);
    r->mem_available = pc_stat(&i, VIRTIO_BALLOON_S_AVAIL);
    r->disk_caches = pc_stat(&i, VIRTIO_BALLOON_S_CACHES);
    r->swap_in = pc_stat(&i, VIRTIO_BALLOON_S_SWAP_IN);
    r->swap_out = pc_stat(&i, VIRTIO_BALLOON_S_SWAP_OUT);
    r->major_faults = pc_stat(&i, VIRTIO_BALLOON_S_MAJFLT);
    r->minor_faults = pc_stat(&i, VIRTIO_BALLOON_S_MINFLT);
}

int pc_balloon_set_size(struct pc *pc, uint64_t bytes)
{
    if (!pc->balloon) return -1;
    virtio_balloon_set_size(pc->balloon, bytes);
    return 0;
}

int pc_send_ctrl_alt_del(struct pc *pc)
{
    /* scan code set 1: Ctrl, Alt, Del (E0 53) pressed, then released in reverse order */
    static const uint8_t keys[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
    for (unsigned k = 0; k < pc->ndev; k++)
        if (!strcmp(pc->dev[k].name, "i8042"))
            return i8042_kbd_input(pc->dev[k].obj, keys, sizeof keys) ? 0 : -1;
    return -1;
}

int pc_balloon_request_stats(struct pc *pc)
{
    if (!pc->balloon) return -1;
    virtio_balloon_request_stats(pc->balloon);
    return 0;
}
