/* pc_state.c — the whole machine as one state stream: a "board" section (RAM size, where the
 * firmware tables are, which optional devices exist), guest RAM, then every device of the
 * board's list in order, each in its own section. Loading expects a board built with the same
 * configuration (pc_create with the same RAM size and devices) and replaces its state; any
 * device refusing its section fails the load. The _devices variants leave RAM out: snapshots
 * (memory files) and live migration move it themselves. Format: docs/STATE-FORMAT.md. */
#include "hw/kvmclock.h"
#include "machine/pc_internal.h"
#include "vessel/cpu.h"
#include "vessel/log.h"
#include "vessel/state.h"

/* 2: the number of CPUs appended to the board section (a version 1 state has one) */
#define PC_STATE_VERSION 2
#define PC_RAM_VERSION   1

static void pc_save_all(struct pc *pc, struct state_writer *w, bool with_ram)
{
    state_section_begin(w, "board", PC_STATE_VERSION);
    state_put_u64(w, pc->bus.ram_size);
    state_put_u64(w, pc->rsdp_addr);
    state_put_u32(w, pc->optional);
    state_put_u32(w, pc->ndisks);
    state_put_u32(w, pc->ncpus);
    state_section_end(w);

    if (with_ram) {
        state_section_begin(w, "ram", PC_RAM_VERSION);
        state_put_bytes(w, pc->bus.ram, pc->bus.ram_size);
        state_section_end(w);
    }

    for (unsigned k = 0; k < pc->ndev; k++)
        if (pc->dev[k].ops->save) pc->dev[k].ops->save(pc->dev[k].obj, w, pc->dev[k].name);
}

void pc_save(struct pc *pc, struct state_writer *w)
{
    pc_save_all(pc, w, true);
}

void pc_save_devices(struct pc *pc, struct state_writer *w)
{
    pc_save_all(pc, w, false);
}

static int pc_load_board(struct pc *pc, struct state_reader *r, bool with_ram)
{
    uint32_t version;
    if (!state_section_find(r, "board", &version)) {
        log_error("state: no board section");
        return -1;
    }
    if (version != 1 && version != PC_STATE_VERSION) {
        log_error("state: board section version %u is not 1 or %u", version, PC_STATE_VERSION);
        return -1;
    }
    uint64_t ram = state_get_u64(r), rsdp = state_get_u64(r);
    uint32_t devs = state_get_u32(r), ndisks = state_get_u32(r);
    uint32_t ncpus = version >= 2 ? state_get_u32(r) : 1;
    if (!state_ok(r)) {
        log_error("state: truncated board section");
        return -1;
    }
    if (ram != pc->bus.ram_size || devs != pc->optional || ndisks != pc->ndisks ||
        ncpus != pc->ncpus) {
        log_error("state: saved machine (%llu MiB, devices %#x, %u disks, %u CPUs) differs from "
                  "this one",
                  (unsigned long long)(ram >> 20), devs, ndisks, ncpus);
        return -1;
    }
    if (!with_ram) {
        if (!r->check_only) pc->rsdp_addr = rsdp;
        return 0;
    }
    if (!state_section_find(r, "ram", &version) || version != PC_RAM_VERSION) {
        log_error("state: no usable ram section");
        return -1;
    }
    if (r->check_only) {
        state_skip(r, pc->bus.ram_size);
        if (!state_ok(r)) log_error("state: truncated ram section");
        return state_ok(r) ? 0 : -1;
    }
    pc->rsdp_addr = rsdp;
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

/* One pass over every section; with r->check_only it decodes and validates but commits nothing. */
static int pc_load_pass(struct pc *pc, struct state_reader *r_, bool with_ram)
{
    struct state_reader r = *r_;
    if (pc_load_board(pc, &r, with_ram) < 0) return -1;
    for (unsigned k = 0; k < pc->ndev; k++)
        if (pc->dev[k].ops->load && pc->dev[k].ops->load(pc->dev[k].obj, &r, pc->dev[k].name) < 0)
            return -1;
    return 0;
}

static int pc_load_all(struct pc *pc, const void *data, size_t len, bool with_ram)
{
    struct state_reader r;
    if (!state_reader_init(&r, data, len)) {
        log_error("state: not a vessel state stream");
        return -1;
    }
    /* Check everything, then load: a bad stream leaves the whole machine as it was. */
    r.check_only = true;
    if (pc_load_pass(pc, &r, with_ram) < 0) return -1;
    r.check_only = false;
    if (pc_load_pass(pc, &r, with_ram) < 0) return -1;
    /* Each CPU's TSC and kvmclock were restored relative to a slightly different "now": make
     * the APs' agree with CPU 0's again. */
    for (unsigned k = 1; k < pc->ncpus; k++) {
        vcpu_sync_tsc(pc->cpu[k].vcpu, pc->cpu[0].vcpu);
        kvmclock_sync_boot(pc->cpu[k].kvmclock, pc->cpu[0].kvmclock);
    }
    return 0;
}

int pc_load(struct pc *pc, const void *data, size_t len)
{
    return pc_load_all(pc, data, len, true);
}

int pc_load_devices(struct pc *pc, const void *data, size_t len)
{
    return pc_load_all(pc, data, len, false);
}

struct bus *pc_bus(struct pc *pc)
{
    return &pc->bus;
}
