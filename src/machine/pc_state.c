/* pc_state.c — the whole machine as one state stream: a "board" section (RAM size, where the
 * firmware tables are), guest RAM, then every component's own section. Loading expects a board
 * built with the same configuration (pc_create with the same RAM size and devices) and replaces
 * its state; any component refusing its section fails the load. Format: docs/STATE-FORMAT.md. */
#include <stdio.h>

#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "hw/pci.h"
#include "hw/i8042.h"
#include "hw/pit.h"
#include "hw/rtc.h"
#include "hw/pvpanic.h"
#include "hw/uart8250.h"
#include "machine/pc.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_rng.h"
#include "vessel/cpu.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define PC_STATE_VERSION 1

/* Which optional devices exist: must match between saved and loading machine. */
static uint32_t pc_device_mask(const struct pc *pc)
{
    return (pc->rng ? 1u : 0u) | (pc->nic ? 2u : 0u) | (pc->hvc ? 4u : 0u);
}

void pc_save(struct pc *pc, struct state_writer *w)
{
    state_section_begin(w, "board", PC_STATE_VERSION);
    state_put_u64(w, pc->bus.ram_size);
    state_put_u64(w, pc->rsdp_addr);
    state_put_u32(w, pc_device_mask(pc));
    unsigned ndisks = 0;
    while (ndisks < PC_MAX_DISKS && pc->blk[ndisks])
        ndisks++;
    state_put_u32(w, ndisks);
    state_section_end(w);

    state_section_begin(w, "ram", PC_STATE_VERSION);
    state_put_bytes(w, pc->bus.ram, pc->bus.ram_size);
    state_section_end(w);

    vcpu_save(pc->vcpu, w);
    lapic_save(pc->lapic, w);
    ioapic_save(pc->ioapic, w);
    uart8250_save(pc->com1, w);
    pit_save(pc->pit, w);
    rtc_save(pc->rtc, w);
    i8042_save(pc->kbd, w);
    pvpanic_save(pc->pvpanic, w);
    acpi_pm_save(&pc->pm, w);
    pci_host_save(pc->pci, w);
    if (pc->rng) virtio_rng_save(pc->rng, w);
    for (unsigned k = 0; k < ndisks; k++) {
        char name[32];
        snprintf(name, sizeof(name), "virtio-blk.%u", k);
        virtio_blk_save(pc->blk[k], w, name);
    }
    if (pc->nic) virtio_net_save(pc->nic, w, "virtio-net.0");
    if (pc->hvc) virtio_console_save(pc->hvc, w);
}

static int pc_load_board(struct pc *pc, struct state_reader *r)
{
    uint32_t version;
    if (!state_section_find(r, "board", &version)) {
        log_error("state: no board section");
        return -1;
    }
    if (version != PC_STATE_VERSION) {
        log_error("state: board section version %u is not %u", version, PC_STATE_VERSION);
        return -1;
    }
    uint64_t ram = state_get_u64(r), rsdp = state_get_u64(r);
    uint32_t devs = state_get_u32(r), ndisks = state_get_u32(r);
    unsigned have_disks = 0;
    while (have_disks < PC_MAX_DISKS && pc->blk[have_disks])
        have_disks++;
    if (!state_ok(r)) {
        log_error("state: truncated board section");
        return -1;
    }
    if (ram != pc->bus.ram_size || devs != pc_device_mask(pc) || ndisks != have_disks) {
        log_error("state: saved machine (%llu MiB, devices %#x, %u disks) differs from this one",
                  (unsigned long long)(ram >> 20), devs, ndisks);
        return -1;
    }
    pc->rsdp_addr = rsdp;
    if (!state_section_find(r, "ram", &version) || version != PC_STATE_VERSION) {
        log_error("state: no usable ram section");
        return -1;
    }
    state_get_bytes(r, pc->bus.ram, pc->bus.ram_size);
    if (!state_ok(r)) {
        log_error("state: truncated ram section");
        return -1;
    }
    /* Everything may have changed: decoded code included. */
    bus_note_write(&pc->bus, 0, pc->bus.low_ram_end);
    if (pc->bus.ram_size > pc->bus.low_ram_end)
        bus_note_write(&pc->bus, BUS_HIGH_RAM, pc->bus.ram_size - pc->bus.low_ram_end);
    return 0;
}

int pc_load(struct pc *pc, const void *data, size_t len)
{
    struct state_reader r;
    if (!state_reader_init(&r, data, len)) {
        log_error("state: not a vessel state stream");
        return -1;
    }
    if (pc_load_board(pc, &r) < 0) return -1;
    if (vcpu_load(pc->vcpu, &r) < 0 || lapic_load(pc->lapic, &r) < 0 ||
        ioapic_load(pc->ioapic, &r) < 0 || uart8250_load(pc->com1, &r) < 0 ||
        pit_load(pc->pit, &r) < 0 || rtc_load(pc->rtc, &r) < 0 || i8042_load(pc->kbd, &r) < 0 ||
        pvpanic_load(pc->pvpanic, &r) < 0 || acpi_pm_load(&pc->pm, &r) < 0 ||
        pci_host_load(pc->pci, &r) < 0)
        return -1;
    if (pc->rng && virtio_rng_load(pc->rng, &r) < 0) return -1;
    for (unsigned k = 0; k < PC_MAX_DISKS && pc->blk[k]; k++) {
        char name[32];
        snprintf(name, sizeof(name), "virtio-blk.%u", k);
        if (virtio_blk_load(pc->blk[k], &r, name) < 0) return -1;
    }
    if (pc->nic && virtio_net_load(pc->nic, &r, "virtio-net.0") < 0) return -1;
    if (pc->hvc && virtio_console_load(pc->hvc, &r) < 0) return -1;
    return 0;
}
