/* pc.c — assembling the vessel PC: RAM, vCPU, LAPIC (the CPU's interrupt controller, MSI sink
 * and timer), IOAPIC with the legacy devices on their ISA pins, PCI host bridge with INTx on
 * GSIs 16-19, ACPI tables plus the hardware-reduced power registers, pvpanic, then the kernel
 * loaded for direct 64-bit entry. The wiring here must match what the firmware tables announce
 * (src/machine/acpi.h: MADT override IRQ0->GSI2, _PRT GSIs 16+L, pvpanic at 0x505).
 *
 * Platform MSRs the engine leaves to the board (APIC base, TSC deadline) go to the LAPIC. */
#include "machine/pc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "hw/pci.h"
#include "hw/i8042.h"
#include "hw/pit.h"
#include "hw/rtc.h"
#include "hw/pvpanic.h"
#include "hw/uart8250.h"
#include "backend/disk.h"
#include "backend/net.h"
#include "machine/acpi.h"
#include "machine/boot_params.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_rng.h"
#include "vessel/cpu.h"
#include "vessel/log.h"

static uint64_t pc_read_tsc(void *opaque)
{
    return vcpu_read_tsc(opaque);
}

static void pc_kick(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->events.kick) pc->events.kick(pc->events.opaque);
}

static void pc_lapic_eoi(void *opaque, uint8_t vector)
{
    struct pc *pc = opaque;
    if (pc->ioapic) ioapic_eoi(pc->ioapic, vector);
}

static bool pc_msr_read(void *opaque, uint32_t msr, uint64_t *value)
{
    struct pc *pc = opaque;
    return lapic_msr_read(pc->lapic, msr, value);
}

static bool pc_msr_write(void *opaque, uint32_t msr, uint64_t value)
{
    struct pc *pc = opaque;
    return lapic_msr_write(pc->lapic, msr, value);
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
static void pc_rtc_cmos_init(struct pc *pc)
{
    uint64_t low = pc->bus.low_ram_end, high = pc->bus.ram_size - low;
    uint64_t ext_kib = low > (1 << 20) ? (low - (1 << 20)) >> 10 : 0;
    if (ext_kib > 0xFFFF) ext_kib = 0xFFFF;
    uint64_t above16m = low > (16 << 20) ? (low - (16 << 20)) >> 16 : 0;
    if (above16m > 0xFFFF) above16m = 0xFFFF;
    uint64_t above4g = high >> 16;
    rtc_cmos_set(pc->rtc, 0x15, 640 & 0xFF); /* base memory, KiB */
    rtc_cmos_set(pc->rtc, 0x16, 640 >> 8);
    rtc_cmos_set(pc->rtc, 0x17, (uint8_t)ext_kib);
    rtc_cmos_set(pc->rtc, 0x18, (uint8_t)(ext_kib >> 8));
    rtc_cmos_set(pc->rtc, 0x30, (uint8_t)ext_kib);
    rtc_cmos_set(pc->rtc, 0x31, (uint8_t)(ext_kib >> 8));
    rtc_cmos_set(pc->rtc, 0x34, (uint8_t)above16m);
    rtc_cmos_set(pc->rtc, 0x35, (uint8_t)(above16m >> 8));
    rtc_cmos_set(pc->rtc, 0x5B, (uint8_t)above4g);
    rtc_cmos_set(pc->rtc, 0x5C, (uint8_t)(above4g >> 8));
    rtc_cmos_set(pc->rtc, 0x5D, (uint8_t)(above4g >> 16));
}

static int pc_create_devices(struct pc *pc, char *err, size_t errlen)
{
    struct lapic_config lc = {
        .id = 0,
        .read_tsc = pc_read_tsc,
        .tsc_opaque = pc->vcpu,
        .tsc_hz = vcpu_tsc_hz(pc->vcpu),
        .kick = pc_kick,
        .kick_opaque = pc,
        .eoi = pc_lapic_eoi,
        .eoi_opaque = pc,
    };
    pc->lapic = lapic_create(&pc->bus, &lc);
    if (!pc->lapic) return snprintf(err, errlen, "cannot create the local APIC"), -1;
    vcpu_set_intc(pc->vcpu, &lapic_intc_ops, pc->lapic);
    vcpu_set_msr_ops(pc->vcpu, &pc_msr_ops, pc);

    struct msi_sink msi = lapic_msi_sink(pc->lapic);
    pc->ioapic = ioapic_create(&pc->bus, IOAPIC_BASE, msi);
    if (!pc->ioapic) return snprintf(err, errlen, "cannot create the IOAPIC"), -1;

    struct uart8250_sink sink = {.write = pc_serial_write, .opaque = pc};
    pc->com1 = uart8250_create(&pc->bus, PC_COM1_PORT, ioapic_irq_line(pc->ioapic, PC_COM1_GSI),
                               sink, "com1");
    if (!pc->com1) return snprintf(err, errlen, "cannot create COM1"), -1;

    /* Linux on hardware-reduced ACPI ticks on the LAPIC timer, but still reads the PIT's
     * channel 2 through port 0x61 to calibrate when it lacks a TSC frequency. */
    pc->pit = pit_create(&pc->bus, ioapic_irq_line(pc->ioapic, PC_PIT_GSI), NULL);
    if (!pc->pit) return snprintf(err, errlen, "cannot create the PIT"), -1;

    pc->rtc = rtc_create(&pc->bus, ioapic_irq_line(pc->ioapic, PC_RTC_GSI), NULL, NULL);
    if (!pc->rtc) return snprintf(err, errlen, "cannot create the RTC"), -1;
    pc_rtc_cmos_init(pc);

    /* Linux probes the PS/2 controller and may reboot through its reset line. */
    pc->kbd = i8042_create(&pc->bus, ioapic_irq_line(pc->ioapic, PC_KBD_GSI), pc_reset, pc);
    if (!pc->kbd) return snprintf(err, errlen, "cannot create the i8042"), -1;

    struct pvpanic_config pv = {.event = pc_pvpanic_event, .opaque = pc};
    pc->pvpanic = pvpanic_create(&pc->bus, PC_PVPANIC_PORT, &pv);
    if (!pc->pvpanic) return snprintf(err, errlen, "cannot create pvpanic"), -1;

    acpi_pm_init(&pc->pm, pc_poweroff, pc_reset, pc);
    if (acpi_pm_attach(&pc->pm, &pc->bus, ACPI_PM_PORT_BASE) < 0)
        return snprintf(err, errlen, "cannot attach the ACPI power registers"), -1;

    struct irq_line intx[PCI_INTX_LINES];
    uint8_t gsi[PCI_INTX_LINES];
    for (unsigned l = 0; l < PCI_INTX_LINES; l++) {
        gsi[l] = (uint8_t)(PC_PCI_GSI + l);
        intx[l] = ioapic_irq_line(pc->ioapic, gsi[l]);
    }
    pc->pci = pci_host_create(&pc->bus, msi, intx, gsi);
    if (!pc->pci) return snprintf(err, errlen, "cannot create the PCI host bridge"), -1;
    return 0;
}

/* Paravirtual devices. Failures to open the operator's disk or network are usage errors. */
static int pc_create_virtio(struct pc *pc, const struct pc_config *cfg, char *err, size_t errlen,
                            int *usage)
{
    if (cfg->rng && !(pc->rng = virtio_rng_create(pc->pci, &pc->bus)))
        return snprintf(err, errlen, "cannot create the virtio-rng device"), -1;
    /* hvc0 shares the console's output with COM1 (early boot messages still come on ttyS0) */
    if (cfg->hvc && !(pc->hvc = virtio_console_create(pc->pci, &pc->bus, pc_serial_write, pc)))
        return snprintf(err, errlen, "cannot create the virtio-console device"), -1;
    for (unsigned k = 0; k < cfg->ndisks && k < PC_MAX_DISKS; k++) {
        char why[256];
        pc->disk[k] = disk_open(cfg->disks[k], cfg->disk_ro[k], why, sizeof(why));
        if (!pc->disk[k]) {
            *usage = 1;
            return snprintf(err, errlen, "--disk: %s", why), -1;
        }
        char id[21];
        snprintf(id, sizeof(id), "vessel-disk%u", k);
        if (cfg->disk_id[k]) snprintf(id, sizeof(id), "%s", cfg->disk_id[k]);
        pc->blk[k] = virtio_blk_create(pc->pci, &pc->bus, pc->disk[k], id);
        if (!pc->blk[k]) return snprintf(err, errlen, "cannot create virtio-blk %u", k), -1;
    }
    if (cfg->net) {
        char why[256];
        pc->netb = net_backend_create(cfg->net, why, sizeof(why));
        if (!pc->netb) {
            *usage = 1;
            return snprintf(err, errlen, "--net: %s", why), -1;
        }
        uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
        if (cfg->mac && net_parse_mac(cfg->mac, mac) != 0) {
            *usage = 1;
            return snprintf(err, errlen, "--mac: bad address '%s'", cfg->mac), -1;
        }
        pc->nic = virtio_net_create(pc->pci, &pc->bus, pc->netb, mac);
        if (!pc->nic) return snprintf(err, errlen, "cannot create the virtio-net device"), -1;
    }
    return 0;
}

static int pc_build_firmware(struct pc *pc, char *err, size_t errlen)
{
    struct acpi_config ac;
    acpi_config_default(&ac);
    ac.ncpus = 1;
    ac.lapic_addr = (uint32_t)LAPIC_BASE;
    ac.ioapic_addr = (uint32_t)IOAPIC_BASE;
    ac.pm_port = ACPI_PM_PORT_BASE;
    ac.pci_mmio_base = (uint32_t)PCI_MMIO_WINDOW_BASE;
    ac.pci_mmio_end = (uint32_t)PCI_MMIO_WINDOW_END;
    for (unsigned l = 0; l < 4; l++)
        ac.pci_gsi[l] = PC_PCI_GSI + l;
    ac.com1 = ac.rtc = ac.pvpanic = true;
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
    int rc = bus_init(&pc->bus, cfg->ram_size);
    if (rc < 0) {
        snprintf(err, errlen, "cannot allocate %llu MiB of guest RAM: %s",
                 (unsigned long long)(cfg->ram_size >> 20), strerror(-rc));
        free(pc);
        return NULL;
    }
    pc->vcpu = vcpu_create(&pc->bus, 0);
    if (!pc->vcpu) {
        snprintf(err, errlen, "cannot create the vCPU");
        goto fail;
    }
    if (pc_create_devices(pc, err, errlen) < 0 ||
        pc_create_virtio(pc, cfg, err, errlen, usage) < 0 || pc_build_firmware(pc, err, errlen) < 0)
        goto fail;

    struct linux_boot_config bc = {
        .kernel_path = cfg->kernel,
        .initrd_path = cfg->initrd,
        .cmdline = cfg->cmdline,
        .rsdp_addr = pc->rsdp_addr,
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
    /* Devices with threads first, so nothing signals into a half-destroyed board. */
    if (pc->nic) virtio_net_destroy(pc->nic);
    if (pc->netb) net_backend_destroy(pc->netb);
    for (unsigned k = 0; k < PC_MAX_DISKS; k++) {
        if (pc->blk[k]) virtio_blk_destroy(pc->blk[k]);
        if (pc->disk[k]) disk_close(pc->disk[k]);
    }
    if (pc->rng) virtio_rng_destroy(pc->rng);
    if (pc->hvc) virtio_console_destroy(pc->hvc);
    if (pc->pci) pci_host_destroy(pc->pci);
    if (pc->pvpanic) pvpanic_destroy(pc->pvpanic);
    if (pc->kbd) i8042_destroy(pc->kbd);
    if (pc->rtc) rtc_destroy(pc->rtc);
    if (pc->pit) pit_destroy(pc->pit);
    if (pc->com1) uart8250_destroy(pc->com1);
    if (pc->ioapic) ioapic_destroy(pc->ioapic);
    if (pc->vcpu) vcpu_destroy(pc->vcpu);
    if (pc->lapic) lapic_destroy(pc->lapic);
    bus_destroy(&pc->bus);
    free(pc);
}

uint64_t pc_update_timers(struct pc *pc, uint64_t now_ns)
{
    lapic_update(pc->lapic, now_ns);
    pit_update(pc->pit, now_ns);
    rtc_update(pc->rtc, now_ns);
    uint64_t next = lapic_next_deadline(pc->lapic);
    uint64_t t = pit_next_deadline(pc->pit);
    if (t < next) next = t;
    t = rtc_next_deadline(pc->rtc);
    return t < next ? t : next;
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
