/* vm_requests.c — the control requests (vm/control.h) as the main loop executes them, between
 * slices and so never while the vCPU runs. Configuration requests change vm->conf and are
 * accepted only before the instance starts, as in Firecracker; every refusal is a 400 naming
 * the problem, and nothing a refused request did stays behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/net.h"
#include "introspect/introspect.h"
#include "machine/pc.h"
#include "vessel/clock.h"
#include "vessel/cpu.h"
#include "vm/migrate.h"
#include "vm/vm_internal.h"

static const char *vm_state_name(const struct vm *vm)
{
    return !vm->pc ? "Not started" : vm->paused ? "Paused" : "Running";
}

static bool vm_pre_boot(struct vm *vm, struct vm_reply *rep, const char *what)
{
    if (!vm->pc) return true;
    vm_reply_fault(rep, 400,
                   "%s: the instance is already %s; this is only allowed before "
                   "InstanceStart",
                   what, vm->paused ? "paused" : "running");
    return false;
}

/* NULL if path names a regular file this process can open (for writing too if rw). */
static const char *vm_file_problem(const char *path, bool rw)
{
    struct stat st;
    if (stat(path, &st) < 0) return "no such file or not accessible";
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    if (access(path, rw ? R_OK | W_OK : R_OK) < 0)
        return rw ? "not readable and writable" : "not readable";
    return NULL;
}

static void vm_put_machine(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    if (!vm_pre_boot(vm, rep, "machine-config")) return;
    if (req->u.machine.has_vcpus &&
        (req->u.machine.vcpus < 1 || req->u.machine.vcpus > VM_MAX_CPUS)) {
        vm_reply_fault(rep, 400, "machine-config: vcpu_count %u is outside 1..%d",
                       req->u.machine.vcpus, VM_MAX_CPUS);
        return;
    }
    if (req->u.machine.has_mem) {
        uint64_t m = req->u.machine.mem_mib << 20;
        if (m < VM_MEM_MIN || m > VM_MEM_MAX) {
            vm_reply_fault(rep, 400, "machine-config: mem_size_mib %llu is outside %llu..%llu",
                           (unsigned long long)req->u.machine.mem_mib,
                           (unsigned long long)(VM_MEM_MIN >> 20),
                           (unsigned long long)(VM_MEM_MAX >> 20));
            return;
        }
    }
    /* the model applies now (no vCPU exists before InstanceStart) and again when it starts */
    if (req->u.machine.cpu_model[0]) {
        char why[256];
        if (vcpu_model_select(req->u.machine.cpu_model, why, sizeof why) < 0) {
            vm_reply_fault(rep, 400, "machine-config: %s", why);
            return;
        }
        vm->conf.cpu_model = vcpu_model_name();
    }
    if (req->u.machine.has_mem) vm->conf.mem_size = req->u.machine.mem_mib << 20;
    if (req->u.machine.has_vcpus) vm->conf.cpus = req->u.machine.vcpus;
}

static void vm_put_boot(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    if (!vm_pre_boot(vm, rep, "boot-source")) return;
    const char *why = vm_file_problem(req->u.boot.kernel, false);
    if (why) {
        vm_reply_fault(rep, 400, "boot-source: kernel_image_path '%s': %s", req->u.boot.kernel,
                       why);
        return;
    }
    if (req->u.boot.has_initrd && (why = vm_file_problem(req->u.boot.initrd, false))) {
        vm_reply_fault(rep, 400, "boot-source: initrd_path '%s': %s", req->u.boot.initrd, why);
        return;
    }
    vm->conf.kernel = vm_keep(vm, req->u.boot.kernel);
    vm->conf.initrd = req->u.boot.has_initrd ? vm_keep(vm, req->u.boot.initrd) : NULL;
    vm->conf.cmdline = req->u.boot.has_args ? vm_keep(vm, req->u.boot.args) : VM_CMDLINE_DEFAULT;
}

static void vm_put_drive(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    if (!vm_pre_boot(vm, rep, "drives")) return;
    unsigned k;
    for (k = 0; k < vm->conf.ndisks; k++)
        if (vm->drive_name[k] && !strcmp(vm->drive_name[k], req->u.drive.id)) break;
    if (k == VM_MAX_DISKS) {
        vm_reply_fault(rep, 400, "drives: at most %d drives", VM_MAX_DISKS);
        return;
    }
    if (strchr(req->u.drive.path, ',')) {
        /* conf.disks holds --disk specs, where a comma starts the options */
        vm_reply_fault(rep, 400, "drives: path_on_host '%s' contains a comma", req->u.drive.path);
        return;
    }
    const char *why = vm_file_problem(req->u.drive.path, !req->u.drive.readonly);
    if (why) {
        vm_reply_fault(rep, 400, "drives: path_on_host '%s': %s", req->u.drive.path, why);
        return;
    }
    if (req->u.drive.root && vm->root_disk >= 0 && vm->root_disk != (int)k) {
        vm_reply_fault(rep, 400, "drives: drive '%s' is already the root device",
                       vm->drive_name[vm->root_disk]);
        return;
    }
    if (k == vm->conf.ndisks) {
        vm->drive_name[k] = strdup(req->u.drive.id);
        vm->conf.ndisks++;
    }
    vm->conf.disks[k] = vm_keep(vm, req->u.drive.path);
    vm->conf.disk_ro[k] = req->u.drive.readonly;
    /* The drive id doubles as the disk's serial when it fits virtio-blk's 20 bytes. */
    vm->conf.disk_id[k] = strlen(req->u.drive.id) <= 20 ? vm->drive_name[k] : NULL;
    if (req->u.drive.root)
        vm->root_disk = (int)k;
    else if (vm->root_disk == (int)k)
        vm->root_disk = -1;
}

static void vm_put_net(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    if (!vm_pre_boot(vm, rep, "network-interfaces")) return;
    uint8_t mac[6];
    if (req->u.net.has_mac && net_parse_mac(req->u.net.mac, mac) != 0) {
        vm_reply_fault(rep, 400,
                       "network-interfaces: guest_mac '%s' is not a unicast MAC like "
                       "52:54:00:12:34:56",
                       req->u.net.mac);
        return;
    }
    char why[256];
    struct net_backend *nb = net_backend_create(req->u.net.backend, why, sizeof(why));
    if (!nb) {
        vm_reply_fault(rep, 400, "network-interfaces: %s", why);
        return;
    }
    net_backend_destroy(nb);
    vm->conf.net = vm_keep(vm, req->u.net.backend);
    vm->conf.mac = req->u.net.has_mac ? vm_keep(vm, req->u.net.mac) : NULL;
}

static void vm_start(struct vm *vm, struct vm_reply *rep)
{
    if (!vm_pre_boot(vm, rep, "InstanceStart")) return;
    if (!vm->conf.kernel) {
        vm_reply_fault(rep, 400, "InstanceStart: no boot source (PUT /boot-source first)");
        return;
    }
    const char *saved = vm->conf.cmdline;
    if (vm->root_disk >= 0) {
        char line[8192];
        snprintf(line, sizeof(line), "%s root=/dev/vd%c %s", vm->conf.cmdline, 'a' + vm->root_disk,
                 vm->conf.disk_ro[vm->root_disk] ? "ro" : "rw");
        vm->conf.cmdline = vm_keep(vm, line);
    }
    char err[512];
    int usage = 0;
    if (vm_build(vm, true, err, sizeof(err), &usage) < 0) {
        vm->conf.cmdline = saved;
        vm_reply_fault(rep, 400, "InstanceStart: %s", err);
        return;
    }
    vm->paused = false;
}

void vm_set_paused(struct vm *vm, bool pause)
{
    if (pause == vm->paused) return;
    uint64_t now = clock_ns();
    if (pause) {
        vm->paused_since_ns = now;
        vm->pauses++;
    } else {
        vm->paused_ns += now - vm->paused_since_ns;
        vm->resumes++;
    }
    vm->paused = pause;
    if (vm->pc) pc_set_running(vm->pc, !pause);
}

static void vm_pause(struct vm *vm, bool pause, struct vm_reply *rep)
{
    if (!vm->pc) {
        vm_reply_fault(rep, 400, "vm: the instance is not started");
        return;
    }
    vm_set_paused(vm, pause); /* already there: 204 as in Firecracker */
}

static void vm_migrate(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    char err[400];
    if (migrate_start(vm, req->u.migrate.dest, req->u.migrate.downtime_ms, rep, err, sizeof(err)) <
        0) {
        vm_reply_fault(rep, 400, "migrate: %s", err);
        return;
    }
    rep->status = 0; /* answered by migrate_poll when it is over */
}

static void vm_snap_create(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    if (!vm->pc || !vm->paused) {
        vm_reply_fault(rep, 400,
                       "snapshot/create: the VM must be paused first (PATCH /vm "
                       "{\"state\": \"Paused\"}); it is %s",
                       vm_state_name(vm));
        return;
    }
    struct snap_stats st;
    char err[480];
    if (snap_create(vm->pc, &vm->conf, req->u.snap.state, req->u.snap.mem, req->u.snap.diff,
                    &vm->chain, &st, err, sizeof(err)) < 0) {
        vm_reply_fault(rep, 400, "snapshot/create: %s", err);
        return;
    }
    vm->snapshots++;
    vm->snap_last_ns = st.ns;
    vm->snap_last_bytes = st.mem_bytes + st.state_bytes;
}

static void vm_snap_load(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    if (!vm_pre_boot(vm, rep, "snapshot/load")) return;
    char err[480];
    if (vm_restore(vm, req->u.snap.state, req->u.snap.has_mem ? req->u.snap.mem : NULL, err,
                   sizeof(err)) < 0) {
        vm_reply_fault(rep, 400, "snapshot/load: %s", err);
        return;
    }
    vm->paused = !req->u.snap.resume;
    if (vm->paused) {
        vm->paused_since_ns = clock_ns();
        vm->pauses++;
        pc_set_running(vm->pc, false); /* the restored devices wait for the resume too */
    }
}

static void vm_metrics(struct vm *vm, struct vm_metrics *m)
{
    uint64_t now = clock_ns();
    *m = (struct vm_metrics){
        .uptime_ms = (now - vm->start_ns) / 1000000,
        .paused_ms = (vm->paused_ns + (vm->paused ? now - vm->paused_since_ns : 0)) / 1000000,
        .pauses = vm->pauses,
        .resumes = vm->resumes,
        .snapshots = vm->snapshots,
        .snapshot_last_ms = vm->snap_last_ns / 1000000,
        .snapshot_last_bytes = vm->snap_last_bytes,
        .restore_ms = vm->restore_ns / 1000000,
    };
    if (vm->pc) {
        struct vcpu_stats s;
        vcpu_get_stats(pc_vcpu(vm->pc), &s);
        m->insns = s.insns;
        m->exceptions = s.exceptions;
        m->interrupts = s.interrupts;
        m->blocks_built = s.blocks_built;
        m->tlb_misses = s.tlb_misses;
        struct pc_memory_report r;
        pc_memory_report(vm->pc, &r);
        m->ram_size = r.ram_size;
        m->ram_resident = r.ram_resident;
        m->ram_shared = r.shared_pages << 12;
        m->ram_zero = r.zero_pages << 12;
        m->ram_saved = r.saved;
        m->ram_private = r.share ? r.private_pages << 12 : r.ram_resident;
        m->balloon_target = r.balloon ? r.balloon_target : 0;
        m->balloon_actual = r.balloon ? r.balloon_actual : 0;
    }
}

/* GET /inspect: the guest's lists read from its RAM between slices (docs/INSPECT.md). */
static void vm_inspect(struct vm *vm, const struct vm_request *req, struct vm_reply *rep)
{
    char why[512], vmlinux[VM_CTL_PATH_MAX] = "";
    struct insp_guest g;
    if (!vm->pc) {
        vm_reply_fault(rep, 400, "inspect: the VM is not started");
        return;
    }
    rep->inspect = calloc(1, sizeof(*rep->inspect));
    if (!rep->inspect) {
        vm_reply_fault(rep, 500, "inspect: out of memory");
        return;
    }
    if (req->u.inspect.vmlinux[0])
        snprintf(vmlinux, sizeof(vmlinux), "%s", req->u.inspect.vmlinux);
    else if (req->u.inspect.what != INSP_KERNEL_PATH)
        insp_default_vmlinux(vm->conf.kernel, vmlinux, sizeof(vmlinux));
    insp_guest_of(pc_bus(vm->pc), pc_vcpu(vm->pc), &g);
    if (req->u.inspect.what == INSP_KERNEL_PATH) {
        snprintf(rep->inspect->vmlinux, sizeof(rep->inspect->vmlinux), "%s",
                 vm->conf.kernel ? vm->conf.kernel : "");
        rep->status = 200;
    } else if (insp_list(vmlinux, &g, (enum insp_what)req->u.inspect.what, rep->inspect, why,
                         sizeof(why)) < 0) {
        free(rep->inspect);
        rep->inspect = NULL;
        vm_reply_fault(rep, 400, "inspect: %s", why);
    } else {
        rep->status = 200;
    }
}

void vm_handle_request(void *opaque, const struct vm_request *req, struct vm_reply *rep)
{
    struct vm *vm = opaque;
    switch (req->op) {
    case VM_OP_INFO:
    case VM_OP_GET_MACHINE:
        rep->status = 200;
        rep->info.state = vm_state_name(vm);
        snprintf(rep->info.id, sizeof(rep->info.id), "vessel-%d", (int)getpid());
        rep->info.vcpus = vm->conf.cpus ? vm->conf.cpus : 1;
        rep->info.mem_mib = vm->conf.mem_size >> 20;
        break;
    case VM_OP_METRICS:
        rep->status = 200;
        vm_metrics(vm, &rep->metrics);
        break;
    case VM_OP_PUT_MACHINE: vm_put_machine(vm, req, rep); break;
    case VM_OP_PUT_BOOT: vm_put_boot(vm, req, rep); break;
    case VM_OP_PUT_DRIVE: vm_put_drive(vm, req, rep); break;
    case VM_OP_PUT_NET: vm_put_net(vm, req, rep); break;
    case VM_OP_START: vm_start(vm, rep); break;
    case VM_OP_CTRL_ALT_DEL:
        if (!vm->pc)
            vm_reply_fault(rep, 400, "SendCtrlAltDel: the VM is not started");
        else if (pc_send_ctrl_alt_del(vm->pc) < 0)
            vm_reply_fault(rep, 400, "SendCtrlAltDel: the keyboard buffer is full");
        break;
    case VM_OP_FLUSH_METRICS: break; /* metrics are answered on request, nothing to flush */
    case VM_OP_PAUSE: vm_pause(vm, true, rep); break;
    case VM_OP_RESUME: vm_pause(vm, false, rep); break;
    case VM_OP_SNAP_CREATE: vm_snap_create(vm, req, rep); break;
    case VM_OP_SNAP_LOAD: vm_snap_load(vm, req, rep); break;
    case VM_OP_MIGRATE: vm_migrate(vm, req, rep); break;
    case VM_OP_SCREENSHOT: {
        char why[512];
        if (!vm->pc)
            vm_reply_fault(rep, 400, "screenshot: the VM is not started");
        else if (pc_screenshot(vm->pc, req->u.screenshot.path, why, sizeof(why)) < 0)
            vm_reply_fault(rep, 400, "screenshot: %s", why);
        break;
    }
    case VM_OP_INSPECT: vm_inspect(vm, req, rep); break;
    default: vm_reply_fault(rep, 400, "unknown request"); break;
    }
}
